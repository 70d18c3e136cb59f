// Storage and backups in the plan (Pulumi mocks) and in the config: the volume is mounted before anything writes
// mail state, an existing host moves nothing unless asked, restic's secrets reach the server only on stdin.

import * as pulumi from "@pulumi/pulumi";
import { parseConfig, RawConfig } from "../../components/config";
import { MailServer } from "../../components/mailServer";
import { installMocks, record, Recorder, Registered, reveal, isSecretValue, TYPES } from "./harness";

const SSH_PRIVATE_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nbW9jayBrZXk=\n-----END OPENSSH PRIVATE KEY-----\n";
const PASSWORD = "restic-password-9f8e7d";

const common: RawConfig = {
    hostname: "mail.example.org",
    baseDomain: "example.org",
    virtualDomains: ["example.net"],
    virtualUsers: ["bob@example.net"],
    systemUsers: ["frank"],
    certificate: { email: "admin@example.org", acme: "staging" },
    adminEmail: "alice@example.org",
};
const backup = { repository: "sftp://root@192.0.2.1:2222//repos/mailstack" };

async function render(raw: RawConfig, extra: { backupSshKey?: string } = {}): Promise<Recorder> {
    const config = parseConfig(raw);
    const { rec, error } = await record(() => new MailServer("mail", {
        config, sshPrivateKey: pulumi.secret(SSH_PRIVATE_KEY), backupPassword: pulumi.secret(PASSWORD),
        backupSshKey: extra.backupSshKey === undefined ? undefined : pulumi.secret(extra.backupSshKey),
    }));
    if (error !== undefined) {
        throw error instanceof Error ? error : new Error(JSON.stringify(error));
    }
    return rec;
}

const component = (rec: Recorder, type: string): Registered[] => rec.byType(`mailstack:index:${type}`);
const commandOf = (r: Registered): string => String(reveal(r.inputs.create));

beforeAll(async () => {
    await installMocks();
});

