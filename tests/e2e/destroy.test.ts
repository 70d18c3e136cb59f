// Run by scripts/test after every other end-to-end suite: tearing down a test server is `pulumi destroy`.

import { existsSync } from "fs";
import * as path from "path";
import { pulumi, ROOT, SERVER_NETNS } from "./testbed";

jest.setTimeout(300_000);

test("pulumi destroy removes the test server", () => {
    expect(existsSync(path.join(ROOT, ".local", "server"))).toBe(true);
    const r = pulumi("destroy", "--yes", "--skip-preview");
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(existsSync(path.join(ROOT, ".local", "server"))).toBe(false);
    expect(existsSync(`/run/netns/${SERVER_NETNS}`)).toBe(false);
    expect(pulumi("stack", "export").stdout).not.toContain("command:remote:Command");
});
