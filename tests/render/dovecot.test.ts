// dovecot.conf in the syntax of the suite's dovecot (2.3 on bookworm, 2.4 on trixie), read by the real doveconf:
// no warning, and what doveconf parsed says what the blog post needed (auth routing, TLS, postfix's sockets).

import {
    DovecotVersion, dovecotConf, dovecotVersion, JUNK, learnProgram, learnService, learnSocket, PIPE_DIR, QUOTA_STATUS,
    REPORT_HAM, REPORT_SPAM, reportSieve, SIEVE_BEFORE, VHOME, VHOSTS,
} from "../../components/render/dovecot";
import { PAM_SERVICE } from "../../components/render/access";
import { CIPHERS, mainCf, SniCert } from "../../components/render/postfix";
import { problems, Result, ROOTFS_TIMEOUT_MS, Sandbox, selfSignedCert, SUITE } from "./debian";
import { config, dovecotInput, postfixInput } from "./fixture";

/** A section of doveconf -n output: its settings in order, and its subsections in order. */
interface Section {
    kind: string;
    name: string;
    settings: Map<string, string>;
    sections: Section[];
}

function parse(text: string): Section {
    const top: Section = { kind: "", name: "", settings: new Map(), sections: [] };
    const stack = [top];
    for (const raw of text.split("\n")) {
        const line = raw.trim();
        if (line === "" || line.startsWith("#")) {
            continue;
        }
        const open = /^(\S+)(?:\s+(.*?))?\s*\{$/.exec(line);
        if (open !== null) {
            const s: Section = { kind: open[1], name: (open[2] ?? "").replace(/^"(.*)"$/, "$1"), settings: new Map(), sections: [] };
            stack[stack.length - 1].sections.push(s);
            stack.push(s);
        } else if (line === "}") {
            stack.pop();
        } else {
            const i = line.indexOf(" =");
            stack[stack.length - 1].settings.set(line.slice(0, i), line.slice(i + 2).trim());
        }
    }
    expect(stack).toHaveLength(1);
    return top;
}

const sections = (s: Section, kind: string, name?: string): Section[] =>
    s.sections.filter((x) => x.kind === kind && (name === undefined || x.name === name));

function section(s: Section, kind: string, name: string): Section {
    const found = sections(s, kind, name);
    expect(found.map((x) => `${x.kind} ${x.name}`)).toEqual([`${kind} ${name}`]);
    return found[0];
}

/** passdb/userdb driver: 2.3 `passdb { driver = pam }`, 2.4 `passdb pam { }` (the name is the driver by default). */
const driver = (db: Section): string => db.settings.get("driver") ?? db.name;

describe(`dovecot.conf on ${SUITE}`, () => {
    let sb: Sandbox;
    let version: DovecotVersion;
    let tls: { certFile: string; keyFile: string };
    let sni: SniCert[];
    let passwdFile: string;

    beforeAll(() => {
        sb = Sandbox.open();
        // The stack picks the renderer from `dovecot --version` on the server: the same here.
        const v = sb.run(["dovecot", "--version"]);
        expect(v.status).toBe(0);
        version = dovecotVersion(v.stdout);
        tls = selfSignedCert(sb, "mail.example.org");
        sni = ["mail.example.net", "mail.example.com"].map((name) => ({ name, ...selfSignedCert(sb, name) }));
        passwdFile = sb.write("dovecot/users", "", 0o640);
    }, ROOTFS_TIMEOUT_MS);

    afterAll(() => sb?.close());

    test("the suite's dovecot is the one expected", () => {
        expect(version).toBe({ bookworm: "2.3", trixie: "2.4" }[SUITE] ?? version);
    });

    describe.each([false, true])("imaps=%s", (imaps) => {
        const c = config({ imaps });
        let conf: string;
        let n: Result;
        let top: Section;
        const doveconf = (...args: string[]): Result => sb.run(["doveconf", "-c", conf, ...args]);

        beforeAll(() => {
            conf = sb.write(`dovecot/imaps-${imaps}.conf`, dovecotConf(dovecotInput(c, version, { ...tls, sni, passwdFile })));
            n = doveconf("-n");
            top = parse(n.stdout);
        });

        test("doveconf -n reads it without warnings", () => {
            expect({ status: n.status, problems: problems(n.stderr) }).toEqual({ status: 0, problems: [] });
            expect(n.stdout).toMatch(new RegExp(`^# ${version.replace(".", "\\.")}\\.\\d`));
        });

        test("passdbs in order: passwd-file for full addresses (bcrypt), then PAM for bare names", () => {
            const dbs = sections(top, "passdb");
            expect(dbs.map(driver)).toEqual(["passwd-file", "pam"]);
            expect(dbs.map((d) => d.settings.get("username_filter"))).toEqual(["*@*", "!*@*"]);
            const file = dbs[0].settings;
            if (version === "2.3") {
                expect(file.get("args")?.split(" ")).toEqual(["scheme=BLF-CRYPT", "username_format=%u", passwdFile]);
            } else {
                expect(file.get("passwd_file_path")).toBe(passwdFile);
                expect(file.get("default_password_scheme")).toBe("BLF-CRYPT");
            }
        });

        test("PAM through the stack's own service (its file decides who is a mail account)", () => {
            const pam = sections(top, "passdb")[1].settings;
            expect(version === "2.3" ? pam.get("args") : pam.get("passdb_pam_service_name") ?? pam.get("service_name"))
                .toBe(PAM_SERVICE);
        });

        test("TLS 1.2 suites: Mozilla intermediate, forward-secret only; no growing per-IP auth penalty", () => {
            expect(doveconf("-h", "ssl_cipher_list").stdout.trim()).toBe(CIPHERS);
            const anvil = section(top, "service", "anvil");
            const penalty = section(anvil, "unix_listener", "anvil-auth-penalty");
            expect(penalty.settings.get(version === "2.3" ? "mode" : "unix_listener_mode") ?? penalty.settings.get("mode"))
                .toMatch(/^0+$/);
        });

        test("userdbs in order: passwd-file as vmail in /var/mail/vhosts/DOMAIN/USER (home: its directory VHOME), then the system's passwd, then quotas", () => {
            const dbs = sections(top, "userdb");
            expect(dbs.map(driver)).toEqual(["passwd-file", "passwd", "passwd-file"]);
            // The first found wins the account, and the per-user quota file only adds to an account found before it.
            expect(dbs.map((d) => [d.settings.get("skip") ?? "never", d.settings.get("result_success") ?? "return-ok"]))
                .toEqual([["never", "continue-ok"], ["found", "continue-ok"], ["notfound", "return-ok"]]);
            expect(version === "2.3" ? dbs[2].settings.get("args")?.split(" ") : dbs[2].settings.get("passwd_file_path"))
                .toEqual(version === "2.3" ? ["username_format=%u", "/etc/dovecot/quota"] : "/etc/dovecot/quota");
            if (version === "2.3") {
                expect(dbs[0].settings.get("args")?.split(" ")).toEqual(["username_format=%u", passwdFile]);
                expect(dbs[0].settings.get("default_fields")?.split(" ")).toEqual(["uid=vmail", "gid=vmail",
                    `home=${VHOSTS}/%d/%n/${VHOME}`, `mail=maildir:${VHOSTS}/%d/%n`]);
            } else {
                expect(dbs[0].settings.get("passwd_file_path")).toBe(passwdFile);
                const fields = section(dbs[0], "fields", "").settings;
                expect(Object.fromEntries(fields)).toEqual({
                    "uid:default": "vmail", "gid:default": "vmail",
                    "home:default": `${VHOSTS}/%{user | domain}/%{user | username}/${VHOME}`,
                    mail_path: `${VHOSTS}/%{user | domain}/%{user | username}`,
                });
            }
        });

        test("alice@BASE is reduced to alice before any lookup; other addresses are kept whole", () => {
            expect(top.settings.get("auth_username_format")).toBe(version === "2.3"
                ? "%{if;%Ld;eq;example.org;%Ln;%Lu}"
                : "%{user | lower | regexp('^([^@]+)@example[.]org$', '\\\\1')}");
        });

        test("system users read ~/Maildir, where dovecot-lda (postfix's mailbox_command) writes", () => {
            const mail = version === "2.3"
                ? { mail_location: "maildir:~/Maildir" }
                : { mail_driver: "maildir", mail_path: "~/Maildir" };
            expect(Object.fromEntries(Object.keys(mail).map((k) => [k, top.settings.get(k)]))).toEqual(mail);
            expect(mainCf(postfixInput(c, tls))).toMatch(/^mailbox_command = \/usr\/lib\/dovecot\/dovecot-lda .*-d "\$USER"$/m);
        });

        test("the LDA runs sieve (the global spam script first) and logs to syslog; managesieve listens on 4190", () => {
            const lda = section(top, "protocol", "lda").settings;
            expect(lda.get("log_path")).toBe("syslog");
            expect(lda.get("lda_mailbox_autocreate")).toBe("yes");
            if (version === "2.3") {
                expect(lda.get("mail_plugins")).toBe("listescape quota sieve");
                const plugin = section(top, "plugin", "").settings;
                expect(plugin.get("sieve_before")).toBe(SIEVE_BEFORE);
                expect(plugin.get("sieve")).toBe("file:~/sieve;active=~/dovecot.sieve");
            } else {
                expect(Object.fromEntries(section(section(top, "protocol", "lda"), "mail_plugins", "").settings))
                    .toMatchObject({ sieve: "yes" });
                const spam = section(top, "sieve_script", "spam").settings;
                expect({ type: spam.get("type"), path: spam.get("path") }).toEqual({ type: "before", path: SIEVE_BEFORE });
                expect(section(top, "sieve_script", "personal").settings.get("active_path")).toBe("~/dovecot.sieve");
            }
            // a vacation reply leaves with the recipient's address, which rspamd signs (never a null sender of sendmail)
            expect((version === "2.3" ? section(top, "plugin", "") : top).settings.get("sieve_vacation_send_from_recipient"))
                .toBe("yes");
            expect(top.settings.get("protocols")).toBe("imap lmtp sieve");
            const login = section(top, "service", "managesieve-login");
            expect(section(login, "inet_listener", "sieve").settings.get("port")).toBe("4190");
        });

        test("quota: count driver, the configured default, no grace; quota-status answers postfix with 452 (temporary), " +
            "and a full mailbox on delivery is a temporary failure too", () => {
            if (version === "2.3") {
                const plugin = section(top, "plugin", "").settings;
                expect(Object.fromEntries(["quota", "quota_rule", "quota_grace", "quota_status_overquota", "quota_status_nouser"]
                    .map((k) => [k, plugin.get(k)]))).toEqual({
                    quota: "count:User quota", quota_rule: "*:storage=2G", quota_grace: "0",
                    quota_status_overquota: "452 4.2.2 Mailbox is full", quota_status_nouser: "DUNNO",
                });
            } else {
                const r = doveconf("-h", "quota_storage_size", "quota_storage_grace", "quota_status_overquota");
                expect(r.stdout.trim().split("\n")).toEqual(["2G", "0", "452 4.2.2 Mailbox is full"]);
                expect(section(top, "quota", "User quota").settings.get("driver")).toBe("count");
            }
            // asked by name, as the LDA reads it (doveconf fails on a setting this version does not know)
            expect(doveconf("-h", "quota_full_tempfail").stdout.trim()).toBe("yes");
            expect(version === "2.3" ? section(top, "plugin", "").settings.get("quota_status_toolarge")
                : doveconf("-h", "quota_status_toolarge").stdout.trim()).toBe("452 4.2.2 Mailbox is full");
            const qs = section(top, "service", "quota-status");
            expect(qs.settings.get("executable")).toBe("quota-status -p postfix");
            const sock = section(qs, "unix_listener", `/var/spool/postfix/${QUOTA_STATUS}`);
            expect(Object.fromEntries(sock.settings)).toEqual({ mode: "0600", user: "postfix", group: "postfix" });
            expect(mainCf(postfixInput(c, tls))).toContain(`check_policy_service unix:${QUOTA_STATUS}`);
        });

        test("TLS required (no cleartext auth), at least TLS 1.2, with the certificate given", () => {
            // Asked by name: -n leaves out what equals the default.
            const r = doveconf(version === "2.3" ? "disable_plaintext_auth" : "auth_allow_cleartext", "ssl", "ssl_min_protocol");
            expect(r.status).toBe(0);
            expect(r.stdout.trim().split("\n")).toEqual([
                version === "2.3" ? "disable_plaintext_auth = yes" : "auth_allow_cleartext = no",
                "ssl = required",
                "ssl_min_protocol = TLSv1.2",
            ]);
            if (version === "2.3") {
                // -P: 2.3 hides ssl_key from -n.
                expect(doveconf("-P", "ssl_cert", "ssl_key").stdout.trim().split("\n"))
                    .toEqual([`ssl_cert = <${tls.certFile}`, `ssl_key = <${tls.keyFile}`]);
            } else {
                // 2.4 files ssl_server_* settings under the ssl_server filter.
                expect(Object.fromEntries(section(top, "ssl_server", "").settings)).toMatchObject(
                    { cert_file: tls.certFile, key_file: tls.keyFile });
            }
        });

        test("mail.DOMAIN by SNI: its domain's certificate (local_name), the hostname's for every other name", () => {
            for (const s of sni) {
                const block = section(top, "local_name", s.name);
                if (version === "2.3") {
                    expect(block.settings.get("ssl_cert")).toBe(`<${s.certFile}`);
                    // -P: 2.3 hides ssl_key from -n
                    expect(doveconf("-P").stdout).toContain(`local_name ${s.name} {\n  ssl_cert = <${s.certFile}\n  ssl_key = <${s.keyFile}\n}`);
                } else {
                    expect(JSON.stringify([...block.settings, ...block.sections.flatMap((x) => [...x.settings])]))
                        .toContain(s.certFile);
                    expect(JSON.stringify([...block.settings, ...block.sections.flatMap((x) => [...x.settings])]))
                        .toContain(s.keyFile);
                }
            }
            expect(sections(top, "local_name").map((x) => x.name)).toEqual(sni.map((s) => s.name));
        });

        test("postfix's sockets: SASL auth and LMTP delivery, in postfix's queue directory, for postfix only", () => {
            const main = mainCf(postfixInput(c, tls));
            const sasl = /^smtpd_sasl_path = (.*)$/m.exec(main)?.[1];
            const auth = section(section(top, "service", "auth"), "unix_listener", `/var/spool/postfix/${sasl}`);
            expect(Object.fromEntries(auth.settings)).toEqual({ mode: "0660", user: "postfix", group: "postfix" });
            const delivery = section(section(top, "service", "lmtp"), "unix_listener", "/var/spool/postfix/private/dovecot-lmtp");
            expect(Object.fromEntries(delivery.settings)).toEqual({ mode: "0600", user: "postfix", group: "postfix" });
            expect(section(top, "protocol", "lmtp").settings.get("postmaster_address")).toBe("postmaster@example.org");
        });

        test(`IMAP on 143${imaps ? " and 993 (implicit TLS)" : " only"}`, () => {
            const login = section(top, "service", "imap-login");
            expect(section(login, "inet_listener", "imap").settings.get("port")).toBe("143");
            const implicit = section(login, "inet_listener", "imaps").settings;
            expect({ port: implicit.get("port"), ssl: implicit.get("ssl") }).toEqual({ port: imaps ? "993" : "0", ssl: "yes" });
        });

        test("folder names may contain dots: escaped with \\ on disk, as 2.3's listescape plugin did", () => {
            if (version === "2.3") {
                expect(top.settings.get("mail_plugins")).toBe("listescape quota");
                expect(section(top, "plugin", "").settings.get("listescape_char")).toBe("\\");
            } else {
                // Asked by name: the value must be the single character, not a quoted or doubled one; none in the names
                // clients see (2.4.1 would show them a backslash of theirs escaped).
                const r = doveconf("-h", "mailbox_list_storage_escape_char", "mailbox_list_visible_escape_char");
                expect(r.stdout.split("\n").slice(0, 2)).toEqual(["\\", ""]);
            }
            // Maildir++, whose "." between levels is why: the layout every existing ~/Maildir has, left as it is.
            expect(section(top, "namespace", "inbox").settings.get("separator")).toBe("/");
            expect(n.stdout).not.toMatch(/LAYOUT=|mailbox_list_layout/);
        });

        test("logs to /var/log/dovecot.log", () => {
            expect(top.settings.get("log_path")).toBe("/var/log/dovecot.log");
        });

        test("a reload leaves open sessions alone (shutdown_clients = no, as doveconf reads it)", () => {
            expect(top.settings.get("shutdown_clients")).toBe("no");
        });

        test("Junk learns: imapsieve runs report-spam on a copy into Junk and report-ham on one out of it", () => {
            if (version === "2.3") {
                expect(section(top, "protocol", "imap").settings.get("mail_plugins"))
                    .toBe("listescape quota imap_quota imap_sieve");
                const plugin = section(top, "plugin", "").settings;
                expect(Object.fromEntries([...plugin].filter(([k]) => /^(imapsieve_|sieve_plugins|sieve_global_ext|sieve_pipe)/.test(k))))
                    .toEqual({
                        sieve_plugins: "sieve_imapsieve sieve_extprograms",
                        sieve_global_extensions: "+vnd.dovecot.pipe",
                        sieve_pipe_bin_dir: PIPE_DIR,
                        imapsieve_mailbox1_name: JUNK,
                        imapsieve_mailbox1_causes: "COPY",
                        imapsieve_mailbox1_before: `file:${REPORT_SPAM}`,
                        imapsieve_mailbox2_name: "*",
                        imapsieve_mailbox2_from: JUNK,
                        imapsieve_mailbox2_causes: "COPY",
                        imapsieve_mailbox2_before: `file:${REPORT_HAM}`,
                    });
            } else {
                expect(Object.fromEntries(section(section(top, "protocol", "imap"), "mail_plugins", "").settings))
                    .toEqual({ imap_quota: "yes", imap_sieve: "yes" });
                expect(Object.fromEntries(section(top, "sieve_plugins", "").settings))
                    .toEqual({ sieve_imapsieve: "yes", sieve_extprograms: "yes" });
                expect(Object.fromEntries(section(top, "sieve_global_extensions", "").settings))
                    .toEqual({ "vnd.dovecot.pipe": "yes" });
                expect(top.settings.get("sieve_pipe_bin_dir")).toBe(PIPE_DIR);
                const junk = section(section(section(top, "namespace", "inbox"), "mailbox", JUNK), "sieve_script", "report-spam");
                expect(Object.fromEntries(junk.settings)).toMatchObject({ type: "before", cause: "copy", path: REPORT_SPAM });
                const ham = section(section(top, "imapsieve_from", JUNK), "sieve_script", "report-ham");
                expect(Object.fromEntries(ham.settings)).toMatchObject({ type: "before", cause: "copy", path: REPORT_HAM });
            }
        });

        test("the report scripts compile with this configuration (pipe allowed to global scripts only)", () => {
            for (const kind of ["spam", "ham"] as const) {
                const script = sb.write(`dovecot/report-${kind}-${imaps}.sieve`, reportSieve(kind));
                const r = sb.run(["sievec", "-c", conf, script]);
                expect({ kind, status: r.status, problems: problems(r.stderr + r.stdout) })
                    .toEqual({ kind, status: 0, problems: [] });
            }
        });
    });

    // The checks pass because the text is right, not because doveconf accepts anything.
    test("doveconf refuses a misspelt setting and the other version's syntax", () => {
        const c = config();
        const other: DovecotVersion = version === "2.3" ? "2.4" : "2.3";
        const good = dovecotConf(dovecotInput(c, version, { ...tls, passwdFile }));
        const typo = sb.write("dovecot/typo.conf", good.replace("ssl_min_protocol", "ssl_min_protocl"));
        const foreign = sb.write("dovecot/other.conf", dovecotConf(dovecotInput(c, other, { ...tls, passwdFile })));
        for (const file of [typo, foreign]) {
            const r = sb.run(["doveconf", "-c", file, "-n"]);
            expect(r.status).not.toBe(0);
            expect(problems(r.stderr)).not.toEqual([]);
        }
    });

    test("Junk learns: the units pass systemd-analyze, the pipe program perl -c", () => {
        const names = ["mailstack-learn.socket", "mailstack-learn@.service"];
        sb.write(`learn-units/${names[0]}`, learnSocket());
        sb.write(`learn-units/${names[1]}`, learnService());
        // a template is verified through an instance of it
        const r = sb.run(["sh", "-c", `cd ${sb.path("learn-units")} && cp ${names[1]} mailstack-learn@0.service && ` +
            `SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no ./${names[0]} ./mailstack-learn@0.service 2>&1`]);
        const ours = r.stdout.split("\n").filter((l) => l.includes("mailstack-learn") && !/Failed to|proc|generators/.test(l));
        expect(ours).toEqual([]);
        expect(learnService()).toMatch(/^ExecStart=\/bin\/sh -c 'read -r kind && case "\$\$kind" in spam\|ham\) exec \/usr\/bin\/rspamc --connect \/run\/rspamd\/controller\.sock "learn_\$\$kind" ;; esac;/m);
        const program = sb.write("learn-units/learn", learnProgram(), 0o755);
        const perl = sb.run(["perl", "-c", program]);
        expect({ status: perl.status, stderr: perl.stderr.trim() }).toEqual({ status: 0, stderr: `${program} syntax OK` });
        // anything but spam or ham is refused before the socket is touched
        expect(sb.run(["perl", program, "eggs"], "x").stderr).toMatch(/spam or ham, not "eggs"/);
    });

    test("the 2.4 regexp takes the base domain literally, and refuses what it cannot", () => {
        const text = (baseDomain: string): string =>
            dovecotConf({ ...dovecotInput(config(), "2.4", { ...tls, passwdFile }), baseDomain });
        expect(text("mail-1.example.co.uk")).toContain("regexp('^([^@]+)@mail-1[.]example[.]co[.]uk$', '\\\\1')");
        expect(text("Example.ORG")).toContain("@example[.]org$");
        for (const bad of ["exa*mple.org", "example.org'", "ex\\ample.org"]) {
            expect(() => text(bad)).toThrow(/cannot be used in a dovecot regexp/);
        }
    });
});
