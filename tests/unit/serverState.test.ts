// The state check's pure parts: the read-only script (checked by sh), what it prints, and when the state changes.

import { execFileSync } from "child_process";
import { Facts, overQuota, parseSeen, readScript, Seen, stateChanged } from "../../components/serverState";
import { managedUnits } from "../../components/render/units";

const facts: Facts = { dovecot: "2.3.19.1 (9b53102964)", postfix: "3.7.11" };
const files = ["/etc/postfix/main.cf", "/etc/dovecot/users"];
const clean: Seen = { drifted: [], facts, dropped: [], units: [], usage: [] };

test("the read script is valid sh and quotes every path and user", () => {
    const script = readScript([...files, "/etc/it's"], ["bob@example.net", "carol@example.net"], "/etc/dovecot/users");
    expect(() => execFileSync("sh", ["-n"], { input: script })).not.toThrow();
    expect(script).toContain(`'/etc/it'\\''s'`);
    expect(script).toContain("keep=' bob@example.net carol@example.net '");
    // the version postfix was built as, even before main.cf exists: the first read must equal every later one
    expect(script).toContain("postconf -d -h mail_version");
    const withUnits = readScript(files, [], "/etc/dovecot/users", managedUnits({ backup: true, storage: true }));
    expect(() => execFileSync("sh", ["-n"], { input: withUnits })).not.toThrow();
    expect(withUnits).toContain("'mailstack-backup.timer' 'mailstack-accounts.path'");
});

test("managed units: one list, with the backup timer, the accounts path unit and php-fpm when they exist", () => {
    expect(managedUnits({ backup: false, storage: false })).toEqual(["postfix.service", "dovecot.service", "rspamd.service",
        "redis-server.service", "nginx.service", "fail2ban.service", "postsrsd.service", "unbound.service",
        "postfix-mta-sts-resolver.service", "mailstack-learn.socket",
        "mailstack-doctor.timer", "mailstack-dmarc-report.timer"]);
    expect(managedUnits({ backup: true, storage: true }).slice(-2)).toEqual(["mailstack-backup.timer", "mailstack-accounts.path"]);
    // php-fpm by the stack's alias: its own unit's name has PHP's version in it
    expect(managedUnits({ backup: false, storage: false, webmail: true }).slice(-1)).toEqual(["mailstack-php-fpm.service"]);
});

test("a unit not running as loaded is read as such; one not installed yet, or running, is not", () => {
    const seen = parseSeen([
        "U rspamd.service loaded inactive no ",
        "U postfix.service loaded active no ",
        "U dovecot.service loaded activating no ",
        "U fail2ban.service loaded failed no ",
        "U mailstack-backup.timer bad-setting inactive yes ",
        "U mailstack-doctor.timer loaded active yes ",
        "U mailstack-accounts.path not-found inactive no ",
        "Q bob@example.net 3072",
        "",
    ].join("\n"));
    expect(seen.units).toEqual([
        { unit: "rspamd.service", state: "inactive" }, { unit: "fail2ban.service", state: "failed" },
        { unit: "mailstack-backup.timer", state: "bad-setting" },
        { unit: "mailstack-doctor.timer", state: "changed on disk, not reloaded" },
    ]);
    expect(seen.usage).toEqual([{ login: "bob@example.net", bytes: 3 * 1024 * 1024 }]);
});

test("preview names each mailbox fuller than the quota it is given, with both sizes", () => {
    const usage = [{ login: "bob@example.net", bytes: 3 * 2 ** 20 }, { login: "alice", bytes: 2 ** 20 }];
    expect(overQuota({ quotas: { "bob@example.net": 2 * 2 ** 20 }, defaultQuota: 2 ** 30 }, usage)).toEqual([
        "the quota of bob@example.net (2.0 MiB) is below its mailbox's current size (3.0 MiB): " +
        "new mail to it is deferred until it is emptied or the quota raised",
    ]);
    expect(overQuota({ quotas: {}, defaultQuota: 2 ** 19 }, usage)).toHaveLength(2);
    expect(overQuota({ quotas: {}, defaultQuota: 2 ** 30 }, usage)).toEqual([]);
});

test("what the script prints is read back: drifted paths, versions, dropped users", () => {
    const seen = parseSeen([
        "D /etc/postfix/main.cf",
        "V dovecot 2.4.1 (abc)",
        "V postfix 3.10.5",
        "G erin@example.com /var/mail/vhosts/example.com/erin 12",
        "",
    ].join("\n"));
    expect(seen).toEqual({
        units: [], usage: [],
        drifted: ["/etc/postfix/main.cf"],
        facts: { dovecot: "2.4.1 (abc)", postfix: "3.10.5" },
        dropped: [{ address: "erin@example.com", dir: "/var/mail/vhosts/example.com/erin", messages: 12 }],
    });
    expect(parseSeen("V dovecot \nV postfix \n").facts).toEqual({ dovecot: "", postfix: "" });
});

describe("the state changes", () => {
    test("not on a clean server, whatever the files and users of the plan", () => {
        expect(stateChanged({ facts }, clean)).toBe(false);
    });
    test("on a drifted file", () => {
        expect(stateChanged({ facts }, { ...clean, drifted: ["/etc/dovecot/users"] })).toBe(true);
    });
    test("on another dovecot or postfix version", () => {
        expect(stateChanged({ facts }, { ...clean, facts: { ...facts, dovecot: "2.4.1" } })).toBe(true);
        expect(stateChanged({ facts }, { ...clean, facts: { ...facts, postfix: "3.10.5" } })).toBe(true);
    });
    test("on a managed unit that is not running", () => {
        expect(stateChanged({ facts }, { ...clean, units: [{ unit: "rspamd.service", state: "inactive" }] })).toBe(true);
    });
});
