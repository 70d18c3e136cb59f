// The workers' young generation: 64 MB semi-spaces instead of node's 16. A mocked render of the stack makes
// millions of short-lived objects (the SDK's promises and Outputs); with the default, V8 scavenged so often that
// it cost a tenth of the unit tests' CPU. The workers inherit this environment (as do the processes the tests
// start, for which it changes nothing but the same heap setting).
if (!/--max-semi-space-size/.test(process.env.NODE_OPTIONS ?? "")) {
    process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ""} --max-semi-space-size=64`.trim();
}

/** @type {import('jest').Config} */
module.exports = {
    preset: "ts-jest",
    // node's, with the worker's require for tests/lazy (why: tests/lazy/load.ts).
    testEnvironment: "<rootDir>/tests/environment.ts",
    roots: ["<rootDir>/tests"],
    testMatch: ["**/*.test.ts"],
    // End-to-end suites drive real servers one after another; unit suites are quick either way.
    maxWorkers: 2,
    // Pulumi's own stack traces skip source maps (why: in the file).
    setupFilesAfterEnv: ["<rootDir>/tests/stack-traces.ts"],
    // Loaded at first use, not whenever @pulumi/pulumi starts (why: tests/lazy/load.ts).
    moduleNameMapper: {
        "^typescript$": "<rootDir>/tests/lazy/typescript.ts",
        "^@npmcli/arborist$": "<rootDir>/tests/lazy/arborist.ts",
    },
    transform: { "^.+\\.ts$": ["ts-jest", { diagnostics: { warnOnly: false }, isolatedModules: true }] },
};
