// The chroot plumbing of the render tests: the real postfix and dovecot of a Debian suite, run on rendered text.
//
// `scripts/rootfs SUITE` caches a Debian root with the mail packages installed and never started (DIR/tools).
// A Sandbox is one temporary directory inside that root (/tmp/render-XXXXXX), where a test writes the files under
// test and runs the packaged binaries on them with chroot. Anything that would write outside the sandbox (postfix
// check creates queue directories, dovecot writes its sockets, state and log) runs in `isolated`: a private mount
// namespace whose tmpfs and bind mounts hide the cached root's directories and vanish with the namespace, with its
// own pid and network namespaces so that a daemon started there can neither outlive the script nor bind a host
// port. The cached root is left exactly as it was.

import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

export const SUITE = process.env.MAILSTACK_SUITE ?? "bookworm";

const REPO = path.resolve(__dirname, "../..");

/** Building a suite's root the first time takes a few minutes; a cached one answers at once. */
export const ROOTFS_TIMEOUT_MS = 15 * 60_000;

export interface Result {
    /** Exit status; -1 when the process was killed (timeout) or could not start. */
    status: number;
    stdout: string;
    stderr: string;
}

const roots = new Map<string, string>();

/** The suite's tools root on the host (built and cached by scripts/rootfs on first use). */
export function toolsRoot(suite: string = SUITE): string {
    let root = roots.get(suite);
    if (root === undefined) {
        const out = execFileSync("bash", [path.join(REPO, "scripts/rootfs"), suite], {
            encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], timeout: ROOTFS_TIMEOUT_MS,
        });
        root = path.join(out.trim().split("\n").pop() ?? "", "tools");
        if (!fs.existsSync(path.join(root, "usr/sbin/postconf"))) {
            throw new Error(`scripts/rootfs ${suite} printed ${JSON.stringify(out)}, which has no tools/usr/sbin/postconf`);
        }
        roots.set(suite, root);
    }
    return root;
}

function result(r: ReturnType<typeof spawnSync>): Result {
    if (r.error !== undefined && r.status === null && r.signal === null) {
        throw r.error;
    }
    return { status: r.status ?? -1, stdout: String(r.stdout ?? ""), stderr: String(r.stderr ?? "") };
}

/** The uid and gid of a user in a root's /etc/passwd. */
export function ids(root: string, user: string): { uid: number; gid: number } {
    const line = fs.readFileSync(path.join(root, "etc/passwd"), "utf8").split("\n").find((l) => l.startsWith(`${user}:`));
    if (line === undefined) {
        throw new Error(`no user ${user} in ${root}/etc/passwd`);
    }
    const [, , uid, gid] = line.split(":");
    return { uid: Number(uid), gid: Number(gid) };
}

/** The gid of a group in a root's /etc/group. */
export function groupId(root: string, group: string): number {
    const line = fs.readFileSync(path.join(root, "etc/group"), "utf8").split("\n").find((l) => l.startsWith(`${group}:`));
    if (line === undefined) {
        throw new Error(`no group ${group} in ${root}/etc/group`);
    }
    return Number(line.split(":")[2]);
}


/**
 * Shell functions for `isolated` scripts. $ROOT is the tools root (host path), $W the sandbox (host path), $I the
 * sandbox as seen inside the chroot.
 * $W/console stands in for the root's /dev/console (the host's console).
 *   in_root CMD...          chroot "$ROOT" CMD...
 *   step NAME CMD...        runs CMD, keeping stdout, stderr and status for Sandbox.step(NAME); never fails
 *   tty_step NAME CMD...    the same on a pseudo-terminal (stdout and stderr merged): postfix-script's warnings go
 *                           through postlog, which writes to stderr only when that is a terminal
 *   hide DIR [MODE [OWNER]] an empty tmpfs over $ROOT/DIR (OWNER as numeric uid:gid: the host's names differ)
 *   wait_for PATH [SECS]    waits until $ROOT/PATH exists
 */
const PRELUDE = `
set -eu
ROOT=$1 W=$2 I=$3
mkdir -p "$W/steps"
# The root's /dev/console is the host's: what would go there (syslog's fallback without /dev/log) goes to $W/console.
: >"$W/console" && mount --bind "$W/console" "$ROOT/dev/console"
in_root() { chroot "$ROOT" "$@"; }
in_root ip link set lo up # postfix wants an interface with an address (inet_interfaces = all)
step() {
    local name=$1; shift
    "$@" >"$W/steps/$name.out" 2>"$W/steps/$name.err" </dev/null && echo 0 >"$W/steps/$name.rc" || echo $? >"$W/steps/$name.rc"
}
tty_step() {
    local name=$1; shift
    : >"$W/steps/$name.err"
    script -qec "$*" /dev/null >"$W/steps/$name.out" </dev/null && echo 0 >"$W/steps/$name.rc" || echo $? >"$W/steps/$name.rc"
}
hide() {
    mount -t tmpfs -o "mode=\${2:-0755}" tmpfs "$ROOT/$1"
    if [ -n "\${3:-}" ]; then chown "$3" "$ROOT/$1"; fi
}
wait_for() {
    local i=0
    while [ ! -e "$ROOT/$1" ]; do
        i=$((i + 1)); [ "$i" -le $((\${2:-10} * 20)) ] || { echo "timed out waiting for $1" >&2; return 1; }
        sleep 0.05
    done
}
`;

