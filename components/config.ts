// Stack configuration: the typed shape of the `mailstack:*` keys and their validation.
// Everything here is pure so that a bad value is refused before any resource exists.

import { isIP, isIPv4 } from "net";
import { isCalendar } from "./calendar";
import { MtaStsMode, webNames } from "./render/web";

export type AcmeMode = "letsencrypt" | "staging" | "custom";

export interface HetznerHost {
    kind: "hetzner";
    serverType: string;
    location: string;
    image: string;
    sshPublicKey: string;
    adminCidrs: string[];
    /** GB of the volume that outlives the server (mail state). */
    volumeSize: number;
    /** Delete/rebuild protection at Hetzner and Pulumi `protect` on server and volume; false for test stacks. */
    protect: boolean;
    /** Lifts the Pulumi protection of the server only (the volume keeps it), for a planned replacement. */
    replaceServer: boolean;
}

export interface ExistingHost {
    kind: "existing";
    address: string;
    port: number;
    user: string;
    /** Who the machine is: a new value (after a reinstall) runs every remote step again. */
    id: string;
    /** A block device of the server for the mail state (mounted at /srv/mailstack); unset: nothing moves. */
    storage?: string;
}

/** The throwaway Debian server of `npm run local`, created and destroyed by the stack itself. */
export interface TestbedHost {
    kind: "testbed";
    suite: string;
}

export type HostConfig = HetznerHost | ExistingHost | TestbedHost;

export interface CertificateConfig {
    email: string;
    acme: AcmeMode;
    /** ACME directory URL; set for `custom`, derived for the Let's Encrypt modes. */
    directory: string;
    /** Path ON THE SERVER of a CA bundle that certbot must trust (custom ACME servers such as Pebble). */
    caBundle?: string;
    /** Every name the certificate covers: the hostname first, then `mail.DOMAIN` for each domain, then each
     * domain's autoconfig., autodiscover. and mta-sts. names. */
    names: string[];
    /** The CAA issuer domain of the CA (letsencrypt.org for Let's Encrypt); none for a custom CA unless configured. */
    caa?: string;
}

/** Who may log in through PAM (IMAP, SMTP AUTH): every human account (UID_MIN..UID_MAX of the server's
 * /etc/login.defs), or only the listed systemUsers. Virtual users always may. */
export type LoginScope = "all-humans" | "listed";

export interface MailConfig {
    hostname: string;
    baseDomain: string;
    virtualDomains: string[];
    /** Full addresses of passwd-file users, lower case. */
    virtualUsers: string[];
    /** Bare names of PAM accounts the stack creates. Accounts already on the server need no entry. */
    systemUsers: string[];
    /** Alias address -> target addresses (or bare system user names). */
    aliases: Record<string, string[]>;
    /** Virtual users that had another address before: the mailbox moves to the new address, the password stays. */
    renames: Rename[];
    host: HostConfig;
    certificate: CertificateConfig;
    /** Optional extra listeners beyond 143/587. */
    imaps: boolean;
    smtps: boolean;
    /** Where postmaster@ and abuse@ of every domain, and root's mail, go. */
    adminEmail: string;
    loginScope: LoginScope;
    /** fail2ban on the authenticated ports: maxRetry failed logins within findTime seconds ban for banTime. */
    bruteForce: BruteForceConfig;
    /** The MTA-STS policy mode other servers are told to apply to mail for our domains. */
    mtaSts: MtaStsMode;
    /** All outbound mail goes through this server (its password is the secret key relayPassword). */
    relayHost?: RelayHostConfig;
    /** Days of /var/log/mail.log and /var/log/dovecot.log kept by logrotate (one file a day). */
    logRetentionDays: number;
    doctor: DoctorConfig;
    /** DKIM signing of submitted and local mail (rspamd), one key per domain and selector. */
    dkim: DkimConfig;
    /** rspamd's verdicts on mail from outside. */
    spam: SpamConfig;
    /** Mailbox quotas: `default` for everyone, `users` per address (system users as NAME@baseDomain). */
    quota: QuotaConfig;
    /** restic backups of the mail state; unset: none. */
    backup?: BackupConfig;
}

/** Where and when restic backs up the mail state. The password (and keys) are secrets of their own: stackConfig.ts. */
export interface BackupConfig {
    /** A restic repository: `sftp:USER@HOST:/PATH`, `sftp://USER@HOST:PORT//PATH`, `s3:URL/BUCKET[/PATH]` or `/PATH`. */
    repository: string;
    /** Snapshots kept: the last of each of so many days, weeks and months. */
    keep: { daily: number; weekly: number; monthly: number };
    /** systemd OnCalendar expression of the backup timer. */
    schedule: string;
    /** For sftp: known_hosts line(s) of the target; unset: the first key seen is trusted (accept-new). */
    knownHosts?: string;
    /** For s3: the access key id (its secret key is mailstack:backupS3SecretKey). */
    s3AccessKeyId?: string;
}

export interface DkimConfig {
    /** The selector that signs. */
    selector: string;
    /** A selector published in dnsRecords (with its own key) before it signs: the first half of a key rotation. */
    nextSelector?: string;
}

export interface SpamConfig {
    /** From this score on, a message gets `X-Spam: Yes` (and is filed into Junk). */
    addHeaderScore: number;
    /** From this score on, port 25 refuses the message. */
    rejectScore: number;
    /** rspamd's greylisting (a 4xx on first contact; off by default: it delays mail from new senders). */
    greylisting: boolean;
}

export type RelayTls = "starttls" | "implicit";

export interface RelayHostConfig {
    host: string;
    port: number;
    tls: RelayTls;
    username: string;
    /** SPF mechanisms that authorize the relay's outbound servers (the relay documents them), added to every
     * domain's SPF record: `include:spf.relay.example`, or several separated by spaces. */
    spfInclude?: string;
}

