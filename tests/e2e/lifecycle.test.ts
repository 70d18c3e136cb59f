// Config and server over time: files changed by hand are found and restored by the next `up`, the versions the
// config is rendered from are read on every `up`, and a reload does not cut the IMAP sessions that are open.

import { spawn } from "child_process";
import { copyFileSync, existsSync, rmSync, writeFileSync } from "fs";
import * as path from "path";
import { CLIENT_NETNS, configVariant, MAILCLIENT, mail, onServer, onServerStatus, output, pulumi, resources, ROOT, READS, sshSessions, testbed } from "./testbed";

jest.setTimeout(300_000);

const t = testbed();
const host = t.serverAddress;
const virtual = output<Record<string, string>>("virtualUserPasswords");
const up = (...args: string[]): { status: number; stdout: string; stderr: string } =>
    pulumi("up", "--yes", "--skip-preview", ...args);

describe("drift", () => {
    const MAIN_CF = "/etc/postfix/main.cf";
    const USERS = "/etc/dovecot/users";

    test("a hand edit of main.cf and a deleted passwd-file line are restored by the next up, which says so", () => {
        const mainBefore = onServer(`sha256sum < ${MAIN_CF}`);
        onServer(`printf '\\nsmtpd_banner = hand-edited\\n' >> ${MAIN_CF}; sed -i '/^carol@example.net:/d' ${USERS}`);
        expect(mail("login", host, "carol@example.net", virtual["carol@example.net"])).toMatchObject({ ok: false });

        // the plan names what drifted, before anything runs
        const preview = pulumi("preview");
        expect(preview.status).toBe(0);
        for (const file of [MAIN_CF, USERS]) {
            expect(preview.stdout + preview.stderr).toContain(`${file} was changed or removed by hand since the last up: this up writes it again`);
        }
        // so does refresh
        const refresh = pulumi("refresh", "--yes", "--skip-preview", "--diff");
        expect(refresh.status).toBe(0);
        expect(refresh.stdout).toContain(MAIN_CF);
        expect(refresh.stdout).toContain(USERS);

        const r = up();
        expect(r.stderr).toBe("");
        expect(r.status).toBe(0);
        expect(r.stdout).toContain(`${MAIN_CF} was changed by hand since the last up: restored`);
        expect(onServer(`sha256sum < ${MAIN_CF}`)).toBe(mainBefore);
        expect(onServer(`postconf -h smtpd_banner`)).not.toContain("hand-edited");
        expect(mail("login", host, "carol@example.net", virtual["carol@example.net"])).toMatchObject({ ok: true });
    });

    test("a removed file is restored too", () => {
        onServer(`rm -f /etc/postfix/virtual`);
        const r = up();
        expect(r.status).toBe(0);
        expect(r.stdout).toContain("/etc/postfix/virtual was removed by hand since the last up: restored");
        expect(onServer("grep -c '^info@example.net ' /etc/postfix/virtual")).toBe("1\n");
    });

    // Not a sample: every file mailstack-ctl has a record of (every file the stack wrote) is changed by hand at
    // once; a few in ways their daemon notices, the rest by one more line at the end.
    test("so is every other file the stack wrote (rspamd's, nginx's, fail2ban's, a DKIM key, units, maps...), and what reads them reloads", () => {
        const ACTIONS = "/etc/rspamd/local.d/actions.conf";
        const KEY = "/var/lib/rspamd/dkim/example.net.mailstack.key";
        const POLICY = "/var/lib/mailstack/www/mta-sts.txt";
        const JAIL = "/etc/fail2ban/jail.d/mailstack.local";
        const PAM = "/etc/pam.d/mailstack";
        const special = [ACTIONS, KEY, POLICY, JAIL];
        const records = onServer("cd /etc/mailstack/managed && find . -type f ! -name '*.new.*' | cut -c2- | sort")
            .split("\n").filter((f) => f !== "");
        const state = resources().find((r) => r.type === "pulumi-nodejs:dynamic/mailstack:ServerState");
        const recorded = (state?.inputs?.files ?? []) as string[];
        // every file the drift check watches (every file this config writes) has its record: the whole set is
        // tested. (Records of what earlier configs of the other tests wrote, another domain's, stay unwatched.)
        expect(recorded.filter((f) => !records.includes(f))).toEqual([]);
        expect(recorded).toEqual(expect.arrayContaining([...special, PAM]));
        expect(recorded.length).toBeGreaterThan(40);
        const others = recorded.filter((f) => !special.includes(f));
        const sums = (): string => onServer(`sha256sum ${recorded.join(" ")}`);
        const maxRetry = (): string => onServer("fail2ban-client get mailstack maxretry").trim();
        const rspamdPid = (): string => onServer("systemctl show -P MainPID rspamd").trim();
        const before = { sums: sums(), maxRetry: maxRetry(), rspamd: rspamdPid() };
        onServer(`sed -i 's/^reject = .*/reject = 999;/' ${ACTIONS}; rm -f ${KEY}; printf 'mode: none\\n' > ${POLICY}
            sed -i 's/^maxretry = .*/maxretry = 99/' ${JAIL}; fail2ban-client reload >/dev/null
            for f in ${others.join(" ")}; do echo >> "$f"; done`);
        expect(maxRetry()).toBe("99");
        expect(onServer(`/usr/local/sbin/mailstack-ctl drifted ${recorded.join(" ")}`).split("\n").filter((l) => l !== ""))
            .toHaveLength(recorded.length);

        const preview = pulumi("preview");
        expect(preview.status).toBe(0);
        const named = recorded.filter((file) => (preview.stdout + preview.stderr)
            .includes(`${file} was changed or removed by hand since the last up: this up writes it again`));
        expect(named).toEqual(recorded);
        const r = up();
        expect(r.stderr).toBe("");
        expect(r.status).toBe(0);
        expect(sums()).toBe(before.sums);
        // the PAM service, written again, is checked again before dovecot reads it
        expect(r.stdout).toContain(`${PAM} was changed by hand since the last up: restored`);
        expect(r.stdout).toContain(`pam: ${PAM} checked`);
        expect(onServer(`/usr/local/sbin/mailstack-ctl drifted ${recorded.join(" ")}`)).toBe("");
        expect(maxRetry()).toBe(before.maxRetry);
        expect(rspamdPid()).not.toBe(before.rspamd);
        expect(mail("login", host, "carol@example.net", virtual["carol@example.net"])).toMatchObject({ ok: true });
    });

    test("then a second up changes nothing and opens exactly two SSH sessions: the read-only check, and the program's " +
        "read of the users who chose their own password", () => {
        const before = sshSessions();
        const r = up("--expect-no-changes");
        expect(r.stderr).toBe("");
        expect(r.status).toBe(0);
        expect(sshSessions() - before).toBe(READS);
    });
});

