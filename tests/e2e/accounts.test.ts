// Accounts over time: a created system user who leaves the config is locked for mail (no IMAP, no SMTP AUTH, no
// mail to him) with his Maildir kept, and comes back when listed again; a removed virtual user the same way; an
// account that existed before is adopted without touching its password, and released as it was.

import { copyFileSync } from "fs";
import * as path from "path";
import { ADOPTED } from "../../components/users";
import { mail, onServer, output, pulumi, ROOT, testbed } from "./testbed";

jest.setTimeout(300_000);

const t = testbed();
const host = t.serverAddress;
const alice = t.systemUser;
const run = `${Date.now()}`;
const up = (...args: string[]): { status: number; stdout: string; stderr: string } =>
    pulumi("up", "--yes", "--skip-preview", ...args);

/** The committed stack config with some changes: `config set --path` for each [key, value], `config rm` for [key]. */
function variant(name: string, ...changes: ([string, string] | [string])[]): string {
    const config = path.join(ROOT, ".local", `Pulumi.local.${name}.yaml`);
    copyFileSync(path.join(ROOT, "Pulumi.local.yaml"), config);
    for (const [key, value] of changes) {
        const r = value === undefined ? pulumi("config", "rm", "--path", key, "--config-file", config)
            : pulumi("config", "set", "--path", key, value, "--config-file", config);
        expect(r.status).toBe(0);
    }
    return config;
}

/** Whether each way in answers: IMAP login, SMTP AUTH on 587 (sending to the user itself), mail on port 25. */
function access(login: string, address: string, password: string): { imap: boolean; submission: boolean; inbound: boolean } {
    const subject = `access ${login} ${Date.now()}`;
    return {
        imap: mail("login", host, login, password).ok,
        submission: mail("send", host, "587", address, address, subject, login, password).ok,
        inbound: mail("send", host, "25", "someone@client.example", address, subject).ok,
    };
}

describe("a created system user", () => {
    test("removed from systemUsers: locked for mail, Maildir kept; listed again: back, with his mail", () => {
        const frank = output<Record<string, string>>("systemUserPasswords")["frank@example.org"];
        const subject = `frank before leaving ${run}`;
        expect(mail("send", host, "25", "someone@client.example", "frank@example.org", subject)).toMatchObject({ ok: true });
        expect(mail("wait", host, "frank", frank, subject)).toMatchObject({ ok: true });
        expect(access("frank", "frank@example.org", frank)).toEqual({ imap: true, submission: true, inbound: true });

        const gone = variant("nofrank", ["mailstack:systemUsers"], ['mailstack:aliases["office@example.org"]']);
        expect(up("--config-file", gone).status).toBe(0);
        expect(access("frank", "frank@example.org", frank)).toEqual({ imap: false, submission: false, inbound: false });
        expect(mail("login", host, "frank@example.org", frank)).toMatchObject({ ok: false });
        const refused = mail("send", host, "25", "someone@client.example", "frank@example.org", `after ${run}`);
        expect(refused).toMatchObject({ ok: false, code: 550 });
        expect(Number(onServer("ls /home/frank/Maildir/new /home/frank/Maildir/cur | grep -c '^[0-9]'"))).toBeGreaterThan(0);
        expect(onServer("id -u frank")).toMatch(/^\d+\n$/);

        expect(up().status).toBe(0);
        const again = output<Record<string, string>>("systemUserPasswords")["frank@example.org"];
        expect(access("frank", "frank@example.org", again)).toEqual({ imap: true, submission: true, inbound: true });
        expect(mail("login", host, "frank", again).subjects).toContain(subject);
    });
});

describe("a virtual user", () => {
    test("removed: no login, no mail, mailbox kept; added again: back, with the mail", () => {
        const subject = `dave before leaving ${run}`;
        const before = output<Record<string, string>>("virtualUserPasswords")["dave@example.com"];
        expect(mail("send", host, "25", "someone@client.example", "dave@example.com", subject)).toMatchObject({ ok: true });
        expect(mail("wait", host, "dave@example.com", before, subject)).toMatchObject({ ok: true });

        const gone = variant("nodave", ["mailstack:virtualUsers[2]"], ['mailstack:aliases["sales@example.com"][0]']);
        expect(up("--config-file", gone).status).toBe(0);
        expect(access("dave@example.com", "dave@example.com", before)).toEqual({ imap: false, submission: false, inbound: false });
        expect(mail("send", host, "25", "someone@client.example", "dave@example.com", `after ${run}`))
            .toMatchObject({ ok: false, code: 550 });
        expect(onServer("test -d /var/mail/vhosts/example.com/dave/cur && echo kept")).toBe("kept\n");

        expect(up().status).toBe(0);
        const again = output<Record<string, string>>("virtualUserPasswords")["dave@example.com"];
        expect(mail("login", host, "dave@example.com", again).subjects).toContain(subject);
    });
});

describe("an account that existed before", () => {
    test("listed in systemUsers: adopted, its own password unchanged and said so; unlisted: as it was", () => {
        const shadow = onServer("getent shadow alice | cut -d: -f2");
        const adopt = variant("adoptalice", ["mailstack:systemUsers[1]", "alice"]);
        expect(up("--config-file", adopt).status).toBe(0);
        expect(onServer("getent shadow alice | cut -d: -f2")).toBe(shadow);
        expect(output<Record<string, string>>("systemUserPasswords")["alice@example.org"]).toBe(ADOPTED);
        expect(access(alice.name, alice.address, alice.password)).toEqual({ imap: true, submission: true, inbound: true });

        expect(up().status).toBe(0);
        expect(onServer("getent shadow alice | cut -d: -f2")).toBe(shadow);
        expect(access(alice.name, alice.address, alice.password)).toEqual({ imap: true, submission: true, inbound: true });
        expect(mail("login", host, alice.name, alice.password).subjects).toContain("old mail that must survive");
    });
});
