// Webmail: the suite's own PHP, visudo and php-fpm check the rendered files, and the suite's nginx and php-fpm
// serve the suite's Roundcube with them in private namespaces: its login page under /mail/ of the hostname and at
// webmail.DOMAIN, its static files, the security headers, and nothing of its configuration or sources.

import { nginxConf, WebInput } from "../../components/render/web";
import { PASSWORD_DRIVER, ROUNDCUBE_SHARE, WEBMAIL_DB, WEBMAIL_HEADERS, WEBMAIL_POOL, WEBMAIL_SECRET, WEBMAIL_SOCKET,
    WEBMAIL_SUDOERS, webmailFiles } from "../../components/render/webmail";
import { config } from "./fixture";
import { ROOTFS_TIMEOUT_MS, Sandbox, selfSignedCert, shq, SUITE } from "./debian";

const CLIENT = String.raw`
import http.client, json, ssl, sys
ctx = ssl._create_unverified_context()  # the self-signed test certificate; the end-to-end tests verify Pebble's
res = []
for host, path in json.loads(sys.argv[1]):
    c = http.client.HTTPSConnection("127.0.0.1", 443, context=ctx, timeout=30)
    c.request("GET", path, headers={"Host": host})
    r = c.getresponse()
    res.append({"status": r.status, "headers": {k.lower(): v for k, v in r.getheaders()}, "body": r.read().decode(errors="replace")})
print(json.dumps(res))
`;

interface Answer { status: number; headers: Record<string, string>; body: string }

