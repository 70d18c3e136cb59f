import { parseConfig, RawConfig } from "../../components/config";
import { DnsRecord, dnsRecords } from "../../components/render/records";
import { VALID } from "../fixtures/config";
import { expectRejected } from "./harness";

const valid = VALID;

function rejects(change: Partial<RawConfig>, key: string, message: RegExp): void {
    expectRejected({ ...valid, ...change }, key, message);
}

describe("parseConfig", () => {
    test("accepts a valid config and fills in defaults", () => {
        const c = parseConfig(valid);
        expect(c.virtualUsers).toEqual(valid.virtualUsers);
        expect(c.aliases["postmaster@example.com"]).toEqual(["dave@example.com", "alice"]);
        expect(c.host).toEqual({ kind: "existing", address: "192.0.2.10", port: 22, user: "root", id: "192.0.2.10" });
        expect(c.certificate.directory).toBe("https://acme-staging-v02.api.letsencrypt.org/directory");
        const web = (d: string): string[] => [`autoconfig.${d}`, `autodiscover.${d}`, `mta-sts.${d}`];
        // the hostname alone (mail.example.org is the hostname: not again in example.org's), then one per domain
        expect(c.certificate.lineages.map((l) => [l.name, l.names, l.sni, l.web])).toEqual([
            ["mailstack", ["mail.example.org"], undefined, "mail.example.org"],
            ["mailstack-example.org", web("example.org"), undefined, "autoconfig.example.org"],
            ["mailstack-example.net", ["mail.example.net", ...web("example.net")], "mail.example.net", "autoconfig.example.net"],
            ["mailstack-example.com", ["mail.example.com", ...web("example.com")], "mail.example.com", "autoconfig.example.com"],
        ]);
        expect(c.certificate.lineages[2]).toMatchObject({ certFile: "/etc/letsencrypt/live/mailstack-example.net/fullchain.pem",
            keyFile: "/etc/letsencrypt/live/mailstack-example.net/privkey.pem" });
        expect(c.certificate.names).toEqual(["mail.example.org", ...web("example.org"), "mail.example.net", ...web("example.net"),
            "mail.example.com", ...web("example.com")]);
        expect(c.certificate.caa).toBe("letsencrypt.org");
        expect(c.imaps).toBe(false);
        expect(c.mtaSts).toBe("enforce");
    });

    test("normalises case", () => {
        // Every user the aliases of `valid` point at must stay declared, only the spelling changes.
        const c = parseConfig({
            ...valid,
            hostname: "Mail.Example.ORG",
            virtualUsers: ["Bob@Example.net", "carol@example.net", "DAVE@example.com", "erin@example.com"],
        });
        expect(c.hostname).toBe("mail.example.org");
        expect(c.virtualUsers).toEqual(["bob@example.net", "carol@example.net", "dave@example.com", "erin@example.com"]);
    });

    test("quotas: 2G by default; per-user sizes for virtual users and for system users by NAME@base", () => {
        expect(parseConfig(valid).quota).toEqual({ default: "2G", users: {} });
        const c = parseConfig({ ...valid, quota: { default: "500M", users: { "Bob@Example.net": "1G", "alice@example.org": "10G" } } });
        expect(c.quota).toEqual({ default: "500M", users: { "bob@example.net": "1G", "alice@example.org": "10G" } });
    });

    test("app passwords: none by default; devices per virtual user and per system user by NAME@base", () => {
        expect(parseConfig(valid).appPasswords).toEqual({});
        const c = parseConfig({ ...valid, appPasswords: { "Bob@Example.net": ["phone", "laptop"], "alice@example.org": ["tablet-2"] } });
        expect(c.appPasswords).toEqual({ "bob@example.net": ["phone", "laptop"], "alice@example.org": ["tablet-2"] });
    });

    test("password resets: none by default; a word per virtual user and per system user by NAME@base", () => {
        expect(parseConfig(valid).passwordResets).toEqual({});
        expect(parseConfig({ ...valid, passwordResets: { "Bob@Example.net": "forgot", "alice@example.org": " 2026-12-07 " } })
            .passwordResets).toEqual({ "bob@example.net": "forgot", "alice@example.org": "2026-12-07" });
    });

    test("bad app passwords are reported all at once, a line each naming key and value", () => {
        let message = "";
        try {
            parseConfig({ ...valid, appPasswords: { "zoe@example.net": ["phone"], "bob@example.net": ["pad", "pad"], "info@example.net": ["x"] } });
        } catch (e) {
            message = (e as Error).message;
        }
        expect(message.split("\n")).toEqual([
            'mailstack:appPasswords["zoe@example.net"]: "zoe@example.net" is not a mail account (a virtual user, or ' +
                "NAME@example.org of a system user); aliases have no mailbox of their own",
            'mailstack:appPasswords["bob@example.net"]: "pad" is listed twice',
            'mailstack:appPasswords["info@example.net"]: "info@example.net" is not a mail account (a virtual user, or ' +
                "NAME@example.org of a system user); aliases have no mailbox of their own",
        ]);
    });

    test("a renamed virtual user keeps the quota of the old address, unless the new one has its own", () => {
        const renamed = {
            ...valid, virtualUsers: ["bob@example.net", "caroline@example.net", "dave@example.com"],
            aliases: { "info@example.net": "bob@example.net" }, renames: { "carol@example.net": "caroline@example.net" },
        };
        expect(parseConfig({ ...renamed, quota: { users: { "carol@example.net": "1M" } } }).quota.users)
            .toEqual({ "caroline@example.net": "1M" });
        expect(parseConfig({ ...renamed, quota: { users: { "carol@example.net": "1M", "caroline@example.net": "2M" } } })
            .quota.users).toEqual({ "caroline@example.net": "2M" });
    });

    test("hetzner defaults", () => {
        const c = parseConfig({
            ...valid,
            host: { kind: "hetzner", sshPublicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB admin", adminCidrs: ["203.0.113.7/32"] },
        });
        expect(c.host).toMatchObject({ kind: "hetzner", serverType: "cx22", location: "nbg1", image: "debian-12" });
    });

    // One test per way to get it wrong; each names the key and the value.
    test.each<[string, Partial<RawConfig>, string, RegExp]>([
        ["hostname not an FQDN", { hostname: "mail" }, "hostname", /"mail" is not a fully qualified/],
        ["hostname a bare domain", { hostname: "example.org" }, "hostname", /fully qualified/],
        ["bad base domain", { baseDomain: "exa_mple.org" }, "baseDomain", /"exa_mple.org" is not a valid domain/],
        ["missing virtual domains", { virtualDomains: undefined }, "virtualDomains", /required/],
        ["empty virtual domains", { virtualDomains: [] }, "virtualDomains", /at least one domain/],
        ["base domain repeated", { virtualDomains: ["example.net", "example.org"] }, "virtualDomains",
            /"example.org" is the base domain/],
        ["duplicate domain", { virtualDomains: ["example.net", "Example.NET"] }, "virtualDomains", /differ only by case/],
        ["invalid address", { virtualUsers: ["bob-at-example.net"] }, "virtualUsers[0]", /"bob-at-example.net" is not an address/],
        ["user in undeclared domain", { virtualUsers: ["bob@example.info"] }, "virtualUsers[0]",
            /"example.info", which is not in virtualDomains/],
        ["virtual user in base domain", { virtualUsers: ["bob@example.org"] }, "virtualUsers[0]", /base domain/],
        ["users differ only by case", { virtualUsers: ["bob@example.net", "BOB@example.net"] }, "virtualUsers",
            /differ only by case/],
        ["duplicate user", { virtualUsers: ["bob@example.net", "bob@example.net"] }, "virtualUsers", /listed twice/],
        ["+ in a virtual user", { virtualUsers: ["bob@example.net", "team+eu@example.com"] }, "virtualUsers[1]",
            /"team\+eu@example.com" has a "\+" in its user part "team\+eu": "\+" is the address extension delimiter/],
        ["+ in an alias", { aliases: { "sales+eu@example.com": "bob@example.net" } }, 'aliases["sales+eu@example.com"]',
            /"sales\+eu@example.com" has a "\+" in its user part/],
        ["reserved virtual name", { virtualUsers: ["postfix@example.net"] }, "virtualUsers[0]", /reserved name "postfix"/],
        ["reserved system user root", { systemUsers: ["root"] }, "systemUsers[0]", /"root" is a reserved/],
        ["reserved system user vmail", { systemUsers: ["vmail"] }, "systemUsers[0]", /"vmail" is a reserved/],
        ["reserved system user dovecot", { systemUsers: ["dovecot"] }, "systemUsers[0]", /"dovecot" is a reserved/],
        ["system user with a domain", { systemUsers: ["frank@example.org"] }, "systemUsers[0]", /not a valid Unix user name/],
        ["alias loop", { aliases: { "a@example.net": "b@example.net", "b@example.net": "a@example.net" } },
            'aliases["a@example.net"]', /alias loop: a@example.net -> b@example.net -> a@example.net/],
        ["alias to unknown local address", { aliases: { "info@example.net": "nobody-here@example.net" } },
            'aliases["info@example.net"]', /"nobody-here@example.net" is in a virtual domain but is neither/],
        ["alias in foreign domain", { aliases: { "info@example.info": "bob@example.net" } },
            'aliases["info@example.info"]', /not in the base domain or a virtual domain/],
        ["alias shadows a user", { aliases: { "bob@example.net": "carol@example.net" } },
            'aliases["bob@example.net"]', /virtual user's own address/],
        ["bad admin CIDR", { host: { kind: "hetzner", sshPublicKey: "ssh-ed25519 AAAA", adminCidrs: ["10.0.0.300/8"] } },
            "host.adminCidrs[0]", /"10.0.0.300\/8" is not a CIDR/],
        ["no admin CIDR", { host: { kind: "hetzner", sshPublicKey: "ssh-ed25519 AAAA", adminCidrs: [] } },
            "host.adminCidrs", /at least one CIDR/],
        ["bad ssh key", { host: { kind: "hetzner", sshPublicKey: "not a key", adminCidrs: ["203.0.113.0/24"] } },
            "host.sshPublicKey", /not an OpenSSH public key/],
        ["unknown host kind", { host: { kind: "aws" } }, "host.kind", /unknown host kind "aws"/],
        ["bad port", { host: { kind: "existing", address: "192.0.2.10", port: 70000 } }, "host.port", /70000/],
        ["unknown ACME mode", { certificate: { email: "admin@example.org", acme: "zerossl" } }, "certificate.acme",
            /unknown ACME mode "zerossl"/],
        ["custom ACME without URL", { certificate: { email: "admin@example.org", acme: "custom" } },
            "certificate.directory", /non-empty string/],
        ["bad contact email", { certificate: { email: "admin", acme: "staging" } }, "certificate.email",
            /"admin" is not an email address/],
        ["relative CA bundle", { certificate: { email: "a@example.org", acme: "custom", directory: "https://ca/dir", caBundle: "ca.pem" } },
            "certificate.caBundle", /absolute path/],
        ["hostname as virtual domain", { hostname: "mail.example.net", virtualDomains: ["mail.example.net"], virtualUsers: [] },
            "virtualDomains", /server's hostname/],
        ["non-boolean imaps", { imaps: "yes" }, "imaps", /true or false/],
        ["an SPF all in relayHost.spfInclude", { relayHost: { host: "relay.example.net", username: "u", spfInclude: "include:spf.relay.example ~all" } },
            "relayHost.spfInclude", /"~all" is not an SPF mechanism naming senders/],
        ["an SPF redirect in relayHost.spfInclude", { relayHost: { host: "relay.example.net", username: "u", spfInclude: "redirect=spf.relay.example" } },
            "relayHost.spfInclude", /"redirect=spf.relay.example" is not an SPF mechanism/],
        ["a bare domain in relayHost.spfInclude", { relayHost: { host: "relay.example.net", username: "u", spfInclude: "spf.relay.example" } },
            "relayHost.spfInclude", /"spf.relay.example" is not an SPF mechanism/],
        ["an empty relayHost.spfInclude", { relayHost: { host: "relay.example.net", username: "u", spfInclude: " " } },
            "relayHost.spfInclude", /empty/],
    ])("rejects %s", (_what, change, key, message) => rejects(change, key, message));
});

describe("dnsRecords: what mail programs and other servers look up", () => {
    const records = (raw: Partial<RawConfig> = {}): DnsRecord[] => dnsRecords(parseConfig({ ...valid, ...raw }), "192.0.2.10");
    const of = (rs: DnsRecord[], name: string, type: string): string[] =>
        rs.filter((r) => r.name === name && r.type === type).map((r) => r.value);

    test("RFC 6186 SRV per domain; the implicit-TLS ones say 'not offered' until they are on", () => {
        const off = records();
        expect(of(off, "_imap._tcp.example.net", "SRV")).toEqual(["0 1 143 mail.example.org."]);
        expect(of(off, "_submission._tcp.example.net", "SRV")).toEqual(["0 1 587 mail.example.org."]);
        expect(of(off, "_imaps._tcp.example.net", "SRV")).toEqual(["0 0 0 ."]);
        expect(of(off, "_submissions._tcp.example.org", "SRV")).toEqual(["0 0 0 ."]);
        const on = records({ imaps: true, smtps: true });
        expect(of(on, "_imaps._tcp.example.com", "SRV")).toEqual(["0 1 993 mail.example.org."]);
        expect(of(on, "_submissions._tcp.example.com", "SRV")).toEqual(["0 1 465 mail.example.org."]);
    });

    test("MTA-STS id follows the policy text, TLS-RPT goes to adminEmail, CAA names the CA", () => {
        const enforce = records();
        const testing = records({ mtaSts: "testing" });
        const id = (rs: DnsRecord[]): string => of(rs, "_mta-sts.example.org", "TXT")[0];
        expect(id(enforce)).toMatch(/^v=STSv1; id=[A-Za-z0-9]{1,32}$/);
        expect(id(testing)).toMatch(/^v=STSv1; id=[A-Za-z0-9]{1,32}$/);
        expect(id(testing)).not.toBe(id(enforce));
        expect(id(records({ hostname: "mx.example.org" }))).not.toBe(id(enforce));
        expect(of(enforce, "_mta-sts.example.net", "TXT")).toEqual([id(enforce)]);
        expect(of(enforce, "_smtp._tls.example.com", "TXT")).toEqual(["v=TLSRPTv1; rua=mailto:alice@example.org"]);
        // CAA on the certificate's names only, never on an apex (a website there may use another CA)
        const caa = enforce.filter((r) => r.type === "CAA");
        expect(caa.map((r) => r.name).sort()).toEqual([...parseConfig(valid).certificate.names].sort());
        expect(caa.map((r) => r.name)).toEqual(expect.arrayContaining(["mail.example.org", "mail.example.net",
            "autoconfig.example.com", "mta-sts.example.net"]));
        expect(caa.every((r) => r.value === '0 issue "letsencrypt.org"')).toBe(true);
        for (const apex of ["example.org", "example.net", "example.com"]) {
            expect(of(enforce, apex, "CAA")).toEqual([]);
        }
        // a custom CA: CAA only if configured
        const custom = { email: "admin@example.org", acme: "custom", directory: "https://ca.example.org/dir" };
        expect(records({ certificate: custom }).filter((r) => r.type === "CAA")).toEqual([]);
        expect(of(records({ certificate: { ...custom, caa: "ca.example.org" } }), "autoconfig.example.com", "CAA"))
            .toEqual(['0 issue "ca.example.org"']);
        // a hostname outside every domain is a certificate name like the others
        expect(of(records({ hostname: "mx.example.info" }), "mx.example.info", "CAA")).toEqual(['0 issue "letsencrypt.org"']);
    });

    test("SPF: the server's address, and the relay's mechanisms with relayHost.spfInclude; the hostname's own", () => {
        expect(of(records(), "example.net", "TXT").filter((v) => v.startsWith("v=spf1")))
            .toEqual(["v=spf1 mx ip4:192.0.2.10 -all"]);
        const relayed = records({ relayHost: { host: "smtp.relay.example", username: "u", spfInclude: "include:spf.relay.example  IP4:198.51.100.0/24" } });
        for (const d of ["example.org", "example.net", "example.com"]) {
            expect(of(relayed, d, "TXT").filter((v) => v.startsWith("v=spf1")))
                .toEqual(["v=spf1 mx ip4:192.0.2.10 include:spf.relay.example ip4:198.51.100.0/24 -all"]);
        }
        // bounces (null sender) and the HELO name are checked against the hostname
        expect(of(records(), "mail.example.org", "TXT")).toEqual(["v=spf1 a -all"]);
        expect(of(relayed, "mail.example.org", "TXT")).toEqual(["v=spf1 a -all"]);
    });

    test("autoconfig, autodiscover and mta-sts names of every domain point at the server", () => {
        for (const d of ["example.org", "example.net", "example.com"]) {
            for (const p of ["autoconfig", "autodiscover", "mta-sts"]) {
                expect(of(records(), `${p}.${d}`, "A")).toEqual(["192.0.2.10"]);
            }
        }
    });
});