export interface DoctorConfig {
    /** The name server(s) doctor asks, ip or ip:port; empty = the system's resolver. */
    resolvers: string[];
    /** DNS blocklist zones the sending addresses are looked up in. */
    blocklists: string[];
    /** Inside checks: thresholds of a failure. */
    queueMaxMessages: number;
    queueMaxAgeHours: number;
    diskMaxPercent: number;
    backupMaxAgeHours: number;
    certMinDays: number;
    /** Minutes between two runs of the server's own check timer. */
    intervalMinutes: number;
    /** Without relayHost: a mail server whose port 25 the server must reach (outbound 25 blocked = cannot send). */
    outboundProbe: string;
}

export const DEFAULT_BLOCKLISTS = ["zen.spamhaus.org", "bl.spamcop.net", "b.barracudacentral.org"];

export interface QuotaConfig {
    /** A dovecot size such as "2G": digits and one unit k, M, G or T. */
    default: string;
    /** Address -> size; lower case. */
    users: Record<string, string>;
}

export const DEFAULT_QUOTA = "2G";

export interface BruteForceConfig {
    maxRetry: number;
    findTime: number;
    banTime: number;
    /** Addresses never banned (an office, a monitoring host). */
    ignore: string[];
}

export interface Rename {
    from: string;
    to: string;
}

export class ConfigError extends Error {
    constructor(readonly key: string, message: string) {
        super(`mailstack:${key}: ${message}`);
        this.name = "ConfigError";
    }
}

export const LETSENCRYPT = "https://acme-v02.api.letsencrypt.org/directory";
export const LETSENCRYPT_STAGING = "https://acme-staging-v02.api.letsencrypt.org/directory";

/** Names that belong to the system or to the mail software and must never become mail accounts. */
export const RESERVED_USERS = new Set([
    "root", "daemon", "bin", "sys", "sync", "games", "man", "lp", "mail", "news", "uucp", "proxy",
    "www-data", "backup", "list", "irc", "nobody", "systemd-network", "systemd-resolve", "messagebus",
    "sshd", "_apt", "vmail", "postfix", "dovecot", "dovenull", "postdrop",
]);

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
// No "+": it is the recipient_delimiter (postfix and dovecot), so "a+b@" is read as user "a" with extension "b".
const LOCAL_PART = /^[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?$/;
const SYSTEM_NAME = /^[a-z_][a-z0-9_-]{0,31}$/;
/** RFC 5322 dot-atom (lower case): no comma, space or quote that would split a postfix table entry. */
const DOT_ATOM = /^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;

export function isDomain(value: string): boolean {
    const labels = value.split(".");
    return value.length <= 253 && labels.length >= 2 && labels.every((l) => LABEL.test(l)) &&
        !/^[0-9]+$/.test(labels[labels.length - 1]);
}

export function isCidr(value: string): boolean {
    const [ip, bits, ...rest] = value.split("/");
    if (rest.length > 0 || bits === undefined || !/^[0-9]{1,3}$/.test(bits)) {
        return false;
    }
    const prefix = Number(bits);
    // net.isIP: a real IPv4 (no leading zeros) or IPv6 address (at most eight groups, one "::").
    switch (isIP(ip)) {
        case 4:
            return prefix <= 32;
        case 6:
            return prefix <= 128 && !ip.includes("%");
        default:
            return false;
    }
}

/** One OpenSSH public key line: its base64 blob must start with the same key type as the line (RFC 4253 6.6). */
export function isSshPublicKey(value: string): boolean {
    const m = /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(?:256|384|521)) ([A-Za-z0-9+/]+={0,2})(?: [^\n]*)?$/.exec(value);
    if (m === null) {
        return false;
    }
    const blob = Buffer.from(m[2], "base64");
    return blob.length > 4 + m[1].length && blob.readUInt32BE(0) === m[1].length &&
        blob.subarray(4, 4 + m[1].length).toString("latin1") === m[1];
}

export function splitAddress(address: string): { local: string; domain: string } {
    const at = address.lastIndexOf("@");
    return { local: address.slice(0, at), domain: address.slice(at + 1) };
}

/** Raw config as read from Pulumi: every key optional, every value unchecked. */
export interface RawConfig {
    hostname?: unknown;
    baseDomain?: unknown;
    virtualDomains?: unknown;
    virtualUsers?: unknown;
    systemUsers?: unknown;
    aliases?: unknown;
    renames?: unknown;
    host?: unknown;
    certificate?: unknown;
    imaps?: unknown;
    smtps?: unknown;
    adminEmail?: unknown;
    loginScope?: unknown;
    bruteForce?: unknown;
    mtaSts?: unknown;
    relayHost?: unknown;
    logRetentionDays?: unknown;
    doctor?: unknown;
    dkim?: unknown;
    spam?: unknown;
    quota?: unknown;
    backup?: unknown;
}

function str(key: string, value: unknown): string {
    if (typeof value !== "string" || value.trim() === "") {
        throw new ConfigError(key, `expected a non-empty string, got ${JSON.stringify(value)}`);
    }
    return value.trim();
}

function strList(key: string, value: unknown, required: boolean): string[] {
    if (value === undefined || value === null) {
        if (required) {
            throw new ConfigError(key, `is required and must be a non-empty list, got ${String(value)}`);
        }
        return [];
    }
    if (!Array.isArray(value)) {
        throw new ConfigError(key, `expected a list, got ${JSON.stringify(value)}`);
    }
    return value.map((v, i) => str(`${key}[${i}]`, v));
}

function bool(key: string, value: unknown, fallback: boolean): boolean {
    if (value === undefined) {
        return fallback;
    }
    if (typeof value !== "boolean") {
        throw new ConfigError(key, `expected true or false, got ${JSON.stringify(value)}`);
    }
    return value;
}

function record(key: string, value: unknown): Record<string, unknown> {
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
        throw new ConfigError(key, `expected an object, got ${JSON.stringify(value)}`);
    }
    return value as Record<string, unknown>;
}

/** Refuses keys the object does not know: a typo of an optional key would otherwise silently become its default. */
function onlyKeys(key: string, raw: Record<string, unknown>, known: string[]): void {
    for (const k of Object.keys(raw)) {
        if (!known.includes(k)) {
            throw new ConfigError(`${key}.${k}`, `unknown key ${JSON.stringify(k)} (set ${JSON.stringify(raw[k])}); ` +
                `expected one of ${known.join(", ")}`);
        }
    }
}

