// The plan is the change: for each change an admin makes over time, `preview` names exactly the resources that
// `up` then changes, with the same operation, no more (issue 25). Each step builds on the one before; the last
// goes back to the committed config in one `up`, which is compared too. After each `up`, the test DNS holds exactly
// the record sets of `dnsRecords` (issue 23: a domain's records come and go with it, a DKIM rotation takes two `up`s
// and no hand edit of DNS, and mail signed in between verifies with the published keys).

import { DnsRecord } from "../../components/render/records";
import { ask, configVariant, mail, output, pulumi, setOf, testbed, unpublished } from "./testbed";

jest.setTimeout(600_000);

type Ops = Record<string, string>;

// A replacement is one change of the resource, however the engine splits it into steps and events.
const REPLACE = new Set(["replace", "create-replacement", "delete-replaced"]);
const UNCHANGED = new Set(["same", "read", "refresh"]);
const short = (urn: string): string => urn.split("::").slice(-1)[0];

function addOp(ops: Ops, urn: string, op: string): void {
    if (!UNCHANGED.has(op)) {
        ops[short(urn)] = REPLACE.has(op) ? "replace" : op;
    }
}

/** `preview --json`: its steps. */
function planned(config: string): Ops {
    const r = pulumi("preview", "--json", "--config-file", config);
    if (r.status !== 0) {
        throw new Error(`preview failed: ${r.stderr}${r.stdout.slice(-2000)}`);
    }
    const ops: Ops = {};
    for (const step of (JSON.parse(r.stdout) as { steps?: { op: string; urn: string }[] }).steps ?? []) {
        addOp(ops, step.urn, step.op);
    }
    return ops;
}

/** `up --json`: the engine's events, one JSON object a line; each resource's outcome is its resOutputsEvent. */
function applied(config: string): Ops {
    const r = pulumi("up", "--yes", "--skip-preview", "--json", "--config-file", config);
    if (r.status !== 0) {
        throw new Error(`up failed: ${r.stderr}${r.stdout.slice(-2000)}`);
    }
    const ops: Ops = {};
    for (const line of r.stdout.split("\n").filter((l) => l.startsWith("{"))) {
        const meta = (JSON.parse(line) as { resOutputsEvent?: { metadata: { op: string; urn: string } } }).resOutputsEvent?.metadata;
        if (meta !== undefined) {
            addOp(ops, meta.urn, meta.op);
        }
    }
    return ops;
}

const steps: [string, [string, string][]][] = [
    ["a user", [["mailstack:virtualUsers[4]", "ivan@example.com"]]],
    ["an alias target", [['mailstack:aliases["info@example.net"]', "carol@example.net"]]],
    ["a quota", [['mailstack:quota.users["dave@example.com"]', "5M"]]],
    ["a domain", [["mailstack:virtualDomains[2]", "example.info"]]],
    ["DKIM rotation, step 1 (the next key published)", [["mailstack:dkim.nextSelector", "plan2"]]],
    ["DKIM rotation, step 2 (the next key signs)", [["mailstack:dkim.selector", "plan2"]]],
];

const t = testbed();
const run = `${Date.now()}`;

/** The record sets the stack publishes (all of dnsRecords but PTR, which the address's owner sets), as "TYPE NAME". */
function published(): { records: DnsRecord[]; keys: string[] } {
    const records = output<DnsRecord[]>("dnsRecords").filter((r) => r.type !== "PTR");
    return { records, keys: [...new Set(records.map(setOf))] };
}

/** The DKIM key of each SELECTOR._domainkey.DOMAIN as the test DNS answers it (not as dnsRecords says it). */
function dkimFromDns(selectors: string[], domains: string[]): Record<string, string> {
    const table: Record<string, string> = {};
    for (const name of selectors.flatMap((s) => domains.map((d) => `${s}._domainkey.${d}`))) {
        const got = ask("TXT", name);
        if (got.values.length > 0) table[name] = got.values.join("");
    }
    return table;
}

