// Nobody sends as someone else (issue 24): on submission the From: header must be an address the login may use
// as envelope sender (rspamd's From rule over postfix's own table), refused with 554 5.7.1 naming it; what is
// accepted leaves DKIM-signed (checked by dkimpy with the keys from `dnsRecords`). On the server, sendmail lets an
// account use only its own address as envelope sender and as From: (a forged From: bounces to the account, naming
// it); root's mail and bounces are signed; rspamd's controller takes only its password; 443 offers no CBC-SHA1
// suite. No `up` of its own.

import { dkimTable, logins, mail, onServer, onServerStatus, resources, testbed } from "./testbed";

jest.setTimeout(300_000);

const t = testbed();
const host = t.serverAddress;
const who = logins(t);
const bob = { login: "bob@example.net", password: who.pw("bob@example.net") };
const alice = { login: who.alice.name, password: who.alice.password };
const frank = { login: "frank", password: who.pw("frank") };
const run = `${Date.now()}`;
const table = dkimTable();

interface Signature { d: string; s: string; a: string; verified: boolean }
interface Sent { ok: boolean; code?: number; error?: string; stage?: string }

function submit(login: { login: string; password: string }, envelope: string, headerFrom: string, subject: string,
    to = "bob@example.net"): Sent {
    return mail("message", host, "587", envelope, to, subject, headerFrom, "sender test", login.login, login.password);
}

/** The DKIM signatures of SUBJECT in the reader's INBOX, once it is there. */
function signatures(reader: { login: string; password: string }, subject: string): Signature[] {
    expect(mail("wait", host, reader.login, reader.password, subject, "60")).toMatchObject({ ok: true });
    return (mail("dkim", host, reader.login, reader.password, subject, JSON.stringify(table)) as unknown as
        { signatures: Signature[] }).signatures;
}

describe("submission: the From: header belongs to the login", () => {
    test.each([
        ["bob as carol", bob, "bob@example.net", "carol@example.net"],
        ["bob as alice", bob, "bob@example.net", "alice@example.org"],
        ["alice (bare login) as frank", alice, "alice@example.org", "frank@example.org"],
        ["bob with a second From: address of someone else's", bob, "bob@example.net", "bob@example.net, carol@example.net"],
    ])("%s: refused with 554 5.7.1 naming the address", (_, login, envelope, headerFrom) => {
        const r = submit(login, envelope, headerFrom, `forged ${run}`);
        const named = headerFrom.split(", ").pop() ?? "";
        expect(r).toMatchObject({ ok: false, stage: "data", code: 554 });
        expect(r.error).toMatch(/5\.7\.1/);
        expect(r.error).toContain(named);
    });

    test.each([
        ["bob as himself", bob, "bob@example.net", "bob@example.net", "example.net"],
        ["bob as info@ (his alias, which the envelope rule allows too)", bob, "info@example.net", "info@example.net", "example.net"],
        ["alice (bare login) as herself", alice, "alice@example.org", "Alice <alice@example.org>", "example.org"],
    ])("%s: accepted, and the copy that arrives is signed", (_, login, envelope, headerFrom, domain) => {
        const subject = `own ${domain} ${envelope} ${run}`;
        expect(submit(login, envelope, headerFrom, subject)).toMatchObject({ ok: true });
        expect(signatures(bob, subject)).toEqual([{ d: domain, s: "mailstack", a: "rsa-sha256", verified: true }]);
    });

    test("nothing refused was delivered", () => {
        expect(mail("search", host, bob.login, bob.password, `forged ${run}`)).toMatchObject({ subjects: [] });
    });
});

