// The web endpoints: the suite's own nginx checks both rendered configurations (nginx -t) and serves the documents in
// private namespaces, where Python asks for them as Thunderbird, Outlook and an iPhone would.

import { CIPHERS } from "../../components/render/postfix";
import { mtaStsPolicy, nginxConf, PLACEHOLDER, WebInput, webFiles } from "../../components/render/web";
import { config, POX } from "./fixture";
import { ROOTFS_TIMEOUT_MS, Sandbox, selfSignedCert, shq, SUITE } from "./debian";

type Tls = { certFile: string; keyFile: string; domainCerts: WebInput["domainCerts"] };

function input(tls: Tls, imaps = false, smtps = false, webmail = false): WebInput {
    const c = config({ imaps, smtps });
    return {
        hostname: c.hostname, baseDomain: c.baseDomain, virtualDomains: c.virtualDomains, imaps, smtps,
        mtaSts: c.mtaSts, webmail, ...tls,
    };
}

// Requests from inside the namespace: (name, method, path, body) -> status, content type, body.
const CLIENT = String.raw`
import http.client, json, ssl, sys
ctx = ssl._create_unverified_context()  # the self-signed test certificate; the end-to-end tests verify Pebble's
res = []
for host, method, path, body in json.loads(sys.argv[1]):
    c = http.client.HTTPSConnection("127.0.0.1", 443, context=ctx, timeout=10) if method != "HTTP" else \
        http.client.HTTPConnection("127.0.0.1", 80, timeout=10)
    c.request("GET" if method == "HTTP" else method, path, body=body, headers={"Host": host})
    r = c.getresponse()
    res.append({"status": r.status, "type": r.getheader("Content-Type"), "location": r.getheader("Location"),
                "body": r.read().decode()})
print(json.dumps(res))
`;


interface Answer { status: number; type: string | null; location: string | null; body: string }

