// Publishes the records of `dnsRecords`: one record set per name and type, in the zone it belongs to, through the
// provider `dns` names (components/dns/*.ts). The set of record sets is fixed by the config alone, so `preview`
// names every one before the server's address is known; their values follow the real records.

import * as pulumi from "@pulumi/pulumi";
import { MailConfig } from "./config";
import { mailZones, RecordSet, recordSets } from "./render/dns";
import { DkimPublicKey, DnsRecord, dnsRecords } from "./render/records";

/** One record set to publish: its name and type now, its values when the records are known. */
export interface PublishedSet {
    /** `FQDN TYPE`: stable, unique, part of the resource name. */
    key: string;
    shape: RecordSet;
    set: pulumi.Output<RecordSet>;
}

/** What a provider gets: the zones, every set, the component as parent. It returns what must exist before certbot
 * asks the CA (the records its validation looks up). */
export type Publisher = (name: string, args: {
    config: MailConfig; zones: string[]; sets: PublishedSet[];
    /** The `dnsKey` secret (rfc2136's TSIG secret), when set. */
    key?: pulumi.Input<string>;
}, parent: pulumi.Resource) => pulumi.Resource[];

export interface DnsArgs {
    config: MailConfig;
    /** The records, with the real address and keys. */
    records: pulumi.Output<DnsRecord[]>;
    /** Whether the host has an IPv6 address (its AAAA sets exist). */
    ipv6: boolean;
    /** The published DKIM keys' domains and selectors, known from the config. */
    dkim: Pick<DkimPublicKey, "domain" | "selector">[];
    publishers: Partial<Record<MailConfig["dns"]["provider"], Publisher>>;
    key?: pulumi.Input<string>;
}

// Documentation addresses (RFC 5737, RFC 3849): they only shape the sets; no value of them is ever published.
const SHAPE_IP = "192.0.2.0";
const SHAPE_IP6 = "2001:db8::";

export const setKey = (s: Pick<RecordSet, "fqdn" | "type">): string => `${s.fqdn} ${s.type}`;

export class Dns extends pulumi.ComponentResource {
    /** What certbot waits for: empty when the stack publishes nothing. */
    readonly published: pulumi.Resource[];

    constructor(name: string, args: DnsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mailstack:index:Dns", name, {}, opts);
        const c = args.config;
        const zones = mailZones(c.hostname, [c.baseDomain, ...c.virtualDomains]);
        const ttl = c.dns.provider === "none" ? 0 : c.dns.ttl;
        const shapes = recordSets(dnsRecords(c, SHAPE_IP, args.ipv6 ? SHAPE_IP6 : undefined,
            args.dkim.map((k) => ({ ...k, publicKey: "" }))), zones, ttl);
        const all = args.records.apply((r) => recordSets(r, zones, ttl));
        const sets: PublishedSet[] = shapes.map((shape) => ({
            key: setKey(shape), shape,
            set: all.apply((real) => {
                const found = real.find((s) => setKey(s) === setKey(shape));
                if (found === undefined) {
                    throw new Error(`record set ${setKey(shape)} is in the config's shape but not in the records`);
                }
                return found;
            }),
        }));
        const publisher = args.publishers[c.dns.provider];
        if (c.dns.provider !== "none" && publisher === undefined) {
            throw new Error(`no publisher for dns provider ${c.dns.provider}`);
        }
        this.published = publisher === undefined ? [] : publisher(name, { config: c, zones, sets, key: args.key }, this);
        this.registerOutputs({});
    }
}