export class Sandbox {
    /** The tools root on the host. */
    readonly root: string;
    /** The sandbox directory on the host. */
    readonly host: string;
    /** The sandbox directory inside the chroot. */
    readonly inside: string;

    private constructor(root: string, host: string) {
        this.root = root;
        this.host = host;
        this.inside = "/" + path.relative(root, host);
    }

    static open(suite: string = SUITE): Sandbox {
        const root = toolsRoot(suite);
        const host = fs.mkdtempSync(path.join(root, "tmp", "render-"));
        fs.chmodSync(host, 0o755); // daemons' own users (dovecot reads the passwd-file as dovecot) must get in
        return new Sandbox(root, host);
    }

    /** A path inside the chroot, for the files' own references (e.g. main.cf's cert file) and for the commands. */
    path(rel: string): string {
        return path.posix.join(this.inside, rel);
    }

    write(rel: string, content: string, mode = 0o644): string {
        const file = path.join(this.host, rel);
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, content, { mode });
        fs.chmodSync(file, mode); // the umask does not get a say: postfix check warns about group-writable files
        // postfix waits up to 1.5 s for a main.cf modified in the current second to settle: it is settled.
        const settled = new Date(Date.now() - 10_000);
        fs.utimesSync(file, settled, settled);
        return this.path(rel);
    }

    read(rel: string): string {
        return fs.readFileSync(path.join(this.host, rel), "utf8");
    }

    /** CMD in the chroot, nothing mounted: for the read-only tools (postconf, doveconf, postmap on sandbox files). */
    run(argv: string[], input?: string): Result {
        return result(spawnSync("chroot", [this.root, ...argv], {
            input, encoding: "utf8", timeout: 60_000, killSignal: "SIGKILL",
        }));
    }

    /**
     * A bash script (PRELUDE's functions available) in private mount, pid and network namespaces (the network has
     * only lo): its mounts vanish with it, the kernel kills every process it started when it ends (it is the
     * pid namespace's init; --kill-child ends it if unshare itself is killed, e.g. by the timeout), and a daemon
     * started there cannot bind a host port.
     */
    isolated(script: string, timeoutMs = 60_000): Result {
        fs.rmSync(path.join(this.host, "steps"), { recursive: true, force: true });
        return result(spawnSync("unshare", ["--mount", "--pid", "--net", "--kill-child", "bash", "-c", PRELUDE + script,
            "isolated", this.root, this.host, this.inside], { encoding: "utf8", timeout: timeoutMs, killSignal: "SIGKILL" }));
    }

    /** A step recorded by the last `isolated` script. */
    step(name: string): Result {
        const file = (ext: string): string => path.join(this.host, "steps", `${name}.${ext}`);
        if (!fs.existsSync(file("rc"))) {
            throw new Error(`step ${name} did not run`);
        }
        return { status: Number(fs.readFileSync(file("rc"), "utf8")), stdout: fs.readFileSync(file("out"), "utf8"),
            stderr: fs.readFileSync(file("err"), "utf8") };
    }

    /** Removes the sandbox; MAILSTACK_KEEP_SANDBOX=1 keeps it to look at (steps/, log/). */
    close(): void {
        if (process.env.MAILSTACK_KEEP_SANDBOX === "1") {
            process.stderr.write(`kept ${this.host}\n`);
            return;
        }
        fs.rmSync(this.host, { recursive: true, force: true });
    }
}

/** A self-signed certificate made by the chroot's openssl: TLS files that exist, for the configs to point at. */
export function selfSignedCert(sb: Sandbox, name: string): { certFile: string; keyFile: string } {
    const certFile = sb.path(`tls/${name}-cert.pem`);
    const keyFile = sb.path(`tls/${name}-key.pem`);
    fs.mkdirSync(path.join(sb.host, "tls"), { recursive: true, mode: 0o700 });
    const r = sb.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-days", "2", "-subj", `/CN=${name}`, "-addext", `subjectAltName=DNS:${name}`, "-keyout", keyFile, "-out", certFile]);
    if (r.status !== 0) {
        throw new Error(`openssl req failed: ${r.stderr}`);
    }
    return { certFile, keyFile };
}

/** One shell word. */
export function shq(word: string): string {
    return `'${word.replace(/'/g, "'\\''")}'`;
}

/**
 * Lines that report a problem. On stderr, any line that mentions one. In text that also carries normal output (a
 * pseudo-terminal's, a log's), the tools' own form: "postconf: warning: ...", "doveconf: Warning: ...", "fatal: ...".
 */
export function problems(text: string, mixed = false): string[] {
    const pattern = mixed ? /\b(warning|error|fatal|panic):/i : /warning|error|fatal|panic/i;
    return text.split(/\r?\n/).filter((l) => pattern.test(l));
}
