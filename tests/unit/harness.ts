// Pulumi mocks for the unit tests: every registration is recorded with its inputs and with what the SDK sent the
// engine for it. Not a test file (jest only runs *.test.ts).
//
// Public SDK API throughout (pulumi.runtime.setMocks, its Mocks, getMonitor, the secret signature of
// pulumi.runtime), with two exceptions, both for want of a public way:
// - The registration as sent. MockResourceArgs carries type, name, inputs, provider and id; the ordering and
//   secrecy tests need what else the engine gets: parent, dependencies (dependsOn with components expanded to
//   their custom resources, plus the resources behind input Outputs), property dependencies and the resource
//   options. Those exist only in the RegisterResourceRequest (a transform sees the options as the program gave
//   them, before the SDK expands them), so installMocks wraps the mock monitor's registerResource and reads the
//   request through its protobuf getters.
// - Waiting until every registration is done: the SDK's runtime.waitForRPCs, which the typings leave out. The
//   public runtime.disconnect() waits the same way, but then closes the monitor for good.
// - The stack trace the SDK takes for each of its promises (runtime/debuggable.js), which installMocks makes
//   without frames (see quietPromiseTraces).

import * as pulumi from "@pulumi/pulumi";
import { createHash } from "crypto";
import { ConfigError, parseConfig, RawConfig } from "../../components/config";
import { MailServer, MailServerArgs } from "../../components/mailServer";

export const TYPES = {
    sshKey: "hcloud:index/sshKey:SshKey",
    primaryIp: "hcloud:index/primaryIp:PrimaryIp",
    server: "hcloud:index/server:Server",
    rdns: "hcloud:index/rdns:Rdns",
    firewall: "hcloud:index/firewall:Firewall",
    firewallAttachment: "hcloud:index/firewallAttachment:FirewallAttachment",
    volume: "hcloud:index/volume:Volume",
    volumeAttachment: "hcloud:index/volumeAttachment:VolumeAttachment",
    zone: "hcloud:index/zone:Zone",
    zoneRrset: "hcloud:index/zoneRrset:ZoneRrset",
    password: "random:index/randomPassword:RandomPassword",
    remote: "command:remote:Command",
    local: "command:local:Command",
    serverState: "pulumi-nodejs:dynamic/mailstack:ServerState",
    dkimKey: "pulumi-nodejs:dynamic/mailstack:DkimKey",
} as const;

export const PRIMARY_IP = "203.0.113.10";
/** The IPv6 primary IP is a /64; Hetzner's server gets its first address. */
export const PRIMARY_IP6_NET = "2001:db8:10:20::";
export const SERVER_IP6 = "2001:db8:10:20::1";
export const TESTBED_ID = "6f1d3c2a-0b8e-4c57-9a41-2d5e7f9b8c10";
export const DOVECOT_VERSION = "2.3.19.1 (9b53102964)";
/** What `mailstack-ctl host-key` prints first on the mocked server: the hash (TLSA) of the key certbot made. */
export const MOCK_SPKI_SHA256 = createHash("sha256").update("mock certificate key").digest("hex");
/** The hash of the mocked server's key NAME (certificate.key, certificate.nextKey). */
export const mockKeySha256 = (name: string): string => createHash("sha256").update(`mock key ${name}`).digest("hex");

/** What the mocked server's `mailstack-ctl host-key mailstack [key=NAME] [next=NAME]` prints: the certificate's
 * key (NAME's once switched to it), then the next key's. Undefined for any other command. */
function hostKeyOutput(create: unknown): string | undefined {
    const m = /^\/usr\/local\/sbin\/mailstack-ctl host-key mailstack((?: (?:key|next)=[a-z0-9-]+)*)$/.exec(String(create));
    if (m === null) {
        return undefined;
    }
    const args = new Map(m[1].trim().split(" ").filter((a) => a).map((a): [string, string] => [a.split("=")[0], a.split("=")[1]]));
    const key = args.get("key");
    const next = args.get("next");
    return [key === undefined ? MOCK_SPKI_SHA256 : mockKeySha256(key), ...(next === undefined ? [] : [mockKeySha256(next)])]
        .map((h) => `${h}\n`).join("");
}

