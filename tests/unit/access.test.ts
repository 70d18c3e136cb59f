// Which PAM accounts are mail accounts: the PAM gate and the recipient table, from a server's account list.

import { effectiveAliases, parseConfig } from "../../components/config";
import { appPasswordsAllowed, nonMailRecipients, pamService, parseAccounts } from "../../components/render/access";

const valid = {
    hostname: "mail.example.org",
    baseDomain: "example.org",
    virtualDomains: ["example.net"],
    virtualUsers: ["bob@example.net"],
    systemUsers: ["frank"],
    host: { kind: "existing", address: "192.0.2.10" },
    certificate: { email: "admin@example.org", acme: "staging" },
    adminEmail: "alice@example.org",
};

const SCAN = `UID_MIN 1000
UID_MAX 60000
root:0
daemon:1
sshd:105
nobody:65534
alice:1001
frank:1002
vmail:5000
svc:998
`;

describe("accounts scan", () => {
    test("reads the UID range and every account", () => {
        const a = parseAccounts(SCAN);
        expect([a.uidMin, a.uidMax]).toEqual([1000, 60000]);
        expect(a.users.get("nobody")).toBe(65534);
        expect(a.users.size).toBe(8);
    });

    test("falls back to Debian's range when login.defs has none", () => {
        const a = parseAccounts("alice:1001\n");
        expect([a.uidMin, a.uidMax]).toEqual([1000, 60000]);
    });
});

describe("PAM gate", () => {
    const a = parseAccounts(SCAN.replace("UID_MIN 1000", "UID_MIN 2000"));
    test("all-humans: the server's UID range, vmail excluded, before the password is checked", () => {
        const text = pamService(a, { scope: "all-humans", listed: ["frank"] });
        const lines = text.split("\n").filter((l) => l !== "" && !l.startsWith("#"));
        expect(lines).toEqual([
            "auth      requisite  pam_listfile.so item=user sense=deny file=/etc/mailstack/locked-users onerr=succeed",
            "auth      requisite  pam_succeed_if.so quiet uid >= 2000 uid <= 60000 user notin vmail",
            "@include common-auth", "@include common-account", "@include common-session",
        ]);
    });

    test("listed: only the listed names, and still only in the UID range", () => {
        expect(pamService(a, { scope: "listed", listed: ["gina", "frank"] })).toContain(
            "auth      requisite  pam_succeed_if.so quiet uid >= 2000 uid <= 60000 user notin vmail user in frank:gina\n");
    });

    test("listed with nobody listed: nobody logs in through PAM", () => {
        expect(pamService(a, { scope: "listed", listed: [] })).toContain("auth      requisite  pam_deny.so\n");
    });
});

describe("non-mail recipients", () => {
    const c = parseConfig(valid);
    const aliased = Object.keys(effectiveAliases(c)).filter((x) => x.endsWith("@example.org")).map((x) => x.split("@")[0]);
    const input = { hostname: c.hostname, baseDomain: c.baseDomain, aliased, listed: c.systemUsers };
    const keys = (text: string): string[] => text.trim().split("\n").map((l) => l.split(" ")[0]);

    test("all-humans: system accounts, nobody and vmail at every local domain; humans and aliases stay", () => {
        const text = nonMailRecipients(parseAccounts(SCAN), { ...input, scope: "all-humans" });
        const k = keys(text);
        for (const name of ["daemon", "sshd", "nobody", "vmail", "svc", "postfix", "dovecot"]) {
            expect(k).toEqual(expect.arrayContaining([`${name}@example.org`, `${name}@mail.example.org`]));
        }
        for (const name of ["alice", "frank"]) {
            expect(k.filter((x) => x.startsWith(`${name}@`))).toEqual([]);
        }
        // root@BASE, postmaster@BASE and abuse@BASE are aliases to adminEmail; root@HOSTNAME is not. root@BASE is
        // taken as the alias, before quota-status would look up the account root.
        expect(text).toContain("\nroot@example.org OK\n");
        expect(text).toMatch(/^root@mail\.example\.org 550 /m);
        expect(k).not.toContain("postmaster@example.org");
        expect(text.split("\n")[0]).toMatch(/ 550 5\.1\.1 User unknown in local recipient table$/);
    });

    test("listed: unlisted humans are not mail accounts either", () => {
        const k = keys(nonMailRecipients(parseAccounts(SCAN), { ...input, scope: "listed" }));
        expect(k).toContain("alice@example.org");
        expect(k.filter((x) => x.startsWith("frank@"))).toEqual([]);
    });
});

describe("app passwords of system users (they skip PAM, so its gate decides when the stack writes them)", () => {
    const a = parseAccounts(SCAN);
    const allowed = (scope: "all-humans" | "listed", listed: string[]): string[] =>
        ["alice", "frank", "svc", "nobody", "vmail", "newbie"].filter((n) => appPasswordsAllowed(n, a, { scope, listed }));

    test("all-humans: accounts in the UID range, and accounts not there yet; never system accounts or vmail", () => {
        expect(allowed("all-humans", ["frank"])).toEqual(["alice", "frank", "newbie"]);
    });

    test("listed: the listed accounts only (still in the UID range)", () => {
        expect(allowed("listed", ["frank", "svc", "newbie"])).toEqual(["frank", "newbie"]);
    });
});
