// Stack configuration: the typed shape of the `mailstack:*` keys (inferred from schema.ts) and the rules between
// keys. Everything here is pure so that a bad value is refused before any resource exists; every bad value is
// reported, each on a line of its own that names key and value.

import { z } from "zod";
import { mailZones } from "./render/dns";
import { webNames } from "./render/web";
import { Def, inner, isDomain, LOCAL_PART, Node, Parsed, RESERVED_USERS, S3, Schema, SECRET_KEYS, SecretKey, SYSTEM_NAME } from "./schema";

export { isCidr, isDomain, isSshPublicKey, RESERVED_USERS } from "./schema";
export type { ExistingHost, HetznerHost, TestbedHost } from "./schema";

export interface Rename {
    from: string;
    to: string;
}

/** Where certbot keeps its certificates: live/LINEAGE/{fullchain,privkey}.pem. */
export const CERT_LIVE = "/etc/letsencrypt/live";
/** The hostname's lineage: its name is older than the per-domain ones, and existing servers keep it. */
export const HOST_LINEAGE = "mailstack";
/** The prefix of every per-domain lineage: only these does the stack ever delete (an admin's own lineages stay). */
export const DOMAIN_LINEAGE_PREFIX = "mailstack-";

/**
 * One certbot lineage: the hostname's (served on the mail ports by default), or one domain's (its web names, and
 * `mail.DOMAIN` by SNI). Each renews on its own, so one domain whose DNS breaks never stops another's or the mail's.
 */
export interface Lineage {
    /** certbot's --cert-name. */
    name: string;
    /** The domain it belongs to; none for the hostname's. */
    domain?: string;
    /** The names it covers, in certbot's order (the first is the subject). */
    names: string[];
    /** The name postfix and dovecot serve it under by SNI (`mail.DOMAIN`); none for the hostname's, the default,
     * and for a domain whose mail name is the hostname. */
    sni?: string;
    /** The name nginx serves it under (the default server serves the hostname's). */
    web: string;
    certFile: string;
    keyFile: string;
}

/** Every lineage: the hostname's first, then one per domain (base domain first). Declared here only. */
export function lineages(hostname: string, domains: string[], webmail = false): Lineage[] {
    const files = (name: string): Pick<Lineage, "certFile" | "keyFile"> =>
        ({ certFile: `${CERT_LIVE}/${name}/fullchain.pem`, keyFile: `${CERT_LIVE}/${name}/privkey.pem` });
    return [
        { name: HOST_LINEAGE, names: [hostname], web: hostname, ...files(HOST_LINEAGE) },
        ...domains.map((d): Lineage => {
            const mail = `mail.${d}`;
            const sni = mail === hostname ? undefined : mail;
            const name = `${DOMAIN_LINEAGE_PREFIX}${d}`;
            return {
                name, domain: d, names: [...(sni === undefined ? [] : [sni]), ...webNames({ baseDomain: d, virtualDomains: [], webmail })],
                ...(sni === undefined ? {} : { sni }), web: `autoconfig.${d}`, ...files(name),
            };
        }),
    ];
}

export type CertificateConfig = Omit<Parsed["certificate"], "directory" | "caa"> & {
    /** ACME directory URL; set for `custom`, derived for the Let's Encrypt modes. */
    directory: string;
    /** The certbot lineages (see Lineage). */
    lineages: Lineage[];
    /** Every name of every lineage, in their order (CAA, and the DNS the CA validates, cover these). */
    names: string[];
    /** The CAA issuer domain of the CA (letsencrypt.org for Let's Encrypt); none for a custom CA unless configured. */
    caa?: string;
};

export type MailConfig = Omit<Parsed, "certificate" | "renames" | "aliases"> & {
    certificate: CertificateConfig;
    /** Alias address -> target addresses (or bare system user names). */
    aliases: Record<string, string[]>;
    /** Virtual users that had another address before: the mailbox moves to the new address, the password stays. */
    renames: Rename[];
};

export type LoginScope = MailConfig["loginScope"];
export type RelayHostConfig = NonNullable<MailConfig["relayHost"]>;
export type DoctorConfig = MailConfig["doctor"];
export type DkimConfig = MailConfig["dkim"];
export type SpamConfig = MailConfig["spam"];
export type BackupConfig = NonNullable<MailConfig["backup"]>;

/** Raw config as read from Pulumi: every key optional, every value unchecked. */
export type RawConfig = { [K in keyof Parsed]?: unknown };

/** One bad value (`line`); `problems` holds every one found (this error is the first), `message` a line each. */
export class ConfigError extends Error {
    readonly line: string;
    problems: ConfigError[] = [this];

