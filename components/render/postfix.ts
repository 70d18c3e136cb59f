// postfix main.cf and master.cf, rendered from typed input. No Pulumi here: tests feed the text to the real postconf.

import { RelayHostConfig } from "../config";
import { enabled, listener } from "../listeners";
import { LDA, QUOTA_STATUS, VHOSTS } from "./dovecot";
import { mtaStsPolicyMap } from "./mtasts";
import { reportsMainCf, reportsService } from "./reports";
import { MILTER } from "./rspamd";
import { SRS_USER, srsMainCf, srsService } from "./srs";

/** A certificate served by SNI: the name clients ask for, and certbot's files. */
export interface SniCert {
    name: string;
    certFile: string;
    keyFile: string;
}

export interface PostfixInput {
    hostname: string;
    baseDomain: string;
    virtualDomains: string[];
    /** The hostname's certificate: served without SNI and for every name not in `sni`. */
    certFile: string;
    keyFile: string;
    /** Each domain's `mail.DOMAIN` certificate (config.ts: lineages). */
    sni: SniCert[];
    /** Also listen on submissions (implicit TLS, listeners.ts). */
    smtps: boolean;
    /** The IPv6 address outbound mail leaves from (its PTR is the hostname). Without one, IPv4 only: mail sent
     * over IPv6 from an address without PTR, AAAA and SPF is refused by the big receivers. */
    ipv6?: string;
    /** Every outbound message goes through this smarthost, authenticated, TLS verified. */
    relay?: RelayHostConfig;
    /** The report addresses whose mail the report reader gets a copy of (components/render/reports.ts). */
    reportAddresses: string[];
}

/** The system's CA store (Debian's ca-certificates): smtp(8) runs chrooted and reads the file before it chroots. */
export const SYSTEM_CA_FILE = "/etc/ssl/certs/ca-certificates.crt";

/** The relayhost value, which is also the key of its entry in the SASL password table: [host]:port, no MX lookup. */
export function relayNexthop(r: RelayHostConfig): string {
    return `[${r.host}]:${r.port}`;
}

/** Postfix's SASL password table: one entry, "username:password" (the password may hold colons, not line breaks). */
export function saslPasswd(r: RelayHostConfig, password: string): string {
    if (/[\r\n]/.test(password)) {
        throw new Error("the relay password contains a line break");
    }
    return `${relayNexthop(r)} ${r.username}:${password}\n`;
}

/** Direct delivery (DANE where the destination publishes it), or all of it through the smarthost: TLS with a
 * verified certificate, then AUTH. */
function outbound(p: PostfixInput): [string, string][] {
    if (p.relay === undefined) {
        return [
            // MX, A and TLSA lookups ask for DNSSEC; only answers the server's own validating resolver (unbound,
            // components/render/resolver.ts) marks authentic count as signed. postfix sets RES_TRUSTAD itself.
            ["smtp_dns_support_level", "dnssec"],
            // A destination whose MX has signed TLSA records gets TLS verified against them, or the mail waits
            // ("Server certificate not verified"); every other destination stays opportunistic (RFC 7672, 7435).
            ["smtp_tls_security_level", "dane"],
            // MTA-STS (components/render/mtasts.ts): a destination with an enforce policy gets "secure" to the MX
            // names it lists, verified against the system's CAs; the daemon answers NOTFOUND for every other one.
            // When it does not answer at all, postfix defers: no mail leaves around a policy it could not read.
            ["smtp_tls_policy_maps", mtaStsPolicyMap()],
            ["smtp_tls_CAfile", SYSTEM_CA_FILE],
        ];
    }
    return [
        ["relayhost", relayNexthop(p.relay)],
        // One name, no MX: found as every other program on the server finds it (hosts file, then DNS), so a private
        // relay named in /etc/hosts works too. "dns, native" would not do: a DNS error other than NXDOMAIN defers.
        ["smtp_host_lookup", "native"],
        ["smtp_sasl_auth_enable", "yes"],
        ["smtp_sasl_password_maps", `hash:${MAPS.saslPasswd}`],
        // Never send the password over a connection that is not verified TLS (secure below), nor anonymously.
        ["smtp_sasl_security_options", "noanonymous"],
        ["smtp_sasl_tls_security_options", "noanonymous"],
        // The relay's certificate must chain to the system's CAs and name the relay host. Not dane: for a relay
        // without TLSA records that would fall back to unverified TLS and hand it the password.
        ["smtp_tls_security_level", "secure"],
        ["smtp_tls_CAfile", SYSTEM_CA_FILE],
        ...(p.relay.tls === "implicit" ? [["smtp_tls_wrappermode", "yes"] as [string, string]] : []),
    ];
}

