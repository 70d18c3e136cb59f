// The records of `dnsRecords` as a DNS server holds them: one record set per name and type, in the zone it belongs to,
// values in zone-file presentation format. Pure: both publishers (Hetzner's API, RFC 2136 updates) take these sets.

import { DnsRecord, txtStrings } from "./records";

export type RecordType = Exclude<DnsRecord["type"], "PTR">;

export interface RecordSet {
    /** The zone the set is published in (one of `zones`). */
    zone: string;
    /** The owner name relative to the zone, "@" for the apex (the form Hetzner's API and zone files use). */
    name: string;
    /** The owner name, fully qualified, without the final dot. */
    fqdn: string;
    type: RecordType;
    ttl: number;
    /** One entry per record, sorted so that the same records always give the same set. */
    values: string[];
}

/** A set's identity, `FQDN TYPE`: one set per name and type. */
export const setKey = (s: Pick<RecordSet, "fqdn" | "type">): string => `${s.fqdn} ${s.type}`;

/** A TXT value as character-strings: each quoted, `"` and `\` escaped (RFC 1035 5.1); one record, several strings. */
export function txtPresentation(strings: string[]): string {
    return strings.map((s) => `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`).join(" ");
}

/** The zone a name falls in: the longest of `zones` it is equal to or below; undefined when none. */
export function zoneOf(name: string, zones: string[]): string | undefined {
    const n = name.toLowerCase();
    return zones.filter((z) => n === z || n.endsWith(`.${z}`)).sort((a, b) => b.length - a.length)[0];
}

/** The zones the stack publishes in: every mail domain, and the hostname's parent when no mail domain holds it. */
export function mailZones(hostname: string, domains: string[]): string[] {
    const zones = [...new Set(domains.map((d) => d.toLowerCase()))];
    if (zoneOf(hostname, zones) === undefined) {
        zones.push(hostname.toLowerCase().split(".").slice(1).join("."));
    }
    return zones;
}

/**
 * Groups records into record sets. PTR records are left out: the reverse zone belongs to whoever owns the address
 * (Hetzner's rDNS, the hosting provider), never to the mail domains' DNS. A record outside every zone is an error,
 * not silently dropped.
 */
export function recordSets(records: DnsRecord[], zones: string[], ttl: number): RecordSet[] {
    const sets = new Map<string, RecordSet>();
    for (const r of records) {
        if (r.type === "PTR") {
            continue;
        }
        const fqdn = r.name.toLowerCase().replace(/\.$/, "");
        const zone = zoneOf(fqdn, zones);
        if (zone === undefined) {
            throw new Error(`${r.type} record ${fqdn} is in none of the zones ${zones.join(", ")}`);
        }
        const key = setKey({ fqdn, type: r.type });
        const set = sets.get(key) ?? {
            zone, fqdn, type: r.type, ttl, values: [],
            name: fqdn === zone ? "@" : fqdn.slice(0, -(zone.length + 1)),
        };
        const value = r.type === "TXT" ? txtPresentation(r.strings ?? txtStrings(r.value)) : r.value;
        if (!set.values.includes(value)) {
            set.values.push(value);
        }
        sets.set(key, set);
    }
    return [...sets.values()].map((s) => ({ ...s, values: [...s.values].sort() }))
        .sort((a, b) => a.zone.localeCompare(b.zone) || a.fqdn.localeCompare(b.fqdn) || a.type.localeCompare(b.type));
}