    constructor(readonly key: string, message: string) {
        super(`mailstack:${key}: ${message}`);
        this.name = "ConfigError";
        this.line = this.message;
    }

    static of(problems: ConfigError[]): ConfigError {
        const first = problems[0];
        first.problems = problems;
        first.message = problems.map((p) => p.line).join("\n");
        return first;
    }
}

export const LETSENCRYPT = "https://acme-v02.api.letsencrypt.org/directory";
export const LETSENCRYPT_STAGING = "https://acme-staging-v02.api.letsencrypt.org/directory";

/** user@domain, with a valid user part. */
const isAddress = (a: string): boolean => /^[^@]+@[^@]+$/.test(a) && LOCAL_PART.test(splitAddress(a).local);

/** RFC 5322 dot-atom (lower case): no comma, space or quote that would split a postfix table entry. */
const DOT_ATOM = /^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;

export function splitAddress(address: string): { local: string; domain: string } {
    const at = address.lastIndexOf("@");
    return { local: address.slice(0, at), domain: address.slice(at + 1) };
}

// ---- from zod's issues to ConfigErrors ----

/** The option of a union (host) that the value's `kind` picks; hetzner when it has none. */
function pick(d: Def, value: unknown): Node | undefined {
    const kind = (value as { kind?: unknown } | undefined)?.kind ?? "hetzner";
    const literal = (o: Node): unknown[] =>
        (inner(o)._zod.def.shape?.kind as unknown as { _zod: { def: { values?: unknown[] } } } | undefined)?._zod.def.values ?? [];
    return (d.options ?? []).find((o) => literal(o).includes(kind));
}

function child(s: Node, segment: string | number, value: unknown): Node | undefined {
    const d = inner(s)._zod.def;
    if (d.type === "union") {
        const option = pick(d, value);
        return option === undefined ? undefined : child(option, segment, value);
    }
    return d.shape?.[segment] ?? d.element ?? d.valueType;
}

/** The object's own keys, for a refused unknown one. */
function knownKeys(s: Node, value: unknown): string[] {
    const d = inner(s)._zod.def;
    const option = d.type === "union" ? pick(d, value) : undefined;
    const shape = (option === undefined ? d : inner(option)._zod.def).shape ?? {};
    return Object.entries(shape).filter(([, v]) => inner(v)._zod.def.type !== "never").map(([k]) => k);
}

function toErrors(issue: z.core.$ZodIssue, raw: unknown): ConfigError[] {
    let key = "";
    let schema: Node | undefined = Schema as unknown as Node;
    let value = raw;
    for (const segment of issue.path) {
        const isRecord = schema !== undefined && inner(schema)._zod.def.type === "record";
        key += typeof segment === "number" ? `[${segment}]` : isRecord ? `["${String(segment)}"]`
            : key === "" ? String(segment) : `.${String(segment)}`;
        schema = schema === undefined ? undefined : child(schema, segment as string | number, value);
        value = (value as Record<string | number, unknown> | undefined)?.[segment as string | number];
    }
    if (issue.code === "unrecognized_keys") {
        const known = schema === undefined ? [] : knownKeys(schema, value);
        return issue.keys.map((k) => new ConfigError(key === "" ? k : `${key}.${k}`,
            `unknown key ${JSON.stringify(k)} (set ${JSON.stringify((value as Record<string, unknown>)[k])}); ` +
            `expected one of ${known.join(", ")}`));
    }
    return [new ConfigError(key, issue.message)];
}

/** null is "not set", as a missing key: Pulumi's YAML has no other way to unset an inherited value. */
function withoutNulls(v: unknown): unknown {
    if (Array.isArray(v)) {
        return v.map(withoutNulls);
    }
    if (typeof v === "object" && v !== null) {
        return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== null).map(([k, x]) => [k, withoutNulls(x)]));
    }
    return v;
}

/** Validates the raw stack config and returns it normalised (lower case, defaults filled in); else throws one
 * ConfigError that carries every problem found. */
export function parseConfig(raw: RawConfig): MailConfig {
    // Secrets are read apart (stackConfig.ts), as Pulumi secrets.
    const input = withoutNulls(Object.fromEntries(Object.entries(raw).filter(([k]) => !SECRET_KEYS.includes(k))));
    const parsed = Schema.safeParse(input);
    if (!parsed.success) {
        throw ConfigError.of(parsed.error.issues.flatMap((i) => toErrors(i, input)));
    }
    const { each, fail, problems } = collector();
    const config = rules(parsed.data, each, fail);
    if (problems.length > 0) {
        throw ConfigError.of(problems);
    }
    return config;
}