describe("storage", () => {
    test("the testbed's volume is mounted before vmail, certificate and users write anything", async () => {
        const rec = await render({ ...common, host: { kind: "testbed", suite: "bookworm" } });
        const [storage] = component(rec, "Storage");
        expect(storage).toBeDefined();
        const mount = rec.customsOf(storage).find((r) => commandOf(r).includes("mailstack-ctl storage"));
        expect(commandOf(mount as Registered)).toMatch(/^\/usr\/local\/sbin\/mailstack-ctl storage \/dev\/mailstack-volume \/srv\/mailstack home:\/home vhosts:\/var\/mail\/vhosts( [^ #]+)*$/);
        // changed units mount again: their texts are the trigger, as preview --diff shows them
        const units = rec.customsOf(storage).filter((r) => commandOf(r).includes(" put /etc/systemd/system/"));
        expect(units.length).toBeGreaterThan(2);
        expect(reveal(mount?.inputs.triggers)).toEqual([expect.any(String),
            units.map((u) => ({ path: commandOf(u).split(" ")[2], content: reveal(u.inputs.stdin) }))]);
        for (const later of ["Vmail", "Certificate", "Users", "Postfix", "Dovecot"]) {
            for (const step of rec.customsOf(component(rec, later)[0])) {
                expect({ step: step.name, waits: rec.transitivelyWaitsFor(step).has(mount?.urn ?? "") })
                    .toEqual({ step: step.name, waits: true });
            }
        }
        // and after the packages (mailstack-ctl, e2fsprogs)
        const ctl = rec.resources.find((r) => r.name === "mail-packages-ctl");
        expect(rec.transitivelyWaitsFor(mount as Registered).has(ctl?.urn ?? "")).toBe(true);
    });

    test("an existing host moves nothing unless host.storage names a device", async () => {
        const host = { kind: "existing", address: "192.0.2.25" };
        expect(component(await render({ ...common, host }), "Storage")).toEqual([]);
        const rec = await render({ ...common, host: { ...host, storage: "/dev/sdb" } });
        const steps = rec.customsOf(component(rec, "Storage")[0]).map(commandOf);
        expect(steps.some((c) => c.startsWith("/usr/local/sbin/mailstack-ctl storage /dev/sdb /srv/mailstack"))).toBe(true);
    });

    test("config: host.storage must be a device path", () => {
        expect(() => parseConfig({ ...common, host: { kind: "existing", address: "192.0.2.25", storage: "sdb; reboot" } }))
            .toThrow('mailstack:host.storage: "sdb; reboot" is not a block device path such as /dev/sdb');
    });
});

describe("backup", () => {
    test("the password and the sftp key reach the server only as secret stdin, never in a command line", async () => {
        const rec = await render({ ...common, host: { kind: "testbed", suite: "bookworm" }, backup });
        const steps = rec.customsOf(component(rec, "Backup")[0]);
        expect(steps.length).toBeGreaterThan(4);
        for (const s of rec.byType(TYPES.remote)) {
            expect(JSON.stringify(reveal(s.inputs.create))).not.toContain(PASSWORD);
        }
        const pw = steps.find((s) => commandOf(s).includes("/etc/mailstack/backup/password"));
        expect(commandOf(pw as Registered)).toBe("/usr/local/sbin/mailstack-ctl put /etc/mailstack/backup/password 0600 root:root");
        expect(isSecretValue(pw?.inputs.stdin)).toBe(true);
        expect(reveal(pw?.inputs.stdin)).toBe(PASSWORD);
        // the testbed's own key for its sftp target (components/host.ts), as a secret
        const key = steps.find((s) => commandOf(s).includes("/etc/mailstack/backup/ssh_key"));
        expect(isSecretValue(key?.inputs.stdin)).toBe(true);
        expect(reveal(key?.inputs.stdin)).toBe("bk\n");
        const init = steps.find((s) => commandOf(s).startsWith("/usr/local/sbin/mailstack-ctl backup-init"));
        expect(commandOf(init as Registered)).toBe("/usr/local/sbin/mailstack-ctl backup-init");
        // it runs again when the config, a unit or mailstack-ctl changes: all named in its triggers, no secret
        const [, , again] = reveal(init?.inputs.triggers) as [unknown, unknown, Record<string, unknown>];
        expect(Object.keys(again).sort()).toEqual(["config", "ctl", "units"]);
        expect(again.config).toMatchObject(backup);
        expect(JSON.stringify(again)).not.toContain(PASSWORD);
    });

    test("a configured backupSshKey wins over the testbed's", async () => {
        const rec = await render({ ...common, host: { kind: "testbed", suite: "bookworm" }, backup }, { backupSshKey: "mine" });
        const key = rec.customsOf(component(rec, "Backup")[0]).find((s) => commandOf(s).includes("/etc/mailstack/backup/ssh_key"));
        expect(reveal(key?.inputs.stdin)).toBe("mine\n");
    });

    test("no backup config, no backup", async () => {
        expect(component(await render({ ...common, host: { kind: "testbed", suite: "bookworm" } }), "Backup")).toEqual([]);
    });

    test.each([
        [{ repository: "ftp://x/y" }, 'mailstack:backup.repository: "ftp://x/y" is not a restic repository'],
        [{ repository: "relative/path" }, 'mailstack:backup.repository: "relative/path" is not a restic repository'],
        [{ ...backup, keep: { daily: -1 } }, "mailstack:backup.keep.daily: expected a whole number from 0 to 10000, got -1"],
        [{ ...backup, keep: { daily: 0, weekly: 0, monthly: 0 } }, "mailstack:backup.keep: keeps no snapshot at all"],
        [{ ...backup, schedule: "daily; rm -rf /" }, 'mailstack:backup.schedule: "daily; rm -rf /" is not a systemd OnCalendar'],
        // the issue's own value: systemd refuses it, so preview does (the grammar: tests/render/calendar.test.ts)
        [{ ...backup, schedule: "every tuesday-ish" }, 'mailstack:backup.schedule: "every tuesday-ish" is not a systemd OnCalendar'],
        [{ ...backup, schedule: "*-*-* 25:00" }, 'mailstack:backup.schedule: "*-*-* 25:00" is not a systemd OnCalendar'],
        [{ repository: "s3:https://s3.example.com/b" }, "mailstack:backup.s3AccessKeyId: is required for an s3 repository"],
        [{ repository: "/var/backups/mail", knownHosts: "x" }, "mailstack:backup.knownHosts: only applies to sftp repositories"],
        [{ ...backup, retention: 3 }, "mailstack:backup"],
    ])("config %j is refused", (b, message) => {
        expect(() => parseConfig({ ...common, host: { kind: "testbed" }, backup: b })).toThrow(message);
    });

    test("defaults: keep 7 daily, 4 weekly, 6 monthly; nightly", () => {
        const c = parseConfig({ ...common, host: { kind: "testbed" }, backup: { repository: "sftp:u@backup.example:/srv/r" } });
        expect(c.backup).toEqual({ repository: "sftp:u@backup.example:/srv/r", keep: { daily: 7, weekly: 4, monthly: 6 },
            schedule: "*-*-* 03:15:00", knownHosts: undefined, s3AccessKeyId: undefined });
    });
});
