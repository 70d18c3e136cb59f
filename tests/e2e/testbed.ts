// The local test server as the end-to-end tests see it: everything runs in the client network namespace, the
// only place that reaches the server (see scripts/testbed).

import { execFileSync, spawn, spawnSync } from "child_process";
import { copyFileSync, readdirSync, readFileSync, writeFileSync } from "fs";
import * as path from "path";
import { DnsRecord } from "../../components/render/records";

export const ROOT = path.join(__dirname, "..", "..");

/** The test server's namespace names, chosen as scripts/lib.sh does (a worktree may pick its own). */
function testbedName(): string {
    if (process.env.MAILSTACK_TESTBED) return process.env.MAILSTACK_TESTBED;
    try {
        return readFileSync(path.join(ROOT, ".local", "testbed-name"), "utf8").trim() || "mailstack";
    } catch {
        return "mailstack";
    }
}
export const TESTBED_NAME = testbedName();
/** Whether the committed local stack serves webmail (Pulumi.local.yaml's mailstack:webmail): its names are on the
 * certificates and in the DNS records. */
export const WEBMAIL = /^\s*mailstack:webmail: true$/m.test(readFileSync(path.join(ROOT, "Pulumi.local.yaml"), "utf8"));
export const CLIENT_NETNS = `${testbedName()}-client`;
export const SERVER_NETNS = `${testbedName()}-server`;

export interface Testbed {
    /** New with every server that server-up makes; address and key stay across a replacement, as on Hetzner. */
    serverId: string;
    serverAddress: string;
    clientNetns: string;
    /** Where the tests' outside mail comes from (the client namespace). */
    clientAddress: string;
    sshPrivateKeyFile: string;
    sshKnownHostsFile: string;
    systemUser: { name: string; password: string; address: string };
    acmeListenerCaFile: string;
    /** Pebble's current root (it makes a new one at every start), saved by scripts/testbed at client-up. */
    acmeRoot: string;
    /** Path ON THE SERVER of the CA bundle that certbot needs to talk to Pebble (REQUESTS_CA_BUNDLE). */
    caBundle: string;
    names: string[];
    hostname: string;
    baseDomain: string;
    suite: string;
}

export function testbed(): Testbed {
    return JSON.parse(readFileSync(path.join(ROOT, ".local", "testbed.json"), "utf8")) as Testbed;
}

