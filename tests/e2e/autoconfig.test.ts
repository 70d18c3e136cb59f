// Mail programs that set themselves up, and other servers that look for our TLS policy: nginx on the test server, as
// Thunderbird, Outlook, an iPhone and a sending MTA fetch it from the client namespace, every certificate verified
// against Pebble's root (the names resolve through the client namespace's /etc/hosts, as DNS would).

import { execFileSync } from "child_process";
import * as path from "path";
import { lineages } from "../../components/config";
import { POX } from "../render/fixture";
import { mail, output, pebbleRoot, ROOT, testbed, WEBMAIL } from "./testbed";

const t = testbed();
const base = t.baseDomain;
const root = pebbleRoot(path.join(ROOT, ".local", "pebble-root.pem"));
const passwords = output<Record<string, string>>("virtualUserPasswords");
const virtual = Object.keys(passwords).sort()[0]; // bob@example.net
const vdomain = virtual.split("@")[1];
const alice = t.systemUser; // a PAM account that existed before mailstack

interface Fetched { code: number; type: string | null; location: string | null; body: string }

function fetch(method: string, url: string, body = ""): Fetched {
    return mail("fetch", method, url, root, body) as unknown as Fetched;
}


/** Python's XML parser on the client: the document is well-formed, and its servers as (type port socket user). */
function parsed(xml: string, kind: "thunderbird" | "pox"): string[] {
    const script = kind === "thunderbird" ? `
import sys, xml.etree.ElementTree as ET
doc = ET.fromstring(sys.stdin.read())
for s in doc.iter():
    if s.tag in ("incomingServer", "outgoingServer"):
        print(s.get("type"), s.findtext("hostname"), s.findtext("port"), s.findtext("socketType"), s.findtext("username"))
` : `
import sys, xml.etree.ElementTree as ET
ns = "{http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a}"
doc = ET.fromstring(sys.stdin.read())
for p in doc.iter(ns + "Protocol"):
    print(*(p.findtext(ns + k) for k in ("Type", "Server", "Port", "Encryption", "LoginName")))
`;
    return execFileSync("python3", ["-c", script], { input: xml, encoding: "utf8" }).trim().split("\n");
}

const client = output<{ imaps?: unknown; smtps?: unknown }>("clientSettings");
const settings = { imaps: client.imaps !== undefined, smtps: client.smtps !== undefined };
const host = t.hostname;
/** What every answer must say: the preferred server first (implicit TLS when on), then STARTTLS. */
function expected(login: string): string[] {
    return [
        ...(settings.imaps ? [`imap ${host} 993 SSL ${login}`] : []),
        `imap ${host} 143 STARTTLS ${login}`,
        ...(settings.smtps ? [`smtp ${host} 465 SSL ${login}`] : []),
        `smtp ${host} 587 STARTTLS ${login}`,
    ];
}

describe("Thunderbird autoconfig", () => {
    test.each([["without a query", ""], ["with ?emailaddress=", "?emailaddress="]])(
        "alice and bob, %s: right hosts, ports, socket types, user names", (_label, query) => {
            const a = fetch("GET", `https://autoconfig.${base}/mail/config-v1.1.xml${query ? `${query}${alice.address}` : ""}`);
            expect(a).toMatchObject({ code: 200, type: "application/xml" });
            expect(parsed(a.body, "thunderbird")).toEqual(expected("%EMAILLOCALPART%"));
            const b = fetch("GET", `https://autoconfig.${vdomain}/mail/config-v1.1.xml${query ? `${query}${encodeURIComponent(virtual)}` : ""}`);
            expect(b).toMatchObject({ code: 200, type: "application/xml" });
            expect(parsed(b.body, "thunderbird")).toEqual(expected("%EMAILADDRESS%"));
            expect(b.body).toContain(`<domain>${vdomain}</domain>`);
        });

    test("what Thunderbird makes of it: the bare name for alice, the address for bob, and both log in", () => {
        const a = fetch("GET", `https://autoconfig.${base}/mail/config-v1.1.xml`);
        const user = /<username>([^<]+)<\/username>/.exec(a.body)?.[1].replace("%EMAILLOCALPART%", alice.name);
        expect(user).toBe(alice.name);
        expect(mail("login", host, user ?? "", alice.password)).toMatchObject({ ok: true });
        const b = fetch("GET", `https://autoconfig.${vdomain}/mail/config-v1.1.xml`);
        const bob = /<username>([^<]+)<\/username>/.exec(b.body)?.[1].replace("%EMAILADDRESS%", virtual);
        expect(bob).toBe(virtual);
        expect(mail("login", host, bob ?? "", passwords[virtual])).toMatchObject({ ok: true });
    });
});

