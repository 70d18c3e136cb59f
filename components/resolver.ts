// The server's validating resolver (components/render/resolver.ts): unbound's config written, checked and served
// (mailstack-ctl unbound), and /etc/resolv.conf pointed at it. Before rspamd and postfix, which read resolv.conf
// when they start.

import * as pulumi from "@pulumi/pulumi";
import { RESOLV_CONF, resolvConf, UNBOUND_CONF, unboundConf } from "./render/resolver";
import { CTL, Connection, putFile, sha256, step } from "./remote";
import { ServerState } from "./serverState";

export interface ResolverArgs {
    connection: pulumi.Input<Connection>;
    /** Drift of the files: a changed one is written again and unbound restarted. */
    state: ServerState;
}

export const RESOLVER_FILES = [UNBOUND_CONF, RESOLV_CONF];

export class Resolver extends pulumi.ComponentResource {
    constructor(name: string, args: ResolverArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mailstack:index:Resolver", name, {}, opts);
        const files: [string, string][] = [[UNBOUND_CONF, unboundConf()], [RESOLV_CONF, resolvConf()]];
        // resolv.conf is guarded with unbound's file (mailstack-ctl guarded_by): if unbound refuses the new config
        // or does not answer, both are taken back, and the system keeps a resolver that works.
        const written = files.map(([path, content]) => putFile(`${name}-${path.split("/").pop()}`, {
            path, mode: "0644", owner: "root:root", content,
        }, args.connection, { parent: this }, [args.state.repairOf(path)]));
        step(`${name}-apply`, {
            connection: args.connection,
            create: `${CTL} unbound`,
            triggers: [...files.map(([, text]) => sha256(text)), args.state.repairOf(...RESOLVER_FILES)],
        }, { parent: this, dependsOn: written });
        this.registerOutputs({});
    }
}
