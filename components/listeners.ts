// Every TCP port the server listens on, declared once: the firewall, the fail2ban jail, postfix's and dovecot's
// listeners, nginx, the SRV records, what mail clients are told (autoconfig, autodiscover, Apple profile,
// clientSettings) and the doctor's TLS probes are all derived from this table. Pure: no Pulumi, no config module.

/** How TLS starts on the port: STARTTLS in the protocol, at once (RFC 8314's implicit TLS), or not at all. */
export type TlsMode = "starttls" | "implicit" | "none";

/** Who may connect: anyone, the admins' networks (mailstack:host.adminCidrs), or only the server itself. */
export type Access = "internet" | "admins" | "loopback";

/** The config flags that switch a listener on. */
export interface ListenerFlags {
    imaps: boolean;
    smtps: boolean;
}

export interface Listener {
    /** The IANA service name (/etc/services): also postfix's master.cf service, dovecot's inet_listener and the
     * RFC 6186 SRV label, where the listener has one of those. Loopback-only ones: the daemon's own name for it. */
    service: string;
    port: number;
    /** The application protocol; for STARTTLS its name as `openssl s_client -starttls` spells it. */
    protocol: "ssh" | "smtp" | "imap" | "sieve" | "http" | "milter" | "rspamd" | "redis" | "socketmap";
    tls: TlsMode;
    /** The daemon that holds the port (and serves its certificate). */
    daemon: "sshd" | "postfix" | "dovecot" | "nginx" | "rspamd" | "redis" | "postsrsd" | "mta-sts-daemon" | "mailstack-dmarc-report";
    access: Access;
    /** What it is for: the firewall rule's description. */
    description: string;
    /** Users log in here: repeated failures ban the address from this port (fail2ban). */
    banned: boolean;
    /** A mail client is offered this port for reading (imap) or sending (smtp): an RFC 6186 SRV record, an entry in
     * autoconfig, autodiscover, the Apple profile and clientSettings. */
    client?: "imap" | "smtp";
    /** Only when this flag is on; off, the port is closed everywhere and its SRV record says "not offered". */
    flag?: keyof ListenerFlags;
}

const ANY = "internet" as const;

/** In port order; every list derived from it keeps this order, except what clients are told (preferred first). */
export const LISTENERS: readonly Listener[] = [
    { service: "ssh", port: 22, protocol: "ssh", tls: "none", daemon: "sshd", access: "admins",
        description: "SSH (admins only)", banned: false },
    { service: "smtp", port: 25, protocol: "smtp", tls: "starttls", daemon: "postfix", access: ANY,
        description: "SMTP: inbound mail", banned: false },
    { service: "http", port: 80, protocol: "http", tls: "none", daemon: "nginx", access: ANY,
        description: "HTTP: ACME HTTP-01 challenges, redirect to https", banned: false },
    { service: "imap", port: 143, protocol: "imap", tls: "starttls", daemon: "dovecot", access: ANY,
        description: "IMAP with STARTTLS", banned: true, client: "imap" },
    { service: "https", port: 443, protocol: "http", tls: "implicit", daemon: "nginx", access: ANY,
        // (webmail too, with mailstack:webmail: the description stays, as a new one would update every firewall)
        description: "HTTPS: autoconfig, autodiscover, MTA-STS", banned: true },
    { service: "submissions", port: 465, protocol: "smtp", tls: "implicit", daemon: "postfix", access: ANY,
        description: "Submission over TLS", banned: true, client: "smtp", flag: "smtps" },
    { service: "submission", port: 587, protocol: "smtp", tls: "starttls", daemon: "postfix", access: ANY,
        description: "Submission with STARTTLS", banned: true, client: "smtp" },
    { service: "imaps", port: 993, protocol: "imap", tls: "implicit", daemon: "dovecot", access: ANY,
        description: "IMAP over TLS", banned: true, client: "imap", flag: "imaps" },
    { service: "sieve", port: 4190, protocol: "sieve", tls: "starttls", daemon: "dovecot", access: ANY,
        description: "ManageSieve with STARTTLS (mail filters)", banned: true },
    { service: "redis", port: 6379, protocol: "redis", tls: "none", daemon: "redis", access: "loopback",
        description: "redis: rspamd's statistics and history", banned: false },
    { service: "mta-sts", port: 8461, protocol: "socketmap", tls: "none", daemon: "mta-sts-daemon", access: "loopback",
        description: "postfix-mta-sts-resolver: MTA-STS policies of destinations (postfix TLS policy map)", banned: false },
    { service: "srs-forward", port: 10001, protocol: "socketmap", tls: "none", daemon: "postsrsd", access: "loopback",
        description: "postsrsd: SRS forward map (postfix tcp table)", banned: false },
    { service: "srs-reverse", port: 10002, protocol: "socketmap", tls: "none", daemon: "postsrsd", access: "loopback",
        description: "postsrsd: SRS reverse map (postfix tcp table)", banned: false },
    { service: "dmarc-report", port: 10027, protocol: "smtp", tls: "none", daemon: "mailstack-dmarc-report", access: "loopback",
        description: "rspamd's DMARC reports to postfix, while mailstack-dmarc-report runs (rspamd's user only)", banned: false },
    { service: "rspamd-proxy", port: 11332, protocol: "milter", tls: "none", daemon: "rspamd", access: "loopback",
        description: "rspamd's milter (postfix)", banned: false },
    { service: "rspamd-normal", port: 11333, protocol: "rspamd", tls: "none", daemon: "rspamd", access: "loopback",
        description: "rspamd's scanner", banned: false },
    { service: "rspamd-controller", port: 11334, protocol: "http", tls: "none", daemon: "rspamd", access: "loopback",
        description: "rspamd's controller (learning, statistics)", banned: false },
    { service: "rspamd-fuzzy", port: 11335, protocol: "rspamd", tls: "none", daemon: "rspamd", access: "loopback",
        description: "rspamd's fuzzy storage", banned: false },
];

