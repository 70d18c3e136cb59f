import { readFileSync } from "fs";
import * as path from "path";
import { parseConfig, RawConfig, secretRules } from "../../components/config";
import { mailZones, recordSets, txtPresentation, zoneOf } from "../../components/render/dns";
import { DkimPublicKey, dnsRecords, txtStrings } from "../../components/render/records";
import { VALID } from "../fixtures/config";
import { installMocks, isSecretValue, MOCK_SPKI_SHA256, mockKeySha256, renderServerOnce, reveal, TYPES, valueOf } from "./harness";

const c = parseConfig(VALID);
const zones = mailZones(c.hostname, [c.baseDomain, ...c.virtualDomains]);
// 2048-bit RSA keys are about 392 base64 characters: the record is longer than one character-string
const key: DkimPublicKey = { domain: "example.net", selector: "mailstack", publicKey: "A".repeat(392) };
const sets = recordSets(dnsRecords(c, "192.0.2.10", "2001:db8::10", [key]), zones, 300);
const find = (fqdn: string, type: string) => sets.find((s) => s.fqdn === fqdn && s.type === type);
// The tests below only read what a render registered: a config that several of them render is made once.
const renderServer = renderServerOnce();

describe("record sets: what the stack publishes", () => {
    test("one set per name and type, each record in it", () => {
        const keys = sets.map((s) => `${s.fqdn} ${s.type}`);
        expect(new Set(keys).size).toBe(keys.length);
        const records = dnsRecords(c, "192.0.2.10", "2001:db8::10", [key]).filter((r) => r.type !== "PTR");
        expect(sets.reduce((n, s) => n + s.values.length, 0)).toBe(records.length);
        expect(find("mail.example.org", "A")?.values).toEqual(["192.0.2.10"]);
        expect(find("mail.example.org", "AAAA")?.values).toEqual(["2001:db8::10"]);
    });

    test("TLSA 3 1 1 of the hostname certificate's key only in signed zones, never on Hetzner", () => {
        const hash = "AB".repeat(32);
        const tlsaOf = (raw: RawConfig) => dnsRecords(parseConfig(raw), "192.0.2.10", undefined, [], [hash])
            .filter((r) => r.type === "TLSA");
        expect(tlsaOf(VALID)).toEqual([]);
        expect(tlsaOf({ ...VALID, dns: { provider: "none", dnssec: true } })).toEqual([expect.objectContaining(
            { name: "_25._tcp.mail.example.org", type: "TLSA", value: `3 1 1 ${"ab".repeat(32)}` })]);
        expect(tlsaOf({ ...VALID, dns: { provider: "rfc2136", server: "192.0.2.1", keyName: "k", dnssec: true } }))
            .toHaveLength(1);
        // Hetzner's DNS signs nothing: no such key there
        expect(() => parseConfig({ ...VALID, dns: { provider: "hetzner", dnssec: true } })).toThrow(/dns/);
        // before the certificate exists there is no key to pin
        expect(dnsRecords(parseConfig({ ...VALID, dns: { provider: "none", dnssec: true } }), "192.0.2.10")
            .filter((r) => r.type === "TLSA")).toEqual([]);
    });

    test("PTR is the address owner's, never in a mail zone", () => {
        expect(sets.some((s) => s.fqdn.includes("in-addr.arpa") || s.fqdn.startsWith("192."))).toBe(false);
    });

    test("names relative to their zone, the apex as @", () => {
        expect(find("example.net", "MX")).toMatchObject({ zone: "example.net", name: "@", ttl: 300 });
        expect(find("_dmarc.example.com", "TXT")).toMatchObject({ zone: "example.com", name: "_dmarc" });
        expect(find("mail.example.org", "A")).toMatchObject({ zone: "example.org", name: "mail" });
    });

    test("TXT values are quoted character-strings of at most 255 bytes", () => {
        const dkim = find("mailstack._domainkey.example.net", "TXT");
        expect(dkim?.values).toHaveLength(1);
        const strings = [...(dkim?.values[0] ?? "").matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]);
        expect(strings.length).toBe(2);
        expect(strings.every((s) => Buffer.byteLength(s) <= 255)).toBe(true);
        expect(strings.join("")).toBe(`v=DKIM1; k=rsa; p=${"A".repeat(392)}`);
        expect(find("example.org", "TXT")?.values[0]).toMatch(/^"v=spf1 mx ip4:192\.0\.2\.10 ip6:2001:db8::10 -all"$/);
    });

    test("a long TXT without its own strings is split too, by bytes, never inside a character", () => {
        expect(txtStrings("é".repeat(200)).map((s) => Buffer.byteLength(s))).toEqual([254, 146]);
        expect(txtStrings("x".repeat(511)).map((s) => s.length)).toEqual([255, 255, 1]);
        expect(txtPresentation(['a "quoted" \\ word'])).toBe('"a \\"quoted\\" \\\\ word"');
    });

    test("zones: the longest match; the hostname's parent when no mail domain holds it", () => {
        expect(zoneOf("a.b.example.org", ["example.org", "b.example.org"])).toBe("b.example.org");
        expect(zoneOf("example.org.evil", ["example.org"])).toBeUndefined();
        expect(zoneOf("badexample.org", ["example.org"])).toBeUndefined();
        expect(mailZones("mx.provider.example", ["example.net"])).toEqual(["example.net", "provider.example"]);
        expect(() => recordSets([{ name: "x.other.example", type: "A", value: "192.0.2.1" }], ["example.org"], 300))
            .toThrow("A record x.other.example is in none of the zones example.org");
    });

    test("removing a domain removes its sets, and only those", () => {
        const smaller = parseConfig({ ...VALID, virtualDomains: ["example.net"], virtualUsers: ["bob@example.net"],
            aliases: {} });
        const after = recordSets(dnsRecords(smaller, "192.0.2.10", "2001:db8::10", [key]),
            mailZones(smaller.hostname, [smaller.baseDomain, ...smaller.virtualDomains]), 300);
        const gone = sets.filter((s) => !after.some((a) => a.fqdn === s.fqdn && a.type === s.type));
        expect(gone.length).toBeGreaterThan(0);
        expect(gone.every((s) => s.zone === "example.com")).toBe(true);
        expect(after.some((s) => s.zone === "example.com")).toBe(false);
    });
});