function inClient(cmd: string[], input?: string): { status: number; stdout: string; stderr: string } {
    // env: this test file's process.env (jest gives each file its own copy), so that a variable a test removes
    // (switch.test.ts: MAILSTACK_SUITE) is gone for the commands it runs too; the default is the runner's.
    const r = spawnSync("ip", ["netns", "exec", CLIENT_NETNS, ...cmd], {
        cwd: ROOT, input, encoding: "utf8", maxBuffer: 64 * 1024 * 1024, env: process.env,
    });
    return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export interface ClientResult {
    ok: boolean;
    /** send: the queue id the server answered with ("queued as ..."). */
    queued?: string;
    subjects?: string[];
    code?: number;
    error?: string;
    issuer?: string;
    names?: string[];
    serial?: string;
    version?: string;
}

export const MAILCLIENT = path.join(__dirname, "mailclient.py");

/** One call of tests/e2e/mailclient.py (Python's imaplib/smtplib) from the client namespace. */
export function mail(...args: string[]): ClientResult {
    const r = inClient(["/usr/bin/python3", MAILCLIENT, ...args]);
    if (r.status !== 0) {
        throw new Error(`mailclient ${args[0]} failed (${r.status}): ${r.stderr}`);
    }
    return JSON.parse(r.stdout) as ClientResult;
}

/** `pulumi ARGS --stack local` through scripts/run, from the client namespace. */
export function pulumi(...args: string[]): { status: number; stdout: string; stderr: string } {
    return inClient(["bash", "scripts/run", "pulumi", ...args, "--stack", "local", "--non-interactive"]);
}

/**
 * Whether the local stack's state (the file backend scripts/lib.sh points at ROOT) records a pending operation: read
 * from the file, not through `pulumi stack export`, as it is polled while a run is going.
 */
export function statePending(): boolean {
    const stacks = path.join(ROOT, ".pulumi", "stacks");
    return readdirSync(stacks).some((project) => {
        try {
            return readFileSync(path.join(stacks, project, "local.json"), "utf8").includes('"pending_operations"');
        } catch {
            return false; // no local stack in this project, or the engine replacing the file right now
        }
    });
}

export function output<T>(name: string): T {
    const r = pulumi("stack", "output", name, "--show-secrets", "--json");
    if (r.status !== 0) {
        throw new Error(`stack output ${name}: ${r.stderr}`);
    }
    return JSON.parse(r.stdout) as T;
}

export interface Logins {
    alice: Testbed["systemUser"];
    virtual: Record<string, string>;
    system: Record<string, string>;
    /** The password of any login form: `alice`, `alice@example.org`, `frank`, `bob@example.net`. */
    pw: (login: string) => string;
}

/** Every account's password: alice's from the testbed, the others' from the stack's outputs. */
export function logins(t: Testbed = testbed()): Logins {
    const virtual = output<Record<string, string>>("virtualUserPasswords");
    const system = output<Record<string, string>>("systemUserPasswords");
    const alice = t.systemUser;
    const base = alice.address.split("@")[1];
    const pw = (login: string): string =>
        [alice.name, alice.address].includes(login) ? alice.password : virtual[login] ?? system[login] ?? system[`${login}@${base}`];
    return { alice, virtual, system, pw };
}

/** A command inside the test server through its systemd's namespaces (scripts/testbed guest): no ssh session. */
export function inGuest(...cmd: string[]): string {
    const r = spawnSync("bash", [path.join(ROOT, "scripts", "testbed"), "guest", ...cmd], { cwd: ROOT, encoding: "utf8" });
    if (r.status !== 0) {
        throw new Error(`in guest: ${cmd.join(" ")}: ${r.stderr}`);
    }
    return r.stdout;
}

/** The read-only SSH sessions of every up and preview: the state check (components/serverState.ts), and the
 * program's read of the users who chose their own password (OWN_LOGINS_SCRIPT, for the password outputs). */
export const READS = 2;

/** ssh sessions the test server has accepted so far (sshd's journal): every remote command of the stack opens one. */
export function sshSessions(): number {
    // OpenSSH 10 (Debian 13) logs sessions as sshd-session
    return inGuest("journalctl", "--quiet", "--no-pager", "--output=cat", "SYSLOG_IDENTIFIER=sshd",
        "SYSLOG_IDENTIFIER=sshd-session")
        .split("\n").filter((l) => l.startsWith("Accepted publickey")).length;
}

/** A command on the test server, as root over ssh. */
export function onServer(script: string): string {
    const r = ssh(script);
    if (r.status !== 0) {
        throw new Error(`on server: ${script}: ${r.stderr}`);
    }
    return r.stdout;
}

/** A command on the test server: its combined output and exit status (never throws on status). */
export function onServerStatus(script: string): { rc: number; out: string } {
    const r = ssh(`{ ${script}\n} 2>&1`);
    return { rc: r.status, out: r.stdout };
}

function ssh(script: string): { status: number; stdout: string; stderr: string } {
    const t = testbed();
    return inClient(["ssh", "-i", t.sshPrivateKeyFile, "-o", `UserKnownHostsFile=${t.sshKnownHostsFile}`,
        "-o", "BatchMode=yes", `root@${t.serverAddress}`, "sh", "-s"], script);
}

/** Pebble's current root, which its issued certificates chain to (it makes a new one at every start). */
export function pebbleRoot(file: string): string {
    const t = testbed();
    const pem = execFileSync("ip", ["netns", "exec", CLIENT_NETNS, "curl", "-fsS", "--cacert", t.acmeListenerCaFile,
        "https://192.0.2.1:15000/roots/0"], { encoding: "utf8" });
    writeFileSync(file, pem);
    return file;
}

export interface Resource { urn: string; type: string; id?: string; inputs?: Record<string, unknown> }

/** Every resource of the local stack's state, secrets shown. */
export function resources(): Resource[] {
    const r = pulumi("stack", "export", "--show-secrets");
    if (r.status !== 0) {
        throw new Error(`stack export: ${r.stderr}`);
    }
    return (JSON.parse(r.stdout) as { deployment: { resources: Resource[] } }).deployment.resources;
}

/** The stack's resource that is the test server (scripts/testbed server-up, see components/host.ts). */
export function serverResource(): Resource {
    const found = resources().filter((r) => r.type === "command:local:Command" && r.urn.endsWith("::mail-server"));
    if (found.length !== 1) {
        throw new Error(`${found.length} test server resources in the stack`);
    }
    return found[0];
}

export interface Mailbox {
    uidvalidity: number;
    messages: { uid: number; subject: string; flags: string[] }[];
}

/** What a client caches of each LOGIN's mail: every mailbox, its UIDVALIDITY, each message's UID, subject, flags. */
export function mailboxes(host: string, who: Logins, ...login: string[]): Record<string, Record<string, Mailbox>> {
    return Object.fromEntries(login.map((l) =>
        [l, (mail("mailboxes", host, l, who.pw(l)) as unknown as { mailboxes: Record<string, Mailbox> }).mailboxes]));
}

/** The DKIM TXT records of `dnsRecords`, name -> value (a long key's strings joined), as dkimpy looks them up. */
export function dkimTable(records = output<{ name: string; value: string; strings?: string[] }[]>("dnsRecords")):
    Record<string, string> {
    return Object.fromEntries(records.filter((r) => r.name.includes("._domainkey."))
        .map((r) => [r.name, (r.strings ?? [r.value]).join("")]));
}

/** The test DNS: Knot in the client namespace (scripts/testbed), where the local stack publishes its records. */
export const TEST_DNS = "192.0.2.1";

/**
 * A record set of the test DNS changed "by hand", as an admin would in a DNS console (VALUES empty: deleted): sent
 * as the stack sends its own (RFC 2136, files/dns-update) with the testbed's TSIG key, from the client namespace.
 */
export function setRecords(zone: string, fqdn: string, type: string, values: string[]): void {
    const tsig = readFileSync(path.join(ROOT, ".local", "dns", "tsig.key"), "utf8").trim().split(":")[2];
    const r = spawnSync("ip", ["netns", "exec", CLIENT_NETNS, "sh", "files/dns-update", values.length > 0 ? "set" : "delete"], {
        cwd: ROOT, input: `${tsig}\n`, encoding: "utf8", env: {
            ...process.env, DNS_SERVER: TEST_DNS, DNS_PORT: "53", DNS_KEY_NAME: "mailstack-local",
            DNS_KEY_ALGORITHM: "hmac-sha256", RRSET_ZONE: zone, RRSET_FQDN: fqdn, RRSET_TYPE: type, RRSET_TTL: "60",
            RRSET_VALUES: values.join("\n"),
        },
    });
    if (r.status !== 0 || r.stderr !== "") {
        throw new Error(`dns-update ${type} ${fqdn}: ${r.status} ${r.stderr}`);
    }
}

/** A DNS answer as the tests read it: its status, whether it came validated (the AD flag), and the values of the
 * asked type, names without their final dot and a TXT record's strings joined (the record is one text). */
export interface Answer { status: string; ad: boolean; values: string[] }

const undotted = (v: string): string => v.replace(/\.( |$)/g, "$1");

/** One question with DNSSEC to SERVER, asked from NETNS: by default the test DNS itself, which holds what is published. */
export function ask(type: string, name: string, server = TEST_DNS, netns = CLIENT_NETNS): Answer {
    const q = type === "PTR" ? ["-x", name] : [type, name];
    const r = spawnSync("ip", ["netns", "exec", netns, "kdig", `@${server}`, "+dnssec", "+time=5", "+retry=1", ...q],
        { encoding: "utf8" });
    const answers = r.stdout.split("\n").filter((l) => !l.startsWith(";") && l.split(/\s+/)[3] === type);
    return {
        status: /status: (\w+)/.exec(r.stdout)?.[1] ?? r.stderr,
        ad: /^;; Flags: [^;]*\bad\b/m.test(r.stdout),
        values: answers.map((l) => {
            const rdata = l.split(/\s+/).slice(4).join(" ");
            if (type === "TXT") return [...rdata.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]).join("");
            // usage, selector, matching type, then the hash (hex, however the tool splits and cases it)
            if (type === "TLSA") return `${rdata.split(" ").slice(0, 3).join(" ")} ${rdata.split(" ").slice(3).join("").toLowerCase()}`;
            return undotted(rdata);
        }).sort(),
    };
}

