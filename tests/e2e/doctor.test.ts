// Operating the server (issue 17): mail leaves through an authenticating smarthost (and by no other route), a wrong
// relay password is named, `npm run doctor` passes against published records and names each failure it is shown
// (a wrong record, a blocklist listing, a stale certificate, a full disk), and the server's own timer posts
// failures to a webhook. The outside world runs in the client namespace: the test DNS (Knot) holds the records the
// stack published and two blocklist zones (tests/e2e/outside.py is the smarthost, an MX on port 25 and the webhook).

import { ChildProcess, execFileSync, spawn, spawnSync } from "child_process";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "fs";
import * as path from "path";
import { gunzipSync } from "zlib";
import { mailZones, recordSets } from "../../components/render/dns";
import { DnsRecord } from "../../components/render/records";
import { DMARC_REPORTER, REPORTS_DIR } from "../../components/render/reports";
import { port } from "../../components/listeners";
import { HOST_KEYS } from "../../components/schema";
import { REPORT_LINES, reportMails } from "../fixtures/reports";
import { ask, CLIENT_NETNS, configVariant, SERVER_NETNS, inGuest, logins, mail, onServer, onServerStatus, output, pulumi, ROOT, setOf,
    setRecords, testbed, unpublished } from "./testbed";

jest.setTimeout(600_000);

const t = testbed();
const host = t.serverAddress;
const DIR = path.join(ROOT, ".local", "doctor");
const OUT = path.join(DIR, "out");
const RELAY_USER = "relay-user";
const RELAY_PASSWORD = "right-password";
const run = `${Date.now()}`;

interface Check { check: string; status: string; detail: string }

function doctor(): { code: number; ok: boolean; checks: Check[]; failed: Check[] } {
    const r = spawnSync("bash", ["scripts/run", "node", "-r", "ts-node/register/transpile-only", "scripts/doctor.ts",
        "--stack", "local", "--json"], { cwd: ROOT, encoding: "utf8", maxBuffer: 16 * 1024 * 1024 });
    if (r.stdout.trim() === "") {
        throw new Error(`doctor printed nothing (${r.status}): ${r.stderr}`);
    }
    const parsed = JSON.parse(r.stdout) as { ok: boolean; checks: Check[] };
    return { code: r.status ?? -1, ...parsed, failed: parsed.checks.filter((c) => c.status === "fail") };
}

/** The table as a person sees it (kept for the closing note of the issue). */
function doctorTable(name: string): string {
    const r = spawnSync("bash", ["scripts/run", "node", "-r", "ts-node/register/transpile-only", "scripts/doctor.ts",
        "--stack", "local"], { cwd: ROOT, encoding: "utf8" });
    writeFileSync(path.join(DIR, `doctor-${name}.txt`), `exit ${r.status}\n${r.stdout}`);
    return r.stdout;
}

// ---------------------------------------------------------------- outside.py, certificates, config variants

let outside: ChildProcess | undefined;

function files(kind: string): Record<string, unknown>[] {
    if (!existsSync(OUT)) return [];
    return readdirSync(OUT).filter((f) => f.startsWith(`${kind}-`) && f.endsWith(".json")).sort()
        .map((f) => JSON.parse(readFileSync(path.join(OUT, f), "utf8")) as Record<string, unknown>);
}

/** Polls (a delivery takes the queue manager's time, not ours) until pick finds something, at most `seconds`. */
async function until<T>(seconds: number, pick: () => T | undefined): Promise<T | undefined> {
    for (let i = 0; i < seconds * 5; i++) {
        const v = pick();
        if (v !== undefined) return v;
        await new Promise((r) => setTimeout(r, 200));
    }
    return undefined;
}

function makeCert(): { cert: string; key: string } {
    const caDir = path.dirname(t.acmeListenerCaFile);
    const cert = path.join(DIR, "outside.pem");
    const key = path.join(DIR, "outside.key");
    execFileSync("bash", ["-c", `set -e
        openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -subj /CN=smarthost.test -keyout "$3" -out "$4.csr" 2>/dev/null
        printf '%s\\n' basicConstraints=critical,CA:FALSE extendedKeyUsage=serverAuth subjectAltName=DNS:smarthost.test,DNS:hooks.test > "$4.ext"
        openssl x509 -req -in "$4.csr" -CA "$1/ca.pem" -CAkey "$1/ca.key" -CAcreateserial -CAserial "$4.srl" -days 30 -extfile "$4.ext" -out "$4" 2>/dev/null
        rm -f "$4.csr" "$4.ext" "$4.srl"`, "x", caDir, "", key, cert]);
    return { cert, key };
}

/** The committed stack config with changes (as tests/e2e/accounts.test.ts), secrets set through stdin. */
function variant(name: string, plain: [string, string][], secrets: [string, string][] = []): string {
    const config = path.join(ROOT, ".local", `Pulumi.local.${name}.yaml`);
    copyFileSync(path.join(ROOT, "Pulumi.local.yaml"), config);
    for (const [key, value] of plain) {
        expect(pulumi("config", "set", "--path", key, value, "--config-file", config).status).toBe(0);
    }
    for (const [key, value] of secrets) {
        const r = spawnSync("ip", ["netns", "exec", CLIENT_NETNS, "bash", "scripts/run", "pulumi", "config", "set", "--secret",
            key, "--config-file", config, "--stack", "local", "--non-interactive"], { cwd: ROOT, input: value, encoding: "utf8" });
        expect(r.stderr).toBe("");
        expect(r.status).toBe(0);
    }
    return config;
}

