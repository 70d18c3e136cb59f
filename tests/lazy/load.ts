// Two packages that @pulumi/pulumi loads as it starts and that a unit test seldom or never uses: typescript (its
// closure serializer parses a dynamic provider's code with it) and @npmcli/arborist (for the code paths of a
// function serialized as a Lambda, which this stack never does). jest loads every module again for each test
// file, and for each jest.isolateModules (tests/unit/bad-config.test.ts runs index.ts nine times): those two were
// close to half the time it took @pulumi/pulumi to load. jest.config.js's moduleNameMapper sends their bare names
// here, to stand-ins that load the real package (from its own path, which the mapper does not match) at the first
// use of any of its members: a test that serializes a dynamic provider still runs the real typescript.

import * as path from "path";

/**
 * The worker's own require (tests/environment.ts), outside jest's module registry: the package is loaded once per
 * jest worker and shared by the test files it runs, not once per file and per jest.isolateModules (typescript alone
 * took one to three seconds of CPU each time, seven times in tests/unit). Both packages keep no state between calls.
 * Plain require where the environment is another.
 */
const workerRequire = (globalThis as { mailstackWorkerRequire?: NodeJS.Require }).mailstackWorkerRequire;

/** The package's main file, resolved past the moduleNameMapper (which matches the bare name only). */
function main(pkg: string): string {
    const dir = path.dirname(require.resolve(`${pkg}/package.json`));
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return path.join(dir, (require(`${pkg}/package.json`) as { main: string }).main);
}

/**
 * A module that is loaded when a member is first read. It says it is an ES module, as the TypeScript helpers that
 * import it (__importStar) ask first: they then read members from it instead of copying them all at once.
 */
export function lazy(pkg: string): object {
    let real: Record<string | symbol, unknown> | undefined;
    const load = (): Record<string | symbol, unknown> =>
        (real ??= (workerRequire ?? require)(main(pkg)) as Record<string | symbol, unknown>);
    return new Proxy({}, {
        get: (_, key) => (key === "__esModule" && real === undefined ? true : load()[key]),
        has: (_, key) => key in load(),
        ownKeys: () => Reflect.ownKeys(load()),
        getOwnPropertyDescriptor: (_, key) => {
            const d = Reflect.getOwnPropertyDescriptor(load(), key);
            return d === undefined ? undefined : { ...d, configurable: true };
        },
    });
}
