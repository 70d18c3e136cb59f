// A stack written by the upstream plugins (pulumi-hcloud, pulumi-random, pulumi-command) moves to the plugins this
// machine has (the stand-ins of toolchain/ where the upstream ones cannot be had) without a change: the state
// below is written by hand the way the upstream plugins store it, imported with `pulumi stack import`, and the
// prod program's preview against it must be empty. Offline: a preview never calls the Hetzner API.
//
// Upstream conventions in the state:
// - Inputs are what the program gave. The bridge's Plugin Framework Check adds no Terraform defaults
//   (pulumi-terraform-bridge pkg/pf/tfbridge/provider_check.go: SshKey, PrimaryIp, Rdns, RandomPassword); its SDKv2
//   Check adds "__defaults" (the keys it filled in, nested objects included) and suppresses falsy Terraform
//   defaults (pkg/tfbridge/schema.go: Server, Firewall, FirewallAttachment). pulumi-command stores its inputs as
//   given (addPreviousOutputInEnv's default true is not written).
// - Outputs carry every attribute, the Terraform defaults included (RandomPassword upper/lower/number/numeric
//   true, min_* 0; Server keepDisk, backups, ... false).

import { spawnSync, SpawnSyncReturns } from "child_process";
import { createHash } from "crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { parseConfig, RawConfig } from "../../components/config";
import { mailZones, recordSets } from "../../components/render/dns";
import { dnsRecords } from "../../components/render/records";

jest.setTimeout(300_000);

const ROOT = path.join(__dirname, "..", "..");
const STACK = "upstream";
const PROJECT = "mailstack";
// Without a final newline: `pulumi config set` drops it from stdin.
const PRIVATE_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nbm90IGEga2V5\n-----END OPENSSH PRIVATE KEY-----";
const HOSTNAME = "mail.jumpforjoy.example";
const PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPlaceholderReplaceWithYourOwnPublicKey00000 admin@example";
const IP = "203.0.113.10";
const labels = { "managed-by": "mailstack" };
const ANYWHERE = ["0.0.0.0/0", "::/0"];

const secret = (v: unknown) => ({ "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", plaintext: JSON.stringify(v) });

const types = {
    stack: "pulumi:pulumi:Stack",
    mail: "mailstack:index:MailServer",
    host: "mailstack:index:HetznerServer",
    firewall: "mailstack:index:Firewall",
    users: "mailstack:index:Users",
};
const urn = (chain: string[], name: string) => `urn:pulumi:${STACK}::${PROJECT}::${chain.join("$")}::${name}`;
const stackUrn = urn([types.stack], `${PROJECT}-${STACK}`);
const mailUrn = urn([types.mail], "mail");
const hostUrn = urn([types.mail, types.host], "mail-server");
const fwUrn = urn([types.mail, types.firewall], "mail-firewall");
const usersUrn = urn([types.mail, types.users], "mail-users");
const provider = (pkg: string, version: string) => ({
    urn: `urn:pulumi:${STACK}::${PROJECT}::pulumi:providers:${pkg}::default_${version.replace(/\./g, "_")}`,
    custom: true, id: `${pkg}-provider-id`, type: `pulumi:providers:${pkg}`,
    inputs: { version }, outputs: { version },
});
const providers = { hcloud: provider("hcloud", "1.41.0"), random: provider("random", "4.21.2"), command: provider("command", "1.2.1") };
const ref = (p: { urn: string; id: string }) => `${p.urn}::${p.id}`;
const component = (u: string, type: string, parent?: string) => ({ urn: u, custom: false, type, ...(parent ? { parent } : {}) });

interface Res { urn: string; id: string; type: string; parent: string; provider: string; inputs: object; outputs: object; dependencies?: string[];
    protect?: boolean }
const hc = (parentUrn: string, type: string, name: string, id: string, inputs: object, outputs: object, dependencies: string[] = []): Res => ({
    urn: urn([types.mail, parentUrn === hostUrn ? types.host : types.firewall, type], name), id, type,
    parent: parentUrn, provider: ref(providers.hcloud), inputs, outputs: { ...outputs, id }, dependencies,
});

