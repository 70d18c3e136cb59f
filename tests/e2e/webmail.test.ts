// Webmail in a real browser (Debian's Chromium, tests/e2e/browser.ts): alice, a system user, under /mail/ of the
// hostname with her bare name, and bob, a virtual user, at webmail.example.net with his address. Each reads a message
// that came in on port 25, bob sends one that arrives DKIM-signed, makes a filter that then files mail, and is told
// why a weak password is refused. Wrong passwords on the login form ban the address from 443 and the mail ports.
// A stopped php-fpm is named and started again like any daemon of the stack; webmail turned off is gone from the
// server (its database kept), and back when turned on.
// Screenshots of the login page and the inbox go to .local/screenshots/. (Changing a password in webmail, and what
// follows from it everywhere: tests/e2e/accounts.test.ts.)

import { execFileSync } from "child_process";
import * as path from "path";
import { type Browser, launchBrowser, newPage, screenshot } from "./browser";
import { atDomain, atHostname, changePassword, fileInto, logIn, openMessage, send } from "./roundcube";
import { WEBMAIL_DB, WEBMAIL_POOL_LINK, WEBMAIL_SUDOERS, WEBMAIL_UNIT } from "../../components/render/webmail";
import { UNIT_DIR } from "../../components/render/systemd";
import { DOCTOR } from "../../components/render/ops";
import { CLIENT_NETNS, configVariant, deliver, dkimTable, logins, mail, onServer, pebbleRoot, pulumi, ROOT, testbed } from "./testbed";

jest.setTimeout(300_000);

const t = testbed();
const host = t.serverAddress;
const who = logins(t);
const alice = who.alice;
const bob = { login: "bob@example.net", password: who.pw("bob@example.net") };
const run = `${Date.now()}`;
const SHOTS = path.join(ROOT, ".local", "screenshots");
let browser: Browser;

beforeAll(async () => {
    browser = await launchBrowser();
}, 120_000);
afterAll(async () => browser?.close());

test("alice (system user, bare name) at /mail/ of the hostname: login page, inbox, a message from outside", async () => {
    const subject = `webmail inbox ${run}`;
    deliver(host, who, subject, alice.name);
    const page = await newPage(browser);
    await page.goto(atHostname());
    await page.locator("#rcmloginuser").waitFor();
    await screenshot(page, path.join(SHOTS, "webmail-login.png"));
    await logIn(page, atHostname(), alice.name, alice.password);
    const shown = await openMessage(page, `${subject} ${alice.address}`);
    expect(await shown.locator("body").innerText()).toContain(subject);
    await screenshot(page, path.join(SHOTS, "webmail-inbox.png"));
    await page.context().close();
});

test("bob (virtual user, full address) at webmail.example.net: reads, sends DKIM-signed, files by his own filter", async () => {
    const page = await newPage(browser);
    await expect(logIn(page, atDomain("example.net"), bob.login, `${bob.password}-wrong`)).rejects.toThrow(/refused/);
    await logIn(page, atDomain("example.net"), bob.login, bob.password);
    const incoming = `webmail read ${run}`;
    deliver(host, who, incoming, bob.login);
    expect(await (await openMessage(page, `${incoming} ${bob.login}`)).locator("body").innerText()).toContain(incoming);

    // sent from the browser: it arrives at alice's, signed for bob's domain
    const subject = `webmail sent ${run}`;
    await send(page, atDomain("example.net"), alice.address, subject, "written in Roundcube");
    expect(mail("wait", host, alice.name, alice.password, subject, "60").ok).toBe(true);
    const checked = mail("dkim", host, alice.name, alice.password, subject, JSON.stringify(dkimTable())) as unknown as
        { ok: boolean; signatures: { d: string; verified: boolean }[]; headers: string };
    expect(checked.signatures).toEqual([expect.objectContaining({ d: "example.net", verified: true })]);
    expect(checked.headers).toMatch(/^From: .*bob@example\.net/m);

    // a filter made in webmail (ManageSieve, port 4190 of the server) files what it matches
    const folder = `Filed-${run}`;
    expect(mail("folder", host, bob.login, bob.password, "create", folder).ok).toBe(true);
    await fileInto(page, atDomain("example.net"), `webmail ${run}`, `sieve-${run}`, folder);
    const filed = `about sieve-${run}`;
    expect(mail("send", host, "25", "someone@client.example", bob.login, filed).ok).toBe(true);
    expect(mail("wait", host, bob.login, bob.password, filed, "60", folder).ok).toBe(true);

    // a weak new password: the form says why, and nothing changes
    expect(await changePassword(page, atDomain("example.net"), bob.password, "short1")).toMatch(/12 characters/);
    expect(mail("login", host, bob.login, bob.password).ok).toBe(true);
    await page.context().close();
});

