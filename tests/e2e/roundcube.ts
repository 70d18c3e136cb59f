// Roundcube as a user works it, in the real browser (browser.ts): log in, open a message, write one, make a filter,
// change the password. The selectors are those of Roundcube's elastic skin (Debian's roundcube-core 1.6).

import type { Frame, Page } from "playwright-core";
import { testbed } from "./testbed";

/** Webmail under /mail/ of the hostname, and at webmail.DOMAIN. */
export const atHostname = (): string => `https://${testbed().hostname}/mail/`;
export const atDomain = (domain: string): string => `https://webmail.${domain}/`;

/** Logs in at BASE; resolves once the mail view is there, rejects with Roundcube's message when the login fails. */
export async function logIn(page: Page, base: string, login: string, password: string): Promise<void> {
    await page.goto(base);
    await page.fill("#rcmloginuser", login);
    await page.fill("#rcmloginpwd", password);
    await page.click("#rcmloginsubmit");
    const outcome = await Promise.race([
        page.waitForURL(/_task=mail/, { timeout: 30_000 }).then(() => "in"),
        page.locator("#messagestack .error, #messagestack .warning").first().waitFor({ timeout: 30_000 })
            .then(async () => `refused: ${await page.locator("#messagestack").innerText()}`),
    ]);
    if (outcome !== "in") {
        throw new Error(`${login} at ${base}: ${outcome}`);
    }
    // attached, not visible: the skin hides the list of an empty mailbox
    await page.locator("#messagelist").waitFor({ state: "attached" });
}

/** Opens the message with SUBJECT in the list (it may take a refresh to arrive); the frame it is shown in. */
export async function openMessage(page: Page, subject: string): Promise<Frame> {
    const row = page.locator("#messagelist tr", { hasText: subject });
    // the list arrives after the page (an XHR): a few seconds for it each time, then a reload for newer mail
    for (let i = 0; i < 10; i++) {
        if (await row.first().waitFor({ timeout: 3_000 }).then(() => true, () => false)) {
            break;
        }
        await page.reload();
    }
    await row.first().click();
    const frame = page.frameLocator("#messagecontframe");
    await frame.locator("h2.subject, .subject").first().waitFor();
    const f = page.frame({ name: "messagecontframe" });
    if (f === null) {
        throw new Error("no message frame");
    }
    return f;
}

/** Writes and sends a message; resolves once Roundcube says it was sent. */
export async function send(page: Page, base: string, to: string, subject: string, body: string): Promise<void> {
    await page.goto(`${base}?_task=mail&_action=compose`);
    const recipient = page.locator("#compose_to input.input-group, #compose_to .recipient-input input").first();
    await recipient.fill(to);
    await recipient.press("Enter");
    await page.fill("#compose-subject", subject);
    await page.fill("#composebody", body);
    await page.evaluate("rcmail.command('send', {})");
    await page.waitForURL(/_task=mail(?!.*_action=compose)/, { timeout: 60_000 });
}

/**
 * A filter through the managesieve plugin's form (the page Settings > Filters > Create shows in its frame): mail
 * whose subject contains WORD goes to FOLDER. Saved with the plugin's own command, as the Save button does.
 */
export async function fileInto(page: Page, base: string, name: string, word: string, folder: string): Promise<void> {
    await page.goto(`${base}?_task=settings&_action=plugin.managesieve-action&_framed=1`);
    await page.fill("input[name=_name]", name);
    await page.selectOption("select[name='_header[0]']", "subject");
    await page.selectOption("select[name='_rule_op[0]']", "contains");
    await page.locator("input[name='_rule_target[0][]']").first().fill(word);
    await page.selectOption("select[name='_action_type[0]']", "fileinto");
    await page.selectOption("select[name='_action_mailbox[0]']", folder);
    await Promise.all([page.waitForNavigation({ timeout: 30_000 }), page.evaluate("rcmail.command('plugin.managesieve-save', {})")]);
    const errors = await page.locator(".error, .warning").allInnerTexts();
    if (errors.some((e) => e.trim() !== "")) {
        throw new Error(`the filter was not saved: ${errors.join(" ")}`);
    }
}

/** The password plugin's form: Roundcube's message after saving (success or why not). */
export async function changePassword(page: Page, base: string, current: string, next: string): Promise<string> {
    await page.goto(`${base}?_task=settings&_action=plugin.password`);
    await page.fill("input[name=_curpasswd]", current);
    await page.fill("input[name=_newpasswd]", next);
    await page.fill("input[name=_confpasswd]", next);
    await page.evaluate("rcmail.command('plugin.password-save')");
    const message = page.locator("#messagestack .confirmation, #messagestack .error, #messagestack .warning").first();
    await message.waitFor({ timeout: 60_000 });
    return message.innerText();
}
