// DMARC and TLS reports that arrive (components/render/reports.ts, files/mailstack-reports), checked by the suite's
// own postfix and python3: the copy to the reader as postfix looks it up (recipient_bcc_maps, transport_maps), its
// pipe service as postconf parses master.cf, and the reader on report mail as Google and Microsoft send it, on mail
// that is no report, and on the doctor's side.

import { chmodSync, mkdirSync, readFileSync } from "fs";
import * as path from "path";
import { parseConfig } from "../../components/config";
import { mainCf, masterCf } from "../../components/render/postfix";
import { port } from "../../components/listeners";
import {
    dmarcReportService, dmarcReportTimer, REPORTS_TRANSPORT, REPORTS_USER, reportAddresses, reportsRecipient, tlsRptAddress,
} from "../../components/render/reports";
import { REPORT_LINES, reportMails } from "../fixtures/reports";
import { problems, Result, ROOTFS_TIMEOUT_MS, Sandbox, SUITE } from "./debian";
import { config, postfixInput } from "./fixture";

const c = config();
const input = postfixInput(c, { certFile: "/etc/ssl/none.pem", keyFile: "/etc/ssl/none.key" });
const READER = readFileSync(path.join(__dirname, "../../files/mailstack-reports"), "utf8");
const REPORTER = readFileSync(path.join(__dirname, "../../files/mailstack-dmarc-report"), "utf8");
// the day after the fixtures' period: recent enough to warn
const NOW = String(Date.UTC(2026, 11, 6, 12) / 1000);

describe("the report addresses", () => {
    test("each domain's DMARC rua, and the TLS-RPT rua where it is ours", () => {
        expect(reportAddresses(c)).toEqual(["alice@example.org", "postmaster@example.com", "postmaster@example.net",
            "postmaster@example.org"]);
        const outside = parseConfig({
            hostname: "mail.example.org", baseDomain: "example.org", virtualDomains: ["example.net"],
            host: { kind: "existing", address: "192.0.2.10" }, certificate: { email: "admin@example.org", acme: "staging" },
            adminEmail: "admin@elsewhere.example",
        });
        expect(reportAddresses(outside)).toEqual(["postmaster@example.net", "postmaster@example.org"]);
        expect(tlsRptAddress({ adminEmail: "alice", baseDomain: "example.org" })).toBe("alice@example.org");
    });
});

