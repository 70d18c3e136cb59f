// One test per way to get the stack config wrong: each must be refused by parseConfig with a ConfigError that
// names the `mailstack:KEY` at fault and shows the offending value. Then: index.ts refuses a bad config before
// it registers any resource.

import { readFileSync } from "fs";
import * as path from "path";
import { ConfigError, parseConfig, RawConfig } from "../../components/config";
import { VALID } from "../fixtures/config";

const valid = VALID;

const sshKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMockKey admin@example";
const hetzner = (extra: Record<string, unknown>): Partial<RawConfig> =>
    ({ host: { kind: "hetzner", sshPublicKey: sshKey, adminCidrs: ["203.0.113.0/24"], ...extra } });
const existing = (extra: Record<string, unknown>): Partial<RawConfig> =>
    ({ host: { kind: "existing", address: "192.0.2.10", ...extra } });
const cert = (extra: Record<string, unknown>): Partial<RawConfig> =>
    ({ certificate: { email: "admin@example.org", ...extra } });
const aliases = (a: Record<string, unknown>): Partial<RawConfig> => ({ aliases: a });

function refusal(change: Partial<RawConfig>): ConfigError {
    let error: unknown;
    try {
        parseConfig({ ...valid, ...change });
    } catch (e) {
        error = e;
    }
    if (!(error instanceof ConfigError)) {
        throw new Error(`expected a ConfigError, got ${error === undefined ? "no error: the config was accepted" : error instanceof Error ? error.message : JSON.stringify(error)}`);
    }
    return error;
}

test("the base config of these tests is valid", () => {
    expect(() => parseConfig(valid)).not.toThrow();
});

