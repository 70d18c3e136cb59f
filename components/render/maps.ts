// The user tables: dovecot's passwd-file and postfix's lookup maps. Pure text, one line per entry, sorted
// so that the same config always renders the same bytes (and so triggers nothing on a no-op `up`).

import { splitAddress } from "../config";
import { DEVICE_FIELD } from "./dovecot";

export interface VirtualLogin {
    address: string;
    /** A crypt(3) hash; dovecot's BLF-CRYPT accepts bcrypt's $2a$/$2b$/$2y$. */
    hash: string;
}

/** dovecot's passwd-file of the virtual users. */
export const PASSWD_FILE = "/etc/dovecot/users";
/** The passwords users chose (mailstack-ctl password): LOGIN:HASH, a system user's without a hash (its own is in
 * /etc/shadow). mailstack-ctl puts them in place of the generated ones; kept on the volume with the accounts. */
export const OWN_PASSWORDS = "/etc/mailstack/own-passwords";

const sorted = (rows: string[]): string => (rows.length === 0 ? "" : [...rows].sort().join("\n") + "\n");

/** dovecot passwd-file: user:password:uid:gid:gecos:home:shell:extra. uid/gid/home come from default_fields. */
export function passwdFile(logins: VirtualLogin[]): string {
    return sorted(logins.map((l) => {
        if (/[:\n]/.test(l.hash)) {
            throw new Error(`hash for ${l.address} contains a ':' or newline`);
        }
        return `${l.address}:{BLF-CRYPT}${l.hash}::::::`;
    }));
}

export interface AppLogin {
    /** dovecot's login name: the address of a virtual user, the bare name of a system user (quotaLogin). */
    login: string;
    hash: string;
}

/** One device's app passwords (render/dovecot.ts: appPasswordPath): a line per user, the device as an extra field
 * that the login processes' log line shows. */
export function appPasswordFile(device: string, logins: AppLogin[]): string {
    return sorted(logins.map((l) => {
        if (/[:\s]/.test(l.hash) || /[:\s]/.test(l.login)) {
            throw new Error(`app password of ${l.login} (${device}): a ':' or white space in its login or hash`);
        }
        return `${l.login}:{BLF-CRYPT}${l.hash}::::::${DEVICE_FIELD}=${device}`;
    }));
}

/** postfix virtual_mailbox_maps: DOMAIN/USER/ below virtual_mailbox_base, where virtual(8) delivers (the trailing slash means Maildir). */
export function vmailbox(addresses: string[]): string {
    return sorted(addresses.map((a) => {
        const { local, domain } = splitAddress(a);
        return `${a} ${domain}/${local}/`;
    }));
}

export function virtualAliases(aliases: Record<string, string[]>): string {
    return sorted(Object.entries(aliases).map(([source, targets]) => `${source} ${targets.join(", ")}`));
}

export interface SenderInput {
    baseDomain: string;
    virtualUsers: string[];
    /** Known system users (created by the stack); others may still exist on the server. */
    systemUsers: string[];
    aliases: Record<string, string[]>;
}

/**
 * smtpd_sender_login_maps: which SASL logins may use a MAIL FROM address. A system user logs in as a bare name
 * (dovecot reduces alice@BASE to alice), so both forms are listed as owners of alice@BASE. An alias may be sent
 * from by every login it delivers to.
 */
export function senderLogins(input: SenderInput): string {
    const owners = new Map<string, Set<string>>();
    const own = (address: string, login: string): void => {
        const set = owners.get(address) ?? new Set<string>();
        set.add(login);
        owners.set(address, set);
    };
    const loginsOf = (target: string): string[] => {
        if (!target.includes("@")) {
            return [target];
        }
        if (splitAddress(target).domain === input.baseDomain) {
            return [splitAddress(target).local];
        }
        return input.virtualUsers.includes(target) ? [target] : [];
    };
    input.virtualUsers.forEach((u) => own(u, u));
    input.systemUsers.forEach((u) => own(`${u}@${input.baseDomain}`, u));
    const resolve = (target: string, seen: string[]): string[] =>
        input.aliases[target] === undefined || seen.includes(target)
            ? loginsOf(target)
            : input.aliases[target].flatMap((t) => resolve(t, [...seen, target]));
    for (const source of Object.keys(input.aliases)) {
        resolve(source, []).forEach((login) => own(source, login));
    }
    return sorted([...owners].map(([address, logins]) => `${address} ${[...logins].sort().join(", ")}`));
}

/**
 * The base domain's own fallback for sender logins: a system user that the stack does not know (an account that
 * was on the server before) owns USER@BASE. A regexp table, tried after the hash table of declared owners.
 */
export function baseSenderLogins(baseDomain: string): string {
    const escaped = baseDomain.replace(/\./g, "\\.");
    return `/^([a-z_][a-z0-9_-]*)@${escaped}$/ \${1}, \${1}@${baseDomain}\n`;
}

/**
 * local_login_sender_maps' table for every account not named in main.cf (root, postfix, vmail): by its login
 * name, the envelope senders sendmail accepts from it: the bare name (sendmail without -f, cron), NAME@base and
 * the null sender (an auto-reply; rspamd never signs it). A regexp table, so that accounts made later need no entry.
 */
export function localSenders(baseDomain: string): string {
    return `/^([a-z_][a-z0-9_.-]*)$/ \${1}, \${1}@${baseDomain}, <>\n`;
}