describe("server facts", () => {
    // The version is read from `dovecot --version` on every up: a wrapper that reports the other major version
    // stands in for an upgrade (or a downgrade) of dovecot under the stack.
    const other = t.suite === "bookworm" ? { report: "2.4.1 (0fake0)", header: "for dovecot 2.4" }
        : { report: "2.3.19.1 (0fake0)", header: "for dovecot 2.3" };
    const wrap = `mv /usr/sbin/dovecot /usr/sbin/dovecot.mailstack-test
        printf '#!/bin/sh\\n[ "$1" = --version ] && { echo "${other.report}"; exit 0; }\\nexec /usr/sbin/dovecot.mailstack-test "$@"\\n' > /usr/sbin/dovecot
        chmod 0755 /usr/sbin/dovecot`;
    const unwrap = "mv -f /usr/sbin/dovecot.mailstack-test /usr/sbin/dovecot";

    afterAll(() => {
        onServerStatus(`[ -e /usr/sbin/dovecot.mailstack-test ] && ${unwrap}`);
    });

    test("another dovecot version makes the next up render for it, through the validated apply", () => {
        const live = onServer("sha256sum < /etc/dovecot/dovecot.conf");
        onServer(wrap);
        const r = up();
        // The real binary underneath is still the old version, so its doveconf refuses the new syntax: the
        // apply stops there, and the live configuration is untouched.
        expect(r.status).not.toBe(0);
        expect(r.stdout + r.stderr).toContain("staged dovecot configuration rejected, live configuration untouched");
        expect(onServer("head -n 1 /etc/mailstack/staged/dovecot/dovecot.conf")).toContain(other.header);
        expect(onServer("sha256sum < /etc/dovecot/dovecot.conf")).toBe(live);
        expect(mail("login", host, "bob@example.net", virtual["bob@example.net"])).toMatchObject({ ok: true });
    });

    test("back on the real version, the next up renders for it again and succeeds", () => {
        onServer(unwrap);
        const r = up();
        expect(r.stderr).toBe("");
        expect(r.status).toBe(0);
        expect(onServer("head -n 1 /etc/mailstack/staged/dovecot/dovecot.conf")).not.toContain(other.header);
        expect(up("--expect-no-changes").status).toBe(0);
    });
});

