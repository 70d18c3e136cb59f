// What the server really looks like, read on every `up` and `preview` in one read-only SSH session: which of the
// files the stack manages were changed or removed by hand, and the versions the rendered config depends on.
// mailstack-ctl records the sha256 of every file it writes (under /etc/mailstack/managed), so the check needs no
// secret from the program. A drifted file gets its repair count raised, which is a trigger of the steps that
// write it, so the same `up` writes it again through the validated apply; an upgraded dovecot or postfix changes
// the facts the config is rendered from. An undrifted server yields no change at all: a no-op `up` stays a no-op.

import * as pulumi from "@pulumi/pulumi";
import type { Client, ConnectConfig } from "ssh2";

/** Where mailstack-ctl records what it wrote: the hash of /etc/x/y is in RECORDS/etc/x/y. */
export const RECORDS = "/etc/mailstack/managed";

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
}

interface State extends Inputs {
    facts: Facts;
    /** Per path: how many times a drifted copy was found; a trigger of the steps that write the path. */
    repairs: Record<string, number>;
    /** The paths the last update found drifted. */
    drifted: string[];
}

interface Seen {
    drifted: string[];
    facts: Facts;
}

const shellWord = (w: string): string => `'${w.replace(/'/g, `'\\''`)}'`;

/**
 * The read-only script of the check: a `D path` line for each managed file whose content is not what mailstack-ctl
 * last wrote there (or that is gone), then the versions. Files never written yet are not drifted.
 */
export function readScript(paths: string[]): string {
    return [
        `for f in ${paths.map(shellWord).join(" ")}; do`,
        `  [ -f "${RECORDS}$f" ] || continue`,
        `  if [ -f "$f" ]; then h=$(sha256sum < "$f" | cut -c1-64); else h=missing; fi`,
        `  [ "$h" = "$(cat "${RECORDS}$f")" ] || printf 'D %s\\n' "$f"`,
        "done",
        `printf 'V dovecot %s\\n' "$(dovecot --version 2>/dev/null || true)"`,
        `printf 'V postfix %s\\n' "$(postconf -h mail_version 2>/dev/null || true)"`,
        "",
    ].join("\n");
}

export function parseSeen(out: string): Seen {
    const seen: Seen = { drifted: [], facts: { dovecot: "", postfix: "" } };
    for (const line of out.split("\n")) {
        const d = /^D (.+)$/.exec(line);
        if (d) {
            seen.drifted.push(d[1]);
        }
        const v = /^V (dovecot|postfix) ?(.*)$/.exec(line);
        if (v) {
            seen.facts[v[1] as keyof Facts] = v[2].trim();
        }
    }
    return seen;
}

function sameFacts(a: Facts | undefined, b: Facts): boolean {
    return a !== undefined && a.dovecot === b.dovecot && a.postfix === b.postfix;
}

async function look(target: SshTarget, paths: string[]): Promise<Seen> {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded in the dynamic provider's process
    const { Client: SshClient } = require("ssh2") as { Client: new () => Client };
    const config: ConnectConfig = {
        host: target.host, port: target.port ?? 22, username: target.user ?? "root", privateKey: target.privateKey,
        readyTimeout: 30_000,
    };
    const out = await new Promise<string>((resolve, reject) => {
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
                stream.end(readScript(paths));
            });
        });
        conn.on("error", reject);
        conn.connect(config);
    });
    return parseSeen(out);
}

export const serverStateProvider: pulumi.dynamic.ResourceProvider<Inputs, State> = {
    async create(inputs) {
        const seen = await look(inputs.target, inputs.files);
        return { id: "server-state", outs: { ...inputs, facts: seen.facts, repairs: {}, drifted: [] } };
    },

    async diff(_id, olds, news) {
        const seen = await look(news.target, news.files);
        const changes = seen.drifted.length > 0 || !sameFacts(olds.facts, seen.facts) ||
            JSON.stringify(olds.files) !== JSON.stringify(news.files);
        return { changes };
    },

    // `pulumi refresh` shows what drifted; the facts stay as last applied, so the next `up` still sees a change.
    async read(id, props) {
        if (props === undefined) {
            throw new Error("mailstack:ServerState cannot be imported: it has no state of its own to read");
        }
        const seen = await look(props.target, props.files);
        return { id, props: { ...props, drifted: seen.drifted } };
    },

    async update(_id, olds, news) {
        const seen = await look(news.target, news.files);
        const repairs = { ...olds.repairs };
        for (const p of seen.drifted) {
            repairs[p] = (repairs[p] ?? 0) + 1;
        }
        return { outs: { ...news, facts: seen.facts, repairs, drifted: seen.drifted } };
    },
};

export interface ServerStateArgs {
    target: pulumi.Input<SshTarget>;
    files: string[];
}

export class ServerState extends pulumi.dynamic.Resource {
    declare readonly facts: pulumi.Output<Facts>;
    declare readonly repairs: pulumi.Output<Record<string, number>>;
    declare readonly drifted: pulumi.Output<string[]>;

    constructor(name: string, args: ServerStateArgs, opts?: pulumi.CustomResourceOptions) {
        super(serverStateProvider, name, {
            target: pulumi.secret(args.target), files: args.files, facts: undefined, repairs: undefined, drifted: undefined,
        }, { ...opts, additionalSecretOutputs: ["target"] }, "mailstack", "ServerState");
    }

    /** A trigger for the steps that write PATHS: changes only when a drifted copy of one of them was found. */
    repairOf(...paths: string[]): pulumi.Output<number> {
        return this.repairs.apply((r) => paths.reduce((n, p) => n + (r?.[p] ?? 0), 0));
    }
}
