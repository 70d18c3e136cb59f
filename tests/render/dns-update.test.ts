// files/dns-update against a real primary: Debian's knotd on a loopback port, updated by Debian's nsupdate with a
// TSIG key, read back with dig. What the rfc2136 publisher runs for each record set.

import { ChildProcess, spawn, spawnSync } from "child_process";
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const SCRIPT = path.resolve(__dirname, "../../files/dns-update");
const PORT = 20000 + Math.floor(Math.random() * 20000);
const SECRET = randomBytes(32).toString("base64");
let dir: string;
let knotd: ChildProcess;

function dig(name: string, type: string): string[] {
    const r = spawnSync("dig", ["+short", "+norecurse", "-p", String(PORT), "@127.0.0.1", name, type], { encoding: "utf8" });
    return r.stdout.split("\n").filter((l) => l !== "").sort();
}

function update(op: "set" | "delete", set: { fqdn: string; type: string; values?: string[] }, secret = SECRET) {
    return spawnSync("sh", [SCRIPT, op], {
        input: `${secret}\n`, encoding: "utf8",
        env: {
            ...process.env, DNS_SERVER: "127.0.0.1", DNS_PORT: String(PORT), DNS_KEY_NAME: "mailstack-test",
            DNS_KEY_ALGORITHM: "hmac-sha256", RRSET_ZONE: "example.net", RRSET_FQDN: set.fqdn, RRSET_TYPE: set.type,
            RRSET_TTL: "300", RRSET_VALUES: (set.values ?? []).join("\n"),
        },
    });
}

beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "dns-update-"));
    fs.writeFileSync(path.join(dir, "example.net.zone"), [
        "$TTL 300",
        "@ SOA ns1.example.net. hostmaster.example.net. 1 3600 600 86400 300",
        "@ NS ns1.example.net.",
        "ns1 A 127.0.0.1",
        "www A 192.0.2.80", // a record set the stack does not own
    ].join("\n") + "\n");
    fs.writeFileSync(path.join(dir, "knot.conf"), `server:
    listen: 127.0.0.1@${PORT}
    rundir: ${dir}
database:
    storage: ${dir}
control:
    listen: ${dir}/knot.sock
key:
  - id: mailstack-test
    algorithm: hmac-sha256
    secret: ${SECRET}
acl:
  - id: update
    key: mailstack-test
    action: update
template:
  - id: default
    storage: ${dir}
    file: "%s.zone"
    zonefile-sync: -1
zone:
  - domain: example.net
    acl: update
`);
    knotd = spawn("knotd", ["-c", path.join(dir, "knot.conf")], { stdio: "ignore" });
    for (let i = 0; i < 100 && dig("example.net", "SOA").length === 0; i++) {
        await new Promise((r) => setTimeout(r, 100));
    }
});

afterAll(async () => {
    // knotd writes its journal and timers until it has exited: its directory goes after that (a busy machine saw
    // ENOTEMPTY when it went at once)
    if (knotd !== undefined && knotd.exitCode === null) {
        const exited = new Promise((r) => knotd?.once("exit", r));
        knotd.kill();
        await exited;
    }
    fs.rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
});

test("set replaces the whole record set, delete removes it, foreign sets stay", () => {
    expect(update("set", { fqdn: "example.net", type: "MX", values: ["10 mail.example.org.", "20 mx2.example.org."] }).status).toBe(0);
    expect(dig("example.net", "MX")).toEqual(["10 mail.example.org.", "20 mx2.example.org."]);
    const r = update("set", { fqdn: "example.net", type: "MX", values: ["10 mail.example.org."] });
    expect([r.status, r.stdout]).toEqual([0, "set example.net MX\n"]);
    expect(dig("example.net", "MX")).toEqual(["10 mail.example.org."]);
    expect(update("delete", { fqdn: "example.net", type: "MX" }).status).toBe(0);
    expect(dig("example.net", "MX")).toEqual([]);
    expect(dig("www.example.net", "A")).toEqual(["192.0.2.80"]);
});

test("TXT strings arrive as published: several strings, escaped quotes and backslashes", () => {
    const long = `"v=DKIM1; k=rsa; p=${"A".repeat(236)}" "${"B".repeat(200)}"`;
    expect(update("set", { fqdn: "m._domainkey.example.net", type: "TXT", values: [long] }).status).toBe(0);
    expect(dig("m._domainkey.example.net", "TXT")).toEqual([long]);
    const escaped = '"a \\"quoted\\" \\\\ word"';
    expect(update("set", { fqdn: "q.example.net", type: "TXT", values: [escaped] }).status).toBe(0);
    expect(dig("q.example.net", "TXT")).toEqual([escaped]);
});

test("a wrong key is refused, named, and changes nothing", () => {
    const r = update("set", { fqdn: "bad.example.net", type: "A", values: ["192.0.2.66"] }, randomBytes(32).toString("base64"));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/could not set bad\.example\.net A in zone example\.net at 127\.0\.0\.1:\d+/);
    expect(r.stderr).not.toContain(SECRET);
    expect(dig("bad.example.net", "A")).toEqual([]);
    expect(update("set", { fqdn: "x.example.net", type: "A", values: ["192.0.2.1"] }, "").stderr)
        .toContain("no TSIG secret on stdin");
});
