// The smarthost settings, the SASL table, the logrotate rule and the inside checks' script, checked by the suite's
// real postconf, postmap, logrotate and bash.

import * as path from "path";
import { readFileSync } from "fs";
import { mainCf, MAPS, masterCf, relayNexthop, saslPasswd, SYSTEM_CA_FILE } from "../../components/render/postfix";
import { tlsListeners } from "../../components/listeners";
import { doctorConf, doctorService, doctorTimer, logrotate } from "../../components/render/ops";
import { managedUnits } from "../../components/render/units";
import { MTA_STS_UNIT, mtaStsDaemonConf, mtaStsPolicyMap } from "../../components/render/mtasts";
import { REPORTS_TRANSPORT, reportsRecipient } from "../../components/render/reports";
import { problems, ROOTFS_TIMEOUT_MS, Sandbox, selfSignedCert, SUITE } from "./debian";
import { config, postfixInput } from "./fixture";

function params(text: string): Map<string, string> {
    return new Map(text.split("\n").filter((l) => l.includes(" = ")).map((l) => [l.slice(0, l.indexOf(" = ")), l.slice(l.indexOf(" = ") + 3)]));
}

describe.each([["starttls", 587], ["implicit", 465]] as const)(`smarthost on ${SUITE}, %s`, (tlsMode, port) => {
    const relay = { host: "smtp.relay.example", port, tls: tlsMode, username: "mailer@example.org" };
    const c = config({});
    let sb: Sandbox;
    let dir: string;

    beforeAll(() => {
        sb = Sandbox.open();
        const input = { ...postfixInput(c, selfSignedCert(sb, c.hostname)), relay };
        dir = sb.write("postfix/main.cf", mainCf(input)).replace(/\/main\.cf$/, "");
        sb.write("postfix/master.cf", masterCf(input));
    }, ROOTFS_TIMEOUT_MS);
    afterAll(() => sb?.close());

    test("postconf reads it without a warning, and every outbound message goes to the relay, verified, with AUTH", () => {
        const r = sb.run(["postconf", "-c", dir, "-n"]);
        expect({ status: r.status, problems: problems(r.stderr) }).toEqual({ status: 0, problems: [] });
        const p = params(r.stdout);
        expect(p.get("relayhost")).toBe(`[smtp.relay.example]:${port}`);
        expect(p.get("smtp_sasl_auth_enable")).toBe("yes");
        expect(p.get("smtp_sasl_password_maps")).toBe(`hash:${MAPS.saslPasswd}`);
        expect(p.get("smtp_tls_security_level")).toBe("secure");
        expect(p.get("smtp_tls_CAfile")).toBe(SYSTEM_CA_FILE);
        expect(p.get("smtp_sasl_security_options")).toBe("noanonymous");
        expect(p.get("smtp_tls_wrappermode")).toBe(tlsMode === "implicit" ? "yes" : undefined);
        // never dane towards the relay: a relay without TLSA records would get unverified TLS (and the password)
        expect(p.get("smtp_dns_support_level")).toBeUndefined();
        expect(p.get("smtp_tls_policy_maps")).toBeUndefined();
        expect(p.get("smtp_tls_loglevel")).toBe("1");
        // no transport of ours sends around the relay (DKIM signing happens in cleanup, before any of them): the only
        // entry routes the report reader's copies to its local pipe
        expect(p.get("default_transport")).toBeUndefined();
        expect(p.get("transport_maps")).toBe(`inline:{ ${reportsRecipient(c.hostname)}=${REPORTS_TRANSPORT}: }`);
    });

    test("postmap reads the SASL table; the entry's key is the relayhost value itself", () => {
        const pw = "s3cret:with colon";
        sb.write("sasl_passwd", saslPasswd(relay, pw), 0o600);
        expect(sb.run(["postmap", "-c", dir, `hash:${sb.path("sasl_passwd")}`]).status).toBe(0);
        const r = sb.run(["postmap", "-c", dir, "-q", relayNexthop(relay), `hash:${sb.path("sasl_passwd")}`]);
        expect(r.stdout.trim()).toBe(`mailer@example.org:${pw}`);
        expect(() => saslPasswd(relay, "a\nb")).toThrow(/line break/);
    });
});

describe(`direct delivery on ${SUITE}`, () => {
    test("without relayHost: no relayhost, DANE where published (DNSSEC lookups), else opportunistic TLS, no client SASL", () => {
        const sb = Sandbox.open();
        try {
            const c = config({});
            const dir = sb.write("postfix/main.cf", mainCf(postfixInput(c, selfSignedCert(sb, c.hostname)))).replace(/\/main\.cf$/, "");
            sb.write("postfix/master.cf", masterCf(postfixInput(c, selfSignedCert(sb, c.hostname))));
            const r = sb.run(["postconf", "-c", dir, "-n"]);
            expect({ status: r.status, problems: problems(r.stderr) }).toEqual({ status: 0, problems: [] });
            const p = params(r.stdout);
            expect(p.get("relayhost")).toBeUndefined();
            expect(p.get("smtp_sasl_auth_enable")).toBeUndefined();
            expect(p.get("smtp_tls_security_level")).toBe("dane");
            expect(p.get("smtp_dns_support_level")).toBe("dnssec");
            expect(p.get("smtp_tls_loglevel")).toBe("1");
            // dane needs DNS lookups by postfix itself (native lookups carry no DNSSEC status)
            expect(p.get("smtp_host_lookup")).toBeUndefined();
            expect(sb.run(["postconf", "-c", dir, "-h", "smtp_host_lookup"]).stdout.trim()).toBe("dns");
            // MTA-STS: the policy daemon's map, and the CAs an enforce policy's "secure" verifies against
            expect(p.get("smtp_tls_policy_maps")).toBe("socketmap:inet:127.0.0.1:8461:postfix");
            expect(p.get("smtp_tls_CAfile")).toBe(SYSTEM_CA_FILE);
        } finally {
            sb.close();
        }
    }, ROOTFS_TIMEOUT_MS);
});

