// The rspamd files, loaded by the suite's own rspamd: `rspamadm configtest` over Debian's /etc/rspamd with our
// local.d/override.d files and Lua rule in place, and `rspamadm configdump` for what the merge made of them.

import * as fs from "fs";
import * as path from "path";
import { blocklistSymbol, CONTROLLER_FILE, CONTROLLER_SALT_BYTES, CONTROLLER_SOCKET, controllerConf, controllerHash, eaiComposite, FORGED_SYMBOL,
    FROM_SYMBOL, keyPath, localSenderLua, mtaTagLua, ownershipLua, RAW_8BIT_SYMBOLS, rspamdFiles, RspamdInput, ruleName, SERVER_SENDER,
    SMTPUTF8_SYMBOL } from "../../components/render/rspamd";
import { MAPS, ORIGINATING, SENDMAIL } from "../../components/render/postfix";
import { port } from "../../components/listeners";
import { BLOCKLIST_SCORE } from "../../components/schema";
import { senderLogins } from "../../components/render/maps";
import { config, senderInput } from "./fixture";
import { problems, ROOTFS_TIMEOUT_MS, Result, Sandbox, SUITE } from "./debian";

function input(over: Partial<RspamdInput> = {}): RspamdInput {
    const c = config();
    return {
        hostname: c.hostname, baseDomain: c.baseDomain, domains: [c.baseDomain, ...c.virtualDomains], selector: c.dkim.selector,
        addHeaderScore: c.spam.addHeaderScore, rejectScore: c.spam.rejectScore, greylisting: c.spam.greylisting,
        blocklists: c.spam.blocklists, ...over,
    };
}

