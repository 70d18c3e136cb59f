// fail2ban: its jail and filter for the mail ports, checked by fail2ban itself, then (re)loaded.

import * as pulumi from "@pulumi/pulumi";
import { BanInput, FILTER_FILE, filter, JAIL_FILE, jail } from "./render/fail2ban";
import { CTL, Connection, putFile, sha256, step } from "./remote";

export interface Fail2banArgs {
    connection: pulumi.Input<Connection>;
    input: BanInput;
}

export class Fail2ban extends pulumi.ComponentResource {
    constructor(name: string, args: Fail2banArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mailstack:index:Fail2ban", name, {}, opts);
        const files: [string, string][] = [[FILTER_FILE, filter()], [JAIL_FILE, jail(args.input)]];
        const written = files.map(([path, content]) => putFile(`${name}-${path.split("/").pop()}`, {
            path, mode: "0644", owner: "root:root", content,
        }, args.connection, { parent: this }));
        step(`${name}-apply`, {
            connection: args.connection,
            create: `${CTL} fail2ban`,
            triggers: files.map(([, text]) => sha256(text)),
        }, { parent: this, dependsOn: written });
        this.registerOutputs({});
    }
}
