// `dns: {provider: hetzner}`: every record set is an hcloud.ZoneRrset in Hetzner's DNS (part of the Cloud API, the
// stack's own provider and token).
//
// Zones: created, or adopted. Whether a zone already exists is said in the config (`dns.existingZones`), not looked
// up: a lookup (hcloud.getZone) would call the API in every preview, and `preview --stack prod` works offline.
// - A zone the stack creates is an hcloud.Zone, deleted with its domain (and every record set in it).
// - An adopted zone has no resource at all: the record sets name it by its name (the API's paths take ID or name),
//   so nothing in the state can ever delete it.
// Record sets the stack does not own (a website's `www`) are never declared, so never read, changed nor deleted; one
// of the stack's names and types that already exists in an adopted zone fails the create (409, uniqueness_error)
// rather than being taken over: delete it in the Hetzner console, or `pulumi import` it.
//
// DNSSEC: Hetzner's DNS does not sign zones (it serves DS records for delegations, no DNSKEY: "At the moment, Hetzner
// only supports DS records", docs.hetzner.com/networking/dns/technical-concepts/architecture; "Hetzner currently only
// supports DS records but no DNSKEY records", docs.hetzner.com/networking/dns/record-types/ds-record). TLSA records
// for DANE would be unvalidated there, so none are published on Hetzner.

import * as hcloud from "@pulumi/hcloud";
import * as pulumi from "@pulumi/pulumi";
import { Publisher } from "../dns";

const LABELS = { "managed-by": "mailstack" };

export const hetzner: Publisher = (name, args, parent) => {
    const dns = args.config.dns;
    if (dns.provider !== "hetzner") {
        throw new Error(`the hetzner publisher got dns provider ${dns.provider}`);
    }
    const existing = new Set(dns.existingZones);
    const zoneRef = new Map<string, pulumi.Input<string>>(args.zones.map((z) => [z, existing.has(z)
        ? z
        // zone.name, not the plain name: its record sets wait for the zone.
        : new hcloud.Zone(`${name}-${z}`, { name: z, mode: "primary", labels: LABELS }, { parent }).name]));
    return args.sets.map(({ key, resourceName, shape, set }) => {
        const zone = zoneRef.get(shape.zone);
        if (zone === undefined) {
            throw new Error(`record set ${key} is in no zone of the stack`);
        }
        return new hcloud.ZoneRrset(resourceName, {
            zone, name: shape.name, type: shape.type, ttl: shape.ttl, labels: LABELS,
            records: set.apply((s) => s.values.map((value) => ({ value }))),
        }, { parent });
    });
};
