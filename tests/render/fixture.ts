// One realistic mail server, through the same parseConfig the stack runs: base example.org (system users, PAM),
// virtual example.net and example.com (passwd-file users), aliases across both kinds.

import { effectiveAliases, MailConfig, parseConfig } from "../../components/config";
import { DovecotInput } from "../../components/render/dovecot";
import { SenderInput } from "../../components/render/maps";
import { PAM_SERVICE } from "../../components/render/access";
import { CIPHERS, PostfixInput, SniCert } from "../../components/render/postfix";
import { reportAddresses } from "../../components/render/reports";

export function config(options: { smtps?: boolean; imaps?: boolean } = {}): MailConfig {
    return parseConfig({
        hostname: "mail.example.org",
        baseDomain: "example.org",
        virtualDomains: ["example.net", "example.com"],
        virtualUsers: ["bob@example.net", "carol@example.net", "dave@example.com"],
        systemUsers: ["alice"],
        aliases: {
            "info@example.net": "bob@example.net",
            "postmaster@example.com": ["dave@example.com", "alice"],
            "team@example.org": ["alice", "carol@example.net"],
        },
        host: { kind: "existing", address: "192.0.2.10" },
        certificate: { email: "admin@example.org", acme: "staging" },
        adminEmail: "alice@example.org",
        ...(options.smtps === undefined ? {} : { smtps: options.smtps }),
        ...(options.imaps === undefined ? {} : { imaps: options.imaps }),
    });
}

/** As components/mailServer.ts builds it. */
export function postfixInput(c: MailConfig, tls: { certFile: string; keyFile: string; sni?: SniCert[] }): PostfixInput {
    return { hostname: c.hostname, baseDomain: c.baseDomain, virtualDomains: c.virtualDomains, smtps: c.smtps, sni: [],
        reportAddresses: reportAddresses(c), ...tls };
}

/** As components/mailServer.ts builds it, for the version read from the server. */
export function dovecotInput(c: MailConfig, version: DovecotInput["version"], files: {
    certFile: string; keyFile: string; passwdFile: string; quotaFile?: string; sni?: SniCert[];
}): DovecotInput {
    return {
        version, baseDomain: c.baseDomain, postmaster: `postmaster@${c.baseDomain}`, imaps: c.imaps, sni: [],
        pamService: PAM_SERVICE, ciphers: CIPHERS, quota: c.quota.default, quotaFile: "/etc/dovecot/quota", ...files,
    };
}

export function senderInput(c: MailConfig): SenderInput {
    return { baseDomain: c.baseDomain, virtualUsers: c.virtualUsers, systemUsers: c.systemUsers, aliases: effectiveAliases(c) };
}

/** The request body Outlook POSTs to autodiscover (the POX protocol) for `address`. */
export const POX = (address: string): string => `<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">
  <Request>
    <EMailAddress>${address}</EMailAddress>
    <AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema>
  </Request>
</Autodiscover>`;
