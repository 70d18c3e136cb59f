// Security of the running server, from the client namespace (192.0.2.1, outside mynetworks, not the server's
// own address): no open relay, no password before STARTTLS, no TLS below 1.2, senders only as addresses the login
// owns, private files private, and no generated password anywhere outside the encrypted state.
// Tests run in file order; this file relies on no other.

import { spawnSync } from "child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, copyFileSync } from "fs";
import * as path from "path";
import { gunzipSync, constants as zlib } from "zlib";
import { CLIENT_NETNS, ClientResult, mail, onServer, output, pulumi, ROOT, testbed } from "./testbed";

jest.setTimeout(300_000);

const t = testbed();
const host = t.serverAddress;
const alice = t.systemUser;
const virtual = output<Record<string, string>>("virtualUserPasswords");
const bob = { name: "bob@example.net", password: virtual["bob@example.net"] };
const run = `${Date.now()}`;
const FOREIGN = "victim@foreign.example"; // .example: never resolves, and the test server has no way out anyway

interface SendResult extends ClientResult {
    stage?: string;
    queued?: string;
}
const send = (...args: string[]): SendResult => mail("send", ...args);

describe("no open relay: mail for a foreign domain is refused unless the client authenticated", () => {
    // [what, verb, port, from, to, login?, code, text]
    const refused: [string, string, string, string, string, string[], number, RegExp][] = [
        ["port 25, no AUTH", "send", "25", "someone@client.example", FOREIGN, [], 554, /^5\.7\.1 .*Relay access denied/],
        ["port 25, no AUTH, no STARTTLS", "sendplain", "25", "someone@client.example", FOREIGN, [], 554,
            /^5\.7\.1 .*Relay access denied/],
        // Refused earlier still: nobody outside may use our domains as sender (hardening.test.ts has the matrix).
        ["port 25, MAIL FROM a virtual domain's user", "send", "25", "bob@example.net", FOREIGN, [], 554,
            /^5\.7\.1 .*Sender address rejected/],
        ["port 25, MAIL FROM a base domain's user", "send", "25", "alice@example.org", FOREIGN, [], 554,
            /^5\.7\.1 .*Sender address rejected/],
        ["port 25, percent hack through a local domain", "send", "25", "someone@client.example",
            "victim%foreign.example@example.org", [], 554, /^5\.7\.1 .*Relay access denied/],
        ["port 25, bang path through a local domain", "send", "25", "someone@client.example",
            "foreign.example!victim@example.org", [], 554, /^5\.7\.1 .*Relay access denied/],
        ["port 25, quoted address through a virtual domain", "send", "25", "someone@client.example",
            '"victim@foreign.example"@example.net', [], 554, /^5\.7\.1 .*Relay access denied/],
        ["port 587 after STARTTLS, no AUTH", "send", "587", "bob@example.net", FOREIGN, [], 554,
            /^5\.7\.1 .*Client host rejected: Access denied/],
        ["port 587 without STARTTLS, no AUTH", "sendplain", "587", "bob@example.net", FOREIGN, [], 530,
            /^5\.7\.0 Must issue a STARTTLS command first/],
        ["port 587, virtual user with a wrong password", "send", "587", "bob@example.net", FOREIGN,
            ["bob@example.net", "not-the-password"], 535, /^5\.7\.8 .*authentication failed/],
        ["port 587, system user with a wrong password", "send", "587", "alice@example.org", FOREIGN,
            ["alice", "not-the-password"], 535, /^5\.7\.8 .*authentication failed/],
    ];
    // First: dovecot slows every login from an address after failed ones (auth penalty), as the cases below cause.
    test("control: an authenticated user's mail for a foreign domain is queued (then deleted)", () => {
        const r = send(host, "587", bob.name, FOREIGN, `relay control ${run}`, bob.name, bob.password);
        try {
            expect(r).toMatchObject({ ok: true, code: 250 });
            expect(r.queued).toMatch(/^[0-9A-F]+$/);
            // It is in the queue (deferred: nothing leaves the test network), addressed to the foreign domain.
            const queue = onServer(`postqueue -j | grep '"queue_id": "${r.queued}"' || true`);
            expect(queue).toContain(FOREIGN);
        } finally {
            if (r.queued) {
                onServer(`postsuper -d ${r.queued} 2>&1`);
            }
        }
        expect(onServer("postqueue -j")).not.toContain("foreign.example");
    });

    test.each(refused)("%s: refused", (_what, verb, port, from, to, login, code, text) => {
        const r = mail(verb, host, port, from, to, `relay attempt ${run}`, ...login) as SendResult;
        expect(r).toMatchObject({ ok: false, code });
        expect(r.error).toMatch(text);
    });
});

