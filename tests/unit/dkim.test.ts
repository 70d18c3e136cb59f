// DKIM keys under Pulumi mocks: one secret key resource per domain and selector, written for rspamd only for the
// signing selector (0640, root:_rspamd); a rotation publishes the next selector's records first. The provider
// itself makes real 2048-bit keys and replaces a key only when its domain or selector changes.

import { createPublicKey } from "crypto";
import { RawConfig } from "../../components/config";
import { dkimKeyProvider } from "../../components/dkim";
import { MailServer } from "../../components/mailServer";
import { installMocks, isSecretValue, Recorder, renderServer, SMALL, reveal, TYPES, valueOf } from "./harness";

function render(extra: Partial<RawConfig>): Promise<{ rec: Recorder; server: MailServer }> {
    return renderServer({ ...SMALL, ...extra });
}

beforeAll(async () => {
    await installMocks();
});

test("default selector: a secret key per domain, its file for rspamd only, its record published", async () => {
    const { rec, server } = await render({});
    const keys = rec.byType(TYPES.dkimKey);
    expect(keys.map((k) => [k.inputs.domain, k.inputs.selector]).sort()).toEqual([["example.net", "mailstack"], ["example.org", "mailstack"]]);
    for (const k of keys) {
        expect(k.additionalSecretOutputs).toContain("privateKey");
        expect(isSecretValue(k.state.privateKey)).toBe(true);
    }
    const puts = rec.byType(TYPES.remote).filter((r) => String(r.inputs.create).includes("/var/lib/rspamd/dkim/"));
    expect(puts.map((r) => r.inputs.create).sort()).toEqual([
        "/usr/local/sbin/mailstack-ctl put /var/lib/rspamd/dkim/example.net.mailstack.key 0640 root:_rspamd",
        "/usr/local/sbin/mailstack-ctl put /var/lib/rspamd/dkim/example.org.mailstack.key 0640 root:_rspamd",
    ]);
    // the key reaches the server only on stdin, as a secret
    for (const p of puts) {
        expect(isSecretValue(p.inputs.stdin)).toBe(true);
        expect(String(reveal(p.inputs.stdin))).toMatch(/^-----BEGIN RSA PRIVATE KEY-----/);
    }
    const names = (await valueOf(server.dnsRecords)).filter((r) => r.name.includes("._domainkey.")).map((r) => r.name).sort();
    expect(names).toEqual(["mailstack._domainkey.example.net", "mailstack._domainkey.example.org"]);
});

test("rotation: nextSelector is published (its own key) but does not sign, and its key is not on the server yet", async () => {
    const { rec, server } = await render({ dkim: { selector: "mailstack", nextSelector: "m2027" } });
    expect(rec.byType(TYPES.dkimKey).map((k) => `${String(k.inputs.selector)}/${String(k.inputs.domain)}`).sort())
        .toEqual(["m2027/example.net", "m2027/example.org", "mailstack/example.net", "mailstack/example.org"]);
    const records = (await valueOf(server.dnsRecords)).filter((r) => r.name.includes("._domainkey."));
    expect(records.map((r) => r.name).sort()).toEqual(["m2027._domainkey.example.net", "m2027._domainkey.example.org",
        "mailstack._domainkey.example.net", "mailstack._domainkey.example.org"]);
    const keyFiles = rec.byType(TYPES.remote).map((r) => String(r.inputs.create)).filter((c) => c.includes("/var/lib/rspamd/dkim/"));
    expect(keyFiles.every((c) => c.includes(".mailstack.key"))).toBe(true);
    const signing = rec.byType(TYPES.remote).find((r) => String(r.inputs.create).endsWith("/etc/rspamd/local.d/dkim_signing.conf 0644 root:root"));
    expect(String(signing?.inputs.stdin)).toContain('selector = "mailstack";');
    expect(String(signing?.inputs.stdin)).not.toContain("m2027");
});

test("the promoted selector keeps its key: the resource is named by selector and domain, not by role", async () => {
    const before = (await render({ dkim: { selector: "mailstack", nextSelector: "m2027" } })).rec.byType(TYPES.dkimKey)
        .map((k) => k.name);
    const after = (await render({ dkim: { selector: "m2027" } })).rec.byType(TYPES.dkimKey).map((k) => k.name);
    expect(after.every((n) => before.includes(n))).toBe(true);
    expect(after.sort()).toEqual(["mail-dkim-m2027-example.net", "mail-dkim-m2027-example.org"]);
});

test("the provider: a real 2048-bit RSA pair, p= the DER SubjectPublicKeyInfo; replaced only for another domain or selector", async () => {
    const created = await dkimKeyProvider.create({ domain: "example.org", selector: "mailstack" });
    const made = { id: created.id, outs: created.outs ?? (() => { throw new Error("no outputs"); })() };
    const pub = createPublicKey({ key: Buffer.from(made.outs.publicKey, "base64"), format: "der", type: "spki" });
    expect(pub.asymmetricKeyType).toBe("rsa");
    expect(pub.asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(made.outs.privateKey).toMatch(/^-----BEGIN RSA PRIVATE KEY-----\n/);
    const diff = dkimKeyProvider.diff;
    if (diff === undefined) throw new Error("no diff");
    expect(await diff(made.id, made.outs, { domain: "example.org", selector: "mailstack" })).toMatchObject({ changes: false });
    expect(await diff(made.id, made.outs, { domain: "example.org", selector: "m2" })).toMatchObject({ changes: true, replaces: ["selector"] });
});
