// A real browser for the end-to-end tests: Debian's Chromium (scripts/setup installs it), driven by playwright-core
// over pipes, running in the client network namespace like the tests' other clients (testbed.ts `mail`), so its
// connections come from 192.0.2.1, the address fail2ban ignores. The test domains' names go to the test server, and its
// certificates are verified against Pebble's current root, trusted in a profile of the browser's own.
//
//     const browser = await launchBrowser();
//     try {
//         const page = await newPage(browser);
//         await page.goto("https://webmail.example.net/");
//         await screenshot(page, "/work/shots/webmail.png");
//     } finally {
//         await browser.close();
//     }
//
// or `withPage(async (page) => ...)`, which closes the browser whatever happens.

import { execFileSync } from "child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "fs";
import * as os from "os";
import * as path from "path";
import { chromium, type Browser, type BrowserContextOptions, type Page } from "playwright-core";
import { CLIENT_NETNS, pebbleRoot, testbed } from "./testbed";

export type { Browser, Page } from "playwright-core";

/** Debian's Chromium itself, not its /usr/bin launcher (which adds desktop flags and sources /etc/chromium.d). */
export const CHROMIUM = "/usr/lib/chromium/chromium";

export interface LaunchOptions {
    /** Where the test domains' names resolve: by default the test server's address. */
    address?: string;
    /** More Chromium flags. */
    args?: string[];
}

/**
 * Chromium started in CLIENT_NETNS, with a throwaway HOME whose NSS database trusts Pebble's current root (Pebble
 * makes a new one at every start): HTTPS to the test server verifies as a real client's would, nothing is ignored.
 * The temporary directory goes when the browser disconnects (`browser.close()`, or a crash); a test process killed
 * outright leaves it in the temporary directory (Playwright still kills the browser when the process exits).
 */
export async function launchBrowser(opts: LaunchOptions = {}): Promise<Browser> {
    if (!existsSync(CHROMIUM)) {
        throw new Error(`no ${CHROMIUM}: run scripts/setup (it installs Debian's chromium package)`);
    }
    const dir = mkdtempSync(path.join(os.tmpdir(), "mailstack-browser-"));
    const remove = (): void => rmSync(dir, { recursive: true, force: true });
    try {
        // Chromium on Linux takes the trust anchors a user added from the NSS database in $HOME/.pki/nssdb.
        const nssdb = `sql:${path.join(dir, ".pki", "nssdb")}`;
        mkdirSync(path.join(dir, ".pki", "nssdb"), { recursive: true });
        // No terminal and a time limit: certutil asks for a password forever on a database that has one.
        const certutil = (...args: string[]): void => {
            execFileSync("certutil", ["-d", nssdb, ...args], { stdio: ["ignore", "pipe", "pipe"], timeout: 30_000 });
        };
        certutil("-N", "--empty-password");
        certutil("-A", "-t", "C,,", "-n", "pebble-root", "-i", pebbleRoot(path.join(dir, "pebble-root.pem")));
        // Playwright starts this and talks to it over pipes (fd 3 and 4), which the namespace leaves alone;
        // `ip netns exec` and the shell exec, so Playwright's pid is Chromium's own.
        const wrapper = path.join(dir, "chromium");
        writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec '${CLIENT_NETNS}' '${CHROMIUM}' "$@"\n`, { mode: 0o755 });
        const t = testbed();
        const address = opts.address ?? t.serverAddress;
        // Every name in the test domains (those of the server's names: example.org, example.net, ...) goes to the
        // server, also one that the client namespace's /etc/hosts lacks (made at client-up: no webmail.*). Not `MAP *`:
        // Chromium's own background requests (Google's names) would reach the server's nginx too; they fail at the
        // namespace's resolver instead, as every name outside the test domains does.
        const domains = [...new Set(t.names.map((n) => n.slice(n.indexOf(".") + 1)))];
        const rules = domains.flatMap((d) => [`MAP *.${d} ${address}`, `MAP ${d} ${address}`]).join(", ");
        const browser = await chromium.launch({
            executablePath: wrapper,
            headless: true,
            // We are root: Chromium refuses to start with its sandbox (Playwright then passes --no-sandbox).
            chromiumSandbox: false,
            // Chromium's crashpad handler keeps its database under XDG_CONFIG_HOME: in DIR too, removed with it.
            env: { ...process.env, HOME: dir, XDG_CONFIG_HOME: path.join(dir, ".config"),
                XDG_CACHE_HOME: path.join(dir, ".cache") },
            args: [
                `--host-resolver-rules=${rules}`,
                // no keyring to ask over D-Bus (there is no bus: Chromium only logs that it failed to connect)
                "--password-store=basic",
                ...(opts.args ?? []),
            ],
            timeout: 60_000,
        });
        browser.on("disconnected", remove);
        return browser;
    } catch (e) {
        remove();
        throw e;
    }
}

/** A page in a new context (its own cookies and storage) of BROWSER. */
export async function newPage(browser: Browser, options: BrowserContextOptions = {}): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, ...options });
    return context.newPage();
}

/** A screenshot of the whole page to FILE (its directory made as needed); FILE back. */
export async function screenshot(page: Page, file: string): Promise<string> {
    mkdirSync(path.dirname(file), { recursive: true });
    await page.screenshot({ path: file, fullPage: true });
    return file;
}

/** FN on a new page of a new browser, which is closed afterwards, also when FN throws. */
export async function withPage<T>(fn: (page: Page, browser: Browser) => Promise<T>, opts: LaunchOptions = {}):
    Promise<T> {
    const browser = await launchBrowser(opts);
    try {
        return await fn(await newPage(browser), browser);
    } finally {
        await browser.close();
    }
}
