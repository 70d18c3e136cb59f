// jest's node environment, plus the worker's own require for tests/lazy/load.ts (see there).
import type { EnvironmentContext, JestEnvironmentConfig } from "@jest/environment";
import NodeEnvironment from "jest-environment-node";

export default class MailstackEnvironment extends NodeEnvironment {
    constructor(config: JestEnvironmentConfig, context: EnvironmentContext) {
        super(config, context);
        // This module is loaded by node itself (outside any test file's module registry): its require is node's.
        this.global.mailstackWorkerRequire = require;
    }
}
