// The server as an attacker on the internet sees it, from the client namespace (192.0.2.1, outside mynetworks):
// what port 25 accepts, who may log in, what submission reveals and allows, which ciphers the authenticated ports
// offer, and that the addresses every domain must have (postmaster@, abuse@, DMARC rua) reach the admin.
// Tests run in file order; this file relies on no other.

import { copyFileSync, rmSync } from "fs";
import * as path from "path";
import { mail, onServer, output, pulumi, ROOT, testbed } from "./testbed";

jest.setTimeout(300_000);

const t = testbed();
const host = t.serverAddress;
const alice = t.systemUser;
const virtual = output<Record<string, string>>("virtualUserPasswords");
const system = output<Record<string, string>>("systemUserPasswords");
const bob = { name: "bob@example.net", password: virtual["bob@example.net"] };
const erin = { name: "erin@example.com", password: virtual["erin@example.com"] };
const frank = { name: "frank", password: system["frank@example.org"] };
const run = `${Date.now()}`;

interface Sent {
    ok: boolean;
    stage?: string;
    code?: number;
    error?: string;
}
const send = (...args: string[]): Sent => mail("send", ...args);

describe("port 25: nobody outside may send as one of our domains", () => {
    // [what, MAIL FROM, RCPT TO, code, text]
    const refused: [string, string, string, number, RegExp][] = [
        ["a system user, to a virtual user", "alice@example.org", "bob@example.net", 554, /Sender address rejected/],
        ["a system user, to herself", "alice@example.org", "alice@example.org", 554, /Sender address rejected/],
        ["a virtual user, to a system user", "bob@example.net", "alice@example.org", 554, /Sender address rejected/],
        ["a virtual user, to another domain's user", "bob@example.net", "erin@example.com", 554, /Sender address rejected/],
        ["an alias", "info@example.net", "bob@example.net", 554, /Sender address rejected/],
        ["postmaster of the base domain", "postmaster@example.org", "bob@example.net", 554, /Sender address rejected/],
        ["the hostname", "root@mail.example.org", "bob@example.net", 554, /Sender address rejected/],
        ["an address of a virtual domain that does not exist", "nobody-here@example.net", "bob@example.net", 550,
            /Sender address rejected: .*(unknown|undeliverable)/i],
        ["an address of the base domain that does not exist", "nobody-here@example.org", "bob@example.net", 550,
            /Sender address rejected: .*(unknown|undeliverable)/i],
        ["a sender that is not fully qualified", "someone", "bob@example.net", 504, /Sender address rejected: need fully-qualified/],
    ];
    test.each(refused)("MAIL FROM %s (%s): refused", (_what, from, to, code, text) => {
        const r = send(host, "25", from, to, `forged ${from} ${run}`);
        expect(r).toMatchObject({ ok: false, code, stage: "rcpt" });
        expect(r.error).toMatch(text);
    });

    test("control: the same message from a foreign sender is delivered", () => {
        const subject = `foreign sender ${run}`;
        expect(send(host, "25", "someone@client.example", "bob@example.net", subject)).toMatchObject({ ok: true });
        expect(mail("wait", host, bob.name, bob.password, subject)).toMatchObject({ ok: true });
    });

    test("control: bounces (null sender) from outside are still accepted", () => {
        expect(send(host, "25", "", "bob@example.net", `bounce ${run}`)).toMatchObject({ ok: true });
    });

    const helo: [string, string, number, RegExp][] = [
        ["client", "not fully qualified", 504, /Helo command rejected: need fully-qualified hostname/],
        ["bad_host!.example", "invalid", 501, /Helo command rejected: Invalid name/],
    ];
    test.each(helo)("HELO %s (%s): refused", (name, _what, code, text) => {
        const r = mail("sendhelo", host, "25", name, "someone@client.example", "bob@example.net", `helo ${run}`) as Sent;
        expect(r).toMatchObject({ ok: false, code, stage: "rcpt" });
        expect(r.error).toMatch(text);
    });

    test("a recipient that is not fully qualified: refused", () => {
        const r = send(host, "25", "someone@client.example", "bob", `rcpt ${run}`);
        expect(r).toMatchObject({ ok: false, code: 504 });
        expect(r.error).toMatch(/Recipient address rejected: need fully-qualified address/);
    });
});