describe("on the server", () => {
    const sendmail = (user: string, sender: string, subject: string, to: string, headerFrom = sender): { rc: number; out: string } =>
        onServerStatus(`printf 'From: ${headerFrom}\\nTo: ${to}\\nSubject: ${subject}\\n\\nsender test\\n' | ` +
            `runuser -u ${user} -- /usr/sbin/sendmail -f ${sender} ${to}`);

    test("frank's sendmail as bob@example.net is refused; as himself it is taken", () => {
        const forged = sendmail("frank", "bob@example.net", `local forged ${run}`, "bob@example.net");
        expect(forged.rc).not.toBe(0);
        expect(forged.out).toMatch(/not authorized/);
        expect(forged.out).toContain("bob@example.net");
        expect(sendmail("frank", "frank@example.org", `local own ${run}`, "bob@example.net").rc).toBe(0);
    });

    test("frank's sendmail with his own envelope but From: someone else's bounces to him, naming the address", () => {
        const subject = `local forged-from ${run}`;
        expect(sendmail("frank", "frank@example.org", subject, "bob@example.net", "boss@example.org").rc).toBe(0);
        // the bounce (postfix's own, to the envelope sender) quotes the message and rspamd's reason
        const reason = "From: <boss@example.org> is not an address frank may send as";
        expect(onServerStatus(`for i in $(seq 60); do grep -rlF -- '${subject}' /home/frank/Maildir/new /home/frank/Maildir/cur ` +
            `2>/dev/null | xargs -r grep -lF -- '${reason}' | grep -q . && exit 0; sleep 1; done; exit 1`).rc).toBe(0);
        expect(mail("search", host, bob.login, bob.password, subject)).toMatchObject({ subjects: [] });
    });

    // Port 25 on the loopback is port 25: postfix refuses an envelope of our domains there, and the header From: is
    // rspamd's: it checks no SPF or DMARC for local addresses, so the forged-domain rule itself must not let
    // 127.0.0.1 through. certbot brings python3 to every server.
    test("frank talking SMTP to 127.0.0.1:25 with From: bob@example.net is refused, and nothing is delivered", () => {
        const subject = `loopback forged ${run}`;
        const r = onServerStatus(`runuser -u frank -- python3 -c '
import smtplib, sys
msg = "From: bob@example.net\\r\\nTo: carol@example.net\\r\\nSubject: ${subject}\\r\\n\\r\\nloopback test\\r\\n"
try:
    smtplib.SMTP("127.0.0.1", 25, timeout=60).sendmail("frank@client.example", ["carol@example.net"], msg)
    print("accepted")
except smtplib.SMTPResponseException as e:
    print("refused", e.smtp_code, e.smtp_error.decode())
'`);
        expect(r.out).toMatch(/^refused 5\d\d .*example\.net is a domain of this server/);
        expect(mail("search", host, "carol@example.net", who.pw("carol@example.net"), subject)).toMatchObject({ subjects: [] });
    });

    test("frank's sendmail as himself, and root's (From: root@ the base domain, as postfix adds it), arrive signed", () => {
        const own = `local own-from ${run}`;
        expect(sendmail("frank", "frank@example.org", own, "bob@example.net").rc).toBe(0);
        const root = `local root ${run}`;
        onServer(`printf 'Subject: ${root}\\n\\nsender test\\n' | /usr/sbin/sendmail bob@example.net`);
        for (const subject of [own, root]) {
            expect({ subject, signatures: signatures(bob, subject) })
                .toEqual({ subject, signatures: [{ d: "example.org", s: "mailstack", a: "rsa-sha256", verified: true }] });
        }
    });

    test("frank's sieve vacation reply leaves with his own address as sender, and signed", () => {
        // the null sender is anyone's with sendmail and never signed, so vacation replies use the recipient's address
        const subject = `away-test ${run}`;
        expect(mail("sievescript", host, frank.login, frank.password, "mailstack-away",
            `require "vacation";\r\nif header :contains "Subject" "${subject}" {\r\n  vacation :days 1 ` +
            `:addresses ["frank@example.org"] "away ${run}";\r\n}\r\n`)).toMatchObject({ ok: true });
        try {
            expect(submit(bob, "bob@example.net", "bob@example.net", subject, "frank@example.org")).toMatchObject({ ok: true });
            // pigeonhole's reply: "Auto: " and the subject
            const reply = mail("wait", host, bob.login, bob.password, `Auto: ${subject}`, "60") as { ok: boolean; returnPath?: string };
            expect(reply).toMatchObject({ ok: true });
            expect(reply.returnPath).toMatch(/^<?frank@example\.org>?$/);
            expect(signatures(bob, `Auto: ${subject}`)).toEqual([{ d: "example.org", s: "mailstack", a: "rsa-sha256", verified: true }]);
        } finally {
            mail("sievescript", host, frank.login, frank.password, "mailstack-away", "keep;\r\n");
        }
    });

    test("rspamd's controller takes its password (kept in the stack's state, the server has its hash) and no other", () => {
        const pw = resources().find((r) => r.type === "random:index/randomPassword:RandomPassword" &&
            r.urn.endsWith("-rspamd-controller"));
        const result = (pw as { outputs?: { result?: unknown } } | undefined)?.outputs?.result;
        const password = typeof result === "object" && result !== null && "plaintext" in result
            ? JSON.parse(String((result as { plaintext: string }).plaintext)) as string : String(result);
        expect(password).toMatch(/^[A-Za-z0-9]{32}$/);
        expect(onServer("cat /etc/rspamd/override.d/worker-controller.inc")).not.toContain(password);
        // the password on stdin (curl reads the header from it), never in argv
        const status = (header: string): string => onServer(`printf '%s\\n' '${header}' | ` +
            "curl -s -o /dev/null -w '%{http_code}' -H @- http://127.0.0.1:11334/stat").trim();
        expect(status(`Password: ${password}`)).toBe("200");
        // 401 or 403 as the version has it: refused either way
        expect(status(`Password: ${password.slice(1)}x`)).toMatch(/^40[13]$/);
        expect(status("X-Nothing: 1")).toMatch(/^40[13]$/);
    });

    test("a bounce carries a DKIM signature of the base domain", () => {
        const subject = "Undelivered Mail Returned to Sender";
        const before = (mail("search", host, frank.login, frank.password, subject) as { subjects: string[] }).subjects.length;
        // root may send as anyone; local(8) bounces an unknown local user at once, to frank
        onServer(`printf 'Subject: bounce ${run}\\n\\nsender test\\n' | /usr/sbin/sendmail -f frank@example.org nosuchuser${run}@example.org`);
        expect(mail("search", host, frank.login, frank.password, subject, String(before + 1), "60")).toMatchObject({ ok: true });
        expect(signatures(frank, subject)).toEqual([{ d: "example.org", s: "mailstack", a: "rsa-sha256", verified: true }]);
    });
});

describe("443", () => {
    interface Cipher { ok: boolean; cipher?: string }
    test("refuses CBC-SHA1 suites on TLS 1.2; a GCM suite is taken (control)", () => {
        const name = t.names.find((n) => n.startsWith("autoconfig.")) ?? "autoconfig.example.org";
        expect(mail("cipher", host, "443", "none", "ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA", name) as Cipher)
            .toMatchObject({ ok: false });
        expect((mail("cipher", host, "443", "none", "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256", name) as Cipher).cipher)
            .toMatch(/^ECDHE-(ECDSA|RSA)-AES128-GCM-SHA256$/);
    });
});
