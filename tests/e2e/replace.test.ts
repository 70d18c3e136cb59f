// A replaced server is set up again. Hetzner keeps address and SSH key across a replacement, and so does the test
// server: no input of any remote step changes but the server's identity, which every step carries in its triggers.
// Replaced here with `pulumi up --replace` of the test server; the checks are replacement.ts's. The Debian 12 run
// of `npm test` makes them on its switch to Debian 13 instead (switch.test.ts), and runs this file only on Debian 13.

import { pulumi, serverResource } from "./testbed";
import { replacementTests } from "./replacement";

jest.setTimeout(900_000);

replacementTests({
    how: "`pulumi up --replace` of the server",
    replace: () => {
        const r = pulumi("up", "--yes", "--skip-preview", "--replace", serverResource().urn);
        if (r.status !== 0) {
            throw new Error(`up --replace failed:\n${r.stdout.slice(-4000)}\n${r.stderr}`);
        }
    },
});
