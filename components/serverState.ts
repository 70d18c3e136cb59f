// What the server really looks like, read on every `up` and `preview` in one read-only SSH session: which of the
// files the stack manages were changed or removed by hand, and the versions the rendered config depends on.
// mailstack-ctl records the sha256 of every file it writes (under /etc/mailstack/managed), so the check needs no
// secret from the program. A drifted file gets its repair count raised, which is a trigger of the steps that
// write it, so the same `up` writes it again through the validated apply; an upgraded dovecot or postfix changes
// the facts the config is rendered from. An undrifted server yields no change at all: a no-op `up` stays a no-op.

import * as pulumi from "@pulumi/pulumi";
import type { Client, ConnectConfig } from "ssh2";
import type { UnitState } from "./render/units";
import { CTL } from "./render/ctl";
import { OWN_PASSWORDS } from "./render/maps";

/** The server-side helper (files/mailstack-ctl). Declared here, not in remote.ts: the provider's code is
 * serialized with what it captures, and this module must not capture the command package. */
export { CTL };

/** The server's versions that the rendered config depends on. */
export interface Facts {
    /** `dovecot --version`, e.g. "2.3.19.1 (9b53102964)"; empty before dovecot is installed. */
    dovecot: string;
    /** `postconf -h mail_version`, e.g. "3.7.11". */
    postfix: string;
}

export interface SshTarget {
    host: string;
    port?: number;
    user?: string;
    privateKey?: string;
}

interface Inputs {
    target: SshTarget;
    /** The paths the stack writes. */
    files: string[];
    /** The virtual users of this config, and the old addresses of renamed ones: every other user of the live
     * passwd-file is being dropped by this plan. */
    users: string[];
    /** The live dovecot passwd-file. */
    passwdFile: string;
    /** The units that must be active (render/units.ts). */
    units: string[];
    /** Planned quota per login (bytes): a mailbox already fuller than its new quota is named by preview. */
    quotas: Record<string, number>;
    /** The quota of every login not in `quotas` (bytes). */
    defaultQuota: number;
}

interface State extends Inputs {
    facts: Facts;
    /** Per path: how many times a drifted copy was found; a trigger of the steps that write the path. */
    repairs: Record<string, number>;
    /** The paths the last update found drifted. */
    drifted: string[];
    /** How many times a managed unit was found not running; the trigger of the step that starts them. */
    unitRepairs: number;
}

/** A virtual user the plan drops while its mailbox holds mail. */
export interface Dropped {
    address: string;
    dir: string;
    messages: number;
}

/** A mailbox's current size, in bytes (dovecot's quota count). */
export interface Usage {
    login: string;
    bytes: number;
}

export interface Seen {
    drifted: string[];
    facts: Facts;
    dropped: Dropped[];
    /** Managed units that are not running as they should (a unit not installed yet is not among them). */
    units: UnitState[];
    usage: Usage[];
}