describe(`rspamd on ${SUITE}`, () => {
    let sb: Sandbox;
    beforeAll(() => {
        sb = Sandbox.open();
    }, ROOTFS_TIMEOUT_MS);
    afterAll(() => sb?.close());

    /** Debian's /etc/rspamd with FILES over it, bound over the root's own for the time of the script. */
    function load(files: Record<string, string>, commands: string): (name: string) => Result {
        fs.rmSync(path.join(sb.host, "etc-rspamd"), { recursive: true, force: true });
        fs.cpSync(path.join(sb.root, "etc/rspamd"), path.join(sb.host, "etc-rspamd"), { recursive: true });
        for (const [rel, text] of Object.entries(files)) {
            sb.write(path.join("etc-rspamd", rel), text);
        }
        const r = sb.isolated(`
mount --bind "$W/etc-rspamd" "$ROOT/etc/rspamd"
hide var/lib/rspamd
hide run
# configtest does not run the Lua rules: rspamd's own Lua parses the file
LUA_CHECK="local f, e = loadfile('/etc/rspamd/rspamd.local.lua'); if not f then print(e); os.exit(3) end; print('ok')"
${commands}
`);
        expect(r.stderr).toBe("");
        return (name) => sb.step(name);
    }

    const PASSWORD = "Abcdefghijklmnop0123456789qrstuv";
    const HASH = controllerHash(PASSWORD, Buffer.alloc(CONTROLLER_SALT_BYTES, 7));
    const all = (over: Partial<RspamdInput> = {}): Record<string, string> =>
        ({ ...rspamdFiles(input(over)), [CONTROLLER_FILE]: controllerConf(HASH) });

    /**
     * The default files (all()) as rspamd loads them: configtest, one dump of every section the tests of them read,
     * and the Lua check. Loaded once, by the first of those tests, and kept here (the next script replaces the
     * steps): each rspamadm run loads all of rspamd's configuration and Lua, about half a second of CPU. Kept only
     * once load() has found the script's stderr empty: a test after a failed load loads them again.
     */
    let defaults: Map<string, Result> | undefined;
    const loadDefaults = (): ((name: string) => Result) => {
        if (defaults === undefined) {
            const step = load(all(), `
step configtest in_root rspamadm configtest
step dump in_root rspamadm configdump actions dkim_signing worker greylist composites dmarc options
step lua in_root rspamadm lua -e "$LUA_CHECK"
`);
            defaults = new Map(["configtest", "dump", "lua"].map((n) => [n, step(n)]));
        }
        const steps = defaults;
        return (name) => {
            const r = steps.get(name);
            if (r === undefined) {
                throw new Error(`step ${name} is not one of the default files' steps`);
            }
            return r;
        };
    };

    test("configtest accepts the files; the dump has our sockets, actions, signing table and rule", () => {
        const step = loadDefaults();
        const test = step("configtest");
        expect({ status: test.status, problems: problems(test.stdout + test.stderr) })
            .toEqual({ status: 0, problems: [] });
        expect(test.stdout).toMatch(/syntax OK/);
        expect(step("dump").status).toBe(0);
        const dump = step("dump").stdout;
        const actions = section(dump, "actions");
        expect(actions).toMatch(/reject = 15/);
        expect(actions).toMatch(/add_header = 6/);
        // no greylist action (3.4 drops it from the dump, 3.12 shows it as null)
        expect(actions).not.toMatch(/greylist = (?!null)/);
        const dkim = section(dump, "dkim_signing");
        for (const d of ["example.org", "example.net", "example.com"]) {
            expect(dkim).toContain(keyPath({ domain: d, selector: "mailstack" }));
        }
        expect(dkim).toMatch(/allow_username_mismatch = true/);
        // signed: our users' mail and what the server itself sends (made "authenticated" by the From rule); never
        // mail by its address (a connection from 127.0.0.1 to port 25), nor inbound mail
        expect(dkim).toMatch(/sign_authenticated = true/);
        expect(dkim).toMatch(/sign_local = false/);
        expect(dkim).toMatch(/sign_inbound = false/);
        expect(dkim).toMatch(/use_esld = false/);
        // every worker on 127.0.0.1 only (Debian's "localhost" would be replaced, not added to); the controller also
        // on its unix socket, for rspamd's user only
        const binds = [...section(dump, "worker").matchAll(/bind_socket = "([^"]+)"/g)].map((m) => m[1]);
        expect(binds.length).toBeGreaterThan(0);
        expect(binds.filter((b) => !b.startsWith("127.0.0.1:")))
            .toEqual([`${CONTROLLER_SOCKET} mode=0600 owner=_rspamd`]);
        // the controller trusts no address (Debian trusts 127.0.0.1 and ::1) and has our password's hash (never the
        // password) for both levels
        const workers = section(dump, "worker");
        const controller = workers.slice(workers.indexOf("11334") - 2000, workers.indexOf("11334") + 2000);
        expect(controller).toContain(`password = "${HASH}"`);
        expect(controller).toContain(`enable_password = "${HASH}"`);
        expect(workers).not.toContain(PASSWORD);
        expect(workers).not.toMatch(/secure_ip = "(127\.0\.0\.1|::1)"/);
        expect(section(dump, "greylist")).toMatch(/enabled = false/);
        expect(step("lua")).toMatchObject({ status: 0, stdout: "ok\n" });
        // one composite per raw-8-bit rule, each only with the SMTPUTF8 symbol, weight removed
        const composites = section(dump, "composites");
        for (const symbol of RAW_8BIT_SYMBOLS) {
            const block = new RegExp(`${eaiComposite(symbol)} \\{([^}]*)\\}`).exec(composites)?.[1] ?? "";
            expect(block).toContain(`expression = "${SMTPUTF8_SYMBOL} & ${symbol}";`);
            expect(block).toContain(`policy = "remove_weight";`);
        }
    });

    test("each raw-8-bit rule the composites zero is a rule of this rspamd", () => {
        // A renamed rule would make its composite a silent no-op: every name must be in Debian's rules.
        const names = RAW_8BIT_SYMBOLS.map(ruleName);
        const step = load(rspamdFiles(input()), names.map((s) =>
            `step ${s} in_root grep -rlw --include='*.lua' --include='*.conf' --include='*.inc' ${s} /usr/share/rspamd /etc/rspamd`)
            .join("\n"));
        for (const symbol of names) {
            expect({ symbol, status: step(symbol).status }).toEqual({ symbol, status: 0 });
        }
    });

    test("the controller password is 16 to 64 letters and digits; the file takes only a hash", () => {
        const salt = Buffer.alloc(CONTROLLER_SALT_BYTES);
        expect(() => controllerHash("short1", salt)).toThrow(/16 to 64 letters and digits/);
        expect(() => controllerHash("a".repeat(65), salt)).toThrow(/16 to 64 letters and digits/);
        expect(() => controllerHash('a"; secure_ip = "0.0.0.0/0";', salt)).toThrow(/letters and digits/);
        expect(() => controllerHash(PASSWORD, Buffer.alloc(8))).toThrow(/salt must be 20 bytes/);
        expect(() => controllerConf(PASSWORD)).toThrow(/as controllerHash\(\) makes it/);
        expect(() => controllerConf(`${HASH}"; secure_ip = "0.0.0.0/0`)).toThrow(/as controllerHash\(\) makes it/);
    });

    test("the controller hash is rspamd's own: same password and salt, same $1$ string as rspamd's pbkdf", () => {
        // rspamd makes a hash with a salt of its choosing; ours, given that salt, must come out the same
        const r = sb.run(["rspamadm", "lua", "-e",
            `print(require("rspamd_cryptobox").pbkdf(${JSON.stringify(PASSWORD)}, "pbkdf2"))`]);
        expect(r.status).toBe(0);
        const theirs = r.stdout.trim();
        const [, id, salt] = theirs.split("$");
        expect(id).toBe("1");
        expect(controllerHash(PASSWORD, zbase32Decode(salt))).toBe(theirs);
        expect(controllerHash(PASSWORD.replace("A", "B"), zbase32Decode(salt))).not.toBe(theirs);
    });

    // Every case of a table in one `rspamadm lua` run (starting rspamadm costs more than a case): a line per case,
    // numbered, its error caught (pcall) and printed as its answer, so that each case still passes or fails alone.
    function batch(dir: string, prelude: string, cases: string[]): { status: number; answers: Map<number, string> } {
        sb.write(`${dir}/test.lua`, `${prelude}
local function case(i, f)
  local ok, v = pcall(f)
  print(i .. "\\t" .. (ok and tostring(v) or "error: " .. tostring(v)):gsub("\\n", " "))
end
${cases.map((c, i) => `case(${i}, function() ${c} end)`).join("\n")}
`);
        const r = sb.run(["rspamadm", "lua", "-e", `arg_path = "${sb.path(dir)}"; dofile(arg_path .. "/test.lua")`]);
        const answers = new Map(r.stdout.split("\n").filter((l) => l !== "")
            .map((l): [number, string] => [Number(l.slice(0, l.indexOf("\t"))), l.slice(l.indexOf("\t") + 1)]));
        return { status: r.status, answers };
    }
    const once = <T>(f: () => T): (() => T) => {
        let v: T | undefined;
        return () => (v ??= f());
    };

    // The From rule's ownership test, run by rspamd's own Lua over the table postfix gets (render/maps.ts), with
    // the answers postfix's postmap gives for smtpd_sender_login_maps (tests/render/postfix.test.ts).
    const OWNERSHIP: [string, string, boolean][] = [
        ["bob@example.net", "bob@example.net", true],
        ["bob@example.net", "Bob@Example.NET", true],
        ["bob@example.net", "bob+lists@example.net", true],
        ["bob@example.net", "info@example.net", true],
        ["bob@example.net", "carol@example.net", false],
        ["bob@example.net", "alice@example.org", false],
        ["bob@example.net", "bob@example.com", false],
        ["bob@example.net", "bob", false],
        ["alice", "alice@example.org", true],
        // as postfix: dovecot reduces the login alice@example.org to alice before postfix (and rspamd) see it
        ["alice@example.org", "alice@example.org", false],
        ["alice", "team@example.org", true],
        ["carol@example.net", "team@example.org", true],
        ["alice", "frank@example.org", false],
        ["alice", "bob@example.net", false],
        // an account the stack does not know (it was on the server before): the regexp fallback
        ["olduser", "olduser@example.org", true],
        ["alice", "olduser@example.org", false],
        ["olduser", "olduser+x@example.org", false],
    ];
    const ownership = once(() => {
        const c = config();
        sb.write("owners/logins", senderLogins(senderInput(c)));
        return batch("owners", `${ownershipLua(c.baseDomain)}
local f = io.open(arg_path .. "/logins"); local logins = f:read("*a"); f:close()`, OWNERSHIP.map(([login, address]) =>
            `return may_use(parse_owners(logins), ${JSON.stringify(login)}, ${JSON.stringify(address)})`));
    });
    test.each(OWNERSHIP)("From rule: login %s may use %s: %s", (login, address, allowed) => {
        const r = ownership();
        const i = OWNERSHIP.findIndex(([l, a]) => l === login && a === address);
        expect({ status: r.status, out: r.answers.get(i) }).toEqual({ status: 0, out: String(allowed) });
    });

    // What sendmail hands in (no login, postfix's SENDMAIL tag): an envelope sender of an account of the server binds
    // From: to that account, by the login rule above; any other is one only root and the mail system's own accounts may
    // use (local_login_sender_maps), whose mail is signed whatever its From:; the null sender and a sieve redirect
    // are never signed.
    const PASSWD = "root:x:0:0:root:/root:/bin/bash\npostfix:x:104:110::/var/spool/postfix:/usr/sbin/nologin\n" +
        "vmail:x:5000:5000::/var/mail/vhosts:/usr/sbin/nologin\npostsrsd:x:105:111::/var/lib/postsrsd:/usr/sbin/nologin\n" +
        "alice:x:5002:5002::/home/alice:/bin/bash\nfrank:x:5001:5001::/home/frank:/bin/bash\n" +
        "john.doe:x:5003:5003::/home/john.doe:/bin/bash\n";
    const SENDMAIL_CASES: [string, string, string[], string | null, string][] = [
        ["frank as himself", "frank@example.org", ["frank@example.org"], null, "sign"],
        ["frank as himself, any case", "Frank@Example.ORG", ["frank@EXAMPLE.org"], null, "sign"],
        ["frank by his bare name", "frank", ["frank@example.org"], null, "sign"],
        ["frank as boss@example.org", "frank@example.org", ["boss@example.org"], null, "refuse boss@example.org frank"],
        ["frank as bob@example.net", "frank@example.org", ["bob@example.net"], null, "refuse bob@example.net frank"],
        ["frank as himself and bob", "frank@example.org", ["frank@example.org", "bob@example.net"], null,
            "refuse bob@example.net frank"],
        ["frank as someone outside", "frank@example.org", ["boss@outside.test"], null, "refuse boss@outside.test frank"],
        ["alice as team@ (an alias she owns)", "alice@example.org", ["team@example.org"], null, "sign"],
        ["john.doe (a name with a dot, as sendmail allows) as himself", "john.doe", ["John.Doe@example.org"], null, "sign"],
        ["john.doe as frank", "john.doe@example.org", ["frank@example.org"], null, "refuse frank@example.org john.doe"],
        ["alice as frank", "alice@example.org", ["frank@example.org"], null, "refuse frank@example.org alice"],
        ["frank's sieve redirect of carl's mail", "frank@example.org", ["carl@outside.test"], "<frank@example.org>", "unsigned"],
        ["the null sender (anyone's), From: ours", "", ["boss@example.org"], null, "unsigned"],
        ["root", "root@example.org", ["root@example.org"], null, "sign"],
        ["root as anyone", "root", ["boss@example.org"], null, "sign"],
        ["postfix's own address", "postfix@example.org", ["bob@example.net"], null, "sign"],
        ["an address of no account (a virtual user's redirect, by vmail)", "bob@example.net", ["bob@example.net"], null, "sign"],
        ["an alias at the base domain (no account: vmail's redirect)", "team@example.org", ["team@example.org"], null, "sign"],
        ["SRS (postsrsd)", "SRS0=abcd=XY=outside.test=carl@example.org", ["carl@outside.test"], null, "sign"],
        ["a name of an account at another domain", "frank@example.net", ["frank@example.net"], null, "sign"],
    ];
    const sendmail = once(() => {
        const c = config();
        sb.write("local/logins", senderLogins(senderInput(c)));
        sb.write("local/passwd", PASSWD);
        return batch("local", `${ownershipLua(c.baseDomain)}
${localSenderLua()}
local function slurp(p) local f = io.open(arg_path .. p); local t = f:read("*a"); f:close(); return t end`,
        SENDMAIL_CASES.map(([, envelope, froms, redirected]) => `
local v, address, account = local_verdict(parse_owners(slurp("/logins")), slurp("/passwd"), ${JSON.stringify(envelope)},
  ${redirected === null ? "nil" : JSON.stringify(redirected)}, { ${froms.map((f) => JSON.stringify(f)).join(", ")} })
return table.concat({ v, address, account }, " ")`));
    });
    test.each(SENDMAIL_CASES)("sendmail: %s", (what, _envelope, _froms, _redirected, verdict) => {
        const r = sendmail();
        const i = SENDMAIL_CASES.findIndex(([w]) => w === what);
        expect({ status: r.status, out: r.answers.get(i) }).toEqual({ status: 0, out: verdict });
    });

    test("the From rule reads postfix's sender table and tags the server's own mail", () => {
        const lua = all()["rspamd.local.lua"];
        expect(lua).toContain(FROM_SYMBOL);
        expect(lua).toContain(`local LOGINS = "${MAPS.senderLogins}"`);
        expect(lua).toContain(`elseif not mta_tagged(task, "${ORIGINATING}") then`);
        expect(lua).toContain(`task:set_user("${SERVER_SENDER}")`);
        expect(lua).toMatch(/set_pre_result\("reject", "From: <" \.\. address/);
        // sendmail's mail (SENDMAIL): its envelope decides, and only a "sign" verdict makes it the server's own
        expect(lua).toContain(`if mta_tagged(task, "${SENDMAIL}") then`);
        expect(lua).toContain('task:get_header("X-Sieve-Redirected-From")');
        expect(lua).toContain(`if verdict == "sign" then task:set_user("${SERVER_SENDER}") end`);
        expect(lua).toContain('local ANY_SENDER = { ["root"] = true, ["postfix"] = true, ["vmail"] = true, ["postsrsd"] = true }');
    });

    // postfix's {daemon_name}, as rspamd 3.4 (MTA-Name) and later versions (MTA-Tag, MTA-Name then the host) pass it
    test.each<[string, Record<string, string>, string]>([
        ["rspamd 3.4", { "MTA-Name": ORIGINATING }, "true false"],
        ["later rspamd", { "MTA-Name": "mail.example.org", "MTA-Tag": SENDMAIL }, "false true"],
        ["untagged (port 25)", { "MTA-Name": "mail.example.org" }, "false false"],
        ["no header", {}, "false false"],
    ])("mta_tagged: %s", (_, headers, out) => {
        const table = Object.entries(headers).map(([h, v]) => `[${JSON.stringify(h)}] = ${JSON.stringify(v)}`).join(", ");
        const task = `{ get_request_header = function(_, h) return ({ ${table} })[h] end }`;
        const r = sb.run(["rspamadm", "lua", "-e", `${mtaTagLua()}
local task = ${task}
print(tostring(mta_tagged(task, "${ORIGINATING}")) .. " " .. tostring(mta_tagged(task, "${SENDMAIL}")))`]);
        expect({ status: r.status, out: r.stdout.trim() }).toEqual({ status: 0, out });
    });

    test("the forged-From and From rules share one reading of the tag", () => {
        const lua = all()["rspamd.local.lua"];
        expect(lua.match(/get_request_header/g)).toHaveLength(1);
        expect(lua).toContain(`if mta_tagged(task, "${ORIGINATING}") or mta_tagged(task, "${SENDMAIL}") then return false end`);
    });

    test("DMARC reports: reporting on, sent from the base domain's postmaster to where mailstack-dmarc-report listens; " +
        "DNS through the server's own resolver", () => {
        const step = loadDefaults();
        expect(step("configtest").status).toBe(0);
        const dump = step("dump").stdout;
        const dmarc = section(dump, "dmarc");
        expect(dmarc).toMatch(/enabled = true;/);
        expect(dmarc).toMatch(/email = "postmaster@example\.org";/);
        expect(dmarc).toMatch(/domain = "example\.org";/);
        expect(dmarc).toMatch(/helo = "mail\.example\.org";/);
        expect(dmarc).toMatch(/smtp = "127\.0\.0\.1";/);
        expect(dmarc).toMatch(new RegExp(`smtp_port = ${port("dmarc-report")};`));
        // what rspamadm dmarc_report itself reads of it: the same table, on this suite's rspamd
        const options = section(dump, "options");
        expect(options).toMatch(/nameserver = "127\.0\.0\.1";|nameserver \[\s*"127\.0\.0\.1",?\s*\]/);
    });

    test("spam.blocklists: each zone a rule of rspamd's rbl module for the connecting address, with its score; none without", () => {
        expect(Object.keys(all()).filter((f) => f.includes("rbl"))).toEqual([]);
        const zones = ["bl.mailstack.test", "dnsbl.example.net"];
        const step = load(all({ blocklists: zones }), `
step configtest in_root rspamadm configtest
step dump in_root rspamadm configdump rbl group
`);
        expect(step("configtest").status).toBe(0);
        const rbl = section(step("dump").stdout, "rbl");
        for (const z of zones) {
            const rule = new RegExp(`${blocklistSymbol(z).toLowerCase()} \\{[^}]*\\}`).exec(rbl)?.[0] ?? "";
            expect(rule).toContain(`rbl = "${z}";`);
            expect(rule).toContain(`symbol = "${blocklistSymbol(z)}";`);
            expect(rule).toMatch(/checks \[\s*"from",?\s*\]/);
        }
        // rspamd's own lists stay
        expect(rbl).toContain("zen.spamhaus.org");
        const group = section(step("dump").stdout, "group");
        for (const z of zones) {
            expect(group).toMatch(new RegExp(`${blocklistSymbol(z)} \\{[^}]*weight = ${BLOCKLIST_SCORE}(\\.0)?;`));
        }
    });

    test("the checks can fail: a Lua syntax error, a UCL syntax error", () => {
        const files = rspamdFiles(input());
        const step = load({
            ...files,
            "rspamd.local.lua": files["rspamd.local.lua"].replace("end,", "ed,"),
            "local.d/actions.conf": files["local.d/actions.conf"].replace("reject = 15;", "reject = {15;"),
        }, `step lua in_root rspamadm lua -e "$LUA_CHECK"
step configtest in_root rspamadm configtest`);
        expect(step("lua").status).not.toBe(0);
        expect(step("configtest").status).not.toBe(0);
    });

    test("greylisting on: the module is enabled and the action comes below add_header", () => {
        const files = rspamdFiles(input({ greylisting: true, addHeaderScore: 7, rejectScore: 20 }));
        expect(files["local.d/actions.conf"]).toMatch(/^greylist = 4;$/m);
        expect(files["local.d/actions.conf"]).toMatch(/^reject = 20;$/m);
        expect(files["local.d/greylist.conf"]).toMatch(/^enabled = true;$/m);
    });

    test("the forged-From rule names every domain of ours, and only those", () => {
        const lua = rspamdFiles(input())["rspamd.local.lua"];
        expect(lua).toContain(FORGED_SYMBOL);
        const own = /^local own = .*$/m.exec(lua)?.[0] ?? "";
        expect([...own.matchAll(/\["([^"]+)"\] = true/g)].map((m) => m[1]).sort())
            .toEqual(["example.com", "example.net", "example.org"]);
    });
});

/** One section of `rspamadm configdump A B ...`, as `rspamadm configdump A` alone prints it: each of its blocks
 * between the markers rspamadm puts around it (a section such as worker has several). */
function section(dump: string, name: string): string {
    const block = /^\*\*\* Section (\S+) \*\*\*\n[\s\S]*?^\*\*\* End of section \1 \*\*\*\n/gm;
    return [...dump.matchAll(block)].filter((m) => m[1] === name).map((m) => m[0]).join("");
}

/** rspamd's zbase32 (low bits of each byte first), read back: the salt of a hash rspamd made. */
function zbase32Decode(text: string): Uint8Array {
    const alphabet = "ybndrfg8ejkmcpqxot1uwisza345h769";
    const out: number[] = [];
    let acc = 0;
    let bits = 0;
    for (const c of text) {
        acc |= alphabet.indexOf(c) << bits;
        bits += 5;
        if (bits >= 8) {
            out.push(acc & 255);
            acc >>>= 8;
            bits -= 8;
        }
    }
    return Uint8Array.from(out);
}
