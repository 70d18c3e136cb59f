// The mail state on storage apart from the server (a Hetzner volume, a disk of an existing host, the testbed's
// loop device): systemd units that mount it, bind its directories over the paths postfix, dovecot and certbot
// already use, and keep those services from starting without it.

import { UNIT_DIR } from "./systemd";
import { WEBMAIL_DATA } from "./webmail";

/** Where the volume is mounted. */
export const STORAGE_MOUNT = "/srv/mailstack";

/**
 * What lives on the volume: its directory -> the path it is bound over. Bind mounts, not symlinks: every program
 * and every config keeps its path (postfix's home_mailbox, dovecot's passwd-file homes, certbot's renewal
 * configs, which store absolute paths), nothing follows a link out of a directory it checks (postfix local(8) and
 * dovecot refuse some symlinked paths), and systemd orders services after the mounts by path
 * (RequiresMountsFor=), which a symlink would not give.
 */
export const STORAGE_BINDS: readonly { dir: string; target: string }[] = [
    // system users' homes: their ~/Maildir (a home is where PAM users' mail and dovecot's indexes are)
    { dir: "home", target: "/home" },
    // virtual users' mailboxes
    { dir: "vhosts", target: "/var/mail/vhosts" },
    // certificates and certbot's account and renewal config: a rebuilt server renews, not re-issues
    { dir: "letsencrypt", target: "/etc/letsencrypt" },
    // DKIM private keys (also in Pulumi state), where rspamd looks for them
    { dir: "dkim", target: "/var/lib/rspamd/dkim" },
    // webmail's database: users' settings, contacts and identities
    { dir: "webmail", target: WEBMAIL_DATA },
];

/** Services that read or write the mail state: they start only with every bind in place. */
export const STORAGE_USERS = ["postfix@.service", "dovecot.service", "certbot.service", "mailstack-backup.service"];

/** systemd's unit name for a mount point (systemd-escape --path --suffix=mount). */
export function mountUnitName(path: string): string {
    const trimmed = path.replace(/^\/+|\/+$/g, "");
    if (trimmed === "") {
        return "-.mount";
    }
    const escaped = trimmed.split("/").map((part) => [...part].map((ch, i) => {
        if (/[A-Za-z0-9:_]/.test(ch) || (ch === "." && i > 0)) {
            return ch;
        }
        return `\\x${ch.charCodeAt(0).toString(16).padStart(2, "0")}`;
    }).join("")).join("-");
    return `${escaped}.mount`;
}

/**
 * The volume's mount. Wanted by multi-user.target, not local-fs.target: a volume that is missing at boot must
 * not drop the server into emergency mode (no ssh to repair it); postfix and dovecot then stay down instead.
 */
export function volumeMount(device: string): string {
    if (!/^\/dev\/[A-Za-z0-9_./:-]+$/.test(device)) {
        throw new Error(`storage device "${device}" is not a /dev path`);
    }
    return [
        "# mailstack: the volume with the mail state",
        "[Unit]",
        "Description=mailstack mail storage",
        "",
        "[Mount]",
        `What=${device}`,
        `Where=${STORAGE_MOUNT}`,
        "Type=ext4",
        // dovecot and postfix never need access times; every read would otherwise write
        "Options=noatime",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
        "",
    ].join("\n");
}

export function bindMount(dir: string, target: string): string {
    return [
        "# mailstack: a directory of the mail volume, over the path the mail software uses",
        "[Unit]",
        `Description=mailstack mail storage: ${target}`,
        `RequiresMountsFor=${STORAGE_MOUNT}`,
        "",
        "[Mount]",
        `What=${STORAGE_MOUNT}/${dir}`,
        `Where=${target}`,
        "Type=none",
        "Options=bind",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
        "",
    ].join("\n");
}

/** Drop-in for a service of STORAGE_USERS: started after every bind, and not at all without them. */
export function serviceDropIn(): string {
    return [
        "# mailstack: the mail state is on the volume; without it this service would write to the root disk",
        "[Unit]",
        `RequiresMountsFor=${STORAGE_BINDS.map((b) => b.target).join(" ")}`,
        "",
    ].join("\n");
}

/**
 * The accounts on the volume follow every change of /etc/passwd, shadow or group (passwd, chpasswd, useradd), not
 * only the stack's own steps: a rebuilt server gets the passwords its users have now, not those of the last `up`.
 */
export const ACCOUNTS_UNIT = "mailstack-accounts";
export function accountsPath(): string {
    return [
        "# mailstack: save the accounts on the volume whenever they change",
        "[Unit]",
        "Description=mailstack: watch the accounts",
        `RequiresMountsFor=${STORAGE_MOUNT}`,
        "",
        "[Path]",
        ...["passwd", "shadow", "group"].map((f) => `PathChanged=/etc/${f}`),
        "",
        "[Install]",
        "WantedBy=multi-user.target",
        "",
    ].join("\n");
}
export function accountsService(): string {
    return [
        "# mailstack: save the accounts on the volume (started by mailstack-accounts.path)",
        "[Unit]",
        "Description=mailstack: save the accounts on the volume",
        `RequiresMountsFor=${STORAGE_MOUNT}`,
        "",
        "[Service]",
        "Type=oneshot",
        "ExecStart=/usr/local/sbin/mailstack-ctl save-accounts",
        "",
    ].join("\n");
}

export interface UnitFile {
    path: string;
    content: string;
}

/** Every file the storage step writes, in /etc/systemd/system. */
export function storageUnits(device: string): UnitFile[] {
    const dir = UNIT_DIR;
    return [
        { path: `${dir}/${mountUnitName(STORAGE_MOUNT)}`, content: volumeMount(device) },
        ...STORAGE_BINDS.map((b) => ({ path: `${dir}/${mountUnitName(b.target)}`, content: bindMount(b.dir, b.target) })),
        ...STORAGE_USERS.map((s) => ({ path: `${dir}/${s}.d/mailstack-storage.conf`, content: serviceDropIn() })),
        { path: `${dir}/${ACCOUNTS_UNIT}.path`, content: accountsPath() },
        { path: `${dir}/${ACCOUNTS_UNIT}.service`, content: accountsService() },
    ];
}
