// Loaded by jest in every test file (setupFilesAfterEnv: after jest installed source-map-support, which it wraps).
//
// Pulumi's SDK takes a stack trace for every promise it makes (runtime/debuggable.js, for the leak report at exit)
// and for every resource (Resource.callsites, for the source positions it sends the engine): thousands in one
// render of the stack. Under jest each went through source-map-support, which maps every frame back to its
// TypeScript line, and jest keeps 100 frames where node keeps 10: that was half of the unit tests' time. Nobody
// reads those traces here (the leak report is never printed in a test, the mock monitor ignores source positions),
// so they get V8's own format, and the promises' traces node's 10 frames, as in a real `pulumi up`. Every other
// stack, a failing test's included, is still mapped and 100 frames deep.

import * as path from "path";

const PULUMI = path.join("node_modules", "@pulumi", "pulumi") + path.sep;

/** The SDK's own capture sites (the function that calls `new Error()` and reads its stack at once): how many
 * frames each keeps. */
const CAPTURES: ReadonlyMap<string, number> = new Map([
    [`${path.join(PULUMI, "runtime", "debuggable.js")}:debuggablePromise`, 10],
    [`${path.join(PULUMI, "resource.js")}:callsites`, Infinity], // it raises the limit itself
]);

/** V8's call site, which formats itself as V8 prints a frame (the Node types leave toString out). */
type Frame = NodeJS.CallSite & { toString(): string };

function capturedByPulumi(frames: Frame[]): number | undefined {
    const top = frames[0];
    const file = top?.getFileName();
    if (file === undefined || file === null || !file.includes(PULUMI)) {
        return undefined;
    }
    return CAPTURES.get(`${file.slice(file.lastIndexOf(PULUMI))}:${top.getFunctionName() ?? ""}`);
}

const mapped = Error.prepareStackTrace?.bind(Error);
if (mapped !== undefined) {
    Error.prepareStackTrace = (error: Error, frames: Frame[]): unknown => {
        const keep = capturedByPulumi(frames);
        return keep === undefined
            ? mapped(error, frames)
            : `${String(error)}${frames.slice(0, keep).map((f) => `\n    at ${f.toString()}`).join("")}`;
    };
}