describe("no password before STARTTLS (from 192.0.2.1: dovecot would trust the server's own address)", () => {
    test("IMAP 143: LOGINDISABLED, LOGIN and AUTHENTICATE PLAIN refused; the same login works after STARTTLS", () => {
        const r = mail("plaintext", host, "imap", bob.name, bob.password) as unknown as Record<string, string>;
        expect(r.capabilities).toMatch(/\bLOGINDISABLED\b/);
        expect(r.login).toMatch(/^a2 NO \[PRIVACYREQUIRED\]/);
        expect(r.authenticate).toMatch(/^a3 NO \[PRIVACYREQUIRED\]/);
        expect(r.after).toMatch(/^a5 OK /); // control: the credentials are right
    });

    test("submission 587: AUTH not offered and refused with 530; the same AUTH works after STARTTLS", () => {
        const r = mail("plaintext", host, "smtp", bob.name, bob.password) as unknown as Record<string, string | boolean>;
        expect(r.advertised).toBe(false);
        expect(r.plain).toMatch(/^530 5\.7\.0 Must issue a STARTTLS command first/);
        expect(r.login).toMatch(/^530 5\.7\.0 Must issue a STARTTLS command first/);
        expect(r.advertisedAfter).toBe(true);
        expect(r.after).toMatch(/^235 /); // control
    });
});

describe("TLS versions on the STARTTLS ports", () => {
    interface TlsResult extends ClientResult {
        command?: string;
        cipher?: string;
    }
    const ports: [string, string][] = [["143", "imap"], ["587", "smtp"]];
    // The client offers only the old version, at OpenSSL SECLEVEL 0; the control shows that exactly this command
    // completes a handshake when the server allows it, so the refusal below is the server's.
    test.each(["tls1", "tls1_1"])("%s: the client command works against an openssl s_server that allows it", (v) => {
        for (const [, proto] of ports) {
            const c = mail("tlscontrol", proto, v) as TlsResult;
            expect(c).toMatchObject({ ok: true, version: v === "tls1" ? "TLSv1" : "TLSv1.1" });
        }
    });
    test.each(ports.flatMap(([port, proto]) => ["tls1", "tls1_1"].map((v) => [port, proto, v])))(
        "%s (%s): %s refused by the server", (port, proto, v) => {
            const r = mail("tls", host, port, proto, v) as TlsResult;
            expect(r.command).toContain(`-${v} -cipher DEFAULT:@SECLEVEL=0`);
            expect(r).toMatchObject({ ok: false, cipher: "(NONE)" });
        });
    test.each(ports.flatMap(([port, proto]) => [["tls1_2", "TLSv1.2"], ["tls1_3", "TLSv1.3"]]
        .map(([v, name]) => [port, proto, v, name])))("%s (%s): %s accepted", (port, proto, v, name) => {
        expect(mail("tls", host, port, proto, v)).toMatchObject({ ok: true, version: name });
    });
});

describe("submission: a login sends only as the addresses it owns", () => {
    const refused: [string, string, string][] = [
        [bob.name, "dave@example.com", "another virtual user"],
        [bob.name, "alice@example.org", "a system user"],
        [bob.name, "sales@example.com", "an alias that does not deliver to him"],
        [bob.name, "nobody@example.net", "an address of his domain that nobody owns"],
        [bob.name, "ceo@foreign.example", "a foreign address"],
        ["alice", "bob@example.net", "a virtual user"],
        ["alice", "frank@example.org", "another system user"],
    ];
    test.each(refused)("%s cannot send as %s (%s): 553", (login, from) => {
        const r = send(host, "587", from, "erin@example.com", `spoof ${from} ${run}`, login, login === "alice" ?
            alice.password : bob.password);
        expect(r).toMatchObject({ ok: false, code: 553, stage: "rcpt" });
        expect(r.error).toMatch(new RegExp(`^5\\.7\\.1 <${from.replace(/\./g, "\\.")}>: Sender address rejected: ` +
            `not owned by user ${login.replace(/\./g, "\\.")}`));
    });

    const allowed: [string, string, string][] = [
        [bob.name, bob.name, "himself"],
        [bob.name, "info@example.net", "an alias that delivers to him"],
        ["alice", "alice@example.org", "herself (bare login)"],
        [alice.address, "alice@example.org", "herself (full-address login)"],
        ["alice", "postmaster@example.com", "an alias that delivers to her"],
    ];
    // (passwords stay out of the test names)
    test.each(allowed)("%s can send as %s (%s), and it is delivered", (login, from) => {
        const subject = `sender ${login} as ${from} ${run}`;
        const password = login === bob.name ? bob.password : alice.password;
        expect(send(host, "587", from, "erin@example.com", subject, login, password)).toMatchObject({ ok: true });
        expect(mail("wait", host, "erin@example.com", virtual["erin@example.com"], subject)).toMatchObject({ ok: true });
    });
});

