// main.cf and master.cf, checked by the suite's real postfix: postconf must read them without a word of warning,
// `postfix check` must pass, and what postconf parsed (not what we wrote) must say what the stack relies on.

import { effectiveAliases } from "../../components/config";
import { QUOTA_STATUS, VHOSTS } from "../../components/render/dovecot";
import { CIPHERS, LOCAL_ANY_SENDER, MAPS, mainCf, masterCf, ORIGINATING, SENDMAIL, SniCert, sniTable } from "../../components/render/postfix";
import { nonMailRecipients, parseAccounts } from "../../components/render/access";
import { baseSenderLogins, localSenders, senderLogins, virtualAliases, vmailbox } from "../../components/render/maps";
import { problems, Result, ROOTFS_TIMEOUT_MS, Sandbox, selfSignedCert, SUITE } from "./debian";
import { config, postfixInput, senderInput } from "./fixture";

/** `name = value` lines of postconf -n / -P output. */
function params(text: string): Map<string, string> {
    const m = new Map<string, string>();
    for (const line of text.split("\n")) {
        const i = line.indexOf(" = ");
        if (i > 0) {
            m.set(line.slice(0, i), line.slice(i + 3));
        } else if (line.endsWith(" =")) {
            m.set(line.slice(0, -2), "");
        }
    }
    return m;
}

/** A postfix list (commas and/or whitespace). */
const list = (value: string | undefined): string[] => (value ?? "").split(/[\s,]+/).filter((v) => v !== "");

interface Service { name: string; type: string; private: string; unpriv: string; chroot: string; command: string }

/** postconf -M: one service per line (options are shown by -P). */
function services(text: string): Service[] {
    return text.split("\n").filter((l) => l.trim() !== "").map((l) => {
        const f = l.trim().split(/\s+/);
        return { name: f[0], type: f[1], private: f[2], unpriv: f[3], chroot: f[4], command: f[7] };
    });
}

/** Exit 0, and not a warning: on stderr, or on stdout too where it is a terminal that has both (tty_step). */
function clean(r: Result, tty = false): void {
    expect({ status: r.status, problems: [...problems(r.stderr), ...(tty ? problems(r.stdout, true) : [])] })
        .toEqual({ status: 0, problems: [] });
}

