// Reads the `mailstack:*` keys of the schema from the Pulumi stack config and validates all of them, the secrets
// included, before the program creates any resource. Kept apart from config.ts, which stays free of Pulumi.

import * as pulumi from "@pulumi/pulumi";
import { ConfigError, MailConfig, parseConfig, RawConfig, secretRules } from "./config";
import { plainKeys, SECRET_KEYS, SecretKey } from "./schema";

/** The config, and each secret key of the schema that is set, as a Pulumi secret. */
export type StackConfig = { config: MailConfig } & { [K in SecretKey]?: pulumi.Output<string> };

/**
 * As read, but a bad value stops the program as a pulumi.RunError: the engine then prints the lines that name
 * key and value, without a stack trace.
 */
export function readStackConfig(cfg: pulumi.Config): StackConfig {
    try {
        return read(cfg);
    } catch (e) {
        if (e instanceof ConfigError) {
            throw new pulumi.RunError(e.message);
        }
        throw e;
    }
}

function read(cfg: pulumi.Config): StackConfig {
    // Every plain key of the schema; a string-typed one as written, the others as JSON.
    const raw: RawConfig = Object.fromEntries(plainKeys().map(([key, type]) =>
        [key, type === "string" ? cfg.get(key) : cfg.getObject(key)]));
    const config = parseConfig(raw);
    // Validated from the plain values, passed on only as secrets.
    const plain = Object.fromEntries(SECRET_KEYS.map((k) => [k, cfg.get(k)])) as Partial<Record<SecretKey, string>>;
    let problems = secretRules(config, plain);
    const noKey = problems.find((p) => p.key === "sshPrivateKey");
    // A preview runs no remote command, so it can show the plan; `up` refuses before touching anything.
    if (noKey !== undefined && pulumi.runtime.isDryRun()) {
        problems = problems.filter((p) => p !== noKey);
        void pulumi.log.warn(`${noKey.line}; this preview goes on, \`pulumi up\` will refuse`);
    }
    if (problems.length > 0) {
        throw ConfigError.of(problems);
    }
    const secrets: StackConfig = { config };
    for (const k of SECRET_KEYS as SecretKey[]) {
        secrets[k] = plain[k] === undefined ? undefined : cfg.requireSecret(k);
    }
    if (noKey !== undefined) {
        secrets.sshPrivateKey = pulumi.secret(pulumi.output(pulumi.unknown as unknown as string));
    }
    return secrets;
}
