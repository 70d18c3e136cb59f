// A replaced server is set up again. Hetzner keeps address and SSH key across a replacement, and so does the test
// server: no input of any remote step changes but the server's identity, which every step carries in its triggers.
// Replaced here with `pulumi up --replace` of the test server: after it, every remote step was created anew (new
// resource ids, the new server's id in the triggers), on a machine that is really new, and mail works there. What
// lives on the volume (every mailbox, with flags) and in the stack's state (passwords, DKIM keys) survives.

import { createHash } from "crypto";
import { readFileSync } from "fs";
import { deliver, dkimTable, logins, mail, mailboxes, onServer, onServerStatus, output, pulumi, resources, Resource,
    serverResource, testbed } from "./testbed";

jest.setTimeout(900_000);

const remoteSteps = (rs: Resource[]): Resource[] => rs.filter((r) => r.type === "command:remote:Command");
const sha = (file: string): string => createHash("sha256").update(readFileSync(file)).digest("hex");
const MARKER = "/root/mailstack-replace-test-old-server";

describe("a replaced server that keeps address and key", () => {
    const before = testbed();
    const keyBefore = sha(before.sshPrivateKeyFile);
    const stepsBefore = new Map(remoteSteps(resources()).map((r) => [r.urn, r.id]));
    let after: ReturnType<typeof testbed>;
    let steps: Resource[];
    // alice changes her password on the server (passwd, not the stack) before the replacement: the volume follows
    const original = before.systemUser.password;
    const changed = `changed-by-hand-${Date.now().toString(36)}`;
    const who = logins({ ...before, systemUser: { ...before.systemUser, password: changed } });
    const { system, virtual } = who;
    const users = ["alice", "frank", "bob@example.net"];
    let mailBefore: unknown;
    let dkimBefore: Record<string, string>;

    const setAlicePassword = (password: string): void => {
        onServer(`printf 'alice:%s\\n' '${password}' | chpasswd
            for i in $(seq 50); do
                [ "$(getent shadow alice | cut -d: -f2)" = "$(awk -F: '$1 == "alice" { print $2 }' /srv/mailstack/accounts/shadow)" ] && exit 0
                sleep 0.2
            done
            echo "the accounts on the volume did not follow the change" >&2; exit 1`);
    };

    afterAll(() => {
        setAlicePassword(original);
    });

    beforeAll(() => {
        setAlicePassword(changed);
        // mail for each kind of account, then what every mailbox holds
        deliver(before.serverAddress, who, "before the replacement", ...users);
        mailBefore = mailboxes(before.serverAddress, who, ...users);
        dkimBefore = dkimTable();
        onServer(`touch ${MARKER}`);
        const r = pulumi("up", "--yes", "--skip-preview", "--replace", serverResource().urn);
        if (r.status !== 0) {
            throw new Error(`up --replace failed:\n${r.stdout.slice(-4000)}\n${r.stderr}`);
        }
        after = testbed();
        steps = remoteSteps(resources());
    });

    test("is a new machine behind the same address, reached with the same key", () => {
        expect(after.serverId).toMatch(/^[0-9a-f-]{36}$/);
        expect(after.serverId).not.toBe(before.serverId);
        expect(after.serverAddress).toBe(before.serverAddress);
        expect(sha(after.sshPrivateKeyFile)).toBe(keyBefore);
        expect(onServerStatus(`test -e ${MARKER}`).rc).not.toBe(0);
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

    test("every message (with its flags), every password and the DKIM keys are the same as before", () => {
        expect(mailboxes(after.serverAddress, who, ...users)).toEqual(mailBefore);
        expect(output<Record<string, string>>("systemUserPasswords")).toEqual(system);
        expect(output<Record<string, string>>("virtualUserPasswords")).toEqual(virtual);
        expect(dkimTable()).toEqual(dkimBefore);
        expect(Object.keys(dkimBefore)).toHaveLength(3);
    });

    test("mail works there: alice (PAM, from before mailstack), frank (made by the stack) and bob (virtual) log in and receive", () => {
        const host = after.serverAddress;
        const users: [string, string, string][] = [
            ["alice", changed, "alice@example.org"],
            ["frank", system["frank@example.org"], "frank@example.org"],
            ["bob@example.net", virtual["bob@example.net"], "bob@example.net"],
        ];
        const run = Date.now().toString(36);
        // the password she set by hand on the old server, not the one the stack last saw
        expect(mail("login", host, "alice", original).ok).toBe(false);
        for (const [user, password, address] of users) {
            expect({ user, login: mail("login", host, user, password).ok }).toEqual({ user, login: true });
            const subject = `after the replacement, to ${address} ${run}`;
            expect(mail("send", host, "25", "someone@client.example", address, subject)).toMatchObject({ ok: true });
            expect({ user, got: mail("wait", host, user, password, subject, "30").ok }).toEqual({ user, got: true });
        }
    });

    test("a second up changes nothing", () => {
        const r = pulumi("up", "--yes", "--skip-preview", "--expect-no-changes");
        expect(r.status).toBe(0);
    });
});