const shellWord = (w: string): string => `'${w.replace(/'/g, `'\\''`)}'`;

/**
 * The read-only script of the check: a `D path` line for each managed file whose content is not what mailstack-ctl
 * last wrote there (or that is gone), then the versions. Files never written yet are not drifted.
 */
export function readScript(paths: string[], users: string[] = [], passwdFile = "/etc/dovecot/users", units: string[] = []): string {
    return [
        // Before mailstack-ctl is installed nothing was recorded either: no drift (and one written before the
        // verb existed reports none until the up that updates it).
        `[ ! -x ${CTL} ] || ${CTL} drifted ${paths.map(shellWord).join(" ")} 2>/dev/null`,
        `printf 'V dovecot %s\\n' "$(dovecot --version 2>/dev/null || true)"`,
        // -d: the compiled-in value, readable before the first main.cf (Debian's "No configuration" install has none)
        `printf 'V postfix %s\\n' "$(postconf -d -h mail_version 2>/dev/null || true)"`,
        `keep=${shellWord(` ${users.join(" ")} `)}`,
        `[ ! -f ${shellWord(passwdFile)} ] || cut -d: -f1 ${shellWord(passwdFile)} | while read -r a; do`,
        `  case "$keep" in *" $a "*) continue ;; esac`,
        `  d="/var/mail/vhosts/\${a#*@}/\${a%%@*}"`,
        `  n=$(find "$d" -type f \\( -path '*/cur/*' -o -path '*/new/*' \\) 2>/dev/null | wc -l)`,
        `  [ "$n" -eq 0 ] || printf 'G %s %s %s\\n' "$a" "$d" "$n"`,
        "done",
        // each managed unit: load state, active state, whether its file changed since systemd loaded it
        ...(units.length === 0 ? [] : [
            `for u in ${units.map(shellWord).join(" ")}; do`,
            `  printf 'U %s %s\n' "$u" "$(systemctl show -P LoadState,ActiveState,NeedDaemonReload "$u" 2>/dev/null | tr '\n' ' ')"`,
            "done",
        ]),
        // every mailbox's size as dovecot counts it for the quota (KiB), once dovecot runs
        `doveadm -f tab quota get -A 2>/dev/null | awk -F'\t' '$3 == "STORAGE" { print "Q " $1 " " $4 }' || true`,
        "",
    ].join("\n");
}

export function parseSeen(out: string): Seen {
    const seen: Seen = { drifted: [], facts: { dovecot: "", postfix: "" }, dropped: [], units: [], usage: [] };
    for (const line of out.split("\n")) {
        const d = /^D (.+)$/.exec(line);
        if (d) {
            seen.drifted.push(d[1]);
        }
        const g = /^G (\S+) (\S+) (\d+)$/.exec(line);
        if (g) {
            seen.dropped.push({ address: g[1], dir: g[2], messages: Number(g[3]) });
        }
        // systemctl show prints the properties in its own order: LoadState, ActiveState, NeedDaemonReload
        const u = /^U (\S+) (\S*) (\S*) (\S*)/.exec(line);
        if (u) {
            const [, unit, load, active, reload] = u;
            // not-found: not installed yet, the step that writes it starts it
            const state = load === "not-found" || load === "" ? undefined : load !== "loaded" ? load
                : active !== "active" && active !== "activating" && active !== "reloading" ? active
                    : reload === "yes" ? "changed on disk, not reloaded" : undefined;
            if (state !== undefined) {
                seen.units.push({ unit, state });
            }
        }
        const q = /^Q (\S+) (\d+)$/.exec(line);
        if (q) {
            seen.usage.push({ login: q[1], bytes: Number(q[2]) * 1024 });
        }
        const v = /^V (dovecot|postfix) ?(.*)$/.exec(line);
        if (v) {
            seen.facts[v[1] as keyof Facts] = v[2].trim();
        }
    }
    return seen;
}

/**
 * A warning in the engine's own output. A dynamic provider has no logging API: it runs in a plugin process whose
 * first argument is the engine's address, so it calls the engine's Log service itself, as the SDK does.
 */
async function warn(message: string): Promise<void> {
    /* eslint-disable @typescript-eslint/no-require-imports -- loaded in the dynamic provider's process */
    const grpc = require("@grpc/grpc-js") as typeof import("@grpc/grpc-js");
    const engine = require("@pulumi/pulumi/proto/engine_grpc_pb.js") as typeof import("@pulumi/pulumi/proto/engine_grpc_pb");
    const proto = require("@pulumi/pulumi/proto/engine_pb.js") as typeof import("@pulumi/pulumi/proto/engine_pb");
    /* eslint-enable @typescript-eslint/no-require-imports */
    const address = process.argv[2];
    if (!address) {
        console.error(`warning: ${message}`);
        return;
    }
    const client = new engine.EngineClient(address, grpc.credentials.createInsecure());
    const req = new proto.LogRequest();
    req.setSeverity(proto.LogSeverity.WARNING);
    req.setMessage(message);
    await new Promise<void>((resolve) => client.log(req, () => resolve()));
    client.close();
}

const mib = (bytes: number): string => `${(bytes / 1048576).toFixed(1)} MiB`;

/** A warning for each mailbox that already holds more than the quota this plan gives it. */
export function overQuota(news: Pick<Inputs, "quotas" | "defaultQuota">, usage: Usage[]): string[] {
    return usage.flatMap(({ login, bytes }) => {
        const quota = news.quotas?.[login] ?? news.defaultQuota;
        return quota !== undefined && quota > 0 && bytes > quota
            ? [`the quota of ${login} (${mib(quota)}) is below its mailbox's current size (${mib(bytes)}): ` +
                "new mail to it is deferred until it is emptied or the quota raised"]
            : [];
    });
}

