// The server's resolver config, read by the suite's own unbound-checkconf: alone, and as Debian's unbound.conf
// includes it (with the packaged root trust anchor and control socket beside it).

import { RESOLVER_ADDRESS, resolvConf, unboundConf } from "../../components/render/resolver";
import { ids, ROOTFS_TIMEOUT_MS, Sandbox, SUITE } from "./debian";

describe(`unbound on ${SUITE}`, () => {
    let sb: Sandbox;
    beforeAll(() => {
        sb = Sandbox.open();
    }, ROOTFS_TIMEOUT_MS);
    afterAll(() => sb?.close());

    test("unbound-checkconf accepts the drop-in alone, and inside Debian's config as the service starts it", () => {
        const alone = sb.write("alone.conf", unboundConf());
        const r = sb.run(["unbound-checkconf", alone]);
        expect({ status: r.status, out: r.stdout + r.stderr }).toEqual({ status: 0, out: expect.stringContaining("no errors") });
        // Debian's unbound.conf includes unbound.conf.d/*.conf: the packaged files, then ours. The root anchor file
        // those name is made by the unit's ExecStartPre (unbound-helper, from dns-root-data): run it first.
        const mine = sb.write("mailstack.conf", unboundConf());
        const whole = sb.write("unbound.conf", 'include-toplevel: "/etc/unbound/unbound.conf.d/*.conf"\n' +
            `include-toplevel: "${mine}"\n`);
        const u = ids(sb.root, "unbound");
        const options = ["interface", "module-config", "val-permissive-mode", "auto-trust-anchor-file", "control-enable"];
        const ran = sb.isolated(`
            hide var/lib/unbound 0755 ${u.uid}:${u.gid}
            step helper in_root /usr/libexec/unbound-helper root_trust_anchor_update
            step check in_root unbound-checkconf ${whole}
            ${options.map((o) => `step ${o} in_root unbound-checkconf -o ${o} ${whole}`).join("\n")}`);
        expect(ran.status).toBe(0);
        expect(sb.step("helper")).toMatchObject({ status: 0 });
        expect(sb.step("check")).toMatchObject({ status: 0, stdout: expect.stringContaining("no errors") });
        const option = (o: string): string => sb.step(o).stdout.trim();
        // loopback only (never an open resolver), validating, with the packaged root anchor and control socket
        expect(option("interface")).toBe(RESOLVER_ADDRESS);
        expect(option("module-config")).toBe("validator iterator");
        expect(option("val-permissive-mode")).toBe("no");
        expect(option("auto-trust-anchor-file")).toMatch(/\/var\/lib\/unbound\/root\.key$/);
        expect(option("control-enable")).toBe("yes");
    });

    test("a broken drop-in is refused by the same check mailstack-ctl runs", () => {
        const bad = sb.write("bad.conf", unboundConf().replace("val-permissive-mode: no", "val-permissive-mode: perhaps"));
        expect(sb.run(["unbound-checkconf", bad]).status).not.toBe(0);
    });

    test("resolv.conf names unbound and nothing else", () => {
        const servers = resolvConf().split("\n").filter((l) => l.startsWith("nameserver"));
        expect(servers).toEqual([`nameserver ${RESOLVER_ADDRESS}`]);
    });
});
