// files/mailstack-ctl runs on the server and the stack writes the files it works on: the paths both sides name
// are declared here once and rendered into the head of the script the stack uploads (ctlScript), never typed
// again in the shell.

import { readFileSync } from "fs";
import * as path from "path";
import { LOCKED_USERS, PAM_FILE } from "./access";
import { BACKUP_ENV } from "./backup";
import { FILTER_FILE, JAIL_FILE } from "./fail2ban";
import { APP_PASSWORDS, VHOSTS } from "./dovecot";
import { MTA_STS_CONF } from "./mtasts";
import { RESOLV_CONF, UNBOUND_CONF } from "./resolver";
import { DKIM_DIR, RSPAMD_DIR } from "./rspamd";
import { port } from "../listeners";
import { HOST_KEYS } from "../schema";
import { ACCOUNTS_UNIT, STORAGE_MOUNT } from "./storage";
import { UNIT_DIR } from "./systemd";
import { ACME_ROOT, NGINX_CONF, NGINX_STAGED } from "./web";
import { MAPS } from "./postfix";
import { OWN_PASSWORDS, PASSWD_FILE } from "./maps";
import { PASSWORD_DRIVER, ROUNDCUBE_CONF, ROUNDCUBE_HOME, ROUNDCUBE_SHARE, WEBMAIL_DATA, WEBMAIL_DB, WEBMAIL_LOGINS_LOG,
    WEBMAIL_POOL, WEBMAIL_POOL_LINK, WEBMAIL_SECRET, WEBMAIL_SOCKET, WEBMAIL_SUDOERS, WEBMAIL_UNIT } from "./webmail";

export { CTL } from "./ctlPath";

/** The shell variables of the script's head: name -> path. */
export const CTL_PATHS: Record<string, string> = {
    LOCKED: LOCKED_USERS,
    PAM_FILE,
    HOST_KEYS,
    NGINX_HTTP: NGINX_STAGED.http,
    NGINX_FULL: NGINX_STAGED.full,
    NGINX_CONF,
    ACME_ROOT,
    STORAGE: STORAGE_MOUNT,
    BACKUP_ENV,
    RSPAMD_DIR,
    DKIM_DIR,
    FAIL2BAN_DIR: path.posix.dirname(path.posix.dirname(FILTER_FILE)),
    FAIL2BAN_JAIL: JAIL_FILE,
    VHOSTS,
    APP_PASSWORDS,
    PASSWD_FILE,
    OWN_PASSWORDS,
    UNBOUND_CONF,
    RESOLV_CONF,
    SNI_MAP: MAPS.sni,
    MTA_STS_CONF,
    UNIT_DIR,
    ACCOUNTS_UNIT,
    ROUNDCUBE_DIR: path.posix.dirname(ROUNDCUBE_CONF),
    PASSWORD_DRIVER,
    WEBMAIL_SUDOERS,
    WEBMAIL_POOL,
    WEBMAIL_POOL_LINK,
    WEBMAIL_SOCKET,
    WEBMAIL_DATA,
    WEBMAIL_DB,
    ROUNDCUBE_SHARE,
    ROUNDCUBE_HOME,
    WEBMAIL_SECRET,
    WEBMAIL_LOGINS_LOG,
    WEBMAIL_UNIT,
};

/** The ports the script checks, from the listener table: nginx's, and rspamd's milter port, also as
 * /proc/net/tcp shows 127.0.0.1 and it (hexadecimal, e.g. 0100007F:2C44). */
export const CTL_PORTS: Record<string, string> = {
    HTTP_PORT: String(port("http")),
    HTTPS_PORT: String(port("https")),
    MILTER_PORT: String(port("rspamd-proxy")),
    MILTER_TCP: `0100007F:${port("rspamd-proxy").toString(16).toUpperCase().padStart(4, "0")}`,
};

/** The line of files/mailstack-ctl that the rendered paths replace. */
export const PATHS_MARKER = "# @paths: rendered by components/render/ctl.ts";

/** The script as uploaded: files/mailstack-ctl with CTL_PATHS and CTL_PORTS in place of its marker line. */
export function ctlScript(source = readFileSync(path.join(__dirname, "..", "..", "files", "mailstack-ctl"), "utf8")): string {
    const lines = source.split("\n");
    const at = lines.indexOf(PATHS_MARKER);
    if (at < 0 || lines.indexOf(PATHS_MARKER, at + 1) >= 0) {
        throw new Error(`files/mailstack-ctl must hold the line "${PATHS_MARKER}" exactly once`);
    }
    const rendered = Object.entries({ ...CTL_PATHS, ...CTL_PORTS }).map(([name, value]) => {
        if (!/^[A-Za-z0-9_./:@+-]+$/.test(value)) {
            throw new Error(`${name}: ${value} is not a plain path`);
        }
        return `${name}=${value}`;
    });
    return [...lines.slice(0, at), "# paths shared with the stack (components/render/ctl.ts)", ...rendered,
        ...lines.slice(at + 1)].join("\n");
}