describe("file modes on the server", () => {
    const stat = (glob: string): string[] =>
        onServer(`for f in ${glob}; do [ -e "$f" ] && stat -c '%a %U:%G %n' "$f"; done; true`).trim().split("\n")
            .filter((l) => l !== "");

    test("/etc/dovecot/users (password hashes) is 0640 root:dovecot", () => {
        expect(stat("/etc/dovecot/users")).toEqual(["640 root:dovecot /etc/dovecot/users"]);
    });

    test("certificate private keys are 0600 root:root, in directories only root can enter", () => {
        const keys = stat("/etc/letsencrypt/archive/*/privkey*.pem /etc/letsencrypt/keys/*.pem");
        expect(keys.length).toBeGreaterThan(0);
        for (const k of keys) {
            expect(k).toMatch(/^600 root:root /);
        }
        // live/NAME/privkey.pem is a symlink into archive/: check what it points at
        expect(onServer("stat -L -c '%a %U:%G' /etc/letsencrypt/live/mailstack/privkey.pem")).toBe("600 root:root\n");
        // keys/ holds the CSR keys; certbot 4 (Debian 13) no longer keeps it
        const dirs = stat("/etc/letsencrypt/archive /etc/letsencrypt/live /etc/letsencrypt/keys");
        expect(dirs.length).toBeGreaterThanOrEqual(2);
        expect(dirs.map((l) => l.split(" ")[0])).toEqual(dirs.map(() => "700"));
    });

    test("the ACME account key is readable by root only", () => {
        const keys = onServer("find /etc/letsencrypt/accounts -name private_key.json -exec stat -c '%a %U:%G %n' {} +")
            .trim().split("\n");
        expect(keys.length).toBeGreaterThan(0);
        for (const k of keys) {
            expect(k).toMatch(/^[0-7]00 root:root /);
        }
    });
});