const keyId = "11", ipId = "12", serverId = "13", fwId = "14", ip6Id = "15", volumeId = "16";
const IP6 = "2001:db8:1::1";
const sshKey = hc(hostUrn, "hcloud:index/sshKey:SshKey", "mail-server-key", keyId,
    { labels, name: HOSTNAME, publicKey: PUBLIC_KEY },
    { fingerprint: "b7:2f:00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd", labels, name: HOSTNAME, publicKey: PUBLIC_KEY });
const primaryIp = hc(hostUrn, "hcloud:index/primaryIp:PrimaryIp", "mail-server-ipv4", ipId,
    { autoDelete: false, labels, location: "nbg1", name: `${HOSTNAME}-ipv4`, type: "ipv4" },
    { assigneeId: Number(serverId), assigneeType: "server", autoDelete: false, deleteProtection: false, ipAddress: IP,
        ipNetwork: "", labels, location: "nbg1", name: `${HOSTNAME}-ipv4`, type: "ipv4" });
const primaryIp6 = hc(hostUrn, "hcloud:index/primaryIp:PrimaryIp", "mail-server-ipv6", ip6Id,
    { autoDelete: false, labels, location: "nbg1", name: `${HOSTNAME}-ipv6`, type: "ipv6" },
    { assigneeId: Number(serverId), assigneeType: "server", autoDelete: false, deleteProtection: false,
        ipAddress: "2001:db8:1::/64", ipNetwork: "2001:db8:1::/64", labels, location: "nbg1", name: `${HOSTNAME}-ipv6`,
        type: "ipv6" });
const server = hc(hostUrn, "hcloud:index/server:Server", "mail-server", serverId,
    { __defaults: [], deleteProtection: true, image: "debian-12", labels, location: "nbg1", name: HOSTNAME,
        publicNets: [{ __defaults: [], ipv4: Number(ipId), ipv4Enabled: true, ipv6: Number(ip6Id), ipv6Enabled: true }],
        rebuildProtection: true, serverType: "cx22", sshKeys: [keyId] },
    { allowDeprecatedImages: false, backupWindow: "", backups: false, deleteProtection: true, firewallIds: [Number(fwId)],
        ignoreRemoteFirewallIds: false, image: "debian-12", ipv4Address: IP, ipv6Address: "2001:db8:1::1",
        ipv6Network: "2001:db8:1::/64", keepDisk: false, labels, location: "nbg1", name: HOSTNAME, primaryDiskSize: 40,
        publicNets: [{ ipv4: Number(ipId), ipv4Enabled: true, ipv6: Number(ip6Id), ipv6Enabled: true }], rebuildProtection: true,
        serverType: "cx22", shutdownBeforeDeletion: false, sshKeys: [keyId], status: "running" },
    [sshKey.urn, primaryIp.urn, primaryIp6.urn]);
server.protect = true;
const volume = hc(hostUrn, "hcloud:index/volume:Volume", "mail-server-data", volumeId,
    { __defaults: [], automount: false, deleteProtection: true, format: "ext4", labels, location: "nbg1",
        name: `${HOSTNAME}-data`, size: 10 },
    { automount: false, deleteProtection: true, format: "ext4", labels, linuxDevice: `/dev/disk/by-id/scsi-0HC_Volume_${volumeId}`,
        location: "nbg1", name: `${HOSTNAME}-data`, serverId: Number(serverId), size: 10 });
volume.protect = true;
const volumeAttachment = hc(hostUrn, "hcloud:index/volumeAttachment:VolumeAttachment", "mail-server-data", volumeId,
    { __defaults: [], automount: false, serverId: Number(serverId), volumeId: Number(volumeId) },
    { automount: false, serverId: Number(serverId), volumeId: Number(volumeId) }, [volume.urn, server.urn]);
const rdns = hc(hostUrn, "hcloud:index/rdns:Rdns", "mail-server-ptr", `p-${ipId}-${IP}`,
    { dnsPtr: HOSTNAME, ipAddress: IP, primaryIpId: Number(ipId) },
    { dnsPtr: HOSTNAME, ipAddress: IP, primaryIpId: Number(ipId) }, [primaryIp.urn, server.urn]);
