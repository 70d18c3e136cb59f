// dovecot: one dovecot.conf in the syntax of the version the server runs, staged, checked by doveconf, applied.

import * as pulumi from "@pulumi/pulumi";
import { DovecotInput, dovecotConf, dovecotVersion } from "./render/dovecot";
import { CTL, Connection, sha256, step } from "./remote";

export interface DovecotArgs {
    connection: pulumi.Input<Connection>;
    /** `dovecot --version` from the server. */
    version: pulumi.Input<string>;
    input: Omit<DovecotInput, "version">;
}

export class Dovecot extends pulumi.ComponentResource {
    constructor(name: string, args: DovecotArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mailstack:index:Dovecot", name, {}, opts);
        const text = pulumi.output(args.version).apply((v) => dovecotConf({ ...args.input, version: dovecotVersion(v) }));
        const staged = step(`${name}-dovecot.conf`, {
            connection: args.connection, create: `${CTL} stage dovecot dovecot.conf`, stdin: text,
        }, { parent: this });
        step(`${name}-apply`, {
            connection: args.connection,
            create: `${CTL} apply dovecot`,
            triggers: [text.apply(sha256)],
        }, { parent: this, dependsOn: [staged] });
        this.registerOutputs({});
    }
}
