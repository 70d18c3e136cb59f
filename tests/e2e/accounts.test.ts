// Accounts over time: a created system user who leaves the config is locked for mail (no IMAP, no SMTP AUTH, no
// mail to him) with his Maildir kept, and comes back when listed again; a removed virtual user the same way; an
// account that existed before is adopted without touching its password, and released as it was.

import { spawnSync } from "child_process";
import { chmodSync, copyFileSync, mkdtempSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { ADOPTED, OWN } from "../../components/users";
import { launchBrowser, newPage } from "./browser";
import { changePassword } from "./replacement";
import { atDomain, atHostname, changePassword as webmailPassword, logIn } from "./roundcube";
import { CLIENT_NETNS, mail, onServer, output, pulumi, ROOT, testbed } from "./testbed";

jest.setTimeout(300_000);

const t = testbed();
const host = t.serverAddress;
const alice = t.systemUser;
const run = `${Date.now()}`;
const up = (...args: string[]): { status: number; stdout: string; stderr: string } =>
    pulumi("up", "--yes", "--skip-preview", ...args);

/** The committed stack config with some changes: `config set --path` for each [key, value], `config rm` for [key]. */
function variant(name: string, ...changes: ([string, string] | [string])[]): string {
    const config = path.join(ROOT, ".local", `Pulumi.local.${name}.yaml`);
    copyFileSync(path.join(ROOT, "Pulumi.local.yaml"), config);
    for (const [key, value] of changes) {
        const r = value === undefined ? pulumi("config", "rm", "--path", key, "--config-file", config)
            : pulumi("config", "set", "--path", key, value, "--config-file", config);
        expect(r.status).toBe(0);
    }
    return config;
}

/** Whether each way in answers: IMAP login, SMTP AUTH on 587 (sending to the user itself), mail on port 25. */
function access(login: string, address: string, password: string): { imap: boolean; submission: boolean; inbound: boolean } {
    const subject = `access ${login} ${Date.now()}`;
    return {
        imap: mail("login", host, login, password).ok,
        submission: mail("send", host, "587", address, address, subject, login, password).ok,
        inbound: mail("send", host, "25", "someone@client.example", address, subject).ok,
    };
}

// Pulumi.local.yaml: bob@example.net has app passwords for phone and laptop, alice (a system user the stack did not
// make) for phone.
type Apps = Record<string, Record<string, string>>;

/** After an up without bob's phone: its password is refused, his laptop's and alice's still log in, and alice's
 * phone keeps its file. */
function phoneRemoved(before: Apps): void {
    const started = Date.now();
    expect(output<Apps>("appPasswords")["bob@example.net"]).toEqual({ laptop: before["bob@example.net"].laptop });
    expect(access("bob@example.net", "bob@example.net", before["bob@example.net"].phone)).toMatchObject({ imap: false, submission: false });
    expect(mail("login", host, "bob@example.net", before["bob@example.net"].laptop).ok).toBe(true);
    expect(mail("login", host, alice.name, before["alice@example.org"].phone).ok).toBe(true);
    expect(onServer("ls /etc/dovecot/app-passwords")).toBe("laptop\nphone\n");
    appSeconds += (Date.now() - started) / 1000;
}

/** After the up that lists it again: the phone has a new password, the old one stays refused, the laptop's stays. */
function phoneBack(before: Apps): void {
    const started = Date.now();
    const again = output<Apps>("appPasswords")["bob@example.net"];
    expect(again.laptop).toBe(before["bob@example.net"].laptop);
    expect(again.phone).not.toBe(before["bob@example.net"].phone);
    expect(mail("login", host, "bob@example.net", again.phone).ok).toBe(true);
    expect(mail("login", host, "bob@example.net", before["bob@example.net"].phone).ok).toBe(false);
    appSeconds += (Date.now() - started) / 1000;
}

/** What the app-password checks add to this file's run (they share the other tests' ups). */
let appSeconds = 0;
afterAll(() => process.stderr.write(`app passwords e2e: ${appSeconds.toFixed(1)} s\n`));

describe("a created system user", () => {
    test("removed from systemUsers: locked for mail, Maildir kept; listed again: back, with his mail", () => {
        const frank = output<Record<string, string>>("systemUserPasswords")["frank@example.org"];
        const subject = `frank before leaving ${run}`;
        expect(mail("send", host, "25", "someone@client.example", "frank@example.org", subject)).toMatchObject({ ok: true });
        expect(mail("wait", host, "frank", frank, subject)).toMatchObject({ ok: true });
        expect(access("frank", "frank@example.org", frank)).toEqual({ imap: true, submission: true, inbound: true });

        const apps = output<Apps>("appPasswords");
        // bob's phone leaves the config in the same up (an up is what costs: one pair serves both removals)
        const gone = variant("nofrank", ["mailstack:systemUsers"], ['mailstack:aliases["office@example.org"]'],
            ['mailstack:appPasswords["bob@example.net"][0]']);
        expect(up("--config-file", gone).status).toBe(0);
        phoneRemoved(apps);
        expect(access("frank", "frank@example.org", frank)).toEqual({ imap: false, submission: false, inbound: false });
        expect(mail("login", host, "frank@example.org", frank)).toMatchObject({ ok: false });
        const refused = mail("send", host, "25", "someone@client.example", "frank@example.org", `after ${run}`);
        expect(refused).toMatchObject({ ok: false, code: 550 });
        expect(Number(onServer("ls /home/frank/Maildir/new /home/frank/Maildir/cur | grep -c '^[0-9]'"))).toBeGreaterThan(0);
        expect(onServer("id -u frank")).toMatch(/^\d+\n$/);

        expect(up().status).toBe(0);
        phoneBack(apps);
        const again = output<Record<string, string>>("systemUserPasswords")["frank@example.org"];
        expect(access("frank", "frank@example.org", again)).toEqual({ imap: true, submission: true, inbound: true });
        expect(mail("login", host, "frank", again).subjects).toContain(subject);
    });
});

describe("a virtual user", () => {
    test("removed: no login, no mail, mailbox kept; added again: back, with the mail", () => {
        const subject = `dave before leaving ${run}`;
        const before = output<Record<string, string>>("virtualUserPasswords")["dave@example.com"];
        expect(mail("send", host, "25", "someone@client.example", "dave@example.com", subject)).toMatchObject({ ok: true });
        expect(mail("wait", host, "dave@example.com", before, subject)).toMatchObject({ ok: true });

        const gone = variant("nodave", ["mailstack:virtualUsers[2]"], ['mailstack:aliases["sales@example.com"][0]']);
        expect(up("--config-file", gone).status).toBe(0);
        expect(access("dave@example.com", "dave@example.com", before)).toEqual({ imap: false, submission: false, inbound: false });
        expect(mail("send", host, "25", "someone@client.example", "dave@example.com", `after ${run}`))
            .toMatchObject({ ok: false, code: 550 });
        expect(onServer("test -d /var/mail/vhosts/example.com/dave/cur && echo kept")).toBe("kept\n");

        expect(up().status).toBe(0);
        const again = output<Record<string, string>>("virtualUserPasswords")["dave@example.com"];
        expect(mail("login", host, "dave@example.com", again).subjects).toContain(subject);
    });
});

describe("an account that existed before", () => {
    test("listed in systemUsers: adopted, its own password unchanged and said so; unlisted: as it was", () => {
        const shadow = onServer("getent shadow alice | cut -d: -f2");
        const adopt = variant("adoptalice", ["mailstack:systemUsers[1]", "alice"]);
        expect(up("--config-file", adopt).status).toBe(0);
        expect(output<Record<string, string>>("systemUserPasswords")["alice@example.org"]).toBe(ADOPTED);
        expect(onServer("getent shadow alice | cut -d: -f2")).toBe(shadow);
        expect(access(alice.name, alice.address, alice.password)).toEqual({ imap: true, submission: true, inbound: true });

        expect(up().status).toBe(0);
        expect(onServer("getent shadow alice | cut -d: -f2")).toBe(shadow);
        expect(access(alice.name, alice.address, alice.password)).toEqual({ imap: true, submission: true, inbound: true });
        expect(mail("login", host, alice.name, alice.password).subjects).toContain("old mail that must survive");
    });
});

/** Whether `ssh LOGIN@server` with PASSWORD (and nothing else: no key, one try) gets a shell, from the client namespace. */
function sshWithPassword(login: string, password: string): boolean {
    const dir = mkdtempSync(path.join(tmpdir(), "mailstack-askpass-"));
    try {
        // ssh asks this program for the password (SSH_ASKPASS_REQUIRE=force: no terminal needed); the password goes
        // through the environment, never a command line
        const askpass = path.join(dir, "askpass");
        writeFileSync(askpass, "#!/bin/sh\nprintf '%s\\n' \"$MAILSTACK_SSH_PASSWORD\"\n");
        chmodSync(askpass, 0o700);
        const r = spawnSync("ip", ["netns", "exec", CLIENT_NETNS, "ssh", "-o", `UserKnownHostsFile=${t.sshKnownHostsFile}`,
            "-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications=password,keyboard-interactive",
            "-o", "NumberOfPasswordPrompts=1", "-o", "ConnectTimeout=10", `${login}@${host}`, "true"], {
            encoding: "utf8", timeout: 60_000, stdio: ["ignore", "pipe", "pipe"],
            env: { ...process.env, SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: "force", MAILSTACK_SSH_PASSWORD: password },
        });
        return r.status === 0;
    } finally {
        rmSync(dir, { recursive: true, force: true });
    }
}

describe("app passwords", () => {
    const logSize = (): number => Number(onServer("stat -c %s /var/log/dovecot.log"));
    const logSince = (size: number): string => onServer(`tail -c +${size + 1} /var/log/dovecot.log`);
    /** The login line of imap-login with the device (2.3 says "Login:", 2.4 "Logged in:"), and auth's line of the
     * device's passdb for a login of USER (SMTP AUTH's too: 2.3 "app-D(USER,IP..." , 2.4 "auth(USER,IP,...): Debug: app-D:"). */
    const named = (text: string, user: string, device: string): { imap: boolean; auth: boolean } => {
        const u = user.replace(/[.]/g, "[.]");
        return {
            imap: new RegExp(`imap-login: Info: (Login|Logged in): user=<${u}>.* device=${device}$`, "m").test(text),
            auth: new RegExp(`(app-${device}\\(${u},|auth\\(${u},.*Debug: app-${device}: )`, "m").test(text),
        };
    };

    // Removing a device and listing it again: in "a created system user" above, whose pair of ups it shares.
    test("a device's password logs in on IMAP and 587, named in the log, beside the own one; never on ssh", () => {
        const started = Date.now();
        const apps = output<Apps>("appPasswords");
        expect(Object.keys(apps).sort()).toEqual(["alice@example.org", "bob@example.net"]);
        expect(Object.keys(apps["bob@example.net"]).sort()).toEqual(["laptop", "phone"]);
        const before = logSize();
        expect(access("bob@example.net", "bob@example.net", apps["bob@example.net"].phone))
            .toEqual({ imap: true, submission: true, inbound: true });
        expect(access(alice.name, alice.address, apps["alice@example.org"].phone)).toEqual({ imap: true, submission: true, inbound: true });
        expect(mail("login", host, alice.name, alice.password).ok).toBe(true);
        const lines = logSince(before);
        expect(named(lines, "bob@example.net", "phone")).toEqual({ imap: true, auth: true });
        expect(named(lines, "alice", "phone")).toEqual({ imap: true, auth: true });
        // ssh takes alice's own password (so the refusal below is the app password's), never an app password
        expect(sshWithPassword(alice.name, alice.password)).toBe(true);
        expect(sshWithPassword(alice.name, apps["alice@example.org"].phone)).toBe(false);
        // only dovecot reads them: root:dovecot 0640, a file per device
        expect(onServer("stat -c '%n %U:%G %a' /etc/dovecot/app-passwords/*")).toBe(
            "/etc/dovecot/app-passwords/laptop root:dovecot 640\n/etc/dovecot/app-passwords/phone root:dovecot 640\n");
        appSeconds += (Date.now() - started) / 1000;
    });
});

/** Where a password logs in: IMAP (143), SMTP AUTH after STARTTLS (587, a message to the user itself), ManageSieve (4190). */
function everywhere(login: string, password: string): { imap: boolean; submission: boolean; sieve: boolean } {
    const address = login.includes("@") ? login : `${login}@${alice.address.split("@")[1]}`;
    return {
        imap: mail("login", host, login, password).ok,
        submission: mail("send", host, "587", address, address, `own password ${login} ${Date.now()}`, login, password).ok,
        sieve: mail("sievelogin", host, login, password).ok,
    };
}

describe("passwords the users choose", () => {
    const yes = { imap: true, submission: true, sieve: true };
    const no = { imap: false, submission: false, sieve: false };
    const mine = { bob: `Chosen-By-Him-${run}`, frank: `Own-Secret-${run}`, alice: `Her-Own-Choice-${run}` };
    let generated: Record<string, string>;
    // alice's is testbed.json's again whatever happened here: the other files log in with it
    afterAll(() => onServer(`printf 'alice:%s\\n' '${alice.password}' | chpasswd`));

    test("bob (virtual) and alice (adopted) change theirs in webmail, frank (made by the stack) on the server: refused " +
        "when weak, wrong or an app password; then the old one is refused on IMAP, 587 and 4190 and the new one works; up " +
        "and preview keep them", async () => {
        generated = { ...output<Record<string, string>>("virtualUserPasswords"), ...output<Record<string, string>>("systemUserPasswords") };
        const bob = generated["bob@example.net"];
        const phone = output<Apps>("appPasswords")["bob@example.net"].phone;
        // one line each, naming the reason; nothing changes
        expect(changePassword("bob@example.net", bob, "short1")).toEqual(
            { rc: 1, out: "mailstack-ctl: password: the new password must have at least 12 characters\n" });
        expect(changePassword("bob@example.net", "not-his-password", mine.bob).out).toMatch(/current password of bob@example\.net is wrong\n$/);
        expect(changePassword("bob@example.net", phone, mine.bob).out).toMatch(/an app password cannot change it/);
        expect(changePassword("bob@example.net", bob, `xx-bob-${run}`).out).toMatch(/may not contain the user name/);
        expect(changePassword("root", alice.password, mine.alice).rc).toBe(1);

        // bob and alice in webmail (its password plugin runs mailstack-ctl password through sudo), frank on the server
        const browser = await launchBrowser();
        try {
            for (const [base, login, old, now] of [[atDomain("example.net"), "bob@example.net", bob, mine.bob],
                [atHostname(), alice.name, alice.password, mine.alice]]) {
                const page = await newPage(browser);
                await logIn(page, base, login, old);
                expect(await webmailPassword(page, base, old, now)).toMatch(/successfully saved/i);
            }
        } finally {
            await browser.close();
        }
        expect(changePassword("frank@example.org", generated["frank@example.org"], mine.frank).rc).toBe(0);
        for (const [login, old, now] of [["bob@example.net", bob, mine.bob], ["frank", generated["frank@example.org"], mine.frank],
            ["alice", alice.password, mine.alice]]) {
            expect({ login, old: everywhere(login, old), now: everywhere(login, now) }).toEqual({ login, old: no, now: yes });
        }
        // the log names who, never a password
        const log = onServer("journalctl -t mailstack-password --no-pager -o cat | tail -n 8");
        expect(log).toMatch(/^password changed for bob@example\.net$/m);
        expect(log).toMatch(/^password change refused for bob@example\.net: the new password must have at least 12 characters$/m);
        expect(log).not.toContain(mine.bob);

        // the next up keeps them, and names who chose one; the generated passwords are not shown for them
        expect(up("--expect-no-changes").status).toBe(0);
        expect(output<Record<string, string>>("virtualUserPasswords")["bob@example.net"]).toBe(OWN);
        expect(output<Record<string, string>>("virtualUserPasswords")["carol@example.net"]).toBe(generated["carol@example.net"]);
        expect(output<Record<string, string>>("systemUserPasswords")["frank@example.org"]).toBe(OWN);
        expect(pulumi("preview", "--expect-no-changes").status).toBe(0);
        expect(mail("login", host, "bob@example.net", mine.bob).ok).toBe(true);
        // kept on the volume with the accounts, for a new server
        expect(onServer("cut -d: -f1 /srv/mailstack/accounts/own-passwords | sort")).toBe("alice\nbob@example.net\nfrank\n");
    });

    test("passwordResets gives bob and frank the generated password back; alice's is her own and left alone", () => {
        const reset = variant("resets", ['mailstack:passwordResets["bob@example.net"]', "forgot"],
            ['mailstack:passwordResets["frank@example.org"]', "forgot"]);
        const r = up("--config-file", reset);
        expect(r.status).toBe(0);
        for (const [login, old, now] of [["bob@example.net", mine.bob, generated["bob@example.net"]],
            ["frank", mine.frank, generated["frank@example.org"]]]) {
            expect({ login, old: mail("login", host, login, old).ok, now: everywhere(login, now) }).toEqual({ login, old: false, now: yes });
        }
        expect(output<Record<string, string>>("virtualUserPasswords")["bob@example.net"]).toBe(generated["bob@example.net"]);
        expect(output<Record<string, string>>("systemUserPasswords")["frank@example.org"]).toBe(generated["frank@example.org"]);
        // the stack's config again: the resets are done, nothing else changes
        expect(up().status).toBe(0);
        // alice changes hers back
        expect(changePassword("alice", mine.alice, alice.password).rc).toBe(0);
        expect(mail("login", host, alice.name, alice.password).ok).toBe(true);
    });
});