/** Per submission client (SASL login's address), per anvil_rate_time_unit (60 s). */
export const SUBMISSION_LIMITS = { messages: 60, recipients: 200 } as const;

/** Mozilla's "intermediate" TLS 1.2 suites (TLS 1.3 suites are all forward-secret), without the DHE ones: the
 * certificate is ECDSA and dovecot 2.3 has no DH parameters here. No RSA key exchange, no CBC. */
export const CIPHERS = [
    "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
].join(":");

export const MAPS = {
    vmailbox: "/etc/postfix/vmailbox",
    virtual: "/etc/postfix/virtual",
    senderLogins: "/etc/postfix/sender_logins",
    baseSenderLogins: "/etc/postfix/sender_logins_base",
    /** local_login_sender_maps' fallback: every account may use its own name and NAME@base (a regexp table). */
    localSenders: "/etc/postfix/local_senders",
    /** System users removed from the config (mailstack-ctl lock-user): 550 at RCPT. Kept by the server, not rendered. */
    locked: "/etc/postfix/locked_recipients",
    /** Written from the server's accounts (components/render/access.ts). */
    nonMail: "/etc/postfix/nonmail_recipients",
    /** The smarthost's credentials (0600, root). */
    saslPasswd: "/etc/postfix/sasl_passwd",
    /** tls_server_sni_maps: the source names files; its .db holds their content (mailstack-ctl sni-map). */
    sni: "/etc/postfix/tls_server_sni",
} as const;

/** The source of postfix's SNI table: per name the key, then the chain (postmap -F loads them; smtpd_tls_chain_files order). */
export function sniTable(sni: SniCert[]): string {
    return sni.map((s) => `${s.name} ${s.keyFile} ${s.certFile}\n`).join("");
}

/** An access table that refuses every domain of ours (and the hostname) as envelope sender. */
function ownDomains(p: PostfixInput): string {
    const domains = [p.baseDomain, p.hostname, ...p.virtualDomains];
    return `inline:{ ${domains.map((d) => `{ ${d} = REJECT 5.7.1 Use our submission port to send as ${d} }`).join(", ")} }`;
}

const lines = (entries: [string, string][]): string => entries.map(([k, v]) => `${k} = ${v}`).join("\n") + "\n";

