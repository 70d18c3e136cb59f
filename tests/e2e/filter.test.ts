// rspamd on the live server: what our users submit leaves DKIM-signed for its own domain (checked by dkimpy with
// the keys from `dnsRecords`, not by rspamd itself), and mail from outside on port 25 is checked: GTUBE refused,
// a forged From: of our domains refused, an ordinary message delivered, a moderate score marked `X-Spam: Yes`.
// The keys survive a second `up`. rspamd, its controller and redis are not reachable from outside.

import { DnsRecord } from "../../components/render/records";
import { blocklistSymbol } from "../../components/render/rspamd";
import { dkimTable, mail, onServer, onServerStatus, output, pulumi, setRecords, testbed } from "./testbed";

jest.setTimeout(600_000);

const t = testbed();
const host = t.serverAddress;
const alice = t.systemUser;
const virtual = output<Record<string, string>>("virtualUserPasswords");
const bob = { login: "bob@example.net", password: virtual["bob@example.net"] };
const run = `${Date.now()}`;

interface Signature { d: string; s: string; a: string; verified: boolean }
interface Checked { ok: boolean; signatures: Signature[]; headers: string; error?: string }

function checked(user: string, password: string, subject: string, table: Record<string, string>): Checked {
    const got = mail("wait", host, user, password, subject, "30");
    expect(got.ok).toBe(true);
    return mail("dkim", host, user, password, subject, JSON.stringify(table)) as unknown as Checked;
}

/** The header block of SUBJECT in INBOX or Junk (where a sieve rule may file X-Spam: Yes mail). */
function headersOf(user: string, password: string, subject: string): { mailbox: string; headers: string } | undefined {
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
        for (const mailbox of ["INBOX", "Junk"]) {
            const r = mail("folder", host, user, password, "subjects", mailbox) as { subjects?: string[] };
            if ((r.subjects ?? []).includes(subject)) {
                const h = mail("headers", host, user, password, subject, "1") as { headers?: string };
                return { mailbox, headers: h.headers ?? "(headers only read from INBOX)" };
            }
        }
    }
    return undefined;
}

describe("DKIM signing of submitted mail", () => {
    const records = output<DnsRecord[]>("dnsRecords");
    const table = dkimTable(records);

    test("dnsRecords: one 2048-bit key per domain, TXT strings of at most 255 characters", () => {
        expect(Object.keys(table).sort()).toEqual(["mailstack._domainkey.example.com", "mailstack._domainkey.example.net",
            "mailstack._domainkey.example.org"]);
        for (const r of records.filter((x) => x.name.includes("._domainkey."))) {
            expect(r.strings?.every((x) => x.length <= 255)).toBe(true);
            // SubjectPublicKeyInfo of a 2048-bit RSA key: 294 bytes, 392 base64 characters
            expect(/p=([A-Za-z0-9+/=]+)$/.exec(r.value)?.[1]).toHaveLength(392);
        }
    });

    test.each([
        ["bob (virtual) for example.net", bob.login, bob.password, bob.login, "alice@example.org", "example.net"],
        ["alice (system) for example.org", alice.name, alice.password, alice.address, "bob@example.net", "example.org"],
    ])("%s: the reader's copy carries a DKIM-Signature that dkimpy verifies with the published key", (_w, login, password, from, to, domain) => {
        const subject = `dkim ${domain} ${run}`;
        expect(mail("send", host, "587", from, to, subject, login, password)).toMatchObject({ ok: true });
        const reader = to === "alice@example.org" ? { login: alice.name, password: alice.password } : bob;
        const got = checked(reader.login, reader.password, subject, table);
        expect(got.signatures).toEqual([{ d: domain, s: "mailstack", a: "rsa-sha256", verified: true }]);
        // the same message with another domain's key in place of its own fails: the verifier is really checking
        const wrong = { ...table, [`mailstack._domainkey.${domain}`]: table[`mailstack._domainkey.${domain === "example.net" ? "example.org" : "example.net"}`] };
        const forged = mail("dkim", host, reader.login, reader.password, subject, JSON.stringify(wrong)) as unknown as Checked;
        expect(forged.signatures.map((s) => s.verified)).toEqual([false]);
    });

    test("the server's own mail (sendmail, as root@example.org) is signed for example.org too", () => {
        const subject = `local dkim ${run}`;
        onServer(`printf 'From: root@example.org\nTo: bob@example.net\nSubject: ${subject}\n\nfrom cron\n' | ` +
            "/usr/sbin/sendmail -f root@example.org bob@example.net");
        const got = checked(bob.login, bob.password, subject, table);
        expect(got.signatures).toEqual([{ d: "example.org", s: "mailstack", a: "rsa-sha256", verified: true }]);
    });
});