describe("login scope: only mail accounts authenticate, on IMAP and SMTP AUTH alike", () => {
    // The same password for root, a system account (uid < UID_MIN) and a human account made just now: the human
    // logs in (the control that the password is right), the others never do.
    const pw = `Sc0pe${run}`;
    beforeAll(() => {
        onServer(`id svcacct >/dev/null 2>&1 || useradd --system --shell /usr/sbin/nologin svcacct
            id hank >/dev/null 2>&1 || useradd --create-home --shell /bin/bash hank
            for u in root svcacct hank; do echo "$u:${pw}" | chpasswd; done`);
    });
    afterAll(() => {
        onServer("usermod -p '*' root; userdel svcacct 2>/dev/null; userdel -r hank 2>/dev/null; true");
    });

    test("uids: svcacct is below UID_MIN, hank at or above it", () => {
        const min = Number(onServer("awk '$1 == \"UID_MIN\" { print $2 }' /etc/login.defs").trim() || "1000");
        expect(Number(onServer("id -u svcacct").trim())).toBeLessThan(min);
        expect(Number(onServer("id -u hank").trim())).toBeGreaterThanOrEqual(min);
    });

    test.each(["root", "svcacct", "vmail"])("%s: IMAP login refused", (user) => {
        const r = mail("login", host, user, pw);
        expect(r).toMatchObject({ ok: false });
        expect(r.error).toMatch(/AUTHENTICATIONFAILED|Authentication failed/);
    });

    test.each(["root", "svcacct", "root@example.org"])("%s: SMTP AUTH on 587 refused with 535", (user) => {
        const r = send(host, "587", "root@example.org", "bob@example.net", `scope ${user} ${run}`, user, pw);
        expect(r).toMatchObject({ ok: false, stage: "auth", code: 535 });
    });

    test("control: hank, a human account with the same password, logs in on 143 and 587", () => {
        expect(mail("login", host, "hank", pw)).toMatchObject({ ok: true });
        expect(send(host, "587", "hank@example.org", "bob@example.net", `hank ${run}`, "hank", pw))
            .toMatchObject({ ok: true });
    });

    test.each([
        [alice.name, alice.password], [alice.address, alice.password], [frank.name, frank.password],
        [bob.name, bob.password], [erin.name, erin.password],
    ])("%s logs in on 143 and authenticates on 587", (user, password) => {
        expect(mail("login", host, user, password)).toMatchObject({ ok: true });
        const from = user.includes("@") ? user : `${user}@example.org`;
        expect(send(host, "587", from, "carol@example.net", `scope ok ${user} ${run}`, user, password))
            .toMatchObject({ ok: true });
    });
});

describe("only mail accounts are base-domain recipients", () => {
    test.each(["sshd@example.org", "nobody@example.org", "vmail@example.org", "daemon@example.org",
        "postfix@mail.example.org", "nobody+x@example.org"])("%s: 550 at RCPT", (to) => {
        const r = send(host, "25", "someone@client.example", to, `service ${run}`);
        expect(r).toMatchObject({ ok: false, stage: "rcpt", code: 550 });
        expect(r.error).toMatch(/User unknown/);
    });

    test("and for an authenticated user too", () => {
        const r = send(host, "587", bob.name, "nobody@example.org", `service auth ${run}`, bob.name, bob.password);
        expect(r).toMatchObject({ ok: false, stage: "rcpt", code: 550 });
    });
});

describe("submission", () => {
    test("a null sender is refused", () => {
        const r = send(host, "587", "", "erin@example.com", `null sender ${run}`, bob.name, bob.password);
        expect(r).toMatchObject({ ok: false, code: 554 });
        expect(r.error).toMatch(/<>: Sender address rejected/);
    });

    test("the client's address is not in the headers of submitted mail (control: it is in mail received on 25)", () => {
        const submitted = `privacy 587 ${run}`;
        const received = `privacy 25 ${run}`;
        expect(send(host, "587", bob.name, erin.name, submitted, bob.name, bob.password)).toMatchObject({ ok: true });
        expect(send(host, "25", "someone@client.example", erin.name, received)).toMatchObject({ ok: true });
        const h587 = mail("headers", host, erin.name, erin.password, submitted) as unknown as { ok: boolean; headers: string };
        const h25 = mail("headers", host, erin.name, erin.password, received) as unknown as { ok: boolean; headers: string };
        expect(h587.ok && h25.ok).toBe(true);
        expect(h25.headers).toContain("192.0.2.1");
        expect(h587.headers).not.toContain("192.0.2.1");
        expect(h587.headers).not.toMatch(/client\.example/);
        // the header block is the one the server delivered (virtual(8) adds no Received: of its own)
        expect(h587.headers).toMatch(/^Delivered-To: /m);
    });

    interface Cipher { ok: boolean; cipher?: string; command?: string }
    // [port, proto, suite, accepted]
    const ciphers: [string, string, string, boolean][] = [
        ["587", "smtp", "ECDHE-ECDSA-AES128-GCM-SHA256", true],
        ["587", "smtp", "ECDHE-ECDSA-AES128-SHA", false],
        ["587", "smtp", "ECDHE-ECDSA-AES256-SHA384", false],
        ["587", "smtp", "AES128-GCM-SHA256", false],
        ["143", "imap", "ECDHE-ECDSA-AES128-GCM-SHA256", true],
        ["143", "imap", "ECDHE-ECDSA-CHACHA20-POLY1305", true],
        ["143", "imap", "ECDHE-ECDSA-AES128-SHA", false],
        ["143", "imap", "AES128-GCM-SHA256", false],
        // control: the client does negotiate a CBC suite where the server allows it (port 25 stays permissive)
        ["25", "smtp", "ECDHE-ECDSA-AES128-SHA", true],
    ];
    test.each(ciphers)("%s (%s), TLS 1.2 with only %s: accepted=%s", (port, proto, suite, accepted) => {
        const r = mail("cipher", host, port, proto, suite) as unknown as Cipher;
        expect(r.ok).toBe(accepted);
        if (accepted) {
            expect(r.cipher).toBe(suite);
        }
    });
});