const up = (...args: string[]): { status: number; stdout: string; stderr: string } =>
    pulumi("up", "--yes", "--skip-preview", ...args);

function relayConfig(name: string, password: string): string {
    return variant(name, [
        ["mailstack:relayHost.host", "smarthost.test"], ["mailstack:relayHost.port", "587"],
        ["mailstack:relayHost.username", RELAY_USER],
    ], [["mailstack:relayPassword", password], ["mailstack:alertWebhook", "https://hooks.test:8443/alert"]]);
}

let records: DnsRecord[];

beforeAll(() => {
    rmSync(DIR, { recursive: true, force: true });
    mkdirSync(OUT, { recursive: true });
    records = output<DnsRecord[]>("dnsRecords");
    const { cert, key } = makeCert();
    outside = spawn("ip", ["netns", "exec", CLIENT_NETNS, "/usr/bin/python3", path.join(__dirname, "outside.py"), OUT, cert, key,
        RELAY_USER, RELAY_PASSWORD], { stdio: ["ignore", "pipe", "inherit"] });
    return new Promise<void>((resolve, reject) => {
        outside?.stdout?.on("data", (d: Buffer) => { if (d.toString().includes("ready")) resolve(); });
        outside?.once("exit", (code) => reject(new Error(`outside.py exited (${code})`)));
    });
});

afterAll(() => {
    outside?.kill();
});

// ---------------------------------------------------------------- doctor

describe("the published records, through the server's own resolver", () => {
    test("every record of dnsRecords resolves as published, DNSSEC-validated (AD)", () => {
        expect(new Set(records.map(setOf)).size).toBeGreaterThan(40);
        expect(unpublished(records, { server: "127.0.0.1", netns: SERVER_NETNS, validated: true })).toEqual([]);
    });
});

describe("DANE: the TLSA record pins the hostname certificate's key", () => {
    test("postfix's own posttls-finger, on the server through its validating resolver, verifies port 25 by it", () => {
        const tlsa = records.filter((r) => r.type === "TLSA");
        expect(tlsa.map((r) => r.name)).toEqual([`_25._tcp.${t.hostname}`]);
        expect(tlsa[0].value).toBe(`3 1 1 ${onServer("/usr/local/sbin/mailstack-ctl spki /etc/letsencrypt/live/mailstack/privkey.pem").trim()}`);
        // the MX of a mail domain, its address and the TLSA, each DNSSEC-validated, then the key checked
        const out = onServer(`posttls-finger -c -l dane -L summary ${t.baseDomain} 2>&1 || true`);
        expect(out).toMatch(new RegExp(`Verified TLS connection established to ${t.hostname.replace(/\./g, "\\.")}\\[`));
    });
});