export interface Registered {
    type: string;
    name: string;
    urn: string;
    /** The id the mock gave a custom resource. */
    id?: string;
    custom: boolean;
    /** As the mock monitor received them: secrets still wrapped (see isSecretValue / reveal). */
    inputs: Record<string, unknown>;
    parent?: string;
    /** Every dependency URN the SDK sent: explicit dependsOn (components expanded to their custom resources) and
     * the resources behind input Outputs. */
    dependencies: string[];
    propertyDependencies: Record<string, string[]>;
    additionalSecretOutputs: string[];
    deleteBeforeReplace: boolean;
    ignoreChanges: string[];
    replaceOnChanges: string[];
    protect: boolean;
    /** What the mock returned. */
    state: Record<string, unknown>;
}

const hash = (text: string): string => createHash("sha256").update(text).digest("hex");
const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const BCRYPT = "./" + ALNUM;
const pick = (alphabet: string, seed: string, length: number): string => {
    const bytes = createHash("sha512").update(seed).digest();
    return Array.from({ length }, (_, i) => alphabet[bytes[i] % alphabet.length]).join("");
};

/** Deterministic per logical name, so that two renders of the same stack can be compared byte for byte. */
export const mockPassword = (name: string): string => pick(ALNUM, `pw:${name}`, 24);
export const mockBcrypt = (name: string): string => `$2b$10$${pick(BCRYPT, `bcrypt:${name}`, 53)}`;
const numericId = (type: string, name: string): string => String(parseInt(hash(`${type}|${name}`).slice(0, 7), 16) + 1);

export function isSecretValue(v: unknown): v is { value: unknown } {
    return typeof v === "object" && v !== null &&
        (v as Record<string, unknown>)[pulumi.runtime.specialSigKey] === pulumi.runtime.specialSecretSig;
}

/** The plain value, secret wrappers removed at any depth. */
export function reveal(v: unknown): unknown {
    if (isSecretValue(v)) {
        return reveal(v.value);
    }
    if (Array.isArray(v)) {
        return v.map(reveal);
    }
    if (typeof v === "object" && v !== null) {
        return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, reveal(x)]));
    }
    return v;
}

export class Recorder {
    readonly resources: Registered[] = [];
    newResourceCalls = 0;
    /** Mark the outputs a resource lists in additionalSecretOutputs as secret, as the engine does. */
    constructor(readonly engineSecrets = true) {}

    byType(type: string): Registered[] {
        return this.resources.filter((r) => r.type === type);
    }

    one(type: string, name?: string): Registered {
        const found = this.byType(type).filter((r) => name === undefined || r.name === name);
        if (found.length !== 1) {
            throw new Error(`expected exactly one ${type}${name ? ` named ${name}` : ""}, found ` +
                `${found.map((r) => r.name).join(", ") || "none"}`);
        }
        return found[0];
    }

    named(name: string): Registered {
        const found = this.resources.filter((r) => r.name === name);
        if (found.length !== 1) {
            throw new Error(`expected exactly one resource named ${name}, found ${found.length}`);
        }
        return found[0];
    }

    byUrn(urn: string): Registered {
        const r = this.resources.find((x) => x.urn === urn);
        if (r === undefined) {
            throw new Error(`no resource ${urn}`);
        }
        return r;
    }

    /** The resource and everything below it, by parent links. */
    subtree(root: Registered): Registered[] {
        const out = [root];
        for (let i = 0; i < out.length; i++) {
            out.push(...this.resources.filter((r) => r.parent === out[i].urn));
        }
        return out;
    }

    customsOf(root: Registered): Registered[] {
        return this.subtree(root).filter((r) => r.custom);
    }

