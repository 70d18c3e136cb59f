// dovecot: one dovecot.conf in the syntax of the version the server runs, staged, checked by doveconf, applied.

import * as pulumi from "@pulumi/pulumi";
import {
    DovecotInput, dovecotConf, dovecotVersion, LEARN_PROGRAM, LEARN_UNITS, learnProgram, learnService, learnSocket, quotaFile,
    REPORT_HAM, REPORT_SPAM, reportSieve, SIEVE_BEFORE, spamSieve, VHOME,
} from "./render/dovecot";
import { CTL, Connection, putFile, quote, sha256, startUnit, step, TextFile, writeFiles } from "./remote";
import { ServerState } from "./serverState";

export interface DovecotArgs {
    connection: pulumi.Input<Connection>;
    /** The server's facts (`dovecot --version`, read on every up) and the drift of the live file. */
    state: ServerState;
    input: Omit<DovecotInput, "version">;
    /** Per-user quotas: address -> size (mailstack:quota.users). */
    quotas: Record<string, string>;
}

export const QUOTA_FILE = "/etc/dovecot/quota";
/** Moves virtual users' sieve scripts and duplicate database from the Maildir's top into its VHOME (idempotent). */
export const VMAIL_HOMES = `${CTL} vmail-homes ${quote(VHOME)}`;
/** Junk learns: the pipe program and its socket-activated service (written before dovecot.conf names them). */
const LEARN_FILES: TextFile[] = [
    { path: LEARN_PROGRAM, mode: "0755", content: learnProgram() },
    { path: LEARN_UNITS.socket, content: learnSocket() },
    { path: LEARN_UNITS.service, content: learnService() },
];
const REPORTS: [string, string][] = [[REPORT_SPAM, reportSieve("spam")], [REPORT_HAM, reportSieve("ham")]];

export class Dovecot extends pulumi.ComponentResource {
    constructor(name: string, args: DovecotArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mailstack:index:Dovecot", name, {}, opts);
        const version = args.state.facts.apply((f) => dovecotVersion(f.dovecot));
        const text = version.apply((v) => dovecotConf({ ...args.input, version: v }));
        const repair = args.state.repairOf("/etc/dovecot/dovecot.conf");
        const staged = step(`${name}-dovecot.conf`, {
            connection: args.connection, create: `${CTL} stage dovecot dovecot.conf`, stdin: text, triggers: [repair],
        }, { parent: this });
        // Both exist before the configuration that names them goes live.
        const quotas = putFile(`${name}-quota`, {
            path: QUOTA_FILE, mode: "0644", owner: "root:root",
            content: version.apply((v) => quotaFile(v, args.quotas, args.input.baseDomain)),
        }, args.connection, { parent: this }, [args.state.repairOf(QUOTA_FILE)]);
        const sieve = step(`${name}-sieve`, {
            connection: args.connection, create: `${CTL} sieve ${quote(SIEVE_BEFORE)}`, stdin: spamSieve(),
            triggers: [args.state.repairOf(SIEVE_BEFORE)],
        }, { parent: this });
        const learnFiles = writeFiles(name, LEARN_FILES, args.connection, args.state, { parent: this });
        const learnSocket = startUnit(`${name}-learn-socket`, LEARN_UNITS.socket, LEARN_FILES, args.connection, args.state,
            { parent: this, dependsOn: learnFiles });
        // Right after the new homes go live, what virtual users kept in the old ones moves there (ctl vmail-homes).
        const applied = step(`${name}-apply`, {
            connection: args.connection,
            create: `${CTL} apply dovecot && ${VMAIL_HOMES}`,
            triggers: [text.apply(sha256), repair],
        }, { parent: this, dependsOn: [staged, quotas, sieve, learnSocket] });
        // The files of devices that left the config go once the live dovecot.conf names them no more: no revoked
        // password's hash stays on the server. Again whenever the set of devices changes (the command names it).
        step(`${name}-app-passwords-prune`, {
            connection: args.connection, create: [CTL, "app-passwords-prune", ...(args.input.apps?.devices ?? [])].join(" "),
        }, { parent: this, dependsOn: [applied] });
        // Compiled by sievec against the live dovecot.conf, which must already load sieve_extprograms: after apply.
        REPORTS.forEach(([path, script]) => step(`${name}-${path.split("/").pop()}`, {
            connection: args.connection, create: `${CTL} sieve ${quote(path)}`, stdin: script,
            triggers: [args.state.repairOf(path)],
        }, { parent: this, dependsOn: [applied] }));
        this.registerOutputs({});
    }
}