test("wrong passwords on the login form ban the address from 443 and the mail ports; other addresses keep working", () => {
    const attacker = `192.0.2.${200 + (Date.now() % 50)}`;
    const dev = execFileSync("ip", ["-n", CLIENT_NETNS, "-o", "-4", "addr", "show"], { encoding: "utf8" })
        .split("\n").find((l) => / 192\.0\.2\.1\/24 /.test(l))?.split(/\s+/)[1] ?? "";
    execFileSync("ip", ["-n", CLIENT_NETNS, "addr", "replace", `${attacker}/32`, "dev", dev]);
    const ca = pebbleRoot(path.join(ROOT, ".local", "pebble-root.pem"));
    const from = (source: string, ...args: string[]): { ok: boolean; code?: number; error?: string } =>
        JSON.parse(execFileSync("ip", ["netns", "exec", CLIENT_NETNS, "env", `MAILCLIENT_SOURCE=${source}`, "/usr/bin/python3",
            path.join(__dirname, "mailclient.py"), ...args], { encoding: "utf8" })) as { ok: boolean; code?: number; error?: string };
    try {
        // the right password works from there first: the form, not the address, is what is tried
        expect(from(attacker, "weblogin", host, atHostname(), bob.login, bob.password, ca).ok).toBe(true);
        const maxRetry = 5; // Pulumi.local.yaml's bruteForce.maxRetry
        for (let i = 0; i < maxRetry; i++) {
            expect(from(attacker, "weblogin", host, atHostname(), bob.login, `wrong-${i}`, ca)).toMatchObject({ ok: false, code: 401 });
        }
        const deadline = Date.now() + 30_000;
        while (!onServer("fail2ban-client status mailstack").includes(attacker) && Date.now() < deadline) {
            execFileSync("sleep", ["1"]);
        }
        expect(onServer("fail2ban-client status mailstack")).toContain(attacker);
        expect(from(attacker, "port", host, "443").ok).toBe(false);
        expect(from(attacker, "port", host, "143").ok).toBe(false);
        // the tests' own address is never banned, and logs in as before
        expect(mail("weblogin", host, atHostname(), bob.login, bob.password, ca).ok).toBe(true);
    } finally {
        onServer(`fail2ban-client set mailstack unbanip ${attacker} >/dev/null 2>&1 || true`);
        execFileSync("ip", ["-n", CLIENT_NETNS, "addr", "del", `${attacker}/32`, "dev", dev]);
    }
});

test("a stopped php-fpm is named by the doctor and preview, and up starts it; off removes webmail but its database, on brings it back", () => {
    const up = (...args: string[]): void => {
        const r = pulumi("up", "--yes", "--skip-preview", ...args);
        expect({ status: r.status, err: r.status === 0 ? "" : r.stdout.slice(-3000) + r.stderr }).toEqual({ status: 0, err: "" });
    };
    const serves = (): boolean => mail("weblogin", host, atHostname(), bob.login, bob.password,
        pebbleRoot(path.join(ROOT, ".local", "pebble-root.pem"))).ok;
    // stopped under its own, versioned name (php8.2-fpm on Debian 12): the stack's alias names the same unit
    const fpm = onServer(`systemctl show -P Id ${WEBMAIL_UNIT}`).trim();
    expect(fpm).toMatch(/^php[0-9.]+-fpm\.service$/);
    onServer(`systemctl stop ${fpm}`);
    expect(serves()).toBe(false);
    expect(onServer(`${DOCTOR} | grep '^fail' || true`)).toMatch(new RegExp(`units\tnot running: .*${WEBMAIL_UNIT} \\(inactive\\)`));
    const preview = pulumi("preview");
    expect(preview.status).toBe(0);
    expect(preview.stdout).toContain(`${WEBMAIL_UNIT} is not running on the server (inactive): this up starts it again`);
    up();
    expect(onServer(`systemctl is-active ${fpm}`)).toBe("active\n");
    expect(serves()).toBe(true);

    // off: nginx no longer routes to it, and php-fpm's pool, the sudoers rule and the alias are gone; the data stays
    const off = configVariant("webmail-off", [["mailstack:webmail", "false"]]);
    try {
        up("--config-file", off);
        expect(serves()).toBe(false);
        const left = `/etc/php/*/fpm/pool.d/${WEBMAIL_POOL_LINK} ${WEBMAIL_SUDOERS} ${UNIT_DIR}/${WEBMAIL_UNIT}`;
        expect(onServer(`for f in ${left}; do if [ -e "$f" ] || [ -L "$f" ]; then echo "$f"; fi; done`)).toBe("");
        expect(onServer(`test -s ${WEBMAIL_DB} && echo kept`)).toBe("kept\n");
        expect(onServer(`systemctl is-active ${fpm}`)).toBe("active\n"); // php-fpm itself runs on, without our pool
    } finally {
        up();
    }
    expect(serves()).toBe(true);
    expect(onServer(`systemctl show -P Id ${WEBMAIL_UNIT}`).trim()).toBe(fpm);
});
