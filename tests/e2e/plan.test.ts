// The plan is the change: for each change an admin makes over time, `preview` names exactly the resources that
// `up` then changes, with the same operation, no more (issue 25). Each step builds on the one before; the last
// goes back to the committed config in one `up`, which is compared too.

import { configVariant, pulumi } from "./testbed";

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

describe("preview predicts what up changes, resource by resource", () => {
    let base: string | undefined;
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
    });

    test("and back to the committed config in one up", () => {
        const config = configVariant("plan-back", []);
        const plan = planned(config);
        const done = applied(config);
        console.log(`back: preview ${JSON.stringify(plan)}; up ${JSON.stringify(done)}`);
        expect(plan).toEqual(done);
        expect(pulumi("preview", "--expect-no-changes").status).toBe(0);
    });
});
