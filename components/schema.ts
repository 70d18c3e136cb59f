// The `mailstack:*` keys, each declared once: type, default, description, secret or not (zod). The types of
// config.ts are inferred from it, Pulumi.yaml's `config:` block and the README's config table are generated from it
// (scripts/schema.ts), and stackConfig.ts reads exactly these keys. A check here looks at one value alone; rules
// between keys are in config.ts (`rules`). Messages name no key: the path of the issue does (config.ts).

import { isIP, isIPv4 } from "net";
import { z } from "zod";
import { isCalendar } from "./calendar";

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
// No "+": it is the recipient_delimiter (postfix and dovecot), so "a+b@" is read as user "a" with extension "b".
export const LOCAL_PART = /^[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?$/;
export const SYSTEM_NAME = /^[a-z_][a-z0-9_-]{0,31}$/;

/** Names that belong to the system or to the mail software and must never become mail accounts. */
export const RESERVED_USERS = new Set([
    "root", "daemon", "bin", "sys", "sync", "games", "man", "lp", "mail", "news", "uucp", "proxy",
    "www-data", "backup", "list", "irc", "nobody", "systemd-network", "systemd-resolve", "messagebus",
    "sshd", "_apt", "vmail", "postfix", "dovecot", "dovenull", "postdrop",
]);

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

// ---- builders: one message per value, the first check that fails (abort), in the words users saw before ----

const show = (v: unknown): string => JSON.stringify(v);
type Check = [(v: string) => boolean, (v: string) => string];

/** A non-empty string, trimmed, then each check in turn. */
const text = (...checks: Check[]): z.ZodType<string, unknown> => required("", ...checks);

/** As text, with `missing` as the message when the key is not set at all. */
function required(missing: string, ...checks: Check[]): z.ZodType<string, unknown> {
    const empty = (iss: { input?: unknown }): string => (iss.input === undefined && missing !== "" ? missing
        : `expected a non-empty string, got ${show(iss.input)}`);
    return checks.reduce<z.ZodType<string, unknown>>((s, [ok, message]) =>
        s.refine(ok, { error: (iss) => message(String(iss.input)), abort: true }),
    z.string({ error: empty }).trim().min(1, { error: empty, abort: true }));
}

const lower = (s: z.ZodType<string, unknown>): z.ZodType<string, unknown> => s.transform((v) => v.toLowerCase());
const domain = (): z.ZodType<string, unknown> =>
    lower(text([(v) => isDomain(v.toLowerCase()), (v) => `"${v}" is not a valid domain name`]));
const cidr = (): z.ZodType<string, unknown> => text([isCidr, (v) => `"${v}" is not a CIDR such as 203.0.113.7/32`]);
const flag = (): z.ZodBoolean => z.boolean({ error: (iss) => `expected true or false, got ${show(iss.input)}` });

/** A whole number in [min, max]; `message` words the refusal. */
function whole(min: number, max: number, message = `expected a whole number from ${min} to ${max}`): z.ZodNumber {
    return z.number({ error: (iss) => `${message}, got ${show(iss.input)}` }).int().min(min).max(max);
}

/** A list; `required`: missing is refused rather than empty. */
function list<T extends z.ZodType>(item: T, required = false) {
    return z.array(item, {
        error: (iss) => (iss.input === undefined && required
            ? "is required and must be a non-empty list, got undefined" : `expected a list, got ${show(iss.input)}`),
    });
}

const objectError = { error: (iss: { input?: unknown }) => `expected an object, got ${show(iss.input)}` };
/** An object that refuses keys it does not know: a typo of an optional key would otherwise silently become its default. */
const object = <S extends z.ZodRawShape>(shape: S) => z.strictObject(shape, objectError);
const map = <T extends z.ZodType>(value: T) => z.record(z.string(), value, objectError);
/** A choice among words, refused with `unknown WHAT "x" (a, b)`. */
function oneOf<const T extends readonly [string, ...string[]]>(values: T, what: string) {
    return z.enum(values, { error: (iss) => `unknown ${what} ${show(iss.input)} (${values.join(", ")})` });
}

const SIZE = /^[1-9][0-9]{0,8}[kMGT]$/;
/** A dovecot size such as "2G": digits and one unit k, M, G or T. */
const size = (): z.ZodType<string, unknown> => z.string({ error: (iss) => sizeMessage(iss.input) })
    .trim().refine((v) => SIZE.test(v), { error: (iss) => sizeMessage(iss.input) });
const sizeMessage = (v: unknown): string =>
    `expected a size such as "500M" or "2G" (a whole number and k, M, G or T), got ${show(v)}`;

/** One DNS label: a DKIM selector, a key name, an app-password device (render/dovecot.ts checks it again). */
export const DNS_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
/** A name that becomes one DNS label and part of a file name (a DKIM selector, a certificate key's name): `what`
 * words the refusal. */
const label = (what: string): z.ZodType<string, unknown> => text([(v) => DNS_LABEL.test(v),
    (v) => `"${v}" is not ${what} (one DNS label: lower case letters, digits, -)`]);
/** A device of an app password: the name of its dovecot passdb (`app-DEVICE`, which the login log names) and of its
 * file. One label, as a selector: short, and safe in a file name and a dovecot section name. */
const device = (): z.ZodType<string, unknown> => label("a device name");
/** The selector becomes SELECTOR._domainkey.DOMAIN and part of a key file name. */
const selector = (): z.ZodType<string, unknown> => label("a DKIM selector");
/** Where the hostname certificate's named keys live on the server, NAME.pem each (beside the certificates, so on
 * the mail-state volume); files/mailstack-ctl gets it through CTL_PATHS. */
export const HOST_KEYS = "/etc/letsencrypt/mailstack-keys";
/** A key of the hostname certificate: HOST_KEYS/NAME.pem on the server. */
const keyName = (): z.ZodType<string, unknown> => label("a key name");

/** SPF mechanisms that name senders (RFC 7208 5): include:, a, mx, ip4:, ip6:; never all, redirect= or exp=,
 * which would change what the rest of our record means. Returned normalized (lower case, single spaces). */
function spfMechanisms(): z.ZodType<string, unknown> {
    const ip4 = /^ip4:\d{1,3}(\.\d{1,3}){3}(\/\d{1,2})?$/;
    const ip6 = /^ip6:[0-9a-f:]+(\/\d{1,3})?$/;
    const good = (t: string): boolean => {
        const m = /^(include|a|mx):(.+?)(\/\d{1,3})?$/.exec(t);
        return (m !== null && isDomain(m[2]) && (m[1] !== "include" || m[3] === undefined)) || t === "a" ||
            t === "mx" || ip4.test(t) || ip6.test(t);
    };
    const terms = (v: string): string[] => v.toLowerCase().split(/\s+/).filter((t) => t !== "");
    return z.string({ error: (iss) => `expected a non-empty string, got ${show(iss.input)}` }).trim()
        .refine((v) => v !== "", { error: "is empty (e.g. include:spf.relay.example)", abort: true })
        .refine((v) => terms(v).every(good), {
            error: (iss) => `${show(terms(String(iss.input)).find((t) => !good(t)))} is not an SPF mechanism naming ` +
                "senders (include:DOMAIN, a, a:DOMAIN, mx, mx:DOMAIN, ip4:ADDRESS, ip6:ADDRESS)",
        })
        .transform((v) => terms(v).join(" "));
}

const SFTP = /^sftp:(?:\/\/[a-z_][a-z0-9_-]*@[A-Za-z0-9.:[\]-]+(?::\d{1,5})?\/\/?[^\s'"\\]+|[a-z_][a-z0-9_-]*@[A-Za-z0-9.-]+:\/?[^\s'"\\]+)$/;
export const S3 = /^s3:https?:\/\/[^\s'"\\]+$/;

const describe = <T extends z.ZodType>(schema: T, description: string, extra: { secret?: true; readme?: string } = {}): T =>
    schema.meta({ description, ...extra });

// ---- the keys ----

const hetzner = object({
    kind: z.literal("hetzner"),
    serverType: text().default("cx22"),
    location: text().default("nbg1"),
    image: text().default("debian-12"),
    sshPublicKey: text([isSshPublicKey, (v) => `${show(v)} is not an OpenSSH public key (ssh-ed25519 AAAA...)`]),
    adminCidrs: list(cidr(), true).min(1, "must list at least one CIDR, or nobody can reach SSH (got [])"),
    /** Hetzner's volumes hold 10 to 10240 GB, in whole GB; they can grow but not shrink. */
    volumeSize: describe(whole(10, 10240, "expected whole GB from 10 to 10240").default(10),
        "GB of the Hetzner volume that holds the mail state (10 to 10240; it can grow, not shrink)"),
    protect: describe(flag().default(true),
        "Hetzner delete/rebuild protection and Pulumi `protect` on server and volume; `false` only for test stacks"),
    replaceServer: describe(flag().default(false),
        "`true` lifts the Pulumi protection of the server (not of the volume) for a planned replacement"),
});

const existing = object({
    kind: z.literal("existing"),
    // The address is the serverIp output and the value of the A and PTR records: an IPv4 address.
    address: text([isIPv4, (v) => `"${v}" is not an IPv4 address (it becomes the A record and PTR of the hostname)`]),
    port: whole(1, 65535, "expected a TCP port number").default(22),
    user: text([(v) => SYSTEM_NAME.test(v), (v) => `"${v}" is not a valid Unix user name`]).default("root"),
    id: describe(text().optional(), "existing hosts: who the machine is (default: its address); a new value after a " +
        "reinstall sets everything up again"),
    storage: describe(text([(v) => /^\/dev\/[A-Za-z0-9_./:-]+$/.test(v),
        (v) => `"${v}" is not a block device path such as /dev/sdb`]).optional(),
    "existing hosts: a block device such as `/dev/sdb` for the mail state (see below); unset, nothing moves"),
}).transform((h) => ({ ...h, id: h.id ?? h.address }));

const testbed = object({
    kind: z.literal("testbed"),
    suite: text([(v) => ["bookworm", "trixie"].includes(v),
        (v) => `"${v}" is not a supported Debian suite (bookworm, trixie)`]).default("bookworm"),
});

const host = z.preprocess(
    // hetzner is the kind when none is given
    (v) => (typeof v === "object" && v !== null && !Array.isArray(v) && !("kind" in v) ? { ...v, kind: "hetzner" } : v),
    z.discriminatedUnion("kind", [hetzner, existing, testbed], {
        error: (iss) => (typeof iss.input === "object" && iss.input !== null && !Array.isArray(iss.input)
            ? `unknown host kind ${show((iss.input as { kind?: unknown }).kind)} (hetzner, existing, testbed)`
            : `expected an object, got ${show(iss.input)}`),
    }));

const certificate = object({
    email: text([(v) => /^[^@\s]+@[^@\s]+$/.test(v) && isDomain(v.slice(v.lastIndexOf("@") + 1).toLowerCase()),
        (v) => `"${v}" is not an email address`]),
    acme: oneOf(["letsencrypt", "staging", "custom"], "ACME mode").default("staging"),
    directory: text([(v) => /^https:\/\/\S+$/.test(v), (v) => `"${v}" is not an https:// ACME directory URL`]).optional(),
    caBundle: text([(v) => v.startsWith("/"), (v) => `"${v}" must be an absolute path on the server`]).optional(),
    caa: lower(text([(v) => isDomain(v.toLowerCase()), (v) => `"${v.toLowerCase()}" is not a CA's issuer domain such as letsencrypt.org`])).optional(),
    key: describe(keyName().optional(), "the hostname certificate's key, by name (made once in " +
        `\`${HOST_KEYS}\` on the server): the certificate is renewed once with it, and its TLSA record ` +
        "alone is published. Unset: the key certbot made. Keep it once set"),
    nextKey: describe(keyName().optional(), "the hostname certificate's next key: made once, unused, its TLSA record " +
        "published beside the current key's (a rollover: `nextKey`, `up`, twice the TTL, then `key`, `up`; DNS, below)"),
});

const bruteForce = object({
    maxRetry: whole(1, Number.MAX_SAFE_INTEGER, "expected a whole number of at least 1").default(5),
    findTime: whole(1, Number.MAX_SAFE_INTEGER, "expected a whole number of at least 1").default(600),
    banTime: whole(1, Number.MAX_SAFE_INTEGER, "expected a whole number of at least 1").default(3600),
    /** Addresses never banned (an office, a monitoring host). */
    ignore: list(cidr()).default([]),
});

const relayHost = object({
    host: lower(text([(v) => isDomain(v.toLowerCase()),
        (v) => `"${v.toLowerCase()}" is not a host name (the relay's certificate is checked against it)`])),
    port: whole(1, 65535).optional(),
    tls: oneOf(["starttls", "implicit"], "TLS mode").optional(),
    // postfix's sasl_passwd holds "username:password" as one value: a colon would split it, a space end it.
    username: text([(v) => !/[:\s]/.test(v), (v) => `"${v}" contains a colon or white space`]),
    spfInclude: spfMechanisms().optional(),
    password: z.never({
        error: "must not be in plain config: set it as a secret with `pulumi config set --secret mailstack:relayPassword` " +
            "(content on stdin)",
    }).optional(),
}).transform(({ password: _, ...r }) => {
    // Each follows the other: 465 is implicit TLS, anything else STARTTLS.
    const port = r.port ?? (r.tls === "implicit" ? 465 : 587);
    return { ...r, port, tls: r.tls ?? (port === 465 ? "implicit" as const : "starttls" as const) };
});

const resolver = text([(r) => {
    const m = /^(?:\[([0-9a-f:.]+)\]|([0-9.]+))(?::([0-9]{1,5}))?$/i.exec(r);
    return m !== null && isIP(m[1] ?? m[2]) !== 0 && (m[3] === undefined || (Number(m[3]) >= 1 && Number(m[3]) <= 65535));
}, (r) => `"${r}" is not an address such as 192.0.2.53 or 192.0.2.53:5353`]);

/** What a listing in one of spam.blocklists scores (components/render/rspamd.ts): rspamd's own for Spamhaus' XBL. */
export const BLOCKLIST_SCORE = 4;

const doctor = object({
    resolvers: describe(list(resolver).default([]), "`IP` or `IP:PORT`: what `npm run doctor` asks; the system's resolver when empty"),
    blocklists: describe(list(domain()).default(["zen.spamhaus.org", "bl.spamcop.net", "b.barracudacentral.org"]),
        "DNS blocklist zones the sending addresses are looked up in"),
    queueMaxMessages: whole(0, 1000000).default(100),
    queueMaxAgeHours: whole(1, 10000).default(24),
    diskMaxPercent: whole(1, 100).default(90),
    backupMaxAgeHours: whole(1, 100000).default(48),
    certMinDays: whole(0, 365).default(14),
    intervalMinutes: describe(whole(1, 1440).default(15), "minutes between two runs of the server's own check timer"),
    outboundProbe: describe(domain().default("gmail-smtp-in.l.google.com"),
        "the MX whose port 25 must be reachable when there is no `relayHost`"),
});

const backup = object({
    repository: text([(v) => SFTP.test(v) || S3.test(v) || /^\/[^\s'"\\]+$/.test(v),
        (v) => `"${v}" is not a restic repository of the form sftp:USER@HOST:/PATH, sftp://USER@HOST:PORT//PATH, ` +
            "s3:https://HOST/BUCKET or /PATH"]),
    keep: object({ daily: whole(0, 10000).default(7), weekly: whole(0, 10000).default(4), monthly: whole(0, 10000).default(6) })
        .prefault({}),
    // Checked here, at preview, with systemd's own grammar: a schedule systemd refuses would leave the timer
    // "bad-setting" on the server, and no backup would ever run again.
    schedule: text([(v) => v.length <= 64 && isCalendar(v), (v) => `"${v}" is not a systemd OnCalendar expression such as daily`])
        .default("*-*-* 03:15:00"),
    knownHosts: describe(text().optional(), "the sftp host's known_hosts line (unset: the first key seen is kept)"),
    s3AccessKeyId: describe(text([(v) => /^[A-Za-z0-9+/=_-]{4,128}$/.test(v), (v) => `"${v}" is not an access key id`]).optional(),
        "for s3: the access key id (its secret key is `backupS3SecretKey`)"),
});

/** TTL of the records the stack publishes: short by default, so a mistake heals quickly. */
const ttl = () => describe(whole(60, 86400, "expected seconds from 60 to 86400").default(300), "seconds");
/** DANE needs signed zones: only then is the TLSA record published (or listed, with `none`). Hetzner does not sign. */
const dnssec = () => describe(flag().default(false), "the zones are DNSSEC-signed: the TLSA record of DANE is published too");
const dnsNone = object({ provider: z.literal("none"), dnssec: dnssec() });
const dnsHetzner = object({
    provider: z.literal("hetzner"),
    ttl: ttl(),
    // Said in the config, not looked up: a preview never calls the Hetzner API (components/dns/hetzner.ts).
    existingZones: describe(list(domain()).default([]), "zones already in the Hetzner project: adopted, never deleted"),
});
const dnsRfc2136 = object({
    provider: z.literal("rfc2136"),
    server: text([(v) => isIP(v) !== 0, (v) => `"${v}" is not an IP address (the primary name server of the zones)`]),
    port: whole(1, 65535, "expected a TCP port number").default(53),
    keyName: lower(text([(v) => isDomain(v.toLowerCase()) || LABEL.test(v.toLowerCase()),
        (v) => `"${v}" is not a TSIG key name (a DNS name such as mailstack-key)`])),
    keyAlgorithm: oneOf(["hmac-sha256", "hmac-sha384", "hmac-sha512"], "TSIG algorithm").default("hmac-sha256"),
    ttl: ttl(),
    dnssec: dnssec(),
});
const dns = z.discriminatedUnion("provider", [dnsNone, dnsHetzner, dnsRfc2136], {
    error: (iss) => (typeof iss.input === "object" && iss.input !== null && !Array.isArray(iss.input)
        ? `unknown DNS provider ${show((iss.input as { provider?: unknown }).provider)} (none, hetzner, rfc2136)`
        : `expected an object, got ${show(iss.input)}`),
});

/** A Pulumi secret: read with getSecret, never part of the parsed config (its brand keeps it out of MailConfig). */
const secret = (description: string) => describe(z.string().brand<"secret">().optional(), description, { secret: true });

/** Every `mailstack:*` key, in the order of the README table. */
export const Schema = object({
    hostname: describe(lower(text([(v) => isDomain(v.toLowerCase()) && v.split(".").length >= 3,
        (v) => `"${v}" is not a fully qualified host name such as mail.example.org`])), "FQDN of the server: MX target, certificate name, PTR. `mail.example.org`"),
    baseDomain: describe(domain(), "domain of the system (PAM) users"),
    virtualDomains: describe(list(text([(v) => isDomain(v.toLowerCase()), (v) => `"${v}" is not a valid domain name`]), true).min(1, "must list at least one domain, got [] (a single-domain server needs no mailstack)"),
        "list of extra domains (never the base domain)"),
    virtualUsers: describe(list(text()).default([]),
        "list of full addresses in those domains; each gets a password (secret output `virtualUserPasswords`). No `+` " +
        "in the user part (nor in an alias): it is the address-extension delimiter, `bob+news@` is delivered to `bob@`"),
    systemUsers: describe(list(text([(v) => SYSTEM_NAME.test(v), (v) => `"${v}" is not a valid Unix user name (lower case, no @)`],
        [(v) => !RESERVED_USERS.has(v), (v) => `"${v}" is a reserved system account`])).default([]),
    "accounts the stack creates (bare names), each with a generated password (`systemUserPasswords`). An account " +
        "that already exists is adopted: it becomes a mail account and keeps its own password. Accounts already on " +
        "the server need no entry and keep working"),
    aliases: describe(map(z.union([z.string(), z.array(z.unknown())])).default({}),
        "map: address -> address or list of addresses; a bare name means a system user; an outside target is " +
        "forwarded with SRS (below)"),
    renames: describe(map(z.unknown()).default({}),
        "map: old address -> new address (or old domain -> new domain) of virtual users: the mailbox moves, the " +
        "password stays. The new side must be configured; drop the entry once applied"),
    host: describe(host, "where the server runs, by `kind`: `hetzner` (created with its volume), `existing` (a " +
        "Debian server reached over ssh) or `testbed` (the throwaway server of `npm run local`)",
    { readme: "{kind: hetzner, serverType: cx22, location: nbg1, image: debian-12, sshPublicKey, adminCidrs, volumeSize: 10, " +
        "protect: true, replaceServer: false}`, `{kind: existing, address, port: 22, user: root, id: ADDRESS, storage}` or " +
        "`{kind: testbed, suite: bookworm}" }),
    sshPrivateKey: secret("for `hetzner` and `existing`: the key the stack uses over ssh"),
    certificate: describe(certificate, "certbot's certificates, one per lineage: `mailstack` for the hostname " +
        "(key reused across renewals), `mailstack-DOMAIN` for each domain's `mail.`, `autoconfig.`, `autodiscover.`, " +
        "`mta-sts.` names (served by SNI); `email` is the ACME account's " +
        "contact, `acme` one of `letsencrypt`, `staging`, `custom`; `directory`/`caBundle` for custom CAs such as Pebble " +
        "(`caBundle`: a path on the server); `caa`: the custom CA's CAA issuer domain, without it no CAA record is suggested; " +
        "`nextKey`/`key`: the hostname key's rollover (DANE, below)"),
    mtaSts: describe(oneOf(["enforce", "testing"], "MTA-STS mode").default("enforce"), "MTA-STS policy mode"),
    imaps: describe(flag().default(false), "also serve IMAP over implicit TLS on 993"),
    smtps: describe(flag().default(false), "also serve submission over implicit TLS on 465"),
    webmail: describe(flag().default(false), "Roundcube at `https://HOSTNAME/mail/` and `https://webmail.DOMAIN/` of " +
        "each domain (the certificates and `dnsRecords` cover those names): the same logins as mail clients; users " +
        "change their password and edit their sieve filters there; its database is on the volume and in backups; " +
        "failed logins count for fail2ban's ban"),
    adminEmail: describe(lower(required("is required: postmaster@ and abuse@ of every domain and root's mail go there " +
        "(got undefined)", [(v) => v.includes("@"), (v) => `"${v.toLowerCase()}" is not an email address`])),
        "where `postmaster@` and `abuse@` of every domain (unless `aliases` routes them) and root's mail go; an " +
        "outside address, a virtual user or alias, or a base-domain account (not root)"),
    bruteForce: describe(bruteForce.prefault({}), "fail2ban bans an address on 143/443/587/4190 (and 993/465 when on) for " +
        "`banTime` seconds after `maxRetry` failed logins within `findTime` seconds (on the mail ports, and webmail's form); `ignore` lists CIDRs never banned"),
    relayHost: describe(relayHost.optional(), "(`tls: implicit` for port 465): all outbound mail goes through this " +
        "smarthost, with SASL AUTH and its certificate verified against the system's CAs (`smtp_tls_security_level = " +
        "secure`); its password is `relayPassword`. `spfInclude`: the SPF mechanisms the relay documents for its " +
        "senders (`include:spf.relay.example`; `include:`, `a`, `mx`, `ip4:`, `ip6:`, several separated by spaces), " +
        "added to every domain's SPF in `dnsRecords`. Without `relayHost`, direct delivery, with DANE where the " +
        "destination publishes TLSA records and MTA-STS where it publishes an enforce policy (Outbound TLS, below)",
    { readme: "{host, port: 587, tls: starttls, username, spfInclude}" }),
    relayPassword: secret("the smarthost's password: `npm run pulumi -- config set --secret mailstack:relayPassword " +
        "--stack NAME` (typed, or `< file`)"),
    logRetentionDays: describe(whole(1, 3650).default(30),
        "days of `/var/log/mail.log` and `/var/log/dovecot.log` that logrotate keeps (daily, compressed)"),
    alertWebhook: secret("an `https://` URL (ntfy, Slack, healthchecks...): the server's check timer posts " +
        "`{\"host\",\"status\",\"failures\",\"text\"}` there when failures appear, change or clear"),
    doctor: describe(doctor.prefault({}), "the checks of `npm run doctor` and of the server's own check timer"),
    quota: describe(object({ default: size().default("2G"), users: map(size()).default({}) }).prefault({}),
        "the mailbox quota of every user, and per-user sizes (`{\"bob@example.net\": \"500M\"}`; a whole number and " +
        "`k`, `M`, `G` or `T`); system users are written `NAME@baseDomain`; a renamed user keeps the quota of the old " +
        "address. A message that would not fit is refused at RCPT with `452 4.2.2` (temporary: the sender retries) and " +
        "deferred, never bounced, when it only shows at delivery; `preview` warns when a quota is below a mailbox's " +
        "current size"),
    appPasswords: describe(map(list(device())).default({}),
        "map: user (as in `quota.users`: `bob@example.net`, or `NAME@baseDomain` for a system user) -> list of device " +
        "names (`[phone, laptop]`); each device gets a password of its own (secret output `appPasswords`, user -> device " +
        "-> password) that logs in on IMAP, SMTP AUTH and ManageSieve only (dovecot's, never SSH or the system " +
        "login), beside the user's own password. Dovecot's log names the device of each such login " +
        "(`device=phone`, `app-phone`). Removing a device revokes its password at the next `up`"),
    passwordResets: describe(map(text()).default({}),
        "map: user (as in `quota.users`) -> any word (a date, say): the password the user chose (`mailstack-ctl " +
        "password`) is replaced by the generated one again " +
        "(`virtualUserPasswords`, `systemUserPasswords`) at the next `up`, once per word; a new word resets again. " +
        "Without it, `up` keeps the passwords users chose, and those outputs name the users who did, never the passwords"),
    loginScope: describe(oneOf(["all-humans", "listed"], "login scope").default("all-humans"),
        "`all-humans`: every account with a uid in the server's `UID_MIN`..`UID_MAX` (`/etc/login.defs`) may log in on " +
        "IMAP and SMTP AUTH and receive mail, never root, system accounts or vmail; `listed`: only the `systemUsers` " +
        "listed here (and the virtual users)"),
    backup: describe(backup.optional(), "restic backups of the mail state on a systemd timer (`schedule` is an " +
        "OnCalendar expression, checked at preview with systemd's grammar; a run is stopped after 6 h and reported as " +
        "failed). `repository`: `sftp:USER@HOST:/PATH`, `sftp://USER@HOST:PORT//PATH`, `s3:https://HOST/BUCKET` or a " +
        "local `/PATH`"),
    backupPassword: secret("required with `backup`: the restic repository's password; on the server only in a 0600 " +
        "file restic reads (`RESTIC_PASSWORD_FILE`)"),
    backupSshKey: secret("for sftp repositories: the private key the server logs in with (the testbed uses its own)"),
    backupS3SecretKey: secret("for s3 repositories, with `backup.s3AccessKeyId`"),
    dkim: describe(object({ selector: selector().default("mailstack"), nextSelector: selector().optional() }).prefault({}),
        "every message our users submit (and the server's own mail) is DKIM-signed by rspamd with a 2048-bit RSA key " +
        "per domain and selector, kept in the stack's state (secret), so it survives re-runs and a new server. " +
        "Rotation: set `nextSelector`, publish its `SELECTOR._domainkey` record from `dnsRecords`, wait for DNS, then " +
        "make it `selector` and drop `nextSelector`"),
    dns: describe(dns.default({ provider: "none", dnssec: false }), "where the stack publishes the records of `dnsRecords`: `none` " +
        "(you publish them), `hetzner` (Hetzner's DNS: a zone per domain, created by the stack, or adopted when listed in " +
        "`existingZones`: never deleted, and record sets the stack does not own are never touched) or `rfc2136` (dynamic updates signed with the TSIG key `dnsKey`, to BIND, Knot, PowerDNS...); one " +
        "record set per name and type, with `ttl` seconds. `dnssec: true` (your zones are signed; Hetzner's are not): the " +
        "TLSA record of DANE for the hostname's certificate too",
    { readme: "{provider: none, dnssec: false}`, `{provider: hetzner, ttl: 300, existingZones: []}` or `{provider: rfc2136, server, " +
        "port: 53, keyName, keyAlgorithm: hmac-sha256, ttl: 300, dnssec: false}" }),
    dnsKey: secret("with `dns.provider: rfc2136`: the TSIG key's secret (base64), as `tsig-keygen` or `keymgr` prints it (the testbed uses its own)"),
    spam: describe(object({
        addHeaderScore: z.number({ error: (iss) => `expected a positive number, got ${show(iss.input)}` }).positive().default(6),
        rejectScore: z.number({ error: (iss) => `expected a positive number, got ${show(iss.input)}` }).positive().default(15),
        greylisting: flag().default(false),
        blocklists: list(domain()).default([]),
    }).prefault({}), "rspamd's scores on port 25; from `addHeaderScore` a message gets `X-Spam: Yes` (and is filed " +
        "into Junk), from `rejectScore` it is refused; `greylisting`: a 4xx on first contact (it delays mail from new senders); " +
        "`blocklists`: DNS blocklist zones to look the sending address up in, besides rspamd's own (Spamhaus and others): " +
        `a listing scores ${BLOCKLIST_SCORE}, through the server's own resolver`),
});

type Output = z.output<typeof Schema>;
export type SecretKey = { [K in keyof Output]-?: Output[K] extends z.core.$brand<"secret"> | undefined ? K : never }[keyof Output];
/** The config as the schema gives it, before the rules between keys (config.ts). */
export type Parsed = Omit<Output, SecretKey>;
export type HetznerHost = z.output<typeof hetzner>;
export type ExistingHost = z.output<typeof existing>;
export type TestbedHost = z.output<typeof testbed>;

/** The keys whose values are Pulumi secrets, read with getSecret and never part of the parsed config. */
export const SECRET_KEYS = Object.entries(Schema.shape).filter(([, s]) => s.meta()?.secret === true).map(([k]) => k);

// ---- reading the schema: the key paths of errors (config.ts), Pulumi.yaml and the README (scripts/schema.ts) ----

export interface Def {
    type: string;
    innerType?: Node;
    in?: Node;
    out?: Node;
    shape?: Record<string, Node>;
    options?: Node[];
    element?: Node;
    valueType?: Node;
}
export interface Node {
    _zod: { def: Def };
}

/** The schema a value is checked by, past defaults, optionals and transforms (for unions: the option that has `key`). */
export function inner(s: Node): Node {
    const d = s._zod.def;
    if (d.innerType !== undefined) {
        return inner(d.innerType);
    }
    if (d.type === "pipe" && d.in !== undefined && d.out !== undefined) {
        return inner(d.in._zod.def.type === "transform" ? d.out : d.in);
    }
    return s;
}

export type PulumiType = "string" | "integer" | "number" | "boolean" | "array" | "object";

/** The type a key has in Pulumi's project file; numbers are whole unless a check says otherwise (spam scores). */
export function pulumiType(s: Node): { type: PulumiType; items?: { type: PulumiType } } {
    const d = inner(s)._zod.def;
    switch (d.type) {
        case "string":
        case "enum":
        case "boolean":
            return { type: d.type === "boolean" ? "boolean" : "string" };
        case "number":
            // Pulumi.yaml knows no other number: a key that is not whole must be nested (the spam scores)
            return { type: (inner(s) as unknown as z.ZodNumber).isInt === false ? "number" : "integer" };
        case "array":
            return { type: "array", items: d.element === undefined ? undefined : pulumiType(d.element) };
        default:
            return { type: "object" };
    }
}

/** Each key that is not a secret, with its Pulumi type. */
export function plainKeys(): [string, PulumiType][] {
    return Object.entries(Schema.shape).filter(([k]) => !SECRET_KEYS.includes(k))
        .map(([k, s]) => [k, pulumiType(s as unknown as Node).type]);
}
