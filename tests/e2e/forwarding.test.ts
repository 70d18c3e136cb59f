// Forwarding outside with SRS (issue 24, item 3), on the committed config, no `up` of its own: mail that leaves
// for an outside address because of an alias target, a ~/.forward or a sieve `redirect` carries an SRS sender of
// example.org; a bounce to that address reaches the original sender; spam is not forwarded; our own users' mail
// and the local copy keep their sender. smarthost.test is the client namespace: tests/e2e/outside.py's MX on port
// 25 (the server's name server gives smarthost.test an address, scripts/testbed).

import { ChildProcess, execFileSync, spawn } from "child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "fs";
import * as path from "path";
import { addressOf, CLIENT_NETNS, logins, mail, onServer, onServerStatus, ROOT, testbed } from "./testbed";

jest.setTimeout(300_000);

const t = testbed();
const host = t.serverAddress;
const DIR = path.join(ROOT, ".local", "e2e-forwarding");
const OUT = path.join(DIR, "out");
const run = `${Date.now()}`;
const { pw } = logins();
const ORIGIN = "carl@smarthost.test";
/** SRS0=HASH=TT=smarthost.test=carl@example.org (postsrsd's default separator "="). */
const SRS_OF_CARL = /^SRS0=[^=@]+=[^=@]+=smarthost\.test=carl@example\.org$/;

interface Received { port: number; from: string; to: string[]; data: string }

let outside: ChildProcess | undefined;

/** What outside.py's MX (port 25) received with SUBJECT, polled until it is there or `seconds` passed. */
async function received(subject: string, seconds = 60): Promise<Received | undefined> {
    for (let i = 0; i < seconds * 5; i++) {
        const hit = receivedNow(subject);
        if (hit !== undefined) return hit;
        await new Promise((r) => setTimeout(r, 200));
    }
    return undefined;
}

function receivedNow(subject: string): Received | undefined {
    if (!existsSync(OUT)) return undefined;
    return readdirSync(OUT).filter((f) => f.startsWith("direct-") && f.endsWith(".json"))
        .map((f) => JSON.parse(readFileSync(path.join(OUT, f), "utf8")) as Received)
        .find((m) => m.data.includes(`Subject: ${subject}\r\n`) || m.data.includes(`Subject: ${subject}\n`));
}

/** The mail log's line of QUEUE_ID for RECIPIENT once it has a final status (sent, bounced), at most 60 s. */
async function delivered(queueId: string, recipient: string): Promise<string> {
    for (let i = 0; i < 120; i++) {
        const line = onServer(`grep -F '${queueId}: to=<${recipient}>' /var/log/mail.log | grep -E 'status=(sent|bounced)' | tail -n 1`).trim();
        if (line !== "") return line;
        await new Promise((r) => setTimeout(r, 500));
    }
    return "";
}

beforeAll(() => {
    rmSync(DIR, { recursive: true, force: true });
    mkdirSync(OUT, { recursive: true });
    // outside.py serves 587/465 too, with a certificate from the testbed's CA (only port 25 is used here)
    const caDir = path.dirname(t.acmeListenerCaFile);
    const cert = path.join(DIR, "outside.pem");
    const key = path.join(DIR, "outside.key");
    execFileSync("bash", ["-c", `set -e
        openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -subj /CN=smarthost.test -keyout "$2" -out "$3.csr" 2>/dev/null
        printf '%s\\n' basicConstraints=critical,CA:FALSE extendedKeyUsage=serverAuth subjectAltName=DNS:smarthost.test > "$3.ext"
        openssl x509 -req -in "$3.csr" -CA "$1/ca.pem" -CAkey "$1/ca.key" -CAcreateserial -CAserial "$3.srl" -days 2 -extfile "$3.ext" -out "$3" 2>/dev/null
        rm -f "$3.csr" "$3.ext" "$3.srl"`, "x", caDir, key, cert]);
    outside = spawn("ip", ["netns", "exec", CLIENT_NETNS, "/usr/bin/python3", path.join(__dirname, "outside.py"), OUT, cert, key,
        "unused", "unused"], { stdio: ["ignore", "pipe", "inherit"] });
    return new Promise<void>((resolve, reject) => {
        outside?.stdout?.on("data", (d: Buffer) => { if (d.toString().includes("ready")) resolve(); });
        outside?.once("exit", (code) => reject(new Error(`outside.py exited (${code})`)));
    });
});

// Gone before the next test file starts its own outside.py on the same ports.
afterAll(() => new Promise<void>((resolve) => {
    if (outside === undefined || outside.exitCode !== null) return resolve();
    outside.once("exit", () => resolve());
    outside.kill();
}));