export function mainCf(p: PostfixInput): string {
    return "# Generated by mailstack; a hand edit is found and written over by the next `pulumi up`.\n" + lines([
        ["compatibility_level", "3.6"],
        ["myhostname", p.hostname],
        ["mydomain", p.baseDomain],
        ["myorigin", "$mydomain"],
        // The base domain is local (system users, PAM). Virtual domains must never appear here.
        ["mydestination", "$myhostname, $mydomain, localhost.$mydomain, localhost"],
        ["mynetworks", "127.0.0.0/8 [::1]/128"],
        // Postfix's default but for smtpd_access_maps: a domain in an access table (the port 25 sender table of our
        // own domains) matches that domain only, so a sender at client.example.net is not taken for example.net.
        ["parent_domain_matches_subdomains",
            "debug_peer_list, fast_flush_domains, mynetworks, permit_mx_backup_networks, qmqpd_authorized_clients, relay_domains"],
        ["inet_interfaces", "all"],
        ["inet_protocols", p.ipv6 === undefined ? "ipv4" : "all"],
        ...(p.ipv6 === undefined ? [] : [["smtp_bind_address6", p.ipv6] as [string, string]]),
        // Through postlogd, so that a server without syslog (the local test server, minimal images) has a log.
        ["maillog_file", "/var/log/mail.log"],
        ["biff", "no"],
        ["append_dot_mydomain", "no"],
        ["readme_directory", "no"],
        ["recipient_delimiter", "+"],
        ["mailbox_size_limit", "0"],
        ["message_size_limit", "52428800"],
        ["alias_maps", "hash:/etc/aliases"],
        ["alias_database", "hash:/etc/aliases"],
        // System users keep the blog's layout (~/Maildir) and local(8), which honours /etc/aliases and ~/.forward
        // first, then hands the message to dovecot's LDA as the user: sieve and quota as for virtual users. Not
        // dovecot's LMTP: neither dovecot 2.3 nor 2.4.1 offers SMTPUTF8 there, and postfix bounces a message that
        // needs it (UTF-8 sender or header from an SMTPUTF8 client) after port 25 accepted it. The LDA takes such
        // mail as it is. -e: a refusal is postfix's bounce, not the LDA's own; over quota is not a refusal
        // (quota_full_tempfail: the LDA exits 75, and the message waits in the queue).
        ["home_mailbox", "Maildir/"],
        ["mailbox_command", `${LDA} -e -f "$SENDER" -a "$RECIPIENT" -d "$USER"`],
        ["virtual_mailbox_domains", p.virtualDomains.join(", ")],
        ["virtual_mailbox_base", VHOSTS],
        ["virtual_mailbox_maps", `hash:${MAPS.vmailbox}`],
        ["virtual_alias_maps", `hash:${MAPS.virtual}`],
        ["virtual_minimum_uid", "100"],
        ["virtual_uid_maps", "static:5000"],
        ["virtual_gid_maps", "static:5000"],
        // Virtual mail goes to the same LDA, as vmail (the pipe service "dovecot" in master.cf), one recipient at a
        // time so that each gets its own sieve and quota.
        ["virtual_transport", "dovecot"],
        ["dovecot_destination_recipient_limit", "1"],
        // message_size_limit is the limit; virtual(8) refuses to start when its own is smaller (the default is).
        ["virtual_mailbox_limit", "0"],
        ["smtpd_banner", "$myhostname ESMTP"],
        ["smtpd_helo_required", "yes"],
        ["disable_vrfy_command", "yes"],
        ["smtpd_tls_cert_file", p.certFile],
        ["smtpd_tls_key_file", p.keyFile],
        // mail.DOMAIN by SNI gets its domain's certificate (postfix >= 3.4); its table always exists, maybe empty
        ["tls_server_sni_maps", `hash:${MAPS.sni}`],
        ["smtpd_tls_security_level", "may"],
        ["smtpd_tls_loglevel", "1"],
        ["smtpd_tls_session_cache_database", "btree:${data_directory}/smtpd_scache"],
        ["smtpd_tls_protocols", ">=TLSv1.2"],
        ["smtpd_tls_mandatory_protocols", ">=TLSv1.2"],
        ...outbound(p),
        // One line per outbound TLS session ("Verified", "Trusted", "Untrusted" or "Anonymous TLS connection
        // established to ..."): the log shows how each message left.
        ["smtp_tls_loglevel", "1"],
        ["smtp_tls_session_cache_database", "btree:${data_directory}/smtp_scache"],
        ["smtp_tls_protocols", ">=TLSv1.2"],
        ["tls_preempt_cipherlist", "yes"],
        ["smtpd_sasl_type", "dovecot"],
        ["smtpd_sasl_path", "private/auth"],
        // SASL is only offered on submission (587/465), never on port 25.
        ["smtpd_sasl_auth_enable", "no"],
        ["smtpd_sender_login_maps", `hash:${MAPS.senderLogins}, regexp:${MAPS.baseSenderLogins}`],
        // Port 25 (submission overrides these). The client, not the login, is checked at RCPT (smtpd_delay_reject),
        // so an authenticated client is never refused for a MUA's bare or literal HELO.
        // No permit_mynetworks on port 25: a connection from 127.0.0.1 (any account on the server) is trusted for
        // nothing there, neither relaying nor our domains as sender. The server's own mail goes through sendmail,
        // checked by local_login_sender_maps.
        ["smtpd_helo_restrictions", "permit_sasl_authenticated, reject_invalid_helo_hostname, reject_non_fqdn_helo_hostname"],
        // Nobody outside may use our domains as envelope sender: our users send through 587/465. Unknown
        // addresses of our domains get the more precise "unknown" answer first.
        ["smtpd_sender_restrictions", "reject_non_fqdn_sender, reject_unlisted_sender, " +
            `check_sender_access ${ownDomains(p)}`],
        ["smtpd_relay_restrictions", "permit_sasl_authenticated, reject_unauth_destination"],
        ["smtpd_recipient_restrictions", `check_recipient_access hash:${MAPS.locked}, check_recipient_access hash:${MAPS.nonMail}, ` +
            "permit_sasl_authenticated, reject_non_fqdn_recipient, reject_unauth_destination, " +
            `check_policy_service unix:${QUOTA_STATUS}`],
        // SMTP smuggling: a bare LF in the DATA of any client is taken as CRLF, never as the end of a line a second
        // server would read differently (Debian 12's 3.7.11 has the setting, off by default; 3.9+ defaults to it).
        ["smtpd_forbid_bare_newline", "normalize"],
        // sendmail/postdrop: an account submits only as itself (NAME, NAME@base, or the null sender of an
        // auto-reply); root, postfix, vmail (dovecot's LDA for virtual users: sieve redirects keep the
        // original sender) and postsrsd as anyone. Postfix's default lets every account use every address. rspamd
        // binds From: to the envelope (SENDMAIL below).
        ["local_login_sender_maps", `inline:{ ${LOCAL_ANY_SENDER.map((u) => `${u}=*`).join(", ")} }, regexp:${MAPS.localSenders}`],
        // A recipient whose mailbox would not hold the message is refused at RCPT (452, temporary) by dovecot's
        // quota-status; when that service does not answer, mail is taken and the LDA defers it on delivery.
        ["smtpd_policy_service_default_action", "DUNNO"],
        // Referred to by the submission services in master.cf.
        ["mailstack_submission_sender", "check_sender_access inline:{<>=REJECT}, reject_sender_login_mismatch"],
        ["mailstack_submission_recipient",
            `check_recipient_access hash:${MAPS.locked}, check_recipient_access hash:${MAPS.nonMail}, ` +
            `check_policy_service unix:${QUOTA_STATUS}, permit_sasl_authenticated, reject`],
        ["mailstack_tls_ciphers", CIPHERS],
        // rspamd: checks and scores mail from port 25, DKIM-signs what our users submit and what the server sends.
        ["smtpd_milters", MILTER],
        ["non_smtpd_milters", MILTER],
        // Submitted and local mail still leaves if rspamd is down (unsigned, but SPF-aligned): a user's message
        // is never refused for our own outage. Port 25 overrides this with tempfail (master.cf).
        ["milter_default_action", "accept"],
        // Bounces and delay notices pass through non_smtpd_milters too, so that they leave DKIM-signed.
        ["internal_mail_filter_classes", "bounce"],
        // The first Received: line of submitted mail names the user's own address: dropped (see subcleanup). An
        // SMTPUTF8 session's protocol is UTF8SMTPA/UTF8SMTPSA instead of ESMTPA/ESMTPSA.
        ["mailstack_submission_headers", "regexp:{ {/^Received: .* with (ESMTP|UTF8SMTP)S?A / IGNORE} }"],
        // Forwarding outside with SRS (components/render/srs.ts).
        ...srsMainCf(p),
        // DMARC and TLS reports to our report addresses: a copy to the reader (components/render/reports.ts).
        ...reportsMainCf(p),
    ]);
}

