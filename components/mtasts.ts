// The MTA-STS policy daemon (components/render/mtasts.ts): its config written, checked and served (mailstack-ctl
// mta-sts). Before postfix, whose smtp client asks it for every destination.

import * as pulumi from "@pulumi/pulumi";
import { MTA_STS_CONF, mtaStsDaemonConf } from "./render/mtasts";
import { CTL, Connection, putFile, sha256, step } from "./remote";
import { ServerState } from "./serverState";

export interface MtaStsArgs {
    connection: pulumi.Input<Connection>;
    /** Drift of the file: a changed one is written again and the daemon restarted. */
    state: ServerState;
}

export class MtaSts extends pulumi.ComponentResource {
    constructor(name: string, args: MtaStsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mailstack:index:MtaSts", name, {}, opts);
        const content = mtaStsDaemonConf();
        const written = putFile(`${name}-conf`, { path: MTA_STS_CONF, mode: "0644", owner: "root:root", content },
            args.connection, { parent: this }, [args.state.repairOf(MTA_STS_CONF)]);
        step(`${name}-apply`, {
            connection: args.connection,
            create: `${CTL} mta-sts`,
            triggers: [sha256(content), args.state.repairOf(MTA_STS_CONF)],
        }, { parent: this, dependsOn: [written] });
        this.registerOutputs({});
    }
}
