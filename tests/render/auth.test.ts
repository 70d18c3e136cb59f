// The blog author's five-hour bug, for real: the rendered dovecot.conf runs in the suite's dovecot (in the Debian
// root, in private mount, pid and network namespaces, so that nothing outlives the test) with a passwd-file of
// bcrypt hashes as the stack writes it and a PAM system user, and the logins go where they must:
//   bob@example.net -> passwd-file; alice and alice@example.org -> PAM as alice; system users keep working.
// Then postfix's view: SASL through the socket in postfix's queue directory (as the postfix user), LMTP delivery
// into the vmail-owned Maildir, and no LOGIN before STARTTLS.

import * as bcrypt from "bcryptjs";
import * as fs from "fs";
import * as path from "path";
import { DovecotVersion, dovecotConf, dovecotVersion, quotaFile, VHOME } from "../../components/render/dovecot";
import { PAM_SERVICE, pamService } from "../../components/render/access";
import { appPasswordFile, passwdFile } from "../../components/render/maps";
import { groupId, ids, problems, Result, ROOTFS_TIMEOUT_MS, Sandbox, selfSignedCert, shq, SUITE } from "./debian";
import { config, dovecotInput } from "./fixture";

const PASSWORDS: Record<string, string> = {
    "bob@example.net": "bob-Secret-1",
    "carol@example.net": "carol-Secret-2",
    "dave@example.com": "dave-Secret-3",
    alice: "alice-Secret-4",
};
/** App passwords (mailstack:appPasswords) as users.ts writes them: a file per device, by login name. locky's account is
 * locked (mailstack-ctl lock-user): its app password must fail although it is right. */
const APPS: Record<string, Record<string, string>> = {
    phone: { "bob@example.net": "bob-App-phone", alice: "alice-App-phone", locky: "locky-App-phone" },
    laptop: { "bob@example.net": "bob-App-laptop" },
};
/** An app password that was removed from the config: no file has it any more. */
const REMOVED = "bob-App-tablet";
const ALICE = { uid: 1001, gid: 1001 };
const VMAIL = { uid: 5000, gid: 5000 };
const SVC = { uid: 901, gid: 901 };
const SERVER = "192.0.2.10";
const CLIENT = "198.51.100.7";

/** Adds users to copies of the root's account files: the root itself is never changed. */
function accounts(sb: Sandbox, aliceHash: string): void {
    const read = (f: string): string => fs.readFileSync(path.join(sb.root, "etc", f), "utf8");
    for (const id of [ALICE.uid, VMAIL.uid, SVC.uid]) {
        expect(read("passwd").split("\n").filter((l) => l.split(":")[2] === String(id))).toEqual([]);
    }
    // root and a system account (uid below UID_MIN) get alice's password: PAM must refuse them all the same.
    sb.write("etc/passwd", read("passwd") +
        `alice:x:${ALICE.uid}:${ALICE.gid}:Alice:/home/alice:/bin/bash\nvmail:x:${VMAIL.uid}:${VMAIL.gid}::/var/mail/vhosts:/usr/sbin/nologin\n` +
        `svc:x:${SVC.uid}:${SVC.gid}::/nonexistent:/usr/sbin/nologin\n`);
    sb.write("etc/group", read("group") + `alice:x:${ALICE.gid}:\nvmail:x:${VMAIL.gid}:\nsvc:x:${SVC.gid}:\n`);
    sb.write("etc/shadow", read("shadow").replace(/^root:[^:]*:/m, `root:${aliceHash}:`) +
        `alice:${aliceHash}:19000:0:99999:7:::\nvmail:!:19000::::::\nsvc:${aliceHash}:19000:0:99999:7:::\n`, 0o640);
    // The stack's PAM service, as users.ts writes it for the server's UID range.
    sb.write("etc/pam-mailstack", pamService({ uidMin: 1000, uidMax: 60000 }, { scope: "all-humans", listed: [] }));
    fs.chownSync(path.join(sb.host, "etc/shadow"), 0, groupId(sb.root, "shadow")); // root:shadow, for unix_chkpwd
}

/** The PLAIN initial response, base64: \0user\0password. */
const plain = (user: string, password: string): string => Buffer.from(`\0${user}\0${password}`).toString("base64");

