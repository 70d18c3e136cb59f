// The schema (components/schema.ts) is the one declaration of the config keys: Pulumi.yaml and the README are
// generated from it, and every problem of a config is reported at once.

import { readFileSync } from "fs";
import * as path from "path";
import { ConfigError, parseConfig } from "../../components/config";
import { Schema, SECRET_KEYS } from "../../components/schema";
import { GENERATED } from "../../scripts/schema";
import { VALID } from "../fixtures/config";

describe("generated from the schema", () => {
    test.each(GENERATED.map((g) => [g.file, g] as const))("%s is as the schema gives it", (file, g) => {
        const committed = readFileSync(path.join(__dirname, "..", "..", file), "utf8");
        if (g.render(committed) !== committed) {
            throw new Error(`${file} differs from what components/schema.ts gives: run \`npm run schema\` and commit it`);
        }
    });

    test("every key has a description; the secrets are exactly the keys read as Pulumi secrets", () => {
        for (const [key, s] of Object.entries(Schema.shape)) {
            expect([key, typeof s.meta()?.description]).toEqual([key, "string"]);
        }
        expect(SECRET_KEYS.sort()).toEqual(["alertWebhook", "backupPassword", "backupS3SecretKey", "backupSshKey",
            "dnsKey", "relayPassword", "sshPrivateKey"]);
    });
});

test("three bad values: three lines, each naming its key and value", () => {
    let error: unknown;
    try {
        parseConfig({ ...VALID, imaps: "yes", bruteForce: { maxRetry: 0 }, host: { kind: "existing", address: "x" } });
    } catch (e) {
        error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message.split("\n")).toEqual([
        'mailstack:host.address: "x" is not an IPv4 address (it becomes the A record and PTR of the hostname)',
        'mailstack:imaps: expected true or false, got "yes"',
        "mailstack:bruteForce.maxRetry: expected a whole number of at least 1, got 0",
    ]);
});
