// The MTA-STS policy daemon (components/render/mtasts.ts): its config written, checked and served (mailstack-ctl
// mta-sts). Before postfix, whose smtp client asks it for every destination.

import * as pulumi from "@pulumi/pulumi";
import { MTA_STS_CONF, mtaStsDaemonConf } from "./render/mtasts";
import { daemonConfig, FilesArgs } from "./remote";

export class MtaSts extends pulumi.ComponentResource {
    constructor(name: string, args: FilesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mailstack:index:MtaSts", name, {}, opts);
        daemonConfig(name, "mta-sts", [{ path: MTA_STS_CONF, content: mtaStsDaemonConf(), id: "conf" }],
            args.connection, args.state, { parent: this });
        this.registerOutputs({});
    }
}
