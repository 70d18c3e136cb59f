// Mail that the server accepts must reach a mailbox its reader sees. Every kind of account (a system user who was
// there before mailstack, one the stack created, a virtual user) and an alias of each receive on port 25 a plain
// ASCII message and one from an EAI client (SMTPUTF8: UTF-8 sender and subject), and read it back over IMAP. Then
// folders whose names have dots, for both kinds of user, next to the Maildir++ folders a user already had; and the
// Maildir of the accounts the stack creates. Runs after `npm run local` (scripts/test brings the server up).

import { logins, mail, onServer, onServerStatus, testbed } from "./testbed";

jest.setTimeout(300_000);

const t = testbed();
const host = t.serverAddress;
const { alice, virtual, system, pw } = logins(t);
const frank = system["frank@example.org"];
const run = `${Date.now()}`; // subjects unique to this run, so an old message never passes a test

/** What the mail log says about a queue id: the reason when a message does not arrive. */
function logOf(queued: unknown): string {
    if (typeof queued !== "string") return "(no queue id)";
    return onServerStatus(`grep -F ' ${queued}: ' /var/log/mail.log | tail -n 20`).out;
}

// [kind of account, address mail is sent to, the logins that must read it]
const accounts: [string, string, string[]][] = [
    ["pre-existing system user", "alice@example.org", [alice.name, alice.address]],
    ["alias of the pre-existing system user", "postmaster@example.com", [alice.name]],
    ["created system user", "frank@example.org", ["frank", "frank@example.org"]],
    ["alias of the created system user", "office@example.org", ["frank"]],
    ["virtual user", "bob@example.net", ["bob@example.net"]],
    ["alias of the virtual user", "info@example.net", ["bob@example.net"]],
];

// [kind of message, the mailclient verb, envelope and From sender, subject]
const messages: [string, string, string, (to: string) => string][] = [
    ["plain ASCII", "send", "someone@client.example", (to) => `ascii to ${to} ${run}`],
    ["SMTPUTF8 (UTF-8 sender and subject)", "sendutf8", "jörg@client.example.net", (to) => `Grüße für ${to} — Köln ✓ ${run}`],
];

const matrix = accounts.flatMap(([kind, to, readers]) =>
    messages.map(([what, verb, from, subject]) => [kind, to, what, verb, from, subject(to), readers] as const));

describe("port 25 delivers to every kind of account, read back over IMAP", () => {
    test.each(matrix)("%s %s: %s mail", (_kind, to, _what, verb, from, subject, readers) => {
        const sent = mail(verb, host, "25", from, to, subject);
        // Accepted in the dialogue; for the EAI message, over SMTPUTF8 as the server offered it.
        expect(sent).toMatchObject(verb === "sendutf8" ? { ok: true, smtputf8: true } : { ok: true });
        for (const reader of readers) {
            // Delivered means readable: the INBOX, or Junk when rspamd scores the message as spam. On the test
            // server every outside message lacks DNS (no rDNS, unknown HELO name: a few points); an EAI message scores
            // as its ASCII twin (tests/e2e/eai.test.ts); filing is tested in filter/sieve.
            let got = mail("wait", host, reader, pw(reader), subject, "20");
            if (!got.ok) {
                got = mail("wait", host, reader, pw(reader), subject, "2", "Junk");
            }
            if (!got.ok) {
                // Why it never arrived: bounced, deferred, or delivered where IMAP cannot see it.
                throw new Error(`"${subject}" to ${to} is not in ${reader}'s INBOX or Junk; the mail log says:\n` +
                    logOf((sent as { queued?: unknown }).queued));
            }
            expect((got as { sender?: string }).sender).toContain(from);
        }
    });
});

