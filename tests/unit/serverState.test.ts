// The state check's pure parts: the read-only script (checked by sh), what it prints, and when the state changes.

import { execFileSync } from "child_process";
import { Facts, parseSeen, readScript, Seen, stateChanged } from "../../components/serverState";

const facts: Facts = { dovecot: "2.3.19.1 (9b53102964)", postfix: "3.7.11" };
const files = ["/etc/postfix/main.cf", "/etc/dovecot/users"];
const clean: Seen = { drifted: [], facts, dropped: [] };

test("the read script is valid sh and quotes every path and user", () => {
    const script = readScript([...files, "/etc/it's"], ["bob@example.net", "carol@example.net"], "/etc/dovecot/users");
    expect(() => execFileSync("sh", ["-n"], { input: script })).not.toThrow();
    expect(script).toContain(`'/etc/it'\\''s'`);
    expect(script).toContain("keep=' bob@example.net carol@example.net '");
    // the version postfix was built as, even before main.cf exists: the first read must equal every later one
    expect(script).toContain("postconf -d -h mail_version");
});

test("what the script prints is read back: drifted paths, versions, dropped users", () => {
    const seen = parseSeen([
        "D /etc/postfix/main.cf",
        "V dovecot 2.4.1 (abc)",
        "V postfix 3.10.5",
        "G erin@example.com /var/mail/vhosts/example.com/erin 12",
        "",
    ].join("\n"));
    expect(seen).toEqual({
        drifted: ["/etc/postfix/main.cf"],
        facts: { dovecot: "2.4.1 (abc)", postfix: "3.10.5" },
        dropped: [{ address: "erin@example.com", dir: "/var/mail/vhosts/example.com/erin", messages: 12 }],
    });
    expect(parseSeen("V dovecot \nV postfix \n").facts).toEqual({ dovecot: "", postfix: "" });
});

describe("the state changes", () => {
    test("not on a clean server, whatever the files and users of the plan", () => {
        expect(stateChanged({ facts }, clean)).toBe(false);
    });
    test("on a drifted file", () => {
        expect(stateChanged({ facts }, { ...clean, drifted: ["/etc/dovecot/users"] })).toBe(true);
    });
    test("on another dovecot or postfix version", () => {
        expect(stateChanged({ facts }, { ...clean, facts: { ...facts, dovecot: "2.4.1" } })).toBe(true);
        expect(stateChanged({ facts }, { ...clean, facts: { ...facts, postfix: "3.10.5" } })).toBe(true);
    });
});
