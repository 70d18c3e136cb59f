// Mail that outlives the server: the test server's mail state is on its volume (a loop device, mounted by the
// same systemd units as a Hetzner volume), restic backs it up to the testbed's sftp target, and the documented
// commands (npm run backup) list, back up and restore it. After `pulumi destroy` and a wiped volume, `up` and the
// restore bring every message back, with its IMAP flags (a new server on the kept volume: replacement.ts).

import { spawnSync } from "child_process";
import { mail, onServer, onServerStatus, output, pulumi, ROOT } from "./testbed";
import { testbed } from "./testbed";

jest.setTimeout(1_200_000);

const run = `${Date.now()}`;
const host = (): string => testbed().serverAddress;

interface Message { subject: string; flags: string[] }
interface Login { user: string; address: string; password: () => string }

const alice: Login = { user: "alice", address: "alice@example.org", password: () => testbed().systemUser.password };
const frank: Login = { user: "frank", address: "frank@example.org",
    password: () => output<Record<string, string>>("systemUserPasswords")["frank@example.org"] };
const virtual = (address: string): Login => ({ user: address, address,
    password: () => output<Record<string, string>>("virtualUserPasswords")[address] });
const bob = virtual("bob@example.net");
const carol = virtual("carol@example.net");
const everyone = [alice, frank, bob, carol];

function box(who: Login): Message[] {
    const r = mail("flags", host(), who.user, who.password()) as unknown as { ok: boolean; messages: Message[] };
    expect(r.ok).toBe(true);
    return r.messages;
}
const boxes = (): Record<string, Message[]> => Object.fromEntries(everyone.map((w) => [w.user, box(w)]));
const counts = (b: Record<string, Message[]>): Record<string, number> =>
    Object.fromEntries(Object.entries(b).map(([k, v]) => [k, v.length]));

function deliver(who: Login, subject: string): void {
    expect(mail("send", host(), "25", "someone@client.example", who.address, subject)).toMatchObject({ ok: true });
    expect(mail("wait", host(), who.user, who.password(), subject)).toMatchObject({ ok: true });
}