describe("folders with dots in their names", () => {
    const users: [string, string][] = [[alice.name, alice.password], ["bob@example.net", virtual["bob@example.net"]]];
    const folder = (user: string, password: string, ...args: string[]): { ok: boolean; answer?: string; subjects?: string[] } =>
        mail("folder", host, user, password, ...args);
    /** The server's answer to one IMAP command, which must be OK (the answer shows in the failure). */
    const ok = (user: string, password: string, ...args: string[]): void => {
        expect(`${args.slice(0, 2).join(" ")}: ${folder(user, password, ...args).answer}`)
            .toMatch(new RegExp(`^${args[0]} .*: OK`, "s"));
    };
    const folders = (user: string, password: string): string[] =>
        (mail("folders", host, user, password) as { folders?: string[] }).folders ?? [];

    test.each(users)("%s creates, renames and fills Projects 2.0", (user, password) => {
        // Left over from an earlier run against the same server.
        for (const name of ["Projects 2.0", "Projects 1.9"]) folder(user, password, "delete", name);

        ok(user, password, "create", "Projects 1.9");
        ok(user, password, "rename", "Projects 1.9", "Projects 2.0");
        ok(user, password, "append", "Projects 2.0", `filed ${run}`);
        const subject = `to be filed in Projects 2.0 ${run}`;
        expect(mail("send", host, "25", "someone@client.example", user.includes("@") ? user : `${user}@example.org`, subject))
            .toMatchObject({ ok: true });
        expect(mail("wait", host, user, password, subject)).toMatchObject({ ok: true });
        ok(user, password, "copy", "Projects 2.0", subject);

        const list = folders(user, password);
        expect(list).toContain("Projects 2.0");
        expect(list).not.toContain("Projects 1.9");
        expect(folder(user, password, "subjects", "Projects 2.0").subjects?.sort()).toEqual([`filed ${run}`, subject].sort());
    });

    test.each(users)("%s can make folders with the other characters clients allow", (user, password) => {
        const names = ["J. Smith", "example.com", "v1.2", "v1.2/notes 3.1", "~home.dir", "50% off", "back\\slash"];
        for (const name of [...names].reverse()) folder(user, password, "delete", name);
        for (const name of names) {
            ok(user, password, "create", name);
            ok(user, password, "append", name, `in ${name} ${run}`);
        }
        const list = folders(user, password);
        for (const name of names) {
            expect(list).toContain(name);
            expect(folder(user, password, "subjects", name).subjects).toEqual([`in ${name} ${run}`]);
        }
        for (const name of [...names].reverse()) {
            ok(user, password, "delete", name);
        }
    });

    test("alice's folders from before mailstack are still there, with their mail", () => {
        const list = folders(alice.name, alice.password);
        expect(list).toEqual(expect.arrayContaining(["INBOX", "Archive/2023", "Sent", "Drafts", "Trash", "Junk"]));
        expect(folder(alice.name, alice.password, "subjects", "Archive/2023").subjects).toEqual(["archived before mailstack"]);
        // still the Maildir++ directory it was: nothing renamed or moved on disk
        expect(onServer("ls /home/alice/Maildir/.Archive.2023/cur")).toMatch(/^1690000000\.M2P1\./);
    });
});

describe("the Maildir of system users", () => {
    const stat = (paths: string): string[] =>
        onServer(`stat -c '%U:%G %a %n' ${paths}`).trim().split("\n");

    test("frank, created by the stack, owns his whole Maildir, and dovecot keeps its uidlist there", () => {
        expect(mail("login", host, "frank", frank)).toMatchObject({ ok: true });
        const maildir = "/home/frank/Maildir";
        expect(stat(`${maildir} ${maildir}/cur ${maildir}/new ${maildir}/tmp ${maildir}/dovecot-uidlist`)).toEqual([
            `frank:frank 700 ${maildir}`, `frank:frank 700 ${maildir}/cur`, `frank:frank 700 ${maildir}/new`,
            `frank:frank 700 ${maildir}/tmp`, expect.stringMatching(new RegExp(`^frank:frank \\d+ ${maildir}/dovecot-uidlist$`)),
        ]);
    });

    test("system-user repairs a root-owned Maildir (what earlier versions made), and frank reads his mail again", () => {
        // The state an earlier mailstack left: the Maildir itself root's, cur/new/tmp frank's, no uidlist yet.
        onServer("chown root:root /home/frank/Maildir && chmod 0755 /home/frank/Maildir && " +
            "rm -f /home/frank/Maildir/dovecot-uidlist* /home/frank/Maildir/dovecot.index*");
        // The password goes on stdin, as the stack sends it (printf is a shell builtin: no argv).
        onServer(`printf '%s' '${frank}' | /usr/local/sbin/mailstack-ctl system-user frank example.org mail.example.org`);
        expect(stat("/home/frank/Maildir")).toEqual(["frank:frank 700 /home/frank/Maildir"]);
        const subject = `after the repair ${run}`;
        expect(mail("send", host, "25", "someone@client.example", "frank@example.org", subject)).toMatchObject({ ok: true });
        expect(mail("wait", host, "frank", frank, subject)).toMatchObject({ ok: true });
    });

    test("system-user leaves the Maildir of an account that already existed as it was", () => {
        // An account made by hand, with its own idea of owners and modes.
        const home = "/home/ms-preexisting";
        onServer(`id ms-preexisting >/dev/null 2>&1 || useradd --create-home --shell /usr/sbin/nologin ms-preexisting
            install -d -o ms-preexisting -g mail -m 0750 ${home}/Maildir
            install -d -o ms-preexisting -g mail -m 0770 ${home}/Maildir/cur ${home}/Maildir/new ${home}/Maildir/tmp
            install -d -o root -g mail -m 0775 ${home}/Maildir/.Shared`);
        const before = stat(`${home} ${home}/Maildir ${home}/Maildir/cur ${home}/Maildir/new ${home}/Maildir/tmp ${home}/Maildir/.Shared`);
        try {
            onServer(`printf '%s' 'Preexisting-Passw0rd' | /usr/local/sbin/mailstack-ctl system-user ms-preexisting example.org mail.example.org`);
            expect(stat(`${home} ${home}/Maildir ${home}/Maildir/cur ${home}/Maildir/new ${home}/Maildir/tmp ${home}/Maildir/.Shared`))
                .toEqual(before);
        } finally {
            onServer("userdel --remove ms-preexisting 2>/dev/null || true");
        }
    });
});
