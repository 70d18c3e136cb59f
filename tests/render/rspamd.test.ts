// The rspamd files, loaded by the suite's own rspamd: `rspamadm configtest` over Debian's /etc/rspamd with our
// local.d/override.d files and Lua rule in place, and `rspamadm configdump` for what the merge made of them.

import * as fs from "fs";
import * as path from "path";
import {
    CONTROLLER_SOCKET, eaiComposite, FORGED_SYMBOL, keyPath, RAW_8BIT_SYMBOLS, rspamdFiles, RspamdInput, ruleName, SMTPUTF8_SYMBOL,
} from "../../components/render/rspamd";
import { config } from "./fixture";
import { problems, ROOTFS_TIMEOUT_MS, Result, Sandbox, SUITE } from "./debian";

function input(over: Partial<RspamdInput> = {}): RspamdInput {
    const c = config();
    return {
        domains: [c.baseDomain, ...c.virtualDomains], selector: c.dkim.selector,
        addHeaderScore: c.spam.addHeaderScore, rejectScore: c.spam.rejectScore, greylisting: c.spam.greylisting, ...over,
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

    test("configtest accepts the files; the dump has our sockets, actions, signing table and rule", () => {
        const step = load(rspamdFiles(input()), `
step configtest in_root rspamadm configtest
step actions in_root rspamadm configdump actions
step dkim in_root rspamadm configdump dkim_signing
step workers in_root rspamadm configdump worker
step greylist in_root rspamadm configdump greylist
step composites in_root rspamadm configdump composites
step lua in_root rspamadm lua -e "$LUA_CHECK"
`);
        const test = step("configtest");
        expect({ status: test.status, problems: problems(test.stdout + test.stderr) })
            .toEqual({ status: 0, problems: [] });
        expect(test.stdout).toMatch(/syntax OK/);
        const actions = step("actions").stdout;
        expect(actions).toMatch(/reject = 15/);
        expect(actions).toMatch(/add_header = 6/);
        // no greylist action (3.4 drops it from the dump, 3.12 shows it as null)
        expect(actions).not.toMatch(/greylist = (?!null)/);
        const dkim = step("dkim").stdout;
        for (const d of ["example.org", "example.net", "example.com"]) {
            expect(dkim).toContain(keyPath({ domain: d, selector: "mailstack" }));
        }
        expect(dkim).toMatch(/allow_username_mismatch = true/);
        expect(dkim).toMatch(/use_esld = false/);
        // every worker on 127.0.0.1 only (Debian's "localhost" would be replaced, not added to); the controller also
        // on its unix socket, for rspamd's user only
        const binds = [...step("workers").stdout.matchAll(/bind_socket = "([^"]+)"/g)].map((m) => m[1]);
        expect(binds.length).toBeGreaterThan(0);
        expect(binds.filter((b) => !b.startsWith("127.0.0.1:")))
            .toEqual([`${CONTROLLER_SOCKET} mode=0600 owner=_rspamd`]);
        expect(step("greylist").stdout).toMatch(/enabled = false/);
        expect(step("lua")).toMatchObject({ status: 0, stdout: "ok\n" });
        // one composite per raw-8-bit rule, each only with the SMTPUTF8 symbol, weight removed
        const composites = step("composites").stdout;
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
        expect([...lua.matchAll(/\["([^"]+)"\] = true/g)].map((m) => m[1]).sort())
            .toEqual(["example.com", "example.net", "example.org"]);
    });
});