describe("npm run doctor", () => {
    test("passes once the records are published; a refused blocklist query is no listing", () => {
        const d = doctor();
        doctorTable("healthy");
        expect(d.failed).toEqual([]);
        expect(d.code).toBe(0);
        const names = d.checks.map((c) => c.check);
        for (const r of records) {
            expect(names).toContain(`dns:${r.type} ${r.name}`);
        }
        expect(names).toEqual(expect.arrayContaining(["tls:25", "tls:143", "tls:587", "served:25", "served:143", "served:587",
            "queue", "disk", "units", "outbound", "certificate"]));
        expect(d.checks.find((c) => c.check === "blocklist bl.mailstack.test")).toMatchObject({ status: "ok" });
        expect(d.checks.find((c) => c.check === "blocklist refused.mailstack.test"))
            .toMatchObject({ status: "warn", detail: expect.stringMatching(/127\.255\.255\.254.*not a listing/) });
        // configured (Pulumi.local.yaml): never "not configured"; ok once a backup ran (backup.test.ts), else not run yet
        expect(d.checks.find((c) => c.check === "backup")?.status).toMatch(/^(ok|warn)$/);
        // every TLS port served, from the one list
        expect(names).toEqual(expect.arrayContaining(["tls:443", "tls:4190", "served:443", "served:4190", "quota"]));
        // every lineage: on disk, and served by name (mail.DOMAIN on the mail ports by SNI, nginx by autoconfig.DOMAIN);
        // the hostname's own domain has no mail name of its own
        expect(names).toEqual(expect.arrayContaining(["certificate:mailstack-example.net", "certificate:mailstack-example.org",
            "tls:25:mail.example.net", "tls:143:mail.example.com", "tls:587:mail.example.net", "tls:443:autoconfig.example.org",
            "served:25:mail.example.com", "served:143:mail.example.net", "served:4190:mail.example.net",
            "served:443:autoconfig.example.net"]));
        expect(names.filter((n) => n.endsWith(":mail.example.org"))).toEqual([]);
        expect(d.checks.find((c) => c.check === "units")?.detail).toMatch(/managed units active, no failed unit/);
    });

    test("names the one record that is wrong, and the listing in a blocklist zone", () => {
        const spf = records.find((r) => r.type === "TXT" && r.name === "example.net" && r.value.startsWith("v=spf1"));
        expect(spf).toBeDefined();
        const sets = recordSets(records, mailZones(t.hostname, [...new Set(records.filter((r) => r.type === "MX").map((r) => r.name))]), 60);
        const txt = sets.find((x) => x.fqdn === "example.net" && x.type === "TXT");
        expect(txt?.values).toContain(`"${spf?.value ?? ""}"`);
        // the SPF record edited by hand in the DNS, and the server's address listed in a blocklist zone
        setRecords("example.net", "example.net", "TXT", txt?.values.map((v) => v.replace(" -all", "")) ?? []);
        setRecords("bl.mailstack.test", `10.2.0.192.bl.mailstack.test`, "A", ["127.0.0.2"]);
        try {
            const d = doctor();
            doctorTable("broken-dns");
            expect(d.code).toBe(1);
            expect(d.failed.map((c) => c.check).sort()).toEqual(["blocklist bl.mailstack.test", "dns:TXT example.net"]);
            expect(d.failed.find((c) => c.check === "dns:TXT example.net")?.detail)
                .toBe(`published "v=spf1 mx ip4:${host}": no all lets any server send as the domain; expected "v=spf1 mx ip4:${host} -all"`);
            expect(d.failed.find((c) => c.check === "blocklist bl.mailstack.test")?.detail).toMatch(/LISTED \(127\.0\.0\.2\)/);
        } finally {
            setRecords("example.net", "example.net", "TXT", txt?.values ?? []);
            setRecords("bl.mailstack.test", `10.2.0.192.bl.mailstack.test`, "A", []);
        }
        expect(doctor().failed).toEqual([]);
    });

    test("names the port whose daemon serves a certificate other than the one on disk", () => {
        // A renewal whose hook did not reach dovecot: renewed with the stored hook switched off, postfix reloaded by hand.
        const renewal = "/etc/letsencrypt/renewal/mailstack.conf";
        onServer(`cp -p ${renewal} /root/mailstack.conf.saved && sed -i 's/^renew_hook = .*/renew_hook = true/' ${renewal}`);
        const renewed = onServerStatus("certbot renew --cert-name mailstack --force-renewal --no-random-sleep-on-renew -q; " +
            `rc=$?; cp -p /root/mailstack.conf.saved ${renewal}; exit $rc`);
        expect(renewed).toMatchObject({ rc: 0 });
        onServer("postfix reload 2>/dev/null");
        try {
            const d = doctor();
            doctorTable("stale-certificate");
            // dovecot (IMAP, ManageSieve) and nginx missed it; postfix was reloaded
            expect(d.failed.map((c) => c.check).sort()).toEqual(["served:143", "served:4190", "served:443", "tls:143",
                "tls:4190", "tls:443"]);
            expect(d.failed.find((c) => c.check === "served:143")?.detail).toMatch(/stale: reload dovecot/);
            expect(d.failed.find((c) => c.check === "served:4190")?.detail).toMatch(/stale: reload dovecot/);
            expect(d.failed.find((c) => c.check === "served:443")?.detail).toMatch(/stale: reload nginx/);
            expect(d.failed.find((c) => c.check === "tls:143")?.detail).toMatch(/not the certificate on disk/);
        } finally {
            onServer("/usr/local/sbin/mailstack-ctl reload dovecot nginx");
        }
        expect(doctor().failed).toEqual([]);
    });

    test("names the filesystem that is full (a small tmpfs holding a mail domain, filled)", () => {
        const dir = "/var/mail/vhosts/full.test";
        inGuest("sh", "-c", `mkdir -p ${dir} && mount -t tmpfs -o size=1m,nr_inodes=400 doctor-full ${dir} && ` +
            `dd if=/dev/zero of=${dir}/fill bs=1k count=980 2>/dev/null`);
        try {
            const d = doctor();
            doctorTable("disk-full");
            expect(d.failed.map((c) => c.check)).toEqual(["disk"]);
            expect(d.failed[0].detail).toMatch(new RegExp(`full \\(limit 90%\\): ${dir} 9[0-9]% space`));
        } finally {
            inGuest("sh", "-c", `umount ${dir} && rmdir ${dir}`);
        }
    });
});

// ---------------------------------------------------------------- DMARC and TLS reports that arrive (issue 26)

describe("DMARC and TLS reports mailed to our report addresses", () => {
    test("reach the postmaster as before, and the doctor summarizes them per domain and kind", async () => {
        onServer(`rm -rf ${REPORTS_DIR}/dmarc ${REPORTS_DIR}/tls`);
        // alice is adminEmail (Pulumi.local.yaml): postmaster@ of every domain, and the TLS-RPT rua
        const mails = reportMails(`${t.systemUser.name}@${t.baseDomain}`);
        for (const m of mails) {
            const file = path.join(DIR, `${m.name}.eml`);
            writeFileSync(file, m.raw.replace(/^Subject: (.*)$/m, `Subject: $1 ${run}`));
            expect(mail("sendraw", host, "25", m.from, m.to, file)).toEqual({ ok: true });
        }
        const kept = await until(60, () =>
            onServer(`find ${REPORTS_DIR} -name '*.json' | wc -l`).trim() === "3" ? true : undefined);
        expect(kept).toBe(true);
        const pw = logins();
        for (const m of mails) {
            const subject = /^Subject: (.*)$/m.exec(m.raw)?.[1] ?? "";
            expect(mail("wait", host, "alice", pw.pw("alice"), `${subject} ${run}`, "60")).toMatchObject({ ok: true });
        }
        const d = doctor();
        doctorTable("reports");
        // the fixtures' reports cover 2026-12-05: a failure in a report of the last 8 days warns, an older one is shown
        const failing = Date.now() / 1000 - 1796515200 < 8 * 86400 ? "warn" : "info";
        const reports = d.checks.filter((c) => /^(dmarc|tls)-report:/.test(c.check));
        expect(reports).toEqual([
            { check: "dmarc-report:example.net", status: "info", detail: REPORT_LINES["dmarc-report:example.net"] },
            { check: "dmarc-report:example.org", status: failing, detail: REPORT_LINES["dmarc-report:example.org"] },
            { check: "tls-report:example.org", status: failing, detail: REPORT_LINES["tls-report:example.org"] },
        ]);
        expect(d.failed).toEqual([]);
    });
});