describe(`webmail on ${SUITE}`, () => {
    let sb: Sandbox;
    let input: WebInput;
    const c = config();
    const w = { hostname: c.hostname, baseDomain: c.baseDomain };
    const files = webmailFiles(w);
    const at = (p: string): string => `files/${p.replace(/\//g, "_")}`;
    let answers: Answer[];
    const requests: [string, string][] = [
        ["mail.example.org", "/mail/"],
        ["webmail.example.net", "/"],
        ["mail.example.org", "/mail"],
        ["mail.example.org", "/mail/skins/elastic/styles/styles.min.css"],
        ["mail.example.org", "/mail/config/config.inc.php"],
        ["mail.example.org", "/mail/plugins/password/config.inc.php"],
        ["webmail.example.net", "/plugins/password/drivers/mailstack.php"],
        ["webmail.example.net", "/SQL/sqlite.initial.sql"],
        ["webmail.example.net", "/program/include/rcmail.php"],
        ["mail.example.org", "/"],
        ["autoconfig.example.org", "/mail/"],
    ];

    beforeAll(() => {
        sb = Sandbox.open();
        const tls = selfSignedCert(sb, "mail.example.org");
        input = {
            hostname: c.hostname, baseDomain: c.baseDomain, virtualDomains: c.virtualDomains, imaps: false, smtps: false,
            mtaSts: c.mtaSts, webmail: true, ...tls,
            domainCerts: Object.fromEntries(["example.org", "example.net", "example.com"].map((d) => [d, selfSignedCert(sb, `webmail.${d}`)])),
        };
        for (const f of files) {
            sb.write(at(f.path), f.content);
        }
        sb.write("secret.inc.php", "<?php\n$config['des_key'] = 'abcdefghijklmnopqrstuvwx';\n");
        sb.write("fpm.conf", `[global]\npid = /run/fpm.pid\nerror_log = /run/fpm.log\ninclude = ${WEBMAIL_POOL}\n`);
        const conf = sb.write("nginx.conf", nginxConf(input, true));
        sb.write("client.py", CLIENT);
        // Roundcube's files where the server has them, over the suite's own, for this namespace only.
        const binds = files.filter((f) => f.path.startsWith("/etc/roundcube/"))
            .map((f) => `mount --bind "$W/${at(f.path)}" "$ROOT${f.path}"`).join("\n");
        const r = sb.isolated(`hide run; hide var/log/nginx; hide var/lib/nginx
            # the stack's own directories: empty mount points in the tools root, a tmpfs over each here
            mkdir -p "$ROOT/var/lib/mailstack" "$ROOT/etc/mailstack"
            hide var/lib/mailstack; hide etc/mailstack; hide var/log/roundcube
            www=$(in_root id -u www-data):$(in_root id -g www-data)
            ${binds}
            mkdir -p "$ROOT/etc/mailstack/webmail" "$ROOT/var/lib/mailstack/webmail"
            cp "$W/${at(WEBMAIL_POOL)}" "$ROOT${WEBMAIL_POOL}"
            install -m 0640 -o 0 -g "\${www#*:}" "$W/secret.inc.php" "$ROOT${WEBMAIL_SECRET}"
            chown "$www" "$ROOT/var/lib/mailstack/webmail" "$ROOT/var/log/roundcube"
            hide ${PASSWORD_DRIVER.slice(1, PASSWORD_DRIVER.lastIndexOf("/"))}
            cp "$W/${at(PASSWORD_DRIVER)}" "$ROOT${PASSWORD_DRIVER}"
            for f in ${files.filter((f) => f.path.endsWith(".php")).map((f) => f.path).join(" ")}; do
                step "php-l$(echo "$f" | tr / _)" in_root php -l "$f"
            done
            step visudo in_root visudo -c -f "$I/${at(WEBMAIL_SUDOERS)}"
            step db in_root runuser -u www-data -- sh -c 'sqlite3 ${WEBMAIL_DB} < ${ROUNDCUBE_SHARE}/SQL/sqlite.initial.sql'
            fpm=$(cd "$ROOT/usr/sbin" && ls php-fpm* | head -n 1)
            step fpm-t in_root "$fpm" -t -y "$I/fpm.conf"
            step fpm in_root "$fpm" -y "$I/fpm.conf"
            wait_for ${WEBMAIL_SOCKET.slice(1)} 20
            step nginx in_root nginx -c ${conf}
            step get in_root python3 ${sb.path("client.py")} ${shq(JSON.stringify(requests))}
            cat "$ROOT/var/log/nginx/error.log" "$ROOT/run/fpm.log" >&2 || true`, 120_000);
        if (r.status !== 0) {
            throw new Error(`sandbox: ${r.stderr}`);
        }
        const got = sb.step("get");
        if (got.status !== 0) {
            throw new Error(`client: ${got.stderr} ${r.stderr}`);
        }
        answers = JSON.parse(got.stdout) as Answer[];
    }, ROOTFS_TIMEOUT_MS);
    afterAll(() => sb?.close());

    test("PHP, visudo and php-fpm accept every file", () => {
        for (const f of files.filter((x) => x.path.endsWith(".php"))) {
            expect(sb.step(`php-l${f.path.replace(/\//g, "_")}`)).toMatchObject({ status: 0, stdout: expect.stringMatching(/No syntax errors/) });
        }
        expect(sb.step("visudo").status).toBe(0);
        expect(sb.step("db").status).toBe(0);
        const t = sb.step("fpm-t");
        expect(`${t.stdout}${t.stderr}`).toMatch(/test is successful/);
        expect(t.status).toBe(0);
        expect(sb.step("nginx").status).toBe(0);
    });

    test("Roundcube's login page under /mail/ of the hostname and at webmail.DOMAIN, with the security headers", () => {
        for (const a of answers.slice(0, 2)) {
            expect(a.status).toBe(200);
            expect(a.body).toMatch(/id="rcmloginuser"/);
            expect(a.body).toContain(`Mail at ${c.hostname}`);
            for (const [h, v] of WEBMAIL_HEADERS) {
                expect(a.headers[h.toLowerCase()]).toBe(v);
            }
            // the session cookie: https only, never sent along from another site
            expect(a.headers["set-cookie"]).toMatch(/secure/i);
            expect(a.headers["set-cookie"]).toMatch(/samesite=strict/i);
        }
        expect(answers[2]).toMatchObject({ status: 301, headers: { location: expect.stringMatching(/\/mail\/$/) } });
        expect(answers[3].status).toBe(200);
        expect(answers[3].headers["content-type"]).toMatch(/text\/css/);
    });

    test("nothing else of Roundcube's tree: configs, the password driver, SQL, PHP sources", () => {
        for (const a of answers.slice(4, 9)) {
            expect(a.status).toBe(404);
            expect(a.body).not.toMatch(/\$config|<\?php|CREATE TABLE/);
        }
        // the hostname's other paths, and /mail/ of the autoconfig names: not webmail
        expect(answers[9].status).toBe(404);
        expect(answers[10].status).toBe(404);
    });
});
