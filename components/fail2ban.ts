// fail2ban: its jail and filter for the mail ports, checked by fail2ban itself, then (re)loaded.

import * as pulumi from "@pulumi/pulumi";
import { BanInput, FILTER_FILE, filter, JAIL_FILE, jail } from "./render/fail2ban";
import { CTL, Connection, putFile, sha256, step } from "./remote";
import { ServerState } from "./serverState";

export interface Fail2banArgs {
    connection: pulumi.Input<Connection>;
    input: BanInput;
    /** Drift of the files: a changed one is written again and fail2ban reloaded. */
    state: ServerState;
}

export const FAIL2BAN_FILES = [FILTER_FILE, JAIL_FILE];

export class Fail2ban extends pulumi.ComponentResource {
    constructor(name: string, args: Fail2banArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mailstack:index:Fail2ban", name, {}, opts);
        const files: [string, string][] = [[FILTER_FILE, filter()], [JAIL_FILE, jail(args.input)]];
        const written = files.map(([path, content]) => putFile(`${name}-${path.split("/").pop()}`, {
            path, mode: "0644", owner: "root:root", content,
        }, args.connection, { parent: this }, [args.state.repairOf(path)]));
        step(`${name}-apply`, {
            connection: args.connection,
            create: `${CTL} fail2ban`,
            triggers: [...files.map(([, text]) => sha256(text)), args.state.repairOf(...FAIL2BAN_FILES)],
        }, { parent: this, dependsOn: written });
        this.registerOutputs({});
    }
}