describe("an alias with an outside target (away@example.net: bob.away@smarthost.test and bob)", () => {
    let srs = "";

    test("mail from outside leaves with an SRS sender of example.org; bob's copy keeps the original sender", async () => {
        const subject = `forward alias ${run}`;
        expect(mail("send", host, "25", ORIGIN, "away@example.net", subject)).toMatchObject({ ok: true });
        const got = await received(subject);
        expect(got).toMatchObject({ port: 25, to: ["bob.away@smarthost.test"] });
        expect(got?.from).toMatch(SRS_OF_CARL);
        srs = got?.from ?? "";
        const copy = mail("headers", host, "bob@example.net", pw("bob@example.net"), subject, "30") as { headers?: string };
        expect(copy.headers).toMatch(/^Return-Path: <carl@smarthost\.test>/mi);
    });

    test("a bounce to that SRS address reaches the original sender; a forged SRS address is unknown", async () => {
        expect(srs).toMatch(SRS_OF_CARL);
        const subject = `bounce of forward ${run}`;
        expect(mail("send", host, "25", "", srs, subject)).toMatchObject({ ok: true });
        const got = await received(subject);
        expect(got).toMatchObject({ port: 25, from: "<>", to: [ORIGIN] });
        const forged = srs.replace(/^SRS0=[^=]+=/, "SRS0=AAAA=");
        const r = mail("send", host, "25", "", forged, `forged srs ${run}`) as { ok: boolean; stage?: string; code?: number };
        expect(r).toMatchObject({ ok: false, stage: "rcpt", code: 550 });
    });

    test("mail our own user sends to the alias keeps her own sender (authenticated mail is never rewritten)", async () => {
        const subject = `forward own ${run}`;
        expect(mail("send", host, "587", "carol@example.net", "away@example.net", subject, "carol@example.net",
            pw("carol@example.net"))).toMatchObject({ ok: true });
        const got = await received(subject);
        expect(got).toMatchObject({ from: "carol@example.net", to: ["bob.away@smarthost.test"] });
    });

    test("spam is not forwarded: GTUBE is refused, a moderate score is kept here only", async () => {
        const gtube = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";
        const refused = mail("message", host, "25", ORIGIN, "away@example.net", `gtube forward ${run}`, ORIGIN, gtube);
        expect(refused).toMatchObject({ ok: false, stage: "data" });
        // A test-only rule (as in tests/e2e/filter.test.ts): a subject that scores between add_header and reject.
        const rule = "/etc/rspamd/local.d/multimap.conf";
        onServer(`test ! -e ${rule}
cat > ${rule} <<'X'
MAILSTACK_E2E_MODERATE { type = "header"; header = "Subject"; regexp = true; map = "/etc/rspamd/mailstack-e2e.re"; score = 9.0; }
X
printf '/moderate-e2e/\\n' > /etc/rspamd/mailstack-e2e.re
rspamadm configtest >/dev/null && systemctl reload rspamd && sleep 2`);
        try {
            const subject = `moderate-e2e forward ${run}`;
            const sent = mail("send", host, "25", ORIGIN, "away@example.net", subject) as { ok: boolean; queued?: string };
            expect(sent).toMatchObject({ ok: true });
            // the srs pipe took it and dropped it: nothing left in the queue, nothing at the outside MX
            expect(await delivered(sent.queued ?? "?", "bob.away@smarthost.test")).toMatch(/relay=srs, .*status=sent/);
            expect(onServer("journalctl -t postfix/srs --no-pager -q | grep -F 'marked as spam, not forwarded' | " +
                "grep -F 'from=<carl@smarthost.test>' | wc -l").trim()).not.toBe("0");
            expect(receivedNow(subject)).toBeUndefined();
            // bob's copy is marked (filed in Junk by the global sieve script)
            expect(mail("wait", host, "bob@example.net", pw("bob@example.net"), subject, "30", "Junk")).toMatchObject({ ok: true });
        } finally {
            onServerStatus(`rm -f ${rule} /etc/rspamd/mailstack-e2e.re && systemctl reload rspamd && sleep 2`);
        }
    });
});

describe("a user's own forwarding", () => {
    test("frank's ~/.forward to an outside address: an SRS sender", async () => {
        onServer("printf 'frank.away@smarthost.test\\n' > /home/frank/.forward && chown frank: /home/frank/.forward");
        try {
            const subject = `dot-forward ${run}`;
            expect(mail("send", host, "25", ORIGIN, "frank@example.org", subject)).toMatchObject({ ok: true });
            const got = await received(subject);
            expect(got).toMatchObject({ to: ["frank.away@smarthost.test"] });
            expect(got?.from).toMatch(SRS_OF_CARL);
        } finally {
            onServerStatus("rm -f /home/frank/.forward");
        }
    });

    // A virtual user's redirect (dovecot runs it as vmail) keeps the original sender, which SRS rewrites; a system
    // user's runs sendmail as that user, who may send only as himself, so it leaves with his own address.
    test.each<[string, string, RegExp]>([
        ["erin@example.com", "erin.away@smarthost.test", SRS_OF_CARL],
        ["frank", "frank.away@smarthost.test", /^frank@example\.org$/],
    ])("%s's sieve redirect to %s: sender %s", async (login, target, sender) => {
        const password = pw(login);
        const subject = `redirect-me ${login} ${run}`;
        expect(mail("sievescript", host, login, password, "mailstack-forward",
            `if header :contains "Subject" "${subject}" {\r\n  redirect "${target}";\r\n}\r\n`)).toMatchObject({ ok: true });
        try {
            expect(mail("send", host, "25", ORIGIN, addressOf(login), subject)).toMatchObject({ ok: true });
            const got = await received(subject);
            expect(got).toMatchObject({ to: [target] });
            expect(got?.from).toMatch(sender);
        } finally {
            mail("sievescript", host, login, password, "mailstack-forward", "keep;\r\n");
        }
    });
});

test("nothing forwarded is left in the queue", () => {
    expect(onServer("postqueue -j | grep -F smarthost.test | wc -l").trim()).toBe("0");
});
