// dovecot: one dovecot.conf in the syntax of the version the server runs, staged, checked by doveconf, applied.

import * as pulumi from "@pulumi/pulumi";
import { DovecotInput, dovecotConf, dovecotVersion } from "./render/dovecot";
import { CTL, Connection, sha256, step } from "./remote";
import { ServerState } from "./serverState";

export interface DovecotArgs {
    connection: pulumi.Input<Connection>;
    /** The server's facts (`dovecot --version`, read on every up) and the drift of the live file. */
    state: ServerState;
    input: Omit<DovecotInput, "version">;
}

export const DOVECOT_FILES = ["/etc/dovecot/dovecot.conf"];

export class Dovecot extends pulumi.ComponentResource {
    constructor(name: string, args: DovecotArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mailstack:index:Dovecot", name, {}, opts);
        const text = args.state.facts.apply((f) => dovecotConf({ ...args.input, version: dovecotVersion(f.dovecot) }));
        const repair = args.state.repairOf(...DOVECOT_FILES);
        const staged = step(`${name}-dovecot.conf`, {
            connection: args.connection, create: `${CTL} stage dovecot dovecot.conf`, stdin: text, triggers: [repair],
        }, { parent: this });
        step(`${name}-apply`, {
            connection: args.connection,
            create: `${CTL} apply dovecot`,
            triggers: [text.apply(sha256), repair],
        }, { parent: this, dependsOn: [staged] });
        this.registerOutputs({});
    }
}
