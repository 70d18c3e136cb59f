// restic backups of the mail state: the files under /etc/mailstack/backup (mode 0600: the password and keys
// never reach a command line or a log), and the systemd timer, service and failure report.

import { BackupConfig } from "../config";
import { PASSWD_FILE } from "./maps";
import { STORAGE_BINDS } from "./storage";
import { unitFile } from "./systemd";

export const BACKUP_DIR = "/etc/mailstack/backup";
export const BACKUP_ENV = `${BACKUP_DIR}/env`;
export const BACKUP_PASSWORD = `${BACKUP_DIR}/password`;
export const BACKUP_SSH_KEY = `${BACKUP_DIR}/ssh_key`;
export const BACKUP_SSH_CONFIG = `${BACKUP_DIR}/ssh_config`;
export const BACKUP_KNOWN_HOSTS = `${BACKUP_DIR}/known_hosts`;
/** Written by every successful run: the doctor's backup check reads its age. */
export const BACKUP_STAMP = "/var/lib/mailstack/last-backup";
/** How long one run may take before systemd stops it (a systemd time span). */
export const BACKUP_TIMEOUT = "6h";

/**
 * What a backup holds: the mailboxes (homes with their Maildirs, virtual mailboxes), certificates, DKIM keys, the
 * passwd-file and mailstack's records. The same paths with or without a volume (the volume is bound over them),
 * so a snapshot restores onto either.
 */
export const BACKUP_PATHS = [...STORAGE_BINDS.map((b) => b.target), PASSWD_FILE, "/etc/mailstack"];

/** An sftp repository's endpoint, for the ssh client config. */
export interface SftpTarget {
    user: string;
    host: string;
    port: number;
}

/** `sftp:USER@HOST:/PATH` or `sftp://USER@HOST[:PORT]//PATH`; undefined for other repositories. */
export function sftpTarget(repository: string): SftpTarget | undefined {
    const url = /^sftp:\/\/([^@/]+)@(\[[^\]]+\]|[^:/]+)(?::(\d+))?\//.exec(repository);
    if (url) {
        return { user: url[1], host: url[2].replace(/^\[|\]$/g, ""), port: url[3] ? Number(url[3]) : 22 };
    }
    const scp = /^sftp:([^@/]+)@([^:/]+):/.exec(repository);
    return scp ? { user: scp[1], host: scp[2], port: 22 } : undefined;
}

/** Single-quoted for sh (the env file is read with `.`): any value, secrets included, stays one word. */
function shq(value: string): string {
    if (value.includes("\n")) {
        throw new Error("a backup setting may not contain a newline");
    }
    return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** The environment restic runs with (mailstack-ctl reads it; secret when it carries the S3 secret key). */
export function backupEnv(b: BackupConfig, s3SecretKey?: string): string {
    const vars: [string, string][] = [
        ["RESTIC_REPOSITORY", b.repository],
        ["RESTIC_PASSWORD_FILE", BACKUP_PASSWORD],
        ["RESTIC_CACHE_DIR", "/var/cache/mailstack-restic"],
        ["MAILSTACK_BACKUP_PATHS", BACKUP_PATHS.join(" ")],
        ["MAILSTACK_BACKUP_KEEP", `--keep-daily ${b.keep.daily} --keep-weekly ${b.keep.weekly} --keep-monthly ${b.keep.monthly}`],
    ];
    if (sftpTarget(b.repository)) {
        // restic runs this instead of its own ssh command line: our key, our known_hosts, never a prompt
        vars.push(["MAILSTACK_SFTP_COMMAND", `ssh -F ${BACKUP_SSH_CONFIG} mailstack-backup-target -s sftp`]);
    }
    if (b.s3AccessKeyId !== undefined) {
        vars.push(["AWS_ACCESS_KEY_ID", b.s3AccessKeyId]);
        vars.push(["AWS_SECRET_ACCESS_KEY", s3SecretKey ?? ""]);
    }
    return ["# mailstack: restic's settings (mode 0600)", ...vars.map(([k, v]) => `${k}=${shq(v)}`), ""].join("\n");
}

/** ssh client config for an sftp repository. Without known hosts in config, the first key seen is kept. */
export function backupSshConfig(t: SftpTarget, knownHosts: boolean): string {
    return [
        "# mailstack: how the backup reaches its sftp repository",
        "Host mailstack-backup-target",
        `    HostName ${t.host}`,
        `    Port ${t.port}`,
        `    User ${t.user}`,
        `    IdentityFile ${BACKUP_SSH_KEY}`,
        "    IdentitiesOnly yes",
        `    UserKnownHostsFile ${BACKUP_KNOWN_HOSTS}`,
        `    StrictHostKeyChecking ${knownHosts ? "yes" : "accept-new"}`,
        "    BatchMode yes",
        "    ServerAliveInterval 30",
        "",
    ].join("\n");
}

export interface BackupUnits {
    service: string;
    timer: string;
    failed: string;
}

export function backupUnits(b: BackupConfig, adminEmail: string): BackupUnits {
    const service = [
        "# mailstack: restic backup of the mail state",
        "[Unit]",
        "Description=mailstack backup (restic)",
        "Wants=network-online.target",
        "After=network-online.target",
        "OnFailure=mailstack-backup-failed.service",
        "",
        "[Service]",
        "Type=oneshot",
        "ExecStart=/usr/local/sbin/mailstack-ctl backup-run",
        // mail delivery goes on during a backup; restic only reads
        "Nice=10",
        "IOSchedulingClass=idle",
        // a run stuck on its repository (an sftp server that stopped answering) is stopped and fails, so
        // OnFailure= reports it, and the next scheduled run is not held up behind it forever
        `TimeoutStartSec=${BACKUP_TIMEOUT}`,
        "",
    ].join("\n");
    const timer = [
        "# mailstack: when the backup runs",
        "[Unit]",
        "Description=mailstack backup schedule",
        "",
        "[Timer]",
        `OnCalendar=${b.schedule}`,
        // a server that was off at the time catches up at boot
        "Persistent=true",
        "RandomizedDelaySec=300",
        "",
        "[Install]",
        "WantedBy=timers.target",
        "",
    ].join("\n");
    const failed = [
        "# mailstack: a failed backup is reported to adminEmail",
        "[Unit]",
        "Description=mailstack backup failure report",
        "",
        "[Service]",
        "Type=oneshot",
        // systemd expands % and $ in ExecStart: an address may contain both
        `ExecStart=/usr/local/sbin/mailstack-ctl backup-failed ${adminEmail.replace(/%/g, "%%").replace(/\$/g, "$$$$")}`,
        "",
    ].join("\n");
    return { service, timer, failed };
}

export const BACKUP_UNIT_FILES = {
    service: unitFile("mailstack-backup.service"),
    timer: unitFile("mailstack-backup.timer"),
    failed: unitFile("mailstack-backup-failed.service"),
};