describe("rspamd's resolver", () => {
    test("rspamd asks the server's own unbound, and no other resolver", () => {
        // its UDP sockets stay connected to the servers it asks
        const peers = onServer("ss -Hunp | grep '\"rspamd\"' | awk '{ print $(NF - 1) }' | sort -u");
        expect(peers.trim().split("\n")).toEqual(["127.0.0.1:53"]);
    });
});

describe("DMARC aggregate reports we send", () => {
    // client.example.net, the tests' outside sender, asks for aggregate reports (scripts/testbed). rspamd 3.12
    // (Debian 13) sends them to that record's rua, dmarc@client.example.net, whose A record is the client namespace,
    // where outside.py takes mail on port 25. rspamd 3.4 (Debian 12) sends them to the rua of the organizational
    // domain's record instead: example.net's, ours (postmaster@example.net); so there the report comes back to this
    // server, and the reader summarizes it.
    test("mail from client.example.net is reported: from our postmaster, DKIM-signed, naming the client's address", async () => {
        const subject = `dmarc-reported ${run}`;
        expect(mail("send", host, "25", "someone@client.example.net", "bob@example.net", subject)).toMatchObject({ ok: true });
        const bob = output<Record<string, string>>("virtualUserPasswords")["bob@example.net"];
        expect(mail("wait", host, "bob@example.net", bob, subject, "60")).toMatchObject({ ok: true });
        // the reader's summaries of our own earlier reports, dropped
        onServer(`grep -l '"org": "example.org"' ${REPORTS_DIR}/dmarc/example.net/*.json 2>/dev/null | xargs -r rm -f`);
        const sentBefore = files("direct").length;
        // today's reports (the timer sends yesterday's), as the timer's service runs them
        const exec = onServer("systemctl show -P ExecStart mailstack-dmarc-report.service");
        const argv = /argv\[\]=(\S+ \d+ \S+)/.exec(exec)?.[1];
        expect(argv).toBe(`${DMARC_REPORTER} ${port("dmarc-report")} postmaster@example.org`);
        expect(onServer(`${argv} $(date +%Y%m%d)`)).toMatch(/[1-9]\d* report\(s\) handed to postfix; rspamadm exit 0/);
        let head: string;
        if (t.suite === "bookworm") {
            const kept = await until(60, () => onServer(`grep -l '"org": "example.org"' ${REPORTS_DIR}/dmarc/example.net/*.json ` +
                "2>/dev/null || true").trim() || undefined);
            expect(kept).toBeDefined();
            // as the postmaster got it (postmaster@example.net is alice, adminEmail)
            head = onServer("f=$(grep -l -r 'Submitter: example.org' /home/alice/Maildir/new /home/alice/Maildir/cur | " +
                "xargs ls -t | head -n 1); sed -n '1,/^$/p' \"$f\"");
            expect(head).toMatch(/^To: postmaster@example\.net$/m);
            const line = doctor().checks.find((c) => c.check === "dmarc-report:example.net");
            expect(line?.detail).toMatch(/(^|\| )example\.org \d{4}-\d\d-\d\d: [1-9]\d* messages, all pass DMARC/);
        } else {
            const got = await until(60, () => files("direct").slice(sentBefore)
                .find((m) => (m.to as string[]).includes("dmarc@client.example.net")));
            expect(got).toMatchObject({ port: 25, from: "postmaster@example.org" });
            const data = String(got?.data);
            head = data.split(/\r?\n\r?\n/)[0];
            expect(head).toMatch(/^To: dmarc@client\.example\.net\r?$/m);
            // the attachment: rspamd's gzipped XML, from us, about client.example.net, naming the client's address
            const b64 = /\r?\n\r?\n([A-Za-z0-9+/=\r\n]{100,})/.exec(data.split("Content-Type: application/gzip")[1] ?? "")?.[1];
            const xml = gunzipSync(Buffer.from(b64 ?? "", "base64")).toString("utf8");
            expect(xml).toMatch(/<org_name>example\.org<\/org_name>/);
            expect(xml).toMatch(/<domain>client\.example\.net<\/domain>/);
            expect(xml).toMatch(/<source_ip>192\.0\.2\.1<\/source_ip>/);
        }
        expect(head).toMatch(/^DKIM-Signature:[^]*?\bd=example\.org;/m);
        expect(head).toMatch(/^From: "DMARC reports of mail\.example\.org" <postmaster@example\.org>\r?$/m);
    });
});

// ---------------------------------------------------------------- DANE and MTA-STS on direct delivery (issue 26)

