// A server replaced behind the same address and key keeps everything a user has: the checks of replace.test.ts
// (`pulumi up --replace` of the server) and switch.test.ts (Debian 12 -> 13 in config), which make the replacement
// each its own way. The Debian 12 run of `npm test` replaces its server once, by the switch (scripts/test): a fresh
// server costs minutes of both cores, and the switch is a replacement with every one of these checks.
//
// Before it: mail with flags for each kind of account, alice's password changed by hand on the server (passwd, not
// the stack), bob's changed by himself in webmail (its password form). After it: every remote step was
// created anew (the new server's id in its triggers) on a machine that is really new; every message with its UID
// and flags, every password (the users' own ones too) and the DKIM keys are as before; each login works on IMAP and
// 587, and what it submits is DKIM-signed with the same keys; mail from outside arrives; bob logs in to webmail, whose
// users are those of before (its database is on the volume); a second up changes nothing.

import { createHash } from "crypto";
import { readFileSync } from "fs";
import { CTL } from "../../components/render/ctl";
import { OWN } from "../../components/users";
import { WEBMAIL_DB } from "../../components/render/webmail";
import {
    addressOf, deliver, dkimTable, logins, Logins, mail, mailboxes, Mailbox, onServer, onServerStatus, output, pulumi,
    resources, Resource, testbed,
} from "./testbed";
import { withPage } from "./browser";
import { atDomain, changePassword as webmailPassword, logIn } from "./roundcube";

type Testbed = ReturnType<typeof testbed>;

export interface Replacement {
    /** What replaces the server, as the describe block says it. */
    how: string;
    /** Replaces the server (throws on failure). */
    replace: () => void;
    /** Arguments of every `up` after it (the config file the replacement used). */
    upArgs?: string[];
    /** Checks of the new machine itself (its release, say). */
    machine?: (after: Testbed) => void;
}

const sha = (file: string): string => createHash("sha256").update(readFileSync(file)).digest("hex");
const remoteSteps = (rs: Resource[]): Resource[] => rs.filter((r) => r.type === "command:remote:Command");
const count = (m: Record<string, Mailbox>): number => Object.values(m).reduce((n, b) => n + b.messages.length, 0);
const shq = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
const MARKER = "/root/mailstack-replacement-test-old-server";
const BOB = "bob@example.net";
const USERS = ["alice", "frank", BOB];

/** mailstack-ctl password, as webmail's password plugin runs it (login, current and new password on stdin). */
export function changePassword(login: string, current: string, next: string): { rc: number; out: string } {
    return onServerStatus(`printf '%s\\n%s\\n%s\\n' ${shq(login)} ${shq(current)} ${shq(next)} | ${CTL} password`);
}

/** alice's password set on the server by hand, and the accounts the volume keeps following it. */
function setAlicePassword(password: string): void {
    onServer(`printf 'alice:%s\\n' ${shq(password)} | chpasswd
        for i in $(seq 50); do
            [ "$(getent shadow alice | cut -d: -f2)" = "$(awk -F: '$1 == "alice" { print $2 }' /srv/mailstack/accounts/shadow)" ] && exit 0
            sleep 0.2
        done
        echo "the accounts on the volume did not follow the change" >&2; exit 1`);
}

