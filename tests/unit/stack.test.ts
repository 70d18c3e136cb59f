// The whole MailServer under Pulumi mocks: which resources exist, with which inputs, in which order, and where the
// secrets go. Nothing here talks to a cloud or a server.

import * as pulumi from "@pulumi/pulumi";
import { MailConfig, parseConfig, RawConfig } from "../../components/config";
import { ctlScript } from "../../components/render/ctl";
import { NGINX_CONF } from "../../components/render/web";
import { certbotCommand } from "../../components/certificate";
import { tcpRules } from "../../components/firewall";
import { HetznerServer } from "../../components/host";
import { MailServer, MailServerArgs } from "../../components/mailServer";
import { OWN_LOGINS_SCRIPT } from "../../components/serverState";
import { OWN } from "../../components/users";
import { sha256 } from "../../components/remote";
import {
    installMocks, isSecretValue, mockBcrypt, mockPassword, PRIMARY_IP, PRIMARY_IP6_NET, record, SERVER_IP6, Recorder, Registered,
    reveal, TESTBED_ID, TYPES, valueOf,
} from "./harness";

const SSH_PRIVATE_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nbW9jayBrZXk=\n-----END OPENSSH PRIVATE KEY-----\n";
const ANYWHERE = ["0.0.0.0/0", "::/0"];

const common: RawConfig = {
    hostname: "mail.example.org",
    baseDomain: "example.org",
    virtualDomains: ["example.net", "example.com"],
    virtualUsers: ["bob@example.net", "carol@example.net", "dave@example.com"],
    systemUsers: ["frank", "grace"],
    aliases: { "info@example.net": "bob@example.net", "postmaster@example.com": ["dave@example.com", "alice"] },
    certificate: { email: "admin@example.org", acme: "staging" },
    adminEmail: "alice@example.org",
};

const hetznerHost = {
    kind: "hetzner",
    serverType: "cx32",
    location: "fsn1",
    image: "debian-12",
    sshPublicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMockMockMockMockMockMockMockMockMockMock admin@example",
    adminCidrs: ["198.51.100.0/24", "2001:db8::/48"],
};
const existingHost = { kind: "existing", address: "192.0.2.25", port: 2222, user: "admin" };

const hetznerRaw: RawConfig = { ...common, host: hetznerHost };
const existingRaw: RawConfig = { ...common, host: existingHost };

interface Rendered {
    rec: Recorder;
    server: MailServer;
    config: MailConfig;
}

async function render(raw: RawConfig, engineSecrets = true, readServer?: MailServerArgs["readServer"]): Promise<Rendered> {
    const config = parseConfig(raw);
    const { rec, result, error } = await record(
        () => new MailServer("mail", { config, sshPrivateKey: pulumi.secret(SSH_PRIVATE_KEY), readServer }), engineSecrets);
    if (error !== undefined || result === undefined) {
        throw error;
    }
    return { rec, server: result, config };
}

/** The component of a given type (exactly one). */
const component = (rec: Recorder, type: string): Registered => rec.one(`mailstack:index:${type}`);

const tcpPorts = (rules: { protocol: string; port?: string }[]): number[] =>
    rules.filter((r) => r.protocol === "tcp").map((r) => Number(r.port)).sort((a, b) => a - b);

beforeAll(async () => {
    await installMocks();
});

describe("firewall ports (tcpRules)", () => {
    test.each([
        [false, false, [22, 25, 80, 143, 443, 587, 4190]],
        [true, false, [22, 25, 80, 143, 443, 587, 993, 4190]],
        [false, true, [22, 25, 80, 143, 443, 465, 587, 4190]],
        [true, true, [22, 25, 80, 143, 443, 465, 587, 993, 4190]],
    ])("imaps=%s smtps=%s opens exactly %j", (imaps, smtps, expected) => {
        const adminCidrs = ["198.51.100.0/24"];
        const rules = tcpRules({ adminCidrs, imaps, smtps });
        expect(tcpPorts(rules)).toEqual(expected);
        expect(new Set(rules.map((p) => p.port)).size).toBe(rules.length);
        for (const p of rules) {
            expect({ port: p.port, sources: p.sourceIps }).toEqual({ port: p.port, sources: p.port === "22" ? adminCidrs : ANYWHERE });
        }
    });
});

