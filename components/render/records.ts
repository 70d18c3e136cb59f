// What the admin publishes in DNS and types into a mail client: derived from the config, never stored.

import { MailConfig } from "../config";
import { clientListeners, enabled, port } from "../listeners";
import { dmarcRua, tlsRptAddress } from "./reports";
import { mtaStsId, webPrefixes } from "./web";

export interface DnsRecord {
    name: string;
    type: "A" | "AAAA" | "MX" | "TXT" | "PTR" | "SRV" | "CAA" | "TLSA";
    value: string;
    /** A TXT value longer than one DNS character-string (255): the strings to publish, in order (a receiver
     * joins them without spaces). */
    strings?: string[];
    comment?: string;
}

/** A published DKIM public key. */
export interface DkimPublicKey {
    domain: string;
    selector: string;
    /** base64 of the DER SubjectPublicKeyInfo. */
    publicKey: string;
}

/** TXT character-strings are at most 255 bytes (RFC 1035 3.3): split by UTF-8 bytes, never inside a character. */
export function txtStrings(value: string, size = 255): string[] {
    const out: string[] = [];
    let current = "";
    for (const ch of value) {
        if (Buffer.byteLength(current + ch) > size) {
            out.push(current);
            current = "";
        }
        current += ch;
    }
    return [...out, current];
}

export function dkimRecord(k: DkimPublicKey): DnsRecord {
    const value = `v=DKIM1; k=rsa; p=${k.publicKey}`;
    return { name: `${k.selector}._domainkey.${k.domain}`, type: "TXT", value, strings: txtStrings(value) };
}

/** DANE (RFC 7672) only where the zones are signed: an unsigned TLSA record is ignored by every sender, and one left
 * behind when signing starts would then be checked. Hetzner's DNS signs nothing. */
export function dane(c: Pick<MailConfig, "dns">): boolean {
    return c.dns.provider !== "hetzner" && c.dns.dnssec;
}

/** TLSA 3 1 1 (DANE-EE, the public key, SHA-256) for SMTP (port 25) on the hostname: senders that check DANE verify
 * the key the hostname's certificate holds, whatever CA signed it. certbot keeps that key across renewals; a rollover
 * (certificate.nextKey) publishes the next key's beside it first. */
export function tlsaRecord(hostname: string, spkiSha256: string): DnsRecord {
    return { name: `_${port("smtp")}._tcp.${hostname}`, type: "TLSA", value: `3 1 1 ${spkiSha256.toLowerCase()}`,
        comment: "DANE: the SHA-256 of the hostname certificate's public key (kept across renewals); only in a signed zone" };
}

/** ip6: the address mail leaves from over IPv6, if the host has one (postfix sends over IPv4 only otherwise).
 * dkim: every published key (the signing selector's and, during a rotation, the next one's). tlsaKeys: the hostname
 * certificate's key and, during a rollover, the next one (SPKI SHA-256 each), once the certificate exists: one TLSA
 * set, with `dns.dnssec`. */
