// EAI is ordinary mail (issue 24, item 7): a well-formed SMTPUTF8 message from outside (Date, Message-ID,
// MIME-Version, raw UTF-8 From and Subject, legal in an SMTPUTF8 transaction, RFC 6531/6532) reaches the INBOX
// without X-Spam, like its ASCII twin: with a UTF-8 envelope sender, and with an ASCII one (recognised by its
// well-formed UTF-8 header fields). rspamd's log shows that the SMTPUTF8 symbol hit, and the twin's that it did not.

import { SMTPUTF8_SYMBOL } from "../../components/render/rspamd";
import { mail, onServerStatus, testbed } from "./testbed";

jest.setTimeout(300_000);

const t = testbed();
const host = t.serverAddress;
const alice = t.systemUser;
const run = `${Date.now()}`;

interface Sent { ok: boolean; queued?: string; smtputf8?: boolean }
interface Got { ok: boolean; sender?: string; xSpam?: string | null }

/** rspamd's log line for a queue id: the symbols it found and their scores. */
function rspamdLog(queued: string | undefined): string {
    return onServerStatus(`grep -F 'qid: <${queued ?? "-"}>' /var/log/rspamd/rspamd.log | tail -n 1`).out;
}

// [variant, header From, MAIL FROM]
const variants: [string, string, string][] = [
    ["UTF-8 envelope sender", "Jörg Müller <jörg@client.example.net>", "jörg@client.example.net"],
    ["ASCII envelope sender, UTF-8 header fields", "Jörg Müller <joerg@client.example.net>", "joerg@client.example.net"],
];

describe("a well-formed SMTPUTF8 message from outside is ordinary mail", () => {
    test.each(variants)("%s: in alice's INBOX, without X-Spam", (_variant, from, envelope) => {
        const subject = `Grüße aus Köln, die Übersicht ${run} ${envelope}`;
        const sent = mail("sendutf8", host, "25", from, alice.address, subject, envelope) as unknown as Sent;
        expect(sent).toMatchObject({ ok: true, smtputf8: true });
        const got = mail("wait", host, alice.name, alice.password, subject, "30") as unknown as Got;
        const log = rspamdLog(sent.queued);
        // the log says why, should it be in Junk
        expect({ got, log }).toMatchObject({ got: { ok: true, xSpam: null } });
        expect(log).toContain(SMTPUTF8_SYMBOL);
    });

    test("its ASCII twin (no SMTPUTF8) is not taken for SMTPUTF8 mail", () => {
        const subject = `ascii twin ${run}`;
        const sent = mail("send", host, "25", "joerg@client.example.net", alice.address, subject) as unknown as Sent;
        expect(sent).toMatchObject({ ok: true });
        expect(mail("wait", host, alice.name, alice.password, subject, "30")).toMatchObject({ ok: true });
        const log = rspamdLog(sent.queued);
        expect(log).toContain(`qid: <${sent.queued}>`);
        expect(log).not.toContain(SMTPUTF8_SYMBOL);
    });
});