// The testbed's STARTTLS MX (scripts/testbed: mx.dane.test, mx.badtlsa.test and mx.sts.test, 192.0.2.3) logs every
// message it takes.
describe("direct delivery with DANE and MTA-STS", () => {
    const MX_LOG = path.join(ROOT, ".local", "log", "dane-mx.log");
    const arrived = (subject: string): boolean => readFileSync(MX_LOG, "utf8").includes(`Subject: ${subject}\n`);
    const bob = (): string => output<Record<string, string>>("virtualUserPasswords")["bob@example.net"];

    test("mail to a domain whose MX matches its signed TLSA record leaves over verified TLS", async () => {
        const subject = `DANE ${run}`;
        const sent = mail("send", host, "587", "bob@example.net", "someone@dane.test", subject, "bob@example.net", bob());
        expect(sent).toMatchObject({ ok: true });
        const id = String(sent.queued);
        expect(await until(60, () => (arrived(subject) ? true : undefined))).toBe(true);
        const line = onServer(`grep -F '${id}: to=<someone@dane.test>' /var/log/mail.log | grep 'status=sent' | tail -n 1`);
        expect(line).toMatch(/relay=mx\.dane\.test\[192\.0\.2\.3\]:25/);
        // the TLS session of the same smtp process, logged before the delivery
        const pid = /postfix\/smtp\[(\d+)\]/.exec(line)?.[1];
        expect(onServer(`grep -F 'postfix/smtp[${pid}]: Verified TLS connection established to mx.dane.test[192.0.2.3]:25' ` +
            "/var/log/mail.log | wc -l").trim()).not.toBe("0");
    });

    /** The deferral reason of queue entry `id`, once it has one (at most 60 s). */
    const deferral = (id: string): Promise<string | undefined> => until(60, () => {
        const q = onServer("postqueue -j").split("\n").filter((l) => l.includes(`"queue_id": "${id}"`)).join("");
        return /"delay_reason": *"([^"]+)"/.exec(q)?.[1];
    });

    test("mail to a domain whose TLSA record does not match waits in the queue with the reason, and is never sent in clear", async () => {
        const subject = `bad TLSA ${run}`;
        const sent = mail("send", host, "587", "bob@example.net", "someone@badtlsa.test", subject, "bob@example.net", bob());
        expect(sent).toMatchObject({ ok: true });
        const id = String(sent.queued);
        try {
            expect(await deferral(id)).toBe("Server certificate not verified");
            expect(onServer(`grep -c 'server certificate verification failed for mx.badtlsa.test\\[192.0.2.3\\]:25: .*no matching DANE TLSA records' ` +
                "/var/log/mail.log || true").trim()).not.toBe("0");
            const queue = doctor().checks.find((c) => c.check === "queue");
            expect(queue?.detail).toMatch(/last deferral: Server certificate not verified/);
            expect(onServer(`grep -F '${id}: to=<someone@badtlsa.test>' /var/log/mail.log | grep -c 'status=sent' || true`).trim()).toBe("0");
            expect(arrived(subject)).toBe(false);
        } finally {
            // the queue as the later checks expect it (the doctor's queue check, the quota deferrals below)
            onServer(`postsuper -d ${id} >/dev/null 2>&1`);
        }
        expect(onServer("postqueue -j")).not.toContain(id);
    });

    test("mail to a domain with an enforce MTA-STS policy whose MX names another host waits in the queue", async () => {
        const subject = `MTA-STS ${run}`;
        const sent = mail("send", host, "587", "bob@example.net", "someone@sts.test", subject, "bob@example.net", bob());
        expect(sent).toMatchObject({ ok: true });
        const id = String(sent.queued);
        try {
            // the policy daemon's answer, as postfix asks it
            expect(onServer("postmap -q sts.test socketmap:inet:127.0.0.1:8461:postfix")).toMatch(/^secure match=mx\.sts\.test/);
            expect(await deferral(id)).toMatch(/Server certificate not verified/);
            // the CA is one the server trusts (the testbed's); the name is what fails
            expect(onServer("grep -c 'server certificate verification failed for mx.sts.test\\[192.0.2.3\\]:25: num=62:hostname mismatch' " +
                "/var/log/mail.log || true").trim()).not.toBe("0");
            expect(onServer(`grep -F '${id}: to=<someone@sts.test>' /var/log/mail.log | grep -c 'status=sent' || true`).trim()).toBe("0");
            expect(arrived(subject)).toBe(false);
        } finally {
            onServer(`postsuper -d ${id} >/dev/null 2>&1`);
        }
    });
});

// ---------------------------------------------------------------- nothing fails silently (issue 25)

