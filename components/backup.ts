// restic backups of the mail state on a systemd timer (components/render/backup.ts), and the repository made
// ready once. Restores are on demand: scripts/backup (npm run backup).

import * as pulumi from "@pulumi/pulumi";
import { BackupConfig } from "./config";
import { CTL, Connection, putFile, sha256, step, writeFiles } from "./remote";
import { ServerState } from "./serverState";
import { ctlScript } from "./render/ctl";
import {
    BACKUP_ENV, BACKUP_KNOWN_HOSTS, BACKUP_PASSWORD, BACKUP_SSH_CONFIG, BACKUP_SSH_KEY, BACKUP_UNIT_FILES, backupEnv,
    backupSshConfig, backupUnits, sftpTarget,
} from "./render/backup";

export interface BackupArgs {
    connection: pulumi.Input<Connection>;
    config: BackupConfig;
    adminEmail: string;
    password: pulumi.Input<string>;
    /** For sftp repositories. */
    sshKey?: pulumi.Input<string>;
    s3SecretKey?: pulumi.Input<string>;
    /** Drift of the files: a changed one is written again. */
    state: ServerState;
}

/** The files Backup writes. */
export function backupPaths(b: BackupConfig): string[] {
    const sftp = sftpTarget(b.repository) !== undefined;
    return [
        BACKUP_PASSWORD, BACKUP_ENV, ...(sftp ? [BACKUP_SSH_KEY, BACKUP_SSH_CONFIG] : []),
        ...(sftp && b.knownHosts !== undefined ? [BACKUP_KNOWN_HOSTS] : []), ...Object.values(BACKUP_UNIT_FILES),
    ];
}

export class Backup extends pulumi.ComponentResource {
    constructor(name: string, args: BackupArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mailstack:index:Backup", name, {}, opts);
        const b = args.config;
        const conn = args.connection;
        const repair = args.state.repairOf.bind(args.state);
        const secretFile = (id: string, path: string, content: pulumi.Input<string>): pulumi.Resource =>
            putFile(`${name}-${id}`, { path, mode: "0600", owner: "root:root", content: pulumi.secret(content) }, conn,
                { parent: this }, [repair(path)]);
        const files: pulumi.Resource[] = [
            secretFile("password", BACKUP_PASSWORD, args.password),
            secretFile("env", BACKUP_ENV, pulumi.output(args.s3SecretKey ?? "").apply((k) =>
                backupEnv(b, b.s3AccessKeyId === undefined ? undefined : k))),
        ];
        const sftp = sftpTarget(b.repository);
        if (sftp) {
            if (args.sshKey === undefined) {
                throw new Error("mailstack:backupSshKey: required for an sftp repository " +
                    "(pulumi config set --secret mailstack:backupSshKey < KEYFILE)");
            }
            files.push(secretFile("ssh_key", BACKUP_SSH_KEY, pulumi.output(args.sshKey).apply((k) => k.endsWith("\n") ? k : `${k}\n`)));
            files.push(...writeFiles(name, [
                { path: BACKUP_SSH_CONFIG, content: backupSshConfig(sftp, b.knownHosts !== undefined) },
                ...(b.knownHosts === undefined ? [] : [{ path: BACKUP_KNOWN_HOSTS, content: `${b.knownHosts.trim()}\n` }]),
            ], conn, args.state, { parent: this }));
        }
        const units = backupUnits(b, args.adminEmail);
        files.push(...writeFiles(name, (["service", "timer", "failed"] as const).map((key) => ({
            path: BACKUP_UNIT_FILES[key], content: units[key], id: key,
        })), conn, args.state, { parent: this }));
        // Runs again when the backup config, a unit or mailstack-ctl changes, as for a repaired file: the step has no
        // delete, so a replacement only runs it again. The secrets' files are not in the triggers, whose values are
        // plain in the state and in `preview --diff`.
        step(name, {
            connection: conn,
            create: `${CTL} backup-init`,
            triggers: [repair(...backupPaths(b)), { config: b, units, ctl: sha256(ctlScript()).slice(0, 16) }],
        }, { parent: this, dependsOn: files });
        this.registerOutputs({});
    }
}