/** Accounts that may use any envelope sender with sendmail (local_login_sender_maps). */
// SRS_USER: the srs pipe re-injects forwarded mail with its SRS sender (components/render/srs.ts).
export const LOCAL_ANY_SENDER = ["root", "postfix", "vmail", SRS_USER] as const;

/** The {daemon_name} milter macro (rspamd's MTA-Name, MTA-Tag in later versions) of mail that is ours to sign: submission, and
 * postfix's own bounces (non_smtpd_milters; sendmail's mail says SENDMAIL). Port 25 keeps the default
 * ($myhostname), so that rspamd tells the two apart, whatever the client's address. */
export const ORIGINATING = "ORIGINATING";
/** The {daemon_name} of what sendmail hands in (pickup has its cleanup of its own): rspamd binds its From: to its
 * envelope sender, which local_login_sender_maps bound to the account (components/render/rspamd.ts). The milter
 * sees no uid (postfix shows it neither pickup's Received: field nor a macro): the envelope is all it has. */
export const SENDMAIL = "SENDMAIL";

const MASTER_HEADER = `# Generated by mailstack; a hand edit is found and written over by the next \`pulumi up\`.
# service type  private unpriv  chroot  wakeup  maxproc command + args
`;

/** Debian 12's default services, so that postfix behaves as packaged; but port 25 answers 451 while rspamd is
 * down (a sending server retries; nothing is lost), so that no unchecked (spam, forged From:) mail gets in; and
 * cleanup tags the mail it hands to non_smtpd_milters (bounces) as ORIGINATING, pickup's (sendmail) as SENDMAIL. */