type Published = Pick<DnsRecord, "type" | "name" | "value" | "strings">;

/** A record's set as the tests name it: "TYPE NAME" (one set per name and type). */
export const setOf = (r: Pick<DnsRecord, "type" | "name">): string => `${r.type} ${r.name}`;

/**
 * Every record set (name and type) of RECORDS whose answer differs from them, one line each with the values
 * answered and wanted; and every set of GONE ("TYPE NAME") that still answers. From SERVER in NETNS as `ask`;
 * VALIDATED: the answers must carry the AD flag too (a validating resolver's, not the name server's own).
 */
export function unpublished(records: Published[], opts: { gone?: string[]; server?: string; netns?: string;
    validated?: boolean } = {}): string[] {
    const wrong: string[] = [];
    const keys = [...new Set(records.map(setOf))];
    for (const key of [...keys, ...(opts.gone ?? []).filter((k) => !keys.includes(k))]) {
        const [type, name] = key.split(" ");
        const want = records.filter((r) => setOf(r) === key)
            .map((r) => (type === "TXT" ? (r.strings ?? [r.value]).join("") : undotted(r.value))).sort();
        const got = ask(type, name, opts.server, opts.netns);
        const answered = want.length === 0 ? got.values.length === 0 : got.status === "NOERROR";
        if (!answered || (opts.validated === true && want.length > 0 && !got.ad)
            || JSON.stringify(got.values) !== JSON.stringify(want)) {
            wrong.push(`${key}: ${got.status}${got.ad ? " ad" : ""} ${JSON.stringify(got.values)}, want ${JSON.stringify(want)}`);
        }
    }
    return wrong;
}

