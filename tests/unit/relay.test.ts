// The smarthost and the alert webhook under Pulumi mocks: their secrets reach the server only on stdin, as secrets.

import * as pulumi from "@pulumi/pulumi";
import { RawConfig } from "../../components/config";
import { MailServer } from "../../components/mailServer";
import { installMocks, isSecretValue, Recorder, renderServer, SMALL, reveal, TYPES, valueOf } from "./harness";

const PASSWORD = "relay-pass:with colon";
const WEBHOOK = "https://hooks.example/T0KEN";

function render(extra: RawConfig, secrets: boolean): Promise<{ rec: Recorder; server: MailServer }> {
    return renderServer({ ...SMALL, ...extra },
        secrets ? { relayPassword: pulumi.secret(PASSWORD), alertWebhook: pulumi.secret(WEBHOOK) } : {});
}

beforeAll(async () => {
    await installMocks();
});

test("relay password and webhook: only in the stdin of one quiet step each, as secrets; removed with the config", async () => {
    const { rec, server } = await render({ relayHost: { host: "smtp.relay.example", username: "mailer" } }, true);
    const commands = rec.byType(TYPES.remote);
    for (const [secret, create, path] of [
        [PASSWORD, "put-map /etc/postfix/sasl_passwd 0600", "/etc/postfix/sasl_passwd"],
        [WEBHOOK, "put /etc/mailstack/alert-webhook.curl 0600 root:root", "/etc/mailstack/alert-webhook.curl"],
    ]) {
        const carriers = commands.filter((c) => JSON.stringify(reveal(c.inputs)).includes(secret));
        expect(carriers).toHaveLength(1);
        expect(isSecretValue(carriers[0].inputs.stdin)).toBe(true);
        expect(String(reveal(carriers[0].inputs.create))).toContain(create);
        expect(String(reveal(carriers[0].inputs.delete))).toContain(`rm -f ${path}`);
        expect(carriers[0].inputs.logging).toBe("none");
        expect(carriers[0].additionalSecretOutputs).toEqual(expect.arrayContaining(["stdout", "stderr"]));
        // a replacement's delete (rm) must not run after the new create
        expect(carriers[0].deleteBeforeReplace).toBe(true);
    }
    const sasl = commands.find((c) => String(reveal(c.inputs.create)).includes("sasl_passwd"));
    expect(reveal(sasl?.inputs.stdin)).toBe(`[smtp.relay.example]:587 mailer:${PASSWORD}\n`);
    // the apply of main.cf waits for the table main.cf names
    const apply = rec.named("mail-postfix-apply");
    expect(rec.waitsFor(apply).has(sasl?.urn ?? "")).toBe(true);
    expect(await valueOf(server.doctor)).toMatchObject({ relay: "smtp.relay.example:587", ssh: { host: "192.0.2.25", port: 22 } });
});

test("without relayHost and webhook: no SASL table, no webhook file; the check timer and logrotate are there", async () => {
    const { rec } = await render({}, false);
    const creates = rec.byType(TYPES.remote).map((c) => String(reveal(c.inputs.create)));
    expect(creates.filter((c) => /sasl_passwd|alert-webhook/.test(c))).toEqual([]);
    expect(creates).toEqual(expect.arrayContaining([
        expect.stringContaining("put /etc/logrotate.d/mailstack 0644"),
        expect.stringContaining("put /usr/local/sbin/mailstack-doctor 0755"),
        expect.stringContaining("mailstack-ctl start mailstack-doctor.timer"),
    ]));
    // a changed file replaces the timer step; the old step's disable must come first
    expect(rec.byType(TYPES.remote).find((c) => String(reveal(c.inputs.create)).includes("mailstack-ctl start mailstack-doctor.timer"))?.deleteBeforeReplace)
        .toBe(true);
});
