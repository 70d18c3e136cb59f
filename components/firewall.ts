// The Hetzner Cloud firewall: only what a mail server needs, and SSH only from the admins' networks.

import * as hcloud from "@pulumi/hcloud";
import * as pulumi from "@pulumi/pulumi";

export interface FirewallArgs {
    hostname: string;
    serverId: pulumi.Input<number>;
    adminCidrs: string[];
    imaps: boolean;
    smtps: boolean;
}

const ANYWHERE = ["0.0.0.0/0", "::/0"];

export interface Port {
    port: number;
    description: string;
    sources: string[];
}

/** Pure, so that tests can check the list without Pulumi. */
export function openPorts(args: Pick<FirewallArgs, "adminCidrs" | "imaps" | "smtps">): Port[] {
    const ports: Port[] = [
        { port: 22, description: "SSH (admins only)", sources: args.adminCidrs },
        { port: 25, description: "SMTP: inbound mail", sources: ANYWHERE },
        { port: 80, description: "HTTP: ACME HTTP-01 challenges, redirect to https", sources: ANYWHERE },
        { port: 143, description: "IMAP with STARTTLS", sources: ANYWHERE },
        { port: 443, description: "HTTPS: autoconfig, autodiscover, MTA-STS", sources: ANYWHERE },
        { port: 587, description: "Submission with STARTTLS", sources: ANYWHERE },
        { port: 4190, description: "ManageSieve with STARTTLS (mail filters)", sources: ANYWHERE },
    ];
    if (args.smtps) {
        ports.push({ port: 465, description: "Submission over TLS", sources: ANYWHERE });
    }
    if (args.imaps) {
        ports.push({ port: 993, description: "IMAP over TLS", sources: ANYWHERE });
    }
    return ports;
}

export class Firewall extends pulumi.ComponentResource {
    readonly firewallId: pulumi.Output<number>;

    constructor(name: string, args: FirewallArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mailstack:index:Firewall", name, {}, opts);
        const firewall = new hcloud.Firewall(name, {
            name: args.hostname,
            rules: [
                ...openPorts(args).map((p) => ({
                    direction: "in", protocol: "tcp", port: String(p.port), sourceIps: p.sources, description: p.description,
                })),
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
