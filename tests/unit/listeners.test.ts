// The listener table drives every place a port shows up: for each imaps/smtps combination, the ports each consumer
// carries (read back from its rendered text) are exactly the ones the table gives it.

import { tcpRules } from "../../components/firewall";
import { Listener, LISTENERS, listener, listeners, tlsListeners } from "../../components/listeners";
import { dovecotConf } from "../../components/render/dovecot";
import { jail } from "../../components/render/fail2ban";
import { doctorConf } from "../../components/render/ops";
import { masterCf } from "../../components/render/postfix";
import { clientSettings, dnsRecords } from "../../components/render/records";
import { controllerConf, controllerHash, PORTS, rspamdFiles } from "../../components/render/rspamd";
import { SRS_FORWARD_MAP, SRS_REVERSE_MAP } from "../../components/render/srs";
import { autodiscoverTemplate, nginxConf, thunderbirdConfig, WebInput } from "../../components/render/web";
import { config, dovecotInput, postfixInput } from "../render/fixture";

const TLS = { certFile: "/etc/c.pem", keyFile: "/etc/k.pem" };
const sorted = (ports: Iterable<number>): number[] => [...new Set(ports)].sort((a, b) => a - b);
const numbers = (text: string, re: RegExp): number[] => [...text.matchAll(re)].map((m) => Number(m[1]));
const of = (ls: Listener[]): number[] => sorted(ls.map((l) => l.port));

describe("the listener table", () => {
    test("one entry per port and per service name; a flag only switches an implicit-TLS client port", () => {
        expect(new Set(LISTENERS.map((l) => l.port)).size).toBe(LISTENERS.length);
        expect(new Set(LISTENERS.map((l) => l.service)).size).toBe(LISTENERS.length);
        expect(LISTENERS.map((l) => l.port)).toEqual(sorted(LISTENERS.map((l) => l.port)));
        for (const l of LISTENERS.filter((x) => x.flag !== undefined)) {
            expect({ service: l.service, tls: l.tls, client: l.client !== undefined }).toEqual({ service: l.service, tls: "implicit", client: true });
        }
        // a loopback listener is never banned, offered or probed
        for (const l of LISTENERS.filter((x) => x.access === "loopback")) {
            expect({ service: l.service, banned: l.banned, client: l.client, tls: l.tls }).toEqual({ service: l.service, banned: false, client: undefined, tls: "none" });
        }
        expect(() => listener("pop3")).toThrow(/no listener "pop3"/);
    });
});