function noDuplicates(key: string, values: string[]): void {
    const seen = new Map<string, string>();
    for (const v of values) {
        const folded = v.toLowerCase();
        const first = seen.get(folded);
        if (first !== undefined) {
            throw new ConfigError(key, first === v
                ? `"${v}" is listed twice`
                : `"${first}" and "${v}" differ only by case: mail addresses are case-insensitive`);
        }
        seen.set(folded, v);
    }
}

/**
 * "+" is the recipient_delimiter: postfix and dovecot LMTP look "team+eu@" up as "team@", and dovecot's login
 * names may not contain it, so such an account could neither log in nor receive (its mail would bounce).
 */
function noDelimiter(key: string, address: string, local: string): void {
    if (local.includes("+")) {
        throw new ConfigError(key, `"${address}" has a "+" in its user part "${local}": "+" is the address ` +
            `extension delimiter (mail to ${local}@ goes to ${local.split("+")[0]}@), so it cannot be an account or alias`);
    }
}

function domain(key: string, value: unknown): string {
    const d = str(key, value);
    if (!isDomain(d.toLowerCase())) {
        throw new ConfigError(key, `"${d}" is not a valid domain name`);
    }
    return d.toLowerCase();
}

/** Hetzner's volumes hold 10 to 10240 GB, in whole GB; they can grow but not shrink. */
function volumeSize(value: unknown): number {
    const size = value ?? 10;
    if (typeof size !== "number" || !Number.isInteger(size) || size < 10 || size > 10240) {
        throw new ConfigError("host.volumeSize", `expected whole GB from 10 to 10240, got ${JSON.stringify(value)}`);
    }
    return size;
}

function parseHost(value: unknown): HostConfig {
    const raw = record("host", value);
    const kind = raw.kind ?? "hetzner";
    switch (kind) {
        case "hetzner": {
            onlyKeys("host", raw, ["kind", "serverType", "location", "image", "sshPublicKey", "adminCidrs", "volumeSize",
                "protect", "replaceServer"]);
            const adminCidrs = strList("host.adminCidrs", raw.adminCidrs, true);
            if (adminCidrs.length === 0) {
                throw new ConfigError("host.adminCidrs", "must list at least one CIDR, or nobody can reach SSH (got [])");
            }
            adminCidrs.forEach((c, i) => {
                if (!isCidr(c)) {
                    throw new ConfigError(`host.adminCidrs[${i}]`, `"${c}" is not a CIDR such as 203.0.113.7/32`);
                }
            });
            const sshPublicKey = str("host.sshPublicKey", raw.sshPublicKey);
            if (!isSshPublicKey(sshPublicKey)) {
                throw new ConfigError("host.sshPublicKey",
                    `${JSON.stringify(sshPublicKey)} is not an OpenSSH public key (ssh-ed25519 AAAA...)`);
            }
            return {
                kind: "hetzner",
                serverType: str("host.serverType", raw.serverType ?? "cx22"),
                location: str("host.location", raw.location ?? "nbg1"),
                image: str("host.image", raw.image ?? "debian-12"),
                sshPublicKey,
                adminCidrs,
                volumeSize: volumeSize(raw.volumeSize),
                protect: bool("host.protect", raw.protect, true),
                replaceServer: bool("host.replaceServer", raw.replaceServer, false),
            };
        }
        case "existing": {
            onlyKeys("host", raw, ["kind", "address", "port", "user", "id", "storage"]);
            const port = raw.port ?? 22;
            if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535) {
                throw new ConfigError("host.port", `expected a TCP port number, got ${JSON.stringify(port)}`);
            }
            // The address is the serverIp output and the value of the A and PTR records: an IPv4 address.
            const address = str("host.address", raw.address);
            if (!isIPv4(address)) {
                throw new ConfigError("host.address",
                    `"${address}" is not an IPv4 address (it becomes the A record and PTR of the hostname)`);
            }
            const user = str("host.user", raw.user ?? "root");
            if (!SYSTEM_NAME.test(user)) {
                throw new ConfigError("host.user", `"${user}" is not a valid Unix user name`);
            }
            const id = raw.id === undefined ? address : str("host.id", raw.id);
            if (raw.storage === undefined) {
                return { kind: "existing", address, port, user, id };
            }
            const storage = str("host.storage", raw.storage);
            if (!/^\/dev\/[A-Za-z0-9_./:-]+$/.test(storage)) {
                throw new ConfigError("host.storage", `"${storage}" is not a block device path such as /dev/sdb`);
            }
            return { kind: "existing", address, port, user, id, storage };
        }
        case "testbed": {
            onlyKeys("host", raw, ["kind", "suite"]);
            const suite = str("host.suite", raw.suite ?? "bookworm");
            if (!["bookworm", "trixie"].includes(suite)) {
                throw new ConfigError("host.suite", `"${suite}" is not a supported Debian suite (bookworm, trixie)`);
            }
            return { kind: "testbed", suite };
        }
        default:
            throw new ConfigError("host.kind", `unknown host kind ${JSON.stringify(kind)} (hetzner, existing, testbed)`);
    }
}