/** doveadm user / auth test output: `key<TAB>value` or `  key=value` lines. */
function fields(text: string): Record<string, string> {
    const out: Record<string, string> = {};
    for (const line of text.split("\n")) {
        const m = /^\s*([a-z_]+)(?:\t+|=)(.*)$/.exec(line);
        if (m !== null && m[1] !== "field") {
            out[m[1]] = m[2].trim();
        }
    }
    return out;
}

/**
 * The server side, ready to start: accounts, passwd-file, certificate and the rendered dovecot.conf in a sandbox.
 * Returns the dovecot.conf path and the script that starts dovecot in the isolated namespaces (run BODY, then stop).
 */
function server(sb: Sandbox, imaps: boolean): { version: DovecotVersion; conf: string; script: (body: string) => string } {
    const c = config({ imaps });
    const version = dovecotVersion(sb.run(["dovecot", "--version"]).stdout);
    const tls = selfSignedCert(sb, c.hostname);
    // Hashes as the stack gets them: @pulumi/random's bcryptHash ($2a$, Go's bcrypt), and the other spellings.
    const salt = bcrypt.genSaltSync(10);
    const pw = sb.run(["doveadm", "-O", "pw", "-s", "BLF-CRYPT", "-p", PASSWORDS["dave@example.com"]]);
    expect(pw.stdout).toMatch(/^\{BLF-CRYPT\}\$2y\$/);
    const hashes = [
        { address: "bob@example.net", hash: bcrypt.hashSync(PASSWORDS["bob@example.net"], salt.replace(/^\$2b\$/, "$2a$")) },
        { address: "carol@example.net", hash: bcrypt.hashSync(PASSWORDS["carol@example.net"], salt) },
        { address: "dave@example.com", hash: pw.stdout.trim().replace(/^\{BLF-CRYPT\}/, "") },
    ];
    expect(hashes.map((h) => h.hash.slice(0, 4))).toEqual(["$2a$", "$2b$", "$2y$"]);
    const passwd = sb.write("dovecot/users", passwdFile(hashes), 0o640);
    fs.chownSync(path.join(sb.host, "dovecot/users"), 0, ids(sb.root, "dovecot").gid); // root:dovecot, as users.ts
    const alice = sb.run(["openssl", "passwd", "-6", "-salt", "rendertest", PASSWORDS.alice]);
    expect(alice.status).toBe(0);
    accounts(sb, alice.stdout.trim());
    // Per-user quotas, one of each kind of user (as components/dovecot.ts writes them).
    const quota = sb.write("dovecot/quota", quotaFile(version, { "carol@example.net": "1M", "alice@example.org": "5M" }, c.baseDomain));
    // The app-password files at their real paths (the script mounts app-passwords/ there), root:dovecot 0640.
    for (const [device, logins] of Object.entries(APPS)) {
        sb.write(`app-passwords/${device}`, appPasswordFile(device, Object.entries(logins)
            .map(([login, password]) => ({ login, hash: bcrypt.hashSync(password, salt) }))), 0o640);
        fs.chownSync(path.join(sb.host, `app-passwords/${device}`), 0, ids(sb.root, "dovecot").gid);
    }
    const lockedUsers = sb.write("mailstack/locked-users", "locky\n");
    const conf = sb.write("dovecot/dovecot.conf", dovecotConf({
        ...dovecotInput(c, version, { ...tls, passwdFile: passwd, quotaFile: quota }),
        apps: { devices: Object.keys(APPS), lockedUsers },
    }));
    sb.write("client.pl", fs.readFileSync(path.join(__dirname, "client.pl"), "utf8"), 0o755);
    const postfix = ids(sb.root, "postfix");
    const script = (body: string): string => `
        mount -t proc proc "$ROOT/proc"
        hide run
        hide var/lib/dovecot
        hide var/spool/postfix
        hide var/mail
        hide home
        hide etc/dovecot
        mkdir "$ROOT/etc/dovecot/app-passwords" && cp -a "$W/app-passwords/." "$ROOT/etc/dovecot/app-passwords/"
        mkdir -p "$W/log" && mount --bind "$W/log" "$ROOT/var/log"
        for f in passwd group shadow; do mount --bind "$W/etc/$f" "$ROOT/etc/$f"; done
        mkdir "$W/pam.d" && cp -a "$ROOT/etc/pam.d/." "$W/pam.d/" && cp "$W/etc/pam-mailstack" "$W/pam.d/${PAM_SERVICE}"
        mount --bind "$W/pam.d" "$ROOT/etc/pam.d"
        in_root ip addr add ${SERVER}/32 dev lo
        in_root ip addr add ${CLIENT}/32 dev lo
        # As Debian's postfix package and the stack's vmail step leave them.
        mkdir -m 0700 "$ROOT/var/spool/postfix/private" && chown ${postfix.uid}:${postfix.gid} "$ROOT/var/spool/postfix/private"
        mkdir -m 0755 "$ROOT/var/mail/vhosts" && chown ${VMAIL.uid}:${VMAIL.gid} "$ROOT/var/mail/vhosts"
        mkdir -m 0700 "$ROOT/home/alice" && chown ${ALICE.uid}:${ALICE.gid} "$ROOT/home/alice"

        in_root dovecot -F -c ${conf} >"$W/dovecot.out" 2>&1 &
        dovecot=$!
        wait_for var/spool/postfix/private/auth 15
        wait_for var/spool/postfix/private/dovecot-lmtp 15
        wait_for run/dovecot/auth-client 15
        ${body}
        step listening cat "$ROOT/proc/net/tcp" "$ROOT/proc/net/tcp6"
        while [ -n "$(jobs -pr | grep -v "^$dovecot$")" ]; do sleep 0.1; done
        kill $dovecot && wait $dovecot || true
        cat "$W/dovecot.out"
    `;
    return { version, conf, script };
}

