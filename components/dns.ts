// Publishes the records of `dnsRecords`: one record set per name and type, in the zone it belongs to, through the
// provider `dns` names (components/dns/*.ts). The set of record sets is fixed by the config alone, so `preview`
// names every one before the server's address is known; their values follow the real records. Each set's value
// waits only for what it holds: the address for most, its own key for a DKIM set, so the preview of a rotation (a
// new key, unknown until the up makes it) shows the other sets unchanged.

import * as pulumi from "@pulumi/pulumi";
import { MailConfig } from "./config";
import { mailZones, RecordSet, recordSets, setKey } from "./render/dns";
import { DkimPublicKey, dkimRecord, dnsRecords, tlsaRecord } from "./render/records";

/** One record set to publish: its name and type now, its values when the records are known. */
export interface PublishedSet {
    /** `FQDN TYPE`: stable, unique. */
    key: string;
    /** The publisher's resource name for the set, from `key`. */
    resourceName: string;
    shape: RecordSet;
    set: pulumi.Output<RecordSet>;
}

/** What a provider gets: the zones, every set, the component as parent. It returns the resource of each set, in the
 * order of `sets`. */
export type Publisher = (name: string, args: {
    config: MailConfig; zones: string[]; sets: PublishedSet[];
    /** The `dnsKey` secret (rfc2136's TSIG secret), when set. */
    key?: pulumi.Input<string>;
}, parent: pulumi.Resource) => pulumi.Resource[];

export interface DnsArgs {
    config: MailConfig;
    /** The host's addresses (no ipv6Address: no AAAA sets). */
    address: pulumi.Input<string>;
    ipv6Address?: pulumi.Input<string>;
    /** The published DKIM keys: domain and selector known from the config, the key when it exists. */
    dkim: (Pick<DkimPublicKey, "domain" | "selector"> & { publicKey: pulumi.Input<string> })[];
    /** The hostname certificate's key and, during a rollover, the next one (SHA-256 of the SubjectPublicKeyInfo), for
     * the TLSA set (`dns.dnssec`). They come from the certificate, which waits for `published`: the TLSA set is not
     * among them. */
    tlsaKeys?: pulumi.Input<string[]>;
    publishers: Partial<Record<MailConfig["dns"]["provider"], Publisher>>;
    key?: pulumi.Input<string>;
}

// Documentation addresses (RFC 5737, RFC 3849): they only shape the sets; no value of them is ever published.
const SHAPE_IP = "192.0.2.0";
const SHAPE_IP6 = "2001:db8::";

/** The sets the CA's validation looks up: the addresses of the names it validates, and the CAA sets it checks. */
function validated(c: MailConfig, shape: RecordSet): boolean {
    return shape.type === "CAA" || ((shape.type === "A" || shape.type === "AAAA") && c.certificate.names.includes(shape.fqdn));
}

export class Dns extends pulumi.ComponentResource {
    /** What certbot waits for (the sets its CA looks up): empty when the stack publishes nothing. */
    readonly published: pulumi.Resource[];

    constructor(name: string, args: DnsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mailstack:index:Dns", name, {}, opts);
        const c = args.config;
        const zones = mailZones(c.hostname, [c.baseDomain, ...c.virtualDomains]);
        const ttl = c.dns.provider === "none" ? 0 : c.dns.ttl;
        const ipv6 = args.ipv6Address !== undefined;
        const noKeys = args.dkim.map((k) => ({ ...k, publicKey: "" }));
        const shapes = recordSets(dnsRecords(c, SHAPE_IP, ipv6 ? SHAPE_IP6 : undefined, noKeys, [""]), zones, ttl);
        const setsOf = (keys: DkimPublicKey[], tlsa?: string[]) => pulumi.all([args.address, args.ipv6Address])
            .apply(([ip, ip6]) => recordSets(dnsRecords(c, ip, ip6, keys, tlsa), zones, ttl));
        const withoutKeys = setsOf(noKeys);
        const keyed = new Map(args.dkim.map((k) => [`${dkimRecord({ ...k, publicKey: "" }).name.toLowerCase()} TXT`, k]));
        const tlsaKey = setKey({ fqdn: tlsaRecord(c.hostname, "").name.toLowerCase(), type: "TLSA" });
        /** The sets computed from what this one holds: its own key for a DKIM or TLSA set, the addresses for the others. */
        const source = (shape: RecordSet): pulumi.Output<RecordSet[]> => {
            const k = keyed.get(setKey(shape));
            if (setKey(shape) === tlsaKey) {
                if (args.tlsaKeys === undefined) {
                    throw new Error("dns.dnssec: the TLSA set needs the certificate's key");
                }
                return pulumi.output(args.tlsaKeys).apply((tlsa) => setsOf([], tlsa));
            }
            return k === undefined ? withoutKeys : pulumi.output(k.publicKey).apply((publicKey) => setsOf([{ ...k, publicKey }]));
        };
        const sets: PublishedSet[] = shapes.map((shape) => ({
            key: setKey(shape), resourceName: `${name}-${setKey(shape).replace(" ", "-")}`, shape,
            set: source(shape).apply((real) => {
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
        const resources = publisher === undefined ? [] : publisher(name, { config: c, zones, sets, key: args.key }, this);
        this.published = resources.filter((_, i) => validated(c, sets[i].shape));
        this.registerOutputs({});
    }
}
