// Moving the server to a new Debian release the way a user does: `host.suite` bookworm -> trixie in the stack's
// config (on Hetzner: `image` debian-12 -> debian-13), then `pulumi up`. The test server is deleted and a Debian 13
// one comes up behind the same address and key; the volume moves over. Every message (UIDs and flags too, what
// clients cache), every password, the DKIM keys and the logins must be as before, and mail works on the new machine:
// the checks of every replacement (replacement.ts), and the new machine is a Debian 13 with dovecot 2.4.
// It leaves the server on trixie: scripts/test runs it on its own, after the other end-to-end files and before
// destroy.test.ts, and only in the bookworm run.

import { copyFileSync, rmSync } from "fs";
import * as path from "path";
import { onServer, pulumi, ROOT, testbed } from "./testbed";
import { replacementTests } from "./replacement";

jest.setTimeout(1_800_000);

// The user's path is the config: MAILSTACK_SUITE (a shortcut of `npm run local`) would override it.
delete process.env.MAILSTACK_SUITE;
const CONFIG = path.join(ROOT, ".local", "Pulumi.local.switch.yaml");

beforeAll(() => expect(testbed().suite).toBe("bookworm"));
afterAll(() => rmSync(CONFIG, { force: true }));

replacementTests({
    how: "the switch from Debian 12 to 13 in config",
    replace: () => {
        copyFileSync(path.join(ROOT, "Pulumi.local.yaml"), CONFIG);
        expect(pulumi("config", "set", "--path", "mailstack:host.suite", "trixie", "--config-file", CONFIG).status).toBe(0);
        const r = pulumi("up", "--yes", "--skip-preview", "--config-file", CONFIG);
        if (r.status !== 0) {
            throw new Error(`up after the switch failed:\n${r.stdout.slice(-6000)}\n${r.stderr}`);
        }
    },
    upArgs: ["--config-file", CONFIG],
    machine: (after) => {
        expect(after.suite).toBe("trixie");
        expect(onServer("cat /etc/debian_version")).toMatch(/^13\./);
        expect(onServer(". /etc/os-release && echo $VERSION_CODENAME").trim()).toBe("trixie");
        expect(onServer("dovecot --version")).toMatch(/^2\.4\./);
    },
});