describe.each([false, true])(`postfix on ${SUITE}, smtps=%s`, (smtps) => {
    const c = config({ smtps });
    let sb: Sandbox;
    let tls: { certFile: string; keyFile: string };
    let sni: SniCert[];
    let dir: string;
    // main.cf and master.cf do not change after beforeAll: what postconf said of them with the same arguments is kept
    // (a dozen of the tests below ask it -M, -P or -n again; each start is a chroot and postconf's libraries)
    const said = new Map<string, Result>();
    const postconf = (...args: string[]): Result => {
        const key = args.join("\0");
        let r = said.get(key);
        if (r === undefined) {
            r = sb.run(["postconf", "-c", dir, ...args]);
            said.set(key, r);
        }
        return r;
    };

    beforeAll(() => {
        sb = Sandbox.open();
        tls = selfSignedCert(sb, c.hostname);
        sni = ["mail.example.net", "mail.example.com"].map((name) => ({ name, ...selfSignedCert(sb, name) }));
        const input = postfixInput(c, { ...tls, sni });
        dir = sb.write("postfix/main.cf", mainCf(input)).replace(/\/main\.cf$/, "");
        sb.write("postfix/master.cf", masterCf(input));
        // The same files installed where the server has them: /etc/postfix (an overlay on the packaged files in a
        // private mount namespace), with the maps at MAPS' paths.
        sb.write("etc-postfix/main.cf", mainCf(input));
        sb.write("etc-postfix/master.cf", masterCf(input));
        const tables: [string, string][] = [
            [MAPS.vmailbox, vmailbox(c.virtualUsers)],
            [MAPS.virtual, virtualAliases(effectiveAliases(c))],
            [MAPS.senderLogins, senderLogins(senderInput(c))],
            [MAPS.baseSenderLogins, baseSenderLogins(c.baseDomain)],
            [MAPS.localSenders, localSenders(c.baseDomain)],
            [MAPS.sni, sniTable(sni)],
            [MAPS.nonMail, nonMailRecipients(parseAccounts("UID_MIN 1000\nUID_MAX 60000\nroot:0\nsshd:105\nalice:1001\n"),
                { scope: "all-humans", listed: c.systemUsers, hostname: c.hostname, baseDomain: c.baseDomain,
                    aliased: ["postmaster", "abuse", "root"] })],
        ];
        for (const [file, text] of tables) {
            expect(file).toMatch(/^\/etc\/postfix\/[^/]+$/);
            sb.write(`etc-postfix/${file.slice("/etc/postfix/".length)}`, text);
        }
    }, ROOTFS_TIMEOUT_MS);

    afterAll(() => sb?.close());

    test("postconf -n reads main.cf (and master.cf's -o names) without warnings", () => {
        clean(postconf("-n"));
    });

    test("postconf -M and -P read master.cf without warnings", () => {
        clean(postconf("-M"));
        clean(postconf("-P"));
    });

    test("virtual domains are virtual_mailbox_domains and never in mydestination", () => {
        const p = params(postconf("-nx").stdout);
        const destinations = list(p.get("mydestination"));
        expect(destinations).toEqual(expect.arrayContaining([c.hostname, c.baseDomain, "localhost"]));
        for (const d of c.virtualDomains) {
            expect(destinations).not.toContain(d);
        }
        expect(list(p.get("virtual_mailbox_domains")).sort()).toEqual([...c.virtualDomains].sort());
        expect(p.get("myorigin")).toBe(c.baseDomain);
        expect(p.get("home_mailbox")).toBe("Maildir/");
    });

    test("tables are the ones the stack writes", () => {
        const p = params(postconf("-n").stdout);
        expect(p.get("virtual_mailbox_maps")).toBe(`hash:${MAPS.vmailbox}`);
        expect(p.get("virtual_alias_maps")).toBe(`hash:${MAPS.virtual}`);
        expect(list(p.get("smtpd_sender_login_maps"))).toEqual([`hash:${MAPS.senderLogins}`, `regexp:${MAPS.baseSenderLogins}`]);
        expect(p.get("virtual_uid_maps")).toBe("static:5000");
        expect(p.get("virtual_gid_maps")).toBe("static:5000");
    });

    test("both kinds of user are delivered by dovecot-lda; SASL asks dovecot's auth socket", () => {
        const p = params(postconf("-x", "queue_directory", "virtual_transport", "virtual_mailbox_base", "virtual_mailbox_limit",
            "message_size_limit", "smtpd_sasl_type", "smtpd_sasl_path", "mailbox_command",
            "dovecot_destination_recipient_limit").stdout);
        expect(p.get("queue_directory")).toBe("/var/spool/postfix");
        // Not dovecot's LMTP, which offers no SMTPUTF8 (postfix would bounce mail from UTF-8 senders): the LDA, through
        // a pipe service as vmail, one recipient at a time (each has its own sieve script and quota).
        expect(p.get("virtual_transport")).toBe("dovecot");
        expect(p.get("dovecot_destination_recipient_limit")).toBe("1");
        const pipe = services(postconf("-M").stdout).find((x) => x.name === "dovecot");
        expect(pipe).toMatchObject({ type: "unix", unpriv: "n", chroot: "n", command: "pipe" });
        const line = postconf("-M", "dovecot/unix").stdout.trim().split(/\s+/).slice(8).join(" ");
        expect(line).toBe("flags=DRhu user=vmail:vmail argv=/usr/lib/dovecot/dovecot-lda -e -f ${sender} " +
            "-a ${original_recipient} -d ${user}@${nexthop}");
        // System users: local(8) (aliases, .forward) and then the same LDA as the user.
        expect(p.get("mailbox_command")).toBe('/usr/lib/dovecot/dovecot-lda -e -f "$SENDER" -a "$RECIPIENT" -d "$USER"');
        expect(p.get("virtual_mailbox_base")).toBe(VHOSTS);
        expect(Number(p.get("message_size_limit"))).toBeGreaterThan(0);
        // Relative to the queue directory (smtpd runs chrooted there): the path dovecot.conf listens on.
        expect(p.get("smtpd_sasl_type")).toBe("dovecot");
        expect(p.get("smtpd_sasl_path")).toBe("private/auth");
    });

    test("port 25: no SASL, TLS offered, relaying for nobody (not even 127.0.0.1)", () => {
        const p = params(postconf("-x", "smtpd_sasl_auth_enable", "smtpd_tls_security_level", "smtpd_relay_restrictions",
            "mynetworks", "smtpd_tls_cert_file", "smtpd_tls_key_file", "smtpd_tls_protocols",
            "smtpd_tls_mandatory_protocols", "smtpd_milters", "non_smtpd_milters", "milter_default_action").stdout);
        expect(p.get("smtpd_sasl_auth_enable")).toBe("no");
        expect(p.get("smtpd_tls_security_level")).toBe("may");
        expect(list(p.get("smtpd_relay_restrictions"))).toEqual(["permit_sasl_authenticated", "reject_unauth_destination"]);
        expect(list(p.get("mynetworks"))).toEqual(["127.0.0.0/8", "[::1]/128"]);
        expect(p.get("smtpd_tls_cert_file")).toBe(tls.certFile);
        expect(p.get("smtpd_tls_key_file")).toBe(tls.keyFile);
        expect(p.get("smtpd_tls_protocols")).toBe(">=TLSv1.2");
        expect(p.get("smtpd_tls_mandatory_protocols")).toBe(">=TLSv1.2");
        const smtp = params(postconf("-P").stdout);
        // Port 25's only override: a dead rspamd means 451 (the sender retries), not unchecked mail. Its milter
        // macro daemon name stays $myhostname: only cleanup (bounces) and submission say ORIGINATING.
        expect([...smtp.entries()].filter(([k]) => k.startsWith("smtp/inet/")))
            .toEqual([["smtp/inet/milter_default_action", "tempfail"]]);
        expect(smtp.get("cleanup/unix/milter_macro_daemon_name")).toBe(ORIGINATING);
        // sendmail's mail (pickup) has a cleanup of its own, tagged SENDMAIL: rspamd binds its From: to its envelope
        expect(smtp.get("pickup/unix/cleanup_service_name")).toBe("pickcleanup");
        expect(services(postconf("-M").stdout).find((x) => x.name === "pickcleanup"))
            .toMatchObject({ type: "unix", command: "cleanup" });
        expect(smtp.get("pickcleanup/unix/milter_macro_daemon_name")).toBe(SENDMAIL);
        expect(postconf("-h", "milter_macro_daemon_name").stdout.trim()).toBe("$myhostname");
        expect(p.get("smtpd_milters")).toBe("inet:127.0.0.1:11332");
        expect(p.get("non_smtpd_milters")).toBe("inet:127.0.0.1:11332");
        expect(p.get("milter_default_action")).toBe("accept");
    });

    test(`submission services: 587${smtps ? " and 465" : " only"}, all smtpd, all TLS + SASL only`, () => {
        const inet = services(postconf("-M").stdout).filter((s) => s.type === "inet");
        expect(inet.map((s) => s.name)).toEqual(smtps ? ["smtp", "submission", "submissions"] : ["smtp", "submission"]);
        expect(inet.map((s) => s.command)).toEqual(inet.map(() => "smtpd"));
        const p = params(postconf("-P").stdout);
        for (const name of inet.map((s) => s.name).filter((n) => n !== "smtp")) {
            const o = (key: string): string | undefined => p.get(`${name}/inet/${key}`);
            expect(o("smtpd_tls_security_level")).toBe("encrypt");
            expect(o("smtpd_sasl_auth_enable")).toBe("yes");
            expect(o("smtpd_tls_auth_only")).toBe("yes");
            expect(o("smtpd_client_restrictions")).toBe("permit_sasl_authenticated,reject");
            expect(o("smtpd_relay_restrictions")).toBe("permit_sasl_authenticated,reject");
            expect(o("smtpd_recipient_restrictions")).toBe("$mailstack_submission_recipient");
            expect(o("smtpd_sender_restrictions")).toBe("$mailstack_submission_sender");
            expect(o("smtpd_tls_wrappermode")).toBe(name === "submissions" ? "yes" : undefined);
            expect(o("smtpd_tls_mandatory_ciphers")).toBe("high");
            expect(o("tls_high_cipherlist")).toBe("$mailstack_tls_ciphers");
            expect(o("cleanup_service_name")).toBe("subcleanup");
            expect(o("milter_macro_daemon_name")).toBe(ORIGINATING);
            expect(Number(o("smtpd_client_message_rate_limit"))).toBeGreaterThan(0);
            expect(Number(o("smtpd_client_recipient_rate_limit"))).toBeGreaterThan(0);
        }
        const m = params(postconf("-x", "mailstack_submission_recipient", "mailstack_submission_sender",
            "mailstack_tls_ciphers").stdout);
        expect(list(m.get("mailstack_submission_recipient"))).toEqual(
            ["check_recipient_access", `hash:${MAPS.locked}`, "check_recipient_access", `hash:${MAPS.nonMail}`,
                "check_policy_service", `unix:${QUOTA_STATUS}`, "permit_sasl_authenticated", "reject"]);
        expect(list(m.get("mailstack_submission_sender"))).toEqual(
            ["check_sender_access", "inline:{<>=REJECT}", "reject_sender_login_mismatch"]);
        expect(m.get("mailstack_tls_ciphers")).toBe(CIPHERS);
        expect(CIPHERS.split(":").every((x) => x.startsWith("ECDHE-") && /GCM|CHACHA20/.test(x))).toBe(true);
        const cleanup = services(postconf("-M").stdout).find((x) => x.name === "subcleanup");
        expect(cleanup).toMatchObject({ type: "unix", command: "cleanup" });
        expect(p.get("subcleanup/unix/header_checks")).toBe("$mailstack_submission_headers");
    });

    test("port 25: restrictions on HELO, senders of our domains and recipients", () => {
        const p = params(postconf("-x", "smtpd_helo_restrictions", "smtpd_recipient_restrictions", "inet_protocols")
            .stdout);
        expect(list(p.get("smtpd_helo_restrictions"))).toEqual(["permit_sasl_authenticated",
            "reject_invalid_helo_hostname", "reject_non_fqdn_helo_hostname"]);
        expect(list(p.get("smtpd_recipient_restrictions"))).toEqual(["check_recipient_access", `hash:${MAPS.locked}`,
            "check_recipient_access", `hash:${MAPS.nonMail}`,
            "permit_sasl_authenticated", "reject_non_fqdn_recipient", "reject_unauth_destination",
            "check_policy_service", `unix:${QUOTA_STATUS}`]);
        // A quota-status that does not answer lets mail in (the LDA still enforces the quota).
        expect(postconf("-xh", "smtpd_policy_service_default_action").stdout.trim()).toBe("DUNNO");
        // The testbed and existing hosts have no IPv6 address with a PTR: IPv4 only.
        expect(p.get("inet_protocols")).toBe("ipv4");
        // our domains in the sender table match themselves, not their subdomains (client.example.net is not ours)
        expect(list(postconf("-h", "parent_domain_matches_subdomains").stdout)).not.toContain("smtpd_access_maps");
    });

    // The sender table, as postfix's own postmap reads it from main.cf.
    test.each<[string, string | null]>([
        ["alice@example.org", "REJECT 5.7.1 Use our submission port to send as example.org"],
        ["bob@example.net", "REJECT 5.7.1 Use our submission port to send as example.net"],
        ["dave@example.com", "REJECT 5.7.1 Use our submission port to send as example.com"],
        ["root@mail.example.org", "REJECT 5.7.1 Use our submission port to send as mail.example.org"],
        ["someone@client.example", null],
        ["<>", null],
    ])("port 25 sender table: %s -> %s", (sender, value) => {
        const restrictions = postconf("-xh", "smtpd_sender_restrictions").stdout.trim();
        const table = /check_sender_access (inline:\{.*\})$/.exec(restrictions)?.[1] ?? "";
        expect(restrictions.startsWith("reject_non_fqdn_sender, reject_unlisted_sender, ")).toBe(true);
        // an access table looks up the address, then its domain: query the way smtpd does
        const lookup = (key: string): Result => sb.run(["postmap", "-c", dir, "-q", key, table]);
        const [address, domain] = [sender, sender.split("@")[1]];
        const byAddress = lookup(address);
        const r = byAddress.status === 0 || domain === undefined ? byAddress : lookup(domain);
        expect(r.status === 0 ? r.stdout.trim() : null).toBe(value);
    });

    test.each(["ESMTPSA", "ESMTPA", "UTF8SMTPSA", "UTF8SMTPA"])("submitted mail (%s): the first Received: (with the client's address) is dropped, the others stay", (proto) => {
        const table = postconf("-xh", "mailstack_submission_headers").stdout.trim();
        const headers = [
            "Received: from client.example (unknown [192.0.2.1])",
            "\t(Authenticated sender: bob@example.net)",
            `\tby mail.example.org (Postfix) with ${proto} id 4AbC`,
            "\tfor <erin@example.com>; Fri, 27 Nov 2026 09:00:00 +0000 (UTC)",
            "Received: from mail.example.org by mail.example.org (Postfix) with ESMTP id 5XyZ",
            "Received: from mx.example.com by mail.example.org (Postfix) with UTF8SMTPS id 6XyZ",
            "Subject: Received: with ESMTPSA in a subject",
            "",
        ].join("\n");
        const r = sb.run(["postmap", "-c", dir, "-h", "-q", "-", table], headers);
        expect(r.stderr).toBe("");
        // one logical header per hit (continuation lines start with a tab)
        const hits = r.stdout.split(/\n(?![\t ])/).filter((l) => l !== "");
        expect(hits.length).toBe(1);
        expect(hits[0]).toMatch(/^Received: from client\.example \(unknown \[192\.0\.2\.1\]\).*IGNORE$/s);
    });

    test("SMTP smuggling: bare newlines normalized; bounces pass the milters (DKIM)", () => {
        const p = params(postconf("-x", "smtpd_forbid_bare_newline", "internal_mail_filter_classes").stdout);
        expect(p.get("smtpd_forbid_bare_newline")).toBe("normalize");
        expect(p.get("internal_mail_filter_classes")).toBe("bounce");
    });

    test("sendmail: root, postfix and vmail as anyone; every other account only as itself", () => {
        const maps = postconf("-xh", "local_login_sender_maps").stdout.trim();
        expect(maps).toBe(`inline:{ ${LOCAL_ANY_SENDER.map((u) => `${u}=*`).join(", ")} }, regexp:${MAPS.localSenders}`);
        const inline = /^(inline:\{.*\})/.exec(maps)?.[1] ?? "";
        const q = (key: string, table: string): string | null => {
            const r = sb.run(["postmap", "-c", dir, "-q", key, table]);
            return r.status === 0 ? r.stdout.trim() : null;
        };
        expect(q("root", inline)).toBe("*");
        expect(q("vmail", inline)).toBe("*");
        expect(q("frank", inline)).toBe(null);
        const file = sb.write("local_senders", localSenders(c.baseDomain));
        expect(q("frank", `regexp:${file}`)).toBe("frank, frank@example.org, <>");
        expect(q("uid:1234", `regexp:${file}`)).toBe(null);
    });

    test("the service names resolve to the right ports in the suite's /etc/services", () => {
        const r = sb.run(["getent", "services", "smtp/tcp", "submission/tcp", ...(smtps ? ["submissions/tcp"] : [])]);
        expect(r.status).toBe(0);
        expect(r.stdout.split("\n").filter((l) => l !== "").map((l) => l.split(/\s+/).slice(0, 2).join(" ")))
            .toEqual(["smtp 25/tcp", "submission 587/tcp", ...(smtps ? ["submissions 465/tcp"] : [])]);
    });

    describe("installed as /etc/postfix", () => {
        let ran: Result;
        beforeAll(() => {
            const { uid, gid } = { uid: sb.run(["id", "-u", "postfix"]).stdout.trim(), gid: sb.run(["id", "-g", "postfix"]).stdout.trim() };
            // postfix check creates the queue directories it misses and writes its warnings through postlog (to the
            // log and, on a terminal only, to stderr): a fresh queue and log on tmpfs, a pseudo-terminal for stderr.
            ran = sb.isolated(`
                mkdir -p "$W/overlay-work" "$W/log"
                mount -t overlay overlay -o "lowerdir=$ROOT/etc/postfix,upperdir=$W/etc-postfix,workdir=$W/overlay-work" "$ROOT/etc/postfix"
                hide var/spool/postfix 0755
                hide var/lib/postfix 0700 ${uid}:${gid}
                mount --bind "$W/log" "$ROOT/var/log"
                tty_step check-sandbox "chroot $ROOT postfix -c $I/postfix check"
                tty_step check "chroot $ROOT postfix check"
                for t in ${MAPS.vmailbox} ${MAPS.virtual} ${MAPS.senderLogins} ${MAPS.nonMail}; do step "postmap-$(basename $t)" in_root postmap hash:$t; done
                step postmap-sni in_root postmap -F hash:${MAPS.sni}
                step "sni mail.example.net" in_root postmap -F -q mail.example.net $(in_root postconf -xh tls_server_sni_maps)
                step "sni mail.example.org" in_root postmap -F -q mail.example.org $(in_root postconf -xh tls_server_sni_maps)
                for map in virtual_mailbox_maps virtual_alias_maps smtpd_sender_login_maps; do
                    in_root postconf -xh $map | tr ', ' '\\n\\n' | grep . >"$W/$map.list"
                done
                q() { step "$1 $2" in_root postmap -q "$2" $(cat "$W/$1.list"); }
                q virtual_mailbox_maps bob@example.net
                q virtual_mailbox_maps dave@example.com
                q virtual_mailbox_maps nobody@example.net
                q virtual_mailbox_maps alice@example.org
                q virtual_alias_maps info@example.net
                q virtual_alias_maps postmaster@example.com
                q virtual_alias_maps team@example.org
                q smtpd_sender_login_maps bob@example.net
                q smtpd_sender_login_maps info@example.net
                q smtpd_sender_login_maps alice@example.org
                q smtpd_sender_login_maps team@example.org
                q smtpd_sender_login_maps olduser@example.org
                q smtpd_sender_login_maps bob@example.com
                q virtual_alias_maps postmaster@example.net
                q virtual_alias_maps abuse@example.org
                q virtual_alias_maps root@example.org
                step "nonmail sshd@example.org" in_root postmap -q sshd@example.org hash:${MAPS.nonMail}
                step "nonmail alice@example.org" in_root postmap -q alice@example.org hash:${MAPS.nonMail}
                step "nonmail root@example.org" in_root postmap -q root@example.org hash:${MAPS.nonMail}
                cat "$W/log/mail.log" 2>/dev/null || true
            `);
        }, 60_000);

        test("postfix check passes without warnings, from the sandbox and from /etc/postfix", () => {
            expect(ran.stderr).toBe("");
            clean(sb.step("check-sandbox"), true);
            clean(sb.step("check"), true);
            // With maillog_file set, postlog also writes to the log (printed last by the script): no warning there.
            expect(problems(ran.stdout, true)).toEqual([]);
        });

        test("postmap builds every hash table without warnings", () => {
            for (const t of [MAPS.vmailbox, MAPS.virtual, MAPS.senderLogins, MAPS.nonMail]) {
                clean(sb.step(`postmap-${t.split("/").pop()}`));
            }
        });

        test("SNI: main.cf's table (postmap -F) holds mail.DOMAIN's key and chain themselves; other names get the default", () => {
            clean(sb.step("postmap-sni"));
            const net = sb.step("sni mail.example.net");
            expect(net.status).toBe(0);
            const file = (p: string): string => sb.run(["cat", p]).stdout.trim();
            const [key, chain] = [file(sni[0].keyFile), file(sni[0].certFile)];
            expect(key).toMatch(/BEGIN PRIVATE KEY/);
            expect(net.stdout).toContain(key);
            expect(net.stdout).toContain(chain);
            // the hostname is not in it: smtpd_tls_cert_file serves it, as it does a client without SNI
            expect(sb.step("sni mail.example.org").status).toBe(1);
        });

        test.each<[string, string, string | null]>([
            ["virtual_mailbox_maps", "bob@example.net", "example.net/bob/"],
            ["virtual_mailbox_maps", "dave@example.com", "example.com/dave/"],
            ["virtual_mailbox_maps", "nobody@example.net", null],
            ["virtual_mailbox_maps", "alice@example.org", null],
            ["virtual_alias_maps", "info@example.net", "bob@example.net"],
            ["virtual_alias_maps", "postmaster@example.com", "dave@example.com, alice"],
            ["virtual_alias_maps", "team@example.org", "alice, carol@example.net"],
            // Who may send as an address: the login (alice reaches dovecot's PAM as the bare name) or the alias' owners.
            ["smtpd_sender_login_maps", "bob@example.net", "bob@example.net"],
            ["smtpd_sender_login_maps", "info@example.net", "bob@example.net"],
            ["smtpd_sender_login_maps", "alice@example.org", "alice"],
            ["smtpd_sender_login_maps", "team@example.org", "alice, carol@example.net"],
            // A system user the stack does not know (it was on the server before): the regexp fallback.
            ["smtpd_sender_login_maps", "olduser@example.org", "olduser, olduser@example.org"],
            ["smtpd_sender_login_maps", "bob@example.com", null],
            // Every domain's postmaster and abuse, and root, go to adminEmail unless the config routes them.
            ["virtual_alias_maps", "postmaster@example.net", "alice@example.org"],
            ["virtual_alias_maps", "abuse@example.org", "alice@example.org"],
            ["virtual_alias_maps", "root@example.org", "alice@example.org"],
            ["nonmail", "sshd@example.org", "550 5.1.1 User unknown in local recipient table"],
            ["nonmail", "alice@example.org", null],
            // the alias, taken before quota-status could look up the account root
            ["nonmail", "root@example.org", "OK"],
        ])("postmap -q through main.cf's %s: %s -> %s", (map, key, value) => {
            const r = sb.step(`${map} ${key}`);
            expect(r.stderr).toBe("");
            expect(r.status === 0 ? r.stdout.trim() : { status: r.status }).toEqual(value ?? { status: 1 });
        });
    });
});

