// The server's validating resolver (components/render/resolver.ts): unbound's config written, checked and served
// (mailstack-ctl unbound), and /etc/resolv.conf pointed at it. Before rspamd and postfix, which read resolv.conf
// when they start.

import * as pulumi from "@pulumi/pulumi";
import { RESOLV_CONF, resolvConf, UNBOUND_CONF, unboundConf } from "./render/resolver";
import { daemonConfig, FilesArgs } from "./remote";

export class Resolver extends pulumi.ComponentResource {
    constructor(name: string, args: FilesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mailstack:index:Resolver", name, {}, opts);
        // resolv.conf is guarded with unbound's file (mailstack-ctl guarded_by): if unbound refuses the new config
        // or does not answer, both are taken back, and the system keeps a resolver that works.
        daemonConfig(name, "unbound", [{ path: UNBOUND_CONF, content: unboundConf() }, { path: RESOLV_CONF, content: resolvConf() }],
            args.connection, args.state, { parent: this });
        this.registerOutputs({});
    }
}