const DEBIAN_SERVICES = `smtp      inet  n       -       y       -       -       smtpd
  -o milter_default_action=tempfail
pickup    unix  n       -       y       60      1       pickup
  -o cleanup_service_name=pickcleanup
cleanup   unix  n       -       y       -       0       cleanup
  -o milter_macro_daemon_name=${ORIGINATING}
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       y       1000?   1       tlsmgr
rewrite   unix  -       -       y       -       -       trivial-rewrite
bounce    unix  -       -       y       -       0       bounce
defer     unix  -       -       y       -       0       bounce
trace     unix  -       -       y       -       0       bounce
verify    unix  -       -       y       -       1       verify
flush     unix  n       -       y       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       y       -       -       smtp
relay     unix  -       -       y       -       -       smtp
  -o syslog_name=postfix/$service_name
showq     unix  n       -       y       -       -       showq
error     unix  -       -       y       -       -       error
retry     unix  -       -       y       -       -       error
discard   unix  -       -       y       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       y       -       -       lmtp
anvil     unix  -       -       y       -       1       anvil
scache    unix  -       -       y       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
`;

/** The cleanup(8) of what sendmail hands in (pickup), so that rspamd tells it from postfix's own bounces. */
const PICKUP_CLEANUP = `pickcleanup unix n       -       y       -       0       cleanup
  -o milter_macro_daemon_name=${SENDMAIL}
`;

/** Virtual users' delivery: dovecot's LDA as vmail (see virtual_transport). */
const LDA_SERVICE = `dovecot   unix  -       n       n       -       -       pipe
  flags=DRhu user=vmail:vmail argv=${LDA} -e -f \${sender} -a \${original_recipient} -d \${user}@\${nexthop}
`;

/** The cleanup(8) of submitted mail (as Mail-in-a-Box's authclean): removes the user's IP from Received:. */
const SUBMISSION_CLEANUP = `subcleanup unix n       -       y       -       0       cleanup
  -o header_checks=$mailstack_submission_headers
`;

/** Authenticated submission: TLS first, then SASL via dovecot, and only as an address the login owns. */
const SUBMISSION_OPTIONS = [
    "syslog_name=postfix/$service_name",
    "smtpd_sasl_auth_enable=yes",
    "smtpd_tls_auth_only=yes",
    "smtpd_client_restrictions=permit_sasl_authenticated,reject",
    // No null sender (bounces come from the server itself, never from a user).
    "smtpd_sender_restrictions=$mailstack_submission_sender",
    "smtpd_relay_restrictions=permit_sasl_authenticated,reject",
    "smtpd_recipient_restrictions=$mailstack_submission_recipient",
    "smtpd_client_message_rate_limit=" + SUBMISSION_LIMITS.messages,
    "smtpd_client_recipient_rate_limit=" + SUBMISSION_LIMITS.recipients,
    // Port 25 stays permissive (RFC 7435); an authenticated port gets forward-secret AEAD suites only.
    "smtpd_tls_mandatory_ciphers=high",
    "tls_high_cipherlist=$mailstack_tls_ciphers",
    "cleanup_service_name=subcleanup",
    `milter_macro_daemon_name=${ORIGINATING}`,
];

function service(head: string, options: string[]): string {
    return [head, ...options.map((o) => `  -o ${o}`)].join("\n") + "\n";
}

export function masterCf(p: PostfixInput): string {
    let text = MASTER_HEADER + DEBIAN_SERVICES + LDA_SERVICE + PICKUP_CLEANUP + SUBMISSION_CLEANUP + srsService() +
        reportsService([p.baseDomain, ...p.virtualDomains]);
    // master.cf names the service; its port is the /etc/services entry of that name, the listener's (listeners.ts).
    for (const l of [listener("submission"), listener("submissions")].filter((x) => enabled(p, x.service))) {
        text += service(`${l.service} inet n`.padEnd(24) + "-       y       -       -       smtpd", [
            ...(l.tls === "implicit" ? ["smtpd_tls_wrappermode=yes"] : []), "smtpd_tls_security_level=encrypt",
            ...SUBMISSION_OPTIONS,
        ]);
    }
    return text;
}
