// postfix: main.cf and master.cf are staged, validated on the server by postfix itself, then swapped in and
// reloaded by `mailstack-ctl apply`, which restores the previous files if anything fails.

import * as pulumi from "@pulumi/pulumi";
import { mainCf, masterCf, PostfixInput } from "./render/postfix";
import { CTL, Connection, sha256, step } from "./remote";

export interface PostfixArgs {
    connection: pulumi.Input<Connection>;
    input: PostfixInput;
}

export class Postfix extends pulumi.ComponentResource {
    constructor(name: string, args: PostfixArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mailstack:index:Postfix", name, {}, opts);
        const files: [string, string][] = [["main.cf", mainCf(args.input)], ["master.cf", masterCf(args.input)]];
        const staged = files.map(([file, text]) => step(`${name}-${file}`, {
            connection: args.connection, create: `${CTL} stage postfix ${file}`, stdin: text,
        }, { parent: this }));
        step(`${name}-apply`, {
            connection: args.connection,
            create: `${CTL} apply postfix`,
            triggers: files.map(([, text]) => sha256(text)),
        }, { parent: this, dependsOn: staged });
        this.registerOutputs({});
    }
}