describe("MailServer on a new Hetzner server", () => {
    let r: Rendered;
    beforeAll(async () => {
        r = await render(hetznerRaw);
    });

    test("one of each hcloud resource, and a primary IP and PTR per address family", () => {
        const hcloud = r.rec.resources.filter((x) => x.type.startsWith("hcloud:")).map((x) => x.type).sort();
        expect(hcloud).toEqual([
            TYPES.firewall, TYPES.firewallAttachment, TYPES.primaryIp, TYPES.primaryIp, TYPES.rdns, TYPES.rdns,
            TYPES.server, TYPES.sshKey, TYPES.volume, TYPES.volumeAttachment,
        ].sort());
    });

    test("the mail state's volume: size from the config, ext4, in the server's location, attached to the server", async () => {
        const volume = r.rec.one(TYPES.volume);
        expect(volume.inputs).toEqual({
            name: "mail.example.org-data", size: 10, location: "fsn1", format: "ext4", automount: false,
            deleteProtection: true, labels: { "managed-by": "mailstack" },
        });
        const server = r.rec.one(TYPES.server);
        expect(r.rec.one(TYPES.volumeAttachment).inputs).toEqual({
            volumeId: Number(volume.id), serverId: Number(server.id), automount: false,
        });
        // what the rest of the stack mounts
        const host = r.server.host as HetznerServer;
        expect(await valueOf(host.storage.device)).toBe(`/dev/disk/by-id/scsi-0HC_Volume_${volume.id}`);
        // attached before the first remote step
        const apt = r.rec.named("mail-packages-apt");
        expect(r.rec.transitivelyWaitsFor(apt)).toContain(r.rec.one(TYPES.volumeAttachment).urn);
        const sized = await render({ ...hetznerRaw, host: { ...hetznerHost, volumeSize: 50 } });
        expect(sized.rec.one(TYPES.volume).inputs.size).toBe(50);
    });

    test("server and volume are protected: at Hetzner, and from a plan that would replace or delete them", () => {
        const server = r.rec.one(TYPES.server);
        expect(server.inputs).toMatchObject({ deleteProtection: true, rebuildProtection: true });
        expect(server.protect).toBe(true);
        expect(r.rec.one(TYPES.volume).protect).toBe(true);
        expect(r.rec.resources.filter((x) => x.protect).map((x) => x.type).sort()).toEqual([TYPES.server, TYPES.volume].sort());
    });

    test("a changed image replaces the server only: the volume neither changes nor depends on the server", async () => {
        const next = await render({ ...hetznerRaw, host: { ...hetznerHost, image: "debian-13" } });
        const server = r.rec.one(TYPES.server);
        expect(next.rec.one(TYPES.server).inputs.image).toBe("debian-13");
        const volume = r.rec.one(TYPES.volume);
        const volume2 = next.rec.one(TYPES.volume);
        expect({ inputs: volume2.inputs, protect: volume2.protect }).toEqual({ inputs: volume.inputs, protect: true });
        // nothing of the server reaches the volume, so its replacement cannot replace or delete the volume;
        // only the attachment names the server
        expect(r.rec.transitivelyWaitsFor(volume)).not.toContain(server.urn);
        expect(r.rec.one(TYPES.volumeAttachment).propertyDependencies.serverId).toEqual([server.urn]);
        // the replacement must be asked for: it stays protected until host.replaceServer says so
        expect(next.rec.one(TYPES.server).protect).toBe(true);
    });

    test("host.replaceServer lifts the server's Pulumi protection only; host.protect: false (a test stack) lifts all", async () => {
        const replace = await render({ ...hetznerRaw, host: { ...hetznerHost, image: "debian-13", replaceServer: true } });
        expect(replace.rec.one(TYPES.server).protect).toBe(false);
        expect(replace.rec.one(TYPES.volume).protect).toBe(true);
        expect(replace.rec.one(TYPES.volume).inputs.deleteProtection).toBe(true);
        const test = await render({ ...hetznerRaw, host: { ...hetznerHost, protect: false } });
        expect(test.rec.resources.filter((x) => x.protect)).toEqual([]);
        expect(test.rec.one(TYPES.server).inputs).toMatchObject({ deleteProtection: false, rebuildProtection: false });
        expect(test.rec.one(TYPES.volume).inputs.deleteProtection).toBe(false);
    });

    test("every remote step's triggers carry the server id, so a replaced server is set up again", () => {
        const server = r.rec.one(TYPES.server);
        const steps = r.rec.byType(TYPES.remote);
        expect(steps.length).toBeGreaterThan(10);
        for (const step of steps) {
            const triggers = reveal(step.inputs.triggers) as unknown[];
            expect({ name: step.name, first: triggers[0] }).toEqual({ name: step.name, first: `hcloud-${server.id}` });
            expect(step.propertyDependencies.triggers).toContain(server.urn);
            // and the provider gets a plain connection
            expect(Object.keys(reveal(step.inputs.connection) as object)).not.toContain("server");
        }
    });

    test("ssh key, primary IPs and server come from the config", () => {
        const key = r.rec.one(TYPES.sshKey);
        expect(key.inputs).toMatchObject({ name: "mail.example.org", publicKey: hetznerHost.sshPublicKey });

        // autoDelete false: the addresses (and their PTRs and reputation) outlive a replaced server.
        const ip = r.rec.one(TYPES.primaryIp, "mail-server-ipv4");
        expect(ip.inputs).toMatchObject({ type: "ipv4", location: "fsn1", autoDelete: false });
        const ip6 = r.rec.one(TYPES.primaryIp, "mail-server-ipv6");
        expect(ip6.inputs).toMatchObject({ type: "ipv6", location: "fsn1", autoDelete: false });
        // assigneeType without assigneeId makes the provider warn on every preview and up.
        for (const x of [ip, ip6]) {
            expect(x.inputs).not.toHaveProperty("assigneeType");
        }

        const server = r.rec.one(TYPES.server);
        expect(server.inputs).toMatchObject({
            name: "mail.example.org", image: "debian-12", location: "fsn1", serverType: "cx32", sshKeys: [key.id],
        });
        expect(server.inputs.publicNets).toEqual([expect.objectContaining({
            ipv4Enabled: true, ipv4: Number(ip.id), ipv6Enabled: true, ipv6: Number(ip6.id),
        })]);
    });

    test("replacement order and kept keys are stated, not left to the provider", () => {
        // Hetzner names are unique and key and IPs keep theirs; the provider would create the new one first.
        for (const type of [TYPES.sshKey, TYPES.primaryIp, TYPES.rdns]) {
            for (const x of r.rec.byType(type)) {
                expect({ name: x.name, dbr: x.deleteBeforeReplace }).toEqual({ name: x.name, dbr: true });
            }
        }
        const server = r.rec.one(TYPES.server);
        // A new SSH key must not replace (wipe) the server: keys are only installed at create.
        expect(server.ignoreChanges).toEqual(["sshKeys"]);
        expect(server.deleteBeforeReplace).toBe(false);
    });

    test("the output of quiet steps is a secret output; of the others not", () => {
        const remotes = r.rec.byType(TYPES.remote);
        const quiet = remotes.filter((x) => x.inputs.logging === "none");
        expect(quiet.length).toBeGreaterThan(0);
        for (const step of remotes) {
            const want = step.inputs.logging === "none" ? ["stdout", "stderr"] : [];
            const secret = step.additionalSecretOutputs.filter((k) => k === "stdout" || k === "stderr");
            expect({ name: step.name, secret }).toEqual({ name: step.name, secret: want });
        }
    });

    test("reverse DNS: the hostname, on the IPv4 primary IP and on the server's IPv6 address", () => {
        const ip = r.rec.one(TYPES.primaryIp, "mail-server-ipv4");
        const rdns = r.rec.one(TYPES.rdns, "mail-server-ptr");
        expect(rdns.inputs).toEqual({ dnsPtr: "mail.example.org", primaryIpId: Number(ip.id), ipAddress: PRIMARY_IP });
        expect(r.rec.explicitDependencies(rdns)).toContain(r.rec.one(TYPES.server).urn);
        const ip6 = r.rec.one(TYPES.primaryIp, "mail-server-ipv6");
        const rdns6 = r.rec.one(TYPES.rdns, "mail-server-ptr6");
        expect(rdns6.inputs).toEqual({ dnsPtr: "mail.example.org", primaryIpId: Number(ip6.id), ipAddress: SERVER_IP6 });
        expect(SERVER_IP6.startsWith(PRIMARY_IP6_NET)).toBe(true);
    });

    test("postfix sends over IPv6 from the address with the PTR; elsewhere IPv4 only", () => {
        const mainCf = r.rec.customsOf(component(r.rec, "Postfix")).map((x) => reveal(x.inputs.stdin))
            .find((t) => typeof t === "string" && t.includes("inet_protocols")) as string;
        expect(mainCf).toMatch(/^inet_protocols = all$/m);
        expect(mainCf).toContain(`\nsmtp_bind_address6 = ${SERVER_IP6}\n`);
    });

    test("firewall: exactly 22 (admins only), 25, 80, 143, 587, 4190 (managesieve), and ping; attached to the server", () => {
        const fw = r.rec.one(TYPES.firewall);
        const rules = fw.inputs.rules as { direction: string; protocol: string; port?: string; sourceIps: string[] }[];
        expect(tcpPorts(rules)).toEqual([22, 25, 80, 143, 443, 587, 4190]);
        // The resource carries exactly what tcpRules computes for this config.
        expect(rules.filter((x) => x.protocol === "tcp"))
            .toEqual(tcpRules({ adminCidrs: hetznerHost.adminCidrs, imaps: false, smtps: false }));
        for (const rule of rules) {
            expect(rule.direction).toBe("in");
            expect(rule.sourceIps).toEqual(rule.port === "22" ? hetznerHost.adminCidrs : ANYWHERE);
        }
        expect(rules.filter((x) => x.protocol !== "tcp").map((x) => x.protocol)).toEqual(["icmp"]);

        const attachment = r.rec.one(TYPES.firewallAttachment);
        expect(attachment.inputs).toEqual({ firewallId: Number(fw.id), serverIds: [Number(r.rec.one(TYPES.server).id)] });
    });

    test("commands reach the server at the primary IP, with the private key only as a secret", () => {
        const commands = r.rec.byType(TYPES.remote);
        expect(commands.length).toBeGreaterThan(5);
        for (const c of commands) {
            expect({ name: c.name, secret: isSecretValue(c.inputs.connection) }).toEqual({ name: c.name, secret: true });
            expect(reveal(c.inputs.connection)).toMatchObject({ host: PRIMARY_IP, port: 22, user: "root", privateKey: SSH_PRIVATE_KEY });
        }
    });

    test("packages wait for the host to be ready: the SSH probe, the PTR, and through them the server", () => {
        const host = component(r.rec, "HetznerServer");
        const probes = r.rec.customsOf(host).filter((x) => x.type === TYPES.remote);
        expect(probes.length).toBeGreaterThan(0);
        const ready = [...probes, ...r.rec.byType(TYPES.rdns)];
        const packages = component(r.rec, "Packages");
        expect(r.rec.explicitDependencies(packages)).toEqual(expect.arrayContaining(ready.map((x) => x.urn)));
        for (const step of r.rec.customsOf(packages)) {
            const waits = r.rec.waitsFor(step);
            expect({ step: step.name, missing: ready.filter((x) => !waits.has(x.urn)).map((x) => x.name) })
                .toEqual({ step: step.name, missing: [] });
            const all = r.rec.transitivelyWaitsFor(step);
            const hostResources = r.rec.customsOf(host);
            expect({ step: step.name, missing: hostResources.filter((x) => !all.has(x.urn)).map((x) => x.name) })
                .toEqual({ step: step.name, missing: [] });
        }
    });

    dependencyChain(() => r);
    outputs(() => r, PRIMARY_IP, SERVER_IP6);
    secrets(() => r);
});