describe(`the MTA-STS policy daemon on ${SUITE}`, () => {
    test("its own loader reads the config: loopback, the port postfix asks, enforce only (testing not strict)", () => {
        const sb = Sandbox.open();
        try {
            const conf = sb.write("mta-sts-daemon.yml", mtaStsDaemonConf());
            const r = sb.run(["python3", "-c", "import json, sys; from postfix_mta_sts_resolver.utils import load_config; " +
                "print(json.dumps(load_config(sys.argv[1])))", conf]);
            expect(r.stderr).toBe("");
            const cfg = JSON.parse(r.stdout) as { host: string; port: number; cache: { type: string };
                default_zone: { strict_testing: boolean } };
            expect({ host: cfg.host, port: cfg.port, cache: cfg.cache.type, strict: cfg.default_zone.strict_testing })
                .toEqual({ host: "127.0.0.1", port: 8461, cache: "internal", strict: false });
            expect(mtaStsPolicyMap()).toBe(`socketmap:inet:${cfg.host}:${cfg.port}:postfix`);
            // the unit the stack keeps running is the package's
            expect(sb.run(["test", "-f", `/lib/systemd/system/${MTA_STS_UNIT}`]).status).toBe(0);
            expect(managedUnits({ backup: false, storage: false })).toContain(MTA_STS_UNIT);
        } finally {
            sb.close();
        }
    }, ROOTFS_TIMEOUT_MS);
});

describe(`logrotate and the inside checks on ${SUITE}`, () => {
    let sb: Sandbox;
    beforeAll(() => {
        sb = Sandbox.open();
    }, ROOTFS_TIMEOUT_MS);
    afterAll(() => sb?.close());

    test("logrotate parses the rule: both logs, daily, kept logRetentionDays, each daemon reopens its file", () => {
        const conf = sb.write("logrotate.conf", logrotate(9));
        const r = sb.run(["logrotate", "--debug", "--state", sb.path("state"), conf]);
        expect(r.status).toBe(0);
        expect(r.stderr).not.toMatch(/error/i);
        expect(r.stderr).toMatch(/rotating pattern: \/var\/log\/mail\.log/);
        expect(r.stderr).toMatch(/rotating pattern: \/var\/log\/dovecot\.log/);
        expect(r.stderr).toMatch(/9 rotations/);
        const text = logrotate(9);
        expect(text).toContain("/usr/sbin/postfix reload");
        expect(text).toContain("/usr/bin/doveadm log reopen");
    });

    test("mailstack-doctor is valid bash, and reads the settings the stack writes", () => {
        const script = readFileSync(path.join(__dirname, "..", "..", "files", "mailstack-doctor"), "utf8");
        expect(sb.run(["bash", "-n"], script).status).toBe(0);
        const c = config({ smtps: true });
        const units = managedUnits({ backup: true, storage: false });
        const conf = doctorConf({ doctor: { ...c.doctor, diskMaxPercent: 80 }, certs: c.certificate.lineages.slice(0, 3),
            ports: tlsListeners(c), backup: true, units });
        const r = sb.run(["bash", "-c", `${conf}\necho "$DISK_MAX_PERCENT|$TLS_PORTS|$OUTBOUND|$CERTS|$BACKUP|$BACKUP_STAMP|$UNITS|$REPORTS"`]);
        // per lineage: the file, the name the mail ports are asked for (the hostname's own: none, "-"), nginx's name
        const certs = "mailstack:/etc/letsencrypt/live/mailstack/fullchain.pem:mail.example.org:mail.example.org " +
            "mailstack-example.org:/etc/letsencrypt/live/mailstack-example.org/fullchain.pem:-:autoconfig.example.org " +
            "mailstack-example.net:/etc/letsencrypt/live/mailstack-example.net/fullchain.pem:mail.example.net:autoconfig.example.net";
        // every TLS port served, from the listener table (443: nginx, 4190: managesieve), with the daemon to reload
        expect(r.stdout.trim()).toBe("80|25:smtp:postfix 143:imap:dovecot 443:implicit:nginx 465:implicit:postfix " +
            "587:smtp:postfix 4190:sieve:dovecot|" +
            `gmail-smtp-in.l.google.com:25:plain|${certs}|yes|/var/lib/mailstack/last-backup|${units.join(" ")}|` +
            "/usr/local/lib/mailstack/mailstack-reports");
        const relayed = doctorConf({ doctor: c.doctor, certs: [], ports: [], backup: false, units: [],
            relay: { host: "smtp.relay.example", port: 465, tls: "implicit", username: "u" } });
        expect(sb.run(["bash", "-c", `${relayed}\necho "$OUTBOUND"`]).stdout.trim()).toBe("smtp.relay.example:465:implicit");
    });

    test("the timer and its service are valid units", () => {
        sb.write("units/mailstack-doctor.service", doctorService());
        sb.write("units/mailstack-doctor.timer", doctorTimer(15));
        const r = sb.run(["systemd-analyze", "verify", "--man=no", sb.path("units/mailstack-doctor.timer")]);
        // the service's ExecStart does not exist in the tools root; anything else would be a unit file error
        expect(r.stderr.split("\n").filter((l) => l !== "" && !/mailstack-doctor: |Command .* is not executable|Unit .* not found|\.service: /.test(l)))
            .toEqual([]);
    });
});
