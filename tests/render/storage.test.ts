// The storage and backup units and files, read by the suite's own systemd tools and shell: unit names as
// systemd-escape makes them, units that systemd-analyze accepts, a schedule systemd understands, and an env file
// that sh reads back to exactly the values it was given (secrets with quotes and dollars included).

import { backupEnv, backupSshConfig, backupUnits, BACKUP_PATHS, sftpTarget } from "../../components/render/backup";
import { bindMount, mountUnitName, serviceDropIn, STORAGE_BINDS, STORAGE_MOUNT, storageUnits, volumeMount }
    from "../../components/render/storage";
import { BackupConfig } from "../../components/config";
import { ROOTFS_TIMEOUT_MS, Sandbox, shq, SUITE } from "./debian";

const backup: BackupConfig = {
    repository: "sftp://root@192.0.2.1:2222//repos/mailstack",
    keep: { daily: 7, weekly: 4, monthly: 6 },
    schedule: "*-*-* 03:15:00",
};

describe(`storage and backup units on ${SUITE}`, () => {
    let sb: Sandbox;
    beforeAll(() => {
        sb = Sandbox.open();
    }, ROOTFS_TIMEOUT_MS);
    afterAll(() => sb?.close());

    test("unit names are systemd-escape's", () => {
        for (const p of [STORAGE_MOUNT, ...STORAGE_BINDS.map((b) => b.target), "/srv/mail-stack/x.y"]) {
            const r = sb.run(["systemd-escape", "--path", "--suffix=mount", p]);
            expect(r.status).toBe(0);
            expect(mountUnitName(p)).toBe(r.stdout.trim());
        }
    });

    test("systemd-analyze verify accepts every unit (and would report a misspelt key)", () => {
        const dir = "units";
        const names: string[] = [];
        for (const u of storageUnits("/dev/disk/by-id/scsi-0HC_Volume_1234")) {
            if (!u.path.includes(".d/")) {
                const name = u.path.split("/").pop() ?? "";
                sb.write(`${dir}/${name}`, u.content);
                names.push(name);
            }
        }
        const units = backupUnits(backup, "alice@example.org");
        sb.write(`${dir}/mailstack-backup.service`, units.service);
        sb.write(`${dir}/mailstack-backup.timer`, units.timer);
        sb.write(`${dir}/mailstack-backup-failed.service`, units.failed);
        names.push("mailstack-backup.service", "mailstack-backup.timer", "mailstack-backup-failed.service");
        const r = sb.run(["sh", "-c", `cd ${shq(sb.path(dir))} && SYSTEMD_LOG_LEVEL=warning systemd-analyze verify ` +
            `--man=no ${names.map((n) => `./${n}`).join(" ")} 2>&1; echo rc=$?`]);
        // only complaints about our own files count (the chroot has no running systemd and no /proc), and not that
        // mailstack-ctl, which the stack installs on the server, is missing from the cached root
        const ours = r.stdout.split("\n").filter((l) => names.some((n) => l.includes(n)) &&
            !/Failed to|proc|generators|mailstack-ctl is not executable/.test(l));
        expect(ours).toEqual([]);
        // control: a misspelt key is reported
        sb.write(`${dir}/bad.mount`, "[Mount]\nWhat=/dev/sdb\nWher=/bad\n");
        expect(sb.run(["sh", "-c", `cd ${shq(sb.path(dir))} && systemd-analyze verify --man=no ./bad.mount 2>&1`]).stdout)
            .toMatch(/Wher/);
        const mount = sb.read(`${dir}/srv-mailstack.mount`);
        expect(mount).toMatch(/^What=\/dev\/disk\/by-id\/scsi-0HC_Volume_1234$/m);
        expect(mount).toMatch(new RegExp(`^Where=${STORAGE_MOUNT}$`, "m"));
    });

    test("the schedule is a calendar expression systemd accepts; a typo is not", () => {
        expect(sb.run(["systemd-analyze", "calendar", backup.schedule]).status).toBe(0);
        expect(sb.run(["systemd-analyze", "calendar", "every night"]).status).not.toBe(0);
    });

    test("sh reads the env file back to exactly the values given, secrets with quotes and dollars too", () => {
        const secret = `s3cr'et $HOME "x" \`id\` \\`;
        const env = backupEnv({ ...backup, repository: "s3:https://s3.example.com/bucket", s3AccessKeyId: "AKIA0123" }, secret);
        const file = sb.write("env", env, 0o600);
        const r = sb.run(["sh", "-c", `set -a; . ${shq(file)}; printf '%s\\n' "$AWS_SECRET_ACCESS_KEY" "$RESTIC_REPOSITORY" "$MAILSTACK_BACKUP_PATHS"`]);
        expect(r.status).toBe(0);
        expect(r.stdout.split("\n").slice(0, 3)).toEqual([secret, "s3:https://s3.example.com/bucket", BACKUP_PATHS.join(" ")]);
        expect(env).not.toContain("RESTIC_PASSWORD=");
        expect(env).toContain("RESTIC_PASSWORD_FILE=");
    });

    test("ssh reads the sftp client config: our key, our known_hosts, never a prompt", () => {
        const t = sftpTarget(backup.repository);
        expect(t).toEqual({ user: "root", host: "192.0.2.1", port: 2222 });
        const conf = sb.write("ssh_config", backupSshConfig(t ?? { user: "", host: "", port: 0 }, false));
        const r = sb.run(["ssh", "-G", "-F", conf, "mailstack-backup-target"]);
        expect(r.status).toBe(0);
        expect(r.stdout).toMatch(/^hostname 192\.0\.2\.1$/m);
        expect(r.stdout).toMatch(/^port 2222$/m);
        expect(r.stdout).toMatch(/^identityfile \/etc\/mailstack\/backup\/ssh_key$/m);
        expect(r.stdout).toMatch(/^batchmode yes$/m);
        expect(r.stdout).toMatch(/^stricthostkeychecking accept-new$/m);
    });
});