describe("MailServer on the local test server", () => {
    test("server-up's output, which holds the private key, is a secret output; one test server at a time", async () => {
        const r = await render({ ...common, host: { kind: "testbed", suite: "bookworm" } });
        const server = r.rec.one(TYPES.local);
        expect(server.additionalSecretOutputs).toEqual(["stdout"]);
        expect(isSecretValue(server.state.stdout)).toBe(true);
        expect(server.deleteBeforeReplace).toBe(true);
        // another suite (in its command line) is a new server, as another image is on Hetzner, not server-up in place
        // (MAILSTACK_SUITE, set for the Debian 13 run, wins over the config: `MAILSTACK_SUITE=trixie npm run local`)
        const suite = process.env.MAILSTACK_SUITE || "bookworm";
        expect(reveal(server.inputs.create)).toBe(`bash scripts/testbed server-up --json --suite ${suite}`);
        expect(server.replaceOnChanges).toContain("create");
        // server-up's id, new with every server, is in every step's triggers
        for (const step of r.rec.byType(TYPES.remote)) {
            expect({ name: step.name, first: (reveal(step.inputs.triggers) as unknown[])[0] })
                .toEqual({ name: step.name, first: `testbed-${TESTBED_ID}` });
        }
    });
});

describe("MailServer on a Hetzner server with imaps and smtps", () => {
    let r: Rendered;
    beforeAll(async () => {
        r = await render({ ...hetznerRaw, imaps: true, smtps: true });
    });

    test("the firewall also opens 465 and 993", () => {
        const rules = r.rec.one(TYPES.firewall).inputs.rules as { protocol: string; port?: string }[];
        expect(tcpPorts(rules)).toEqual([22, 25, 80, 143, 443, 465, 587, 993, 4190]);
    });

    test("the client settings list the implicit-TLS ports", () => {
        expect(r.server.clientSettings.imaps).toEqual({ host: "mail.example.org", port: 993, security: "SSL/TLS" });
        expect(r.server.clientSettings.smtps).toEqual({ host: "mail.example.org", port: 465, security: "SSL/TLS" });
    });
});

describe("MailServer on an existing host", () => {
    let r: Rendered;
    beforeAll(async () => {
        r = await render(existingRaw);
    });

    test("no hcloud resource at all", () => {
        expect(r.rec.resources.length).toBeGreaterThan(10);
        expect(r.rec.resources.filter((x) => x.type.startsWith("hcloud:")).map((x) => x.type)).toEqual([]);
        expect(r.rec.resources.filter((x) => x.type === "mailstack:index:Firewall")).toEqual([]);
    });

    test("commands use the configured address, port and user", () => {
        for (const c of r.rec.byType(TYPES.remote)) {
            expect(isSecretValue(c.inputs.connection)).toBe(true);
            expect(reveal(c.inputs.connection)).toMatchObject({
                host: "192.0.2.25", port: 2222, user: "admin", privateKey: SSH_PRIVATE_KEY,
            });
        }
    });

    dependencyChain(() => r);
    outputs(() => r, "192.0.2.25");
    secrets(() => r);
});