/** Ports in LISTEN state, from /proc/net/tcp{,6}. */
function listening(r: Result): Set<number> {
    return new Set(r.stdout.split("\n")
        .map((l) => l.trim().split(/\s+/))
        .filter((f) => f[3] === "0A")
        .map((f) => parseInt(f[1].split(":").pop() ?? "", 16)));
}

function startedCleanly(sb: Sandbox, ran: Result): void {
    expect(ran.stderr).toBe("");
    expect(ran.status).toBe(0);
    const log = sb.read("log/dovecot.log");
    expect(log).toMatch(/starting up/);
    // Failed logins are the point of some checks; anything else that complains is not.
    expect(problems(log, true).filter((l) => !/auth(-worker)?\(.*(unknown user|Password mismatch)/i.test(l))).toEqual([]);
    // PAM's helper reports the one wrong system password through syslog, and so to the console: nothing else.
    expect(sb.read("console").split("\n").filter((l) => l !== "" && !/password check failed for user \(alice\)/.test(l)))
        .toEqual([]);
}

describe(`dovecot on ${SUITE} authenticates and delivers (imaps on)`, () => {
    let sb: Sandbox;
    let version: DovecotVersion;
    let ran: Result;
    const step = (name: string): Result => sb.step(name);

    // Logins for doveadm auth test: [name, user, password].
    const logins: [string, string, string][] = [
        ["bob", "bob@example.net", PASSWORDS["bob@example.net"]],
        ["carol", "carol@example.net", PASSWORDS["carol@example.net"]],
        ["dave", "dave@example.com", PASSWORDS["dave@example.com"]],
        ["Bob-upper", "Bob@Example.NET", PASSWORDS["bob@example.net"]],
        ["alice", "alice", PASSWORDS.alice],
        ["alice-base", "alice@example.org", PASSWORDS.alice],
        ["alice-upper", "Alice@EXAMPLE.org", PASSWORDS.alice],
        ["bob-wrong", "bob@example.net", PASSWORDS.alice],
        ["alice-wrong", "alice", PASSWORDS["bob@example.net"]],
        ["bob-bare", "bob", PASSWORDS["bob@example.net"]],
        ["alice-virtual", "alice@example.net", PASSWORDS.alice],
        ["carol-base", "carol@example.org", PASSWORDS["carol@example.net"]],
        // Not mail accounts, with a right password (alice's, set for them too).
        ["root", "root", PASSWORDS.alice],
        ["root-base", "root@example.org", PASSWORDS.alice],
        ["svc", "svc", PASSWORDS.alice],
        ["vmail", "vmail", PASSWORDS.alice],
        // App passwords: each device's, for both kinds of user (a system user by either name); never another's,
        // a removed one, or a locked account's
        ["bob-app-phone", "bob@example.net", APPS.phone["bob@example.net"]],
        ["bob-app-laptop", "bob@example.net", APPS.laptop["bob@example.net"]],
        ["alice-app-phone", "alice", APPS.phone.alice],
        ["alice-base-app-phone", "alice@example.org", APPS.phone.alice],
        ["bob-app-removed", "bob@example.net", REMOVED],
        ["bob-app-of-alice", "bob@example.net", APPS.phone.alice],
        ["carol-app-of-bob", "carol@example.net", APPS.phone["bob@example.net"]],
        ["locky-app-phone", "locky", APPS.phone.locky],
    ];
    const users = ["bob@example.net", "carol@example.net", "dave@example.com", "alice", "alice@example.org", "nobody@example.net"];

    beforeAll(() => {
        sb = Sandbox.open();
        const srv = server(sb, true);
        version = srv.version;
        const doveadm = `in_root doveadm -c ${srv.conf}`;
        const client = sb.path("client.pl");
        const asPostfix = `in_root setpriv --reuid=postfix --regid=postfix --init-groups perl ${client}`;
        const s = (word: string): string => shq(word);
        const sasl = (user: string, password: string, secured: boolean): string =>
            s(plain(user, password) + (secured ? ",secured" : ""));
        ran = sb.isolated(srv.script(`
            # Independent checks side by side: each failed login costs dovecot's auth_failure_delay (2 s).
            ${logins.map(([name, user, password]) => `step auth-${name} ${doveadm} auth test -x service=imap ${s(user)} ${s(password)} &`).join("\n")}
            ${users.map((u) => `step user-${u} ${doveadm} user ${s(u)} &`).join("\n")}
            step sasl ${asPostfix} auth /var/spool/postfix/private/auth \\
                ${sasl("bob@example.net", PASSWORDS["bob@example.net"], true)} \\
                ${sasl("alice", PASSWORDS.alice, true)} \\
                ${sasl("alice@example.org", PASSWORDS.alice, true)} \\
                ${sasl("bob@example.net", PASSWORDS.alice, true)} \\
                ${sasl("bob@example.net", PASSWORDS["bob@example.net"], false)} \\
                ${sasl("root", PASSWORDS.alice, true)} \\
                ${sasl("svc", PASSWORDS.alice, true)} \\
                ${sasl("bob@example.net", APPS.laptop["bob@example.net"], true)} \\
                ${sasl("alice@example.org", APPS.phone.alice, true)} \\
                ${sasl("bob@example.net", REMOVED, true)} &
            step imap-cleartext in_root perl ${client} imap ${SERVER} 143 ${CLIENT} alice ${s(PASSWORDS.alice)} &
            step imap-starttls in_root sh -c ${s(`printf 'a LOGIN alice ${PASSWORDS.alice}\\r\\nb LOGOUT\\r\\n' | ` +
                `timeout 20 openssl s_client -connect ${SERVER}:143 -starttls imap -quiet 2>&1`)} &
            step imap-app in_root sh -c ${s(`printf 'a LOGIN bob@example.net ${APPS.phone["bob@example.net"]}\\r\\nb LOGOUT\\r\\n' | ` +
                `timeout 20 openssl s_client -connect ${SERVER}:143 -starttls imap -quiet 2>&1`)} &
            step sieve-app in_root sh -c ${s(`printf 'AUTHENTICATE "PLAIN" "${plain("bob@example.net", APPS.laptop["bob@example.net"])}"\\r\\nLOGOUT\\r\\n' | ` +
                `timeout 20 openssl s_client -connect ${SERVER}:4190 -starttls sieve -quiet 2>&1`)} &
            step imaps in_root sh -c ${s(`printf 'a LOGIN bob@example.net ${PASSWORDS["bob@example.net"]}\\r\\nb LOGOUT\\r\\n' | ` +
                `timeout 20 openssl s_client -connect ${SERVER}:993 -quiet 2>&1`)} &
            step lmtp ${asPostfix} lmtp /var/spool/postfix/private/dovecot-lmtp alice@example.org \\
                bob@example.net nobody@example.net alice@example.org
            step mailboxes in_root find /var/mail/vhosts /home/alice -type f -path '*/new/*' -printf '%U:%G %p\\n'
        `), 60_000);
    }, ROOTFS_TIMEOUT_MS);

    test("dovecot starts, and stops, without a warning or an error", () => {
        startedCleanly(sb, ran);
    });

    test.each<[string, string | null]>([
        ["bob", "bob@example.net"],
        ["carol", "carol@example.net"],
        ["dave", "dave@example.com"],
        // Addresses are case-insensitive: lower-cased before the passwd-file lookup.
        ["Bob-upper", "bob@example.net"],
        // The system user, by PAM, with the bare name and with the base domain (the same account: alice).
        ["alice", "alice"],
        ["alice-base", "alice"],
        ["alice-upper", "alice"],
        ["bob-wrong", null],
        ["alice-wrong", null],
        // A bare name only ever reaches PAM, an address in a virtual domain only the passwd-file.
        ["bob-bare", null],
        ["alice-virtual", null],
        ["carol-base", null],
        // root and a system account: refused by the PAM service before their (right) password is checked
        ["root", null],
        ["root-base", null],
        ["svc", null],
        ["vmail", null],
        ["bob-app-phone", "bob@example.net"],
        ["bob-app-laptop", "bob@example.net"],
        ["alice-app-phone", "alice"],
        ["alice-base-app-phone", "alice"],
        ["bob-app-removed", null],
        ["bob-app-of-alice", null],
        ["carol-app-of-bob", null],
        ["locky-app-phone", null],
    ])("doveadm auth test %s -> %s", (name, user) => {
        const r = step(`auth-${name}`);
        if (user === null) {
            expect({ status: r.status, failed: /auth failed/.test(r.stdout + r.stderr) }).toEqual({ status: 77, failed: true });
        } else {
            expect({ status: r.status, user: fields(r.stdout).user }).toEqual({ status: 0, user });
        }
    });

    test("doveadm user: virtual users live in /var/mail/vhosts/DOMAIN/USER as vmail, with their home a directory of it", () => {
        for (const [address, dir] of [["bob@example.net", "example.net/bob"], ["dave@example.com", "example.com/dave"]]) {
            const f = fields(step(`user-${address}`).stdout);
            const mail = version === "2.3" ? { mail: `maildir:/var/mail/vhosts/${dir}` } : { mail_path: `/var/mail/vhosts/${dir}` };
            expect(f).toMatchObject({ uid: String(VMAIL.uid), gid: String(VMAIL.gid), home: `/var/mail/vhosts/${dir}/${VHOME}`, ...mail });
        }
    });

    test("doveadm user: the system user (bare or @BASE) is alice, in her home, with the global ~/Maildir", () => {
        for (const login of ["alice", "alice@example.org"]) {
            const r = step(`user-${login}`);
            expect(r.status).toBe(0);
            const f = fields(r.stdout);
            expect(f).toMatchObject({ uid: String(ALICE.uid), gid: String(ALICE.gid), home: "/home/alice",
                ...(version === "2.3" ? { mail: "maildir:~/Maildir" } : { mail_path: "/home/alice/Maildir" }) });
        }
        expect(step("user-nobody@example.net").status).not.toBe(0);
    });

    test("doveadm user: a per-user quota reaches both kinds of user; the others keep the default", () => {
        const field = version === "2.3" ? "quota_rule" : "quota_storage_size";
        const size = (s: string): string => (version === "2.3" ? `*:storage=${s}` : s);
        const got = Object.fromEntries(["carol@example.net", "alice", "alice@example.org", "bob@example.net"]
            .map((u) => [u, fields(step(`user-${u}`).stdout)[field]]));
        expect(got).toEqual({
            "carol@example.net": size("1M"), alice: size("5M"), "alice@example.org": size("5M"), "bob@example.net": undefined,
        });
    });

    test("postfix's SASL socket (as the postfix user): the same routing", () => {
        const r = step("sasl");
        expect(r.stderr).toBe("");
        const answers = r.stdout.split("\n").filter((l) => /^S: (OK|FAIL|CONT)\t/.test(l)).map((l) => {
            const [verdict, id, ...rest] = l.slice(3).split("\t");
            const user = rest.find((x) => x.startsWith("user="))?.slice(5);
            return `${id} ${verdict} ${user ?? ""}`.trim();
        });
        expect(answers).toEqual([
            "1 OK bob@example.net",
            "2 OK alice",
            "3 OK alice",
            "4 FAIL bob@example.net",
            // Without "secured" (what postfix sends before STARTTLS) too: dovecot's auth server leaves cleartext to its
            // client, so postfix's smtpd_tls_auth_only=yes on submission is what refuses AUTH before STARTTLS.
            "5 OK bob@example.net",
            // root and a system account with a right password: refused on postfix's SASL path too
            "6 FAIL root",
            "7 FAIL svc",
            // app passwords on postfix's path (SMTP AUTH) too: the device goes along as a passdb field
            "8 OK bob@example.net",
            "9 OK alice",
            "10 FAIL bob@example.net",
        ]);
        expect(r.stdout).toMatch(/^S: OK\t8\t.*\tdevice=laptop(\t|$)/m);
        expect(r.stdout).toMatch(/^S: MECH\tPLAIN\t/m);
    });

    test("LMTP (as the postfix user): bob@example.net into the vmail Maildir, alice into ~/Maildir", () => {
        const r = step("lmtp");
        expect(r.stderr).toBe("");
        const rcpt = r.stdout.split("\n").filter((l, i, all) => i > 0 && all[i - 1].startsWith("C: RCPT")).map((l) => l.slice(3, 6));
        expect(rcpt).toEqual(["250", "550", "250"]);
        expect(r.stdout.split("\n").filter((l) => /^S: 250 2\.0\.0 <.*> .*Saved/.test(l))).toHaveLength(2);
        const files = step("mailboxes").stdout.trim().split("\n").map((l) => l.replace(/\/new\/.*$/, "/new/")).sort();
        expect(files).toEqual([
            `${ALICE.uid}:${ALICE.gid} /home/alice/Maildir/new/`,
            `${VMAIL.uid}:${VMAIL.gid} /var/mail/vhosts/example.net/bob/new/`,
        ]);
    });

    test("IMAP: no LOGIN before STARTTLS from another address; LOGIN after STARTTLS works", () => {
        const clear = step("imap-cleartext").stdout;
        expect(clear).toMatch(/^S: \* .*LOGINDISABLED/m);
        expect(clear).toMatch(/^S: b NO /m);
        expect(clear).not.toMatch(/^S: b OK/m);
        const tls = step("imap-starttls").stdout;
        expect(tls).toMatch(/^a OK .*Logged in/m);
    });

    test("an app password logs in over IMAP and ManageSieve, and the log names its device: the login line, and auth's for SMTP AUTH", () => {
        expect(step("imap-app").stdout).toMatch(/^a OK .*Logged in/m);
        expect(step("sieve-app").stdout).toMatch(/^OK "Logged in\."/m);
        const log = sb.read("log/dovecot.log").split("\n");
        expect(log.filter((l) => /managesieve-login: Info: (Login|Logged in): user=<bob@example\.net>.* device=laptop$/.test(l))).toHaveLength(1);
        // 2.3 says "Login:", 2.4 "Logged in:"
        expect(log.filter((l) => /imap-login: Info: (Login|Logged in): user=<bob@example\.net>.* device=phone$/.test(l))).toHaveLength(1);
        // a login with the account's own password names no device (2.3 leaves the element empty, 2.4 drops it)
        expect(log.filter((l) => /imap-login: Info: (Login|Logged in): user=<alice>/.test(l) && /device=[a-z]/.test(l))).toEqual([]);
        // auth's line of each successful app-password lookup (SMTP AUTH has no dovecot login line): the device's passdb
        const authLine = version === "2.3"
            ? (user: string, device: string) => new RegExp(`auth: Debug: app-${device}\\(${user},198\\.51\\.100\\.\\d+\\): Finished passdb lookup$`)
            : (user: string, device: string) => new RegExp(`auth\\(${user},198\\.51\\.100\\.\\d+,sasl:plain\\): Debug: app-${device}: Finished passdb lookup$`);
        expect(log.filter((l) => authLine("bob@example\\.net", "laptop").test(l))).toHaveLength(1);
        expect(log.filter((l) => authLine("alice", "phone").test(l))).toHaveLength(1);
        // and none for a failed one, nor for any other passdb
        expect(log.filter((l) => / Debug: /.test(l) && !/Debug: app-|: Debug: app-/.test(l))).toEqual([]);
    });

    test("imaps (993) listens and logs in", () => {
        const ports = listening(step("listening"));
        expect([ports.has(143), ports.has(993)]).toEqual([true, true]);
        expect(step("imaps").stdout).toMatch(/^a OK .*Logged in/m);
    });

    afterAll(() => sb?.close());
});

describe(`dovecot on ${SUITE} with imaps off`, () => {
    let sb: Sandbox;
    afterAll(() => sb?.close());

    test("listens on 143 only", () => {
        sb = Sandbox.open();
        const ran = sb.isolated(server(sb, false).script(""), 60_000);
        startedCleanly(sb, ran);
        const ports = listening(sb.step("listening"));
        expect([ports.has(143), ports.has(993)]).toEqual([true, false]);
    }, ROOTFS_TIMEOUT_MS);
});