type Each = (check: () => void) => void;
type Fail = (bad: boolean, key: string, message: string) => void;

/** `each` runs a check and records the ConfigError it throws, so that every problem is reported, not the first;
 * `fail` records one when `bad` holds. */
function collector(): { each: Each; fail: Fail; problems: ConfigError[] } {
    const problems: ConfigError[] = [];
    return {
        problems,
        fail: (bad, key, message) => {
            if (bad) {
                problems.push(new ConfigError(key, message));
            }
        },
        each: (check) => {
            try {
                check();
            } catch (e) {
                if (!(e instanceof ConfigError)) {
                    throw e;
                }
                problems.push(e);
            }
        },
    };
}

// ---- the rules between keys: all of them here, each problem reported on its own ----

interface Known {
    baseDomain: string;
    domains: string[];
    virtualUsers: string[];
    systemUsers: string[];
}

/**
 * Checks what one value alone cannot tell and derives what follows from several (certificate names, renames, the
 * quota a renamed user keeps), each problem recorded through `each` (collector).
 */
function rules(p: Parsed, each: Each, fail: Fail): MailConfig {
    const { hostname, baseDomain } = p;
    each(() => noDuplicates("virtualDomains", p.virtualDomains));
    const virtualDomains = p.virtualDomains.map((d) => d.toLowerCase());
    fail(virtualDomains.includes(baseDomain), "virtualDomains",
        `"${baseDomain}" is the base domain; its users are system users and it must not be a virtual domain too`);
    fail(virtualDomains.includes(hostname), "virtualDomains", `"${hostname}" is the server's hostname, which postfix treats as local`);
    each(() => noDuplicates("virtualUsers", p.virtualUsers));
    const virtualUsers = p.virtualUsers.map((u) => u.toLowerCase());
    p.virtualUsers.forEach((u, i) => each(() => checkVirtualUser(`virtualUsers[${i}]`, u, baseDomain, virtualDomains)));
    each(() => noDuplicates("systemUsers", p.systemUsers));
    const known: Known = { baseDomain, domains: [baseDomain, ...virtualDomains], virtualUsers, systemUsers: p.systemUsers };

    const aliases = parseAliases(p.aliases, known, each);
    each(() => checkAdminEmail(p.adminEmail, known, Object.keys(aliases)));
    const served = effectiveAliases({ baseDomain, virtualDomains, aliases, adminEmail: p.adminEmail });
    each(() => checkAliasLoops(served, baseDomain));
    let renames: Rename[] = [];
    each(() => {
        renames = parseRenames(p.renames, known);
    });

    const cert = p.certificate;
    const custom = cert.acme === "custom";
    // Both would be silently ignored (directory) or break trust in Let's Encrypt (caBundle) outside custom mode.
    for (const k of ["directory", "caBundle"] as const) {
        fail(!custom && cert[k] !== undefined, `certificate.${k}`,
            `${JSON.stringify(cert[k])} is only used with acme: custom (acme is ${JSON.stringify(cert.acme)})`);
    }
    fail(custom && cert.directory === undefined, "certificate.directory", "expected a non-empty string, got undefined");
    // CAA names the CA by its issuer domain (RFC 8659); a custom CA's is not derivable from its directory URL.
    fail(!custom && cert.caa !== undefined, "certificate.caa", `${JSON.stringify(cert.caa)} is only used with acme: custom ` +
        `(acme is ${JSON.stringify(cert.acme)}, whose CAA issuer is letsencrypt.org)`);
    const { directory: _d, caa: _c, ...certRest } = cert;
    const caa = custom ? cert.caa : "letsencrypt.org";
    const certLineages = lineages(hostname, known.domains, p.webmail);
    const certificate: CertificateConfig = {
        ...certRest,
        directory: cert.acme === "letsencrypt" ? LETSENCRYPT : cert.acme === "staging" ? LETSENCRYPT_STAGING : cert.directory ?? "",
        lineages: certLineages,
        names: [...new Set(certLineages.flatMap((l) => l.names))],
        ...(caa === undefined ? {} : { caa }),
    };

    // As for DKIM: a next key that is the current one would publish nothing new, and the rollover would not happen.
    fail(cert.nextKey !== undefined && cert.nextKey === cert.key, "certificate.nextKey",
        `"${cert.nextKey}" is certificate.key already; drop nextKey`);
    fail(p.dkim.nextSelector !== undefined && p.dkim.nextSelector === p.dkim.selector, "dkim.nextSelector",
        `"${p.dkim.nextSelector}" is the selector that signs already; drop nextSelector`);
    fail(p.spam.rejectScore <= p.spam.addHeaderScore, "spam.rejectScore", `${p.spam.rejectScore} must be above ` +
        `spam.addHeaderScore (${p.spam.addHeaderScore}), or nothing is ever filed as spam`);
    const quotaUsers = parseQuotaUsers(p.quota.users, known, Object.keys(served), renames, each);
    const appPasswords = byAccount("appPasswords", p.appPasswords, known, Object.keys(served), renames, each,
        (key, devices) => { noDuplicates(key, devices); return devices; });
    const passwordResets = byAccount("passwordResets", p.passwordResets, known, Object.keys(served), renames, each,
        (_key, word) => word);
    const b = p.backup;
    if (b !== undefined) {
        fail(b.keep.daily + b.keep.weekly + b.keep.monthly === 0, "backup.keep",
            "keeps no snapshot at all (daily, weekly and monthly are all 0)");
        fail(b.knownHosts !== undefined && !b.repository.startsWith("sftp:"), "backup.knownHosts", "only applies to sftp repositories");
        fail(S3.test(b.repository) && b.s3AccessKeyId === undefined, "backup.s3AccessKeyId",
            "is required for an s3 repository (its secret: mailstack:backupS3SecretKey)");
    }
    const dns = p.dns;
    if (dns.provider === "hetzner") {
        each(() => noDuplicates("dns.existingZones", dns.existingZones));
        // An adopted zone the stack publishes nothing in would only hide a typo.
        const zones = mailZones(hostname, known.domains);
        dns.existingZones.forEach((z, i) => fail(!zones.includes(z), `dns.existingZones[${i}]`,
            `"${z}" is not one of the zones the stack publishes in (${zones.join(", ")})`));
    }
    return {
        ...p, virtualDomains, virtualUsers, aliases, renames, certificate, quota: { ...p.quota, users: quotaUsers },
        appPasswords, passwordResets,
    };
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

function checkVirtualUser(key: string, u: string, baseDomain: string, virtualDomains: string[]): void {
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
}

function str(key: string, value: unknown): string {
    if (typeof value !== "string" || value.trim() === "") {
        throw new ConfigError(key, `expected a non-empty string, got ${JSON.stringify(value)}`);
    }
    return value.trim();
}

/** Why KEY (a quota.users or appPasswords key, lower-cased as ADDRESS) is no mail account, or undefined if it is one:
 * a virtual user, or NAME@BASE of a system user (listed or not: accounts already on the server count too). */
function notAnAccount(source: string, address: string, known: Known, aliases: string[]): string | undefined {
    const { local, domain: d } = splitAddress(address);
    if (!address.includes("@") || !known.domains.includes(d)) {
        return `"${source}" is not an address in the base domain or a virtual domain`;
    }
    if (aliases.includes(address) || (d === known.baseDomain
        ? !SYSTEM_NAME.test(local) || RESERVED_USERS.has(local) : !known.virtualUsers.includes(address))) {
        return `"${source}" is not a mail account (a virtual user, or NAME@${known.baseDomain} ` +
            "of a system user); aliases have no mailbox of their own";
    }
    return undefined;
}

/**
 * A map keyed by user (appPasswords, passwordResets), by the address as quota.users writes it, each value checked by
 * `value`. A renamed user is listed under the new address (its passwords stay: users.ts aliases them), never the old
 * one, which is no account.
 */
function byAccount<T, U>(name: string, raw: Record<string, T>, known: Known, aliases: string[], renames: Rename[],
    each: Each, value: (key: string, v: T) => U): Record<string, U> {
    const users: Record<string, U> = {};
    each(() => noDuplicates(name, Object.keys(raw)));
    const renamed = new Map(renames.map((r) => [r.from, r.to]));
    for (const [source, v] of Object.entries(raw)) {
        const key = `${name}["${source}"]`;
        const address = source.toLowerCase();
        each(() => {
            const to = renamed.get(address);
            if (to !== undefined) {
                throw new ConfigError(key, `"${source}" is renamed to "${to}" (renames): list it under "${to}"`);
            }
            const why = notAnAccount(source, address, known, aliases);
            if (why !== undefined) {
                throw new ConfigError(key, why);
            }
            users[address] = value(key, v);
        });
    }
    return users;
}

/** A renamed user keeps the quota of the old address (as the mailbox and the password), unless the new one has its own. */
function parseQuotaUsers(raw: Record<string, string>, known: Known, aliases: string[], renames: Rename[],
    each: Each): Record<string, string> {
    const users: Record<string, string> = {};
    each(() => noDuplicates("quota.users", Object.keys(raw)));
    const renamed = new Map(renames.map((r) => [r.from, r.to]));
    const carried: [string, string][] = [];
    for (const [source, v] of Object.entries(raw)) {
        const key = `quota.users["${source}"]`;
        const address = source.toLowerCase();
        const to = renamed.get(address);
        if (to !== undefined) {
            carried.push([to, v]);
            continue;
        }
        each(() => {
            const why = notAnAccount(source, address, known, aliases);
            if (why !== undefined) {
                throw new ConfigError(key, why);
            }
            users[address] = v;
        });
    }
    for (const [to, v] of carried) {
        users[to] ??= v;
    }
    return users;
}

function checkAdminEmail(address: string, known: Known, sources: string[]): void {
    checkAliasTarget("adminEmail", address, known, sources);
    const { local, domain: d } = splitAddress(address);
    if (known.domains.includes(d) && ["postmaster", "abuse", "root"].includes(local)) {
        throw new ConfigError("adminEmail", `"${address}" is one of the addresses that go to adminEmail itself`);
    }
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

/**
 * `renames`: old address -> new address, or old domain -> new domain (every virtual user of the new domain then
 * had the same name in the old one, unless an address entry says otherwise). The new side must be configured,
 * the old one must not be any more.
 */
function parseRenames(raw: Record<string, unknown>, known: Known): Rename[] {
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
            if (!isAddress(from) || !isDomain(splitAddress(from).domain)) {
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

function parseAliases(raw: Record<string, unknown>, known: Known, each: Each): Record<string, string[]> {
    each(() => noDuplicates("aliases", Object.keys(raw)));
    const sources = Object.keys(raw).map((s) => s.toLowerCase());
    const aliases: Record<string, string[]> = {};
    for (const [source, target] of Object.entries(raw)) {
        each(() => {
            const key = `aliases["${source}"]`;
            const address = source.toLowerCase();
            if (/^[^@]+@[^@]+$/.test(address)) {
                noDelimiter(key, source, splitAddress(address).local);
            }
            if (!isAddress(address)) {
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
        });
    }
    return aliases; // loops: checked on the aliases postfix serves (rules)
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

/**
 * The rules on the secrets, from their values as read (a message never shows one): apart from `rules` only
 * because the stack alone reads secrets (stackConfig.ts).
 */
export function secretRules(c: MailConfig, secrets: Partial<Record<SecretKey, string>>): ConfigError[] {
    const { fail, problems } = collector();
    // an empty value is as good as none
    const need = (key: SecretKey, when: boolean, why: string, input = ""): void => fail(when && !secrets[key],
        key, `is not set, and ${why} needs it (pulumi config set --secret mailstack:${key}${input})`);
    const relay = secrets.relayPassword;
    fail(c.relayHost === undefined && relay !== undefined, "relayPassword",
        "is set but relayHost is not (remove it, or configure relayHost)");
    need("relayPassword", c.relayHost !== undefined, `relayHost ${c.relayHost?.host}`);
    // sasl_passwd is one entry a line
    fail(c.relayHost !== undefined && /[\r\n]/.test(relay ?? ""), "relayPassword",
        "contains a line break (the value is not shown: it is a secret)");
    fail(secrets.alertWebhook !== undefined && !isHttpsUrl(secrets.alertWebhook), "alertWebhook",
        "is not an https:// URL (the value is not shown: it is a secret)");
    need("sshPrivateKey", c.host.kind !== "testbed", `host kind "${c.host.kind}"`, " < KEYFILE");
    need("dnsKey", c.dns.provider === "rfc2136" && c.host.kind !== "testbed", 'dns provider "rfc2136"', " (the TSIG secret)");
    if (c.backup !== undefined) {
        need("backupPassword", true, "mailstack:backup");
        need("backupS3SecretKey", c.backup.s3AccessKeyId !== undefined, "the s3 repository of mailstack:backup");
        need("backupSshKey", c.backup.repository.startsWith("sftp:") && c.host.kind !== "testbed",
            "the sftp repository of mailstack:backup", " < KEYFILE");
    }
    return problems;
}

/** An https:// URL with a host (the alert webhook). */
function isHttpsUrl(url: string): boolean {
    try {
        const u = new URL(url);
        return u.protocol === "https:" && u.hostname !== "" && !/\s/.test(url);
    } catch {
        return false;
    }
}
