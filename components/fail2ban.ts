// fail2ban: its jail and filter for the mail ports, checked by fail2ban itself, then (re)loaded.

import * as pulumi from "@pulumi/pulumi";
import { BanInput, FILTER_FILE, filter, JAIL_FILE, jail } from "./render/fail2ban";
import { Connection, daemonConfig, Repairs } from "./remote";

export interface Fail2banArgs {
    connection: pulumi.Input<Connection>;
    input: BanInput;
    /** Drift of the files: a changed one is written again and fail2ban reloaded. */
    state: Repairs;
}

export class Fail2ban extends pulumi.ComponentResource {
    constructor(name: string, args: Fail2banArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mailstack:index:Fail2ban", name, {}, opts);
        daemonConfig(name, "fail2ban", [{ path: FILTER_FILE, content: filter() }, { path: JAIL_FILE, content: jail(args.input) }],
            args.connection, args.state, { parent: this });
        this.registerOutputs({});
    }
}