/** The listeners this config has on: every one without a flag, and those whose flag is set. */
export function listeners(f: Partial<ListenerFlags>): Listener[] {
    return LISTENERS.filter((l) => l.flag === undefined || f[l.flag] === true);
}

/** One listener by its service name (a typo fails at once, at render time). */
export function listener(service: string): Listener {
    const l = LISTENERS.find((x) => x.service === service);
    if (l === undefined) {
        throw new Error(`no listener "${service}"`);
    }
    return l;
}

export function port(service: string): number {
    return listener(service).port;
}

/** Whether the config has this listener on. */
export function enabled(f: Partial<ListenerFlags>, service: string): boolean {
    return listeners(f).some((l) => l.service === service);
}

/** Reachable from outside the server: the firewall's rules. */
export function openListeners(f: ListenerFlags): Listener[] {
    return listeners(f).filter((l) => l.access !== "loopback");
}

/** Where users log in: the ports a fail2ban ban closes. Port 25 stays open (other servers' mail). */
export function bannedPorts(f: ListenerFlags): number[] {
    return listeners(f).filter((l) => l.banned).map((l) => l.port);
}

/** Every port the server serves its certificate on (postfix, dovecot, nginx): the doctor checks each. */
export function tlsListeners(f: ListenerFlags): Listener[] {
    return listeners(f).filter((l) => l.tls !== "none");
}

/** Every listener offered to mail clients, on or off (SRV records say "not offered" for an off one). */
export function clientListeners(): Listener[] {
    return LISTENERS.filter((l) => l.client !== undefined);
}

/** What a client is told, preferred first: per kind (IMAP, then SMTP), implicit TLS when it is on (RFC 8314),
 * then the STARTTLS port that is always on. */
export function clientServers(f: ListenerFlags): Listener[] {
    const rank = (l: Listener): number => (l.client === "imap" ? 0 : 2) + (l.tls === "implicit" ? 0 : 1);
    return listeners(f).filter((l) => l.client !== undefined).sort((a, b) => rank(a) - rank(b));
}

/** How a client starts TLS there: at once ("implicit"), or the protocol whose STARTTLS it speaks first (the names
 * `openssl s_client -starttls` takes: smtp, imap, sieve). */
export function tlsStart(l: Pick<Listener, "tls" | "protocol">): "implicit" | Listener["protocol"] {
    return l.tls === "implicit" ? "implicit" : l.protocol;
}
