// The whole mail server: host, firewall, packages, vmail, certificate, users, postfix and dovecot, in the order
// the blog post had to discover by hand.

import * as pulumi from "@pulumi/pulumi";
import { Certificate, certbotCommand, pruneCommand } from "./certificate";
import { Lineage, MailConfig } from "./config";
import { SecretKey } from "./schema";
import { Dovecot, QUOTA_FILE } from "./dovecot";
import { Fail2ban } from "./fail2ban";
import { MtaSts } from "./mtasts";
import { Firewall } from "./firewall";
import { ExistingServer, HetznerServer, Host, TestbedServer } from "./host";
import { Listener, tlsListeners } from "./listeners";
import { Ops } from "./ops";
import { Packages } from "./packages";
import { Postfix } from "./postfix";
import { Resolver } from "./resolver";
import { Users, PASSWD_FILE } from "./users";
import { Vmail } from "./vmail";
import { Web } from "./web";
import { Webmail } from "./webmail";
import { LOCKED_USERS, PAM_SERVICE } from "./render/access";
import { CIPHERS } from "./render/postfix";
import { OWN_LOGINS_SCRIPT, ServerState, SshTarget } from "./serverState";
import { dkimKeys, Rspamd, RspamdArgs } from "./rspamd";
import { Storage } from "./storage";
import { Srs } from "./srs";
import { Reports } from "./reports";
import { reportAddresses } from "./render/reports";
import { CTL, step } from "./remote";
import { Backup } from "./backup";
import { Dns, Publisher } from "./dns";
import { hetzner } from "./dns/hetzner";
import { rfc2136 } from "./dns/rfc2136";
import { ClientSettings, clientSettings, dane, DnsRecord, dnsRecords } from "./render/records";
import { WebInput } from "./render/web";
import { quotaLogin, sizeBytes } from "./render/dovecot";
import { managedUnits } from "./render/units";

/** What `npm run doctor` needs besides dnsRecords: no secret in it. */
export interface DoctorTarget {
    hostname: string;
    /** Each certificate lineage, the hostname's first, and the names it must cover (config.ts: lineages). */
    certificates: Omit<Lineage, "certFile" | "keyFile">[];
    /** Every port the server serves its certificate on. */
    ports: Listener[];
    resolvers: string[];
    blocklists: string[];
    certMinDays: number;
    ssh: { host: string; port: number; user: string };
    /** "host:port" of the smarthost, when mail leaves through one. */
    relay?: string;
}

/** How each `dns.provider` publishes (components/dns/*.ts); `none` publishes nothing. */
const PUBLISHERS: Partial<Record<MailConfig["dns"]["provider"], Publisher>> = { hetzner, rfc2136 };

/** The config, and the secret keys of the schema (components/schema.ts says what each is for). */
export type MailServerArgs = { config: MailConfig } & { [K in SecretKey]?: pulumi.Input<string> } & {
    /** How the program reads the live server (serverState.readServer); the unit tests' mocks have no server. */
    readServer?: (target: SshTarget, script: string) => Promise<string>;
};

export class MailServer extends pulumi.ComponentResource {
    /** Where it runs: its connection, address and storage. */
    readonly host: Host;
    readonly serverIp: pulumi.Output<string>;
    readonly clientSettings: ClientSettings;
    readonly dnsRecords: pulumi.Output<DnsRecord[]>;
    readonly virtualUserPasswords: pulumi.Output<Record<string, string>>;
    readonly systemUserPasswords: pulumi.Output<Record<string, string>>;
    /** user -> device -> password (mailstack:appPasswords). */
    readonly appPasswords: pulumi.Output<Record<string, Record<string, string>>>;
    readonly doctor: pulumi.Output<DoctorTarget>;

