// The whole stack on the local test server, after `npm run local` (scripts/test brings it up first): real
// IMAP/SMTP clients in the client namespace, and the real Pulumi engine for the no-op and add-user updates.
// Tests run in file order. `pulumi destroy` is tested last of all, in destroy.test.ts (scripts/test).

import { copyFileSync, readFileSync } from "fs";
import * as path from "path";
import { lineages } from "../../components/config";
import { logins, mail, onServer, output, pebbleRoot, pulumi, ROOT, READS, sshSessions, testbed, WEBMAIL } from "./testbed";

jest.setTimeout(300_000);

const t = testbed();
const host = t.serverAddress;
const { alice, virtual, pw } = logins(t);
const run = `${Date.now()}`; // subjects unique to this run, so an old message never passes a test
/** The names of DOMAIN's certificate (lineage), as components/config.ts declares them. */
const domainNames = (d: string): string[] => [...lineages(t.hostname, [d], WEBMAIL)[1].names].sort();

describe("the test server runs Debian's own systemd, as a VPS does", () => {
    test("PID 1 is systemd, and it reports the system running (nothing failed)", () => {
        expect(onServer("cat /proc/1/comm")).toBe("systemd\n");
        expect(onServer("systemctl is-system-running --wait")).toBe("running\n");
    });

    test("ssh, postfix and dovecot are active units, and certbot's timer is enabled", () => {
        expect(onServer("systemctl is-active postfix dovecot ssh")).toBe("active\nactive\nactive\n");
        expect(onServer("systemctl is-enabled certbot.timer")).toBe("enabled\n");
    });

    test("the daemons were started by their units, not by hand", () => {
        const cgroupOf = (pidfile: string): string => onServer(`cat /proc/$(tr -dc 0-9 < ${pidfile})/cgroup`);
        // Debian 12 runs postfix as the instance postfix@-.service, Debian 13 as postfix.service itself
        expect(cgroupOf("/var/spool/postfix/pid/master.pid"))
            .toMatch(/^0::\/system\.slice\/(system-postfix\.slice\/postfix@-|postfix)\.service$/m);
        expect(cgroupOf("/run/dovecot/master.pid")).toMatch(/^0::\/system\.slice\/dovecot\.service$/m);
    });
});

describe("IMAP 143 with STARTTLS", () => {
    test.each([alice.name, alice.address, "frank", "frank@example.org", ...Object.keys(virtual)])("%s logs in", (user) => {
        expect(mail("login", host, user, pw(user))).toMatchObject({ ok: true });
    });

    test("alice still has the message she had before mailstack", () => {
        expect(mail("login", host, alice.name, alice.password).subjects).toContain("old mail that must survive");
    });

    test("a wrong password is refused", () => {
        expect(mail("login", host, "bob@example.net", "not-the-password")).toMatchObject({ ok: false });
        expect(mail("login", host, alice.name, "not-the-password")).toMatchObject({ ok: false });
    });
});

describe("submission 587 with STARTTLS and AUTH, read back over IMAP", () => {
    test.each([
        ["alice", "alice@example.org", "bob@example.net", "bob@example.net"],
        ["bob@example.net", "bob@example.net", "alice@example.org", "alice"],
        ["bob@example.net", "bob@example.net", "dave@example.com", "dave@example.com"],
        ["carol@example.net", "carol@example.net", "erin@example.com", "erin@example.com"],
    ])("%s sends as %s to %s", (login, from, to, reader) => {
        const subject = `submission ${from} to ${to} ${run}`;
        expect(mail("send", host, "587", from, to, subject, login, pw(login))).toMatchObject({ ok: true });
        expect(mail("wait", host, reader, pw(reader), subject)).toMatchObject({ ok: true });
    });
});

describe("inbound mail on port 25", () => {
    test.each([
        ["erin@example.com", ["erin@example.com"]],
        ["info@example.net", ["bob@example.net"]],
        ["sales@example.com", ["dave@example.com", "carol@example.net"]],
        ["postmaster@example.com", ["alice"]],
    ])("to %s reaches %j", (to, readers) => {
        const subject = `inbound to ${to} ${run}`;
        expect(mail("send", host, "25", "someone@client.example", to, subject)).toMatchObject({ ok: true });
        for (const reader of readers) {
            expect(mail("wait", host, reader, pw(reader), subject)).toMatchObject({ ok: true });
        }
    });
});

describe("certificates", () => {
    const root = pebbleRoot(path.join(ROOT, ".local", "pebble-root.pem"));
    test.each([["143", "imap"], ["587", "smtp"]])("on %s: the hostname's without SNI, mail.DOMAIN's by SNI, all from Pebble", (port, proto) => {
        // verified against Pebble's root, or it throws; an address as host: no SNI
        const plain = mail("cert", host, port, proto, root);
        expect(plain.issuer).toMatch(/^Pebble Intermediate CA/);
        expect(plain.names).toEqual([t.hostname]);
        expect(mail("cert", host, port, proto, root, t.hostname).names).toEqual([t.hostname]);
        for (const d of ["example.net", "example.com"]) {
            const c = mail("cert", host, port, proto, root, `mail.${d}`);
            expect(c.issuer).toMatch(/^Pebble Intermediate CA/);
            expect([...(c.names ?? [])].sort()).toEqual(domainNames(d));
        }
    });

    test("one lineage each: the hostname's keeps its key across renewals (--reuse-key, for a TLSA record)", () => {
        expect(onServer("ls /etc/letsencrypt/renewal").split("\n").filter((l) => l !== "").sort())
            .toEqual(["mailstack-example.com.conf", "mailstack-example.net.conf", "mailstack-example.org.conf", "mailstack.conf"]);
        expect(onServer("grep -h '^reuse_key' /etc/letsencrypt/renewal/mailstack.conf")).toBe("reuse_key = True\n");
    });
});