describe(`nginx on ${SUITE}`, () => {
    let sb: Sandbox;
    let tls: Tls;
    beforeAll(() => {
        sb = Sandbox.open();
        // the hostname's certificate by default, each domain's in its server block
        tls = { ...selfSignedCert(sb, "mail.example.org"), domainCerts: Object.fromEntries(["example.org", "example.net", "example.com"]
            .map((d) => [d, selfSignedCert(sb, `autoconfig.${d}`)])) };
    }, ROOTFS_TIMEOUT_MS);
    afterAll(() => sb?.close());

    test.each([false, true])("nginx -t accepts the configuration (tls %s)", (withTls) => {
        const conf = sb.write(`nginx-${withTls}.conf`, nginxConf(input(tls), withTls));
        const r = sb.isolated(`hide run; hide var/log/nginx; hide var/lib/nginx
            step t in_root nginx -t -c ${conf}`);
        expect(r.stderr).toBe("");
        const t = sb.step("t");
        expect(t.stderr).toMatch(/test is successful/);
        expect(t.status).toBe(0);
    });

    describe("serving", () => {
        let answers: Answer[];
        const requests: [string, string, string, string | null][] = [
            ["autoconfig.example.org", "GET", "/mail/config-v1.1.xml", null],
            ["autoconfig.example.net", "GET", "/mail/config-v1.1.xml?emailaddress=bob%40example.net", null],
            ["autodiscover.example.org", "POST", "/autodiscover/autodiscover.xml", POX("alice@example.org")],
            ["autodiscover.example.net", "POST", "/Autodiscover/Autodiscover.xml", POX("bob@example.net")],
            ["autodiscover.example.net", "POST", "/autodiscover/autodiscover.xml", POX("mallory@evil.example")],
            ["autoconfig.example.com", "GET", "/mail/mailstack.mobileconfig?emailaddress=dave%40example.com", null],
            ["autoconfig.example.org", "GET", "/mail/mailstack.mobileconfig?emailaddress=alice@example.org", null],
            ["mta-sts.example.net", "GET", "/.well-known/mta-sts.txt", null],
            ["autoconfig.example.org", "GET", "/etc/passwd", null],
            ["mta-sts.example.net", "HTTP", "/.well-known/mta-sts.txt", null],
            ["anything.example", "HTTP", "/.well-known/acme-challenge/token1", null],
        ];
        beforeAll(() => {
            const w = input(tls, true, false);
            const roots = { webRoot: sb.path("www"), acmeRoot: sb.path("acme"), socket: sb.path("inner.sock") };
            for (const f of webFiles(w)) {
                sb.write(`www/${f.path.replace(/^\/var\/lib\/mailstack\/www\//, "")}`, f.content);
            }
            sb.write("acme/.well-known/acme-challenge/token1", "token1.key");
            const conf = sb.write("nginx.conf", nginxConf(w, true, roots));
            sb.write("client.py", CLIENT);
            const r = sb.isolated(`hide run; hide var/log/nginx; hide var/lib/nginx
                step start in_root nginx -c ${conf}
                wait_for ${sb.path("inner.sock").slice(1)} 10
                step get in_root python3 ${sb.path("client.py")} ${shq(JSON.stringify(requests))}
                for suite in ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256; do
                    step "cipher $suite" in_root sh -c "openssl s_client -connect 127.0.0.1:443 -servername autoconfig.example.org -tls1_2 -cipher '$suite:@SECLEVEL=0' </dev/null"
                done
                for name in autoconfig.example.org mta-sts.example.net autodiscover.example.com mail.example.org other.example; do
                    step "name $name" in_root sh -c "openssl s_client -connect 127.0.0.1:443 -servername $name </dev/null 2>/dev/null | openssl x509 -noout -subject"
                done
                cat "$ROOT/var/log/nginx/error.log" >&2 || true`);
            expect(sb.step("start")).toMatchObject({ status: 0 });
            const got = sb.step("get");
            if (got.status !== 0) {
                throw new Error(`client: ${got.stderr} ${r.stderr}`);
            }
            answers = JSON.parse(got.stdout) as Answer[];
        }, 60_000);

        test("Thunderbird's file: the bare name in the base domain, the address in the others; ?emailaddress= ignored", () => {
            expect(answers[0]).toMatchObject({ status: 200, type: "application/xml" });
            expect(answers[0].body).toContain("<username>%EMAILLOCALPART%</username>");
            expect(answers[0].body).not.toContain("%EMAILADDRESS%");
            expect(answers[1]).toMatchObject({ status: 200 });
            expect(answers[1].body).toContain("<domain>example.net</domain>");
            expect(answers[1].body).toContain("<username>%EMAILADDRESS%</username>");
            // imaps on, smtps off
            expect([...answers[1].body.matchAll(/<port>(\d+)<\/port>\s*<socketType>(\w+)</g)].map((m) => `${m[1]} ${m[2]}`))
                .toEqual(["993 SSL", "143 STARTTLS", "587 STARTTLS"]);
        });

        test("autodiscover: the login name from the posted address; an outside address gets nothing", () => {
            expect(answers[2]).toMatchObject({ status: 200, type: "application/xml" });
            expect([...answers[2].body.matchAll(/<LoginName>([^<]*)</g)].map((m) => m[1])).toEqual(["alice", "alice"]);
            expect([...answers[3].body.matchAll(/<LoginName>([^<]*)</g)].map((m) => m[1]))
                .toEqual(["bob@example.net", "bob@example.net"]);
            expect(answers[3].body).toMatch(/<Type>IMAP<\/Type>\s*<Server>mail\.example\.org<\/Server>\s*<Port>993<\/Port>/);
            expect(answers[3].body).toMatch(/<Type>SMTP<\/Type>\s*<Server>mail\.example\.org<\/Server>\s*<Port>587<\/Port>/);
            expect(answers[4].status).toBe(404);
        });

        test("the Apple profile carries the address and login name of the query", () => {
            expect(answers[5]).toMatchObject({ status: 200, type: "application/x-apple-aspen-config" });
            expect(answers[5].body).not.toContain(PLACEHOLDER.login);
            expect(answers[5].body).toMatch(/<key>IncomingMailServerUsername<\/key>\s*<string>dave@example\.com<\/string>/);
            expect(answers[5].body).toMatch(/<key>EmailAddress<\/key>\s*<string>dave@example\.com<\/string>/);
            expect(answers[6].body).toMatch(/<key>IncomingMailServerUsername<\/key>\s*<string>alice<\/string>/);
        });

        test("443 offers the mail ports' TLS 1.2 suites: a CBC-SHA1 suite is refused, a GCM one taken", () => {
            expect(nginxConf(input(tls), true)).toContain(`ssl_ciphers ${CIPHERS};`);
            expect(sb.step("cipher ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA").status).not.toBe(0);
            const gcm = sb.step("cipher ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256");
            expect(gcm.status).toBe(0);
            expect(gcm.stdout).toMatch(/Cipher is ECDHE-(ECDSA|RSA)-AES128-GCM-SHA256/);
        });

        test.each([["autoconfig.example.org", "autoconfig.example.org"], ["mta-sts.example.net", "autoconfig.example.net"],
            ["autodiscover.example.com", "autoconfig.example.com"], ["mail.example.org", "mail.example.org"],
            ["other.example", "mail.example.org"]])("443 asked for %s serves the certificate of %s", (name, cn) => {
            expect(sb.step(`name ${name}`).stdout).toMatch(new RegExp(`CN ?= ?${cn.replace(/\./g, "\\.")}$`, "m"));
        });

        test("MTA-STS, nothing else on 443; port 80 redirects and serves ACME tokens", () => {
            expect(answers[7]).toMatchObject({ status: 200, type: "text/plain", body: mtaStsPolicy(input(tls, true)) });
            expect(answers[8].status).toBe(404);
            expect(answers[9]).toMatchObject({ status: 301, location: "https://mta-sts.example.net/.well-known/mta-sts.txt" });
            expect(answers[10]).toMatchObject({ status: 200, body: "token1.key" });
        });
    });
});
