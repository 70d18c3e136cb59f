// Never break a running mail server: a bad config never goes live (or is rolled back), no accepted message is
// lost while `pulumi up` reloads postfix and dovecot, and a certificate renewal reaches both daemons.
// Tests run in file order; this file relies on no other.

import { spawn } from "child_process";
import { copyFileSync, existsSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from "fs";
import * as path from "path";
import { JAIL_FILE } from "../../components/render/fail2ban";
import { DOCTOR, DOCTOR_CONF } from "../../components/render/ops";
import { CLIENT_NETNS, MAILCLIENT, mail, onServer, onServerStatus, output, pebbleRoot, pulumi, ROOT, testbed } from "./testbed";

jest.setTimeout(300_000);

const t = testbed();
const host = t.serverAddress;
const virtual = output<Record<string, string>>("virtualUserPasswords");
const bob = { name: "bob@example.net", password: virtual["bob@example.net"] };
const erin = { name: "erin@example.com", password: virtual["erin@example.com"] };
const run = `${Date.now()}`;
const CTL = "/usr/local/sbin/mailstack-ctl";
const LIVE = "/etc/postfix/main.cf /etc/postfix/master.cf /etc/dovecot/dovecot.conf";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls check() until it returns a value that is not undefined, or fails after `seconds`. */
async function until<T>(what: string, seconds: number, check: () => T | undefined): Promise<T> {
    const deadline = Date.now() + seconds * 1000;
    for (;;) {
        const v = check();
        if (v !== undefined) {
            return v;
        }
        if (Date.now() > deadline) {
            throw new Error(`timed out after ${seconds} s waiting for ${what}`);
        }
        await sleep(250);
    }
}

const checksums = (): string => onServer(`sha256sum ${LIVE}`);

/** Logs in over IMAP, sends through 587 (authenticated) and 25, and sees both arrive. */
function mailFlows(tag: string): void {
    expect(mail("login", host, bob.name, bob.password)).toMatchObject({ ok: true });
    const subjects = [`flows 587 ${tag} ${run}`, `flows 25 ${tag} ${run}`];
    expect(mail("send", host, "587", bob.name, erin.name, subjects[0], bob.name, bob.password)).toMatchObject({ ok: true });
    expect(mail("send", host, "25", "someone@client.example", erin.name, subjects[1])).toMatchObject({ ok: true });
    for (const s of subjects) {
        expect(mail("wait", host, erin.name, erin.password, s)).toMatchObject({ ok: true });
    }
}

describe("mailstack-ctl apply: a bad config never stays live", () => {
    const BACKUP = "/root/mailstack-e2e-staged";
    let live = "";

    beforeAll(() => {
        // the staged files are what the last `up` sent: keep them, so the next `up` finds them as it left them
        onServer(`rm -rf ${BACKUP} && cp -a /etc/mailstack/staged ${BACKUP}`);
        live = checksums();
    });

    afterEach(() => {
        onServer(`rm -rf /etc/mailstack/staged && cp -a ${BACKUP} /etc/mailstack/staged`);
    });

    afterAll(() => {
        onServer(`rm -rf ${BACKUP}`);
        expect(checksums()).toBe(live);
    });

    test("a main.cf that postfix's validator rejects: its message, live files and daemon untouched, mail flows", () => {
        const pid = onServer("cat /var/spool/postfix/pid/master.pid");
        const r = onServerStatus(`{ cat /etc/postfix/main.cf; echo 'this line is not a postfix parameter'; } |
            ${CTL} stage postfix main.cf && ${CTL} apply postfix`);
        expect(r.rc).not.toBe(0);
        expect(r.out).toMatch(/staged postfix configuration rejected, live configuration untouched: postconf: fatal: .*\/main\.cf, line \d+: missing '=' after attribute name: "this line is not a postfix parameter"/);
        expect(checksums()).toBe(live);
        expect(onServer("cat /var/spool/postfix/pid/master.pid")).toBe(pid); // not even reloaded
        mailFlows("bad main.cf");
    });

    test("a dovecot.conf that doveconf rejects: its message, live files and daemon untouched, mail flows", () => {
        const pid = onServer("cat /run/dovecot/master.pid");
        const r = onServerStatus(`{ cat /etc/dovecot/dovecot.conf; echo 'this line is not a dovecot setting'; } |
            ${CTL} stage dovecot dovecot.conf && ${CTL} apply dovecot`);
        expect(r.rc).not.toBe(0);
        expect(r.out).toMatch(/staged dovecot configuration rejected, live configuration untouched: doveconf: Fatal: Error in configuration file .*\/dovecot\.conf line \d+: /);
        expect(checksums()).toBe(live);
        expect(onServer("cat /run/dovecot/master.pid")).toBe(pid);
        mailFlows("bad dovecot.conf");
    });

    // Configs that pass validation but cannot run: a listener on a port the other daemon holds.
    test("a master.cf that validates but kills postfix on reload (smtpd on dovecot's 143): rolled back, serving", () => {
        const r = onServerStatus(`{ cat /etc/postfix/master.cf; echo '143 inet n - y - - smtpd'; } |
            ${CTL} stage postfix master.cf &&
            postconf -c /etc/mailstack/staged/postfix -M >/dev/null && postfix -c /etc/mailstack/staged/postfix check &&
            echo "staged config validates" && ${CTL} apply postfix`);
        expect(r.out).toContain("staged config validates");
        expect(r.rc).not.toBe(0);
        expect(r.out).toMatch(/postfix did not come up with the new configuration \(.+\); previous configuration restored and serving/);
        expect(checksums()).toBe(live);
        expect(onServer("postfix status 2>&1; ss -Hltnp 'sport = :25' 'or' 'sport = :587' 'or' 'sport = :143'"))
            .toMatch(/:25 .*"master"[\s\S]*:587 .*"master"|:587 .*"master"[\s\S]*:25 .*"master"/);
        expect(onServer("ss -Hltnp 'sport = :143'")).toContain('"dovecot"');
        mailFlows("postfix rollback");
    });

    // Port 22: sshd holds it on IPv4 and IPv6 alike (postfix listens on IPv4 only where the host has no IPv6 of its own,
    // and dovecot's `::` listener would then take port 25 on IPv6 and pass as serving).
    test("a dovecot.conf that validates but cannot be loaded (imap on sshd's 22): rolled back, serving", () => {
        const pid = onServer("cat /run/dovecot/master.pid");
        const r = onServerStatus(`{ cat /etc/dovecot/dovecot.conf; printf 'service imap-login {\\n  inet_listener extra {\\n    port = 22\\n  }\\n}\\n'; } |
            ${CTL} stage dovecot dovecot.conf && doveconf -c /etc/mailstack/staged/dovecot/dovecot.conf -n >/dev/null &&
            echo "staged config validates" && ${CTL} apply dovecot`);
        expect(r.out).toContain("staged config validates");
        expect(r.rc).not.toBe(0);
        expect(r.out).toMatch(/dovecot did not come up with the new configuration \(.+\); previous configuration restored and serving/);
        // the broken file must not stay live either: dovecot kept running, but the next restart would have failed
        expect(checksums()).toBe(live);
        expect(onServer("cat /run/dovecot/master.pid")).toBe(pid);
        expect(onServer("ss -Hltnp 'sport = :22'")).not.toContain('"dovecot"');
        mailFlows("dovecot rollback");
    });

    // rspamd's and fail2ban's files are written in place, one put each; a set the daemon refuses is taken back.
    test("an rspamd file rspamadm refuses and a jail fail2ban refuses: taken back, both keep serving, named as drift", () => {
        const OPTIONS = "/etc/rspamd/local.d/options.inc";
        const JAIL = "/etc/fail2ban/jail.d/mailstack.local";
        const state = (): string => onServer(`sha256sum ${OPTIONS} ${JAIL}; systemctl show -P MainPID rspamd fail2ban`);
        const before = state();
        onServer(`cp -p ${OPTIONS} /root/mailstack-e2e-options && cp -p ${JAIL} /root/mailstack-e2e-jail`);
        try {
            const bad = onServerStatus(`printf 'dns { nameserver = ' | ${CTL} put ${OPTIONS} 0644 root:root && ${CTL} rspamd`);
            expect(bad.rc).not.toBe(0);
            expect(bad.out).toMatch(/^mailstack-ctl: rspamd configuration rejected, the previous files are back in place \(rspamd serves them as before\): \S/);
            const jail = onServerStatus(`printf '[mailstack\\nenabled = true\\n' | ${CTL} put ${JAIL} 0644 root:root && ${CTL} fail2ban`);
            expect(jail.rc).not.toBe(0);
            expect(jail.out).toMatch(/^mailstack-ctl: fail2ban configuration rejected, the previous files are back in place \(fail2ban serves them as before\): \S/);
            expect(state()).toBe(before); // the files as they were, and neither daemon restarted
            expect(onServer(`${CTL} drifted ${OPTIONS} ${JAIL}`)).toBe(`D ${OPTIONS}\nD ${JAIL}\n`);
            expect(onServerStatus("fail2ban-client status mailstack").rc).toBe(0);
            mailFlows("rspamd and fail2ban taken back");
        } finally {
            // the stack's own files again, recorded as the stack wrote them: nothing left for the next preview
            onServer(`${CTL} put ${OPTIONS} 0644 root:root < /root/mailstack-e2e-options &&
                ${CTL} put ${JAIL} 0644 root:root < /root/mailstack-e2e-jail && ${CTL} rspamd && ${CTL} fail2ban &&
                rm -f /root/mailstack-e2e-options /root/mailstack-e2e-jail`);
        }
        expect(onServer(`${CTL} drifted ${OPTIONS} ${JAIL}`)).toBe("");
    });

    test("control: the unchanged staged files apply cleanly", () => {
        const r = onServerStatus(`${CTL} apply postfix && ${CTL} apply dovecot`);
        expect(r).toEqual({ rc: 0, out: "postfix: configuration applied\ndovecot: configuration applied\n" });
        expect(checksums()).toBe(live);
        mailFlows("clean apply");
    });
});

describe("no accepted message is lost while `pulumi up` reloads postfix and dovecot", () => {
    interface Sent {
        i: number;
        port: string;
        subject: string;
        t: number;
        ok: boolean;
        code?: number;
        stage?: string;
        error?: string;
    }

    test("mail sent all through an up that adds 465 and 993 and the up that removes them again", async () => {
        const prefix = `noloss ${run}`;
        const log = path.join(ROOT, ".local", `noloss-${run}.jsonl`);
        const stop = path.join(ROOT, ".local", `noloss-${run}.stop`);
        const config = path.join(ROOT, ".local", "Pulumi.local.tlsports.yaml");
        copyFileSync(path.join(ROOT, "Pulumi.local.yaml"), config);
        expect(pulumi("config", "set", "mailstack:smtps", "true", "--config-file", config).status).toBe(0);
        expect(pulumi("config", "set", "mailstack:imaps", "true", "--config-file", config).status).toBe(0);

        const fd = openSync(log, "w");
        const sender = spawn("ip", ["netns", "exec", CLIENT_NETNS, "/usr/bin/python3", MAILCLIENT, "flood", host,
            erin.name, prefix, stop, "2000", "600", bob.name, bob.password, "0.05"], { stdio: ["ignore", fd, "inherit"] });
        closeSync(fd);
        const exited = new Promise<number | null>((resolve) => sender.on("exit", resolve));
        const sent = (): Sent[] => readFileSync(log, "utf8").split("\n").filter((l) => l !== "")
            .map((l) => JSON.parse(l) as Sent);
        const accepted = (): Sent[] => sent().filter((s) => s.ok);
        try {
            await until("the first accepted messages", 30, () => (accepted().length >= 5 ? true : undefined));
            const upStart = Date.now() / 1000;
            const withPorts = pulumi("up", "--yes", "--skip-preview", "--config-file", config);
            expect(withPorts.status).toBe(0);
            expect(withPorts.stdout).toMatch(/mail-postfix-apply/);
            expect(withPorts.stdout).toMatch(/mail-dovecot-apply/);
            expect(onServer("ss -Hltn 'sport = :465' 'or' 'sport = :993' | wc -l").trim()).not.toBe("0");
            // the listener table's other consumers on the server: the jail bans on both, the doctor probes both
            // (and finds the certificate there: 4 s, so only while they are on)
            const derived = (probe: boolean): string => onServer(`grep -o 'port="[0-9,]*"' ${JAIL_FILE};
                sed -n 's/^TLS_PORTS=//p' ${DOCTOR_CONF}${probe ? `; ${DOCTOR} | grep -E '\\sserved:(465|993)\\s' || true` : ""}`);
            expect(derived(true)).toMatch(new RegExp(`^port="143,443,465,587,993,4190"\n'.* 465:implicit:postfix .* ` +
                "993:implicit:dovecot .*'\nok\tserved:465\t.*\nok\tserved:993\t"));
            const restored = pulumi("up", "--yes", "--skip-preview");
            expect(restored.status).toBe(0);
            expect(onServer("ss -Hltn 'sport = :465' 'or' 'sport = :993' | wc -l").trim()).toBe("0");
            expect(derived(false)).toBe(`port="143,443,587,4190"\n` +
                "'25:smtp:postfix 143:imap:dovecot 443:implicit:nginx 587:smtp:postfix 4190:sieve:dovecot'\n");
            const upEnd = Date.now() / 1000;
            await until("accepted messages after the ups", 30, () =>
                (accepted().filter((s) => s.t > upEnd).length >= 5 ? true : undefined));
            writeFileSync(stop, "");
            await exited;
            const all = sent();
            const ok = accepted();
            // the flood really spanned both ups
            expect(ok[0].t).toBeLessThan(upStart);
            expect(ok[ok.length - 1].t).toBeGreaterThan(upEnd);
            expect(all.filter((s) => s.t > upStart && s.t < upEnd).length).toBeGreaterThan(10);
            const found = mail("search", host, erin.name, erin.password, prefix, String(ok.length), "60").subjects ?? [];
            const delivered = ok.filter((s) => found.includes(s.subject));
            const refused = all.filter((s) => !s.ok);
            console.log(`sent ${all.length}, accepted ${ok.length}, delivered ${delivered.length}` +
                (refused.length ? `; not accepted: ${refused.map((s) => `#${s.i} port ${s.port} ${s.stage} ${s.code ?? ""} ${s.error}`).join("; ")}` : ""));
            expect(ok.length).toBeGreaterThan(0);
            expect(ok.filter((s) => !found.includes(s.subject)).map((s) => s.subject)).toEqual([]);
            expect(delivered.length).toBe(ok.length);
            expect(found.length).toBe(ok.length); // nothing twice, nothing that was not accepted
        } finally {
            writeFileSync(stop, "");
            await exited;
            rmSync(config, { force: true });
            rmSync(log, { force: true });
            rmSync(stop, { force: true });
        }
    });
});

describe("certificate renewal", () => {
    // certbot.service as Debian ships it, forced to renew now: a runtime drop-in (gone at the next boot) adds
    // --force-renewal, and --no-random-sleep-on-renew (off a terminal, certbot otherwise sleeps up to 8 minutes).
    const DROPIN = "/run/systemd/system/certbot.service.d/mailstack-e2e-force.conf";
    afterAll(() => {
        onServer(`rm -f ${DROPIN} && systemctl daemon-reload`);
    });

    test("certbot.service renews every lineage through nginx's webroot, its deploy hook reloads postfix, dovecot and nginx through systemd; 587, 143 and 443 serve the new certificates", async () => {
        const root = pebbleRoot(path.join(ROOT, ".local", "pebble-root.pem"));
        const serial = (port: string, proto: string): string => mail("cert", host, port, proto, root).serial ?? "";
        const web = `mta-sts.${t.baseDomain}`;
        const webSerial = (): string => mail("cert", web, "443", "https", root).serial ?? "";
        // the hostname's lineage on the mail ports, the base domain's own on its web names
        const onDisk = (lineage: string): string => onServer(`openssl x509 -noout -serial -in /etc/letsencrypt/live/${lineage}/cert.pem`)
            .trim().replace(/^serial=/, "");
        const webLineage = `mailstack-${t.baseDomain}`;
        const before = { smtp: serial("587", "smtp"), imap: serial("143", "imap"), web: webSerial() };
        expect(before.smtp).toBe(before.imap);
        expect(before.smtp).toBe(onDisk("mailstack"));
        expect(before.web).toBe(onDisk(webLineage));
        const lineages = onServer("ls /etc/letsencrypt/renewal").trim().split("\n");
        expect(lineages).toContain(`${webLineage}.conf`);

        const conf = onServer("cat /etc/letsencrypt/renewal/mailstack.conf");
        expect(conf).toMatch(/^renew_hook = \/usr\/local\/sbin\/mailstack-ctl deployed$/m);
        // port 80 belongs to nginx: certbot answers the challenges through its webroot
        expect(conf).toMatch(/^authenticator = webroot$/m);
        expect(conf).toMatch(/^server = https:\/\/192\.0\.2\.1:14000\/dir$/m);
        expect(onServer("systemctl is-enabled certbot.timer; systemctl show -p Triggers --value certbot.timer"))
            .toBe("enabled\ncertbot.service\n");
        // postfix logs its reloads; dovecot 2.4 does not, but every reload replaces its log process.
        const reloads = (): number[] => onServer("grep -c 'postfix/master.*: reload' /var/log/mail.log; " +
            "pgrep -f '^dovecot/log' | head -n 1").trim().split("\n").map(Number);
        // systemd's own record of reload jobs: the hook went through the units, not around them
        // (the unit that runs postfix's master: postfix@-.service on Debian 12, postfix.service on Debian 13)
        const postfixUnit = onServer("sed -n 's|^0::.*/||p' /proc/$(tr -dc 0-9 < /var/spool/postfix/pid/master.pid)/cgroup")
            .trim();
        expect(postfixUnit).toMatch(/^postfix(@-)?\.service$/);
        const unitReloads = (): number[] => [postfixUnit, "dovecot.service", "nginx.service"].map((u) => Number(onServer(
            `journalctl -q --no-pager -o cat _PID=1 | grep -cF 'Reloaded ${u} ' || true`).trim()));

        // certbot logs the hooks it runs (and their failures) to its own log, not to the terminal
        const hookLog = (): string => onServer("grep -E 'deploy-hook' /var/log/letsencrypt/letsencrypt.log || true");
        const hooksBefore = hookLog();
        // the key the TLSA record pins (DANE): certbot keeps it across renewals (--reuse-key, kept in the renewal conf)
        const spki = (): string => onServer("/usr/local/sbin/mailstack-ctl spki /etc/letsencrypt/live/mailstack/privkey.pem").trim();
        expect(conf).toMatch(/^reuse_key = True$/m);
        const keyBefore = spki();
        const unitsBefore = unitReloads();
        const [postfix0, dovecot0] = reloads();
        // As certbot's timer runs it: the timer's unit, without REQUESTS_CA_BUNDLE (the stack put Pebble's CA in the
        // system store).
        // (a run of the timer that happens to be sleeping now would hold certbot's lock: it goes first)
        const r = onServerStatus(`systemctl stop certbot.service 2>/dev/null &&
            start=$(systemctl cat certbot.service | sed -n 's/^ExecStart=//p' | tail -n 1) && mkdir -p ${path.posix.dirname(DROPIN)} &&
            printf '[Service]\\nExecStart=\\nExecStart=%s --force-renewal --no-random-sleep-on-renew\\n' "$start" > ${DROPIN} &&
            systemctl daemon-reload && systemctl start certbot.service && systemctl show -p Result --value certbot.service`);
        expect(r).toEqual({ rc: 0, out: "success\n" });
        // once per lineage renewed: each rebuilds postfix's SNI table and reloads the daemons
        const hooks = hookLog().slice(hooksBefore.length).trim().split("\n");
        expect(hooks).toHaveLength(lineages.length);
        for (const line of hooks) {
            expect(line).toMatch(/:INFO:.*Running deploy-hook command: \/usr\/local\/sbin\/mailstack-ctl deployed$/);
        }
        const renewed = onDisk("mailstack");
        const webRenewed = onDisk(webLineage);
        expect(renewed).not.toBe(before.smtp);
        expect(webRenewed).not.toBe(before.web);
        expect(spki()).toBe(keyBefore);
        // the hook reloaded both daemons (their logs say so), through their units (systemd's log says so)
        await until("a reload of postfix and dovecot", 15, () => {
            const [postfix1, dovecot1] = reloads();
            return postfix1 > postfix0 && dovecot1 !== dovecot0 ? true : undefined;
        });
        const units = unitReloads();
        expect(units[0]).toBeGreaterThan(unitsBefore[0]);
        expect(units[1]).toBeGreaterThan(unitsBefore[1]);
        expect(units[2]).toBeGreaterThan(unitsBefore[2]);
        await until("the new certificate on 587", 30, () => (serial("587", "smtp") === renewed ? true : undefined));
        await until("the new certificate on 143", 30, () => (serial("143", "imap") === renewed ? true : undefined));
        await until("the new certificate on 443", 30, () => (webSerial() === webRenewed ? true : undefined));
        // the new private key is as private as the first one
        expect(onServer("stat -L -c '%a %U:%G' /etc/letsencrypt/live/mailstack/privkey.pem")).toBe("600 root:root\n");
        mailFlows("after renewal");
    });
});

afterAll(() => {
    expect(existsSync(path.join(ROOT, ".local", "Pulumi.local.tlsports.yaml"))).toBe(false);
});