export function dnsRecords(c: Pick<MailConfig, "hostname" | "baseDomain" | "virtualDomains" | "certificate" | "imaps" |
    "smtps" | "webmail" | "adminEmail" | "mtaSts" | "relayHost" | "dns">, ip: string, ip6?: string, dkim: DkimPublicKey[] = [],
    tlsaKeys: string[] = []): DnsRecord[] {
    const records: DnsRecord[] = [
        { name: c.hostname, type: "A", value: ip },
        { name: ip, type: "PTR", value: c.hostname },
    ];
    if (ip6 !== undefined) {
        records.push({ name: c.hostname, type: "AAAA", value: ip6 }, { name: ip6, type: "PTR", value: c.hostname });
    }
    // `mx` covers the MX host's A and AAAA; the addresses are spelled out too, so a receiver that checks SPF
    // before (or without) resolving the MX still finds them.
    // With a relay, mail leaves from the relay's servers: its own mechanisms (relayHost.spfInclude) too.
    const relaySpf = c.relayHost?.spfInclude === undefined ? "" : ` ${c.relayHost.spfInclude}`;
    const spf = `v=spf1 mx ip4:${ip}${ip6 === undefined ? "" : ` ip6:${ip6}`}${relaySpf} -all`;
    // The hostname's own SPF: bounces (null sender) are checked against the HELO name, which is the hostname.
    if (![c.baseDomain, ...c.virtualDomains].includes(c.hostname)) {
        records.push({ name: c.hostname, type: "TXT", value: "v=spf1 a -all",
            comment: "for bounces and HELO: their SPF identity is the hostname" });
    }
    const report = tlsRptAddress(c);
    const domains = [c.baseDomain, ...c.virtualDomains];
    for (const domain of domains) {
        const mailName = `mail.${domain}`;
        if (c.certificate.names.includes(mailName) && mailName !== c.hostname) {
            records.push({ name: mailName, type: "A", value: ip });
        }
        records.push(
            { name: domain, type: "MX", value: `10 ${c.hostname}.` },
            { name: domain, type: "TXT", value: spf },
            {
                name: `_dmarc.${domain}`, type: "TXT", value: `v=DMARC1; p=quarantine; rua=mailto:${dmarcRua(domain)}`,
                comment: "p=quarantine, not none: every message our users submit is DKIM-signed (SELECTOR._domainkey)",
            },
            ...dkim.filter((k) => k.domain === domain).map(dkimRecord),
        );
        // nginx listens on both families; the AAAA only where the host has an IPv6 address (Hetzner)
        for (const p of webPrefixes(c.webmail)) {
            records.push({ name: `${p}.${domain}`, type: "A", value: ip });
            if (ip6 !== undefined) {
                records.push({ name: `${p}.${domain}`, type: "AAAA", value: ip6 });
            }
        }
        // RFC 6186: priority weight port target; a target of "." says the service is not offered (section 4)
        const srv = (service: string, port: number | undefined): DnsRecord => ({
            name: `_${service}._tcp.${domain}`, type: "SRV", value: port === undefined ? "0 0 0 ." : `0 1 ${port} ${c.hostname}.`,
        });
        records.push(...clientListeners().map((l) => srv(l.service, enabled(c, l.service) ? l.port : undefined)));
        records.push(
            { name: `_mta-sts.${domain}`, type: "TXT", value: `v=STSv1; id=${mtaStsId(c)}` },
            { name: `_smtp._tls.${domain}`, type: "TXT", value: `v=TLSRPTv1; rua=mailto:${report}` },
        );
    }
    // CAA on exactly the names our certificate covers, never on a domain's apex: the apex's CAA would bind every
    // name below it (the company's website too) to our CA.
    if (c.certificate.caa !== undefined) {
        for (const name of c.certificate.names) {
            records.push({ name, type: "CAA", value: `0 issue "${c.certificate.caa}"` });
        }
    }
    if (dane(c)) {
        records.push(...tlsaKeys.map((k) => tlsaRecord(c.hostname, k)));
    }
    return records;
}

export interface ClientSettings {
    imap: { host: string; port: number; security: "STARTTLS" };
    smtp: { host: string; port: number; security: "STARTTLS"; authentication: "normal password" };
    imaps?: { host: string; port: number; security: "SSL/TLS" };
    smtps?: { host: string; port: number; security: "SSL/TLS" };
    login: { systemUsers: string; virtualUsers: string };
}

export function clientSettings(c: Pick<MailConfig, "hostname" | "baseDomain" | "imaps" | "smtps">): ClientSettings {
    const host = c.hostname;
    const implicit = (service: string): { host: string; port: number; security: "SSL/TLS" } | undefined =>
        enabled(c, service) ? { host, port: port(service), security: "SSL/TLS" } : undefined;
    const imaps = implicit("imaps");
    const smtps = implicit("submissions");
    return {
        imap: { host, port: port("imap"), security: "STARTTLS" },
        smtp: { host, port: port("submission"), security: "STARTTLS", authentication: "normal password" },
        ...(imaps === undefined ? {} : { imaps }),
        ...(smtps === undefined ? {} : { smtps }),
        login: {
            systemUsers: `the bare account name (alice) or alice@${c.baseDomain}, with the system password`,
            virtualUsers: "the full address (bob@example.net), with the password from virtualUserPasswords",
        },
    };
}