describe.each([[false, false], [true, false], [false, true], [true, true]])("imaps=%s smtps=%s", (imaps, smtps) => {
    const c = config({ imaps, smtps });
    const on = listeners(c);
    const where = (f: (l: Listener) => boolean): number[] => of(on.filter(f));
    const web: WebInput = { hostname: c.hostname, baseDomain: c.baseDomain, virtualDomains: c.virtualDomains, imaps, smtps,
        mtaSts: c.mtaSts, webmail: false, ...TLS, domainCerts: {} };

    test("firewall: every listener not on loopback; SSH from the admins only", () => {
        const rules = tcpRules({ adminCidrs: ["198.51.100.0/24"], imaps, smtps });
        expect(sorted(rules.map((r) => Number(r.port)))).toEqual(where((l) => l.access !== "loopback"));
        expect(rules.filter((r) => r.sourceIps.includes("198.51.100.0/24")).map((r) => r.port)).toEqual(["22"]);
    });

    test("fail2ban: a ban closes every port users log in on", () => {
        const text = jail({ maxRetry: 5, findTime: 600, banTime: 3600, ignore: [], imaps, smtps, webmail: false });
        const ports = (/port="([\d,]+)"/.exec(text) as RegExpExecArray)[1].split(",").map(Number);
        expect(ports).toEqual(where((l) => l.banned));
    });

    test("postfix: master.cf has an inet service for each postfix listener, by its service name", () => {
        const names = [...masterCf(postfixInput(c, TLS)).matchAll(/^(\S+)\s+inet\s/gm)].map((m) => m[1]);
        expect(sorted(names.map((n) => listener(n).port))).toEqual(where((l) => l.daemon === "postfix"));
        // implicit TLS where the table says so
        expect(masterCf(postfixInput(c, TLS)).includes("smtpd_tls_wrappermode=yes")).toBe(smtps);
    });

    test("dovecot: its inet listeners (port 0 is off)", () => {
        const text = dovecotConf(dovecotInput(c, "2.4", { ...TLS, passwdFile: "/etc/dovecot/users" }));
        expect(sorted(numbers(text, /^\s+port = (\d+)$/gm).filter((p) => p !== 0))).toEqual(where((l) => l.daemon === "dovecot"));
    });

    test("nginx: port 80 before the certificate, 80 and 443 after", () => {
        expect(sorted(numbers(nginxConf(web, false), /listen (?:\[::\]:)?(\d+)/g))).toEqual([listener("http").port]);
        expect(sorted(numbers(nginxConf(web, true), /listen (?:\[::\]:)?(\d+)/g))).toEqual(where((l) => l.daemon === "nginx"));
    });

    test("SRV records, autoconfig, autodiscover and clientSettings: the client ports that are on", () => {
        const clients = where((l) => l.client !== undefined);
        const srv = dnsRecords(c, "192.0.2.1").filter((r) => r.type === "SRV" && r.name.endsWith(".example.net"));
        // every client listener has its record; one that is off says "not offered"
        expect(srv.map((r) => r.name).sort()).toEqual(LISTENERS.filter((l) => l.client !== undefined)
            .map((l) => `_${l.service}._tcp.example.net`).sort());
        expect(sorted(srv.filter((r) => r.value !== "0 0 0 .").map((r) => Number(r.value.split(" ")[2])))).toEqual(clients);
        expect(sorted(numbers(thunderbirdConfig(web, "example.net"), /<port>(\d+)<\/port>/g))).toEqual(clients);
        const s = clientSettings(c);
        expect(sorted([s.imap, s.smtp, s.imaps, s.smtps].flatMap((x) => (x === undefined ? [] : [x.port])))).toEqual(clients);
        // Outlook takes the preferred one of each kind: implicit TLS when it is on
        expect(numbers(autodiscoverTemplate(web), /<Port>(\d+)<\/Port>/g)).toEqual([imaps ? 993 : 143, smtps ? 465 : 587]);
    });

    test("doctor: every port that serves the certificate, with how TLS starts and the daemon that serves it", () => {
        const conf = doctorConf({ doctor: c.doctor, certs: c.certificate.lineages, ports: tlsListeners(c), backup: false, units: [] });
        const specs = (/^TLS_PORTS='([^']*)'$/m.exec(conf) as RegExpExecArray)[1].split(" ");
        expect(specs.map((x) => Number(x.split(":")[0]))).toEqual(where((l) => l.tls !== "none"));
        for (const spec of specs) {
            const [port, how, daemon] = spec.split(":");
            const l = on.find((x) => x.port === Number(port)) as Listener;
            expect({ how, daemon }).toEqual({ how: l.tls === "implicit" ? "implicit" : l.protocol, daemon: l.daemon });
        }
    });

    test("smtps and imaps add their port to every consumer, and off remove it from all", () => {
        const has = (port: number): Record<string, boolean> => ({
            firewall: tcpRules({ adminCidrs: [], imaps, smtps }).some((r) => r.port === String(port)),
            jail: new RegExp(`port="[\\d,]*\\b${port}\\b`).test(jail({ maxRetry: 5, findTime: 600, banTime: 3600, ignore: [], imaps, smtps, webmail: false })),
            listener: port === 465 ? /^submissions\s+inet/m.test(masterCf(postfixInput(c, TLS)))
                : dovecotConf(dovecotInput(c, "2.4", { ...TLS, passwdFile: "/p" })).includes(`port = ${port}\n`),
            srv: dnsRecords(c, "192.0.2.1").some((r) => r.type === "SRV" && r.value.includes(` ${port} `)),
            autoconfig: thunderbirdConfig(web, "example.org").includes(`<port>${port}</port>`),
            clientSettings: JSON.stringify(clientSettings(c)).includes(`"port":${port}`),
            doctor: doctorConf({ doctor: c.doctor, certs: c.certificate.lineages, ports: tlsListeners(c), backup: false, units: [] })
                .includes(` ${port}:implicit:`),
        });
        const all = (v: boolean): Record<string, boolean> => ({ firewall: v, jail: v, listener: v, srv: v, autoconfig: v,
            clientSettings: v, doctor: v });
        expect(has(465)).toEqual(all(smtps));
        expect(has(993)).toEqual(all(imaps));
    });
});

test("loopback: rspamd's, redis's and postsrsd's ports come from the table", () => {
    const files = rspamdFiles({ hostname: "mail.example.org", baseDomain: "example.org", domains: ["example.org"], selector: "s",
        addHeaderScore: 6, rejectScore: 15, greylisting: false, blocklists: [] });
    const bound = sorted([...Object.values(files), controllerConf(controllerHash("x".repeat(16), new Uint8Array(20)))].flatMap((t) => numbers(t, /127\.0\.0\.1:(\d+)/g)));
    expect(bound).toEqual(of(LISTENERS.filter((l) => l.daemon === "rspamd" || l.daemon === "redis")));
    expect(bound).toEqual(sorted(Object.values(PORTS)));
    expect(sorted(numbers(`${SRS_FORWARD_MAP} ${SRS_REVERSE_MAP}`, /127\.0\.0\.1:(\d+)/g)))
        .toEqual(of(LISTENERS.filter((l) => l.daemon === "postsrsd")));
    // rspamadm sends its DMARC reports where mailstack-dmarc-report listens, which its unit names
    const reporter = of(LISTENERS.filter((l) => l.daemon === "mailstack-dmarc-report"));
    expect(numbers(files["local.d/dmarc.conf"], /smtp_port = (\d+)/g)).toEqual(reporter);
});
