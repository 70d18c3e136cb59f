// An interrupted `up` converges (issue 25). The engine is killed with SIGKILL (its whole process tree, as a power cut
// would: the ssh sessions close, what runs on the server goes on) the moment it starts a named step (its event
// log): twice in a row while an `up` adds a domain and users (certbot running, postfix's new config being applied),
// and once while the next one removes them again (the deletes). Each time the same command is simply run again:
// scripts/run removes the dead run's lock and clears its pending operations first (one line each), and that run
// redoes the work. After the last, no pending operation is left, `preview --expect-no-changes` passes, nothing of
// a killed step is left on the server (lock, temporary file, process, failed unit), and mail flows with the
// earlier mail still there. A kill during a fresh `up` (server creation, package install): robust.test.ts, which
// makes a new server anyway.

import * as path from "path";
import { configVariant, deliver, killedAt, logins, mail, onServer, pulumi, ROOT, testbed } from "./testbed";

jest.setTimeout(900_000);

const host = testbed().serverAddress;
const VARIANT = configVariant("interrupt", [["mailstack:virtualDomains[2]", "example.info"],
    ["mailstack:virtualUsers[4]", "zoe@example.info"], ["mailstack:systemUsers[1]", "yann"]]);
const EARLIER = `before the interrupts ${Date.now().toString(36)}`;

/** What each kill left in the state, for the closing line: the kill point and the pending operations. */
const kills: { at: string; pending: string[]; secondsToKill: number }[] = [];

function pendingOperations(): { type: string; resource: { urn: string } }[] {
    const state = pulumi("stack", "export");
    expect(state.status).toBe(0);
    return (JSON.parse(state.stdout) as { deployment: { pending_operations?: { type: string; resource: { urn: string } }[] } })
        .deployment.pending_operations ?? [];
}

/** How many pending operations the last kill left; undefined when the last run was not killed. */
let leftByLastKill: number | undefined;

/** A run after a kill says what it cleared first: the dead run's lock, and its pending operations if it left any. */
function recovered(out: string): void {
    if (leftByLastKill === undefined) return;
    expect(out).toMatch(/an earlier run on local was interrupted \(pid [0-9]+ is gone\): removing its lock/);
    if (leftByLastKill > 0) {
        expect(out).toContain(`an earlier run on local was interrupted in ${leftByLastKill} step(s): clearing them`);
    } else {
        expect(out).not.toContain("step(s): clearing them");
    }
}

const EVENTS = path.join(ROOT, ".local", "interrupt-events.jsonl");
// `up --event-log` is one of the engine's debug flags
process.env.PULUMI_DEBUG_COMMANDS = "true";

/**
 * `up` (with ARGS) through scripts/run, as `npm run pulumi -- up` runs it, killed the moment the engine starts OP
 * (create, update, delete, create-replacement) on the step NAME; it starts with the recovery from the kill before
 * it, if any.
 */
async function upKilledAt(op: string, name: string, ...args: string[]): Promise<void> {
    const at = new RegExp(`"resourcePreEvent".*"op":"${op}".*::${name}"|"resourcePreEvent".*::${name}".*"op":"${op}"`);
    const t0 = Date.now();
    const r = await killedAt(["bash", "scripts/run", "pulumi", "up", "--yes", "--skip-preview", "--stack", "local",
        "--non-interactive", "--event-log", EVENTS, ...args], at, { events: EVENTS });
    // killed, not finished (or failed) before the step started; and nothing of it is left alive
    expect({ op, name, killed: r.killed, survivors: r.survivors, ...(r.killed ? {} : { out: r.out.slice(-3000) }) })
        .toEqual({ op, name, killed: true, survivors: [] });
    recovered(r.out);
    const pending = pendingOperations().map((o) => `${o.type} ${o.resource.urn.split("::").pop()}`);
    kills.push({ at: `${op} ${name}`, pending, secondsToKill: Math.round((Date.now() - t0) / 1000) });
    leftByLastKill = pending.length;
}

