// dovecot: one dovecot.conf in the syntax of the version the server runs, staged, checked by doveconf, applied.

import * as pulumi from "@pulumi/pulumi";
import { DovecotInput, dovecotConf, dovecotVersion, quotaFile, SIEVE_BEFORE, spamSieve } from "./render/dovecot";
import { CTL, Connection, putFile, quote, sha256, step } from "./remote";
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
export const DOVECOT_FILES = ["/etc/dovecot/dovecot.conf", QUOTA_FILE, SIEVE_BEFORE];

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
        step(`${name}-apply`, {
            connection: args.connection,
            create: `${CTL} apply dovecot`,
            triggers: [text.apply(sha256), repair],
        }, { parent: this, dependsOn: [staged, quotas, sieve] });
        this.registerOutputs({});
    }
}