function sameFacts(a: Facts | undefined, b: Facts): boolean {
    return a !== undefined && a.dovecot === b.dovecot && a.postfix === b.postfix;
}

/**
 * Whether the state must be updated: a drifted file or new facts, nothing else. Another set of managed files (a
 * new domain, a DKIM rotation) or users is not a change of its own: an update makes every output of this resource
 * unknown in `preview` (a dynamic provider cannot predict them), and with them every repair trigger, so preview
 * would announce an update of every step that writes a file while `up` runs a handful. The next read sees the
 * new list anyway: it is this plan's input, not the state's.
 */
export function stateChanged(olds: Pick<State, "facts">, seen: Seen): boolean {
    return seen.drifted.length > 0 || seen.units.length > 0 || !sameFacts(olds.facts, seen.facts);
}

/** SCRIPT run by `sh -s` on the server, in one SSH session of its own: its standard output; rejects on a failure. */
export async function readServer(target: SshTarget, script: string): Promise<string> {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded in the dynamic provider's process
    const { Client: SshClient } = require("ssh2") as { Client: new () => Client };
    const config: ConnectConfig = {
        host: target.host, port: target.port ?? 22, username: target.user ?? "root", privateKey: target.privateKey,
        readyTimeout: 30_000,
    };
    return new Promise<string>((resolve, reject) => {
        const conn = new SshClient();
        conn.on("ready", () => {
            conn.exec("sh -s", (err, stream) => {
                if (err) {
                    conn.end();
                    reject(err);
                    return;
                }
                let stdout = "";
                let stderr = "";
                stream.on("data", (d: Buffer) => { stdout += d.toString(); });
                stream.stderr.on("data", (d: Buffer) => { stderr += d.toString(); });
                stream.on("close", (code: number | null) => {
                    conn.end();
                    if (code === 0) {
                        resolve(stdout);
                    } else {
                        reject(new Error(`reading the server's state failed (${code}): ${stderr.trim()}`));
                    }
                });
                stream.end(script);
            });
        });
        conn.on("error", reject);
        conn.connect(config);
    });
}

async function look(inputs: Inputs): Promise<Seen> {
    return parseSeen(await readServer(inputs.target, readScript(inputs.files, inputs.users, inputs.passwdFile, inputs.units ?? [])));
}

/** The read of the logins that chose their own password (mailstack-ctl password): one per line. */
export const OWN_LOGINS_SCRIPT = `[ ! -f ${OWN_PASSWORDS} ] || cut -d: -f1 ${OWN_PASSWORDS}\n`;

