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
