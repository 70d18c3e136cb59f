// Moving the server to a new Debian release the way a user does: `host.suite` bookworm -> trixie in the stack's
// config (on Hetzner: `image` debian-12 -> debian-13), then `pulumi up`. The test server is deleted and a Debian 13
// one comes up behind the same address and key; the volume moves over. Every message (UIDs and flags too, what
// clients cache), every password, the DKIM keys and the logins must be as before, and mail works on the new machine.
// It leaves the server on trixie: scripts/test runs it on its own, after the other end-to-end files and before
// destroy.test.ts, and only in the bookworm run.

import { createHash } from "crypto";
import { copyFileSync, readFileSync, rmSync } from "fs";
import * as path from "path";
import {
    addressOf, deliver, dkimTable, logins, mail, mailboxes, Mailbox, onServer, pulumi, ROOT, testbed,
} from "./testbed";

jest.setTimeout(1_800_000);

// The user's path is the config: MAILSTACK_SUITE (a shortcut of `npm run local`) would override it.
delete process.env.MAILSTACK_SUITE;
const CONFIG = path.join(ROOT, ".local", "Pulumi.local.switch.yaml");
const sha = (file: string): string => createHash("sha256").update(readFileSync(file)).digest("hex");
const users = ["alice", "frank", "bob@example.net"];
const count = (m: Record<string, Mailbox>): number => Object.values(m).reduce((n, b) => n + b.messages.length, 0);
const shadow = (): string => onServer("getent shadow alice | cut -d: -f2").trim();

describe("switching the server from Debian 12 to 13 in config", () => {
    const before = testbed();
    const keyBefore = sha(before.sshPrivateKeyFile);
    const who = logins(before);
    const run = Date.now().toString(36);
    let after: ReturnType<typeof testbed>;
    let mailBefore: Record<string, Record<string, Mailbox>>;
    let dkimBefore: Record<string, string>;
    let shadowBefore: string;

    beforeAll(() => {
        expect(before.suite).toBe("bookworm");
        deliver(before.serverAddress, who, `before the switch ${run}`, ...users);
        // flags and keywords a client set, one message each
        for (const l of users) {
            expect(mail("setflags", before.serverAddress, l, who.pw(l), `before the switch ${run} ${addressOf(l)}`,
                "\\Seen \\Flagged $Label1").ok).toBe(true);
        }
        mailBefore = mailboxes(before.serverAddress, who, ...users);
        dkimBefore = dkimTable();
        shadowBefore = shadow();
        copyFileSync(path.join(ROOT, "Pulumi.local.yaml"), CONFIG);
        const set = pulumi("config", "set", "--path", "mailstack:host.suite", "trixie", "--config-file", CONFIG);
        expect(set.status).toBe(0);
        const t0 = Date.now();
        const r = pulumi("up", "--yes", "--skip-preview", "--config-file", CONFIG);
        if (r.status !== 0) {
            throw new Error(`up after the switch failed:\n${r.stdout.slice(-6000)}\n${r.stderr}`);
        }
        after = testbed();
        console.log(`switch bookworm -> trixie: up took ${((Date.now() - t0) / 1000).toFixed(0)} s; messages before: ${
            users.map((u) => `${u} ${count(mailBefore[u])} in ${Object.keys(mailBefore[u]).length} mailboxes`).join(", ")}`);
    });

    afterAll(() => rmSync(CONFIG, { force: true }));

    test("a new machine, on Debian 13 with dovecot 2.4, behind the same address and key", () => {
        expect(after.serverId).not.toBe(before.serverId);
        expect(after.suite).toBe("trixie");
        expect(onServer("cat /etc/debian_version")).toMatch(/^13\./);
        expect(onServer(". /etc/os-release && echo $VERSION_CODENAME").trim()).toBe("trixie");
        expect(onServer("dovecot --version")).toMatch(/^2\.4\./);
        expect(after.serverAddress).toBe(before.serverAddress);
        expect(sha(after.sshPrivateKeyFile)).toBe(keyBefore);
    });

    test("every mailbox of alice (PAM), frank (system) and bob (virtual): every message, its UID and flags", () => {
        const now = mailboxes(after.serverAddress, who, ...users);
        console.log(`messages after: ${users.map((u) => `${u} ${count(now[u])}`).join(", ")}`);
        expect(now).toEqual(mailBefore);
        expect(users.filter((u) => count(mailBefore[u]) === 0)).toEqual([]);
        // the flags set before are among them: the comparison is not of empty lists
        expect(mailBefore["bob@example.net"].INBOX.messages.find((m) => m.subject === `before the switch ${run} bob@example.net`)
            ?.flags).toEqual(["$Label1", "\\Flagged", "\\Seen"]);
    });

    test("every password: the stack's, and alice's own hash (PAM) from the old server", () => {
        expect(logins(after)).toMatchObject({ system: who.system, virtual: who.virtual });
        expect(shadow()).toBe(shadowBefore);
    });

    test.each(["alice", "alice@example.org", "frank", "bob@example.net"])("%s logs in on IMAP (143) and submission (587), and what it submits is DKIM-signed with the same keys", (login) => {
        const host = after.serverAddress;
        expect(dkimTable()).toEqual(dkimBefore);
        expect(Object.keys(dkimBefore)).toHaveLength(3);
        expect(mail("login", host, login, who.pw(login)).ok).toBe(true);
        const subject = `submitted after the switch by ${login} ${run}`;
        const reader = "bob@example.net";
        expect(mail("send", host, "587", addressOf(login), reader, subject, login, who.pw(login))).toMatchObject({ ok: true });
        expect(mail("wait", host, reader, who.pw(reader), subject, "30").ok).toBe(true);
        const got = mail("dkim", host, reader, who.pw(reader), subject, JSON.stringify(dkimBefore)) as unknown as
            { signatures: { d: string; verified: boolean }[] };
        expect(got.signatures).toEqual([expect.objectContaining({ d: addressOf(login).split("@")[1], verified: true })]);
    });

    test("new mail from outside reaches each of them", () => {
        expect(() => deliver(after.serverAddress, who, `after the switch ${run}`, ...users)).not.toThrow();
    });

    test("a second up with the same config changes nothing", () => {
        const r = pulumi("up", "--yes", "--skip-preview", "--expect-no-changes", "--config-file", CONFIG);
        expect(r.status).toBe(0);
    });
});
