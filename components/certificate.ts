// certbot's certificates, one lineage each (config.ts: lineages): the hostname's, served on the mail ports, and one
// per domain for its web names and `mail.DOMAIN` (SNI). One step per lineage, so a domain whose DNS breaks fails its
// own step only, and certbot's timer renews each lineage on its own. The deploy hook is stored by certbot as renew
// hook too, so renewals rebuild postfix's SNI table and reload postfix, dovecot and nginx without mailstack.
// HTTP-01 through nginx's webroot (nginx holds port 80, so certbot's standalone server could not bind it).

import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { CertificateConfig, HOST_LINEAGE, Lineage } from "./config";
import { CTL, Connection, quote, sha256, step } from "./remote";
import { ACME_ROOT } from "./render/web";

/** What certbot runs after every issuance and renewal of any lineage (files/mailstack-ctl: deployed). */
export const DEPLOY_HOOK = `${CTL} deployed`;

/** The certbot command line of one lineage. Names are part of it, so a changed name set re-runs it and re-issues. */
export function certbotCommand(c: CertificateConfig, l: Lineage): string {
    // Renewals run from certbot's timer, without this environment: the CA goes into the system store too.
    const env = c.caBundle ? `${CTL} trust-ca ${quote(c.caBundle)} && REQUESTS_CA_BUNDLE=${quote(c.caBundle)} ` : "";
    return env + [
        // through mailstack-ctl: a CA that forgot the stored account gets a new one (files/mailstack-ctl certbot)
        `${CTL} certbot certonly --webroot --non-interactive --agree-tos`,
        `-w ${ACME_ROOT}`,
        `-m ${quote(c.email)}`,
        `--server ${quote(c.directory)}`,
        `--cert-name ${quote(l.name)}`,
        // the hostname's key stays across renewals: a TLSA record (DANE) pins it
        ...(l.name === HOST_LINEAGE ? ["--reuse-key"] : []),
        ...l.names.map((n) => `-d ${quote(n)}`),
        `--deploy-hook ${quote(DEPLOY_HOOK)}`,
    ].join(" ");
}

export interface CertificateArgs {
    connection: pulumi.Input<Connection>;
    config: CertificateConfig;
}

/** The hostname key's rollover on the server (files/mailstack-ctl host-key): makes `nextKey` once, renews once with
 * `key`; prints the SHA-256 (hex) of the certificate's SubjectPublicKeyInfo, then the next key's: TLSA 3 1 1 data. */
export function hostKeyCommand(c: Pick<CertificateConfig, "key" | "nextKey">): string {
    return [`${CTL} host-key ${HOST_LINEAGE}`, ...(c.key === undefined ? [] : [`key=${quote(c.key)}`]),
        ...(c.nextKey === undefined ? [] : [`next=${quote(c.nextKey)}`])].join(" ");
}

export class Certificate extends pulumi.ComponentResource {
    /** One certbot step per lineage, in the order of config.lineages. */
    readonly steps: command.remote.Command[];
    /** The keys of the hostname's TLSA records (SHA-256 of the SubjectPublicKeyInfo, hex): the certificate's, then,
     * during a rollover, the next key's; read from the server once the certificate is issued (DANE). */
    readonly tlsaKeys: pulumi.Output<string[]>;

    constructor(name: string, args: CertificateArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mailstack:index:Certificate", name, {}, opts);
        // The hostname's step keeps the resource name of the single certificate before it: existing stacks update it.
        // No delete command: a step is deleted on replacement too (a new server id), with /etc/letsencrypt kept on the
        // volume; a removed domain's lineage goes by the prune step (mailServer.ts), once nothing serves it.
        this.steps = args.config.lineages.map((l) => step(l.domain === undefined ? name : `${name}-${l.domain}`,
            { connection: args.connection, create: certbotCommand(args.config, l) }, { parent: this }));
        const host = args.config.lineages.findIndex((l) => l.name === HOST_LINEAGE);
        const hostCertbot = certbotCommand(args.config, args.config.lineages[host]);
        // Read again whenever its certbot ran again (with --reuse-key the key, and so the hash, stays), and run again
        // when key or nextKey change (an update: the command is its only input). The name is the one of the step
        // that only read the hash before: existing stacks update it rather than replace it.
        const hostKey = step(`${name}-spki`, {
            connection: args.connection, create: hostKeyCommand(args.config), triggers: [sha256(hostCertbot)],
        }, { parent: this, dependsOn: [this.steps[host]] });
        const lines = args.config.nextKey === undefined ? 1 : 2;
        this.tlsaKeys = hostKey.stdout.apply((out) => {
            const hashes = out.trim().split("\n").map((l) => l.trim());
            if (hashes.length !== lines || !hashes.every((h) => /^[0-9a-f]{64}$/.test(h))) {
                throw new Error(`mailstack-ctl host-key printed no ${lines} key hashes: ${JSON.stringify(out.trim())}`);
            }
            // the next key may be the certificate's already (nextKey set again after its switch): one record
            return [...new Set(hashes)];
        });
        this.registerOutputs({ lineages: args.config.lineages.map((l) => l.name), tlsaKeys: this.tlsaKeys });
    }
}

/** Removes the per-domain lineages (and only those: `mailstack-*`) that are not in the config any more. */
export function pruneCommand(c: CertificateConfig): string {
    return `${CTL} certs-prune ${c.lineages.map((l) => quote(l.name)).join(" ")}`;
}