/** The address mail to LOGIN goes to: a bare system user name is at the base domain. */
export function addressOf(login: string, t: Testbed = testbed()): string {
    return login.includes("@") ? login : `${login}@${t.baseDomain}`;
}

/** A message from outside (port 25) to each LOGIN, read back over IMAP: SUBJECT then the address. Throws if one is missing. */
export function deliver(host: string, who: Logins, subject: string, ...login: string[]): void {
    for (const l of login) {
        const s = `${subject} ${addressOf(l)}`;
        const sent = mail("send", host, "25", "someone@client.example", addressOf(l), s);
        if (!sent.ok || !mail("wait", host, l, who.pw(l), s, "60").ok) {
            throw new Error(`"${s}" was not delivered to ${l}: ${JSON.stringify(sent)}`);
        }
    }
}

/**
 * A copy of the committed Pulumi.local.yaml (or of BASE) under .local with the given `pulumi config set --path`
 * changes, for an `up --config-file` that leaves the committed file alone.
 */
export function configVariant(name: string, sets: [string, string][], base = path.join(ROOT, "Pulumi.local.yaml")): string {
    const config = path.join(ROOT, ".local", `Pulumi.local.${name}.yaml`);
    copyFileSync(base, config);
    for (const [key, value] of sets) {
        const r = pulumi("config", "set", "--path", key, value, "--config-file", config);
        if (r.status !== 0) {
            throw new Error(`config set ${key} in ${config}: ${r.stderr}`);
        }
    }
    return config;
}

/** A process as /proc shows it: its start time with its pid is its identity (a pid alone is reused). */
interface Proc { pid: number; ppid: number; session: number; state: string; start: string; comm: string }