describe("postmaster@, abuse@, root and DMARC reports reach the admin; sub-addresses reach their user", () => {
    const records = output<{ name: string; type: string; value: string }[]>("dnsRecords");
    const rua = (prefix: string): string[] => records.filter((r) => r.name.startsWith(prefix))
        .flatMap((r) => [...r.value.matchAll(/rua=mailto:([^;,\s]+)/g)].map((m) => m[1]));

    test("every domain publishes a rua address: DMARC's to its postmaster@, TLS-RPT's to adminEmail", () => {
        expect(rua("_dmarc.").sort()).toEqual(["postmaster@example.com", "postmaster@example.net", "postmaster@example.org"]);
        expect(rua("_smtp._tls.")).toEqual(["alice@example.org", "alice@example.org", "alice@example.org"]);
    });

    // adminEmail is alice@example.org (Pulumi.local.yaml); postmaster@example.com is configured to alice too.
    const toAdmin = ["postmaster@example.org", "postmaster@example.net", "postmaster@example.com", "abuse@example.org",
        "abuse@example.net", "abuse@example.com", "root@example.org", "Postmaster@Example.NET"];
    test.each(toAdmin)("%s reaches the admin", (to) => {
        const subject = `admin ${to} ${run}`;
        expect(send(host, "25", "reporter@client.example", to, subject)).toMatchObject({ ok: true });
        expect(mail("wait", host, alice.name, alice.password, subject)).toMatchObject({ ok: true });
    });

    test("root's own mail (sendmail on the server) reaches the admin", () => {
        const subject = `root cron ${run}`;
        onServer(`printf 'Subject: ${subject}\\n\\nfrom cron\\n' | /usr/sbin/sendmail root`);
        expect(mail("wait", host, alice.name, alice.password, subject)).toMatchObject({ ok: true });
    });

    test.each([["bob+tag@example.net", bob.name, bob.password], ["alice+x@example.org", alice.name, alice.password],
        ["info+news@example.net", bob.name, bob.password]])("%s reaches %s", (to, user, password) => {
        const subject = `plus ${to} ${run}`;
        expect(send(host, "25", "someone@client.example", to, subject)).toMatchObject({ ok: true });
        expect(mail("wait", host, user, password, subject)).toMatchObject({ ok: true });
    });
});

describe("strict login scope (loginScope: listed): only the listed systemUsers log in", () => {
    const config = path.join(ROOT, ".local", "Pulumi.local.listed.yaml");
    let up = { status: -1, stderr: "" };
    beforeAll(() => {
        copyFileSync(path.join(ROOT, "Pulumi.local.yaml"), config);
        expect(pulumi("config", "set", "mailstack:loginScope", "listed", "--config-file", config).status).toBe(0);
        up = pulumi("up", "--yes", "--skip-preview", "--config-file", config);
    });
    afterAll(() => {
        rmSync(config, { force: true });
        expect(pulumi("up", "--yes", "--skip-preview").status).toBe(0);
        // back to all-humans: alice logs in again
        expect(mail("login", host, alice.name, alice.password)).toMatchObject({ ok: true });
    });

    test("the up succeeded", () => {
        expect(up.stderr).toBe("");
        expect(up.status).toBe(0);
    });

    test("alice (an unlisted human account) is refused on 143 and 587, and as a recipient", () => {
        expect(mail("login", host, alice.name, alice.password)).toMatchObject({ ok: false });
        expect(send(host, "587", "alice@example.org", "bob@example.net", `listed alice ${run}`, alice.name,
            alice.password)).toMatchObject({ ok: false, stage: "auth", code: 535 });
        expect(send(host, "25", "someone@client.example", "alice@example.org", `listed rcpt ${run}`))
            .toMatchObject({ ok: false, stage: "rcpt", code: 550 });
    });

    test("frank (listed) and the virtual users still log in", () => {
        for (const [user, password] of [[frank.name, frank.password], [bob.name, bob.password]]) {
            expect(mail("login", host, user, password)).toMatchObject({ ok: true });
        }
        expect(send(host, "587", "frank@example.org", "bob@example.net", `listed frank ${run}`, frank.name,
            frank.password)).toMatchObject({ ok: true });
    });
});