describe(`the report reader on ${SUITE}`, () => {
    let sb: Sandbox;
    let dir: string;
    const postconf = (...args: string[]): Result => sb.run(["postconf", "-c", dir, ...args]);
    const lookup = (key: string, table: string): string => {
        const r = sb.run(["postmap", "-c", dir, "-q", key, table]);
        return r.status === 0 ? r.stdout.trim() : "(not found)";
    };
    const reader = (args: string[], stdin?: string): Result => sb.run(["env", `MAILSTACK_REPORTS_DIR=${sb.path("store")}`,
        `MAILSTACK_REPORTS_NOW=${NOW}`, "python3", sb.path("reader"), ...args], stdin);

    beforeAll(() => {
        sb = Sandbox.open();
        dir = sb.write("postfix/main.cf", mainCf(input)).replace(/\/main\.cf$/, "");
        sb.write("postfix/master.cf", masterCf(input));
        sb.write("reader", READER, 0o755);
    }, ROOTFS_TIMEOUT_MS);

    afterAll(() => sb?.close());

    test("postconf reads main.cf and master.cf without a warning", () => {
        for (const r of [postconf("-n"), postconf("-M")]) {
            expect({ status: r.status, problems: problems(r.stderr) }).toEqual({ status: 0, problems: [] });
        }
    });

    test("mail to a report address gets a copy to the reader's address, which goes to its pipe; other mail does not", () => {
        const bcc = postconf("-h", "recipient_bcc_maps").stdout.trim();
        const copy = reportsRecipient(c.hostname);
        for (const a of ["postmaster@example.org", "postmaster@example.net", "postmaster@example.com", "alice@example.org"]) {
            expect(lookup(a, bcc)).toBe(copy);
        }
        for (const a of ["bob@example.net", "abuse@example.org", "postmaster@elsewhere.example", "example.org"]) {
            expect(lookup(a, bcc)).toBe("(not found)");
        }
        const transport = postconf("-h", "transport_maps").stdout.trim();
        expect(lookup(copy, transport)).toBe(`${REPORTS_TRANSPORT}:`);
        expect(lookup("postmaster@example.org", transport)).toBe("(not found)");
        expect(lookup(c.hostname, transport)).toBe("(not found)");
        const svc = postconf("-M", `${REPORTS_TRANSPORT}/unix`).stdout.trim().split(/\s+/);
        expect(svc.slice(7)).toEqual(["pipe", `user=${REPORTS_USER}`, "argv=/usr/local/lib/mailstack/mailstack-reports",
            "receive", "example.org", "example.net", "example.com"]);
    });

    test("keeps a summary of each report (zip, gzip, TLS-RPT), and the doctor summarizes them per domain and kind", () => {
        for (const m of reportMails(tlsRptAddress(c))) {
            expect(reader(["receive", "example.org", "example.net", "example.com"], m.raw)).toEqual({ status: 0, stdout: "", stderr: "" });
        }
        const d = reader(["doctor"]);
        expect(d.status).toBe(0);
        expect(d.stdout).toBe([
            `info\tdmarc-report:example.net\t${REPORT_LINES["dmarc-report:example.net"]}`,
            `warn\tdmarc-report:example.org\t${REPORT_LINES["dmarc-report:example.org"]}`,
            `warn\ttls-report:example.org\t${REPORT_LINES["tls-report:example.org"]}`, ""].join("\n"));
        const summary = JSON.parse(sb.run(["sh", "-c", `cat ${sb.path("store")}/dmarc/example.org/*.json`]).stdout) as Record<string, unknown>;
        expect(summary).toMatchObject({ kind: "dmarc", org: "google.com", domain: "example.org", messages: 12,
            failing: [{ ip: "203.0.113.9", count: 3, spf: "fail", dkim: "none" }] });
        // a week later the same reports are shown, no longer as warnings
        const later = sb.run(["env", `MAILSTACK_REPORTS_DIR=${sb.path("store")}`, `MAILSTACK_REPORTS_NOW=${Number(NOW) + 9 * 86400}`,
            "python3", sb.path("reader"), "doctor"]);
        expect(later.stdout.split("\n").filter((l) => l !== "").map((l) => l.split("\t")[0])).toEqual(["info", "info", "info"]);
    });

    test("the same report twice is kept once; the last 20 per domain and kind are kept", () => {
        const [google] = reportMails(tlsRptAddress(c));
        expect(reader(["receive", "example.org"], google.raw).status).toBe(0);
        const count = (): number => Number(sb.run(["sh", "-c", `ls ${sb.path("store")}/dmarc/example.org | wc -l`]).stdout.trim());
        expect(count()).toBe(1);
        for (let i = 0; i < 22; i++) {
            const other = google.raw.replace(/^UEsDB[^]*?(?=--report-part--)/m, () => "").replace(/application\/zip/g, "text/xml");
            const xml = `<feedback><report_metadata><org_name>r${i}.test</org_name><report_id>${i}</report_id><date_range>` +
                `<begin>${1796428800 - i * 86400}</begin><end>${1796515199 - i * 86400}</end></date_range></report_metadata>` +
                "<policy_published><domain>example.org</domain></policy_published></feedback>";
            expect(reader(["receive", "example.org"], other.replace("--report-part--",
                `${Buffer.from(xml).toString("base64")}\r\n--report-part--`)).status).toBe(0);
        }
        expect(count()).toBe(20);
        // the newest are kept: google's, and r0 (its period ends first of the others' last)
        const names = sb.run(["sh", "-c", `cat ${sb.path("store")}/dmarc/example.org/*.json`]).stdout;
        expect(names).toContain('"org": "google.com"');
        expect(names).toContain('"org": "r0.test"');
        expect(names).not.toContain('"org": "r21.test"');
    });

    test("mail that is no report, a broken attachment, an entity, or a report for another domain: kept nowhere, exit 0", () => {
        const before = sb.run(["sh", "-c", `find ${sb.path("store")} -type f | sort`]).stdout;
        const [google, , tls] = reportMails(tlsRptAddress(c));
        const bomb = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><feedback><report_metadata><org_name>&a;</org_name>' +
            "</report_metadata><policy_published><domain>example.org</domain></policy_published></feedback>";
        const cases = [
            "From: a@b.test\r\nTo: postmaster@example.org\r\nSubject: hello\r\n\r\njust a question\r\n",
            google.raw.replace(/^UEsDB.*$/m, "UEsDBAoAAAAAAAAAIQAAAAAAAAAAAAAAAAAAAAA="),
            google.raw.replace(/^UEsDB[^]*?(?=--report-part--)/m, `${Buffer.from(bomb).toString("base64")}\r\n`),
            "",
        ];
        for (const raw of cases) {
            expect(reader(["receive", "example.org", "example.net"], raw)).toEqual({ status: 0, stdout: "", stderr: "" });
        }
        // a report about a domain that is not ours (example.org is not in the list given)
        expect(reader(["receive", "example.net"], tls.raw).status).toBe(0);
        expect(sb.run(["sh", "-c", `find ${sb.path("store")} -type f | sort`]).stdout).toBe(before);
    });
});

