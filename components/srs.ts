// postsrsd and the pipe that forwards with it (components/render/srs.ts): written, then postsrsd restarted with
// its new defaults and probed (`mailstack-ctl srs`). Before postfix, whose main.cf and master.cf name both.

import * as pulumi from "@pulumi/pulumi";
import { postsrsdDefaults, SRS_FILES, SRS_FORWARD_MAP, srsForwardScript, SrsInput } from "./render/srs";
import { CTL, Connection, quote, sha256, step, writeFiles } from "./remote";
import { ServerState } from "./serverState";

export class Srs extends pulumi.ComponentResource {
    constructor(name: string, args: { connection: pulumi.Input<Connection>; input: SrsInput; state: ServerState },
        opts?: pulumi.ComponentResourceOptions) {
        super("mailstack:index:Srs", name, {}, opts);
        const defaults = postsrsdDefaults(args.input);
        const written = writeFiles(name, [
            { path: SRS_FILES.defaults, content: defaults },
            { path: SRS_FILES.forward, mode: "0755", content: srsForwardScript() },
        ], args.connection, args.state, { parent: this });
        step(`${name}-apply`, {
            connection: args.connection,
            create: `${CTL} srs ${quote(args.input.baseDomain)} ${quote(SRS_FORWARD_MAP)}`,
            triggers: [sha256(defaults), args.state.repairOf(SRS_FILES.defaults)],
        }, { parent: this, dependsOn: written });
        this.registerOutputs({});
    }
}
