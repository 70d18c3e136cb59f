import { parseConfig, secretRules } from "../../components/config";
import { mailZones, recordSets, txtPresentation, zoneOf } from "../../components/render/dns";
import { DkimPublicKey, dnsRecords, txtStrings } from "../../components/render/records";
import { VALID } from "../fixtures/config";
import { installMocks, isSecretValue, renderServer, reveal, TYPES, valueOf } from "./harness";

const c = parseConfig(VALID);
const zones = mailZones(c.hostname, [c.baseDomain, ...c.virtualDomains]);
// 2048-bit RSA keys are about 392 base64 characters: the record is longer than one character-string
const key: DkimPublicKey = { domain: "example.net", selector: "mailstack", publicKey: "A".repeat(392) };
const sets = recordSets(dnsRecords(c, "192.0.2.10", "2001:db8::10", [key]), zones, 300);
const find = (fqdn: string, type: string) => sets.find((s) => s.fqdn === fqdn && s.type === type);

describe("record sets: what the stack publishes", () => {
    test("one set per name and type, each record in it", () => {
        const keys = sets.map((s) => `${s.fqdn} ${s.type}`);
        expect(new Set(keys).size).toBe(keys.length);
        const records = dnsRecords(c, "192.0.2.10", "2001:db8::10", [key]).filter((r) => r.type !== "PTR");
        expect(sets.reduce((n, s) => n + s.values.length, 0)).toBe(records.length);
        expect(find("mail.example.org", "A")?.values).toEqual(["192.0.2.10"]);
        expect(find("mail.example.org", "AAAA")?.values).toEqual(["2001:db8::10"]);
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
        expect(c.dns).toEqual({ provider: "none" });
    });

    test("rfc2136 with defaults", () => {
        expect(parseConfig({ ...VALID, dns: { provider: "rfc2136", server: "192.0.2.1", keyName: "mailstack" } }).dns)
            .toEqual({ provider: "rfc2136", server: "192.0.2.1", port: 53, keyName: "mailstack",
                keyAlgorithm: "hmac-sha256", ttl: 300 });
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

    test("provider none publishes nothing and certbot waits for nothing of it", async () => {
        const { rec } = await renderServer(VALID);
        expect(rec.byType(TYPES.local).filter((r) => String(r.inputs.create).includes("dns-update"))).toEqual([]);
    });
});