function processes(): Proc[] {
    const found: Proc[] = [];
    for (const entry of readdirSync("/proc").filter((e) => /^[0-9]+$/.test(e))) {
        try {
            const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
            // after "(comm) ": state, ppid, pgrp, session, ... starttime (field 22)
            const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
            found.push({ pid: Number(entry), ppid: Number(f[1]), session: Number(f[3]), state: f[0], start: f[19],
                comm: stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")) });
        } catch {
            // gone meanwhile
        }
    }
    return found;
}

/**
 * The processes of a run started as the leader of session ROOT: every process of that session (one whose parent
 * exited stays in it, though no longer below ROOT; the plugins the engine starts in process groups of their own
 * too), and everything below any of them (a child that has just made a session of its own, as `setsid` does).
 */
function runProcesses(root: number, procs: Proc[]): Proc[] {
    const of = new Set(procs.filter((p) => p.pid === root || p.session === root).map((p) => p.pid));
    for (let more = true; more;) {
        more = false;
        for (const p of procs) {
            if (!of.has(p.pid) && of.has(p.ppid)) {
                of.add(p.pid);
                more = true;
            }
        }
    }
    return procs.filter((p) => of.has(p.pid));
}

const dead = (p: Proc | undefined): boolean => p === undefined || p.state === "Z" || p.state === "X";

function signal(p: Proc, sig: NodeJS.Signals): void {
    try {
        process.kill(p.pid, sig);
    } catch {
        // gone meanwhile
    }
}

/**
 * Runs CMD (from this machine's root namespace; scripts/run enters the client one) and, the moment AT matches a
 * line of its output (stdout and stderr) or, with EVENTS, a line of that file (the engine's `--event-log`, written
 * as each event happens, while its display may lag), SIGKILLs all of it at once, as a power cut would: the engine,
 * the language host, the program, the provider plugins and the commands they run (their ssh sessions close; what
 * runs on the server goes on, as does a daemon that an earlier step detached, the test server's systemd among them).
 * CMD runs in a session of its own. Every process of it is stopped first, scan after scan until a scan finds no new
 * one (a stopped process cannot fork, nor exit and leave its children to init), and only then is every process
 * stopped on the way killed, if it is still the same process. Resolves once CMD's output is closed and every killed
 * process is dead (a zombie waiting for init to reap it is): SURVIVORS names any that is not after 60 s.
 * With READY, the kill waits after the match until READY() holds: the engine shows a step starting before it
 * records the step as pending in the state, and a kill in between leaves nothing for the next run to clear.
 */
export function killedAt(cmd: string[], at: RegExp, { events, ready }: { events?: string; ready?: () => boolean } = {}):
    Promise<{ killed: boolean; status: number | null; out: string; survivors: string[] }> {
    return new Promise((resolve, reject) => {
        if (events) writeFileSync(events, "");
        const child = spawn(cmd[0], cmd.slice(1), { cwd: ROOT, env: process.env, stdio: ["ignore", "pipe", "pipe"], detached: true });
        let out = "";
        let killed = false;
        let gone: Promise<string[]> = Promise.resolve([]);
        const kill = (): void => {
            if (killed || child.pid === undefined) return;
            killed = true;
            const root = child.pid;
            const stopped = new Map<number, Proc>();
            for (let more = true; more;) {
                more = false;
                for (const p of runProcesses(root, processes())) {
                    if (stopped.get(p.pid)?.start === p.start) continue;
                    stopped.set(p.pid, p);
                    signal(p, "SIGSTOP");
                    more = true;
                }
            }
            const same = (): Proc[] => {
                const now = new Map(processes().map((p) => [p.pid, p]));
                return [...stopped.values()].filter((p) => now.get(p.pid)?.start === p.start && !dead(now.get(p.pid)));
            };
            for (const p of same()) signal(p, "SIGKILL");
            gone = new Promise((done) => {
                const t0 = Date.now();
                const check = (): void => {
                    const left = same();
                    if (left.length === 0 || Date.now() - t0 > 60_000) done(left.map((p) => `${p.pid} ${p.comm} ${p.state}`));
                    else setTimeout(check, 100);
                };
                check();
            });
        };
        let armed: NodeJS.Timeout | undefined;
        const matched = (): void => {
            if (armed || killed) return;
            if (!ready || ready()) kill();
            else armed = setInterval(() => { if (ready()) { clearInterval(armed); kill(); } }, 50);
        };
        const watch = (chunk: Buffer): void => {
            out += chunk.toString();
            if (!events && at.test(out)) matched();
        };
        const poll = events ? setInterval(() => {
            if (readFileSync(events, "utf8").split("\n").some((line) => at.test(line))) matched();
        }, 50) : undefined;
        child.stdout.on("data", watch);
        child.stderr.on("data", watch);
        child.on("error", reject);
        child.on("close", (status) => {
            clearInterval(poll);
            clearInterval(armed);
            void gone.then((survivors) => resolve({ killed, status, out, survivors }));
        });
    });
}