function parseCertificate(value: unknown, names: string[]): CertificateConfig {
    const raw = record("certificate", value);
    onlyKeys("certificate", raw, ["email", "acme", "directory", "caBundle", "caa"]);
    const email = str("certificate.email", raw.email);
    if (!/^[^@\s]+@[^@\s]+$/.test(email) || !isDomain(splitAddress(email).domain.toLowerCase())) {
        throw new ConfigError("certificate.email", `"${email}" is not an email address`);
    }
    const acme = raw.acme ?? "staging";
    let directory: string;
    switch (acme) {
        case "letsencrypt":
            directory = LETSENCRYPT;
            break;
        case "staging":
            directory = LETSENCRYPT_STAGING;
            break;
        case "custom":
            directory = str("certificate.directory", raw.directory);
            if (!/^https:\/\/\S+$/.test(directory)) {
                throw new ConfigError("certificate.directory", `"${directory}" is not an https:// ACME directory URL`);
            }
            break;
        default:
            throw new ConfigError("certificate.acme",
                `unknown ACME mode ${JSON.stringify(acme)} (letsencrypt, staging, custom)`);
    }
    // Both would be silently ignored (directory) or break trust in Let's Encrypt (caBundle) outside custom mode.
    for (const k of ["directory", "caBundle"] as const) {
        if (acme !== "custom" && raw[k] !== undefined) {
            throw new ConfigError(`certificate.${k}`,
                `${JSON.stringify(raw[k])} is only used with acme: custom (acme is ${JSON.stringify(acme)})`);
        }
    }
    const caBundle = raw.caBundle === undefined ? undefined : str("certificate.caBundle", raw.caBundle);
    if (caBundle !== undefined && !caBundle.startsWith("/")) {
        throw new ConfigError("certificate.caBundle", `"${caBundle}" must be an absolute path on the server`);
    }
    // CAA names the CA by its issuer domain (RFC 8659); a custom CA's is not derivable from its directory URL.
    let caa: string | undefined = acme === "custom" ? undefined : "letsencrypt.org";
    if (raw.caa !== undefined) {
        if (acme !== "custom") {
            throw new ConfigError("certificate.caa", `${JSON.stringify(raw.caa)} is only used with acme: custom ` +
                `(acme is ${JSON.stringify(acme)}, whose CAA issuer is letsencrypt.org)`);
        }
        caa = str("certificate.caa", raw.caa).toLowerCase();
        if (!isDomain(caa)) {
            throw new ConfigError("certificate.caa", `"${caa}" is not a CA's issuer domain such as letsencrypt.org`);
        }
    }
    return { email, acme: acme as AcmeMode, directory, caBundle, names, ...(caa === undefined ? {} : { caa }) };
}

/** Validates the raw stack config and returns it normalised (lower case, defaults filled in). */
export function parseConfig(raw: RawConfig): MailConfig {
    const rawHostname = str("hostname", raw.hostname);
    const hostname = rawHostname.toLowerCase();
    if (!isDomain(hostname) || hostname.split(".").length < 3) {
        throw new ConfigError("hostname", `"${rawHostname}" is not a fully qualified host name such as mail.example.org`);
    }
    const baseDomain = domain("baseDomain", raw.baseDomain);
    const rawDomains = strList("virtualDomains", raw.virtualDomains, true);
    const virtualDomains = rawDomains.map((d, i) => domain(`virtualDomains[${i}]`, d));
    if (virtualDomains.length === 0) {
        throw new ConfigError("virtualDomains",
            "must list at least one domain, got [] (a single-domain server needs no mailstack)");
    }
    // On the values as written, so that the message shows both spellings.
    noDuplicates("virtualDomains", rawDomains);
    if (virtualDomains.includes(baseDomain)) {
        throw new ConfigError("virtualDomains",
            `"${baseDomain}" is the base domain; its users are system users and it must not be a virtual domain too`);
    }
    if (virtualDomains.includes(hostname)) {
        throw new ConfigError("virtualDomains", `"${hostname}" is the server's hostname, which postfix treats as local`);
    }

    const rawUsers = strList("virtualUsers", raw.virtualUsers, false);
    noDuplicates("virtualUsers", rawUsers);
    const virtualUsers = rawUsers.map((u, i) => {
        const key = `virtualUsers[${i}]`;
        const address = u.toLowerCase();
        if (!/^[^@]+@[^@]+$/.test(address)) {
            throw new ConfigError(key, `"${u}" is not an address of the form user@domain`);
        }
        const { local, domain: d } = splitAddress(address);
        noDelimiter(key, u, local);
        if (!LOCAL_PART.test(local)) {
            throw new ConfigError(key, `"${u}" has an invalid user part "${local}"`);
        }
        if (d === baseDomain) {
            throw new ConfigError(key, `"${u}" is in the base domain; base-domain users are systemUsers (PAM), not virtual`);
        }
        if (!virtualDomains.includes(d)) {
            throw new ConfigError(key, `"${u}" is in "${d}", which is not in virtualDomains`);
        }
        if (RESERVED_USERS.has(local)) {
            throw new ConfigError(key, `"${u}" uses the reserved name "${local}"`);
        }
        return address;
    });

    const systemUsers = strList("systemUsers", raw.systemUsers, false).map((n, i) => {
        const key = `systemUsers[${i}]`;
        if (!SYSTEM_NAME.test(n)) {
            throw new ConfigError(key, `"${n}" is not a valid Unix user name (lower case, no @)`);
        }
        if (RESERVED_USERS.has(n)) {
            throw new ConfigError(key, `"${n}" is a reserved system account`);
        }
        return n;
    });
    noDuplicates("systemUsers", systemUsers);

    const domains = [baseDomain, ...virtualDomains];
    const aliases = parseAliases(raw.aliases, { baseDomain, domains, virtualUsers, systemUsers });

    const names = [hostname, ...domains.map((d) => `mail.${d}`), ...webNames({ baseDomain, virtualDomains })]
        .filter((n, i, all) => all.indexOf(n) === i);
    const adminEmail = parseAdminEmail(raw.adminEmail, { baseDomain, domains, virtualUsers, systemUsers },
        Object.keys(aliases));
    const loginScope = raw.loginScope ?? "all-humans";
    if (loginScope !== "all-humans" && loginScope !== "listed") {
        throw new ConfigError("loginScope", `unknown login scope ${JSON.stringify(loginScope)} (all-humans, listed)`);
    }
    checkAliasLoops(effectiveAliases({ baseDomain, virtualDomains, aliases, adminEmail }), baseDomain);
    const renames = parseRenames(raw.renames, { baseDomain, domains, virtualUsers, systemUsers });
    return {
        hostname,
        baseDomain,
        virtualDomains,
        virtualUsers,
        systemUsers,
        aliases,
        renames,
        host: parseHost(raw.host),
        certificate: parseCertificate(raw.certificate, names),
        imaps: bool("imaps", raw.imaps, false),
        smtps: bool("smtps", raw.smtps, false),
        adminEmail,
        loginScope,
        bruteForce: parseBruteForce(raw.bruteForce),
        mtaSts: parseMtaSts(raw.mtaSts),
        relayHost: parseRelayHost(raw.relayHost),
        logRetentionDays: wholeNumber("logRetentionDays", raw.logRetentionDays ?? 30, 1, 3650),
        doctor: parseDoctor(raw.doctor),
        dkim: parseDkim(raw.dkim),
        spam: parseSpam(raw.spam),
        quota: parseQuota(raw.quota, { baseDomain, domains, virtualUsers, systemUsers },
            Object.keys(effectiveAliases({ baseDomain, virtualDomains, aliases, adminEmail })), renames),
        backup: parseBackup(raw.backup),
    };
}

