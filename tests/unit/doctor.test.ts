// relayHost, logRetentionDays and doctor config; the pure parts of `npm run doctor` (answers read, records compared).

import { Resolver } from "dns/promises";
import { parseConfig, RawConfig, secretRules } from "../../components/config";
import { DnsRecord } from "../../components/render/records";
import { webhookConf } from "../../components/render/ops";
import { certIssues, checkBlocklist, checkRecord, compareSpf, parseInside, readBlocklistAnswer, reversed } from "../../scripts/doctor";
import { SMALL } from "../fixtures/config";
import { expectRejected } from "./harness";

const valid = SMALL;

function rejects(change: Partial<RawConfig>, key: string, message: RegExp): void {
    expectRejected({ ...valid, ...change }, key, message);
}

describe("relayHost", () => {
    test("absent: direct delivery; defaults of the rest", () => {
        const c = parseConfig(valid);
        expect(c.relayHost).toBeUndefined();
        expect(c.logRetentionDays).toBe(30);
        expect(c.doctor).toMatchObject({ resolvers: [], diskMaxPercent: 90, intervalMinutes: 15 });
        expect(c.doctor.blocklists).toContain("zen.spamhaus.org");
    });

    test("port and TLS mode follow each other", () => {
        expect(parseConfig({ ...valid, relayHost: { host: "smtp.relay.example", username: "u" } }).relayHost)
            .toEqual({ host: "smtp.relay.example", port: 587, tls: "starttls", username: "u" });
        expect(parseConfig({ ...valid, relayHost: { host: "smtp.relay.example", port: 465, username: "u" } }).relayHost)
            .toMatchObject({ port: 465, tls: "implicit" });
        expect(parseConfig({ ...valid, relayHost: { host: "smtp.relay.example", tls: "implicit", username: "u" } }).relayHost)
            .toMatchObject({ port: 465, tls: "implicit" });
    });

    test.each<[string, unknown, string, RegExp]>([
        ["a password in plain config", { host: "r.example", username: "u", password: "x" }, "relayHost.password", /--secret mailstack:relayPassword/],
        ["an IP literal", { host: "192.0.2.25", username: "u" }, "relayHost.host", /"192.0.2.25" is not a host name/],
        ["a bad port", { host: "r.example", username: "u", port: 70000 }, "relayHost.port", /70000/],
        ["an unknown TLS mode", { host: "r.example", username: "u", tls: "none" }, "relayHost.tls", /"none"/],
        ["no username", { host: "r.example" }, "relayHost.username", /non-empty string/],
        ["a colon in the username", { host: "r.example", username: "a:b" }, "relayHost.username", /"a:b" contains a colon/],
        ["an unknown key", { host: "r.example", username: "u", hots: 1 }, "relayHost.hots", /unknown key/],
    ])("refuses %s", (_, relayHost, key, message) => rejects({ relayHost }, key, message));

    /** The lines secretRules gives for these secrets (and the host's key), on the valid config with this relayHost. */
    const secretLines = (relayHost: unknown, secrets: Parameters<typeof secretRules>[1]): string[] =>
        secretRules(parseConfig({ ...valid, ...(relayHost === undefined ? {} : { relayHost }) }),
            { sshPrivateKey: "key", ...secrets }).map((p) => p.line);
    const relay = { host: "r.example", username: "u" };

    test("the password: required with relayHost, refused without, one line, never shown", () => {
        expect(secretLines(relay, {})).toEqual(["mailstack:relayPassword: is not set, and relayHost r.example needs it " +
            "(pulumi config set --secret mailstack:relayPassword)"]);
        expect(secretLines(relay, { relayPassword: "" })).toEqual(secretLines(relay, {}));
        expect(secretLines(undefined, { relayPassword: "pw" })).toEqual(
            ["mailstack:relayPassword: is set but relayHost is not (remove it, or configure relayHost)"]);
        expect(secretLines(relay, { relayPassword: "a\nhunter2" })).toEqual(
            ["mailstack:relayPassword: contains a line break (the value is not shown: it is a secret)"]);
        expect(secretLines(relay, { relayPassword: "fine" })).toEqual([]);
    });

    test("the webhook: https only, value never in the message", () => {
        expect(secretLines(undefined, { alertWebhook: "http://hooks.example/abc-token" })).toEqual(
            ["mailstack:alertWebhook: is not an https:// URL (the value is not shown: it is a secret)"]);
        expect(secretLines(undefined, { alertWebhook: "https://hooks.example/x" })).toEqual([]);
        expect(webhookConf('https://h.example/a"b\\c')).toBe('url = "https://h.example/a\\"b\\\\c"\n');
    });
});

