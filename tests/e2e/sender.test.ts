// Nobody sends as someone else (issue 24): on submission the From: header must be an address the login may use
// as envelope sender (rspamd's From rule over postfix's own table), refused with 554 5.7.1 naming it; what is
// accepted leaves DKIM-signed (checked by dkimpy with the keys from `dnsRecords`). On the server, sendmail lets an
// account use only its own address; bounces are signed too; 443 offers no CBC-SHA1 suite. No `up` of its own.

import { dkimTable, logins, mail, onServer, onServerStatus, testbed } from "./testbed";

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
    const sendmail = (user: string, sender: string, subject: string, to: string): { rc: number; out: string } =>
        onServerStatus(`printf 'From: ${sender}\\nTo: ${to}\\nSubject: ${subject}\\n\\nsender test\\n' | ` +
            `runuser -u ${user} -- /usr/sbin/sendmail -f ${sender} ${to}`);

    test("frank's sendmail as bob@example.net is refused; as himself it is taken", () => {
        const forged = sendmail("frank", "bob@example.net", `local forged ${run}`, "bob@example.net");
        expect(forged.rc).not.toBe(0);
        expect(forged.out).toMatch(/not authorized/);
        expect(forged.out).toContain("bob@example.net");
        expect(sendmail("frank", "frank@example.org", `local own ${run}`, "bob@example.net").rc).toBe(0);
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