    /** Dependencies a resource waits for before it is registered: its own and every ancestor's (a child waits for
     * its parent's URN, which the SDK resolves only after the parent's dependencies are done). */
    waitsFor(r: Registered): Set<string> {
        const out = new Set<string>();
        for (let cur: Registered | undefined = r; cur !== undefined; cur = cur.parent ? this.byUrn(cur.parent) : undefined) {
            cur.dependencies.forEach((d) => out.add(d));
        }
        return out;
    }

    /** Everything `r` waits for, directly or through what it waits for. */
    transitivelyWaitsFor(r: Registered): Set<string> {
        const out = new Set<string>();
        const queue = [...this.waitsFor(r)];
        while (queue.length > 0) {
            const urn = queue.pop() as string;
            if (!out.has(urn)) {
                out.add(urn);
                queue.push(...this.waitsFor(this.byUrn(urn)));
            }
        }
        return out;
    }

    /** Explicit dependsOn: all dependencies minus those that come from input values. */
    explicitDependencies(r: Registered): string[] {
        const implicit = new Set(Object.values(r.propertyDependencies).flat());
        return r.dependencies.filter((d) => !implicit.has(d));
    }
}

let current: Recorder | undefined;
let pending: Registered | undefined;

function newResource(args: pulumi.runtime.MockResourceArgs): pulumi.runtime.MockResourceResult {
    const rec = current;
    const entry = pending;
    if (rec === undefined || entry === undefined) {
        throw new Error("newResource outside of a recorded render");
    }
    rec.newResourceCalls++;
    const state: Record<string, unknown> = { ...(args.inputs as Record<string, unknown>) };
    switch (args.type) {
        case TYPES.primaryIp:
            state.ipAddress = state.type === "ipv6" ? PRIMARY_IP6_NET : PRIMARY_IP;
            break;
        case TYPES.server:
            state.ipv6Address = SERVER_IP6;
            break;
        case TYPES.volume:
            state.linuxDevice = `/dev/disk/by-id/scsi-0HC_Volume_${numericId(args.type, args.name)}`;
            break;
        case TYPES.password:
            state.result = mockPassword(args.name);
            state.bcryptHash = mockBcrypt(args.name);
            break;
        case TYPES.remote:
            // the certificate's keys, as `mailstack-ctl host-key` prints them; every other step prints nothing here
            state.stdout = hostKeyOutput(state.create) ?? "";
            state.stderr = "";
            break;
        case TYPES.serverState:
            // what the dynamic provider's create reads from a freshly installed server
            state.facts = { dovecot: DOVECOT_VERSION, postfix: "3.7.11" };
            state.repairs = {};
            state.drifted = [];
            break;
        case TYPES.dkimKey: // deterministic per name, long enough to need two TXT strings, as a real 2048-bit key
            state.publicKey = Buffer.from(pick(ALNUM, `dkim:${args.name}`, 64).repeat(5)).toString("base64");
            state.privateKey = `-----BEGIN RSA PRIVATE KEY-----\n${pick(ALNUM, `dkim-private:${args.name}`, 64)}\n-----END RSA PRIVATE KEY-----\n`;
            break;
        case TYPES.local: // scripts/testbed server-up --json: the connection on the last line
            state.stdout = `starting\n${JSON.stringify({ id: TESTBED_ID, address: "192.0.2.10", port: 22, user: "root", privateKey: "k", storage: { device: "/dev/mailstack-volume" }, backupSshKey: "bk" })}`;
            state.stderr = "";
            break;
    }
    if (rec.engineSecrets) {
        for (const k of entry.additionalSecretOutputs) {
            if (k in state && !isSecretValue(state[k])) {
                state[k] = { [pulumi.runtime.specialSigKey]: pulumi.runtime.specialSecretSig, value: state[k] };
            }
        }
    }
    const id = args.custom ? (args.type.startsWith("hcloud:") ? numericId(args.type, args.name) : `${args.name}-id`) : undefined;
    entry.inputs = args.inputs as Record<string, unknown>;
    entry.state = state;
    entry.id = id;
    return { id, state };
}