describe("generated passwords never appear in plain text", () => {
    // One `up` that makes new secrets (a virtual and a system user, so a password also travels to a remote command
    // on stdin), run with its own TMPDIR; a sampler on the server records every command line meanwhile.
    const config = path.join(ROOT, ".local", "Pulumi.local.secrets.yaml");
    const sampling = "/run/mailstack-e2e-sampling";
    const cmdlines = "/root/mailstack-e2e-cmdlines.txt";
    let tmp = ""; // the up's TMPDIR
    const pulumiHome = spawnSync("bash", ["-c", ". scripts/lib.sh && echo \"$PULUMI_HOME\""], { cwd: ROOT, encoding: "utf8" })
        .stdout.trim();
    let started = 0;
    let up = { status: -1, stdout: "", stderr: "" };
    let seen: string[] = [];
    let passwords: string[] = [];

    beforeAll(() => {
        tmp = mkdtempSync(path.join(ROOT, ".local", "tmp-secrets-"));
        copyFileSync(path.join(ROOT, "Pulumi.local.yaml"), config);
        expect(pulumi("config", "set", "--path", "mailstack:virtualUsers[4]", "hugo@example.com", "--config-file", config)
            .status).toBe(0);
        expect(pulumi("config", "set", "--path", "mailstack:systemUsers[1]", "gina", "--config-file", config).status)
            .toBe(0);
        // perl (certbot's Debian dependencies bring it): one process reading /proc every 2 ms until the flag goes
        onServer(`rm -f ${cmdlines}; touch ${sampling}
            nohup perl -e 'my %seen; while (-e $ARGV[0]) {
                for my $f (glob "/proc/[0-9]*/cmdline") { open(my $h, "<", $f) or next; local $/; my $c = <$h>;
                    next unless defined $c && length $c; $c =~ tr/\\0/ /; $seen{$c} = 1 }
                select(undef, undef, undef, 0.002) }
                open(my $o, ">", "$ARGV[1].new") or die; print $o "$_\\n" for sort keys %seen; close $o;
                rename("$ARGV[1].new", $ARGV[1])' ${sampling} ${cmdlines} >/dev/null 2>&1 </dev/null &`);
        started = Date.now() - 1000; // mtime granularity
        const r = spawnSync("ip", ["netns", "exec", CLIENT_NETNS, "env", `TMPDIR=${tmp}`, "bash", "scripts/run",
            "pulumi", "up", "--yes", "--skip-preview", "--config-file", config, "--stack", "local", "--non-interactive"],
        { cwd: ROOT, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
        up = { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
        seen = onServer(`rm -f ${sampling}; i=0; while [ ! -e ${cmdlines} ] && [ $i -lt 100 ]; do sleep 0.1; ` +
            `i=$((i + 1)); done; cat ${cmdlines}; rm -f ${cmdlines}`).split("\n");
        const v = output<Record<string, string>>("virtualUserPasswords");
        const s = output<Record<string, string>>("systemUserPasswords");
        passwords = [...Object.values(v), ...Object.values(s)];
    });

    afterAll(() => {
        onServer(`rm -f ${sampling}`);
        if (tmp !== "") {
            rmSync(tmp, { recursive: true, force: true });
        }
        rmSync(config, { force: true });
        // back to the committed config (hugo's and gina's stack resources go; gina's account stays on the server)
        expect(pulumi("up", "--yes", "--skip-preview").status).toBe(0);
    });

    const leaked = (text: string): string[] => passwords.filter((p) => text.includes(p));

    test("the up made the new users' passwords", () => {
        expect(up.status).toBe(0);
        expect(passwords.length).toBe(Object.keys(virtual).length + 1 + 2); // + hugo; frank and gina
        for (const p of passwords) {
            expect(p).toMatch(/^[A-Za-z0-9]{24}$/);
        }
    });

    test("not in the up's output", () => {
        expect(up.stdout).toContain("mail-users-gina");
        expect(leaked(up.stdout + up.stderr)).toEqual([]);
    });

    test("not in Pulumi's log files (PULUMI_HOME/logs)", () => {
        const dir = path.join(pulumiHome, "logs");
        const files = readdirSync(dir).map((f) => path.join(dir, f)).filter((f) => statSync(f).mtimeMs >= started);
        expect(files.length).toBeGreaterThan(0); // the up wrote its log there
        for (const f of files) {
            const raw = readFileSync(f);
            expect({ file: f, leaked: leaked(raw.toString("latin1")) }).toEqual({ file: f, leaked: [] });
            if (raw[0] === 0x1f && raw[1] === 0x8b) { // gzip (possibly still being written)
                const text = gunzipSync(raw, { finishFlush: zlib.Z_SYNC_FLUSH }).toString("utf8");
                expect({ file: f, leaked: leaked(text) }).toEqual({ file: f, leaked: [] });
            }
        }
    });

    test("not in temporary files: the up's own TMPDIR, and anything new in /tmp", () => {
        const files: string[] = [];
        const walk = (dir: string, onlyNew: boolean): void => {
            let entries: string[];
            try {
                entries = readdirSync(dir);
            } catch {
                return; // gone meanwhile, or not ours to read
            }
            for (const e of entries) {
                const f = path.join(dir, e);
                try {
                    const st = statSync(f);
                    if (st.isDirectory()) {
                        walk(f, onlyNew);
                    } else if (st.isFile() && (!onlyNew || st.mtimeMs >= started) && st.size < 64 * 1024 * 1024) {
                        files.push(f);
                    }
                } catch {
                    // removed while we looked
                }
            }
        };
        walk(tmp, false);
        walk("/tmp", true);
        const hits = files.filter((f) => {
            try {
                return leaked(readFileSync(f).toString("latin1")).length > 0;
            } catch {
                return false;
            }
        });
        expect(hits).toEqual([]);
    });

    test("not in the state (pulumi stack export), where they are encrypted", () => {
        const r = pulumi("stack", "export");
        expect(r.status).toBe(0);
        expect(leaked(r.stdout)).toEqual([]);
        const state = JSON.parse(r.stdout) as { deployment: { resources: { urn: string; outputs?: Record<string, unknown> }[] } };
        const gina = state.deployment.resources.find((x) => x.urn.endsWith("RandomPassword::mail-users-gina"));
        expect(gina?.outputs?.result).toHaveProperty("ciphertext"); // there, but as ciphertext
    });

    test("not in any remote command line in the state", () => {
        const state = JSON.parse(pulumi("stack", "export").stdout) as {
            deployment: { resources: { type: string; inputs?: Record<string, unknown> }[] };
        };
        const lines = state.deployment.resources.filter((x) => x.type.startsWith("command:"))
            .flatMap((x) => ["create", "update", "delete"].map((k) => x.inputs?.[k]))
            .filter((c) => c !== undefined).map((c) => JSON.stringify(c));
        expect(lines.some((l) => /mailstack-ctl --sha256 [0-9a-f]{16} system-user gina /.test(l))).toBe(true);
        expect(leaked(lines.join("\n"))).toEqual([]);
    });

    test("not on any command line of the server's processes during the up", () => {
        // control: the sampler saw the step that sent gina's password (on its stdin)
        expect(seen.some((l) => /mailstack-ctl --sha256 [0-9a-f]{16} system-user gina /.test(l))).toBe(true);
        expect(seen.length).toBeGreaterThan(20);
        expect(leaked(seen.join("\n"))).toEqual([]);
    });
});

afterAll(() => {
    // nothing of this file may linger in the queue
    expect(onServer("postqueue -j")).not.toContain("foreign.example");
    expect(existsSync(path.join(ROOT, ".local", "Pulumi.local.secrets.yaml"))).toBe(false);
});