describe("renames and dropped users", () => {
    const run = `${Date.now()}`;

    test("a virtual user renamed in config logs in at the new address with the old password and sees the old mail", () => {
        const subject = `before the rename ${run}`;
        const carol = virtual["carol@example.net"];
        expect(mail("send", host, "25", "someone@client.example", "carol@example.net", subject)).toMatchObject({ ok: true });
        expect(mail("wait", host, "carol@example.net", carol, subject)).toMatchObject({ ok: true });

        const renamed = configVariant("rename", [["mailstack:virtualUsers[1]", "caroline@example.net"],
            ['mailstack:aliases["sales@example.com"][1]', "caroline@example.net"],
            ['mailstack:renames["carol@example.net"]', "caroline@example.net"]]);
        const preview = pulumi("preview", "--config-file", renamed);
        expect(preview.status).toBe(0);
        expect(preview.stdout + preview.stderr).not.toContain("this plan drops");
        const r = up("--config-file", renamed);
        expect(r.status).toBe(0);
        expect(r.stdout).toContain("moved the mailbox of carol@example.net to caroline@example.net");
        expect(output<Record<string, string>>("virtualUserPasswords")["caroline@example.net"]).toBe(carol);
        expect(mail("login", host, "caroline@example.net", carol)).toMatchObject({ ok: true, subjects: expect.arrayContaining([subject]) });
        expect(mail("login", host, "carol@example.net", carol)).toMatchObject({ ok: false });

        // and back, the same way: the committed config has carol again, with her mail
        const back = configVariant("renameback", [['mailstack:renames["caroline@example.net"]', "carol@example.net"]]);
        expect(up("--config-file", back).status).toBe(0);
        expect(mail("login", host, "carol@example.net", carol)).toMatchObject({ ok: true, subjects: expect.arrayContaining([subject]) });
        expect(up().status).toBe(0);
        expect(onServer("test ! -e /var/mail/vhosts/example.net/caroline && echo gone")).toBe("gone\n");
    });

    test("a plan that drops a user whose mailbox holds mail says, in the preview, which directory is kept", () => {
        const subject = `erin keeps this ${run}`;
        expect(mail("send", host, "25", "someone@client.example", "erin@example.com", subject)).toMatchObject({ ok: true });
        expect(mail("wait", host, "erin@example.com", virtual["erin@example.com"], subject)).toMatchObject({ ok: true });
        const config = configVariant("dropuser", []);
        expect(pulumi("config", "rm", "--path", "mailstack:virtualUsers[3]", "--config-file", config).status).toBe(0);
        const preview = pulumi("preview", "--config-file", config);
        expect(preview.status).toBe(0);
        expect(preview.stdout + preview.stderr).toMatch(
            /this plan drops the virtual user erin@example\.com: its mailbox \/var\/mail\/vhosts\/example\.com\/erin \(\d+ messages\) is kept/);
        // the committed config drops nobody
        const same = pulumi("preview", "--expect-no-changes");
        expect(same.status).toBe(0);
        expect(same.stdout + same.stderr).not.toContain("this plan drops");
    });
});

describe("reloads", () => {
    test("an IMAP session open across a config change that reloads dovecot stays usable", async () => {
        const stop = path.join(ROOT, ".local", `hold-${Date.now()}.stop`);
        rmSync(stop, { force: true });
        const client = spawn("ip", ["netns", "exec", CLIENT_NETNS, "/usr/bin/python3", MAILCLIENT, "hold", host,
            "bob@example.net", virtual["bob@example.net"], stop, "240"], { stdio: ["ignore", "pipe", "inherit"] });
        let out = "";
        client.stdout.on("data", (d: Buffer) => { out += d.toString(); });
        const exited = new Promise<void>((resolve) => client.on("exit", () => resolve()));
        for (let i = 0; i < 100 && !out.includes("ready"); i++) {
            await new Promise((r) => setTimeout(r, 200));
        }
        expect(out).toContain("ready");

        const config = path.join(ROOT, ".local", "Pulumi.local.imaps.yaml");
        copyFileSync(path.join(ROOT, "Pulumi.local.yaml"), config);
        expect(pulumi("config", "set", "mailstack:imaps", "true", "--config-file", config).status).toBe(0);
        const pid = onServer("cat /run/dovecot/master.pid").trim();
        expect(up("--config-file", config).status).toBe(0);
        expect(onServer("cat /run/dovecot/master.pid").trim()).toBe(pid); // a reload, not a restart
        await new Promise((r) => setTimeout(r, 10_000)); // longer than the kill delay seen before the fix

        writeFileSync(stop, "");
        await exited;
        const result = JSON.parse(out.trim().split("\n").pop() ?? "{}") as { ok?: boolean; error?: string };
        expect(result).toMatchObject({ ok: true });
        expect(existsSync(stop)).toBe(true);
        rmSync(stop, { force: true });
        expect(up().status).toBe(0); // back to the committed config
    });
});