describe(`sending DMARC reports on ${SUITE}`, () => {
    let sb: Sandbox;
    const PORT = port("dmarc-report");
    beforeAll(() => {
        sb = Sandbox.open();
    }, ROOTFS_TIMEOUT_MS);
    afterAll(() => sb?.close());

    test("the daily service and timer are valid units", () => {
        const d = { hostname: "mail.example.org", baseDomain: "example.org", port: PORT };
        expect(dmarcReportService(d)).toContain(`ExecStart=/usr/local/lib/mailstack/mailstack-dmarc-report ${PORT} postmaster@example.org\n`);
        sb.write("units/mailstack-dmarc-report.service", dmarcReportService(d));
        sb.write("units/mailstack-dmarc-report.timer", dmarcReportTimer());
        const r = sb.run(["systemd-analyze", "verify", "--man=no", sb.path("units/mailstack-dmarc-report.timer")]);
        // the service's ExecStart does not exist in the tools root; anything else would be a unit file error
        expect(r.stderr.split("\n").filter((l) => l !== "" && !/mailstack-dmarc-report: |Command .* is not executable|Unit .* not found|\.service: /.test(l)))
            .toEqual([]);
    });

    test("rspamadm's messages reach sendmail, from rspamd's user and the report sender only; anyone else is refused", () => {
        sb.write("reporter", REPORTER, 0o755);
        // rspamadm dmarc_report as lua_smtp talks (HELO, MAIL FROM: <...>), run as _rspamd; smtplib dot-stuffs the body
        sb.write("rspamadm", `#!/usr/bin/python3
import os, smtplib, sys, time
with smtplib.SMTP("127.0.0.1", ${PORT}) as s:
    s.helo("mail.example.org")
    print(s.docmd("MAIL FROM: <someone@example.org>")[0])
    s.rset()
    print(s.docmd("MAIL FROM: <postmaster@example.org>")[0])
    print(s.docmd("RCPT TO: <dmarc@client.example.net>")[0])
    print(s.data(b"Subject: Report Domain: client.example.net\\r\\n\\r\\n.a line with a dot\\r\\nend\\r\\n")[0])
print(sys.argv[1:])
# the listener stays up until the other client below has been refused (the script touches the file then)
open("${sb.path("flags/talked")}", "w").close()
for _ in range(400):
    if os.path.exists("${sb.path("flags/refused")}"):
        break
    time.sleep(0.05)
`, 0o755);
        sb.write("sendmail", `#!/bin/sh\n{ echo "$@"; cat; } > ${sb.path("sent")}\n`, 0o755);
        // where the stand-in rspamadm (rspamd's user) and the script below tell each other how far they are
        mkdirSync(path.join(sb.host, "flags"));
        chmodSync(path.join(sb.host, "flags"), 0o1777);
        const r = sb.isolated(`
mount -t proc proc "$ROOT/proc"
mount --bind "$W/rspamadm" "$ROOT/usr/bin/rspamadm"
mount --bind "$W/sendmail" "$ROOT/usr/sbin/sendmail"
step run in_root python3 "$I/reporter" ${PORT} postmaster@example.org 20261205 &
# while the reporter listens: its rspamadm has sent its message and waits for this client
wait_for ${sb.path("flags/talked").slice(1)} 20
# root is not rspamd's user
step other in_root python3 -c 'import smtplib; s = smtplib.SMTP(); print(s.connect("127.0.0.1", ${PORT})[0])'
touch "$W/flags/refused"
wait
`);
        expect(r.stderr).toBe("");
        const run = sb.step("run");
        expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: "" });
        expect(run.stdout).toBe("553\n250\n250\n250\n['dmarc_report', '20261205']\nmailstack-dmarc-report: 1 report(s) handed to postfix; rspamadm exit 0\n");
        expect(sb.step("other").stdout.trim()).toBe("554");
        expect(sb.read("sent")).toBe("-G -i -f postmaster@example.org -- dmarc@client.example.net\n" +
            "Subject: Report Domain: client.example.net\r\n\r\n.a line with a dot\r\nend\r\n");
    });
});
