// postsrsd and the pipe that forwards with it (components/render/srs.ts): written, then postsrsd restarted with
// its new defaults and probed (`mailstack-ctl srs`). Before postfix, whose main.cf and master.cf name both.

import * as pulumi from "@pulumi/pulumi";
import { postsrsdDefaults, SRS_FILES, SRS_FORWARD_MAP, srsForwardScript, SrsInput } from "./render/srs";
import { CTL, Connection, putFile, quote, sha256, step } from "./remote";
import { ServerState } from "./serverState";


export class Srs extends pulumi.ComponentResource {
    constructor(name: string, args: { connection: pulumi.Input<Connection>; input: SrsInput; state: ServerState },
        opts?: pulumi.ComponentResourceOptions) {
        super("mailstack:index:Srs", name, {}, opts);
        const files: [string, string, string][] = [
            [SRS_FILES.defaults, "0644", postsrsdDefaults(args.input)],
            [SRS_FILES.forward, "0755", srsForwardScript()],
        ];
        const written = files.map(([path, mode, content]) => putFile(`${name}-${path.split("/").pop()}`, {
            path, mode, owner: "root:root", content,
        }, args.connection, { parent: this }, [args.state.repairOf(path)]));
        step(`${name}-apply`, {
            connection: args.connection,
            create: `${CTL} srs ${quote(args.input.baseDomain)} ${quote(SRS_FORWARD_MAP)}`,
            triggers: [sha256(files[0][2]), args.state.repairOf(SRS_FILES.defaults)],
        }, { parent: this, dependsOn: written });
        this.registerOutputs({});
    }
}