function wholeNumber(key: string, v: unknown, min: number, max: number): number {
    if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
        throw new ConfigError(key, `expected a whole number from ${min} to ${max}, got ${JSON.stringify(v)}`);
    }
    return v;
}

function parseRelayHost(value: unknown): RelayHostConfig | undefined {
    if (value === undefined || value === null) {
        return undefined;
    }
    const raw = record("relayHost", value);
    if (raw.password !== undefined) {
        throw new ConfigError("relayHost.password", "must not be in plain config: set it as a secret with " +
            "`pulumi config set --secret mailstack:relayPassword` (content on stdin)");
    }
    onlyKeys("relayHost", raw, ["host", "port", "tls", "username", "spfInclude"]);
    const host = str("relayHost.host", raw.host).toLowerCase();
    // TLS is verified against this name: an IP literal has no name to match the certificate with.
    if (!isDomain(host)) {
        throw new ConfigError("relayHost.host", `"${host}" is not a host name (the relay's certificate is checked against it)`);
    }
    const port = wholeNumber("relayHost.port", raw.port ?? (raw.tls === "implicit" ? 465 : 587), 1, 65535);
    const tls = raw.tls ?? (port === 465 ? "implicit" : "starttls");
    if (tls !== "starttls" && tls !== "implicit") {
        throw new ConfigError("relayHost.tls", `unknown TLS mode ${JSON.stringify(tls)} (starttls, implicit)`);
    }
    const username = str("relayHost.username", raw.username);
    // postfix's sasl_passwd holds "username:password" as one value: a colon would split it, a space end it.
    if (/[:\s]/.test(username)) {
        throw new ConfigError("relayHost.username", `"${username}" contains a colon or white space`);
    }
    const spfInclude = raw.spfInclude === undefined ? undefined : parseSpfMechanisms("relayHost.spfInclude", raw.spfInclude);
    return { host, port, tls, username, ...(spfInclude === undefined ? {} : { spfInclude }) };
}

/** SPF mechanisms that name senders (RFC 7208 5): include:, a, mx, ip4:, ip6:; never all, redirect= or exp=,
 * which would change what the rest of our record means. Returned normalized (lower case, single spaces). */
function parseSpfMechanisms(key: string, value: unknown): string {
    const terms = str(key, value).trim().toLowerCase().split(/\s+/).filter((t) => t !== "");
    if (terms.length === 0) {
        throw new ConfigError(key, "is empty (e.g. include:spf.relay.example)");
    }
    const ip4 = /^ip4:\d{1,3}(\.\d{1,3}){3}(\/\d{1,2})?$/;
    const ip6 = /^ip6:[0-9a-f:]+(\/\d{1,3})?$/;
    for (const t of terms) {
        const m = /^(include|a|mx):(.+?)(\/\d{1,3})?$/.exec(t);
        const ok = (m !== null && isDomain(m[2]) && (m[1] !== "include" || m[3] === undefined)) || t === "a" ||
            t === "mx" || ip4.test(t) || ip6.test(t);
        if (!ok) {
            throw new ConfigError(key, `${JSON.stringify(t)} is not an SPF mechanism naming senders ` +
                "(include:DOMAIN, a, a:DOMAIN, mx, mx:DOMAIN, ip4:ADDRESS, ip6:ADDRESS)");
        }
    }
    return terms.join(" ");
}

/** The relay password as read from the secret key: present, one line (sasl_passwd is one entry a line). */
export function checkRelayPassword(relay: RelayHostConfig | undefined, password: string | undefined): void {
    if (relay === undefined) {
        if (password !== undefined) {
            throw new ConfigError("relayPassword", "is set but relayHost is not (remove it, or configure relayHost)");
        }
        return;
    }
    if (password === undefined || password === "") {
        throw new ConfigError("relayPassword", `is not set, and relayHost ${relay.host} needs it ` +
            "(pulumi config set --secret mailstack:relayPassword)");
    }
    if (/[\r\n]/.test(password)) {
        throw new ConfigError("relayPassword", "contains a line break (the value is not shown: it is a secret)");
    }
}

/** An https:// URL with a host: the alert webhook (checked up front even though its value is a secret). */
export function checkWebhook(url: string | undefined): void {
    if (url === undefined) {
        return;
    }
    let ok: boolean;
    try {
        const u = new URL(url);
        ok = u.protocol === "https:" && u.hostname !== "" && !/\s/.test(url);
    } catch {
        ok = false;
    }
    if (!ok) {
        throw new ConfigError("alertWebhook", "is not an https:// URL (the value is not shown: it is a secret)");
    }
}