/** packages -> (vmail -> users -> postfix) beside certificate -> dovecot -> fail2ban. */
function dependencyChain(get: () => Rendered): void {
    const chain: [string, string][] = [
        ["Vmail", "Packages"],
        ["Certificate", "Packages"],
        ["Users", "Vmail"],
        ["Postfix", "Users"],
        ["Dovecot", "Postfix"],
        ["Dovecot", "Certificate"],
        ["Dovecot", "Users"],
        ["Fail2ban", "Postfix"],
        ["Fail2ban", "Dovecot"],
    ];
    test.each(chain)("%s waits for every resource of %s", (later, earlier) => {
        const { rec } = get();
        const before = rec.customsOf(component(rec, earlier));
        const after = rec.customsOf(component(rec, later));
        expect(before.length).toBeGreaterThan(0);
        expect(after.length).toBeGreaterThan(0);
        // The component itself carries the dependsOn (expanded by the SDK to the custom resources below `earlier`)...
        expect(rec.explicitDependencies(component(rec, later))).toEqual(expect.arrayContaining(before.map((x) => x.urn)));
        // ...and every resource below `later` therefore waits for all of them.
        for (const step of after) {
            const waits = rec.waitsFor(step);
            expect({ step: step.name, missing: before.filter((x) => !waits.has(x.urn)).map((x) => x.name) })
                .toEqual({ step: step.name, missing: [] });
        }
    });

    test("the order is not trivially everything-waits-for-everything", () => {
        const { rec } = get();
        const users = rec.customsOf(component(rec, "Users"));
        for (const earlier of ["Packages", "Vmail", "Certificate"]) {
            for (const step of rec.customsOf(component(rec, earlier))) {
                const all = rec.transitivelyWaitsFor(step);
                expect({ step: step.name, waitsForUsers: users.some((u) => all.has(u.urn)) })
                    .toEqual({ step: step.name, waitsForUsers: false });
            }
        }
        // postfix and the certificate run side by side: neither waits for the other
        const cert = rec.customsOf(component(rec, "Certificate"));
        for (const step of rec.customsOf(component(rec, "Postfix"))) {
            const all = rec.transitivelyWaitsFor(step);
            expect({ step: step.name, waitsForCert: cert.some((x) => all.has(x.urn)) }).toEqual({ step: step.name, waitsForCert: false });
        }
    });

    test("dovecot renders for the version the server state reads on every up, after the packages", () => {
        const { rec } = get();
        const dovecot = rec.customsOf(component(rec, "Dovecot"));
        const state = rec.resources.find((x) => x.type === TYPES.serverState);
        const apt = rec.resources.find((x) => x.name.endsWith("-packages-apt"));
        expect(state).toBeDefined();
        expect(state?.dependencies).toContain(apt?.urn);
        // The staged dovecot.conf and the quota file (whose field names differ between 2.3 and 2.4) are inputs
        // derived from the state's facts: a property dependency on it.
        const staged = dovecot.filter((x) => x.name.endsWith("-dovecot.conf") || x.name.endsWith("-quota"));
        expect(staged.length).toBe(2);
        expect(staged.every((x) => (x.propertyDependencies.stdin ?? []).includes(state?.urn ?? ""))).toBe(true);
        // The global sieve script is the same text for both versions (compiled on the server by sievec).
        const sieve = dovecot.find((x) => x.name.endsWith("-sieve"));
        expect(reveal(sieve?.inputs.stdin)).toContain('if header :is "X-Spam" "Yes"');
        expect(reveal(sieve?.inputs.create)).toBe("/usr/local/sbin/mailstack-ctl sieve /etc/dovecot/sieve/spam.sieve");
        const conf = staged.filter((x) => x.name.endsWith("-dovecot.conf"));
        expect(conf.map((x) => (reveal(x.inputs.stdin) as string).includes("for dovecot 2.3"))).toEqual([true]);
    });

    test("Junk learns: the pipe program and units before dovecot.conf goes live, the report scripts compiled after it", () => {
        const { rec } = get();
        const dovecot = rec.customsOf(component(rec, "Dovecot"));
        const named = (suffix: string): Registered => {
            const found = dovecot.filter((x) => x.name.endsWith(suffix));
            expect(found.map((x) => x.name)).toEqual([`mail-dovecot${suffix}`]);
            return found[0];
        };
        const apply = named("-apply");
        const socket = named("-learn-socket");
        expect(rec.transitivelyWaitsFor(apply).has(socket.urn)).toBe(true);
        for (const unit of ["-learn", "-mailstack-learn.socket", "-mailstack-learn@.service"]) {
            expect(rec.transitivelyWaitsFor(socket).has(named(unit).urn)).toBe(true);
        }
        // sievec reads the live dovecot.conf, which must already load sieve_extprograms
        for (const kind of ["spam", "ham"]) {
            const report = named(`-report-${kind}.sieve`);
            expect(rec.transitivelyWaitsFor(report).has(apply.urn)).toBe(true);
            expect(reveal(report.inputs.create)).toBe(`/usr/local/sbin/mailstack-ctl sieve /etc/dovecot/sieve/report-${kind}.sieve`);
            expect(reveal(report.inputs.stdin)).toContain(`pipe :copy "learn" ["${kind}"];`);
        }
        expect(reveal(named("-learn").inputs.create)).toBe("/usr/local/sbin/mailstack-ctl put /usr/local/lib/mailstack/sieve-pipe/learn 0755 root:root");
    });

    test("the PAM service is checked after its put, again when its text changes or it drifted; dovecot waits for that", () => {
        const { rec } = get();
        const users = rec.customsOf(component(rec, "Users"));
        const state = rec.resources.find((x) => x.type === TYPES.serverState);
        const put = users.find((x) => x.name === "mail-users-pam");
        const check = users.find((x) => x.name === "mail-users-pam-check");
        if (put === undefined || check === undefined || state === undefined) {
            throw new Error("no PAM put, PAM check or server state");
        }
        expect(reveal(put.inputs.create)).toBe("/usr/local/sbin/mailstack-ctl put /etc/pam.d/mailstack 0644 root:root");
        expect(reveal(check.inputs.create)).toBe("/usr/local/sbin/mailstack-ctl pam");
        expect(rec.waitsFor(check).has(put.urn)).toBe(true);
        const text = reveal(put.inputs.stdin);
        expect(text).toContain("@include common-auth");
        expect((reveal(check.inputs.triggers) as unknown[]).slice(1, 2)).toEqual([sha256(String(text))]);
        expect(check.propertyDependencies.triggers).toContain(state.urn);
        for (const step of rec.customsOf(component(rec, "Dovecot"))) {
            expect({ step: step.name, waitsForCheck: rec.waitsFor(step).has(check.urn) }).toEqual({ step: step.name, waitsForCheck: true });
        }
    });

    test("every managed file's step re-runs on a repair of that file, and only of that file", () => {
        const { rec } = get();
        const state = rec.resources.find((x) => x.type === TYPES.serverState);
        const files = reveal(state?.inputs.files) as string[];
        expect(files).toEqual(expect.arrayContaining(["/etc/postfix/main.cf", "/etc/dovecot/dovecot.conf", "/etc/dovecot/users"]));
        // derived, not listed: the watch list is exactly what the steps write (a staged file counts as its live copy)
        const written = new Set(rec.resources.filter((x) => x.type === TYPES.remote).flatMap((x) => {
            const revealed = reveal(x.inputs.create);
            const create = typeof revealed === "string" ? revealed : "";
            const put = /mailstack-ctl (?:put|put-map|sieve) (\S+)/.exec(create);
            const staged = /mailstack-ctl stage (postfix|dovecot) (\S+)/.exec(create);
            const web = /mailstack-ctl web /.test(create); // the staged nginx.conf it picks goes live
            return put !== null ? [put[1]] : staged !== null ? [`/etc/${staged[1]}/${staged[2]}`] : web ? [NGINX_CONF] : [];
        }));
        expect(files).toEqual([...written].sort());
        const writers = rec.resources.filter((x) => x.type === TYPES.remote && (x.propertyDependencies.triggers ?? []).includes(state?.urn ?? ""));
        expect(writers.map((x) => x.name).sort()).toEqual(expect.arrayContaining(
            ["mail-dovecot-apply", "mail-dovecot-dovecot.conf", "mail-postfix-apply", "mail-postfix-main.cf", "mail-users-passwd"]));
        // no step that writes users or certificates waits for a repair it has no part in
        expect(writers.some((x) => x.name.startsWith("mail-certificate") || x.name === "mail-users-frank")).toBe(false);
    });
}

function outputs(get: () => Rendered, ip: string, ip6?: string): void {
    test(`postfix: ${ip6 === undefined ? "IPv4 only (no IPv6 address with a PTR)" : "IPv4 and IPv6"}`, () => {
        const { rec } = get();
        const mainCf = rec.customsOf(component(rec, "Postfix")).map((x) => reveal(x.inputs.stdin))
            .find((t) => typeof t === "string" && t.includes("inet_protocols")) as string;
        expect(mainCf).toMatch(new RegExp(`^inet_protocols = ${ip6 === undefined ? "ipv4" : "all"}$`, "m"));
        expect(mainCf.includes("smtp_bind_address6")).toBe(ip6 !== undefined);
    });

    test("client settings: IMAP 143 and SMTP 587 with STARTTLS, and how each kind of user logs in", () => {
        const { server } = get();
        expect(server.clientSettings).toEqual({
            imap: { host: "mail.example.org", port: 143, security: "STARTTLS" },
            smtp: { host: "mail.example.org", port: 587, security: "STARTTLS", authentication: "normal password" },
            login: { systemUsers: expect.any(String), virtualUsers: expect.any(String) },
        });
        // System users: bare name or name@BASE; virtual users: the full address.
        expect(server.clientSettings.login.systemUsers).toMatch(/bare/);
        expect(server.clientSettings.login.systemUsers).toContain("@example.org");
        expect(server.clientSettings.login.virtualUsers).toMatch(/full address/);
    });

    test("serverIp and DNS records: A, MX, SPF and DMARC for every domain, and the PTR", async () => {
        const { server } = get();
        expect(await valueOf(server.serverIp)).toBe(ip);
        const records = await valueOf(server.dnsRecords);
        expect(records).toContainEqual({ name: "mail.example.org", type: "A", value: ip });
        expect(records.filter((x) => x.type === "PTR")).toEqual([{ name: ip, type: "PTR", value: "mail.example.org" },
            ...(ip6 === undefined ? [] : [{ name: ip6, type: "PTR", value: "mail.example.org" }])]);
        const web = ["example.org", "example.net", "example.com"]
            .flatMap((d) => ["autoconfig", "autodiscover", "mta-sts"].map((p) => `${p}.${d}`));
        expect(records.filter((x) => x.type === "AAAA")).toEqual(ip6 === undefined ? [] : [
            { name: "mail.example.org", type: "AAAA", value: ip6 },
            ...web.map((name) => ({ name, type: "AAAA", value: ip6 }))]);
        for (const name of web) {
            expect(records.filter((x) => x.name === name && x.type === "A")).toEqual([{ name, type: "A", value: ip }]);
        }
        expect(records.filter((x) => x.type === "A").every((x) => x.value === ip)).toBe(true);
        for (const domain of ["example.org", "example.net", "example.com"]) {
            expect(records.filter((x) => x.name === domain && x.type === "MX")).toEqual([
                { name: domain, type: "MX", value: "10 mail.example.org." },
            ]);
            expect(records.filter((x) => x.name === domain && x.type === "TXT" && x.value.startsWith("v=spf1")))
                .toEqual([{ name: domain, type: "TXT",
                    value: `v=spf1 mx ip4:${ip}${ip6 === undefined ? "" : ` ip6:${ip6}`} -all` }]);
            expect(records.filter((x) => x.name === `_dmarc.${domain}` && x.type === "TXT"))
                .toEqual([{ name: `_dmarc.${domain}`, type: "TXT", value: expect.stringMatching(/^v=DMARC1; p=quarantine/),
                    comment: expect.stringMatching(/DKIM/) }]);
            // the signing key of the domain, in strings of at most 255 characters that join to the value
            const dkim = records.filter((x) => x.name.endsWith(`._domainkey.${domain}`));
            expect(dkim.map((x) => [x.name, x.type])).toEqual([[`mailstack._domainkey.${domain}`, "TXT"]]);
            expect(dkim[0].value).toMatch(/^v=DKIM1; k=rsa; p=[A-Za-z0-9+/]+=*$/);
            expect(dkim[0].strings?.length).toBeGreaterThan(1);
            expect(dkim[0].strings?.every((x) => x.length <= 255)).toBe(true);
            expect(dkim[0].strings?.join("")).toBe(dkim[0].value);
        }
        // Nothing for a domain the config does not have.
        const domains = new Set(["example.org", "example.net", "example.com"]);
        for (const x of records.filter((y) => y.type !== "PTR" && y.type !== "AAAA")) {
            const owner = x.name.replace(/^(_dmarc|mail|autoconfig|autodiscover|mta-sts|_mta-sts|_smtp\._tls|_[a-z]+\._tcp|[a-z0-9-]+\._domainkey)\./, "");
            expect({ record: x, known: domains.has(owner) }).toEqual({ record: x, known: true });
        }
    });
}

