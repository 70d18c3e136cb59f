// Run by scripts/test after every other end-to-end suite: tearing down a test server is `pulumi destroy`.

import { execFileSync } from "child_process";
import { existsSync, readdirSync, readFileSync } from "fs";
import * as path from "path";
import { pulumi, ROOT, SERVER_NETNS, TESTBED_NAME } from "./testbed";

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

// The test server was a booted systemd in nspawn: its shutdown must leave no process, mount, cgroup or namespace.
test("nothing of the test server is left on this machine", async () => {
    const serverRoot = path.join(ROOT, ".local", "server");
    const group = `mailstack-${TESTBED_NAME}`;
    const read = (f: string): string => {
        try {
            return readFileSync(f, "utf8");
        } catch {
            return ""; // gone meanwhile
        }
    };
    const procs = (): { pid: string; cmdline: string; cgroup: string }[] => readdirSync("/proc").filter((p) => /^\d+$/.test(p))
        .map((p) => ({ pid: p, cmdline: read(`/proc/${p}/cmdline`).replace(/\0/g, " "), cgroup: read(`/proc/${p}/cgroup`) }));
    expect(procs().length).toBeGreaterThan(10); // control: this sees the machine's processes
    // the group itself, not another test server's whose name starts the same (NAME-13 of `npm test` beside it)
    const inGroup = (cgroup: string): boolean => cgroup.split("\n").some((l) => l.includes(`/${group}/`) || l.endsWith(`/${group}`));
    const left = (): ReturnType<typeof procs> => procs().filter((p) => inGroup(p.cgroup) || p.cmdline.includes(serverRoot));
    // A process of the server may still be exiting when destroy returns (seen once: nspawn's supervisor, a zombie
    // in its deleted cgroup): 10 s for the last ones to be gone, then whatever is left is a leak.
    for (let i = 0; i < 50 && left().length > 0; i++) {
        await new Promise((r) => setTimeout(r, 200));
    }
    expect(left()).toEqual([]);
    // the network namespace file was checked above; any other namespace of the server died with its last process
    expect(read("/proc/self/mounts").split("\n").filter((m) => m.includes(serverRoot))).toEqual([]);
    const cgroupMounts = read("/proc/self/mounts").split("\n").map((m) => m.split(" "))
        .filter((f) => f[2] === "cgroup" || f[2] === "cgroup2").map((f) => f[1]);
    expect(cgroupMounts.length).toBeGreaterThan(0);
    const groups = execFileSync("find", [...cgroupMounts, "-maxdepth", "4", "-type", "d", "-name", group],
        { encoding: "utf8" });
    expect(groups).toBe("");
});