describe("Outlook autodiscover (POX)", () => {
    test("a POST for alice and for bob: IMAP and SMTP entries with the same settings and the user's login name", () => {
        // Outlook takes one entry per type, the preferred one; Encryption TLS is STARTTLS
        const pox = (login: string): string[] => ["imap", "smtp"].map((type) => {
            const [, server, port, socket] = (expected(login).find((r) => r.startsWith(type)) ?? "").split(" ");
            return `${type.toUpperCase()} ${server} ${port} ${socket === "SSL" ? "SSL" : "TLS"} ${login}`;
        });
        for (const [address, login] of [[alice.address, alice.name], [virtual, virtual]]) {
            const domain = address.split("@")[1];
            const r = fetch("POST", `https://autodiscover.${domain}/autodiscover/autodiscover.xml`, POX(address));
            expect(r).toMatchObject({ code: 200, type: "application/xml" });
            const want = pox(login);
            expect(parsed(r.body, "pox")).toEqual(want);
        }
        // Outlook's capitalised path too; an address of no domain of ours gets nothing
        expect(fetch("POST", `https://autodiscover.${vdomain}/Autodiscover/Autodiscover.xml`, POX(virtual)).code).toBe(200);
        expect(fetch("POST", `https://autodiscover.${vdomain}/autodiscover/autodiscover.xml`, POX("x@elsewhere.example")).code)
            .toBe(404);
    });
});

describe("Apple profile", () => {
    test("a .mobileconfig per address parses with plistlib and carries that address and login name", () => {
        for (const [address, login] of [[alice.address, alice.name], [virtual, virtual]]) {
            const domain = address.split("@")[1];
            const r = fetch("GET", `https://autoconfig.${domain}/mail/mailstack.mobileconfig?emailaddress=${encodeURIComponent(address)}`);
            expect(r).toMatchObject({ code: 200, type: "application/x-apple-aspen-config" });
            const p = JSON.parse(execFileSync("python3", ["-c", `
import json, plistlib, sys
p = plistlib.loads(sys.stdin.buffer.read())
m = p["PayloadContent"][0]
print(json.dumps({k: m[k] for k in ("EmailAddress", "IncomingMailServerHostName", "IncomingMailServerPortNumber",
    "IncomingMailServerUsername", "OutgoingMailServerPortNumber", "OutgoingMailServerUsername", "PayloadType")}))
`], { input: r.body, encoding: "utf8" })) as Record<string, unknown>;
            expect(p).toEqual({
                EmailAddress: address, IncomingMailServerHostName: host,
                IncomingMailServerPortNumber: settings.imaps ? 993 : 143, IncomingMailServerUsername: login,
                OutgoingMailServerPortNumber: settings.smtps ? 465 : 587, OutgoingMailServerUsername: login,
                PayloadType: "com.apple.mail.managed",
            });
        }
    });
});

describe("MTA-STS", () => {
    test("the policy of every domain lists the MX host, in the mode the TXT record's id stands for", () => {
        const records = output<{ name: string; type: string; value: string }[]>("dnsRecords");
        for (const d of [base, vdomain]) {
            const r = fetch("GET", `https://mta-sts.${d}/.well-known/mta-sts.txt`);
            expect(r).toMatchObject({ code: 200, type: "text/plain" });
            const lines = r.body.split(/\r?\n/).filter((l) => l !== "");
            expect(lines).toEqual(["version: STSv1", "mode: enforce", `mx: ${host}`, expect.stringMatching(/^max_age: \d+$/)]);
            const mx = records.find((x) => x.name === d && x.type === "MX")?.value;
            expect(mx).toBe(`10 ${host}.`);
            expect(records.filter((x) => x.name === `_mta-sts.${d}`).map((x) => x.value))
                .toEqual([expect.stringMatching(/^v=STSv1; id=[A-Za-z0-9]+$/)]);
        }
    });
});

describe("the web server", () => {
    test("each domain's web names get that domain's certificate on 443 (autoconfig, autodiscover, mta-sts)", () => {
        for (const d of [base, vdomain]) {
            const names = [...lineages(t.hostname, [d], WEBMAIL)[1].names].sort();
            for (const p of ["autoconfig", "autodiscover", "mta-sts"]) {
                const c = mail("cert", `${p}.${d}`, "443", "https", root); // verified against Pebble's root
                expect(c.issuer).toMatch(/^Pebble Intermediate CA/);
                expect([...(c.names ?? [])].sort()).toEqual(names);
            }
        }
    });

    test("port 80 redirects to https; 443 serves nothing but the endpoints", () => {
        expect(fetch("GET", `http://autoconfig.${base}/mail/config-v1.1.xml`))
            .toMatchObject({ code: 301, location: `https://autoconfig.${base}/mail/config-v1.1.xml` });
        expect(fetch("GET", `https://autoconfig.${base}/`).code).toBe(404);
        expect(fetch("GET", `https://mta-sts.${base}/index.html`).code).toBe(404);
    });
});