export function replacementTests(r: Replacement): void {
    describe(`a server replaced by ${r.how}, behind the same address and key`, () => {
        const before = testbed();
        const keyBefore = sha(before.sshPrivateKeyFile);
        const stepsBefore = new Map(remoteSteps(resources()).map((s) => [s.urn, s.id]));
        const stack = logins(before);
        const run = Date.now().toString(36);
        const alice = { old: before.systemUser.password, now: `changed-by-hand-${run}` };
        const bob = { old: stack.virtual[BOB], now: `His-Own-Choice-${run}` };
        // every login's password as it is now: alice's and bob's are the ones they changed to
        const who: Logins = {
            ...stack, alice: { ...stack.alice, password: alice.now },
            pw: (login) => (login === BOB ? bob.now : addressOf(login) === before.systemUser.address ? alice.now : stack.pw(login)),
        };
        let after: Testbed;
        let steps: Resource[];
        let mailBefore: Record<string, Record<string, Mailbox>>;
        let dkimBefore: Record<string, string>;
        const webmailUsers = (): string => onServer(`sqlite3 ${WEBMAIL_DB} 'SELECT username FROM users ORDER BY username'`);
        let webmailBefore: string;

        beforeAll(async () => {
            setAlicePassword(alice.now);
            await withPage(async (page) => {
                await logIn(page, atDomain("example.net"), BOB, bob.old);
                expect(await webmailPassword(page, atDomain("example.net"), bob.old, bob.now)).toMatch(/successfully saved/i);
            });
            webmailBefore = webmailUsers();
            deliver(before.serverAddress, who, `before the replacement ${run}`, ...USERS);
            // flags and keywords a client set, one message each
            for (const l of USERS) {
                expect(mail("setflags", before.serverAddress, l, who.pw(l), `before the replacement ${run} ${addressOf(l)}`,
                    "\\Seen \\Flagged $Label1").ok).toBe(true);
            }
            mailBefore = mailboxes(before.serverAddress, who, ...USERS);
            dkimBefore = dkimTable();
            onServer(`touch ${MARKER}`);
            const t0 = Date.now();
            r.replace();
            after = testbed();
            steps = remoteSteps(resources());
            console.log(`${r.how}: ${((Date.now() - t0) / 1000).toFixed(0)} s; messages before: ${
                USERS.map((u) => `${u} ${count(mailBefore[u])} in ${Object.keys(mailBefore[u]).length} mailboxes`).join(", ")}`);
        });

        // As the other files expect them: alice's password testbed.json's, bob's the generated one (and no longer his
        // own). By the last test, whose up then puts it in the outputs; here if a test failed before it.
        let reverted = false;
        const revert = (): void => {
            if (reverted) return;
            reverted = true;
            setAlicePassword(alice.old);
            expect(changePassword(BOB, bob.now, bob.old)).toMatchObject({ rc: 0 });
            onServer(`${CTL} password-reset ${BOB} </dev/null`);
        };
        afterAll(revert);

        test("is a new machine behind the same address, reached with the same key", () => {
            expect(after.serverId).toMatch(/^[0-9a-f-]{36}$/);
            expect(after.serverId).not.toBe(before.serverId);
            expect(after.serverAddress).toBe(before.serverAddress);
            expect(sha(after.sshPrivateKeyFile)).toBe(keyBefore);
            expect(onServerStatus(`test -e ${MARKER}`).rc).not.toBe(0);
            r.machine?.(after);
        });

        test("every remote step ran again on it: created anew, with the new server's id in its triggers", () => {
            expect(steps.length).toBe(stepsBefore.size);
            expect(steps.length).toBeGreaterThan(10);
            for (const s of steps) {
                const triggers = s.inputs?.triggers as unknown[] | undefined;
                expect({ step: s.urn, trigger: triggers?.[0] }).toEqual({ step: s.urn, trigger: `testbed-${after.serverId}` });
                expect({ step: s.urn, id: s.id === stepsBefore.get(s.urn) }).toEqual({ step: s.urn, id: false });
            }
            // what the steps made is on the new disk
            expect(onServer("test -x /usr/local/sbin/mailstack-ctl && postconf -h virtual_mailbox_domains")).toMatch(/example\.net/);
        });

        test("every message (its UID and flags), every password (the users' own too) and the DKIM keys are as before", () => {
            const now = mailboxes(after.serverAddress, who, ...USERS);
            expect(now).toEqual(mailBefore);
            expect(USERS.filter((u) => count(mailBefore[u]) === 0)).toEqual([]);
            // the flags set before are among them: the comparison is not of empty lists
            expect(mailBefore[BOB].INBOX.messages.find((m) => m.subject === `before the replacement ${run} ${BOB}`)?.flags)
                .toEqual(["$Label1", "\\Flagged", "\\Seen"]);
            expect(output<Record<string, string>>("systemUserPasswords")).toEqual(stack.system);
            // bob's is his own: the output names it, never his password
            expect(output<Record<string, string>>("virtualUserPasswords")).toEqual({ ...stack.virtual, [BOB]: OWN });
            expect(dkimTable()).toEqual(dkimBefore);
            expect(Object.keys(dkimBefore)).toHaveLength(3);
        });

        test.each(["alice", "alice@example.org", "frank", BOB])("%s logs in on IMAP and 587 (alice and bob with the " +
            "passwords they changed to, not the old ones), what it submits is DKIM-signed with the same keys, and mail from " +
            "outside arrives", (login) => {
            const host = after.serverAddress;
            const old = login === BOB ? bob.old : login.startsWith("alice") ? alice.old : undefined;
            if (old !== undefined) {
                expect(mail("login", host, login, old).ok).toBe(false);
            }
            expect(mail("login", host, login, who.pw(login)).ok).toBe(true);
            const subject = `submitted after the replacement by ${login} ${run}`;
            const reader = "carol@example.net";
            expect(mail("send", host, "587", addressOf(login), reader, subject, login, who.pw(login))).toMatchObject({ ok: true });
            expect(mail("wait", host, reader, who.pw(reader), subject, "30").ok).toBe(true);
            const got = mail("dkim", host, reader, who.pw(reader), subject, JSON.stringify(dkimBefore)) as unknown as
                { signatures: { d: string; verified: boolean }[] };
            expect(got.signatures).toEqual([expect.objectContaining({ d: addressOf(login).split("@")[1], verified: true })]);
            expect(() => deliver(host, who, `from outside after the replacement ${run}`, login)).not.toThrow();
        });

        test("webmail: bob logs in with the password he chose there; Roundcube's users are those of before", async () => {
            await withPage(async (page) => logIn(page, atDomain("example.net"), BOB, bob.now));
            expect(webmailBefore).toContain(BOB);
            expect(webmailUsers()).toBe(webmailBefore);
        });

        test("a second up changes nothing (with alice's and bob's passwords set back: it names bob's no longer)", () => {
            revert();
            expect(pulumi("up", "--yes", "--skip-preview", "--expect-no-changes", ...(r.upArgs ?? [])).status).toBe(0);
            expect(output<Record<string, string>>("virtualUserPasswords")).toEqual(stack.virtual);
        });
    });
}