describe("doctor config", () => {
    test.each<[string, unknown, string, RegExp]>([
        ["a resolver that is no address", { resolvers: ["ns.example"] }, "doctor.resolvers[0]", /"ns.example" is not an address/],
        ["a blocklist that is no zone", { blocklists: ["not a zone"] }, "doctor.blocklists[0]", /not a valid domain/],
        ["a disk limit over 100", { diskMaxPercent: 101 }, "doctor.diskMaxPercent", /1 to 100, got 101/],
        ["an unknown key", { webhook: "https://x" }, "doctor.webhook", /unknown key/],
    ])("refuses %s", (_, doctor, key, message) => rejects({ doctor }, key, message));

    test("resolvers with ports, IPv6 in brackets", () => {
        expect(parseConfig({ ...valid, doctor: { resolvers: ["192.0.2.1:5353", "[2001:db8::53]:53", "9.9.9.9"] } }).doctor.resolvers)
            .toHaveLength(3);
    });

    test("logRetentionDays is a whole number of days", () => {
        rejects({ logRetentionDays: 0 }, "logRetentionDays", /got 0/);
        rejects({ logRetentionDays: "7" }, "logRetentionDays", /got "7"/);
        expect(parseConfig({ ...valid, logRetentionDays: 7 }).logRetentionDays).toBe(7);
    });
});

/** A resolver that answers from a table: name|type -> answer, or an error code. */
function fakeResolver(answers: Record<string, unknown>): Resolver {
    const lookup = (type: string) => (name: string): Promise<unknown> => {
        const a = answers[`${name}|${type}`];
        if (a === undefined) {
            return Promise.reject(Object.assign(new Error("not found"), { code: "ENOTFOUND" }));
        }
        if (typeof a === "string" && a.startsWith("E")) {
            return Promise.reject(Object.assign(new Error(a), { code: a }));
        }
        return Promise.resolve(a);
    };
    return { resolve4: lookup("A"), resolve6: lookup("AAAA"), resolveMx: lookup("MX"), resolveTxt: lookup("TXT"),
        resolvePtr: lookup("PTR") } as unknown as Resolver;
}

describe("doctor: records as published", () => {
    const spf: DnsRecord = { name: "example.net", type: "TXT", value: "v=spf1 mx ip4:192.0.2.10 -all" };
    test.each<[string, DnsRecord, Record<string, unknown>, string, RegExp]>([
        ["an A record", { name: "mail.example.org", type: "A", value: "192.0.2.10" }, { "mail.example.org|A": ["192.0.2.10"] }, "ok", /192.0.2.10/],
        ["a wrong A record", { name: "mail.example.org", type: "A", value: "192.0.2.10" }, { "mail.example.org|A": ["192.0.2.99"] },
            "fail", /published "192.0.2.99", expected "192.0.2.10"/],
        ["a missing name", { name: "mail.example.org", type: "A", value: "192.0.2.10" }, {}, "fail", /NXDOMAIN/],
        ["an MX", { name: "example.net", type: "MX", value: "10 mail.example.org." },
            { "example.net|MX": [{ priority: 10, exchange: "mail.example.org" }] }, "ok", /10 mail/],
        ["an MX of another priority", { name: "example.net", type: "MX", value: "10 mail.example.org." },
            { "example.net|MX": [{ priority: 20, exchange: "mail.example.org" }] }, "fail", /published "20 mail.example.org."/],
        ["SPF split in 255-character strings", spf, { "example.net|TXT": [["v=spf1 mx ip4:192", ".0.2.10 -all"]] }, "ok", /v=spf1/],
        ["SPF with another TXT beside it", spf, { "example.net|TXT": [["google-site-verification=x"], [spf.value]] }, "ok", /v=spf1/],
        ["a second SPF record", spf, { "example.net|TXT": [[spf.value], ["v=spf1 -all"]] }, "fail", /two v=spf1 records/],
        ["SPF cut short", spf, { "example.net|TXT": [["v=spf1 mx ip4:192.0.2.10"]] }, "fail",
            /published "v=spf1 mx ip4:192.0.2.10": no all lets any server send as the domain; expected "v=spf1 mx ip4:192.0.2.10 -all"/],
        ["a PTR", { name: "192.0.2.10", type: "PTR", value: "mail.example.org" }, { "10.2.0.192.in-addr.arpa|PTR": ["Mail.Example.org."] }, "ok", /mail/],
        ["a wrong PTR", { name: "192.0.2.10", type: "PTR", value: "mail.example.org" }, { "10.2.0.192.in-addr.arpa|PTR": ["static.10.2.0.192.clients.example"] },
            "fail", /static.10.2.0.192.clients.example/],
        ["a lookup that fails", { name: "example.net", type: "MX", value: "10 mail.example.org." }, { "example.net|MX": "ESERVFAIL" },
            "fail", /lookup failed \(ESERVFAIL\)/],
    ])("%s", async (_, rec, answers, status, detail) => {
        const c = await checkRecord(fakeResolver(answers), rec);
        expect(c.status).toBe(status);
        expect(c.detail).toMatch(detail);
    });
});