// [what is wrong, the change to the valid config, the key named, the bad value as the message must show it]
const cases: [string, Partial<RawConfig>, string, string][] = [
    // names and domains
    ["missing baseDomain", { baseDomain: undefined }, "baseDomain", "undefined"],
    ["baseDomain not a domain", { baseDomain: "exa_mple.org" }, "baseDomain", "exa_mple.org"],
    ["hostname not an FQDN", { hostname: "mail" }, "hostname", "\"mail\""],
    ["hostname with only two labels", { hostname: "Mail.Example" }, "hostname", "\"Mail.Example\""],
    ["hostname is one of the virtual domains", { hostname: "mail.example.net", virtualDomains: ["mail.example.net"], virtualUsers: [], aliases: {} },
        "virtualDomains", "mail.example.net"],
    ["empty virtualDomains", { virtualDomains: [] }, "virtualDomains", "[]"],
    ["missing virtualDomains", { virtualDomains: undefined }, "virtualDomains", "undefined"],
    ["virtualDomains not a list", { virtualDomains: "example.net" }, "virtualDomains", "\"example.net\""],
    ["virtual domain not a domain", { virtualDomains: ["example.net", "example..com"] }, "virtualDomains[1]", "example..com"],
    ["base domain also a virtual domain", { virtualDomains: ["example.net", "Example.org"] }, "virtualDomains", "example.org"],
    ["virtual domains that differ only by case", { virtualDomains: ["example.net", "Example.NET"] }, "virtualDomains", "Example.NET"],

    // virtual users
    ["virtualUsers not a list", { virtualUsers: "bob@example.net" }, "virtualUsers", "\"bob@example.net\""],
    ["virtual user not an address", { virtualUsers: ["bob.example.net"] }, "virtualUsers[0]", "bob.example.net"],
    ["virtual user with an invalid local part", { virtualUsers: ["bob smith@example.net"] }, "virtualUsers[0]", "bob smith"],
    ["virtual user in an undeclared domain", { virtualUsers: ["bob@example.info"] }, "virtualUsers[0]", "example.info"],
    ["virtual user in the base domain", { virtualUsers: ["bob@example.org"] }, "virtualUsers[0]", "bob@example.org"],
    ["virtual users that differ only by case", { virtualUsers: ["bob@example.net", "Bob@Example.NET"] }, "virtualUsers", "Bob@Example.NET"],
    ["duplicate virtual user", { virtualUsers: ["bob@example.net", "carol@example.net", "bob@example.net"] }, "virtualUsers",
        "\"bob@example.net\" is listed twice"],
    ["virtual user with the extension delimiter +", { virtualUsers: ["bob@example.net", "team+eu@example.com"] },
        "virtualUsers[1]", "\"team+eu@example.com\" has a \"+\""],
    ["virtual user named root", { virtualUsers: ["root@example.net"] }, "virtualUsers[0]", "root@example.net"],
    ["virtual user named vmail", { virtualUsers: ["vmail@example.net"] }, "virtualUsers[0]", "vmail@example.net"],
    ["virtual user named postfix", { virtualUsers: ["Postfix@example.com"] }, "virtualUsers[0]", "Postfix@example.com"],
    ["virtual user named dovecot", { virtualUsers: ["dovecot@example.com"] }, "virtualUsers[0]", "dovecot@example.com"],

    // system users
    ["system user root", { systemUsers: ["root"] }, "systemUsers[0]", "\"root\""],
    ["system user vmail", { systemUsers: ["frank", "vmail"] }, "systemUsers[1]", "\"vmail\""],
    ["system user postfix", { systemUsers: ["postfix"] }, "systemUsers[0]", "\"postfix\""],
    ["system user dovecot", { systemUsers: ["dovecot"] }, "systemUsers[0]", "\"dovecot\""],
    ["system user given as an address", { systemUsers: ["frank@example.org"] }, "systemUsers[0]", "frank@example.org"],
    ["duplicate system user", { systemUsers: ["frank", "frank"] }, "systemUsers", "\"frank\""],

    // aliases
    ["alias loop", aliases({ "a@example.net": "b@example.net", "b@example.net": "c@example.net", "c@example.net": "a@example.net" }),
        "aliases[\"a@example.net\"]", "a@example.net -> b@example.net -> c@example.net -> a@example.net"],
    ["alias loop through bare system names", aliases({ "a@example.org": "b", "b@example.org": ["a", "bob@example.net"] }),
        "aliases[\"a@example.org\"]", "a@example.org -> b@example.org -> a@example.org"],
    ["alias to an unknown address in a virtual domain", aliases({ "info@example.net": ["bob@example.net", "nobody@example.com"] }),
        "aliases[\"info@example.net\"]", "nobody@example.com"],
    ["alias in a domain of no one", aliases({ "info@example.info": "bob@example.net" }), "aliases[\"info@example.info\"]",
        "info@example.info"],
    ["alias on a virtual user's own address", aliases({ "bob@example.net": "carol@example.net" }), "aliases[\"bob@example.net\"]",
        "bob@example.net"],
    ["alias with no target", aliases({ "info@example.net": [] }), "aliases[\"info@example.net\"]", "[]"],
    ["alias to a reserved account by bare name", aliases({ "info@example.net": "vmail" }), "aliases[\"info@example.net\"]", "\"vmail\""],
    ["alias to a reserved account by address", aliases({ "info@example.net": "dovecot@example.org" }), "aliases[\"info@example.net\"]",
        "dovecot@example.org"],

    // admin address and login scope
    ["missing adminEmail", { adminEmail: undefined }, "adminEmail", "undefined"],
    ["adminEmail not an address", { adminEmail: "alice" }, "adminEmail", "\"alice\""],
    ["adminEmail unknown in a virtual domain", { adminEmail: "nobody@example.net" }, "adminEmail", "nobody@example.net"],
    ["adminEmail is a postmaster address", { adminEmail: "postmaster@example.net" }, "adminEmail", "postmaster@example.net"],
    ["adminEmail is root", { adminEmail: "root@example.org" }, "adminEmail", "root@example.org"],
    ["adminEmail is a reserved account", { adminEmail: "vmail@example.org" }, "adminEmail", "vmail@example.org"],
    ["unknown loginScope", { loginScope: "everyone" }, "loginScope", "\"everyone\""],
    ["unknown MTA-STS mode", { mtaSts: "none" }, "mtaSts", "\"none\""],
    ["bruteForce not an object", { bruteForce: 5 }, "bruteForce", "5"],
    ["bruteForce with an unknown key", { bruteForce: { maxretry: 3 } }, "bruteForce.maxretry", "3"],
    ["bruteForce.maxRetry zero", { bruteForce: { maxRetry: 0 } }, "bruteForce.maxRetry", "0"],
    ["bruteForce.banTime not a number", { bruteForce: { banTime: "1h" } }, "bruteForce.banTime", "\"1h\""],
    ["bruteForce.ignore not a CIDR", { bruteForce: { ignore: ["192.0.2.1"] } }, "bruteForce.ignore[0]", "192.0.2.1"],
    ["dkim.selector not a DNS label", { dkim: { selector: "mail.2026" } }, "dkim.selector", "mail.2026"],
    ["dkim.nextSelector equal to selector", { dkim: { selector: "a1", nextSelector: "a1" } }, "dkim.nextSelector", "a1"],
    ["dkim with an unknown key", { dkim: { key: "x" } }, "dkim.key", "x"],
    ["spam.rejectScore below addHeaderScore", { spam: { addHeaderScore: 8, rejectScore: 7 } }, "spam.rejectScore", "7"],
    ["spam.greylisting not a boolean", { spam: { greylisting: "yes" } }, "spam.greylisting", "yes"],
    // quotas
    ["quota not an object", { quota: "2G" }, "quota", "\"2G\""],
    ["quota with an unknown key", { quota: { defaults: "2G" } }, "quota.defaults", "2G"],
    ["quota.default without a unit", { quota: { default: "2000" } }, "quota.default", "\"2000\""],
    ["quota.default with a unit dovecot does not know", { quota: { default: "2GB" } }, "quota.default", "\"2GB\""],
    ["quota.default a number", { quota: { default: 2 } }, "quota.default", "2"],
    ["quota.default zero", { quota: { default: "0M" } }, "quota.default", "\"0M\""],
    ["quota for an unknown virtual user", { quota: { users: { "zoe@example.net": "1G" } } }, "quota.users[\"zoe@example.net\"]",
        "zoe@example.net"],
    ["quota for an alias", { quota: { users: { "info@example.net": "1G" } } }, "quota.users[\"info@example.net\"]",
        "info@example.net"],
    ["quota for a bare name", { quota: { users: { frank: "1G" } } }, "quota.users[\"frank\"]", "frank"],
    ["quota for an outside address", { quota: { users: { "x@gmail.com": "1G" } } }, "quota.users[\"x@gmail.com\"]", "x@gmail.com"],
    ["quota for root", { quota: { users: { "root@example.org": "1G" } } }, "quota.users[\"root@example.org\"]", "root@example.org"],
    ["quota size misspelt", { quota: { users: { "bob@example.net": "500 M" } } }, "quota.users[\"bob@example.net\"]", "\"500 M\""],
    // app passwords: keys as quota.users, devices one label each
    ["appPasswords not an object", { appPasswords: ["phone"] }, "appPasswords", "[\"phone\"]"],
    ["appPasswords devices not a list", { appPasswords: { "bob@example.net": "phone" } }, "appPasswords[\"bob@example.net\"]",
        "\"phone\""],
    ["app password device not a label", { appPasswords: { "bob@example.net": ["phone", "Bob's iPhone"] } },
        "appPasswords[\"bob@example.net\"][1]", "\"Bob's iPhone\" is not a device name"],
    ["app password device with a dot", { appPasswords: { "bob@example.net": ["phone.2"] } },
        "appPasswords[\"bob@example.net\"][0]", "phone.2"],
    ["app password device listed twice", { appPasswords: { "bob@example.net": ["phone", "phone"] } },
        "appPasswords[\"bob@example.net\"]", "\"phone\" is listed twice"],
    ["app passwords for an unknown virtual user", { appPasswords: { "zoe@example.net": ["phone"] } },
        "appPasswords[\"zoe@example.net\"]", "zoe@example.net"],
    ["app passwords for an alias", { appPasswords: { "info@example.net": ["phone"] } }, "appPasswords[\"info@example.net\"]",
        "info@example.net"],
    ["app passwords for a bare name", { appPasswords: { frank: ["phone"] } }, "appPasswords[\"frank\"]", "frank"],
    ["app passwords for root", { appPasswords: { "root@example.org": ["phone"] } }, "appPasswords[\"root@example.org\"]",
        "root@example.org"],
    ["app passwords for an outside address", { appPasswords: { "x@gmail.com": ["phone"] } }, "appPasswords[\"x@gmail.com\"]",
        "x@gmail.com"],
    ["app passwords under a renamed user's old address", {
        virtualUsers: ["bob@example.net", "caroline@example.net", "dave@example.com", "erin@example.com"],
        renames: { "carol@example.net": "caroline@example.net" }, appPasswords: { "carol@example.net": ["phone"] },
    }, "appPasswords[\"carol@example.net\"]", "renamed to \"caroline@example.net\""],
    // password resets: keys as quota.users, a word each
    ["passwordResets for an alias", { passwordResets: { "info@example.net": "x" } }, "passwordResets[\"info@example.net\"]",
        "info@example.net"],
    ["passwordResets for a bare name", { passwordResets: { frank: "x" } }, "passwordResets[\"frank\"]", "frank"],
    ["passwordResets without a word", { passwordResets: { "bob@example.net": "" } }, "passwordResets[\"bob@example.net\"]", "\"\""],
    ["alias target with a comma (two targets in the postfix table)", aliases({ "info@example.net": "x,y@example.edu" }),
        "aliases[\"info@example.net\"]", "x,y@example.edu"],
    ["alias with the extension delimiter +", aliases({ "info+eu@example.net": "bob@example.net" }),
        "aliases[\"info+eu@example.net\"]", "\"info+eu@example.net\" has a \"+\""],
    ["aliases not an object", { aliases: ["info@example.net"] }, "aliases", "[\"info@example.net\"]"],

    // host
    ["missing host", { host: undefined }, "host", "undefined"],
    ["unknown host kind", { host: { kind: "aws" } }, "host.kind", "\"aws\""],
    ["bad CIDR in adminCidrs", hetzner({ adminCidrs: ["203.0.113.0/24", "203.0.113.0/33"] }), "host.adminCidrs[1]", "203.0.113.0/33"],
    ["malformed IPv6 CIDR in adminCidrs", hetzner({ adminCidrs: ["2001:db8:::/48"] }), "host.adminCidrs[0]", "2001:db8:::/48"],
    ["bare address (no prefix) in adminCidrs", hetzner({ adminCidrs: ["203.0.113.7"] }), "host.adminCidrs[0]", "203.0.113.7"],
    ["no adminCidrs", hetzner({ adminCidrs: [] }), "host.adminCidrs", "[]"],
    ["volume below Hetzner's 10 GB", hetzner({ volumeSize: 5 }), "host.volumeSize", "got 5"],
    ["volume size not in whole GB", hetzner({ volumeSize: 10.5 }), "host.volumeSize", "10.5"],
    ["protect as a string", hetzner({ protect: "no" }), "host.protect", "\"no\""],
    ["replaceServer as a number", hetzner({ replaceServer: 1 }), "host.replaceServer", "got 1"],
    ["empty id of an existing host", existing({ id: "" }), "host.id", "\"\""],
    ["bad ssh public key", hetzner({ sshPublicKey: "ssh-rsa not base64!" }), "host.sshPublicKey", "ssh-rsa not base64!"],
    ["public key whose blob is of another type", hetzner({ sshPublicKey: "ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIMockKey admin" }),
        "host.sshPublicKey", "ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIMockKey"],
    ["private key given as the public key", hetzner({ sshPublicKey: "-----BEGIN OPENSSH PRIVATE KEY-----" }), "host.sshPublicKey",
        "BEGIN OPENSSH PRIVATE KEY"],
    ["misspelt hetzner key", hetzner({ serverTyp: "cx32" }), "host.serverTyp", "cx32"],
    ["port 0 for an existing host", existing({ port: 0 }), "host.port", "got 0"],
    ["port 65536 for an existing host", existing({ port: 65536 }), "host.port", "65536"],
    ["port as a string for an existing host", existing({ port: "2222" }), "host.port", "\"2222\""],
    ["existing host address that is not an IPv4 address", existing({ address: "192.0.2.10; reboot" }), "host.address",
        "192.0.2.10; reboot"],
    ["existing host user that is not a user name", existing({ user: "root -oProxyCommand=x" }), "host.user", "root -oProxyCommand=x"],
    ["unknown testbed suite", { host: { kind: "testbed", suite: "sid" } }, "host.suite", "\"sid\""],

    // certificate
    ["missing certificate", { certificate: undefined }, "certificate", "undefined"],
    ["contact email not an address", cert({ email: "admin" }), "certificate.email", "\"admin\""],
    ["unknown ACME mode", cert({ acme: "zerossl" }), "certificate.acme", "\"zerossl\""],
    ["custom ACME without a directory", cert({ acme: "custom" }), "certificate.directory", "undefined"],
    ["http:// ACME directory", cert({ acme: "custom", directory: "http://acme.example.org/dir" }), "certificate.directory",
        "http://acme.example.org/dir"],
    ["directory with a Let's Encrypt mode (silently ignored before)", cert({ acme: "letsencrypt", directory: "https://ca.example.org/dir" }),
        "certificate.directory", "https://ca.example.org/dir"],
    ["relative caBundle", cert({ acme: "custom", directory: "https://ca.example.org/dir", caBundle: "certs/pebble.pem" }),
        "certificate.caBundle", "certs/pebble.pem"],
    ["misspelt certificate key", cert({ acme: "custom", directory: "https://ca.example.org/dir", caBundel: "/etc/ca.pem" }),
        "certificate.caBundel", "/etc/ca.pem"],

    ["caa with a Let's Encrypt mode (its issuer is known)", cert({ acme: "letsencrypt", caa: "example.org" }),
        "certificate.caa", "example.org"],
    ["caa not a domain", cert({ acme: "custom", directory: "https://ca.example.org/dir", caa: "my ca" }),
        "certificate.caa", "my ca"],
    ["certificate.key not a DNS label", cert({ key: "k2027.1" }), "certificate.key", "\"k2027.1\""],
    ["certificate.nextKey equal to key", cert({ key: "k2", nextKey: "k2" }), "certificate.nextKey", "\"k2\""],

    // listeners
    ["non-boolean imaps", { imaps: "yes" }, "imaps", "\"yes\""],
    ["non-boolean smtps", { smtps: 1 }, "smtps", "got 1"],
];