export const mocks: pulumi.runtime.Mocks = {
    newResource,
    call: (args) => {
        throw new Error(`unexpected invoke ${args.token}`);
    },
};

type Callback = (err: unknown, response: { getUrn(): string } | undefined) => void;
interface Request {
    getType(): string;
    getName(): string;
    getCustom(): boolean;
    getParent(): string;
    getDependenciesList(): string[];
    getPropertydependenciesMap(): { forEach(f: (v: { getUrnsList(): string[] }, k: string) => void): void };
    getAdditionalsecretoutputsList(): string[];
    getDeletebeforereplace(): boolean;
    getIgnorechangesList(): string[];
    getReplaceonchangesList(): string[];
    getProtect(): boolean;
}

/** The mock monitor's side of a registration: the request (read above) and the callback that answers it. */
interface Monitor {
    registerResource(req: Request, callback: Callback): unknown;
}

/** A registration as sent (see the top of the file): recorded once the mock monitor has answered it. */
function recording(registerResource: Monitor["registerResource"]): Monitor["registerResource"] {
    return (req, callback) => {
        const propertyDependencies: Record<string, string[]> = {};
        req.getPropertydependenciesMap().forEach((v, k) => {
            propertyDependencies[k] = v.getUrnsList();
        });
        const entry: Registered = {
            type: req.getType(),
            name: req.getName(),
            urn: "",
            custom: req.getCustom(),
            inputs: {},
            parent: req.getParent() || undefined,
            dependencies: req.getDependenciesList(),
            propertyDependencies,
            additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
            deleteBeforeReplace: req.getDeletebeforereplace(),
            ignoreChanges: req.getIgnorechangesList(),
            replaceOnChanges: req.getReplaceonchangesList(),
            protect: req.getProtect(),
            state: {},
        };
        const rec = current;
        // The mock monitor calls mocks.newResource synchronously, before its first await: `pending` reaches it.
        pending = entry;
        try {
            return registerResource(req, (err, response) => {
                if (!err && response !== undefined) {
                    entry.urn = response.getUrn();
                    rec?.resources.push(entry);
                }
                callback(err, response);
            });
        } finally {
            pending = undefined;
        }
    };
}

type DebuggablePromise = (p: Promise<unknown>, ctx: unknown) => Promise<unknown>;

/**
 * The SDK's debuggablePromise, taking its stack trace without frames. It wraps each of the SDK's promises (a dozen
 * per resource, thousands per render) and keeps `new Error().stack` on it for one purpose: the leak report that
 * PULUMI_DEBUG_PROMISE_LEAKS prints at the process' exit, never in a test (that report still names each promise
 * by its context, e.g. `resolveURN(mail-server)`). Taking those frames was a quarter of a render's CPU. Every
 * other stack, the program's own errors and a failing test's included, keeps its frames.
 */
function quietPromiseTraces(): void {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const debuggable = require("@pulumi/pulumi/runtime/debuggable") as { debuggablePromise?: DebuggablePromise & { quiet?: true } };
    const original = debuggable.debuggablePromise;
    if (original === undefined) {
        throw new Error("@pulumi/pulumi no longer has runtime/debuggable.debuggablePromise");
    }
    if (original.quiet) {
        return;
    }
    const quiet: DebuggablePromise & { quiet?: true } = (p, ctx) => {
        const frames = Error.stackTraceLimit;
        Error.stackTraceLimit = 0;
        try {
            return original(p, ctx);
        } finally {
            Error.stackTraceLimit = frames;
        }
    };
    quiet.quiet = true;
    debuggable.debuggablePromise = quiet;
}

