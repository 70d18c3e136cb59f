// The Hetzner Cloud firewall: only what a mail server needs, and SSH only from the admins' networks.

import * as hcloud from "@pulumi/hcloud";
import * as pulumi from "@pulumi/pulumi";
import { openListeners } from "./listeners";

export interface FirewallArgs {
    hostname: string;
    serverId: pulumi.Input<number>;
    adminCidrs: string[];
    imaps: boolean;
    smtps: boolean;
}

const ANYWHERE = ["0.0.0.0/0", "::/0"];

/** The inbound TCP rules: every listener reachable from outside (listeners.ts), SSH from the admins' networks only.
 * Pure, so that tests can check them without Pulumi. */
export function tcpRules(args: Pick<FirewallArgs, "adminCidrs" | "imaps" | "smtps">):
    { direction: "in"; protocol: "tcp"; port: string; sourceIps: string[]; description: string }[] {
    return openListeners(args).map((l) => ({
        direction: "in", protocol: "tcp", port: String(l.port),
        sourceIps: l.access === "admins" ? args.adminCidrs : ANYWHERE, description: l.description,
    }));
}

export class Firewall extends pulumi.ComponentResource {
    readonly firewallId: pulumi.Output<number>;

    constructor(name: string, args: FirewallArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mailstack:index:Firewall", name, {}, opts);
        const firewall = new hcloud.Firewall(name, {
            name: args.hostname,
            rules: [
                ...tcpRules(args),
                { direction: "in", protocol: "icmp", sourceIps: ANYWHERE, description: "ping, path MTU discovery" },
            ],
            labels: { "managed-by": "mailstack" },
        }, { parent: this });
        new hcloud.FirewallAttachment(name, {
            firewallId: firewall.id.apply(Number),
            serverIds: [args.serverId],
        }, { parent: this });
        this.firewallId = firewall.id.apply(Number);
        this.registerOutputs({ firewallId: this.firewallId });
    }
}