    constructor(name: string, args: MailServerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mailstack:index:MailServer", name, {}, opts);
        const c = args.config;
        const host = this.host = this.makeHost(name, args);
        // (the instanceof below would narrow `host` away from the optional members of Host)
        const { storage: volume, backupSshKey, dnsKey } = host;
        const conn = host.connection;
        if (host instanceof HetznerServer && c.host.kind === "hetzner") {
            new Firewall(`${name}-firewall`, {
                hostname: c.hostname, serverId: host.serverId, adminCidrs: c.host.adminCidrs, imaps: c.imaps, smtps: c.smtps,
            }, { parent: this });
        }
        const packages = new Packages(`${name}-packages`, { connection: conn, webmail: c.webmail },
            { parent: this, dependsOn: host.ready });
        const [hostCert, ...domainCerts] = c.certificate.lineages;
        const tls = { certFile: hostCert.certFile, keyFile: hostCert.keyFile };
        // mail.DOMAIN by SNI on the mail ports (not the hostname's own domain: that name is the hostname)
        const sni = domainCerts.flatMap((l) => l.sni === undefined ? [] : [{ name: l.sni, certFile: l.certFile, keyFile: l.keyFile }]);
        const webInput: WebInput = {
            hostname: c.hostname, baseDomain: c.baseDomain, virtualDomains: c.virtualDomains, imaps: c.imaps,
            smtps: c.smtps, mtaSts: c.mtaSts, webmail: c.webmail, ...tls,
            domainCerts: Object.fromEntries(domainCerts.map((l): [string, { certFile: string; keyFile: string }] =>
                [l.domain ?? "", { certFile: l.certFile, keyFile: l.keyFile }])),
        };
        const domains = [c.baseDomain, ...c.virtualDomains];
        const units = managedUnits({ backup: c.backup !== undefined, storage: volume !== undefined, webmail: c.webmail });
        const rspamdArgs: RspamdArgs = { connection: conn, hostname: c.hostname, baseDomain: c.baseDomain, domains, dkim: c.dkim, spam: c.spam };
        // After the packages, so that the first read already sees the installed versions.
        const state = new ServerState(`${name}-state`, {
            target: pulumi.output(conn).apply((k) => ({ host: k.host, port: k.port, user: k.user, privateKey: k.privateKey })),
            users: [...c.virtualUsers, ...c.renames.map((r) => r.from)],
            passwdFile: PASSWD_FILE,
            units,
            quotas: Object.fromEntries(Object.entries(c.quota.users).map(([a, q]) => [quotaLogin(a, c.baseDomain), sizeBytes(q)])),
            defaultQuota: sizeBytes(c.quota.default),
        }, { parent: this, dependsOn: [packages] });
        // The mail state on the host's volume before anything writes any: the first remote step after the packages.
        const storage = volume === undefined ? [] : [new Storage(`${name}-storage`, {
            connection: conn, device: volume.device, state,
        }, { parent: this, dependsOn: [packages] })];
        const vmail = new Vmail(`${name}-vmail`, { connection: conn, virtualDomains: c.virtualDomains },
            { parent: this, dependsOn: [packages, ...storage] });
        const web = new Web(`${name}-web`, {
            connection: conn, input: webInput, certFiles: c.certificate.lineages.map((l) => l.certFile), state,
        }, { parent: this, dependsOn: [packages] });
        const keys = dkimKeys(name, domains, c.dkim, this);
        const published = pulumi.all([...keys.signing, ...keys.next].map((k) =>
            pulumi.all([k.domain, k.selector, k.publicKey]).apply(([domain, selector, publicKey]) => ({ domain, selector, publicKey }))));
        // keys.signing and keys.next: one per domain, in the order of `domains`
        const dkim = [...keys.signing.map((k, i) => ({ domain: domains[i], selector: c.dkim.selector, publicKey: k.publicKey })),
            ...keys.next.map((k, i) => ({ domain: domains[i], selector: c.dkim.nextSelector ?? "", publicKey: k.publicKey }))];
        // The certificate (an ACME round trip, the longest step after apt) runs beside the accounts: only postfix,
        // dovecot and nginx read it. After the records the CA's validation looks up, when the stack publishes them:
        // those come from the DNS component, made next, as it needs the certificate's key for the TLSA set.
        let certbotWaitsFor: (sets: pulumi.Resource[]) => void = () => undefined;
        const validated = new Promise<pulumi.Resource[]>((resolve) => { certbotWaitsFor = resolve; });
        const cert = new Certificate(`${name}-certificate`, { connection: conn, config: c.certificate }, {
            parent: this,
            dependsOn: pulumi.output(validated).apply((sets) => [packages, web.acmeReady, ...storage, ...sets]),
        });
        const tlsa = dane(c) ? cert.tlsaKeys : undefined;
        const dns = new Dns(`${name}-dns`, {
            config: c, address: host.address, ipv6Address: host.ipv6, publishers: PUBLISHERS, key: args.dnsKey ?? dnsKey, dkim,
            tlsaKeys: tlsa,
        }, { parent: this });
        certbotWaitsFor(dns.published);
        this.dnsRecords = pulumi.all([host.address, host.ipv6 ?? pulumi.output(undefined), published, tlsa ?? []])
            .apply(([ip, ip6, keys, hashes]) => dnsRecords(c, ip, ip6, keys, hashes));
        const webTls = web.serve(`${name}-web-tls`, cert.steps, c.certificate.lineages.map((l) => certbotCommand(c.certificate, l)));
        // The system's resolver before the daemons that read resolv.conf when they start (rspamd, postfix).
        const resolver = new Resolver(`${name}-resolver`, { connection: conn, state }, { parent: this, dependsOn: [packages] });
        // Before postfix points its milters at it.
        const rspamd = new Rspamd(`${name}-rspamd`, { ...rspamdArgs, signing: keys.signing, state },
            { parent: this, dependsOn: [packages, resolver, ...storage] });
        // Before postfix routes forwarded mail to its pipe and bounces to postsrsd.
        const srs = new Srs(`${name}-srs`, {
            connection: conn, input: { baseDomain: c.baseDomain, hostname: c.hostname, virtualDomains: c.virtualDomains }, state,
        }, { parent: this, dependsOn: [packages] });
        // Before postfix gives the reader its copies of the reports that arrive (components/render/reports.ts).
        const reports = new Reports(`${name}-reports`, { connection: conn, hostname: c.hostname, baseDomain: c.baseDomain, state },
            { parent: this, dependsOn: [packages, ...storage] });
        // Before postfix asks it for the TLS policy of every destination; it resolves through unbound.
        const mtaSts = new MtaSts(`${name}-mta-sts`, { connection: conn, state }, { parent: this, dependsOn: [packages, resolver] });
        const read = args.readServer;
        const ownLogins = read === undefined ? undefined : (after: pulumi.Input<unknown>): pulumi.Output<string[]> =>
            pulumi.all([conn, after]).apply(async ([k]) => (await read(
                { host: k.host, port: k.port, user: k.user, privateKey: k.privateKey }, OWN_LOGINS_SCRIPT))
                .split("\n").filter((l) => l !== ""));
        const users = new Users(`${name}-users`, { connection: conn, config: c, state, ownLogins },
            { parent: this, dependsOn: [vmail] });
        // Not after the certificate: postfix starts without it (smtpd reads it per connection) and certbot's deploy
        // hook reloads postfix once it is there, so the two run side by side on a fresh server.
        const postfix = new Postfix(`${name}-postfix`, {
            connection: conn,
            input: {
                hostname: c.hostname, baseDomain: c.baseDomain, virtualDomains: c.virtualDomains,
                ...tls, sni, smtps: c.smtps, relay: c.relayHost, reportAddresses: reportAddresses(c),
            },
            ipv6: host.ipv6,
            state,
            relayPassword: args.relayPassword,
        }, { parent: this, dependsOn: [users, rspamd, srs, resolver, mtaSts, reports] });
        const dovecot = new Dovecot(`${name}-dovecot`, {
            connection: conn,
            state,
            input: {
                baseDomain: c.baseDomain, ...tls, sni, passwdFile: PASSWD_FILE,
                postmaster: `postmaster@${c.baseDomain}`, imaps: c.imaps, pamService: PAM_SERVICE, ciphers: CIPHERS,
                quota: c.quota.default, quotaFile: QUOTA_FILE,
                ...(users.appDevices.length === 0 ? {} : { apps: { devices: users.appDevices, lockedUsers: LOCKED_USERS } }),
            },
            quotas: c.quota.users,
        }, {
            parent: this,
            // dovecot's auth and LMTP sockets live in postfix's spool, whose private/ directory postfix creates
            // (postfix 3.10 on Debian 13 only when it first starts). dovecot will not start without its certificates.
            dependsOn: [users, postfix, cert],
        });
        // A removed domain's lineage goes once nothing names it: after postfix's SNI table, dovecot and nginx. Never
        // through a delete command: that also runs when a step is replaced (a new server keeps /etc/letsencrypt).
        step(`${name}-certificate-prune`, {
            connection: conn,
            create: pruneCommand(c.certificate),
        }, { parent: this, dependsOn: [postfix, dovecot, webTls] });

        // Beside the mail setup: it only needs its packages and the volume; nginx serves it once both exist.
        const webmail = !c.webmail ? [] : [new Webmail(`${name}-webmail`, {
            connection: conn, state, input: { hostname: c.hostname, baseDomain: c.baseDomain },
        }, { parent: this, dependsOn: [packages, ...storage] })];
        if (!c.webmail) {
            // Off means off on a server that had it: php-fpm's pool and the password plugin's sudoers rule go (a
            // no-op on a server that never had webmail). Roundcube's database stays on the volume.
            step(`${name}-webmail-off`, { connection: conn, create: `${CTL} webmail-off` }, { parent: this, dependsOn: [packages] });
        }

        const backup: pulumi.Resource[] = [];
        if (c.backup !== undefined) {
            if (args.backupPassword === undefined) {
                throw new Error("mailstack:backupPassword: required with mailstack:backup");
            }
            // Beside the mail setup, not after it: the timer's first run is hours away, and the repository only
            // needs the volume.
            backup.push(new Backup(`${name}-backup`, {
                connection: conn, config: c.backup, adminEmail: c.adminEmail, password: args.backupPassword,
                sshKey: args.backupSshKey ?? backupSshKey, s3SecretKey: args.backupS3SecretKey, state,
            }, { parent: this, dependsOn: [packages, ...storage] }));
        }

        // Last, with ops: beside the mail setup they would compete with it for the server's systemd and CPU (measured:
        // storage took twice as long), for nothing a fresh server needs sooner.
        const fail2ban = new Fail2ban(`${name}-fail2ban`, {
            connection: conn, input: { ...c.bruteForce, imaps: c.imaps, smtps: c.smtps, webmail: c.webmail }, state,
        }, { parent: this, dependsOn: [postfix, dovecot, ...webmail] });

        const ports = tlsListeners(c);
        const ops = new Ops(`${name}-ops`, {
            connection: conn, logRetentionDays: c.logRetentionDays, doctor: c.doctor, relay: c.relayHost,
            certs: c.certificate.lineages, ports, alertWebhook: args.alertWebhook, state, backup: c.backup !== undefined, units,
        }, { parent: this, dependsOn: [postfix, dovecot] });
        // A managed unit found stopped, failed or badly loaded (the state read names it): started again, after every
        // step that writes or restarts one of them.
        step(`${name}-units`, {
            connection: conn,
            create: `${CTL} units ${units.join(" ")}`,
            triggers: [state.unitRepairs],
        }, { parent: this, dependsOn: [postfix, dovecot, rspamd, web, fail2ban, ops, resolver, mtaSts, reports, ...backup, ...storage] });

        this.serverIp = host.address;
        this.doctor = pulumi.output(host.address).apply((ip): DoctorTarget => ({
            hostname: c.hostname, certificates: c.certificate.lineages.map(({ certFile: _c, keyFile: _k, ...l }) => l), ports, resolvers: c.doctor.resolvers,
            blocklists: c.doctor.blocklists, certMinDays: c.doctor.certMinDays,
            ssh: c.host.kind === "existing" ? { host: c.host.address, port: c.host.port, user: c.host.user }
                : { host: ip, port: 22, user: "root" },
            ...(c.relayHost === undefined ? {} : { relay: `${c.relayHost.host}:${c.relayHost.port}` }),
        }));
        this.clientSettings = clientSettings(c);
        this.virtualUserPasswords = users.virtualUserPasswords;
        this.systemUserPasswords = users.systemUserPasswords;
        this.appPasswords = users.appPasswords;
        // every writer has taken its repair trigger, and with it its place on the drift check's watch list
        state.seal();
        this.registerOutputs({
            serverIp: this.serverIp,
            clientSettings: this.clientSettings,
            dnsRecords: this.dnsRecords,
            virtualUserPasswords: this.virtualUserPasswords,
            systemUserPasswords: this.systemUserPasswords,
            appPasswords: this.appPasswords,
            doctor: this.doctor,
        });
    }

    private makeHost(name: string, args: MailServerArgs): Host {
        const c = args.config;
        const needKey = (): pulumi.Input<string> => {
            if (args.sshPrivateKey === undefined) {
                throw new Error("mailstack:sshPrivateKey: required for this host kind " +
                    "(pulumi config set --secret mailstack:sshPrivateKey < KEYFILE)");
            }
            return args.sshPrivateKey;
        };
        switch (c.host.kind) {
            case "hetzner":
                return new HetznerServer(`${name}-server`, { config: c.host, hostname: c.hostname, sshPrivateKey: needKey() },
                    { parent: this });
            case "existing":
                return new ExistingServer(`${name}-server`, { config: c.host, sshPrivateKey: needKey() }, { parent: this });
            case "testbed":
                return new TestbedServer(`${name}-server`, {
                    config: c.host, dnsKey: c.dns.provider === "rfc2136" && args.dnsKey === undefined,
                }, { parent: this });
        }
    }
}