function parseDoctor(value: unknown): DoctorConfig {
    const raw = value === undefined || value === null ? {} : record("doctor", value);
    onlyKeys("doctor", raw, ["resolvers", "blocklists", "queueMaxMessages", "queueMaxAgeHours", "diskMaxPercent",
        "backupMaxAgeHours", "certMinDays", "intervalMinutes", "outboundProbe"]);
    const resolvers = strList("doctor.resolvers", raw.resolvers, false);
    resolvers.forEach((r, i) => {
        const m = /^(?:\[([0-9a-f:.]+)\]|([0-9.]+))(?::([0-9]{1,5}))?$/i.exec(r);
        const ip = m === null ? "" : (m[1] ?? m[2]);
        if (m === null || isIP(ip) === 0 || (m[3] !== undefined && (Number(m[3]) < 1 || Number(m[3]) > 65535))) {
            throw new ConfigError(`doctor.resolvers[${i}]`, `"${r}" is not an address such as 192.0.2.53 or 192.0.2.53:5353`);
        }
    });
    const blocklists = raw.blocklists === undefined ? [...DEFAULT_BLOCKLISTS]
        : strList("doctor.blocklists", raw.blocklists, false).map((z, i) => domain(`doctor.blocklists[${i}]`, z));
    const n = (key: string, fallback: number, min: number, max: number): number =>
        wholeNumber(`doctor.${key}`, raw[key] ?? fallback, min, max);
    return {
        resolvers,
        blocklists,
        queueMaxMessages: n("queueMaxMessages", 100, 0, 1000000),
        queueMaxAgeHours: n("queueMaxAgeHours", 24, 1, 10000),
        diskMaxPercent: n("diskMaxPercent", 90, 1, 100),
        backupMaxAgeHours: n("backupMaxAgeHours", 48, 1, 100000),
        certMinDays: n("certMinDays", 14, 0, 365),
        intervalMinutes: n("intervalMinutes", 15, 1, 1440),
        outboundProbe: domain("doctor.outboundProbe", raw.outboundProbe ?? "gmail-smtp-in.l.google.com"),
    };
}

function parseMtaSts(value: unknown): MtaStsMode {
    const mode = value ?? "enforce";
    if (mode !== "enforce" && mode !== "testing") {
        throw new ConfigError("mtaSts", `unknown MTA-STS mode ${JSON.stringify(mode)} (enforce, testing)`);
    }
    return mode;
}

/** A DNS label: the selector becomes SELECTOR._domainkey.DOMAIN and part of a key file name. */
const SELECTOR = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

function parseDkim(value: unknown): DkimConfig {
    const raw = value === undefined || value === null ? {} : record("dkim", value);
    onlyKeys("dkim", raw, ["selector", "nextSelector"]);
    const selector = (key: string, v: unknown): string => {
        const s = str(key, v);
        if (!SELECTOR.test(s)) {
            throw new ConfigError(key, `"${s}" is not a DKIM selector (one DNS label: lower case letters, digits, -)`);
        }
        return s;
    };
    const current = selector("dkim.selector", raw.selector ?? "mailstack");
    if (raw.nextSelector === undefined || raw.nextSelector === null) {
        return { selector: current };
    }
    const next = selector("dkim.nextSelector", raw.nextSelector);
    if (next === current) {
        throw new ConfigError("dkim.nextSelector", `"${next}" is the selector that signs already; drop nextSelector`);
    }
    return { selector: current, nextSelector: next };
}

function parseSpam(value: unknown): SpamConfig {
    const raw = value === undefined || value === null ? {} : record("spam", value);
    onlyKeys("spam", raw, ["addHeaderScore", "rejectScore", "greylisting"]);
    const score = (key: "addHeaderScore" | "rejectScore", fallback: number): number => {
        const v = raw[key] ?? fallback;
        if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) {
            throw new ConfigError(`spam.${key}`, `expected a positive number, got ${JSON.stringify(v)}`);
        }
        return v;
    };
    const addHeaderScore = score("addHeaderScore", 6);
    const rejectScore = score("rejectScore", 15);
    if (rejectScore <= addHeaderScore) {
        throw new ConfigError("spam.rejectScore",
            `${rejectScore} must be above spam.addHeaderScore (${addHeaderScore}), or nothing is ever filed as spam`);
    }
    return { addHeaderScore, rejectScore, greylisting: bool("spam.greylisting", raw.greylisting, false) };
}

const SIZE = /^[1-9][0-9]{0,8}[kMGT]$/;

function size(key: string, value: unknown): string {
    if (typeof value !== "string" || !SIZE.test(value.trim())) {
        throw new ConfigError(key, `expected a size such as "500M" or "2G" (a whole number and k, M, G or T), ` +
            `got ${JSON.stringify(value)}`);
    }
    return value.trim();
}

/** A renamed user keeps the quota of the old address (as the mailbox and the password), unless the new one has its own. */
function parseQuota(value: unknown, known: Known, aliases: string[], renames: Rename[]): QuotaConfig {
    const raw = value === undefined || value === null ? {} : record("quota", value);
    onlyKeys("quota", raw, ["default", "users"]);
    const users: Record<string, string> = {};
    const rawUsers = raw.users === undefined || raw.users === null ? {} : record("quota.users", raw.users);
    noDuplicates("quota.users", Object.keys(rawUsers));
    const renamed = new Map(renames.map((r) => [r.from, r.to]));
    const carried: [string, string][] = [];
    for (const [source, v] of Object.entries(rawUsers)) {
        const key = `quota.users["${source}"]`;
        const address = source.toLowerCase();
        const to = renamed.get(address);
        if (to !== undefined) {
            carried.push([to, size(key, v)]);
            continue;
        }
        const { local, domain: d } = splitAddress(address);
        if (!address.includes("@") || !known.domains.includes(d)) {
            throw new ConfigError(key, `"${source}" is not an address in the base domain or a virtual domain`);
        }
        if (aliases.includes(address) || (d === known.baseDomain
            ? !SYSTEM_NAME.test(local) || RESERVED_USERS.has(local) : !known.virtualUsers.includes(address))) {
            throw new ConfigError(key, `"${source}" is not a mail account (a virtual user, or NAME@${known.baseDomain} ` +
                "of a system user); aliases have no mailbox of their own");
        }
        users[address] = size(key, v);
    }
    for (const [to, v] of carried) {
        users[to] ??= v;
    }
    return { default: size("quota.default", raw.default ?? DEFAULT_QUOTA), users };
}