describe("nothing fails silently", () => {
    const STAMP = "/var/lib/mailstack/last-backup";
    const backupCheck = (): Check | undefined => doctor().checks.find((c) => c.check === "backup");

    test("the backup check: not run yet, ok, and failing past doctor.backupMaxAgeHours (the stamp aged by hand)", () => {
        const had = onServerStatus(`test -e ${STAMP}`).rc === 0;
        try {
            onServer(`rm -f ${STAMP}`);
            expect(backupCheck()).toMatchObject({ status: "warn", detail: expect.stringMatching(/^not run yet/) });
            onServer(`mkdir -p /var/lib/mailstack && touch ${STAMP}`);
            expect(backupCheck()).toMatchObject({ status: "ok", detail: "last backup 0 h ago" });
            onServer(`touch -d '3 days ago' ${STAMP}`);
            expect(backupCheck()).toMatchObject({ status: "fail", detail: "last backup 72 h ago (limit 48 h)" });
        } finally {
            onServer(had ? `touch ${STAMP}` : `rm -f ${STAMP}`);
        }
    });

    test("a schedule systemd would refuse is refused by preview, naming key and value", () => {
        const r = pulumi("preview", "--config-file", variant("bad-schedule", [["mailstack:backup.schedule", "every tuesday-ish"]]));
        expect(r.status).not.toBe(0);
        expect(r.stdout + r.stderr).toContain('mailstack:backup.schedule: "every tuesday-ish" is not a systemd OnCalendar expression');
    });

    test("over quota defers (never bounces) until the quota is raised; a stopped rspamd and a broken timer are named " +
        "by the doctor and preview and running again after up; preview warns of a quota below a mailbox's size", () => {
        const pw = logins();
        const bounced = (): string => onServer("grep -c 'status=bounced' /var/log/mail.log || true").trim();
        const bouncedBefore = bounced();
        const big = `over quota ${run}`;
        // 1.5 MB to mailboxes of 1 MB (Pulumi.local.yaml), without SIZE=: RCPT cannot know, the LDA defers
        for (const rcpt of ["carol@example.net", "frank@example.org"]) {
            expect(mail("sendwith", host, "25", "someone@client.example", rcpt, big, "", "1500000", "nosize"))
                .toMatchObject({ ok: true });
        }
        // an alias of a full mailbox, with SIZE=: quota-status does not know the alias, the LDA defers it the same way
        expect(mail("sendwith", host, "25", "someone@client.example", "office@example.org", `${big} alias`, "", "1500000"))
            .toMatchObject({ ok: true });
        const deferred = (): number => (onServer("postqueue -j").match(/"delay_reason": *"[^"]*(?:[Qq]uota|full)[^"]*"/g) ?? []).length;
        onServer("for i in $(seq 120); do [ \"$(postqueue -j | grep -c -i -E 'quota|full')\" -ge 3 ] && break; sleep 0.5; done");
        expect(deferred()).toBe(3);
        expect(bounced()).toBe(bouncedBefore);

        // rspamd stopped by hand; the backup timer broken and its file put right without a daemon-reload (the
        // issue's state: bad-setting, no next run)
        const dropIn = "/etc/systemd/system/mailstack-backup.timer.d";
        onServer(`systemctl stop rspamd && mkdir -p ${dropIn} && printf '[Timer]\\nOnCalendar=\\n' > ${dropIn}/broken.conf && ` +
            `systemctl daemon-reload && rm -r ${dropIn}`);
        // (systemd 252 also says NeedDaemonReload=yes here, 257 does not)
        expect(onServer("systemctl show -P LoadState mailstack-backup.timer")).toBe("bad-setting\n");
        const units = doctor().checks.filter((c) => c.check === "units" && c.status === "fail").map((c) => c.detail).join("\n");
        expect(units).toMatch(/rspamd\.service \(inactive\)/);
        expect(units).toMatch(/mailstack-backup\.timer \(bad-setting\)/);

        const raised = variant("quota-raised", [['mailstack:quota.users["carol@example.net"]', "10M"],
            ['mailstack:quota.users["frank@example.org"]', "10M"]]);
        const preview = pulumi("preview", "--config-file", raised);
        expect(preview.status).toBe(0);
        expect(preview.stdout).toMatch(/rspamd\.service is not running on the server \(inactive\): this up starts it again/);
        expect(preview.stdout).toMatch(/mailstack-backup\.timer is not running on the server \(bad-setting\)/);
        const r = up("--config-file", raised);
        expect({ status: r.status, err: r.status === 0 ? "" : r.stdout.slice(-3000) + r.stderr }).toEqual({ status: 0, err: "" });
        expect(onServer("systemctl is-active rspamd mailstack-backup.timer; systemctl show -P LoadState mailstack-backup.timer"))
            .toBe("active\nactive\nloaded\n");
        expect(onServer("systemctl show -P NextElapseUSecRealtime mailstack-backup.timer").trim()).not.toBe("");

        // the raised quota takes the waiting mail at the next try, and nothing bounced meanwhile
        onServer("postqueue -f");
        expect(mail("wait", host, "carol@example.net", pw.pw("carol@example.net"), big, "60")).toMatchObject({ ok: true });
        expect(mail("wait", host, "frank", pw.pw("frank"), big, "60")).toMatchObject({ ok: true });
        expect(mail("wait", host, "frank", pw.pw("frank"), `${big} alias`, "60")).toMatchObject({ ok: true });
        expect(bounced()).toBe(bouncedBefore);

        try {
            // back to 1 MB: the plan names both mailboxes that no longer fit, and the doctor lists them
            const back = up();
            expect(back.status).toBe(0);
            expect(back.stdout).toMatch(/the quota of carol@example\.net \(1\.0 MiB\) is below its mailbox's current size \(\d+\.\d MiB\)/);
            expect(back.stdout).toMatch(/the quota of frank \(1\.0 MiB\) is below its mailbox's current size/);
            const quota = doctor().checks.find((c) => c.check === "quota");
            expect(quota).toMatchObject({ status: "warn" });
            expect(quota?.detail).toMatch(/carol@example\.net \d+%.*frank \d+%|frank \d+%.*carol@example\.net \d+%/);
        } finally {
            for (const u of ["carol@example.net", "frank"]) {
                onServer(`doveadm expunge -u ${u} mailbox INBOX header Subject ${JSON.stringify(big)} && doveadm quota recalc -u ${u}`);
            }
        }
        expect(doctor().checks.find((c) => c.check === "quota")).toMatchObject({ status: "ok" });
    });
});

// ---------------------------------------------------------------- smarthost and alerts

describe("with relayHost", () => {
    afterAll(() => {
        // back to the committed config: direct delivery, no webhook, and the relay password gone from the server
        const r = up();
        expect(r.status).toBe(0);
        expect(onServerStatus("ls /etc/postfix/sasl_passwd /etc/postfix/sasl_passwd.db /etc/mailstack/alert-webhook.curl").rc).not.toBe(0);
    });

    test("mail to an outside address leaves through the smarthost, authenticated, over verified TLS, and by no other route", async () => {
        const config = relayConfig("relay", RELAY_PASSWORD);
        const r = up("--config-file", config);
        expect(r.status).toBe(0);
        // the password reached the server only as the 0600 SASL table: never in the engine's output
        expect(r.stdout + r.stderr).not.toContain(RELAY_PASSWORD);
        expect(onServer("stat -c '%a %U' /etc/postfix/sasl_passwd /etc/postfix/sasl_passwd.db")).toBe("600 root\n600 root\n");
        expect(onServer("postconf -h relayhost smtp_tls_security_level")).toBe("[smarthost.test]:587\nsecure\n");

        const bob = output<Record<string, string>>("virtualUserPasswords")["bob@example.net"];
        const subject = `relayed ${run}`;
        expect(mail("send", host, "587", "bob@example.net", "someone@outside.example", subject, "bob@example.net", bob))
            .toMatchObject({ ok: true });
        const got = await until(60, () => files("mail").find((m) => String(m.data).includes(subject)));
        expect(got).toMatchObject({ port: 587, login: RELAY_USER, tls: true, from: "bob@example.net", to: ["someone@outside.example"] });
        expect(files("direct").filter((m) => String(m.data).includes(subject))).toEqual([]);
        const log = onServer(`grep -F 'to=<someone@outside.example>' /var/log/mail.log | grep 'status=sent' | tail -n 1`);
        expect(log).toMatch(/relay=smarthost\.test\[192\.0\.2\.1\]:587/);
        // signed for bob's domain on the way out (filter.test.ts verifies such signatures with dkimpy)
        expect(String((got as Record<string, unknown>).data)).toMatch(/^DKIM-Signature:[^]*?\bd=example\.net;/m);
        const d = doctor();
        doctorTable("relay");
        expect(d.checks.find((c) => c.check === "outbound")).toMatchObject({ status: "ok", detail: expect.stringMatching(/smarthost\.test:587 reachable, certificate verified/) });
        expect(d.failed).toEqual([]);
    });

    test("the timer's check posts a failure to the webhook, and once more when it is gone", async () => {
        const before = files("hook").length;
        onServer("systemd-run --quiet --unit=mailstack-broken --property=Type=oneshot /bin/false 2>/dev/null || true; " +
            "systemctl is-failed --quiet mailstack-broken");
        onServer("systemctl start mailstack-doctor.service");
        const posted = await until(30, () => files("hook")[before]);
        expect(posted).toMatchObject({ path: "/alert", type: "application/json" });
        const body = JSON.parse(String(posted?.body)) as { status: string; failures: string[]; host: string };
        expect(body).toMatchObject({ host: "mail.example.org", status: "failing" });
        expect(body.failures).toEqual([expect.stringMatching(/^units: failed: mailstack-broken\.service/)]);
        // the same failures are not posted again on every run
        onServer("systemctl start mailstack-doctor.service");
        expect(files("hook")).toHaveLength(before + 1);
        onServer("systemctl reset-failed mailstack-broken.service && systemctl start mailstack-doctor.service");
        const recovered = await until(30, () => files("hook")[before + 1]);
        expect(JSON.parse(String(recovered?.body))).toMatchObject({ status: "recovered", failures: [] });
        expect(onServer("systemctl is-enabled mailstack-doctor.timer; systemctl is-active mailstack-doctor.timer")).toBe("enabled\nactive\n");
    });

    test("a wrong relay password: a clear deferral reason in the queue and the log, and in doctor", async () => {
        const r = up("--config-file", relayConfig("relay-wrong", "wrong-password"));
        expect(r.status).toBe(0);
        const bob = output<Record<string, string>>("virtualUserPasswords")["bob@example.net"];
        const subject = `refused relay ${run}`;
        expect(mail("send", host, "587", "bob@example.net", "other@outside.example", subject, "bob@example.net", bob))
            .toMatchObject({ ok: true });
        const reason = await until(60, () => {
            const q = onServer("postqueue -j");
            return /SASL authentication failed[^"]*/.exec(q)?.[0];
        });
        expect(reason).toMatch(/SASL authentication failed; server smarthost\.test\[192\.0\.2\.1\] said: 535/);
        expect(onServer("grep -c 'SASL authentication failed' /var/log/mail.log")).not.toBe("0\n");
        expect(files("mail").filter((m) => String(m.data).includes(subject))).toEqual([]);
        expect(files("direct").filter((m) => String(m.data).includes(subject))).toEqual([]);
        const d = doctor();
        doctorTable("relay-wrong-password");
        expect(d.failed.map((c) => c.check)).toEqual(["outbound"]);
        expect(d.failed[0].detail).toMatch(/smarthost smarthost\.test:587 is deferred: SASL authentication failed/);
        onServer("postsuper -d ALL deferred >/dev/null 2>&1");
    });
});

// ---------------------------------------------------------------- DANE: the hostname key's rollover

describe("a rollover of the hostname key", () => {
    const tlsaName = `_25._tcp.${t.hostname}`;
    // a new key name per run: a kept volume holds the keys of earlier runs, and their switch is done
    const next = `k${run}`;
    const ctlSpki = (file: string): string => onServer(`/usr/local/sbin/mailstack-ctl spki ${file}`).trim();
    /** The served certificate's key, hashed by openssl on the server (not by mailstack-ctl). */
    const certKey = (): string => onServer("openssl x509 -in /etc/letsencrypt/live/mailstack/cert.pem -noout -pubkey | " +
        "openssl pkey -pubin -outform DER | sha256sum").split(" ")[0];
    /** postfix's own DANE check of port 25, on the server, through its validating unbound. */
    const finger = (): string => onServer(`posttls-finger -t30 -c -l dane -L summary -P /etc/ssl/certs "[${t.hostname}]:25" 2>&1 || true`);
    const verified = new RegExp(`^posttls-finger: Verified TLS connection established to ${t.hostname.replace(/\./g, "\\.")}\\[`, "m");
    /** The TLSA set as the server's unbound answers it once its cache of the name is gone. */
    const fresh = (): ReturnType<typeof ask> => {
        onServer(`unbound-control flush_zone ${t.hostname} >/dev/null && unbound-control flush_bogus >/dev/null && ` +
            "unbound-control flush_negative >/dev/null");
        return ask("TLSA", tlsaName, "127.0.0.1", SERVER_NETNS);
    };
    const tlsaOutput = (): string[] => output<DnsRecord[]>("dnsRecords").filter((r) => r.type === "TLSA" && r.name === tlsaName)
        .map((r) => r.value);
    const timed = (config: string): number => {
        const started = Date.now();
        const r = up("--config-file", config);
        expect({ status: r.status, failure: r.status === 0 ? "" : (r.stdout + r.stderr).slice(-3000) }).toEqual({ status: 0, failure: "" });
        return (Date.now() - started) / 1000;
    };

    afterAll(() => {
        // back to the committed config (no key named): the certificate keeps the new key, and its record stays
        const r = up();
        expect(r.status).toBe(0);
        expect(tlsaOutput()).toEqual([`3 1 1 ${certKey()}`]);
    });

    test("nextKey publishes the next key's TLSA beside the current one, key switches to it: DANE verifies throughout", () => {
        const before = certKey();
        expect(finger()).toMatch(verified);

        const withNext = configVariant("rollover-next", [["mailstack:certificate.nextKey", next]]);
        const upNext = timed(withNext);
        const nextKey = ctlSpki(`${HOST_KEYS}/${next}.pem`);
        expect(nextKey).not.toBe(before);
        expect(onServer(`stat -c '%a' ${HOST_KEYS} ${HOST_KEYS}/${next}.pem`)).toBe("700\n600\n");
        // not switched yet: the certificate keeps its key, the set holds both, current first
        expect(certKey()).toBe(before);
        const both = [`3 1 1 ${before}`, `3 1 1 ${nextKey}`];
        expect(tlsaOutput()).toEqual(both);
        expect(ask("TLSA", tlsaName)).toMatchObject({ status: "NOERROR", values: [...both].sort() });
        expect(fresh()).toEqual({ status: "NOERROR", ad: true, values: [...both].sort() });
        expect(finger()).toMatch(verified);

        const withKey = configVariant("rollover-key", [["mailstack:certificate.key", next]]);
        const upKey = timed(withKey);
        expect(certKey()).toBe(nextKey);
        expect(ctlSpki("/etc/letsencrypt/live/mailstack/privkey.pem")).toBe(nextKey);
        expect(tlsaOutput()).toEqual([`3 1 1 ${nextKey}`]);
        // what a sender whose resolver still holds the set of both keys sees, then one that asks anew
        expect(finger()).toMatch(verified);
        expect(fresh()).toEqual({ status: "NOERROR", ad: true, values: [`3 1 1 ${nextKey}`] });
        expect(finger()).toMatch(verified);

        const d = doctor();
        doctorTable("rollover");
        for (const check of ["tls:25", "served:25", `dns:TLSA ${tlsaName}`]) {
            expect([check, d.checks.find((c) => c.check === check)?.status]).toEqual([check, "ok"]);
        }
        expect(d.failed).toEqual([]);
        // a second up would change nothing: the switch is done, and preview says so
        const preview = pulumi("preview", "--expect-no-changes", "--config-file", withKey);
        expect({ status: preview.status, failure: preview.status === 0 ? "" : (preview.stdout + preview.stderr).slice(-3000) })
            .toEqual({ status: 0, failure: "" });

        console.log(`TLSA rollover: key before ${before}, next key ${next} ${nextKey}; ` +
            `up with nextKey ${upNext.toFixed(1)} s, up with key ${upKey.toFixed(1)} s`);
    });
});