/** The run that finishes the work, after the kills. */
function upAfterKills(...args: string[]): { status: number; stdout: string; stderr: string } {
    const r = pulumi("up", "--yes", "--skip-preview", ...args);
    recovered(r.stderr);
    leftByLastKill = undefined;
    return r;
}

/** The run that finishes: nothing pending warned about, and after it no pending operation, no lock, no changes. */
function converged(r: { status: number; stdout: string; stderr: string }): void {
    expect({ status: r.status, ...(r.status === 0 ? {} : { out: r.stdout.slice(-3000), err: r.stderr }) }).toEqual({ status: 0 });
    expect(r.stdout).not.toContain("pending operations");
    expect(pendingOperations()).toEqual([]);
    const preview = pulumi("preview", "--expect-no-changes", "--config-file", currentConfig);
    expect({ status: preview.status, ...(preview.status === 0 ? {} : { out: preview.stdout.slice(-3000) }) }).toEqual({ status: 0 });
    expect(preview.stdout + preview.stderr).not.toContain("pending operations");
    // nothing of a killed step left on the server: a lock held, a temporary file, a process, an interrupted dpkg,
    // a failed unit
    expect(onServer(`for f in /run/lock/mailstack/*; do flock -n "$f" true || echo "held: $f"; done
        pgrep -af 'mailstack-ctl|certbot|apt-get|dpkg' || true
        find /etc/postfix /etc/dovecot /etc/rspamd /etc/nginx /etc/mailstack /var/lib/mailstack /usr/local/sbin \\
            -regextype posix-extended -regex '.*[.](mailstack[.][0-9]+|new([.][0-9]+)?)([.]db)?'
        dpkg --audit
        systemctl --failed --no-legend --plain`)).toBe("");
    expect(onServer("systemctl is-system-running || true").trim()).toBe("running");
}

let currentConfig = VARIANT;

describe("an up killed several times converges when run again", () => {
    beforeAll(() => {
        deliver(host, logins(), EARLIER, "bob@example.net");
    });

    afterAll(() => {
        // the figures of every kill: where, and what it left pending
        console.log(kills.map((k, i) => `kill ${i + 1} at ${k.at} after ${k.secondsToKill} s: ` +
            `${k.pending.length} pending${k.pending.length ? ` (${k.pending.join(", ")})` : ""}`).join("\n"));
    });

    test("adding a domain and users: killed while certbot runs, then while postfix's new config is applied", async () => {
        currentConfig = VARIANT;
        // the new domain's own certificate (a lineage per domain): the hostname's is not touched
        await upKilledAt("create", "mail-certificate-example.info", "--config-file", VARIANT);
        await upKilledAt("create-replacement", "mail-postfix-apply", "--config-file", VARIANT);
        converged(upAfterKills("--config-file", VARIANT));
        // the new user gets mail, the new name is in the certificate, the earlier mail is still there
        const who = logins();
        deliver(host, who, "after the interrupts", "bob@example.net", "zoe@example.info", "yann");
        expect(mail("cert", host, "143", "imap", testbed().acmeRoot, "mail.example.info").names).toContain("mail.example.info");
        expect(mail("wait", host, "bob@example.net", who.pw("bob@example.net"), `${EARLIER} bob@example.net`, "5")).toMatchObject({ ok: true });
    });

    test("removing them again: killed when the deletes start (the system user is locked)", async () => {
        currentConfig = path.join(ROOT, "Pulumi.local.yaml");
        await upKilledAt("delete", "mail-users-yann");
        converged(upAfterKills());
        const who = logins();
        expect(who.virtual["zoe@example.info"]).toBeUndefined();
        expect(onServer("cat /etc/mailstack/locked-users")).toContain("yann");
        deliver(host, who, "after the removal", "bob@example.net");
        expect(mail("wait", host, "bob@example.net", who.pw("bob@example.net"), `${EARLIER} bob@example.net`, "5")).toMatchObject({ ok: true });
    });
});