describe("parseConfig refuses", () => {
    test.each(cases)("%s", (_what, change, key, value) => {
        const error = refusal(change);
        // Every problem is reported: one of them names the key exactly (virtualUsers is not virtualUsers[0]), then
        // the value somewhere in its message.
        const problem = error.problems.find((p) => p.key === key);
        expect(problem?.line.startsWith(`mailstack:${key}: `) ?? error.message).toBe(true);
        expect(problem?.line).toContain(value);
    });
});

describe("parseConfig still accepts", () => {
    // Guards against the fixes above refusing what is fine.
    test.each<[string, Partial<RawConfig>]>([
        ["an IPv6 admin network", hetzner({ adminCidrs: ["2001:db8::/32", "203.0.113.7/32"] })],
        ["a base-domain address that keeps a copy and forwards", aliases({ "alice@example.org": ["alice", "first.last+tag@example.edu"] })],
        ["an alias chain without a loop", aliases({ "a@example.org": "b", "b@example.org": ["bob@example.net", "carol@example.net"] })],
        ["root as a bare alias target", aliases({ "abuse@example.net": "root" })],
        ["a custom ACME server with a CA bundle", cert({ acme: "custom", directory: "https://192.0.2.1:14000/dir", caBundle: "/etc/ca.pem" })],
        ["an existing host with a port and user", existing({ port: 2222, user: "deploy" })],
    ])("%s", (_what, change) => {
        expect(() => parseConfig({ ...valid, ...change })).not.toThrow();
    });

    test.each(["Pulumi.local.yaml", "Pulumi.prod.yaml"])("the repository's %s", (file) => {
        // js-yaml comes with jest and has no types here; importing it would need @types/js-yaml for one call
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const yaml = require("js-yaml") as { load(text: string): { config: Record<string, unknown> } };
        const stack = yaml.load(readFileSync(path.join(__dirname, "..", "..", file), "utf8")).config;
        const raw = Object.fromEntries(Object.entries(stack)
            .filter(([k]) => k.startsWith("mailstack:"))
            .map(([k, v]) => [k.slice("mailstack:".length), v]));
        expect(Object.keys(raw).length).toBeGreaterThan(5);
        expect(() => parseConfig(raw)).not.toThrow();
    });
});