// The checks above pass because the files are right, not because the checks are blind: the same checks on a
// broken copy must complain.
describe(`the postfix checks on ${SUITE} see mistakes`, () => {
    let sb: Sandbox;
    beforeAll(() => {
        sb = Sandbox.open();
        const input = postfixInput(config(), { certFile: "/etc/ssl/certs/ssl-cert-snakeoil.pem", keyFile: "/etc/ssl/private/ssl-cert-snakeoil.key" });
        sb.write("postfix/main.cf", mainCf(input) + "smtpd_tls_security_levle = encrypt\n", 0o664);
        sb.write("postfix/master.cf", masterCf(input) + "2525 inet n - y - - smtpd -o smtpd_sasl_auth_enabel=yes\n");
        sb.isolated(`
            hide var/spool/postfix 0755
            mkdir -p "$W/log" && mount --bind "$W/log" "$ROOT/var/log"
            tty_step check "chroot $ROOT postfix -c $I/postfix check"
        `);
    }, ROOTFS_TIMEOUT_MS);
    afterAll(() => sb?.close());

    test("postconf -n warns about a misspelt parameter", () => {
        expect(problems(sb.run(["postconf", "-c", sb.path("postfix"), "-n"]).stderr).join("\n"))
            .toMatch(/unused parameter: smtpd_tls_security_levle/);
    });

    // postconf -M and -P print -o options as they are; postconf -n is the one that also checks master.cf's names.
    test("postconf -n warns about a misspelt -o parameter in master.cf", () => {
        expect(problems(sb.run(["postconf", "-c", sb.path("postfix"), "-n"]).stderr).join("\n"))
            .toMatch(/master\.cf: unused parameter: smtpd_sasl_auth_enabel=yes/);
    });

    test("postfix check warns about a group-writable main.cf", () => {
        expect(problems(sb.step("check").stdout, true).join("\n")).toMatch(/group or other writable: .*main\.cf/);
    });
});
