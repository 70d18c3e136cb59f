// Both kinds of user are delivered by dovecot's LDA, so both get sieve and quotas: a script uploaded over
// managesieve (4190, STARTTLS) files matching mail into a folder; the global script files mail marked `X-Spam: Yes`
// into Junk; a message that would exceed a small quota (Pulumi.local.yaml: carol and frank) is refused with 452 at
// RCPT and the mailbox stays as it was; a system user's ~/.forward is still honoured by local(8). What dovecot keeps
// in a home (a vacation reply's duplicate database) never shows as a folder, and a virtual user's scripts from
// before the home moved out of the Maildir's top are moved there and keep running.

import { VMAIL_HOMES } from "../../components/dovecot";
import { VHOME, VHOSTS } from "../../components/render/dovecot";
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

describe("dovecot's own files are never folders", () => {
    const carol = virtual["carol@example.net"];
    const dovecotFolders = (login: string, password: string): string[] =>
        ((mail("folders", host, login, password) as { folders?: string[] }).folders ?? []).filter((f) => /^dovecot/i.test(f));

    // The reply goes to carol (submitted as her, so it is delivered here, not queued for outside).
    test.each(users)("%s: a vacation reply is sent, and LIST shows no dovecot folder", (kind, login, password, address) => {
        const away = `away ${kind} ${run}`;
        const script = `require ["vacation"];\r\nvacation :days 1 :subject "${away}" "I am away";\r\n`;
        expect(mail("sievescript", host, login, password, "mailstack-vacation", script)).toMatchObject({ ok: true });
        try {
            const subject = `vacation ${kind} ${run}`;
            expect(mail("send", host, "587", "carol@example.net", address, subject, "carol@example.net", carol))
                .toMatchObject({ ok: true });
            expect(mail("wait", host, login, password, subject, "30")).toMatchObject({ ok: true });
            expect(mail("wait", host, "carol@example.net", carol, away, "30")).toMatchObject({ ok: true });
            // the reply's duplicate database is in the home: the directory VHOME of a virtual user's Maildir
            const [user, domain] = address.split("@");
            const home = login.includes("@") ? `${VHOSTS}/${domain}/${user}/${VHOME}` : `/home/${login}`;
            expect(onServer(`ls -A ${home}`).split("\n")).toEqual(expect.arrayContaining([".dovecot.lda-dupes"]));
            expect(dovecotFolders(login, password)).toEqual([]);
        } finally {
            // later tests send from outside: no replies queued for it
            mail("sievescript", host, login, password, "mailstack-vacation", "keep;\r\n");
        }
    });

    test("a virtual user's script and duplicate database at the old home (the Maildir's top) move into the home and run", () => {
        const box = `${VHOSTS}/example.net/bob`;
        const folder = `Old home ${run}`;
        const subject = `old home ${run}`;
        const script = `require ["fileinto", "mailbox"];\nif header :contains "Subject" "${subject}" {\n  fileinto :create "${folder}";\n}\n`;
        // bob's mailbox as a server before the home moved had it: scripts, active link and duplicate database at the
        // top, where the lock directory of the database was taken for a folder; no active script in the new home
        onServer(`set -e; cd ${box}; rm -f ${VHOME}/dovecot.sieve
            mkdir -p sieve .dovecot.lda-dupes.locks/cur .dovecot.lda-dupes.locks/new .dovecot.lda-dupes.locks/tmp
            printf '%s' '${script}' > sieve/old-home.sieve; ln -sfn sieve/old-home.sieve dovecot.sieve
            printf old > .dovecot.lda-dupes; chown -R vmail:vmail .`);
        const bob = virtual["bob@example.net"];
        expect(dovecotFolders("bob@example.net", bob)).toEqual(["dovecot", "dovecot/lda-dupes", "dovecot/lda-dupes/locks"]);

        // what the dovecot step runs after each new dovecot.conf
        expect(onServer(VMAIL_HOMES)).toBe(`mailstack-ctl: dovecot's files of ${box} moved to ${box}/${VHOME}: sieve/ ` +
            "dovecot.sieve .dovecot.lda-dupes .dovecot.lda-dupes.locks(removed)\n");
        expect(onServer(VMAIL_HOMES)).toBe("");
        expect(onServer(`cd ${box}; ls -A | grep -E '^(sieve|dovecot[.]sieve|[.]dovecot)' || echo none; readlink ${VHOME}/dovecot.sieve`))
            .toBe("none\nsieve/old-home.sieve\n");
        expect(dovecotFolders("bob@example.net", bob)).toEqual([]);
        expect(mail("send", host, "25", "someone@client.example", "bob@example.net", subject)).toMatchObject({ ok: true });
        expect(mail("wait", host, "bob@example.net", bob, subject, "30", folder)).toMatchObject({ ok: true });
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