describe("index.ts", () => {
    // The program under mocks, with a fresh copy of every module: config is read and checked before MailServer.
    const good: Record<string, string> = {
        "mailstack:hostname": "mail.example.org",
        "mailstack:baseDomain": "example.org",
        "mailstack:virtualDomains": JSON.stringify(["example.net"]),
        "mailstack:virtualUsers": JSON.stringify(["bob@example.net"]),
        "mailstack:systemUsers": JSON.stringify(["frank"]),
        "mailstack:host": JSON.stringify({ kind: "existing", address: "192.0.2.10" }),
        "mailstack:certificate": JSON.stringify({ email: "admin@example.org", acme: "staging" }),
        "mailstack:adminEmail": "bob@example.net",
        "mailstack:sshPrivateKey": "-----BEGIN OPENSSH PRIVATE KEY-----\nbW9jaw==\n-----END OPENSSH PRIVATE KEY-----\n",
    };

    interface Run {
        error?: unknown;
        newResourceCalls: number;
        types: string[];
        exports?: Record<string, unknown>;
        secret?: boolean;
        /** A pulumi.RunError: the engine prints its message alone, without a stack trace. */
        runError?: boolean;
    }

    async function runIndex(config: Record<string, string>, preview = false): Promise<Run> {
        let run: Run | undefined;
        await jest.isolateModulesAsync(async () => {
            /* eslint-disable @typescript-eslint/no-require-imports */
            const pulumi = require("@pulumi/pulumi") as typeof import("@pulumi/pulumi");
            const harness = require("./harness") as typeof import("./harness");
            await harness.installMocks(preview);
            // no server behind the mocks: the program's own read of it (which users chose a password) finds nobody
            const serverState = require("../../components/serverState") as typeof import("../../components/serverState");
            jest.spyOn(serverState, "readServer").mockResolvedValue("");
            pulumi.runtime.setAllConfig(config, ["mailstack:sshPrivateKey"]);
            const { rec, result, error } = await harness.record(() => require("../../index") as Record<string, unknown>);
            run = { error, newResourceCalls: rec.newResourceCalls, types: rec.resources.map((r) => r.type), exports: result,
                runError: pulumi.RunError.isInstance(error) };
            if (result !== undefined) {
                run.secret = await pulumi.isSecret(result.virtualUserPasswords as import("@pulumi/pulumi").Output<unknown>);
            }
        });
        return run as unknown as Run;
    }

    test("a valid config builds the stack (the control for the tests below)", async () => {
        const run = await runIndex(good);
        expect(run.error).toBeUndefined();
        expect(run.newResourceCalls).toBeGreaterThan(10);
        expect(run.types).toContain("mailstack:index:MailServer");
        expect(Object.keys(run.exports ?? {})).toEqual(expect.arrayContaining([
            "serverIp", "clientSettings", "dnsRecords", "virtualUserPasswords", "systemUserPasswords",
        ]));
        expect(run.secret).toBe(true);
    });

    test("a preview without the SSH key still shows the plan (up refuses, see below)", async () => {
        const { "mailstack:sshPrivateKey": _key, ...config } = good;
        const run = await runIndex(config, true);
        expect(run.error).toBeUndefined();
        expect(run.types).toContain("command:remote:Command");
    });

    test.each<[string, Record<string, string | undefined>, RegExp]>([
        ["a virtual user in an undeclared domain", { "mailstack:virtualUsers": JSON.stringify(["bob@example.info"]) },
            /^mailstack:virtualUsers\[0\]: .*example\.info/],
        ["a hostname that is not an FQDN", { "mailstack:hostname": "mail" }, /^mailstack:hostname: "mail"/],
        ["an invalid certificate that parseConfig checks last", { "mailstack:certificate": JSON.stringify({ email: "x", acme: "staging" }) },
            /^mailstack:certificate\.email: "x"/],
        ["no SSH private key for an existing host", { "mailstack:sshPrivateKey": undefined }, /^mailstack:sshPrivateKey: is not set/],
        ["a value that is not JSON", { "mailstack:host": "existing" }, /mailstack:host.*existing/],
        ["no adminEmail", { "mailstack:adminEmail": undefined }, /^mailstack:adminEmail: is required/],
        ["an unknown loginScope", { "mailstack:loginScope": "everyone" }, /^mailstack:loginScope: .*"everyone"/],
    ])("refuses %s before any resource is registered", async (_what, change, message) => {
        const config = { ...good, ...change };
        for (const [k, v] of Object.entries(change)) {
            if (v === undefined) {
                delete config[k];
            }
        }
        const run = await runIndex(config as Record<string, string>);
        expect(run.error).toBeInstanceOf(Error);
        expect((run.error as Error).message).toMatch(message);
        // a line per problem, each naming its key
        expect((run.error as Error).message.split("\n").every((l) => l.includes("mailstack:"))).toBe(true);
        expect(run.runError).toBe(true);
        expect(run.newResourceCalls).toBe(0);
        expect(run.types).toEqual([]);
    });
});
