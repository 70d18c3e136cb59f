// The systemd units the stack keeps running, declared once: the server state read reports each one that is not
// active (components/serverState.ts: drift that `up` repairs through `mailstack-ctl units`), and the doctor names
// each one that is not (files/mailstack-doctor, UNITS in doctor.conf).

import { ACCOUNTS_UNIT } from "./storage";
import { BACKUP_UNIT_FILES } from "./backup";
import { DOCTOR_TIMER } from "./ops";
import { LEARN_UNITS } from "./dovecot";
import { MTA_STS_UNIT } from "./mtasts";
import { DMARC_REPORT_UNITS } from "./reports";
import { WEBMAIL_UNIT } from "./webmail";

const base = (path: string): string => path.split("/").pop() ?? path;

export interface UnitsInput {
    /** mailstack:backup is set: its timer runs. */
    backup: boolean;
    /** The mail state is on a volume: the path unit that saves the accounts there runs. */
    storage: boolean;
    /** mailstack:webmail is on: php-fpm serves Roundcube. */
    webmail?: boolean;
}

/** Every long-running service and every timer or path unit of the stack (oneshot services are not "active"). */
export function managedUnits(u: UnitsInput): string[] {
    return [
        "postfix.service", "dovecot.service", "rspamd.service", "redis-server.service", "nginx.service",
        "fail2ban.service", "postsrsd.service", "unbound.service", MTA_STS_UNIT, base(LEARN_UNITS.socket), base(DOCTOR_TIMER),
        base(DMARC_REPORT_UNITS.timer),
        ...(u.backup ? [base(BACKUP_UNIT_FILES.timer)] : []),
        ...(u.storage ? [`${ACCOUNTS_UNIT}.path`] : []),
        ...(u.webmail === true ? [WEBMAIL_UNIT] : []),
    ];
}

/** A managed unit as the server state read finds it: the why of a unit that is not running as it should. */
export interface UnitState {
    unit: string;
    /** e.g. "inactive", "failed", "bad-setting", "needs daemon-reload". */
    state: string;
}