describe("config dns", () => {
    test("default: the stack publishes nothing", () => {
        expect(c.dns).toEqual({ provider: "none", dnssec: false });
    });

    test("rfc2136 with defaults", () => {
        expect(parseConfig({ ...VALID, dns: { provider: "rfc2136", server: "192.0.2.1", keyName: "mailstack" } }).dns)
            .toEqual({ provider: "rfc2136", server: "192.0.2.1", port: 53, keyName: "mailstack",
                keyAlgorithm: "hmac-sha256", ttl: 300, dnssec: false });
    });

    test("each bad value named, all at once", () => {
        expect(() => parseConfig({ ...VALID, dns: { provider: "rfc2136", server: "ns1", keyName: "k",
            keyAlgorithm: "hmac-md5", ttl: 5 } })).toThrow(
            /dns\.server.*"ns1" is not an IP address[\s\S]*dns\.keyAlgorithm.*unknown TSIG algorithm "hmac-md5"[\s\S]*dns\.ttl.*60 to 86400/);
        expect(() => parseConfig({ ...VALID, dns: { provider: "route53" } })).toThrow(/dns.*unknown DNS provider "route53"/);
    });
});

test("rfc2136 needs the TSIG secret", () => {
    const withRfc = parseConfig({ ...VALID, dns: { provider: "rfc2136", server: "192.0.2.1", keyName: "mailstack" } });
    expect(secretRules(withRfc, { sshPrivateKey: "k" }).map((e) => e.message)).toEqual([
        expect.stringMatching(/dnsKey.*is not set, and dns provider "rfc2136" needs it/)]);
    expect(secretRules(withRfc, { sshPrivateKey: "k", dnsKey: "c2VjcmV0" })).toEqual([]);
});