const rdns6 = hc(hostUrn, "hcloud:index/rdns:Rdns", "mail-server-ptr6", `p-${ip6Id}-${IP6}`,
    { dnsPtr: HOSTNAME, ipAddress: IP6, primaryIpId: Number(ip6Id) },
    { dnsPtr: HOSTNAME, ipAddress: IP6, primaryIpId: Number(ip6Id) }, [primaryIp6.urn, server.urn]);
const rule = (port: string | undefined, description: string, sourceIps: string[]) => ({
    __defaults: [], description, direction: "in", ...(port ? { port, protocol: "tcp" } : { protocol: "icmp" }), sourceIps,
});
const rules = [
    rule("22", "SSH (admins only)", ["203.0.113.0/24"]), rule("25", "SMTP: inbound mail", ANYWHERE),
    rule("80", "HTTP: ACME HTTP-01 challenges, redirect to https", ANYWHERE), rule("143", "IMAP with STARTTLS", ANYWHERE),
    rule("443", "HTTPS: autoconfig, autodiscover, MTA-STS", ANYWHERE), rule("587", "Submission with STARTTLS", ANYWHERE),
    rule("4190", "ManageSieve with STARTTLS (mail filters)", ANYWHERE), rule(undefined, "ping, path MTU discovery", ANYWHERE),
];
const firewall = hc(fwUrn, "hcloud:index/firewall:Firewall", "mail-firewall", fwId,
    { __defaults: [], labels, name: HOSTNAME, rules },
    { applyTos: [{ server: Number(serverId) }], labels, name: HOSTNAME,
        rules: rules.map(({ __defaults, ...r }) => ({ ...r, destinationIps: [] })) });
const attachment = hc(fwUrn, "hcloud:index/firewallAttachment:FirewallAttachment", "mail-firewall", fwId,
    { __defaults: [], firewallId: Number(fwId), serverIds: [Number(serverId)] },
    { firewallId: Number(fwId), labelSelectors: [], serverIds: [Number(serverId)] }, [firewall.urn, server.urn]);

const password = (user: string, result: string): Res => ({
    urn: urn([types.mail, types.users, "random:index/randomPassword:RandomPassword"], `mail-users-${user}`),
    id: "none", type: "random:index/randomPassword:RandomPassword", parent: usersUrn, provider: ref(providers.random),
    inputs: { length: 24, special: false },
    outputs: { id: "none", length: 24, lower: true, minLower: 0, minNumeric: 0, minSpecial: 0, minUpper: 0, number: true,
        numeric: true, special: false, upper: true, result: secret(result),
        bcryptHash: secret("$2a$10$abcdefghijklmnopqrstuuq3Lhx6Bg7m0Gq1ZC0k3pM8r4fDmO8g2") },
});
const passwords = [password("mark@jumpforjoy.example", "Mark0123456789abcdefABCD"), password("apps@jumpforjoy.example", "Apps0123456789abcdefABCD")];

const connection = { dialErrorLimit: -1, host: IP, perDialTimeout: 15, port: 22, privateKey: PRIVATE_KEY, user: "root" };
const sshStep: Res = {
    urn: urn([types.mail, types.host, "command:remote:Command"], "mail-server-ssh"), id: "mail-server-ssh-0a1b2c3d",
    type: "command:remote:Command", parent: hostUrn, provider: ref(providers.command),
    inputs: { addPreviousOutputInEnv: false, connection: secret(connection), create: "echo up", logging: "stdoutAndStderr",
        triggers: [`hcloud-${serverId}`] },
    outputs: { addPreviousOutputInEnv: false, connection: secret(connection), create: "echo up", logging: "stdoutAndStderr",
        stderr: "", stdout: "up", triggers: [`hcloud-${serverId}`] },
    dependencies: [server.urn],
};

const customs: Res[] = [sshKey, primaryIp, primaryIp6, server, volume, volumeAttachment, rdns, rdns6, firewall, attachment,
    ...passwords, sshStep];
const deployment = {
    version: 3,
    deployment: {
        manifest: { time: "2026-11-01T00:00:00Z", magic: createHash("sha256").update("v3.274.1").digest("hex"), version: "v3.274.1" },
        resources: [
            component(stackUrn, types.stack),
            ...Object.values(providers),
            component(mailUrn, types.mail, stackUrn),
            component(hostUrn, types.host, mailUrn),
            component(fwUrn, types.firewall, mailUrn),
            component(usersUrn, types.users, mailUrn),
            ...customs.map((r) => ({ ...r, custom: true })),
        ],
    },
};

