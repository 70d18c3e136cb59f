// Junk learns (issue 24, item 8): moving a message into Junk teaches rspamd spam, moving it out teaches ham, for a
// system user (PAM, whose imap runs as alice) and a virtual user (imap as vmail). dovecot's imapsieve pipes the
// message to mailstack-learn.socket, whose service (as _rspamd) runs rspamc against rspamd's controller socket;
// the learning is done when the IMAP MOVE returns. No `up`: the test server as `npm run local` left it.

import { spawnSync } from "child_process";
import { CONTROLLER_SOCKET } from "../../components/render/rspamd";
import { mail, onServer, onServerStatus, output, testbed } from "./testbed";

jest.setTimeout(300_000);

const t = testbed();
const host = t.serverAddress;
const alice = t.systemUser;
const virtual = output<Record<string, string>>("virtualUserPasswords");
const run = `${Date.now()}`;

/**
 * rspamd's learned counts, as `rspamc stat` reports them: read where it reads them (the "RS" hash in redis, what
 * Bayes keeps per class), because the controller refreshes its copy only every minute or so.
 */
function learned(): { spam: number; ham: number } {
    // one line per field, empty for a field not there yet (no message of that class learned)
    const [spam, ham] = onServer("redis-cli --raw HMGET RS learns_spam learns_ham").split("\n").slice(0, 2)
        .map((v) => Number(v.trim() || "0"));
    return { spam, ham };
}

/** The counts once COND holds for them (rspamd writes them to redis just after it answers rspamc), or after 20 s. */
function learnedOnce(cond: (n: { spam: number; ham: number }) => boolean): { spam: number; ham: number } {
    const deadline = Date.now() + 20_000;
    let n = learned();
    while (!cond(n) && Date.now() < deadline) {
        spawnSync("sleep", ["0.5"]);
        n = learned();
    }
    return n;
}

/** Why a count did not move: what the learning service and dovecot said. */
function why(): string {
    return onServerStatus("journalctl -q --no-pager -n 20 -u 'mailstack-learn@*' -u mailstack-learn.socket; " +
        "journalctl -q --no-pager -n 20 -t dovecot -t imap 2>/dev/null | grep -i -e sieve -e learn || true").out;
}

const users: [string, string, string][] = [
    ["system user (PAM)", alice.name, alice.password],
    ["virtual user (vmail)", "bob@example.net", virtual["bob@example.net"]],
];

describe("moving mail into or out of Junk teaches rspamd", () => {
    test.each(users)("%s: into Junk is spam, back out is ham", (_kind, login, password) => {
        const subject = `junk learns ${login} ${run}`;
        // enough distinct words for the Bayes classifier (it skips messages with too few tokens)
        const body = `Cheap watches and pills ${run} for ${login}: limited offer, click here today, ` +
            "unsubscribe anytime, best prices guaranteed, order now while stocks last, free shipping worldwide.";
        const folder = (...args: string[]): { ok: boolean; answer?: string; error?: string; subjects?: string[] } =>
            mail("folder", host, login, password, ...args);
        expect(folder("append", "INBOX", subject, body)).toMatchObject({ ok: true });

        const before = learned();
        expect(folder("move", "INBOX", "Junk", subject)).toMatchObject({ ok: true });
        const spam = learnedOnce((n) => n.spam > before.spam);
        expect({ learned: spam.spam > before.spam, log: spam.spam > before.spam ? "" : why() })
            .toEqual({ learned: true, log: "" });

        expect(folder("move", "Junk", "INBOX", subject)).toMatchObject({ ok: true });
        const ham = learnedOnce((n) => n.ham > spam.ham);
        expect({ learned: ham.ham > spam.ham, log: ham.ham > spam.ham ? "" : why() }).toEqual({ learned: true, log: "" });
        expect(folder("subjects", "INBOX").subjects).toContain(subject);
    });

    test("no user can talk to rspamd's controller socket; anyone can hand a message to the learning service", () => {
        expect(onServer(`stat -c '%U %a' ${CONTROLLER_SOCKET} /run/mailstack-learn.sock`).trim().split("\n"))
            .toEqual(["_rspamd 600", "root 666"]);
        const asUser = onServerStatus(`setpriv --reuid=alice --regid=alice --clear-groups rspamc --connect ${CONTROLLER_SOCKET} stat`);
        expect(asUser.rc).not.toBe(0);
    });
});