describe("updates", () => {
    test("a second up changes nothing and runs no remote command, only the read-only reads", () => {
        const before = sshSessions();
        const r = pulumi("up", "--yes", "--skip-preview", "--expect-no-changes");
        expect(r.stderr).toBe("");
        expect(r.status).toBe(0);
        expect(sshSessions() - before).toBe(READS);
    });

    test("adding a virtual user runs only the user steps, and the user can log in", () => {
        const config = path.join(ROOT, ".local", "Pulumi.local.adduser.yaml");
        copyFileSync(path.join(ROOT, "Pulumi.local.yaml"), config);
        const set = pulumi("config", "set", "--path", "mailstack:virtualUsers[4]", "frida@example.com",
            "--config-file", config);
        expect(set.status).toBe(0);
        const preview = pulumi("preview", "--json", "--config-file", config);
        expect(preview.status).toBe(0);
        const steps = (JSON.parse(preview.stdout) as { steps: { op: string; urn: string }[] }).steps
            .filter((s) => s.op !== "same");
        expect(steps.length).toBeGreaterThan(0);
        for (const s of steps) {
            expect(s.urn).toMatch(/mailstack:index:Users|pulumi:pulumi:Stack/);
        }
        const before = sshSessions();
        expect(pulumi("up", "--yes", "--skip-preview", "--config-file", config).status).toBe(0);
        const ran = sshSessions() - before;
        // one session per user step, and the read-only reads
        expect(ran).toBe(steps.filter((s) => s.urn.includes("command:remote:Command")).length + READS);
        const frida = output<Record<string, string>>("virtualUserPasswords")["frida@example.com"];
        expect(mail("login", host, "frida@example.com", frida)).toMatchObject({ ok: true });
        expect(onServer("test -d /var/mail/vhosts/example.com && grep -c '^frida@example.com:' /etc/dovecot/users"))
            .toBe("1\n");
    });

    test("removing the user again restores the committed config", () => {
        expect(pulumi("up", "--yes", "--skip-preview").status).toBe(0);
        expect(mail("login", host, "frida@example.com", "anything")).toMatchObject({ ok: false });
        expect(readFileSync(path.join(ROOT, "Pulumi.local.yaml"), "utf8")).not.toContain("frida");
    });

    test("a new domain gets its own certificate (the hostname's stays), and removing it deletes that one", () => {
        const root = pebbleRoot(path.join(ROOT, ".local", "pebble-root.pem"));
        const served = (port: string, proto: string, sni?: string): { names: string[]; serial?: string } => {
            const c = mail("cert", host, port, proto, root, ...(sni === undefined ? [] : [sni]));
            return { names: [...(c.names ?? [])].sort(), serial: c.serial };
        };
        const hostCert = served("143", "imap");
        const config = path.join(ROOT, ".local", "Pulumi.local.adddomain.yaml");
        copyFileSync(path.join(ROOT, "Pulumi.local.yaml"), config);
        for (const [key, value] of [["mailstack:virtualDomains[2]", "example.info"],
            ["mailstack:virtualUsers[4]", "gus@example.info"]]) {
            expect(pulumi("config", "set", "--path", key, value, "--config-file", config).status).toBe(0);
        }
        expect(pulumi("up", "--yes", "--skip-preview", "--config-file", config).status).toBe(0);
        expect(served("143", "imap")).toEqual(hostCert);
        expect(served("143", "imap", "mail.example.info").names).toEqual(domainNames("example.info"));
        expect(served("587", "smtp", "mail.example.info").names).toEqual(domainNames("example.info"));
        expect(served("443", "https", "autoconfig.example.info").names).toEqual(domainNames("example.info"));
        const gus = output<Record<string, string>>("virtualUserPasswords")["gus@example.info"];
        const subject = `new domain ${run}`;
        expect(mail("send", host, "25", "someone@client.example", "gus@example.info", subject)).toMatchObject({ ok: true });
        expect(mail("wait", host, "gus@example.info", gus, subject)).toMatchObject({ ok: true });

        expect(pulumi("up", "--yes", "--skip-preview").status).toBe(0);
        expect(served("143", "imap", "mail.example.info")).toEqual(hostCert);
        expect(served("443", "https", "autoconfig.example.info")).toEqual(hostCert);
        expect(onServer("ls /etc/letsencrypt/renewal /etc/letsencrypt/live")).not.toContain("example.info");
        expect(mail("send", host, "25", "someone@client.example", "gus@example.info", subject)).toMatchObject({ ok: false });
    });
});
