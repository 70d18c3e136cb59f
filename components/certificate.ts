// One certbot certificate for the hostname and every domain's mail and web names. The deploy hook is stored by
// certbot as renew hook too, so renewals reload postfix, dovecot and nginx without mailstack. HTTP-01 through
// nginx's webroot (nginx holds port 80, so certbot's standalone server could not bind it).

import * as pulumi from "@pulumi/pulumi";
import { CertificateConfig } from "./config";
import { CTL, Connection, quote, sha256, step } from "./remote";
import { ACME_ROOT } from "./render/web";

export const CERT_NAME = "mailstack";
export const CERT_FILE = `/etc/letsencrypt/live/${CERT_NAME}/fullchain.pem`;
export const KEY_FILE = `/etc/letsencrypt/live/${CERT_NAME}/privkey.pem`;

/** The certbot command line. Names are part of it, so a changed name set re-runs it and re-issues. */
export function certbotCommand(c: CertificateConfig): string {
    // Renewals run from certbot's timer, without this environment: the CA goes into the system store too.
    const env = c.caBundle ? `${CTL} trust-ca ${quote(c.caBundle)} && REQUESTS_CA_BUNDLE=${quote(c.caBundle)} ` : "";
    return env + [
        // through mailstack-ctl: a CA that forgot the stored account gets a new one (files/mailstack-ctl certbot)
        `${CTL} certbot certonly --webroot --non-interactive --agree-tos`,
        `-w ${ACME_ROOT}`,
        `-m ${quote(c.email)}`,
        `--server ${quote(c.directory)}`,
        `--cert-name ${CERT_NAME}`,
        // the same key across renewals and name changes: the TLSA record (DANE) pins it
        "--reuse-key",
        ...c.names.map((n) => `-d ${quote(n)}`),
        `--deploy-hook ${quote(`${CTL} reload postfix dovecot nginx`)}`,
    ].join(" ");
}

export interface CertificateArgs {
    connection: pulumi.Input<Connection>;
    config: CertificateConfig;
}

/** Prints the SHA-256 of the key's SubjectPublicKeyInfo (DER), in hex: what a TLSA 3 1 1 record holds. */
export const SPKI_SHA256 = `${CTL} spki ${KEY_FILE}`;

export class Certificate extends pulumi.ComponentResource {
    readonly certFile = CERT_FILE;
    readonly keyFile = KEY_FILE;
    /** The certificate key's SPKI SHA-256 (hex), read from the server once it is issued (TLSA, DANE). */
    readonly spkiSha256: pulumi.Output<string>;

    constructor(name: string, args: CertificateArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mailstack:index:Certificate", name, {}, opts);
        const certbot = certbotCommand(args.config);
        const issued = step(name, { connection: args.connection, create: certbot }, { parent: this });
        // Read again whenever certbot ran again (new names); with --reuse-key the key, and so the hash, stays.
        const spki = step(`${name}-spki`, { connection: args.connection, create: SPKI_SHA256, triggers: [sha256(certbot)] },
            { parent: this, dependsOn: [issued] });
        this.spkiSha256 = spki.stdout.apply((out) => {
            const hash = out.trim();
            if (!/^[0-9a-f]{64}$/.test(hash)) {
                throw new Error(`the certificate key's SHA-256 is not a hash: ${JSON.stringify(hash)}`);
            }
            return hash;
        });
        this.registerOutputs({ names: args.config.names, spkiSha256: this.spkiSha256 });
    }
}
