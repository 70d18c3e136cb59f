// Forwarding with SRS (components/render/srs.ts), checked by the suite's own postfix and postsrsd: the maps as
// postconf expands them from main.cf, the pipe service as postconf parses master.cf, postsrsd started by Debian's
// launcher from the rendered defaults (in its own network namespace), and the pipe's script on both branches that
// need no running postfix.

import { mainCf, masterCf } from "../../components/render/postfix";
import { postsrsdDefaults, SRS_FILES, SRS_FORWARD_MAP, srsForwardScript, SRS_TRANSPORT, SRS_USER } from "../../components/render/srs";
import { problems, Result, ROOTFS_TIMEOUT_MS, Sandbox, shq, SUITE } from "./debian";
import { config, postfixInput } from "./fixture";

const c = config();
const input = postfixInput(c, { certFile: "/etc/ssl/none.pem", keyFile: "/etc/ssl/none.key" });

describe(`SRS on ${SUITE}`, () => {
    let sb: Sandbox;
    let dir: string;
    const postconf = (...args: string[]): Result => sb.run(["postconf", "-c", dir, ...args]);
    /** A main.cf parameter as postfix uses it ($$ is a literal $). */
    const expanded = (name: string): string => postconf("-x", "-h", name).stdout.trim();
    const lookup = (key: string, table: string): Result => sb.run(["postmap", "-c", dir, "-q", key, table]);

    beforeAll(() => {
        sb = Sandbox.open();
        dir = sb.write("postfix/main.cf", mainCf(input)).replace(/\/main\.cf$/, "");
        sb.write("postfix/master.cf", masterCf(input));
        sb.write("postsrsd", postsrsdDefaults({ baseDomain: c.baseDomain, hostname: c.hostname, virtualDomains: c.virtualDomains }));
        sb.write("srs-forward", srsForwardScript(), 0o755);
    }, ROOTFS_TIMEOUT_MS);

    afterAll(() => sb?.close());

    test("postconf reads main.cf and master.cf without a warning", () => {
        for (const r of [postconf("-n"), postconf("-M"), postconf("-P")]) {
            expect({ status: r.status, problems: problems(r.stderr) }).toEqual({ status: 0, problems: [] });
        }
    });

    test("only an outside sender goes to the srs transport; ours and the null sender keep the default", () => {
        const map = expanded("sender_dependent_default_transport_maps");
        const at = (key: string): string => {
            const r = lookup(key, map);
            expect(r.stderr).toBe("");
            return r.status === 0 ? r.stdout.trim() : "(not found)";
        };
        expect(at("carl@smarthost.test")).toBe(`${SRS_TRANSPORT}:`);
        expect(at("Carl@Outside.Example")).toBe(`${SRS_TRANSPORT}:`);
        // a domain that merely starts or ends like ours is not ours
        expect(at("x@example.org.evil.test")).toBe(`${SRS_TRANSPORT}:`);
        expect(at("x@notexample.org")).toBe(`${SRS_TRANSPORT}:`);
        for (const own of ["bob@example.net", "DAVE@EXAMPLE.COM", "alice@example.org", "root@mail.example.org"]) {
            expect(at(own)).toBe("DUNNO");
        }
        // postfix looks the null sender up as "<>"
        expect(at("<>")).toBe("(not found)");
    });

    test("the srs service is a pipe run as postsrsd's user, with the sender and recipients as argv", () => {
        const svc = postconf("-M", `${SRS_TRANSPORT}/unix`).stdout.trim().split(/\s+/);
        expect(svc.slice(0, 2)).toEqual([SRS_TRANSPORT, "unix"]);
        expect(svc[7]).toBe("pipe");
        const args = svc.slice(8).join(" ");
        expect(args).toContain(`user=${SRS_USER}`);
        expect(args).toContain(`argv=${SRS_FILES.forward} \${sender} \${recipient}`);
    });

    test("only SRS addresses of the base domain are asked of postsrsd's reverse map", () => {
        const map = expanded("recipient_canonical_maps");
        expect(postconf("-h", "recipient_canonical_classes").stdout.trim()).toBe("envelope_recipient");
        // nothing listens here: a lookup that reached the tcp table would fail with an error, not "not found" (that
        // SRS addresses of the base domain do reach it is the round trip below)
        for (const key of ["bob@example.net", "SRS0=abcd=AB=outside.example=carl@example.net", "srs@example.org"]) {
            expect({ key, ...lookup(key, map) }).toEqual({ key, status: 1, stdout: "", stderr: "" });
        }
    });

    test("postsrsd, started by Debian's launcher from the rendered defaults: a round trip through main.cf's maps", () => {
        const reverse = expanded("recipient_canonical_maps");
        const r = sb.isolated(`
mount --bind "$W/postsrsd" "$ROOT/etc/default/postsrsd"
# the pipe before postsrsd runs: nothing to ask, so the message is deferred (75)
printf 'Subject: x\\n\\nbody\\n' > "$W/plain.eml"
printf 'Subject: y\\nX-Spam: Yes\\n\\nbody\\n' > "$W/spam.eml"
step nosrs sh -c 'chroot "$1" "$2/srs-forward" carl@smarthost.test bob.away@smarthost.test < "$3/plain.eml"' x "$ROOT" "$I" "$W"
step spam sh -c 'chroot "$1" "$2/srs-forward" carl@smarthost.test bob.away@smarthost.test < "$3/spam.eml"' x "$ROOT" "$I" "$W"
in_root /usr/share/postsrsd/postsrsd-systemd-launcher >"$W/postsrsd.log" 2>&1 &
for i in $(seq 100); do
    in_root postmap -c "$I/postfix" -q probe@probe.test ${SRS_FORWARD_MAP} >/dev/null 2>&1 && break
    sleep 0.1
done
step forward in_root postmap -c "$I/postfix" -q carl@smarthost.test ${SRS_FORWARD_MAP}
step own in_root postmap -c "$I/postfix" -q bob@example.net ${SRS_FORWARD_MAP}
step host in_root postmap -c "$I/postfix" -q root@mail.example.org ${SRS_FORWARD_MAP}
step reverse in_root postmap -c "$I/postfix" -q "$(cat "$W/steps/forward.out")" ${shq(reverse)}
`);
        expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: "" });
        expect(sb.step("nosrs").status).toBe(75);
        expect(sb.step("spam").status).toBe(0);
        const forward = sb.step("forward");
        expect(forward.status).toBe(0);
        expect(forward.stdout.trim()).toMatch(/^SRS0=[^=@]+=[^=@]+=smarthost\.test=carl@example\.org$/);
        // our own domains are excluded: postsrsd does not rewrite them even when asked
        expect(sb.step("own").status).toBe(1);
        expect(sb.step("host").status).toBe(1);
        expect(sb.step("reverse")).toMatchObject({ status: 0, stdout: "carl@smarthost.test\n" });
    });
});