describe("dns provider rfc2136: a local command per record set", () => {
    const RFC = { dns: { provider: "rfc2136", server: "192.0.2.1", keyName: "mailstack-local" } };
    beforeAll(async () => {
        await installMocks();
    });

    test("every set of dnsRecords, its values in the environment, the key only on stdin, before certbot", async () => {
        const { rec, server } = await renderServer({ ...VALID, ...RFC }, { dnsKey: "c2VjcmV0LWtleQ==", sshPrivateKey: "k" });
        const published = rec.byType(TYPES.local).filter((r) => String(r.inputs.create) === "sh files/dns-update set");
        const records = await valueOf(server.dnsRecords);
        const expected = recordSets(records, zones, 300);
        expect(published.length).toBe(expected.length);
        for (const set of expected) {
            const r = rec.named(`mail-dns-${set.fqdn}-${set.type}`);
            const env = reveal(r.inputs.environment) as Record<string, string>;
            expect(env).toEqual({
                DNS_SERVER: "192.0.2.1", DNS_PORT: "53", DNS_KEY_NAME: "mailstack-local", DNS_KEY_ALGORITHM: "hmac-sha256",
                RRSET_ZONE: set.zone, RRSET_FQDN: set.fqdn, RRSET_TYPE: set.type, RRSET_TTL: "300",
                RRSET_VALUES: set.values.join("\n"),
            });
            expect(isSecretValue(r.inputs.environment)).toBe(false);
            expect(isSecretValue(r.inputs.stdin)).toBe(true);
            expect(reveal(r.inputs.stdin)).toBe("c2VjcmV0LWtleQ==\n");
            expect(r.inputs.delete).toBe("sh files/dns-update delete");
            expect(JSON.stringify(r.inputs.create)).not.toContain("c2VjcmV0");
        }
        // the certificate component's dependsOn: the engine holds its certbot step back until they are done
        const cert = rec.resources.find((r) => r.name === "mail-certificate" && !r.custom);
        const aSet = rec.named("mail-dns-mail.example.org-A");
        expect(cert?.dependencies).toContain(aSet.urn);
    });

    test("dnssec: the TLSA set holds the key the certificate step read, and certbot does not wait for it", async () => {
        const { rec, server } = await renderServer({ ...VALID, dns: { ...RFC.dns, dnssec: true } },
            { dnsKey: "c2VjcmV0LWtleQ==", sshPrivateKey: "k" });
        const tlsa = rec.named("mail-dns-_25._tcp.mail.example.org-TLSA");
        expect((reveal(tlsa.inputs.environment) as Record<string, string>).RRSET_VALUES).toBe(`3 1 1 ${MOCK_SPKI_SHA256}`);
        expect((await valueOf(server.dnsRecords)).filter((r) => r.type === "TLSA").map((r) => r.value))
            .toEqual([`3 1 1 ${MOCK_SPKI_SHA256}`]);
        const spki = rec.named("mail-certificate-spki");
        expect(spki.inputs.create).toBe("/usr/local/sbin/mailstack-ctl host-key mailstack");
        expect(tlsa.dependencies).toContain(spki.urn);
        const cert = rec.resources.find((r) => r.name === "mail-certificate" && !r.custom);
        expect(cert?.dependencies).toContain(rec.named("mail-dns-mail.example.org-A").urn);
        expect(cert?.dependencies).not.toContain(tlsa.urn);
    });

    test("rollover: nextKey adds its TLSA record to the set, key switches to it and leaves its record alone", async () => {
        const signed = { ...VALID, dns: { ...RFC.dns, dnssec: true } };
        const rollover = async (certificate: Record<string, string>): Promise<{ create: unknown; set: string; out: string[] }> => {
            const { rec, server } = await renderServer({ ...signed, certificate: { ...(VALID.certificate as object), ...certificate } },
                { dnsKey: "c2VjcmV0LWtleQ==", sshPrivateKey: "k" });
            return {
                create: rec.named("mail-certificate-spki").inputs.create,
                set: (reveal(rec.named("mail-dns-_25._tcp.mail.example.org-TLSA").inputs.environment) as Record<string, string>).RRSET_VALUES,
                out: (await valueOf(server.dnsRecords)).filter((r) => r.type === "TLSA").map((r) => r.value),
            };
        };
        // before: the key certbot made; then the next key beside it (one set, two records: current first)
        const next = await rollover({ nextKey: "k2027" });
        expect(next.create).toBe("/usr/local/sbin/mailstack-ctl host-key mailstack next=k2027");
        expect(next.out).toEqual([`3 1 1 ${MOCK_SPKI_SHA256}`, `3 1 1 ${mockKeySha256("k2027")}`]);
        expect(next.set.split("\n")).toEqual(next.out);
        // the switch: the certificate holds the next key, whose record is then the only one
        const switched = await rollover({ key: "k2027" });
        expect(switched.create).toBe("/usr/local/sbin/mailstack-ctl host-key mailstack key=k2027");
        expect(switched.out).toEqual([`3 1 1 ${mockKeySha256("k2027")}`]);
        expect(switched.set).toBe(`3 1 1 ${mockKeySha256("k2027")}`);
        // the next rollover starts from there
        const again = await rollover({ key: "k2027", nextKey: "k2028" });
        expect(again.create).toBe("/usr/local/sbin/mailstack-ctl host-key mailstack key=k2027 next=k2028");
        expect(again.out).toEqual([`3 1 1 ${mockKeySha256("k2027")}`, `3 1 1 ${mockKeySha256("k2028")}`]);
        // the records themselves: one set of two, deduplicated by the certificate component, not here
        expect(recordSets(dnsRecords(parseConfig(signed), "192.0.2.10", undefined, [], ["aa".repeat(32), "bb".repeat(32)]), zones, 300)
            .filter((x) => x.type === "TLSA").map((x) => x.values)).toEqual([[`3 1 1 ${"aa".repeat(32)}`, `3 1 1 ${"bb".repeat(32)}`]]);
    });

    test("rollover: a next key that is the current one, and names that are no DNS label, are refused, each on its line", () => {
        const refused = (certificate: Record<string, string>): string => {
            try {
                parseConfig({ ...VALID, certificate: { ...(VALID.certificate as object), ...certificate } });
            } catch (e) {
                return e instanceof Error ? e.message : String(e);
            }
            return "accepted";
        };
        expect(refused({ key: "k2", nextKey: "k2" }))
            .toBe('mailstack:certificate.nextKey: "k2" is certificate.key already; drop nextKey');
        // every bad value at once, each naming key and value
        expect(refused({ key: "K_2", nextKey: "-k3" }).split("\n").sort()).toEqual([
            'mailstack:certificate.key: "K_2" is not a key name (one DNS label: lower case letters, digits, -)',
            'mailstack:certificate.nextKey: "-k3" is not a key name (one DNS label: lower case letters, digits, -)',
        ]);
        expect(refused({ key: "k2", nextKey: "k3" })).toBe("accepted");
    });

    test("on the test server, the key is the test DNS's own (scripts/testbed dns-key), unless dnsKey is set", async () => {
        const testbed = { ...VALID, ...RFC, host: { kind: "testbed", suite: "bookworm" } };
        expect(secretRules(parseConfig(testbed), {})).toEqual([]);
        const own = (await renderServer(testbed)).rec.named("mail-server-dns-key");
        expect(own.inputs.create).toBe("bash scripts/testbed dns-key");
        expect(own.additionalSecretOutputs).toEqual(["stdout"]);
        const given = (await renderServer(testbed, { dnsKey: "c2VjcmV0LWtleQ==" })).rec;
        expect(given.resources.filter((r) => r.name === "mail-server-dns-key")).toEqual([]);
    });

    test("provider none publishes nothing and certbot waits for nothing of it", async () => {
        const { rec } = await renderServer(VALID);
        expect(rec.byType(TYPES.local).filter((r) => String(r.inputs.create).includes("dns-update"))).toEqual([]);
    });
});

