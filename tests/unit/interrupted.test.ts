// What scripts/run does before an `up` after an interrupted one (issue 25), on a file backend of its own: the lock
// of a dead process goes, a live process's lock stays; the state's metadata file left empty goes; a pending create of a Hetzner resource stops the run with
// the commands that resolve it, and the state is left as it was. (The clearing of pending remote steps, which
// runs the engine against the server, is tests/e2e/interrupt.test.ts.)

import { spawnSync } from "child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "fs";
import { hostname, tmpdir } from "os";
import * as path from "path";

jest.setTimeout(60_000);

const ROOT = path.join(__dirname, "..", "..");
const SERVER = "urn:pulumi:box::mailstack::mailstack:index:MailServer$hcloud:index/server:Server::mail-server";

let backend: string;
const lockDir = (): string => path.join(backend, ".pulumi", "locks", "organization", "mailstack", "box");
const stateFile = (): string => path.join(backend, ".pulumi", "stacks", "mailstack", "box.json");

function writeState(pending: { type: string; urn: string; resourceType: string }[]): void {
    mkdirSync(path.dirname(stateFile()), { recursive: true });
    writeFileSync(path.join(backend, ".pulumi", "meta.yaml"), "version: 1\n");
    writeFileSync(stateFile(), JSON.stringify({
        version: 3,
        checkpoint: {
            stack: "organization/mailstack/box",
            latest: {
                manifest: { time: "2026-12-06T00:00:00Z", magic: "", version: "v3.274.1" },
                resources: [],
                pending_operations: pending.map((p) => ({
                    resource: { urn: p.urn, custom: true, type: p.resourceType }, type: p.type,
                })),
            },
        },
    }));
}

/** A lock as the engine writes it: by the process PID, once started; AT defaults to now. */
function writeLock(name: string, pid: number, at = new Date()): string {
    mkdirSync(lockDir(), { recursive: true });
    const file = path.join(lockDir(), `${name}.json`);
    writeFileSync(file, JSON.stringify({ pid, username: "root", hostname: hostname(), timestamp: at.toISOString() }));
    return file;
}

/** A process named pulumi (what scripts/run looks for), as the engine's own would be: sleep under that name. */
function fakePulumi(): string {
    const fake = path.join(backend, "pulumi");
    copyFileSync("/bin/sleep", fake);
    chmodSync(fake, 0o755);
    return fake;
}

function up(): { status: number; out: string } {
    const r = spawnSync("bash", [path.join(ROOT, "scripts", "run"), "pulumi", "up", "--stack", "box", "--yes",
        "--config-file", path.join(backend, "Pulumi.box.yaml")], {
        cwd: ROOT, encoding: "utf8",
        env: { ...process.env, PULUMI_BACKEND_URL: `file://${backend}`, PULUMI_CONFIG_PASSPHRASE: "unit-test" },
    });
    return { status: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

beforeEach(() => {
    backend = mkdtempSync(path.join(tmpdir(), "mailstack-interrupted-"));
    // a valid config, in a copy (the engine writes its salt into it)
    copyFileSync(path.join(ROOT, "Pulumi.prod.yaml"), path.join(backend, "Pulumi.box.yaml"));
});
afterEach(() => {
    rmSync(backend, { recursive: true, force: true });
});

test("a dead run's lock is removed; a pending Hetzner server creation stops the run and says how to resolve it", () => {
    writeState([{ type: "creating", urn: SERVER, resourceType: "hcloud:index/server:Server" }]);
    const lock = writeLock("dead", 2 ** 22 + 1); // above pid_max's default: no such process
    const before = readFileSync(stateFile(), "utf8");
    const r = up();
    expect(r.status).toBe(1);
    expect(r.out).toContain("an earlier run on box was interrupted (pid 4194305 is gone): removing its lock (pulumi cancel)");
    expect(existsSync(lock)).toBe(false);
    expect(r.out).toContain(`interrupted while creating Hetzner resources that may exist without the\nstate knowing them: ${SERVER}`);
    expect(r.out).toContain(`refresh --stack box --import-pending-creates URN ID`);
    expect(r.out).toContain(`refresh --stack box --clear-pending-creates`);
    expect(r.out).not.toContain("clearing them");
    expect(readFileSync(stateFile(), "utf8")).toBe(before);
});

test("a state metadata file left empty by a kill is removed, and the state reads again", () => {
    writeState([]);
    const attrs = `${stateFile()}.attrs`;
    writeFileSync(attrs, "");
    const r = spawnSync("bash", [path.join(ROOT, "scripts", "run"), "pulumi", "stack", "export", "--stack", "box"], {
        cwd: ROOT, encoding: "utf8", env: { ...process.env, PULUMI_BACKEND_URL: `file://${backend}` },
    });
    expect(r.stderr).toContain("an earlier run on box was killed while it wrote box.json.attrs: removing that empty file");
    expect(r.status).toBe(0);
    expect(existsSync(attrs)).toBe(false);
});

test("the lock of a run still going is left to the engine, which refuses with its own message", () => {
    writeState([]);
    const fake = fakePulumi();
    const sleeper = spawnSync("bash", ["-c", `"${fake}" 30 >/dev/null 2>&1 & echo $!`], { encoding: "utf8" });
    const pid = Number(sleeper.stdout.trim());
    try {
        const lock = writeLock("live", pid);
        const r = up();
        expect(r.status).not.toBe(0);
        expect(r.out).not.toContain("removing its lock");
        expect(r.out).toContain("the stack is currently locked by 1 lock(s)");
        expect(existsSync(lock)).toBe(true);
    } finally {
        process.kill(pid, "SIGKILL");
    }
});

// What a killed run can leave that still reads as a pulumi with the lock's pid: none of it keeps the lock.
test("a killed holder not yet reaped (a zombie), or its pid reused by a later pulumi: the lock is removed", () => {
    writeState([]);
    const fake = fakePulumi();
    // the zombie: a child killed under a parent (exec'd into sleep) that never reaps it
    const made = spawnSync("bash", ["-c", `bash -c '"${fake}" 60 >/dev/null 2>&1 & echo $! $$; exec sleep 60 >/dev/null 2>&1' &`],
        { encoding: "utf8" });
    const [zombie, parent] = made.stdout.trim().split(" ").map(Number);
    // a pulumi that started a minute after the lock was taken: the pid of a holder long gone, reused
    const later = spawnSync("bash", ["-c", `"${fake}" 60 >/dev/null 2>&1 & echo $!`], { encoding: "utf8" });
    const reused = Number(later.stdout.trim());
    try {
        process.kill(zombie, "SIGKILL");
        const state = (): string => readFileSync(`/proc/${zombie}/stat`, "utf8").replace(/.*\) /s, "").split(" ")[0];
        for (const t0 = Date.now(); state() !== "Z" && Date.now() - t0 < 10_000;) spawnSync("sleep", ["0.1"]);
        expect(state()).toBe("Z");
        for (const [name, pid, at] of [["zombie", zombie, new Date()], ["reused", reused, new Date(Date.now() - 60_000)]] as const) {
            const lock = writeLock(name, pid, at);
            const r = up();
            expect([name, r.out]).toEqual([name, expect.stringContaining(`an earlier run on box was interrupted (pid ${pid} is gone): removing its lock`)]);
            expect(r.out).not.toContain("currently locked");
            expect(existsSync(lock)).toBe(false);
        }
    } finally {
        process.kill(reused, "SIGKILL");
        process.kill(parent, "SIGKILL");
    }
});