function secrets(get: () => Rendered): void {
    // the users' (the rspamd controller's has a test of its own)
    const passwords = (rec: Recorder): Registered[] => rec.byType(TYPES.password)
        .filter((p) => !/-rspamd-controller(-salt)?$/.test(p.name));

    test("the rspamd controller gets a secret password, written for rspamd only", () => {
        const { rec } = get();
        const pw = rec.byType(TYPES.password).filter((p) => p.name.endsWith("-rspamd-controller"));
        expect(pw).toHaveLength(1);
        expect(isSecretValue(pw[0].state.result)).toBe(true);
        const put = rec.byType(TYPES.remote).filter((r) => String(r.inputs.create).includes("/etc/rspamd/override.d/worker-controller.inc"));
        expect(put.map((r) => String(r.inputs.create))).toEqual(
            ["/usr/local/sbin/mailstack-ctl put /etc/rspamd/override.d/worker-controller.inc 0640 root:_rspamd"]);
        expect(isSecretValue(put[0].inputs.stdin)).toBe(true);
        // rspamd's salted hash of the password, never the password itself
        const text = String(reveal(put[0].inputs.stdin));
        expect(text).toMatch(/^password = "\$1\$[a-z0-9]{32}\$[a-z0-9]{52}";$/m);
        expect(text).not.toContain(String(reveal(pw[0].state.result)));
    });

    test("a secret RandomPassword per virtual and per system user", () => {
        const { rec, config } = get();
        const pws = passwords(rec);
        expect(pws).toHaveLength(config.virtualUsers.length + config.systemUsers.length);
        for (const pw of pws) {
            expect(pw.additionalSecretOutputs).toEqual(expect.arrayContaining(["result", "bcryptHash"]));
            expect(isSecretValue(pw.state.result)).toBe(true);
        }
    });

    test("virtualUserPasswords and systemUserPasswords are secret outputs with the generated passwords", async () => {
        const { rec, server, config } = get();
        expect(await pulumi.isSecret(server.virtualUserPasswords)).toBe(true);
        expect(await pulumi.isSecret(server.systemUserPasswords)).toBe(true);
        const generated = new Set(passwords(rec).map((p) => reveal(p.state.result)));
        const virtual = await valueOf(server.virtualUserPasswords);
        const system = await valueOf(server.systemUserPasswords);
        expect(Object.keys(virtual).sort()).toEqual([...config.virtualUsers].sort());
        expect(Object.keys(system).sort()).toEqual(["frank@example.org", "grace@example.org"]);
        const all = [...Object.values(virtual), ...Object.values(system)];
        expect(new Set(all).size).toBe(all.length);
        expect(all.every((p) => generated.has(p))).toBe(true);
    });

    test("no generated password appears anywhere but in a stdin (never in a create command line)", () => {
        const { rec } = get();
        const secretValues = passwords(rec).map((p) => reveal(p.state.result) as string);
        expect(secretValues.length).toBeGreaterThan(0);
        const commands = rec.byType(TYPES.remote);
        for (const c of commands) {
            const create = reveal(c.inputs.create);
            expect(typeof create).toBe("string");
            expect({ name: c.name, leaks: secretValues.filter((pw) => (create as string).includes(pw)) })
                .toEqual({ name: c.name, leaks: [] });
        }
        // Nor in any other input of any resource (triggers, names, ...), stdin excepted.
        for (const x of rec.resources.filter((y) => y.type !== TYPES.password)) {
            const { stdin: _stdin, ...rest } = x.inputs;
            const text = JSON.stringify(reveal(rest));
            expect({ name: x.name, leaks: secretValues.filter((pw) => text.includes(pw)) }).toEqual({ name: x.name, leaks: [] });
        }
    });

    test("system passwords go to their system-user step on stdin, as secrets; virtual ones go nowhere", async () => {
        const { rec, server } = get();
        const commands = rec.byType(TYPES.remote);
        const system = await valueOf(server.systemUserPasswords);
        for (const [address, pw] of Object.entries(system)) {
            const user = address.split("@")[0];
            const carriers = commands.filter((c) => JSON.stringify(reveal(c.inputs)).includes(pw));
            expect(carriers.map((c) => c.name)).toHaveLength(1);
            expect(reveal(carriers[0].inputs.stdin)).toBe(pw);
            expect(isSecretValue(carriers[0].inputs.stdin)).toBe(true);
            expect(reveal(carriers[0].inputs.create)).toMatch(new RegExp(`system-user ${user} `));
        }
        const virtual = await valueOf(server.virtualUserPasswords);
        for (const pw of Object.values(virtual)) {
            expect(commands.filter((c) => JSON.stringify(reveal(c.inputs)).includes(pw)).map((c) => c.name)).toEqual([]);
        }
    });

    test("a changed mailstack-ctl re-runs every system-user step once, as an update (the script checks its hash)", () => {
        const { rec } = get();
        const ctl = sha256(ctlScript()).slice(0, 16);
        const steps = rec.byType(TYPES.remote).filter((c) => /system-user /.test(String(reveal(c.inputs.create))));
        expect(steps.map((c) => reveal(c.inputs.create))).toEqual(["frank", "grace"].map((u) =>
            `/usr/local/sbin/mailstack-ctl --sha256 ${ctl} system-user ${u} example.org mail.example.org`));
        for (const c of steps) {
            // no trigger but the server's identity: a replacement runs the step's delete, which locks the account
            expect(reveal(c.inputs.triggers)).toEqual([expect.stringMatching(/^(hcloud-[0-9]+|existing-192\.0\.2\.25)$/)]);
            expect(reveal(c.inputs.delete)).toBe(String(reveal(c.inputs.create))
                .replace(/^(\S+) --sha256 \S+ system-user (.*)$/, "test ! -x $1 || $1 lock-user $2"));
        }
        // no step hides a value in a shell comment of its command: what makes it run again is a real input
        for (const c of rec.byType(TYPES.remote)) {
            expect({ name: c.name, create: reveal(c.inputs.create) })
                .toEqual({ name: c.name, create: expect.not.stringMatching(/(^|\s)#/) });
        }
    });

    test("the passwd-file step gets bcrypt hashes only, as a secret stdin", async () => {
        const { rec, server, config } = get();
        const virtual = await valueOf(server.virtualUserPasswords);
        const hashOf = new Map(passwords(rec).map((p) => [reveal(p.state.result), reveal(p.state.bcryptHash)]));
        const passwd = rec.byType(TYPES.remote).filter((c) => String(reveal(c.inputs.create)).includes(" put /etc/dovecot/users "));
        expect(passwd).toHaveLength(1);
        expect(isSecretValue(passwd[0].inputs.stdin)).toBe(true);
        const lines = (reveal(passwd[0].inputs.stdin) as string).split("\n").filter((l) => l !== "");
        expect(lines).toHaveLength(config.virtualUsers.length);
        for (const line of lines) {
            const m = /^([^:]+):\{BLF-CRYPT\}(\$2[aby]\$\d\d\$[./A-Za-z0-9]{53})::::::$/.exec(line);
            expect({ line, parsed: m !== null }).toEqual({ line, parsed: true });
            const [, address, hash] = m as RegExpExecArray;
            expect(hash).toBe(hashOf.get(virtual[address]));
        }
        for (const pw of Object.values(virtual)) {
            expect(reveal(passwd[0].inputs.stdin)).not.toContain(pw);
        }
    });
}

describe("secrets without the engine's help", () => {
    // The random provider declares result and bcryptHash secret and the engine honours it. Even if it did not,
    // the stack outputs and the passwd file must stay secret: users.ts wraps them itself.
    test("password outputs and the passwd-file stdin stay secret", async () => {
        const r = await render(existingRaw, false);
        expect(isSecretValue(r.rec.byType(TYPES.password)[0].state.result)).toBe(false); // the premise of this test
        expect(await pulumi.isSecret(r.server.virtualUserPasswords)).toBe(true);
        expect(await pulumi.isSecret(r.server.systemUserPasswords)).toBe(true);
        const passwd = r.rec.byType(TYPES.remote).filter((c) => String(reveal(c.inputs.create)).includes(" put /etc/dovecot/users "));
        expect(passwd).toHaveLength(1);
        expect(isSecretValue(passwd[0].inputs.stdin)).toBe(true);
    });
});

describe("adding a virtual user", () => {
    let before: Rendered;
    let after: Rendered;
    beforeAll(async () => {
        before = await render(hetznerRaw);
        after = await render({ ...hetznerRaw, virtualUsers: [...(common.virtualUsers as string[]), "zoe@example.net"] });
    });

    const inputsByUrn = (rec: Recorder, rs: Registered[]): Record<string, unknown> =>
        Object.fromEntries(rs.map((x) => [x.urn, x.inputs]));
    const outsideUsers = (rec: Recorder): Registered[] => {
        const users = new Set(rec.subtree(component(rec, "Users")).map((x) => x.urn));
        return rec.resources.filter((x) => !users.has(x.urn));
    };

    test.each(["Postfix", "Dovecot"])("leaves the inputs of every %s resource identical", (type) => {
        const a = before.rec.subtree(component(before.rec, type));
        const b = after.rec.subtree(component(after.rec, type));
        expect(a.filter((x) => x.custom).length).toBeGreaterThan(0);
        expect(inputsByUrn(after.rec, b)).toEqual(inputsByUrn(before.rec, a));
    });

    test("leaves every resource outside Users as it was, but the user list the state check reports drops against", () => {
        // ServerState's `users` is read by its diff only to name dropped users; stateChanged() ignores it.
        const withoutUsers = (rec: Recorder, rs: Registered[]): Record<string, unknown> => {
            const inputs = inputsByUrn(rec, rs);
            for (const x of rs.filter((r) => r.type === TYPES.serverState)) {
                inputs[x.urn] = { ...x.inputs, users: "(compared below)" };
            }
            return inputs;
        };
        const a = outsideUsers(before.rec);
        const b = outsideUsers(after.rec);
        expect(a.length).toBeGreaterThan(10);
        expect(withoutUsers(after.rec, b)).toEqual(withoutUsers(before.rec, a));
        const state = (rec: Recorder): Registered | undefined => rec.resources.find((x) => x.type === TYPES.serverState);
        expect(reveal(state(after.rec)?.inputs.users)).toEqual([...(reveal(state(before.rec)?.inputs.users) as string[]), "zoe@example.net"]);
    });

    test("changes the Users resources: a new password, the passwd file, the mailbox and sender maps", () => {
        const a = inputsByUrn(before.rec, before.rec.subtree(component(before.rec, "Users")));
        const b = inputsByUrn(after.rec, after.rec.subtree(component(after.rec, "Users")));
        const added = Object.keys(b).filter((urn) => !(urn in a));
        expect(added.map((urn) => after.rec.byUrn(urn).type)).toEqual([TYPES.password]);
        const changed = Object.keys(a).filter((urn) => JSON.stringify(a[urn]) !== JSON.stringify(b[urn]));
        const stdin = (urn: string): string => String(reveal(after.rec.byUrn(urn).inputs.stdin));
        expect(changed.length).toBeGreaterThanOrEqual(3);
        expect(changed.some((urn) => stdin(urn).includes("zoe@example.net:{BLF-CRYPT}"))).toBe(true);
        expect(changed.some((urn) => stdin(urn).includes("zoe@example.net example.net/zoe/"))).toBe(true);
        expect(changed.every((urn) => stdin(urn).includes("zoe@example.net"))).toBe(true);
    });
});

test("mock passwords and hashes are deterministic and distinct", () => {
    expect(mockPassword("a")).toBe(mockPassword("a"));
    expect(mockPassword("a")).not.toBe(mockPassword("b"));
    expect(mockBcrypt("a")).toMatch(/^\$2b\$10\$[./A-Za-z0-9]{53}$/);
});

describe("certificate", () => {
    test("certbot runs through mailstack-ctl (which recovers from a CA that forgot the account), its CA trusted first", () => {
        const c = parseConfig({ ...existingRaw, certificate: {
            email: "admin@example.org", acme: "custom", directory: "https://acme.test:14000/dir", caBundle: "/ca.pem",
        } });
        const [host, net] = [c.certificate.lineages[0], c.certificate.lineages[2]];
        const head = "/usr/local/sbin/mailstack-ctl trust-ca /ca.pem && " +
            "REQUESTS_CA_BUNDLE=/ca.pem /usr/local/sbin/mailstack-ctl certbot certonly --webroot --non-interactive " +
            "--agree-tos -w /var/lib/mailstack/acme -m admin@example.org --server https://acme.test:14000/dir ";
        const hook = " --deploy-hook '/usr/local/sbin/mailstack-ctl deployed'";
        // the hostname's lineage keeps its key (DANE pins it); a domain's lineage has its own names only
        expect(certbotCommand(c.certificate, host)).toBe(head + `--cert-name mailstack --reuse-key -d ${c.hostname}` + hook);
        expect(certbotCommand(c.certificate, net)).toBe(head + "--cert-name mailstack-example.net -d mail.example.net " +
            "-d autoconfig.example.net -d autodiscover.example.net -d mta-sts.example.net" + hook);
    });

    test("one certbot step per lineage (the hostname's keeps its name), none deletes; the prune step comes after every user", async () => {
        const { rec, config } = await render(existingRaw);
        const certbot = rec.byType(TYPES.remote).filter((s) => String(reveal(s.inputs.create)).includes(" certbot certonly "));
        expect(certbot.map((s) => s.name)).toEqual(["mail-certificate",
            ...[config.baseDomain, ...config.virtualDomains].map((d) => `mail-certificate-${d}`)]);
        // a delete command would also run when a step is replaced (a new server keeps /etc/letsencrypt on its volume)
        expect(certbot.map((s) => s.inputs.delete)).toEqual(certbot.map(() => undefined));
        const prune = rec.named("mail-certificate-prune");
        expect(reveal(prune.inputs.create)).toBe("/usr/local/sbin/mailstack-ctl certs-prune " +
            config.certificate.lineages.map((l) => l.name).join(" "));
        expect(prune.inputs.delete).toBeUndefined();
        // nginx, postfix's SNI table and dovecot no longer name a removed lineage when it goes
        const waits = rec.transitivelyWaitsFor(prune);
        const users = [...certbot, rec.named("mail-web-tls"), rec.named("mail-postfix-sni"), rec.named("mail-postfix-apply"),
            ...rec.customsOf(component(rec, "Dovecot"))];
        expect(users.filter((s) => !waits.has(s.urn)).map((s) => s.name)).toEqual([]);
    });
});

describe("app passwords", () => {
    const apps = (appPasswords: Record<string, string[]>): RawConfig => ({ ...existingRaw, appPasswords });
    const both = { "bob@example.net": ["phone", "laptop"], "frank@example.org": ["phone"] };
    let full: Rendered;
    let fewer: Rendered;
    beforeAll(async () => {
        full = await render(apps(both));
        fewer = await render(apps({ ...both, "bob@example.net": ["phone"] }));
    });
    const appPws = (rec: Recorder): Registered[] => rec.byType(TYPES.password).filter((p) => p.name.includes("-app-"));
    const fileSteps = (rec: Recorder): Registered[] => rec.byType(TYPES.remote)
        .filter((c) => String(reveal(c.inputs.create)).includes(" put /etc/dovecot/app-passwords/"));
    const stagedConf = (rec: Recorder): string => String(reveal(rec.resources.find((x) => x.name.endsWith("-dovecot.conf"))?.inputs.stdin));

    test("one secret RandomPassword per user and device, named by both", () => {
        expect(appPws(full.rec).map((p) => p.name).sort()).toEqual([
            "mail-users-app-bob@example.net-laptop", "mail-users-app-bob@example.net-phone", "mail-users-app-frank@example.org-phone",
        ]);
        for (const pw of appPws(full.rec)) {
            expect(pw.additionalSecretOutputs).toEqual(expect.arrayContaining(["result", "bcryptHash"]));
            expect(reveal(pw.inputs)).toMatchObject({ length: 24, special: false });
        }
    });

    test("appPasswords is a secret output: user -> device -> the generated password", async () => {
        expect(await pulumi.isSecret(full.server.appPasswords)).toBe(true);
        const out = await valueOf(full.server.appPasswords);
        const pw = (name: string): unknown => reveal(full.rec.named(name).state.result);
        expect(out).toEqual({
            "bob@example.net": { phone: pw("mail-users-app-bob@example.net-phone"), laptop: pw("mail-users-app-bob@example.net-laptop") },
            "frank@example.org": { phone: pw("mail-users-app-frank@example.org-phone") },
        });
        // none of them is an account's own password
        const own = [...Object.values(await valueOf(full.server.virtualUserPasswords)),
            ...Object.values(await valueOf(full.server.systemUserPasswords))];
        expect(Object.values(out).flatMap((d) => Object.values(d)).filter((p) => own.includes(p))).toEqual([]);
        expect(await valueOf((await render(existingRaw)).server.appPasswords)).toEqual({});
    });

    test("a file per device, root:dovecot 0640, with each user's bcrypt hash by login name (system users bare)", () => {
        const steps = fileSteps(full.rec);
        expect(steps.map((c) => reveal(c.inputs.create)).sort()).toEqual(["laptop", "phone"].map((d) =>
            `/usr/local/sbin/mailstack-ctl put /etc/dovecot/app-passwords/${d} 0640 root:dovecot`));
        const hash = (name: string): string => String(reveal(full.rec.named(name).state.bcryptHash));
        const text = (device: string): unknown => reveal(full.rec.named(`mail-users-app-${device}`).inputs.stdin);
        expect(text("phone")).toBe(`bob@example.net:{BLF-CRYPT}${hash("mail-users-app-bob@example.net-phone")}::::::device=phone\n` +
            `frank:{BLF-CRYPT}${hash("mail-users-app-frank@example.org-phone")}::::::device=phone\n`);
        expect(text("laptop")).toBe(`bob@example.net:{BLF-CRYPT}${hash("mail-users-app-bob@example.net-laptop")}::::::device=laptop\n`);
        for (const c of steps) {
            expect(isSecretValue(c.inputs.stdin)).toBe(true);
        }
    });

    test("no app password appears in any input but as its hash: never in a command line, a trigger or a stdin", () => {
        const secrets = appPws(full.rec).map((p) => String(reveal(p.state.result)));
        for (const x of full.rec.resources.filter((y) => y.type !== TYPES.password)) {
            const text = JSON.stringify(reveal(x.inputs));
            expect({ name: x.name, leaks: secrets.filter((pw) => text.includes(pw)) }).toEqual({ name: x.name, leaks: [] });
        }
    });

    test("dovecot gets a passdb per device, and the files of other devices are pruned after its apply", () => {
        const conf = stagedConf(full.rec);
        expect(conf.match(/name = app-[a-z]+/g)).toEqual(["name = app-laptop", "name = app-phone"]);
        expect(conf).toContain("args = username_format=%u /etc/mailstack/locked-users");
        const prune = full.rec.named("mail-dovecot-app-passwords-prune");
        expect(reveal(prune.inputs.create)).toBe("/usr/local/sbin/mailstack-ctl app-passwords-prune laptop phone");
        expect(full.rec.transitivelyWaitsFor(prune)).toContain(full.rec.named("mail-dovecot-apply").urn);
        // without app passwords: no passdb of theirs, and the prune step leaves none
        expect(stagedConf(fewer.rec)).not.toContain("app-laptop");
    });

    test("removing a device removes its password and nothing else; the others keep theirs", () => {
        const names = (r: Rendered): string[] => appPws(r.rec).map((p) => p.name).sort();
        expect(names(full).filter((n) => !names(fewer).includes(n))).toEqual(["mail-users-app-bob@example.net-laptop"]);
        expect(names(fewer).filter((n) => !names(full).includes(n))).toEqual([]);
        for (const n of names(fewer)) {
            expect(reveal(fewer.rec.named(n).inputs)).toEqual(reveal(full.rec.named(n).inputs));
        }
        expect(fileSteps(fewer.rec).map((c) => c.name)).toEqual(["mail-users-app-phone"]);
        expect(reveal(fewer.rec.named("mail-users-app-phone").inputs.stdin)).toBe(reveal(full.rec.named("mail-users-app-phone").inputs.stdin));
        expect(reveal(fewer.rec.named("mail-dovecot-app-passwords-prune").inputs.create))
            .toBe("/usr/local/sbin/mailstack-ctl app-passwords-prune phone");
        // every other resource (the account passwords above all) is untouched; the drift check no longer watches the
        // laptop's file
        const others = (r: Rendered): Record<string, unknown> => Object.fromEntries(r.rec.resources
            .filter((x) => !/app-(passwords-prune|laptop)|-app-|dovecot\.conf|-apply$/.test(x.name)).map((x) => [x.urn,
                x.type === TYPES.serverState ? { ...x.inputs, files: "(below)" } : reveal(x.inputs)]));
        expect(others(fewer)).toEqual(others(full));
        const watched = (r: Rendered): string[] => reveal(r.rec.one(TYPES.serverState).inputs.files) as string[];
        expect(watched(full).filter((f) => !watched(fewer).includes(f))).toEqual(["/etc/dovecot/app-passwords/laptop"]);
    });
});

describe("passwords the users choose", () => {
    const resets = { "bob@example.net": "forgot", "frank@example.org": "2026-12-07" };
    let chosen: Rendered;
    const reads: { host: string; script: string }[] = [];
    beforeAll(async () => {
        // the server says bob and frank chose theirs (mailstack-ctl password)
        chosen = await render({ ...existingRaw, passwordResets: resets }, true, (target, script) => {
            reads.push({ host: target.host, script });
            return Promise.resolve("bob@example.net\nfrank\n");
        });
    });
    const pw = (r: Rendered, name: string): unknown =>
        reveal(r.rec.byType(TYPES.password).find((p) => p.name === name)?.state.result);

    test("the outputs name the users who chose their own password, never a password; the others show the generated one", async () => {
        expect(reads).toEqual([{ host: "192.0.2.25", script: OWN_LOGINS_SCRIPT }]);
        expect(await pulumi.isSecret(chosen.server.virtualUserPasswords)).toBe(true);
        expect(await valueOf(chosen.server.virtualUserPasswords)).toEqual({
            "bob@example.net": OWN, "carol@example.net": pw(chosen, "mail-users-carol@example.net"),
            "dave@example.com": pw(chosen, "mail-users-dave@example.com"),
        });
        expect(await valueOf(chosen.server.systemUserPasswords)).toEqual({
            "frank@example.org": OWN, "grace@example.org": pw(chosen, "mail-users-grace"),
        });
        // read once the passwd-file is written and the resets are done (a new server has the users' own hashes back)
        const after = ["mail-users-passwd", "mail-users-reset-bob@example.net", "mail-users-reset-frank@example.org"];
        expect(after.map((n) => chosen.rec.named(n).state.stdout !== undefined)).toEqual([true, true, true]);
    });

    test("passwordResets: a step per user, again when its word changes, the generated password (or hash) on stdin only", () => {
        const bob = chosen.rec.named("mail-users-reset-bob@example.net");
        // the word on the command line too: the server applies each word once, also when a new server runs the step again
        expect(reveal(bob.inputs.create)).toBe("/usr/local/sbin/mailstack-ctl password-reset bob@example.net forgot");
        expect(reveal(bob.inputs.triggers)).toEqual(["existing-192.0.2.25", "forgot"]);
        expect(isSecretValue(bob.inputs.stdin)).toBe(true);
        expect(reveal(bob.inputs.stdin)).toBe(`{BLF-CRYPT}${String(reveal(chosen.rec.named("mail-users-bob@example.net").state.bcryptHash))}`);
        const frank = chosen.rec.named("mail-users-reset-frank@example.org");
        expect(reveal(frank.inputs.create)).toBe("/usr/local/sbin/mailstack-ctl password-reset frank 2026-12-07");
        expect(reveal(frank.inputs.triggers)).toEqual(["existing-192.0.2.25", "2026-12-07"]);
        expect(reveal(frank.inputs.stdin)).toBe(pw(chosen, "mail-users-frank"));
        // after the passwd-file's write, which would otherwise put the user's own hash back
        expect(chosen.rec.transitivelyWaitsFor(bob).has(chosen.rec.named("mail-users-passwd").urn)).toBe(true);
        expect(chosen.rec.byType(TYPES.password).find((p) => p.name === "mail-users-bob@example.net")).toBeDefined();
    });

    test("without passwordResets no reset step, and the passwd-file's step is as before", async () => {
        const plain = await render(existingRaw);
        expect(plain.rec.resources.filter((r) => r.name.includes("-reset-"))).toEqual([]);
        const passwd = (r: Rendered): unknown => reveal(r.rec.named("mail-users-passwd").inputs.triggers);
        expect(passwd(chosen)).toEqual(passwd(plain));
        expect(await valueOf(plain.server.virtualUserPasswords)).toEqual({
            "bob@example.net": pw(plain, "mail-users-bob@example.net"), "carol@example.net": pw(plain, "mail-users-carol@example.net"),
            "dave@example.com": pw(plain, "mail-users-dave@example.com"),
        });
    });
});

describe("webmail", () => {
    let on: Rendered;
    let off: Rendered;
    beforeAll(async () => {
        [on, off] = [await render({ ...hetznerRaw, webmail: true }), await render(hetznerRaw)];
    });
    const command = (x: Registered): string => String(reveal(x.inputs.create));

    test("off by default: no Roundcube, no php-fpm, no webmail names", async () => {
        expect(off.rec.resources.filter((x) => x.type === "mailstack:index:Webmail")).toEqual([]);
        expect(off.rec.customsOf(component(off.rec, "Packages")).map(command)).toContain("sh -s");
        expect(off.config.certificate.names.filter((n) => n.startsWith("webmail."))).toEqual([]);
        expect((await valueOf(off.server.dnsRecords)).filter((d) => d.name.startsWith("webmail."))).toEqual([]);
    });

    const stateUnits = (r: Rendered): unknown => r.rec.resources.find((x) => x.type === TYPES.serverState)?.inputs.units;
    const offSteps = (r: Rendered): string[] => r.rec.resources.filter((x) => x.type === TYPES.remote)
        .map(command).filter((c) => c.includes("webmail-off"));

    test("off: one step takes a webmail down that the server had; php-fpm is no managed unit", () => {
        expect(offSteps(off)).toEqual(["/usr/local/sbin/mailstack-ctl webmail-off"]);
        expect(stateUnits(off)).not.toContain("mailstack-php-fpm.service");
    });

    test("on: php-fpm is a managed unit under the stack's own name (the state read repairs it, the doctor names it)", () => {
        expect(offSteps(on)).toEqual([]);
        expect(stateUnits(on)).toContain("mailstack-php-fpm.service");
        const doctorConf = on.rec.resources.filter((x) => x.type === TYPES.remote).map((x) => String(reveal(x.inputs.stdin)))
            .find((s) => /^UNITS=/m.test(s));
        expect(doctorConf).toMatch(/^UNITS='[^']*mailstack-php-fpm\.service'?/m);
    });

    test("on: Roundcube's packages, its files through put, then one apply that checks the PHP files", () => {
        expect(on.rec.customsOf(component(on.rec, "Packages")).map(command)).toContain("sh -s webmail");
        const steps = on.rec.customsOf(component(on.rec, "Webmail"));
        const puts = steps.filter((x) => command(x).includes(" put ")).map((x) => command(x).split(" ")[2]).sort();
        expect(puts).toEqual(["/etc/mailstack/webmail/php-fpm.conf", "/etc/roundcube/config.inc.php",
            "/etc/roundcube/plugins/managesieve/config.inc.php", "/etc/roundcube/plugins/password/config.inc.php",
            "/etc/sudoers.d/mailstack-webmail", "/usr/share/roundcube/plugins/password/drivers/mailstack.php"]);
        const apply = steps.filter((x) => / webmail /.test(command(x)));
        expect(apply.map(command)).toEqual(["/usr/local/sbin/mailstack-ctl webmail /etc/roundcube/config.inc.php " +
            "/etc/roundcube/plugins/password/config.inc.php /etc/roundcube/plugins/managesieve/config.inc.php " +
            "/usr/share/roundcube/plugins/password/drivers/mailstack.php"]);
        // the sudoers rule: the password verb only, nothing on the command line
        const sudoers = steps.find((x) => command(x).includes("sudoers"));
        expect(reveal(sudoers?.inputs.stdin)).toMatch(/^www-data ALL=\(root\) NOPASSWD: \/usr\/local\/sbin\/mailstack-ctl password$/m);
    });

    test("on: webmail.DOMAIN on each domain's certificate and in dnsRecords; fail2ban reads Roundcube's logins", async () => {
        for (const d of ["example.org", "example.net", "example.com"]) {
            expect(on.config.certificate.lineages.find((l) => l.domain === d)?.names).toContain(`webmail.${d}`);
        }
        const records = await valueOf(on.server.dnsRecords);
        expect(records.filter((x) => x.name.startsWith("webmail.")).map((x) => `${x.name} ${x.type}`).sort())
            .toEqual(["A", "AAAA", "CAA"].flatMap((type) => ["example.com", "example.net", "example.org"]
                .map((d) => `webmail.${d} ${type}`)).sort());
        const jail = on.rec.customsOf(component(on.rec, "Fail2ban")).map((x) => String(reveal(x.inputs.stdin))).join("\n");
        expect(jail).toContain("/var/log/roundcube/userlogins.log");
    });
});
