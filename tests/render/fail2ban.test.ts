// The fail2ban jail and filter, read by the suite's own fail2ban: the filter finds the failed logins in the log
// lines postfix and dovecot write (dovecot 2.3's and 2.4's wording), and nothing in successful logins.

import { filter, jail } from "../../components/render/fail2ban";
import { ROOTFS_TIMEOUT_MS, Sandbox, SUITE } from "./debian";

const FAILED = [
    "Nov 27 09:28:55 mail postfix/submission/smtpd[1234]: warning: unknown[192.0.2.21]: SASL PLAIN authentication failed: ",
    "Nov 27 09:28:56 mail postfix/submissions/smtpd[1235]: warning: client.example[192.0.2.22]: SASL LOGIN authentication failed: UGFzc3dvcmQ6",
    // dovecot 2.3
    "Nov 27 09:28:57 imap-login: Info: Disconnected (auth failed, 1 attempts in 2 secs): user=<bob@example.net>, " +
        "method=PLAIN, rip=192.0.2.23, lip=192.0.2.10, TLS, session=<abc>",
    // dovecot 2.4
    "Nov 27 09:28:58 imap-login: Info: Login aborted: Logged out (auth failed, 1 attempts in 2 secs) (auth_failed): " +
        "user=<root>, method=PLAIN, rip=192.0.2.24, lip=192.0.2.10, TLS, session=<def>",
    // managesieve (4190), as dovecot 2.3 logs it
    "Nov 27 12:34:31 managesieve-login: Info: Disconnected: Connection closed (auth failed, 1 attempts in 2 secs): " +
        "user=<bob@example.net>, method=PLAIN, rip=192.0.2.25, lip=192.0.2.10, TLS: Connection closed, session=<ggw>",
    // webmail: Roundcube's log of logins (log_logins)
    "[27-Nov-2026 12:34:32 +0000]: <0kqv9tq1> Failed login for bob@example.net from 192.0.2.26 in session 0kqv9tq1ic7g1pk2 (error: 0)",
];
const FINE = [
    "Nov 27 09:29:00 mail postfix/submission/smtpd[1236]: 4AbC: client=unknown[192.0.2.1], sasl_method=PLAIN, sasl_username=bob@example.net",
    "Nov 27 09:29:01 imap-login: Info: Login: user=<bob@example.net>, method=PLAIN, rip=192.0.2.1, lip=192.0.2.10, mpid=9, TLS",
    "Nov 27 09:29:02 mail postfix/smtpd[1237]: warning: unknown[192.0.2.1]: SASL PLAIN authentication failed: ",
    "[27-Nov-2026 12:34:40 +0000]: <0kqv9tq1> Successful login for bob@example.net (ID: 1) from 192.0.2.1 in session 0kqv9tq1ic7g1pk2",
];

describe(`fail2ban on ${SUITE}`, () => {
    let sb: Sandbox;
    beforeAll(() => {
        sb = Sandbox.open();
    }, ROOTFS_TIMEOUT_MS);
    afterAll(() => sb?.close());

    test("the filter finds each failed login and its address, and nothing else", () => {
        const conf = sb.write("filter.d/mailstack.conf", filter());
        const hosts = (lines: string[]): string[] => {
            const log = sb.write("mail.log", lines.join("\n") + "\n");
            const r = sb.run(["fail2ban-regex", "--print-all-matched", "--raw", log, conf]);
            expect(r.status).toBe(0);
            return [...r.stdout.matchAll(/rip=(192\.0\.2\.\d+)|\[(192\.0\.2\.\d+)\]|from (192\.0\.2\.\d+) in session/g)].map((m) => m[1] ?? m[2] ?? m[3]);
        };
        const counted = (lines: string[]): number => {
            const log = sb.write("mail.log", lines.join("\n") + "\n");
            const r = sb.run(["fail2ban-regex", log, conf]);
            const m = /^Lines: \d+ lines, \d+ ignored, (\d+) matched/m.exec(r.stdout);
            return Number(m?.[1] ?? -1);
        };
        expect(counted(FAILED)).toBe(FAILED.length);
        expect(hosts(FAILED).filter((h, i, all) => all.indexOf(h) === i).sort())
            .toEqual(["192.0.2.21", "192.0.2.22", "192.0.2.23", "192.0.2.24", "192.0.2.25", "192.0.2.26"]);
        // port 25 has no SASL here; a successful login is no failure
        expect(counted(FINE)).toBe(0);
    });

    test("the jail: the authenticated ports and the configured numbers (fail2ban loads it in the end-to-end tests)", () => {
        const text = jail({ maxRetry: 4, findTime: 300, banTime: 120, ignore: ["203.0.113.0/24"], imaps: true, smtps: false, webmail: false });
        expect(text).toMatch(/^maxretry = 4$/m);
        expect(text).toMatch(/^findtime = 300$/m);
        expect(text).toMatch(/^bantime = 120$/m);
        expect(text).toMatch(/^ignoreip = 127\.0\.0\.1\/8 ::1 203\.0\.113\.0\/24$/m);
        // 443: webmail's login form (with mailstack:webmail, whose log the jail reads too)
        expect(text).toContain('port="143,443,587,993,4190"');
        expect(text).not.toContain("roundcube");
        expect(jail({ maxRetry: 4, findTime: 300, banTime: 120, ignore: [], imaps: false, smtps: false, webmail: true }))
            .toMatch(/^logpath = \/var\/log\/mail\.log\n {10}\/var\/log\/dovecot\.log\n {10}\/var\/log\/roundcube\/userlogins\.log$/m);
        expect(text).toMatch(/^action = nftables\[type=multiport, /m);
    });
});