/** Installs the mocks once (call from beforeAll); `preview` runs the program as `pulumi preview` does. */
export async function installMocks(preview = false): Promise<void> {
    quietPromiseTraces();
    await pulumi.runtime.setMocks(mocks, "mailstack", "unit", preview);
    const monitor = pulumi.runtime.getMonitor() as unknown as Monitor | undefined;
    if (monitor === undefined) {
        throw new Error("pulumi.runtime.setMocks installed no monitor");
    }
    monitor.registerResource = recording(monitor.registerResource.bind(monitor));
}

export interface Recording<T> {
    rec: Recorder;
    result?: T;
    /** What `program` threw, if it did. */
    error?: unknown;
}

/** Records everything registered while `program` runs, until no RPC is outstanding. */
export async function record<T>(program: () => T, engineSecrets = true): Promise<Recording<T>> {
    if (current !== undefined) {
        throw new Error("renders must not overlap");
    }
    const rec = new Recorder(engineSecrets);
    current = rec;
    // The program runs with node's 10 frames per stack trace, not the 100 jest sets for a failing test's: the SDK
    // takes one for each promise it makes (see tests/stack-traces.ts), thousands per render, and taking 100 frames
    // each was a third of a render's time. What a test asserts runs after the render, with jest's 100 again.
    const frames = Error.stackTraceLimit;
    Error.stackTraceLimit = 10;
    try {
        let result: T | undefined;
        let error: unknown;
        try {
            result = program();
        } catch (e) {
            error = e;
        }
        await waitForRegistrations();
        return error === undefined ? { rec, result } : { rec, error };
    } finally {
        current = undefined;
        Error.stackTraceLimit = frames;
    }
}

/** Every registration done (the second exception at the top of the file). */
async function waitForRegistrations(): Promise<void> {
    const wait = (pulumi.runtime as unknown as { waitForRPCs?: () => Promise<void> }).waitForRPCs;
    if (wait === undefined) {
        throw new Error("@pulumi/pulumi no longer exports runtime.waitForRPCs");
    }
    await wait();
}

/** An Output's value (mocks run as `up`, so it is known). */
export function valueOf<T>(o: pulumi.Output<T>): Promise<T> {
    return new Promise((resolve) => o.apply((v) => {
        resolve(v);
        return v;
    }));
}

export { SMALL } from "../fixtures/config";

/** The MailServer of `raw` under the mocks, given these secrets (a dummy SSH key unless one is given). */
export async function renderServer(raw: RawConfig, secrets: Omit<MailServerArgs, "config"> = {}):
    Promise<{ rec: Recorder; server: MailServer }> {
    const config = parseConfig(raw);
    const { rec, result, error } = await record(() => new MailServer("mail", {
        config, sshPrivateKey: pulumi.secret("k"), ...secrets,
    }));
    if (error !== undefined || result === undefined) {
        throw error instanceof Error ? error : new Error(JSON.stringify(error));
    }
    return { rec, server: result };
}

/**
 * renderServer, made once per distinct config and secrets (plain values, compared as JSON) for the tests of one file
 * that only read what it registered: a render of the whole stack is the costly part of those tests.
 */
export function renderServerOnce(): typeof renderServer {
    const made = new Map<string, ReturnType<typeof renderServer>>();
    return (raw, secrets = {}) => {
        const key = JSON.stringify([raw, secrets]);
        let render = made.get(key);
        if (render === undefined) {
            render = renderServer(raw, secrets);
            made.set(key, render);
        }
        return render;
    };
}

/** parseConfig refuses `raw` with one line that names mailstack:KEY and matches `message`. */
export function expectRejected(raw: RawConfig, key: string, message: RegExp): void {
    let error: unknown;
    try {
        parseConfig(raw);
    } catch (e) {
        error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    // Every problem is reported, one line each: the one expected is among them.
    const problems = (error as ConfigError).problems;
    expect(problems.every((p) => !p.line.includes("\n"))).toBe(true);
    expect((error as ConfigError).message.split("\n")).toEqual(problems.map((p) => p.line));
    const problem = problems.find((p) => p.key === key);
    expect(problem?.line ?? problems.map((p) => p.line)).toMatch(message);
}