describe("doctor: SPF compared as a set of mechanisms", () => {
    const want = "v=spf1 mx ip4:192.0.2.10 include:spf.relay.example -all";
    test.each<[string, string[], string, RegExp]>([
        ["the same text", [want], "ok", /^v=spf1 mx/],
        ["another order, other case", ["v=spf1 Include:spf.relay.example ip4:192.0.2.10 MX -all"], "ok", /include/i],
        ["extra mechanisms (a newsletter service)", ["v=spf1 mx ip4:192.0.2.10 include:spf.relay.example include:news.example -all"],
            "ok", /with include:news.example besides ours/],
        ["beside another TXT record", ["google-site-verification=x", want], "ok", /^v=spf1/],
        ["the relay's include missing", ["v=spf1 mx ip4:192.0.2.10 -all"], "fail", /missing include:spf.relay.example/],
        ["the server's address missing", ["v=spf1 mx include:spf.relay.example -all"], "fail", /missing ip4:192.0.2.10/],
        ["+all", ["v=spf1 mx ip4:192.0.2.10 include:spf.relay.example +all"], "fail", /\+all lets any server send/],
        ["?all", ["v=spf1 mx ip4:192.0.2.10 include:spf.relay.example ?all"], "fail", /\?all lets any server send/],
        ["a bare all", ["v=spf1 mx ip4:192.0.2.10 include:spf.relay.example all"], "fail", /all lets any server send/],
        ["no all", ["v=spf1 mx ip4:192.0.2.10 include:spf.relay.example"], "fail", /no all lets any server send/],
        ["~all", ["v=spf1 mx ip4:192.0.2.10 include:spf.relay.example ~all"], "warn", /~all \(soft fail\)/],
        ["no SPF record", ["google-site-verification=x"], "fail", /no SPF record/],
        ["two SPF records", [want, "v=spf1 -all"], "fail", /two v=spf1 records/],
    ])("%s", (_, published, status, detail) => {
        const c = compareSpf(want, published);
        expect(c.status).toBe(status);
        expect(c.detail).toMatch(detail);
    });
});

describe("doctor: blocklists", () => {
    test("127.0.0.x is a listing; Spamhaus' 127.255.255.x codes are errors, not listings", () => {
        expect(readBlocklistAnswer(["127.0.0.2"])).toEqual({ listed: true });
        expect(readBlocklistAnswer(["127.0.0.4", "127.0.0.10"]).listed).toBe(true);
        expect(readBlocklistAnswer(["127.255.255.254"])).toMatchObject({ listed: false, error: expect.stringMatching(/refused/) });
        expect(readBlocklistAnswer(["127.255.255.255"])).toMatchObject({ listed: false, error: expect.stringMatching(/excessive/) });
    });

    test("the query name: reversed octets or nibbles", () => {
        expect(reversed("192.0.2.10")).toBe("10.2.0.192");
        expect(reversed("2001:db8::1")).toBe("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2");
    });

    test.each<[string, unknown, string]>([
        ["NXDOMAIN = clean", undefined, "ok"],
        ["a listing", ["127.0.0.2"], "fail"],
        ["a refused query", ["127.255.255.254"], "warn"],
        ["a timeout", "ETIMEOUT", "warn"],
    ])("%s", async (_, answer, status) => {
        const r = fakeResolver(answer === undefined ? {} : { "10.2.0.192.bl.example|A": answer });
        expect((await checkBlocklist(r, "192.0.2.10", "bl.example")).status).toBe(status);
    });
});

describe("doctor: certificates and inside checks", () => {
    const cert = (sans: string[], validTo: string): Parameters<typeof certIssues>[0] =>
        ({ subjectaltname: sans.map((s) => `DNS:${s}`).join(", "), valid_to: validTo } as unknown as Parameters<typeof certIssues>[0]);
    const now = new Date("2026-11-27T00:00:00Z");

    test("names missing and days left", () => {
        expect(certIssues(cert(["mail.example.org", "mail.example.net"], "Feb 25 00:00:00 2027 GMT"),
            ["mail.example.org", "mail.example.net"], 14, now)).toMatchObject({ problems: [], days: 90 });
        expect(certIssues(cert(["mail.example.org"], "Dec  1 00:00:00 2026 GMT"), ["mail.example.org", "mail.example.net"], 14, now)
            .problems).toEqual(["does not cover mail.example.net", "expires in 4 days"]);
    });

    test("the script's lines: checks, the fingerprint of the certificate on disk, and the reports' summaries", () => {
        const r = parseInside("ok\tqueue\tempty\nfail\tdisk\tfull (limit 90%): /var/mail 95% space\ninfo\tcert-disk:mailstack\tAB:CD\n" +
            "info\tcert-disk:mailstack-example.net\tEF:01\ninfo\tdmarc-report:example.net\tr.test 2026-12-05: 4 messages, all pass DMARC\n");
        expect(r.diskFingerprints).toEqual({ mailstack: "AB:CD", "mailstack-example.net": "EF:01" });
        expect(r.checks).toEqual([{ check: "queue", status: "ok", detail: "empty" },
            { check: "disk", status: "fail", detail: "full (limit 90%): /var/mail 95% space" },
            { check: "dmarc-report:example.net", status: "info", detail: "r.test 2026-12-05: 4 messages, all pass DMARC" }]);
    });
});