function backup(...args: string[]): { status: number; out: string } {
    const r = spawnSync("bash", ["scripts/backup", "--stack", "local", ...args], { cwd: ROOT, encoding: "utf8" });
    return { status: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

function testbedCmd(...args: string[]): void {
    const r = spawnSync("bash", ["scripts/testbed", ...args], { cwd: ROOT, encoding: "utf8" });
    expect({ args, status: r.status, err: r.status === 0 ? "" : r.stderr }).toEqual({ args, status: 0, err: "" });
}

function up(): void {
    const r = pulumi("up", "--yes", "--skip-preview");
    expect({ status: r.status, err: r.status === 0 ? "" : r.stdout.slice(-3000) + r.stderr }).toEqual({ status: 0, err: "" });
}

function destroy(): void {
    const r = pulumi("destroy", "--yes", "--skip-preview");
    expect({ status: r.status, err: r.stderr }).toEqual({ status: 0, err: "" });
}

describe("mail state on the volume, backups and restores", () => {
    test("the mail state is on the volume, mounted by systemd before postfix and dovecot", () => {
        const src = (p: string): string => onServer(`findmnt -n -o SOURCE --mountpoint ${p}`).trim();
        expect(src("/srv/mailstack")).toBe("/dev/mailstack-volume");
        expect(src("/home")).toBe("/dev/mailstack-volume[/home]");
        expect(src("/var/mail/vhosts")).toBe("/dev/mailstack-volume[/vhosts]");
        expect(src("/etc/letsencrypt")).toBe("/dev/mailstack-volume[/letsencrypt]");
        // postfix and dovecot wait for the mounts, and would not start without them
        expect(onServer("systemctl show -P RequiresMountsFor dovecot.service")).toContain("/var/mail/vhosts");
        expect(onServer("systemctl show -P After postfix@-.service")).toContain("home.mount");
        // alice's mail from before mailstack moved onto the volume, with her folder
        expect(box(alice).map((m) => m.subject)).toContain("old mail that must survive");
        expect(mail("folder", host(), "alice", alice.password(), "subjects", "Archive/2023").subjects)
            .toEqual(["archived before mailstack"]);
    });

    test("restoring one mailbox brings its messages and flags back and leaves the others untouched", () => {
        for (const who of everyone) {
            deliver(who, `before backup ${who.user} ${run}`);
        }
        expect(mail("setflags", host(), "bob@example.net", bob.password(), `before backup bob@example.net ${run}`,
            "\\Seen \\Flagged $Label1")).toMatchObject({ ok: true });
        expect(mail("setflags", host(), "alice", alice.password(), `before backup alice ${run}`, "\\Answered"))
            .toMatchObject({ ok: true });
        const now = backup("now");
        expect(now).toMatchObject({ status: 0 });
        expect(backup("list").out).toMatch(/mailstack/);
        const before = boxes();
        expect(before["bob@example.net"].find((m) => m.subject.startsWith("before backup"))?.flags)
            .toEqual(["$Label1", "\\Flagged", "\\Seen"]);

        // bob loses everything; mail keeps arriving for him and carol after the snapshot
        expect(mail("expunge", host(), "bob@example.net", bob.password())).toMatchObject({ ok: true });
        expect(box(bob)).toEqual([]);
        deliver(bob, `after backup bob ${run}`);
        deliver(carol, `after backup carol ${run}`);
        const carolBefore = box(carol);
        const others = { alice: box(alice), frank: box(frank) };

        const t0 = Date.now();
        const r = backup("restore", "--mailbox", "bob@example.net");
        expect(r).toMatchObject({ status: 0 });
        console.log(`restore of bob's mailbox: ${Date.now() - t0} ms; ${r.out.trim().split("\n").slice(-2).join(" ")}`);
        const after = box(bob);
        // every message of the snapshot with its flags, and the one that came later
        expect(after.filter((m) => !m.subject.startsWith("after backup"))).toEqual(before["bob@example.net"]);
        expect(after.map((m) => m.subject)).toContain(`after backup bob ${run}`);
        expect(box(carol)).toEqual(carolBefore);
        expect({ alice: box(alice), frank: box(frank) }).toEqual(others);
        expect(onServer("stat -c %U:%G /var/mail/vhosts/example.net/bob /var/mail/vhosts/example.net/bob/cur"))
            .toBe("vmail:vmail\nvmail:vmail\n");
        // and he can use it: new mail is delivered into the restored mailbox
        deliver(bob, `after restore bob ${run}`);
    });

    // A new server that finds the volume (its mail, flags and accounts) is replacement.ts's: the replace and switch
    // tests check every message with its UID and flags, and the users' own passwords, on the new server. Here the
    // new server finds a blank volume, and the backup brings the mail back.
    test("pulumi destroy, a wiped volume, up and the documented restore: every message back, with flags", () => {
        expect(backup("now")).toMatchObject({ status: 0 });
        const before = boxes();
        destroy();
        testbedCmd("volume-wipe");
        up();
        // a blank volume: only what the new server brings (alice's pre-existing mail, from the test server image)
        expect(box(bob)).toEqual([]);
        expect(box(frank)).toEqual([]);
        const t0 = Date.now();
        const r = backup("restore");
        expect(r).toMatchObject({ status: 0 });
        const after = boxes();
        console.log(`destroy + wiped volume + up + restore (${Date.now() - t0} ms): before ${JSON.stringify(counts(before))}, ` +
            `after ${JSON.stringify(counts(after))}`);
        expect(after).toEqual(before);
        deliver(frank, `after full restore frank ${run}`);
    });

    test("a failed backup is mailed to adminEmail", () => {
        const moved = onServerStatus("mv /etc/mailstack/backup/password /etc/mailstack/backup/password.away && " +
            "systemctl start mailstack-backup.service");
        try {
            expect(moved.rc).not.toBe(0);
            expect(mail("wait", host(), "alice", alice.password(), "mailstack backup FAILED on mail.example.org", "60"))
                .toMatchObject({ ok: true });
            // `backup now` shows the log of its own run only, never an earlier run's "backup done"
            const failed = backup("now");
            expect(failed.status).not.toBe(0);
            expect(failed.out).not.toMatch(/backup done/);
            expect(failed.out).toMatch(/password/i);
        } finally {
            onServer("mv /etc/mailstack/backup/password.away /etc/mailstack/backup/password");
        }
        expect(backup("now")).toMatchObject({ status: 0 });
        // a successful run leaves its stamp, which the doctor's backup check reads
        expect(onServer("find /var/lib/mailstack/last-backup -mmin -5")).toBe("/var/lib/mailstack/last-backup\n");
        expect(onServer("systemctl show -P TimeoutStartUSec mailstack-backup.service")).toBe("6h\n");
    });
});
