// The whole mail server: host, firewall, packages, vmail, certificate, users, postfix and dovecot, in the order
// the blog post had to discover by hand.

import * as pulumi from "@pulumi/pulumi";
import { Certificate } from "./certificate";
import { MailConfig } from "./config";
import { DOVECOT_FILES, Dovecot } from "./dovecot";
import { Fail2ban } from "./fail2ban";
import { Firewall } from "./firewall";
import { ExistingServer, HetznerServer, Host, TestbedServer } from "./host";
import { Packages } from "./packages";
import { POSTFIX_FILES, Postfix } from "./postfix";
import { USER_FILES, Users, PASSWD_FILE } from "./users";
import { Vmail } from "./vmail";
import { PAM_SERVICE } from "./render/access";
import { CIPHERS } from "./render/postfix";
import { ServerState } from "./serverState";
import { Storage } from "./storage";
import { Backup } from "./backup";
import { ClientSettings, clientSettings, DnsRecord, dnsRecords } from "./render/records";

export interface MailServerArgs {
    config: MailConfig;
    /** Required for hetzner and existing hosts; the testbed makes its own key. */
    sshPrivateKey?: pulumi.Input<string>;
    backupPassword?: pulumi.Input<string>;
    backupSshKey?: pulumi.Input<string>;
    backupS3SecretKey?: pulumi.Input<string>;
}

export class MailServer extends pulumi.ComponentResource {
    readonly serverIp: pulumi.Output<string>;
    readonly clientSettings: ClientSettings;
    readonly dnsRecords: pulumi.Output<DnsRecord[]>;
    readonly virtualUserPasswords: pulumi.Output<Record<string, string>>;
    readonly systemUserPasswords: pulumi.Output<Record<string, string>>;

    constructor(name: string, args: MailServerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mailstack:index:MailServer", name, {}, opts);
        const c = args.config;
        const host = this.host(name, args);
        // (the instanceof below would narrow `host` away from the optional members of Host)
        const { storage: volume, backupSshKey } = host;
        const conn = host.connection;
        if (host instanceof HetznerServer && c.host.kind === "hetzner") {
            new Firewall(`${name}-firewall`, {
                hostname: c.hostname, serverId: host.serverId, adminCidrs: c.host.adminCidrs, imaps: c.imaps, smtps: c.smtps,
            }, { parent: this });
        }
        const packages = new Packages(`${name}-packages`, { connection: conn }, { parent: this, dependsOn: host.ready });
        // The mail state on the host's volume before anything writes any: the first remote step after the packages.
        const storage = volume === undefined ? [] : [new Storage(`${name}-storage`, {
            connection: conn, device: volume.device,
        }, { parent: this, dependsOn: [packages] })];
        // After the packages, so that the first read already sees the installed versions.
        const state = new ServerState(`${name}-state`, {
            target: pulumi.output(conn).apply((k) => ({ host: k.host, port: k.port, user: k.user, privateKey: k.privateKey })),
            files: [...USER_FILES, ...POSTFIX_FILES, ...DOVECOT_FILES],
            users: [...c.virtualUsers, ...c.renames.map((r) => r.from)],
            passwdFile: PASSWD_FILE,
        }, { parent: this, dependsOn: [packages] });
        const vmail = new Vmail(`${name}-vmail`, { connection: conn, virtualDomains: c.virtualDomains },
            { parent: this, dependsOn: [packages, ...storage] });
        const cert = new Certificate(`${name}-certificate`, { connection: conn, config: c.certificate },
            { parent: this, dependsOn: [vmail] });
        const users = new Users(`${name}-users`, { connection: conn, config: c, state }, { parent: this, dependsOn: [cert] });
        const postfix = new Postfix(`${name}-postfix`, {
            connection: conn,
            input: {
                hostname: c.hostname, baseDomain: c.baseDomain, virtualDomains: c.virtualDomains,
                certFile: cert.certFile, keyFile: cert.keyFile, smtps: c.smtps,
            },
            ipv6: host.ipv6,
            state,
        }, { parent: this, dependsOn: [users] });
        const dovecot = new Dovecot(`${name}-dovecot`, {
            connection: conn,
            state,
            input: {
                baseDomain: c.baseDomain, certFile: cert.certFile, keyFile: cert.keyFile, passwdFile: PASSWD_FILE,
                postmaster: `postmaster@${c.baseDomain}`, imaps: c.imaps, pamService: PAM_SERVICE, ciphers: CIPHERS,
            },
        }, {
            parent: this,
            // dovecot's auth and LMTP sockets live in postfix's spool, whose private/ directory postfix creates
            // (postfix 3.10 on Debian 13 only when it first starts).
            dependsOn: [users, postfix],
        });

        if (c.backup !== undefined) {
            if (args.backupPassword === undefined) {
                throw new Error("mailstack:backupPassword: required with mailstack:backup");
            }
            new Backup(`${name}-backup`, {
                connection: conn, config: c.backup, adminEmail: c.adminEmail, password: args.backupPassword,
                sshKey: args.backupSshKey ?? backupSshKey, s3SecretKey: args.backupS3SecretKey,
            }, { parent: this, dependsOn: [users, postfix, dovecot] });
        }

        // After both: the jail reads their logs.
        new Fail2ban(`${name}-fail2ban`, {
            connection: conn, input: { ...c.bruteForce, imaps: c.imaps, smtps: c.smtps },
        }, { parent: this, dependsOn: [postfix, dovecot] });

        this.serverIp = host.address;
        this.clientSettings = clientSettings(c);
        this.dnsRecords = pulumi.all([host.address, host.ipv6 ?? pulumi.output(undefined)])
            .apply(([ip, ip6]) => dnsRecords(c, ip, ip6));
        this.virtualUserPasswords = users.virtualUserPasswords;
        this.systemUserPasswords = users.systemUserPasswords;
        this.registerOutputs({
            serverIp: this.serverIp,
            clientSettings: this.clientSettings,
            dnsRecords: this.dnsRecords,
            virtualUserPasswords: this.virtualUserPasswords,
            systemUserPasswords: this.systemUserPasswords,
        });
    }

    private host(name: string, args: MailServerArgs): Host {
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
                return new TestbedServer(`${name}-server`, { config: c.host }, { parent: this });
        }
    }
}