interface Step { op: string; urn: string; diffs?: string[]; detailedDiff?: unknown;
    newState?: { type: string; inputs: Record<string, unknown> } }
interface Preview { steps: Step[]; diagnostics?: { severity: string; message: string }[] }

let dir: string;
/** The prod program's one preview of the imported state (the whole program, with diffs): each test reads its part.
 * A preview is a CLI, a language host and the program (about 10 s of CPU); two were half of this file's time. */
let preview: Preview;

function pulumi(args: string[], input?: string): SpawnSyncReturns<string> {
    return spawnSync("bash", ["-c", `. "${ROOT}/scripts/lib.sh" && cd "${dir}" && exec pulumi "$@"`, "pulumi", ...args], {
        encoding: "utf8",
        input,
        env: {
            ...process.env,
            PULUMI_BACKEND_URL: `file://${path.join(dir, "state")}`,
            PULUMI_CONFIG_PASSPHRASE: "upstream-state-test",
            PULUMI_CONFIG_PASSPHRASE_FILE: "",
            HCLOUD_TOKEN: "x".repeat(64),
        },
    });
}

function ok(r: SpawnSyncReturns<string>): string {
    if (r.status !== 0) {
        throw new Error(`pulumi failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
    }
    return r.stdout;
}

/**
 * The `config:` block of a stack file, alone: after the README's `preview --stack prod`, Pulumi.prod.yaml also has
 * that stack's `encryptionsalt` (this stack has its own) and may hold values encrypted with it (`secure:`), which
 * this stack could not read.
 */
function configBlock(stackYaml: string): string {
    const lines = stackYaml.split("\n");
    const start = lines.findIndex((l) => l === "config:");
    if (start < 0) {
        return "";
    }
    const end = lines.findIndex((l, i) => i > start && /^\S/.test(l));
    const body = lines.slice(start + 1, end < 0 ? undefined : end);
    // one entry per two-space key, with its more-indented lines (comments go with the entry after them)
    const entries: string[][] = [];
    let pending: string[] = [];
    for (const l of body) {
        if (/^ {2}[^ #]/.test(l)) {
            entries.push([...pending, l]);
            pending = [];
        } else if (/^ {3,}\S/.test(l) && entries.length > 0 && pending.length === 0) {
            entries[entries.length - 1].push(l);
        } else {
            pending.push(l);
        }
    }
    const kept = entries.filter((e) => !e.some((l) => /^\s+secure:/.test(l)));
    return ["config:", ...kept.flat(), ""].join("\n");
}

beforeAll(() => {
    // The project, by links: the stack's config file and state stay out of the checkout.
    dir = mkdtempSync(path.join(tmpdir(), "mailstack-upstream-state-"));
    for (const f of ["index.ts", "components", "files", "node_modules", "package.json", "tsconfig.json", "Pulumi.yaml"]) {
        symlinkSync(path.join(ROOT, f), path.join(dir, f));
    }
    mkdirSync(path.join(dir, "state"));
    ok(pulumi(["stack", "init", STACK]));
    const prod = readFileSync(path.join(ROOT, "Pulumi.prod.yaml"), "utf8");
    const stackFile = path.join(dir, `Pulumi.${STACK}.yaml`);
    writeFileSync(stackFile, readFileSync(stackFile, "utf8") + configBlock(prod));
    ok(pulumi(["config", "set", "--secret", "mailstack:sshPrivateKey", "--stack", STACK], PRIVATE_KEY));
    // Secrets in the import are plaintext; the stack's passphrase provider (its salt) encrypts them.
    const salt = /^encryptionsalt: (\S+)$/m.exec(readFileSync(stackFile, "utf8"))?.[1];
    const file = path.join(dir, "upstream.json");
    writeFileSync(file, JSON.stringify({ ...deployment, deployment: { ...deployment.deployment,
        secrets_providers: { type: "passphrase", state: { salt } } } }, null, 2));
    ok(pulumi(["stack", "import", "--stack", STACK, "--file", file]));
    preview = JSON.parse(ok(pulumi(["preview", "--stack", STACK, "--json", "--diff"]))) as Preview;
});

afterAll(() => {
    if (dir) {
        rmSync(dir, { recursive: true, force: true });
    }
});

test("the prod program's preview of a stack the upstream plugins wrote changes nothing, and warns of nothing", () => {
    // No resource of the imported state is updated, replaced or deleted; the only other steps are creates of what
    // the state does not hold (the DNS test below accounts for them). One preview of the whole program serves both.
    const imported = new Set<string>(deployment.deployment.resources.map((r) => r.urn));
    const changed = preview.steps.filter((s) => s.op !== "same" && (s.op !== "create" || imported.has(s.urn)));
    expect(changed.map((s) => ({ op: s.op, urn: s.urn, diffs: s.diffs, detailedDiff: s.detailedDiff }))).toEqual([]);
    expect((preview.diagnostics ?? []).filter((d) => d.severity === "warning")).toEqual([]);
});

test("after a prod preview (its salt and a secret in Pulumi.prod.yaml) the config block is the same", () => {
    const prod = readFileSync(path.join(ROOT, "Pulumi.prod.yaml"), "utf8");
    const previewed = `${prod.replace(/\n*$/, "\n")}  mailstack:sshPrivateKey:\n    secure: v1:abc:def\n` +
        "encryptionsalt: v1:c9+wbTvlzfU=:v1:6FIvtdXo/hWKBy1c:oMPSrWA43Fx5ruL1zLa3pZY2ULDJzg==\n";
    expect(configBlock(previewed)).toBe(configBlock(prod));
    expect(configBlock(previewed)).not.toMatch(/encryptionsalt|secure:/);
    expect(configBlock(prod)).toContain("mailstack:hostname: mail.jumpforjoy.example");
});

test("the prod preview lists every record set of dnsRecords as a ZoneRrset to create, and the one zone it creates", () => {
    // the whole program: every step beyond the imported state is a create, previewed without the Hetzner API
    const steps = preview.steps;
    const of = (type: string) => steps.filter((st) => st.newState?.type === type);
    // js-yaml comes with jest and has no types here (as in tests/unit/bad-config.test.ts)
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const yaml = require("js-yaml") as { load(text: string): { config: Record<string, unknown> } };
    const raw = Object.fromEntries(Object.entries(yaml.load(readFileSync(path.join(ROOT, "Pulumi.prod.yaml"), "utf8")).config)
        .filter(([k]) => k.startsWith("mailstack:")).map(([k, v]) => [k.slice("mailstack:".length), v])) as unknown as RawConfig;
    const c = parseConfig(raw);
    const domains = [c.baseDomain, ...c.virtualDomains];
    const expected = recordSets(dnsRecords(c, IP, IP6, domains.map((domain) => ({ domain, selector: c.dkim.selector, publicKey: "k" }))),
        mailZones(c.hostname, domains), 300);
    const rrsets = of("hcloud:index/zoneRrset:ZoneRrset");
    expect(rrsets.every((st) => st.op === "create")).toBe(true);
    const shown = rrsets.map((st) => {
        const i = st.newState?.inputs ?? {};
        return `${String(i.name) === "@" ? String(i.zone) : `${String(i.name)}.${String(i.zone)}`} ${String(i.type)} ${String(i.ttl)}`;
    }).sort();
    expect(shown).toEqual(expected.map((st) => `${st.fqdn} ${st.type} 300`).sort());
    expect(shown.length).toBeGreaterThan(30);
    // records: the values from the addresses in the state; a DKIM set's are unknown until its key exists (same up)
    const values = new Map(expected.map((st) => [`${st.fqdn} ${st.type} 300`, st.values.map((value) => ({ value }))]));
    rrsets.forEach((st, i) => {
        const key = `${String(st.newState?.inputs.name) === "@" ? "" : `${String(st.newState?.inputs.name)}.`}` +
            `${String(st.newState?.inputs.zone)} ${String(st.newState?.inputs.type)} 300`;
        if (!key.includes("._domainkey.")) {
            expect([i, key, st.newState?.inputs.records]).toEqual([i, key, values.get(key)]);
        }
    });
    expect(of("hcloud:index/zone:Zone").map((st) => [st.op, st.newState?.inputs.name])).toEqual([["create", "jumpforjoy.example"]]);
});
