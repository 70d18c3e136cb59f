// fail2ban: its jail and filter for the mail ports, checked by fail2ban itself, then (re)loaded.

import * as pulumi from "@pulumi/pulumi";
import { BanInput, FILTER_FILE, filter, JAIL_FILE, jail } from "./render/fail2ban";
import { daemonConfig, FilesArgs } from "./remote";

export interface Fail2banArgs extends FilesArgs {
    input: BanInput;
}

export class Fail2ban extends pulumi.ComponentResource {
    constructor(name: string, args: Fail2banArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mailstack:index:Fail2ban", name, {}, opts);
        daemonConfig(name, "fail2ban", [{ path: FILTER_FILE, content: filter() }, { path: JAIL_FILE, content: jail(args.input) }],
            args.connection, args.state, { parent: this });
        this.registerOutputs({});
    }
}
