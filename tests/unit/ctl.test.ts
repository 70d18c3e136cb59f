// The paths mailstack-ctl shares with the stack come from components/render/ctl.ts: the script names each one and
// defines none of them itself.

import { execFileSync } from "child_process";
import { readFileSync } from "fs";
import * as path from "path";
import { CTL_PATHS, CTL_PORTS, ctlScript, PATHS_MARKER } from "../../components/render/ctl";

const source = readFileSync(path.join(__dirname, "..", "..", "files", "mailstack-ctl"), "utf8");

test("each shared path and port is used by the script and defined only in the rendered head", () => {
    expect(CTL_PORTS.MILTER_TCP).toBe("0100007F:2C44"); // 127.0.0.1:11332 as /proc/net/tcp shows it
    for (const name of [...Object.keys(CTL_PATHS), ...Object.keys(CTL_PORTS)]) {
        expect([name, new RegExp(`^\\s*${name}=`, "m").test(source)]).toEqual([name, false]);
        expect([name, source.includes(`$${name}`)]).toEqual([name, true]);
    }
    const script = ctlScript(source);
    expect(script).not.toContain(PATHS_MARKER);
    for (const [name, value] of Object.entries({ ...CTL_PATHS, ...CTL_PORTS })) {
        expect(script).toContain(`\n${name}=${value}\n`);
    }
    // the values themselves appear nowhere else in the script: no second copy to fall out of step
    const body = script.split("\n").filter((l) => !/^[A-Z0-9_]+=/.test(l)).join("\n");
    for (const value of Object.values(CTL_PATHS)) {
        expect([value, body.includes(value)]).toEqual([value, false]);
    }
    execFileSync("sh", ["-n"], { input: script });
});

test("a script without its marker line is refused", () => {
    expect(() => ctlScript("#!/bin/sh\necho hi\n")).toThrow(/must hold the line/);
});