describe("dns provider hetzner: a ZoneRrset per record set, zones created or adopted", () => {
    const HZ = (existingZones: string[] = []) => ({ dns: { provider: "hetzner", existingZones } });
    beforeAll(async () => {
        await installMocks();
    });

    test("every set of dnsRecords as a ZoneRrset: zone, relative name, type, ttl, its values; TXT in 255-byte strings", async () => {
        const { rec, server } = await renderServer({ ...VALID, ...HZ() });
        const expected = recordSets(await valueOf(server.dnsRecords), zones, 300);
        const rrsets = rec.byType(TYPES.zoneRrset);
        expect(rrsets.length).toBe(expected.length);
        for (const set of expected) {
            const r = rec.named(`mail-dns-${set.fqdn}-${set.type}`);
            expect(r.type).toBe(TYPES.zoneRrset);
            expect(reveal(r.inputs)).toEqual({
                zone: set.zone, name: set.name, type: set.type, ttl: 300, labels: { "managed-by": "mailstack" },
                records: set.values.map((value) => ({ value })),
            });
        }
        // the DKIM key (a 2048-bit key's length): one record of two quoted strings, each at most 255 bytes
        const dkim = reveal(rec.named("mail-dns-mailstack._domainkey.example.net-TXT").inputs.records) as { value: string }[];
        expect(dkim).toHaveLength(1);
        const strings = [...dkim[0].value.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]);
        expect(strings.length).toBe(2);
        expect(strings.every((s) => Buffer.byteLength(s) <= 255)).toBe(true);
        expect(strings.join("")).toMatch(/^v=DKIM1; k=rsa; p=/);
        expect(reveal(rec.named("mail-dns-example.net-MX").inputs)).toMatchObject({ zone: "example.net", name: "@",
            records: [{ value: "10 mail.example.org." }] });
    });

    test("zones: created ones are hcloud.Zone resources the sets wait for; adopted ones are only named", async () => {
        const { rec } = await renderServer({ ...VALID, ...HZ(["example.org"]) });
        const created = rec.byType(TYPES.zone);
        expect(created.map((z) => reveal(z.inputs))).toEqual([
            { name: "example.net", mode: "primary", labels: { "managed-by": "mailstack" } },
            { name: "example.com", mode: "primary", labels: { "managed-by": "mailstack" } },
        ]);
        const inNet = rec.named("mail-dns-example.net-MX");
        expect(inNet.dependencies).toContain(rec.one(TYPES.zone, "mail-dns-example.net").urn);
        const inOrg = rec.named("mail-dns-example.org-MX");
        expect(inOrg.inputs.zone).toBe("example.org");
        expect(created.some((z) => inOrg.dependencies.includes(z.urn))).toBe(false);
        // and no lookup (hcloud.getZone...): the mocks' call() throws on any invoke
    });

    test("removing a domain removes its sets, and its zone only if the stack created it; an adopted zone never goes", async () => {
        const smaller = { virtualDomains: ["example.net"], virtualUsers: ["bob@example.net", "carol@example.net"],
            aliases: { "info@example.net": "bob@example.net" } };
        const names = (rec: { resources: { type: string; name: string }[] }, type: string) =>
            new Set(rec.resources.filter((r) => r.type === type).map((r) => r.name));
        for (const adopted of [[], ["example.com"]]) {
            const before = (await renderServer({ ...VALID, ...HZ(adopted) })).rec;
            const after = (await renderServer({ ...VALID, ...smaller, ...HZ() })).rec;
            const gone = [...names(before, TYPES.zoneRrset)].filter((n) => !names(after, TYPES.zoneRrset).has(n));
            expect(gone.length).toBeGreaterThan(5);
            expect(gone.every((n) => /example\.com-[A-Z]+$/.test(n))).toBe(true);
            expect([...names(after, TYPES.zoneRrset)].some((n) => n.includes("example.com"))).toBe(false);
            const zonesGone = [...names(before, TYPES.zone)].filter((n) => !names(after, TYPES.zone).has(n));
            // the engine deletes what the program no longer declares: an adopted zone was never declared
            expect(zonesGone).toEqual(adopted.length === 0 ? ["mail-dns-example.com"] : []);
        }
        const allAdopted = (await renderServer({ ...VALID, ...HZ(zones) })).rec;
        expect(allAdopted.byType(TYPES.zone)).toEqual([]);
    });

    test("foreign record sets are never declared: only the names and types of dnsRecords, no SOA or NS", async () => {
        const { rec, server } = await renderServer({ ...VALID, ...HZ(["example.org", "example.net"]) });
        const ours = new Set(recordSets(await valueOf(server.dnsRecords), zones, 300).map((s) => `${s.zone} ${s.name} ${s.type}`));
        for (const r of rec.byType(TYPES.zoneRrset)) {
            expect(ours.has(`${String(r.inputs.zone)} ${String(r.inputs.name)} ${String(r.inputs.type)}`)).toBe(true);
        }
        expect(rec.byType(TYPES.zoneRrset).some((r) => ["SOA", "NS"].includes(String(r.inputs.type)) ||
            r.inputs.name === "www")).toBe(false);
    });

    test("certbot waits for the A/AAAA sets of the names the CA validates and the CAA sets, not for the others", async () => {
        const { rec } = await renderServer({ ...VALID, ...HZ() });
        const cert = rec.resources.find((r) => r.name === "mail-certificate" && !r.custom);
        const waited = rec.byType(TYPES.zoneRrset).filter((r) => cert?.dependencies.includes(r.urn)).map((r) => r.name);
        const names = c.certificate.names;
        expect(waited.sort()).toEqual(rec.byType(TYPES.zoneRrset).filter((r) => String(r.inputs.type) === "CAA" ||
            (["A", "AAAA"].includes(String(r.inputs.type)) && names.some((n) => r.name === `mail-dns-${n}-${String(r.inputs.type)}`)))
            .map((r) => r.name).sort());
        expect(waited).toContain("mail-dns-mail.example.org-A");
        expect(waited).toContain("mail-dns-autoconfig.example.net-A");
        expect(waited.some((n) => n.endsWith("-TXT") || n.endsWith("-MX"))).toBe(false);
    });

    test("Pulumi.prod.yaml: every record set of its dnsRecords as a ZoneRrset with its values; blog.example adopted", async () => {
        // js-yaml comes with jest and has no types here (as in bad-config.test.ts)
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const yaml = require("js-yaml") as { load(text: string): { config: Record<string, unknown> } };
        const stack = yaml.load(readFileSync(path.join(__dirname, "..", "..", "Pulumi.prod.yaml"), "utf8")).config;
        const raw = Object.fromEntries(Object.entries(stack).filter(([k]) => k.startsWith("mailstack:"))
            .map(([k, v]) => [k.slice("mailstack:".length), v])) as unknown as RawConfig;
        const prod = parseConfig(raw);
        expect(prod.dns).toMatchObject({ provider: "hetzner", existingZones: ["blog.example"] });
        const { rec, server } = await renderServer(raw);
        const expected = recordSets(await valueOf(server.dnsRecords),
            mailZones(prod.hostname, [prod.baseDomain, ...prod.virtualDomains]), prod.dns.provider === "hetzner" ? prod.dns.ttl : 0);
        expect(rec.byType(TYPES.zoneRrset).length).toBe(expected.length);
        expect(expected.some((s) => s.type === "AAAA")).toBe(true);
        for (const set of expected) {
            expect(reveal(rec.named(`mail-dns-${set.fqdn}-${set.type}`).inputs)).toMatchObject({
                zone: set.zone, name: set.name, type: set.type, records: set.values.map((value) => ({ value })),
            });
        }
        expect(rec.byType(TYPES.zone).map((z) => z.inputs.name)).toEqual(["jumpforjoy.example"]);
    });

    test("each set waits only for what it holds: a DKIM set for its own key, the others for no key (a rotation's preview)", async () => {
        const { rec } = await renderServer({ ...VALID, ...HZ(), dkim: { selector: "mailstack", nextSelector: "next" } });
        const keyUrn = (name: string) => rec.one(TYPES.dkimKey, name).urn;
        const keys = rec.byType(TYPES.dkimKey).map((k) => k.urn);
        expect(keys.length).toBe(6);
        for (const r of rec.byType(TYPES.zoneRrset)) {
            const deps = (r.propertyDependencies.records ?? []).filter((u) => keys.includes(u));
            const m = /^mail-dns-(\w+)\._domainkey\.(.+)-TXT$/.exec(r.name);
            expect(deps).toEqual(m === null ? [] : [keyUrn(`mail-dkim-${m[1]}-${m[2]}`)]);
        }
        expect(rec.named("mail-dns-next._domainkey.example.com-TXT").type).toBe(TYPES.zoneRrset);
    });

    test("existingZones: only zones the stack publishes in, each once", () => {
        expect(parseConfig({ ...VALID, ...HZ() }).dns).toEqual({ provider: "hetzner", ttl: 300, existingZones: [] });
        expect(() => parseConfig({ ...VALID, ...HZ(["example.org", "other.example"]) }))
            .toThrow(/dns\.existingZones\[1\].*"other\.example" is not one of the zones the stack publishes in \(example\.org, example\.net, example\.com\)/);
        expect(() => parseConfig({ ...VALID, ...HZ(["example.org", "Example.org"]) })).toThrow(/dns\.existingZones/);
    });
});
