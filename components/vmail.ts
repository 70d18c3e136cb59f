// The vmail user and group (5000:5000) that own every virtual mailbox, and /var/mail/vhosts/DOMAIN.

import * as pulumi from "@pulumi/pulumi";
import { CTL, Connection, quote, step } from "./remote";

export interface VmailArgs {
    connection: pulumi.Input<Connection>;
    virtualDomains: string[];
}

export class Vmail extends pulumi.ComponentResource {
    constructor(name: string, args: VmailArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mailstack:index:Vmail", name, {}, opts);
        step(name, {
            connection: args.connection,
            create: [`${CTL} vmail`, ...args.virtualDomains.map(quote)].join(" "),
        }, { parent: this });
        this.registerOutputs({});
    }
}