const SFTP = /^sftp:(?:\/\/[a-z_][a-z0-9_-]*@[A-Za-z0-9.:[\]-]+(?::\d{1,5})?\/\/?[^\s'"\\]+|[a-z_][a-z0-9_-]*@[A-Za-z0-9.-]+:\/?[^\s'"\\]+)$/;

function parseBackup(value: unknown): BackupConfig | undefined {
    if (value === undefined || value === null) {
        return undefined;
    }
    const raw = record("backup", value);
    onlyKeys("backup", raw, ["repository", "keep", "schedule", "knownHosts", "s3AccessKeyId"]);
    const repository = str("backup.repository", raw.repository);
    const s3 = /^s3:https?:\/\/[^\s'"\\]+$/.test(repository);
    if (!SFTP.test(repository) && !s3 && !/^\/[^\s'"\\]+$/.test(repository)) {
        throw new ConfigError("backup.repository", `"${repository}" is not a restic repository of the form ` +
            "sftp:USER@HOST:/PATH, sftp://USER@HOST:PORT//PATH, s3:https://HOST/BUCKET or /PATH");
    }
    const keepRaw = raw.keep === undefined ? {} : record("backup.keep", raw.keep);
    onlyKeys("backup.keep", keepRaw, ["daily", "weekly", "monthly"]);
    const keepOf = (k: "daily" | "weekly" | "monthly", fallback: number): number => {
        const v = keepRaw[k] ?? fallback;
        if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 10000) {
            throw new ConfigError(`backup.keep.${k}`, `expected a whole number from 0 to 10000, got ${JSON.stringify(v)}`);
        }
        return v;
    };
    const keep = { daily: keepOf("daily", 7), weekly: keepOf("weekly", 4), monthly: keepOf("monthly", 6) };
    if (keep.daily + keep.weekly + keep.monthly === 0) {
        throw new ConfigError("backup.keep", "keeps no snapshot at all (daily, weekly and monthly are all 0)");
    }
    const schedule = str("backup.schedule", raw.schedule ?? "*-*-* 03:15:00");
    // Checked here, at preview, with systemd's own grammar: a schedule systemd refuses would leave the timer
    // "bad-setting" on the server, and no backup would ever run again.
    if (schedule.length > 64 || !isCalendar(schedule)) {
        throw new ConfigError("backup.schedule", `"${schedule}" is not a systemd OnCalendar expression such as daily`);
    }
    let knownHosts: string | undefined;
    if (raw.knownHosts !== undefined) {
        knownHosts = str("backup.knownHosts", raw.knownHosts);
        if (!repository.startsWith("sftp:")) {
            throw new ConfigError("backup.knownHosts", "only applies to sftp repositories");
        }
    }
    let s3AccessKeyId: string | undefined;
    if (raw.s3AccessKeyId !== undefined) {
        s3AccessKeyId = str("backup.s3AccessKeyId", raw.s3AccessKeyId);
        if (!/^[A-Za-z0-9+/=_-]{4,128}$/.test(s3AccessKeyId)) {
            throw new ConfigError("backup.s3AccessKeyId", `"${s3AccessKeyId}" is not an access key id`);
        }
    }
    if (s3 && s3AccessKeyId === undefined) {
        throw new ConfigError("backup.s3AccessKeyId", "is required for an s3 repository (its secret: mailstack:backupS3SecretKey)");
    }
    return { repository, keep, schedule, knownHosts, s3AccessKeyId };
}

function parseBruteForce(value: unknown): BruteForceConfig {
    const raw = value === undefined || value === null ? {} : record("bruteForce", value);
    onlyKeys("bruteForce", raw, ["maxRetry", "findTime", "banTime", "ignore"]);
    const int = (key: "maxRetry" | "findTime" | "banTime", fallback: number, min: number): number => {
        const v = raw[key] ?? fallback;
        if (typeof v !== "number" || !Number.isInteger(v) || v < min) {
            throw new ConfigError(`bruteForce.${key}`, `expected a whole number of at least ${min}, got ${JSON.stringify(v)}`);
        }
        return v;
    };
    const ignore = strList("bruteForce.ignore", raw.ignore, false);
    ignore.forEach((c, i) => {
        if (!isCidr(c)) {
            throw new ConfigError(`bruteForce.ignore[${i}]`, `"${c}" is not a CIDR such as 203.0.113.7/32`);
        }
    });
    return {
        maxRetry: int("maxRetry", 5, 1), findTime: int("findTime", 600, 1), banTime: int("banTime", 3600, 1), ignore,
    };
}

function parseAdminEmail(value: unknown, known: Known, sources: string[]): string {
    if (value === undefined || value === null) {
        throw new ConfigError("adminEmail", "is required: postmaster@ and abuse@ of every domain and root's mail " +
            `go there (got ${String(value)})`);
    }
    const address = str("adminEmail", value).toLowerCase();
    if (!address.includes("@")) {
        throw new ConfigError("adminEmail", `"${address}" is not an email address`);
    }
    checkAliasTarget("adminEmail", address, known, sources);
    const { local, domain: d } = splitAddress(address);
    if (known.domains.includes(d) && ["postmaster", "abuse", "root"].includes(local)) {
        throw new ConfigError("adminEmail", `"${address}" is one of the addresses that go to adminEmail itself`);
    }
    return address;
}

/** The names every domain must answer (RFC 2142), and root, which the base domain's system mail goes to. */
export const ADMIN_ALIASES = ["postmaster", "abuse"] as const;

/**
 * The aliases postfix serves: the configured ones, plus postmaster@ and abuse@ of every domain and root@BASE to
 * adminEmail where the config does not route them itself.
 */
export function effectiveAliases(c: Pick<MailConfig, "baseDomain" | "virtualDomains" | "aliases" | "adminEmail">):
    Record<string, string[]> {
    const out: Record<string, string[]> = { ...c.aliases };
    const sources = [c.baseDomain, ...c.virtualDomains].flatMap((d) => ADMIN_ALIASES.map((n) => `${n}@${d}`));
    for (const source of [...sources, `root@${c.baseDomain}`]) {
        out[source] ??= [c.adminEmail];
    }
    return out;
}

interface Known {
    baseDomain: string;
    domains: string[];
    virtualUsers: string[];
    systemUsers: string[];
}

/**
 * `renames`: old address -> new address, or old domain -> new domain (every virtual user of the new domain then
 * had the same name in the old one, unless an address entry says otherwise). The new side must be configured,
 * the old one must not be any more.
 */
function parseRenames(value: unknown, known: Known): Rename[] {
    if (value === undefined || value === null) {
        return [];
    }
    const raw = record("renames", value);
    const byAddress = new Map<string, string>();
    const domainRenames: [string, string][] = [];
    for (const [source, target] of Object.entries(raw)) {
        const key = `renames["${source}"]`;
        const from = source.toLowerCase();
        const to = str(key, target).toLowerCase();
        if (from.includes("@") !== to.includes("@")) {
            throw new ConfigError(key, `"${source}" -> "${to}" renames an address to a domain or a domain to an address`);
        }
        if (from.includes("@")) {
            if (!/^[^@]+@[^@]+$/.test(from) || !LOCAL_PART.test(splitAddress(from).local) || !isDomain(splitAddress(from).domain)) {
                throw new ConfigError(key, `"${source}" is not an address of the form user@domain`);
            }
            if (!known.virtualUsers.includes(to)) {
                throw new ConfigError(key, `"${to}" is not in virtualUsers: a rename needs the new address configured`);
            }
            if (known.virtualUsers.includes(from)) {
                throw new ConfigError(key, `"${source}" is still in virtualUsers: a renamed user has only the new address`);
            }
            byAddress.set(to, from);
        } else {
            if (!isDomain(from)) {
                throw new ConfigError(key, `"${source}" is not a domain`);
            }
            if (!known.domains.includes(to) || to === known.baseDomain) {
                throw new ConfigError(key, `"${to}" is not in virtualDomains: a rename needs the new domain configured`);
            }
            if (known.domains.includes(from)) {
                throw new ConfigError(key, `"${source}" is still configured: a renamed domain has only the new name`);
            }
            domainRenames.push([from, to]);
        }
    }
    for (const [from, to] of domainRenames) {
        for (const user of known.virtualUsers.filter((u) => splitAddress(u).domain === to && !byAddress.has(u))) {
            byAddress.set(user, `${splitAddress(user).local}@${from}`);
        }
    }
    const seen = new Map<string, string>();
    for (const [to, from] of byAddress) {
        const other = seen.get(from);
        if (other !== undefined) {
            throw new ConfigError("renames", `"${from}" is renamed twice, to "${other}" and to "${to}"`);
        }
        seen.set(from, to);
    }
    return [...byAddress].map(([to, from]) => ({ from, to })).sort((a, b) => a.to.localeCompare(b.to));
}

function parseAliases(value: unknown, known: Known): Record<string, string[]> {
    if (value === undefined || value === null) {
        return {};
    }
    const raw = record("aliases", value);
    noDuplicates("aliases", Object.keys(raw));
    const sources = Object.keys(raw).map((s) => s.toLowerCase());
    const aliases: Record<string, string[]> = {};
    for (const [source, target] of Object.entries(raw)) {
        const key = `aliases["${source}"]`;
        const address = source.toLowerCase();
        if (/^[^@]+@[^@]+$/.test(address)) {
            noDelimiter(key, source, splitAddress(address).local);
        }
        if (!/^[^@]+@[^@]+$/.test(address) || !LOCAL_PART.test(splitAddress(address).local)) {
            throw new ConfigError(key, `"${source}" is not an address of the form user@domain`);
        }
        if (!known.domains.includes(splitAddress(address).domain)) {
            throw new ConfigError(key, `"${source}" is not in the base domain or a virtual domain`);
        }
        if (known.virtualUsers.includes(address)) {
            throw new ConfigError(key, `"${source}" is a virtual user's own address and cannot also be an alias`);
        }
        const targets = (Array.isArray(target) ? target : [target]).map((t, i) => str(`${key}[${i}]`, t).toLowerCase());
        if (targets.length === 0) {
            throw new ConfigError(key, `has no target (got ${JSON.stringify(target)})`);
        }
        for (const t of targets) {
            checkAliasTarget(key, t, known, sources);
        }
        aliases[address] = targets;
    }
    checkAliasLoops(aliases, known.baseDomain);
    return aliases;
}

function checkAliasTarget(key: string, target: string, known: Known, sources: string[]): void {
    if (!target.includes("@")) {
        if (!SYSTEM_NAME.test(target)) {
            throw new ConfigError(key, `target "${target}" is neither an address nor a system user name`);
        }
        if (RESERVED_USERS.has(target) && target !== "root") {
            throw new ConfigError(key, `target "${target}" is a reserved system account`);
        }
        return; // A bare name is a system account; pre-existing ones are not declared, so it cannot be checked here.
    }
    // The local part goes into a postfix table as is: a comma or space in it would make it several targets.
    if (!/^[^@\s]+@[^@\s]+$/.test(target) || !DOT_ATOM.test(splitAddress(target).local) ||
        !isDomain(splitAddress(target).domain)) {
        throw new ConfigError(key, `target "${target}" is not a valid address`);
    }
    const { local, domain: d } = splitAddress(target);
    if (known.domains.includes(d) && d !== known.baseDomain && !known.virtualUsers.includes(target) &&
        !sources.includes(target)) {
        // An unknown local target would bounce every message sent to the alias.
        throw new ConfigError(key, `target "${target}" is in a virtual domain but is neither a virtual user nor an alias`);
    }
    if (d === known.baseDomain && RESERVED_USERS.has(local) && local !== "root") {
        throw new ConfigError(key, `target "${target}" is a reserved system account`);
    }
}

function checkAliasLoops(aliases: Record<string, string[]>, baseDomain: string): void {
    // postfix qualifies a bare target with $myorigin (the base domain) and looks the result up again, so
    // a@BASE -> b, b@BASE -> a is a loop. A base-domain address that maps to itself (alice@BASE -> alice, keep a copy
    // and forward) is not expanded again by postfix: it is delivered locally.
    const qualify = (t: string): string => (t.includes("@") ? t : `${t}@${baseDomain}`);
    const visit = (address: string, path: string[]): void => {
        const next = aliases[address];
        if (next === undefined) {
            return;
        }
        if (path.includes(address)) {
            throw new ConfigError(`aliases["${path[0]}"]`, `alias loop: ${[...path, address].join(" -> ")}`);
        }
        next.map(qualify)
            .filter((t) => !(t === address && splitAddress(address).domain === baseDomain))
            .forEach((t) => visit(t, [...path, address]));
    };
    Object.keys(aliases).forEach((a) => visit(a, []));
}