export const serverStateProvider: pulumi.dynamic.ResourceProvider<Inputs, State> = {
    async create(inputs) {
        const seen = await look(inputs);
        return { id: "server-state", outs: { ...inputs, facts: seen.facts, repairs: {}, drifted: [], unitRepairs: 0 } };
    },

    async diff(_id, olds, news) {
        // The server is being replaced (its identity, so the target, is not known yet): nothing to read before
        // the new one exists; the update reads it then.
        const target = news.target as SshTarget | undefined;
        if (typeof target?.host !== "string" || pulumi.containsUnknowns(target)) {
            return { changes: true };
        }
        const seen = await look(news);
        // The plan's own report: shown by preview and up alike, before anything runs.
        for (const p of seen.drifted) {
            await warn(`${p} was changed or removed by hand since the last up: this up writes it again`);
        }
        for (const u of seen.units) {
            await warn(`${u.unit} is not running on the server (${u.state}): this up starts it again`);
        }
        for (const o of overQuota(news, seen.usage)) {
            await warn(o);
        }
        for (const d of seen.dropped) {
            await warn(`this plan drops the virtual user ${d.address}: its mailbox ${d.dir} (${d.messages} messages) ` +
                "is kept on the server, not deleted; mailstack:renames moves it to a new address instead");
        }
        return { changes: stateChanged(olds, seen) };
    },

    // `pulumi refresh` shows what drifted; the facts stay as last applied, so the next `up` still sees a change.
    async read(id, props) {
        if (props === undefined) {
            throw new Error("mailstack:ServerState cannot be imported: it has no state of its own to read");
        }
        const seen = await look(props);
        return { id, props: { ...props, drifted: seen.drifted } };
    },

    async update(_id, olds, news) {
        const seen = await look(news);
        const repairs = { ...olds.repairs };
        for (const p of seen.drifted) {
            repairs[p] = (repairs[p] ?? 0) + 1;
        }
        const unitRepairs = (olds.unitRepairs ?? 0) + (seen.units.length > 0 ? 1 : 0);
        return { outs: { ...news, facts: seen.facts, repairs, drifted: seen.drifted, unitRepairs } };
    },
};

export interface ServerStateArgs {
    target: pulumi.Input<SshTarget>;
    users: string[];
    passwdFile: string;
    units: string[];
    quotas: Record<string, number>;
    defaultQuota: number;
}

export class ServerState extends pulumi.dynamic.Resource {
    declare readonly facts: pulumi.Output<Facts>;
    declare readonly repairs: pulumi.Output<Record<string, number>>;
    declare readonly drifted: pulumi.Output<string[]>;
    /** Raised each time a managed unit was found not running: the trigger of the step that starts them. */
    declare readonly unitRepairs: pulumi.Output<number>;
    /** The paths the writers asked a repair trigger for: the check watches exactly these (see seal). */
    private watched!: Set<string>;
    private sealed!: boolean;
    private settle!: (paths: string[]) => void;

    /**
     * The files the check watches are not listed here: every step that writes a file takes its trigger from
     * repairOf(path), which also puts the path on the watch list, and seal() hands the complete list over once every
     * component is built. A file is watched because it is written, never because someone remembered to list it.
     */
    constructor(name: string, args: ServerStateArgs, opts?: pulumi.CustomResourceOptions) {
        let settle: (paths: string[]) => void = () => undefined;
        const files = new Promise<string[]>((resolve) => { settle = resolve; });
        super(serverStateProvider, name, {
            target: pulumi.secret(args.target), files, users: args.users, passwdFile: args.passwdFile,
            units: args.units, quotas: args.quotas, defaultQuota: args.defaultQuota,
            facts: undefined, repairs: undefined, drifted: undefined, unitRepairs: undefined,
        }, { ...opts, additionalSecretOutputs: ["target"] }, "mailstack", "ServerState");
        this.watched = new Set();
        this.sealed = false;
        this.settle = settle;
    }

    /** A trigger for the steps that write PATHS: changes only when a drifted copy of one of them was found. */
    repairOf(...paths: string[]): pulumi.Output<number> {
        if (this.sealed) {
            throw new Error(`${paths.join(", ")}: a repair trigger asked for after the watch list was sealed`);
        }
        for (const p of paths) {
            this.watched.add(p);
        }
        return this.repairs.apply((r) => paths.reduce((n, p) => n + (r?.[p] ?? 0), 0));
    }

    /** Every writer is built: the watch list is complete. */
    seal(): void {
        this.sealed = true;
        this.settle([...this.watched].sort());
    }
}