describe("storage renderers", () => {
    test("a bind mount waits for the volume and binds its directory over the target", () => {
        const text = bindMount("vhosts", "/var/mail/vhosts");
        expect(text).toContain(`RequiresMountsFor=${STORAGE_MOUNT}`);
        expect(text).toContain(`What=${STORAGE_MOUNT}/vhosts`);
        expect(text).toContain("Where=/var/mail/vhosts");
        expect(text).toMatch(/^Options=bind$/m);
    });

    test("postfix, dovecot, certbot and the backup start only with every bind in place", () => {
        const units = storageUnits("/dev/sdb");
        const dropIns = units.filter((u) => u.path.endsWith("/mailstack-storage.conf")).map((u) => u.path);
        expect(dropIns).toEqual([
            "/etc/systemd/system/postfix@.service.d/mailstack-storage.conf",
            "/etc/systemd/system/dovecot.service.d/mailstack-storage.conf",
            "/etc/systemd/system/certbot.service.d/mailstack-storage.conf",
            "/etc/systemd/system/mailstack-backup.service.d/mailstack-storage.conf",
        ]);
        const needs = serviceDropIn().match(/^RequiresMountsFor=(.*)$/m)?.[1].split(" ");
        expect(needs).toEqual(["/home", "/var/mail/vhosts", "/etc/letsencrypt", "/var/lib/rspamd/dkim", "/var/lib/mailstack/webmail"]);
    });

    test("a missing volume does not stop the boot (no emergency mode without ssh)", () => {
        const text = volumeMount("/dev/sdb");
        expect(text).toMatch(/^WantedBy=multi-user.target$/m);
        expect(text).not.toContain("local-fs.target");
        expect(() => volumeMount("/dev/sdb; rm -rf /")).toThrow(/not a \/dev path/);
    });

    test("every backed-up path is a bind target or a file outside the volume that a rebuild needs", () => {
        expect(BACKUP_PATHS).toEqual(expect.arrayContaining([...STORAGE_BINDS.map((b) => b.target), "/etc/dovecot/users"]));
    });

    test("the failure report's address survives systemd's % and $ expansion", () => {
        expect(backupUnits(backup, "a%b$c@example.org").failed).toContain("backup-failed a%%b$$c@example.org");
    });
});