describe("port 25: mail from outside is checked", () => {
    const gtube = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";

    test("GTUBE is refused in the dialogue", () => {
        const r = mail("message", host, "25", "someone@client.example", "alice@example.org", `gtube ${run}`,
            "someone@client.example", gtube) as { ok: boolean; code?: number; stage?: string };
        expect(r).toMatchObject({ ok: false, stage: "data" });
        expect(r.code).toBeGreaterThanOrEqual(500);
    });

    test("a forged From: of our domains is refused, and is not in the INBOX", () => {
        const subject = `forged ${run}`;
        const r = mail("message", host, "25", "someone@client.example", "bob@example.net", subject,
            "alice@example.org", "please pay this invoice") as { ok: boolean; code?: number; error?: string };
        expect(r).toMatchObject({ ok: false });
        expect(r.code).toBeGreaterThanOrEqual(500);
        expect(mail("wait", host, bob.login, bob.password, subject, "3").ok).toBe(false);
    });

    test("an ordinary message from an outside domain reaches the INBOX, not marked as spam", () => {
        const subject = `ordinary ${run}`;
        expect(mail("message", host, "25", "someone@client.example", "bob@example.net", subject,
            "Someone <someone@client.example>", "Hello Bob, lunch on Friday?")).toMatchObject({ ok: true });
        const got = headersOf(bob.login, bob.password, subject);
        expect(got?.mailbox).toBe("INBOX");
        expect(got?.headers).not.toMatch(/^X-Spam: Yes/mi);
        // rspamd's verdict on the checks is in the message
        expect(got?.headers).toMatch(/^Authentication-Results: /mi);
    });

    // The senders' domains publish SPF in the test DNS, signed (scripts/testbed): client.example.net lists the client
    // namespace's address (and has DMARC p=reject), elsewhere.test does not. The server asks its own resolver.
    const verdict = (queued: string | undefined): string => {
        const r = onServerStatus(`for i in $(seq 50); do l=$(grep -F 'qid: <${queued ?? "-"}>' /var/log/rspamd/rspamd.log | tail -n 1); ` +
            '[ -n "$l" ] && { echo "$l"; exit 0; }; sleep 0.2; done; exit 1');
        expect(r.rc).toBe(0);
        return r.out;
    };

    test("a sender whose domain's SPF lists its address: R_SPF_ALLOW and DMARC_POLICY_ALLOW, in the message too", () => {
        const subject = `spf pass ${run}`;
        const sent = mail("message", host, "25", "someone@client.example.net", "bob@example.net", subject,
            "Someone <someone@client.example.net>", "Hello Bob, my domain's SPF lists this address.");
        expect(sent).toMatchObject({ ok: true });
        const line = verdict((sent as { queued?: string }).queued);
        expect(line).toMatch(/\bR_SPF_ALLOW\(/);
        expect(line).toMatch(/\bDMARC_POLICY_ALLOW\(/);
        const got = headersOf(bob.login, bob.password, subject);
        expect(got?.headers).toMatch(/\bspf=pass \([^)]*designates 192\.0\.2\.1 [^)]*\) smtp\.mailfrom=someone@client\.example\.net/);
        expect(got?.headers).toMatch(/\bdmarc=pass \(policy=reject\) header\.from=client\.example\.net/);
    });

    test("a sender whose domain's SPF does not list its address: R_SPF_FAIL", () => {
        const sent = mail("message", host, "25", "someone@elsewhere.test", "bob@example.net", `spf fail ${run}`,
            "someone@elsewhere.test", "Hello Bob, my domain's SPF does not list this address.");
        expect(sent).toMatchObject({ ok: true });
        expect(verdict((sent as { queued?: string }).queued)).toMatch(/\bR_SPF_FAIL\(/);
    });

    // spam.blocklists of the local stack: the test DNS's bl.mailstack.test, which lists the client's address for the
    // length of this test. rspamd asks only unbound on 127.0.0.1, which asks the test DNS: a listing seen by rspamd
    // went through it. unbound's cache is flushed for the zone before (earlier messages cached "not listed") and
    // after (no later message is scored as listed).
    test("an address listed in a blocklist of spam.blocklists: its symbol, through the server's own resolver", () => {
        const zone = "bl.mailstack.test";
        const listed = `${t.clientAddress.split(".").reverse().join(".")}.${zone}`;
        const flush = (): string => onServer(`unbound-control flush_zone ${zone}`);
        setRecords(zone, listed, "A", ["127.0.0.2"]);
        try {
            flush();
            const sent = mail("message", host, "25", "someone@client.example.net", "bob@example.net", `listed ${run}`,
                "Someone <someone@client.example.net>", "Hello Bob, my address is on a blocklist today.");
            expect(sent).toMatchObject({ ok: true });
            expect(verdict((sent as { queued?: string }).queued)).toMatch(new RegExp(`\\b${blocklistSymbol(zone)}\\(`));
        } finally {
            setRecords(zone, listed, "A", []);
            flush();
        }
    });

    describe("a moderate score gets X-Spam: Yes", () => {
        // A test-only rule, on this test server only: a header that scores between add_header and reject.
        const rule = "/etc/rspamd/local.d/multimap.conf";
        beforeAll(() => {
            onServer(`test ! -e ${rule}
cat > ${rule} <<'X'
MAILSTACK_E2E_MODERATE { type = "header"; header = "Subject"; regexp = true; map = "/etc/rspamd/mailstack-e2e.re"; score = 9.0; }
X
printf '/moderate-e2e/\\n' > /etc/rspamd/mailstack-e2e.re
rspamadm configtest >/dev/null && systemctl reload rspamd && sleep 2`);
        });
        afterAll(() => {
            onServerStatus(`rm -f ${rule} /etc/rspamd/mailstack-e2e.re && systemctl reload rspamd && sleep 2`);
        });

        test("delivered with X-Spam: Yes (to INBOX, or Junk where a sieve rule files it)", () => {
            const subject = `moderate-e2e ${run}`;
            expect(mail("message", host, "25", "someone@client.example", "bob@example.net", subject,
                "someone@client.example", "A normal body.")).toMatchObject({ ok: true });
            const got = headersOf(bob.login, bob.password, subject);
            expect(got).toBeDefined();
            if (got?.mailbox === "INBOX") {
                expect(got.headers).toMatch(/^X-Spam: Yes/mi);
            }
        });
    });
});

test("rspamd's milter, scanner and controller and redis are not reachable from outside", () => {
    for (const port of ["11332", "11333", "11334", "6379"]) {
        expect({ port, ...mail("port", host, port) }).toMatchObject({ port, ok: false });
    }
    // control: the server does answer there on its ports
    expect(mail("port", host, "25").ok).toBe(true);
    // and they do run, on loopback
    expect(onServer("ss -Hltn | awk '{print $4}' | sort")).toMatch(/127\.0\.0\.1:11332/);
});

test("a second `pulumi up` keeps every DKIM key", () => {
    const before = dkimTable(output<DnsRecord[]>("dnsRecords"));
    const r = pulumi("up", "--yes", "--skip-preview");
    expect(r.status).toBe(0);
    expect(dkimTable(output<DnsRecord[]>("dnsRecords"))).toEqual(before);
    // and the server signs with them: the key file of each domain is the one in state (public half matches)
    const pub = onServer("for f in /var/lib/rspamd/dkim/*.key; do printf '%s ' \"$(basename $f)\"; " +
        "openssl rsa -in $f -pubout -outform DER 2>/dev/null | base64 -w0; echo; done");
    for (const [name, value] of Object.entries(before)) {
        const [selector, domain] = name.split("._domainkey.");
        expect(pub).toContain(`${domain}.${selector}.key ${value.replace(/^.*p=/, "")}`);
    }
});
