// Both kinds of user are delivered by dovecot's LDA, so both get sieve and quotas: a script uploaded over
// managesieve (4190, STARTTLS) files matching mail into a folder; the global script files mail marked `X-Spam: Yes`
// into Junk; a message that would exceed a small quota (Pulumi.local.yaml: carol and frank) is refused with 452 at
// RCPT and the mailbox stays as it was; a system user's ~/.forward is still honoured by local(8).

import { mail, onServer, output, testbed } from "./testbed";

jest.setTimeout(300_000);

const t = testbed();
const host = t.serverAddress;
const virtual = output<Record<string, string>>("virtualUserPasswords");
const system = output<Record<string, string>>("systemUserPasswords");
const alice = t.systemUser;
const run = `${Date.now()}`;

// [kind, login, password, address mail is sent to]
const users: [string, string, string, string][] = [
    ["system user (PAM, pre-existing)", alice.name, alice.password, alice.address],
    ["virtual user", "bob@example.net", virtual["bob@example.net"], "bob@example.net"],
];

interface Sent { ok: boolean; stage?: string; code?: number; error?: string }

describe("sieve through managesieve, for both kinds of user", () => {
    test.each(users)("%s uploads a script that files matching mail into a folder", (_kind, login, password, address) => {
        const folder = `Filed ${run}`;
        const script = `require ["fileinto", "mailbox"];\r\nif header :contains "Subject" "sieve-me ${run}" {\r\n` +
            `  fileinto :create "${folder}";\r\n  stop;\r\n}\r\n`;
        const up = mail("sievescript", host, login, password, "mailstack-test", script) as { ok: boolean; steps?: unknown };
        expect(up).toMatchObject({ ok: true });

        const subject = `sieve-me ${run}`;
        expect(mail("send", host, "25", "someone@client.example", address, subject)).toMatchObject({ ok: true });
        expect(mail("wait", host, login, password, subject, "30", folder)).toMatchObject({ ok: true });
        // and only there
        expect((mail("login", host, login, password).subjects ?? [])).not.toContain(subject);
        // ordinary mail still reaches the INBOX
        const plain = `not for sieve ${run}`;
        expect(mail("send", host, "25", "someone@client.example", address, plain)).toMatchObject({ ok: true });
        expect(mail("wait", host, login, password, plain, "30")).toMatchObject({ ok: true });
    });

    test("managesieve refuses a right password before STARTTLS (from another address than the server's)", () => {
        const bob = virtual["bob@example.net"];
        const r = mail("sievescript", host, "bob@example.net", bob, "x", "keep;\r\n", "none") as
            { ok: boolean; steps?: [string, boolean, string[]][] };
        expect(r.ok).toBe(false);
        // the greeting offers no SASL mechanism without TLS, and AUTHENTICATE is refused
        expect(r.steps?.[0][2].find((l) => l.startsWith('"SASL"')) ?? '"SASL" ""').toBe('"SASL" ""');
        expect(r.steps?.find((s) => s[0] === "authenticate")?.[1]).toBe(false);
    });

    test("managesieve refuses a wrong password (the same passdbs as IMAP)", () => {
        const wrong = mail("sievescript", host, "bob@example.net", "not-the-password", "x", "keep;\r\n") as
            { ok: boolean; steps?: [string, boolean, string[]][] };
        expect(wrong.ok).toBe(false);
        expect(wrong.steps?.map((s) => s[0])).toContain("authenticate");
    });
});

describe("the global script files spam into Junk", () => {
    test.each(users)("%s: a message marked X-Spam: Yes lands in Junk", (_kind, login, password, address) => {
        const subject = `moderate spam ${run}`;
        expect(mail("sendwith", host, "25", "someone@client.example", address, subject, "X-Spam: Yes"))
            .toMatchObject({ ok: true });
        expect(mail("wait", host, login, password, subject, "30", "Junk")).toMatchObject({ ok: true });
        expect((mail("login", host, login, password).subjects ?? [])).not.toContain(subject);
    });
});

describe("quotas", () => {
    // 1M for both (Pulumi.local.yaml); the default (2G) would take this message.
    const small: [string, string, string][] = [
        ["virtual user", "carol@example.net", virtual["carol@example.net"]],
        ["system user", "frank", system["frank@example.org"]],
    ];

    test.each(small)("%s with a small quota: a message that would exceed it is refused with 452 (temporary) at RCPT", (_kind, login, password) => {
        const address = login.includes("@") ? login : `${login}@example.org`;
        const before = mail("login", host, login, password).subjects ?? [];
        const big = `too big ${run}`;
        const sent = mail("sendwith", host, "25", "someone@client.example", address, big, "", String(1_500_000)) as Sent;
        expect(sent).toMatchObject({ ok: false, stage: "rcpt", code: 452 });
        expect(sent.error).toMatch(/4\.2\.2/);
        // The mailbox is as it was, and still takes a message that fits.
        const fits = `fits ${run}`;
        expect(mail("send", host, "25", "someone@client.example", address, fits)).toMatchObject({ ok: true });
        const after = mail("wait", host, login, password, fits, "30") as { ok: boolean; subjects?: string[] };
        expect(after.ok).toBe(true);
        expect(after.subjects).toEqual([...before, fits]);
    });

    test("a user without an override has the default quota: the same message is taken", () => {
        const subject = `big but within the default ${run}`;
        expect(mail("sendwith", host, "25", "someone@client.example", "bob@example.net", subject, "", String(1_500_000)))
            .toMatchObject({ ok: true });
        expect(mail("wait", host, "bob@example.net", virtual["bob@example.net"], subject, "30")).toMatchObject({ ok: true });
    });
});

describe("local(8) still reads ~/.forward before handing mail to the LDA", () => {
    test("alice's .forward sends her mail to bob and keeps a copy", () => {
        const forward = "/home/alice/.forward";
        onServer(`printf '%s\\n' '\\\\alice' 'bob@example.net' > ${forward} && chown alice: ${forward} && chmod 0644 ${forward}`);
        try {
            const subject = `forwarded by alice ${run}`;
            expect(mail("send", host, "25", "someone@client.example", alice.address, subject)).toMatchObject({ ok: true });
            expect(mail("wait", host, "bob@example.net", virtual["bob@example.net"], subject, "30")).toMatchObject({ ok: true });
            expect(mail("wait", host, alice.name, alice.password, subject, "30")).toMatchObject({ ok: true });
        } finally {
            onServer(`rm -f ${forward}`);
        }
    });
});