/** Alice submits a message to bob; bob's copy carries one DKIM-Signature, checked by dkimpy against TABLE. */
function signedAndVerified(table: Record<string, string>, step: string): { s: string; verified: boolean }[] {
    const bob = { login: "bob@example.net", password: output<Record<string, string>>("virtualUserPasswords")["bob@example.net"] };
    const subject = `plan dkim ${step} ${run}`;
    expect(mail("send", t.serverAddress, "587", t.systemUser.address, bob.login, subject, t.systemUser.name,
        t.systemUser.password)).toMatchObject({ ok: true });
    expect(mail("wait", t.serverAddress, bob.login, bob.password, subject, "30")).toMatchObject({ ok: true });
    const got = mail("dkim", t.serverAddress, bob.login, bob.password, subject, JSON.stringify(table)) as
        unknown as { signatures: { d: string; s: string; verified: boolean }[] };
    return got.signatures.filter((x) => x.d === "example.org").map(({ s, verified }) => ({ s, verified }));
}

describe("preview predicts what up changes, resource by resource", () => {
    let base: string | undefined;
    let before: ReturnType<typeof published>;
    beforeAll(() => { before = published(); });
    test.each(steps)("%s", (name, sets) => {
        const config = configVariant(`plan-${steps.findIndex((s) => s[0] === name)}`, sets, base);
        if (name.startsWith("DKIM rotation, step 2")) {
            // the rotated key is the selector now: the next selector is gone from the config
            expect(pulumi("config", "rm", "--path", "mailstack:dkim.nextSelector", "--config-file", config).status).toBe(0);
        }
        base = config;
        const plan = planned(config);
        const done = applied(config);
        console.log(`${name}: preview ${JSON.stringify(plan)}; up ${JSON.stringify(done)}`);
        expect(Object.keys(done).length).toBeGreaterThan(0);
        expect(plan).toEqual(done);
        const after = published();
        const gone = before.keys.filter((k) => !after.keys.includes(k));
        expect(unpublished(after.records, { gone })).toEqual([]);
        if (name === "a domain") {
            expect(after.keys.filter((k) => /[ .]example\.info$/.test(k)).length).toBeGreaterThan(8);
        }
        const domains = ["example.org", "example.net", "example.com", "example.info"];
        if (name.startsWith("DKIM rotation, step 1")) {
            // both keys published; example.org's mail, signed between the two ups, verifies with the old one
            const table = dkimFromDns(["mailstack", "plan2"], domains);
            expect(Object.keys(table).sort()).toEqual(domains.flatMap((d) => [`mailstack._domainkey.${d}`,
                `plan2._domainkey.${d}`]).sort());
            expect(signedAndVerified(table, "1")).toEqual([{ s: "mailstack", verified: true }]);
        }
        if (name.startsWith("DKIM rotation, step 2")) {
            // the new key signs and verifies; the old one is retired from DNS
            const table = dkimFromDns(["mailstack", "plan2"], domains);
            expect(Object.keys(table).sort()).toEqual(domains.map((d) => `plan2._domainkey.${d}`).sort());
            expect(signedAndVerified(table, "2")).toEqual([{ s: "plan2", verified: true }]);
        }
        before = after;
    });

    test("and back to the committed config in one up", () => {
        const config = configVariant("plan-back", []);
        const plan = planned(config);
        const done = applied(config);
        console.log(`back: preview ${JSON.stringify(plan)}; up ${JSON.stringify(done)}`);
        expect(plan).toEqual(done);
        // example.info's records and the rotated key are gone again
        const after = published();
        expect(after.keys.some((k) => k.includes("example.info"))).toBe(false);
        expect(unpublished(after.records, { gone: before.keys.filter((k) => !after.keys.includes(k)) })).toEqual([]);
        expect(pulumi("preview", "--expect-no-changes").status).toBe(0);
    });
});
