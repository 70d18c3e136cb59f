// `npm run doctor -- --stack NAME [--json]`: checks the live server against what the stack says it should be.
// From outside: every DNS record of `dnsRecords` as published, the certificate each port really serves, the sending
// addresses on DNS blocklists. From inside (over ssh): files/mailstack-doctor, the same script the server's timer
// runs. Exit status 1 when any check fails.

import { execFileSync } from "child_process";
import { createHash, X509Certificate } from "crypto";
import { Resolver } from "dns/promises";
import { readFileSync } from "fs";
import * as net from "net";
import * as path from "path";
import * as tls from "tls";
import { Client } from "ssh2";
import { DoctorTarget } from "../components/mailServer";
import { DnsRecord } from "../components/render/records";
import { Listener, tlsStart } from "../components/listeners";

/** info: what the server reports without judging it (the DMARC and TLS reports that came, when nothing failed). */
export type Status = "ok" | "fail" | "warn" | "skip" | "info";

export interface Check {
    check: string;
    status: Status;
    detail: string;
}

const ROOT = path.join(__dirname, "..");

// ---------------------------------------------------------------- DNS

const norm = (name: string): string => name.toLowerCase().replace(/\.$/, "");

function errCode(e: unknown): string {
    return typeof e === "object" && e !== null && "code" in e ? String((e).code) : String(e);
}

/** What the resolver answers for one record's name and type, as strings comparable with DnsRecord.value. */
async function published(r: Resolver, rec: DnsRecord): Promise<string[]> {
    switch (rec.type) {
        case "A":
            return r.resolve4(rec.name);
        case "AAAA":
            return r.resolve6(rec.name);
        case "MX":
            return (await r.resolveMx(rec.name)).map((m) => `${m.priority} ${norm(m.exchange)}.`);
        case "TXT":
            // A long TXT record is several strings of at most 255 characters, read as one.
            return (await r.resolveTxt(rec.name)).map((chunks) => chunks.join(""));
        case "PTR":
            // A DNS query: reverse() would read /etc/hosts first.
            return (await r.resolvePtr(arpa(rec.name))).map(norm);
        case "SRV":
            // "0 0 0 ." is RFC 6186's "not offered": the root as target comes back as an empty name.
            return (await r.resolveSrv(rec.name)).map((v) => `${v.priority} ${v.weight} ${v.port} ${norm(v.name)}.`);
        case "CAA":
            return (await r.resolveCaa(rec.name)).filter((v) => v.issue !== undefined)
                .map((v) => `${v.critical} issue "${v.issue}"`);
        case "TLSA":
            return (await r.resolveTlsa(rec.name)).map((v) =>
                `${v.certUsage} ${v.selector} ${v.match} ${Buffer.from(v.data).toString("hex")}`);
    }
}

/**
 * A published SPF record against the one dnsRecords asks for, as a set: every mechanism we need must be there (the
 * admin may add others, such as a newsletter service's include:); the record must end in -all or ~all (a warning):
 * +all, ?all or no all at all let anyone send as the domain. Two v=spf1 records are none (RFC 7208 4.5).
 */
export function compareSpf(want: string, published: string[]): { status: Status; detail: string } {
    const terms = (v: string): string[] => v.toLowerCase().trim().split(/\s+/).slice(1);
    const records = published.filter((v) => /^v=spf1(\s|$)/i.test(v.trim()));
    if (records.length === 0) {
        return { status: "fail", detail: `no SPF record; expected ${JSON.stringify(want)}` };
    }
    if (records.length > 1) {
        return { status: "fail", detail: `${records.map((v) => JSON.stringify(v)).join(" and ")}: two v=spf1 records are none` };
    }
    const got = terms(records[0]);
    const all = got.find((t) => /^[-~?+]?all$/.test(t));
    const needed = terms(want).filter((t) => !/^[-~?+]?all$/.test(t));
    const missing = needed.filter((t) => !got.includes(t));
    if (missing.length > 0) {
        return { status: "fail", detail: `published ${JSON.stringify(records[0])}, missing ${missing.join(" ")}; expected ${JSON.stringify(want)}` };
    }
    if (all === undefined || all === "all" || all === "+all" || all === "?all") {
        const redirect = got.some((t) => t.startsWith("redirect="));
        if (all !== undefined || !redirect) {
            return { status: "fail", detail: `published ${JSON.stringify(records[0])}: ${all ?? "no all"} lets any server send as the domain; ` +
                `expected ${JSON.stringify(want)}` };
        }
    }
    const extra = got.filter((t) => !needed.includes(t) && t !== all);
    if (all === "~all") {
        return { status: "warn", detail: `published ${JSON.stringify(records[0])}: ~all (soft fail), we publish -all` };
    }
    return { status: "ok", detail: extra.length > 0 ? `${records[0]} (with ${extra.join(" ")} besides ours)` : records[0] };
}

export async function checkRecord(r: Resolver, rec: DnsRecord): Promise<Check> {
    const check = `dns:${rec.type} ${rec.name}`;
    const want = rec.type === "PTR" ? norm(rec.value) : rec.value;
    let got: string[];
    try {
        got = await published(r, rec);
    } catch (e) {
        const code = errCode(e);
        const why = code === "ENOTFOUND" ? "the name does not exist (NXDOMAIN)"
            : code === "ENODATA" ? `no ${rec.type} record` : `lookup failed (${code})`;
        return { check, status: "fail", detail: `not published: ${why}; expected ${JSON.stringify(want)}` };
    }
    if (rec.type === "TXT" && /^v=spf1 /.test(want)) {
        return { check, ...compareSpf(want, got) };
    }
    if (got.includes(want)) {
        // For SPF and DMARC, a second record of the same kind breaks them both (RFC 7208 4.5, RFC 7489 6.6.3).
        const kind = want.split(/[ ;]/)[0];
        const rivals = rec.type === "TXT" && /^v=/.test(kind) ? got.filter((v) => v !== want && v.split(/[ ;]/)[0] === kind) : [];
        if (rivals.length > 0) {
            return { check, status: "fail", detail: `published, but also ${JSON.stringify(rivals[0])}: two ${kind} records are none` };
        }
        const extra = rec.type === "MX" || rec.type === "A" ? got.filter((v) => v !== want) : [];
        return { check, status: extra.length > 0 ? "warn" : "ok",
            detail: extra.length > 0 ? `published, with others too: ${extra.join(", ")}` : want };
    }
    const same = rec.type === "TXT" ? got.filter((v) => v.split(/[ ;]/)[0] === want.split(/[ ;]/)[0]) : got;
    return { check, status: "fail",
        detail: `published ${JSON.stringify(same.length > 0 ? same.join(" | ") : got.join(" | "))}, expected ${JSON.stringify(want)}` };
}

/** 127.0.0.x (x < 255 and not the error range) = listed; Spamhaus' 127.255.255.x answers are errors, not listings. */
export function readBlocklistAnswer(addresses: string[]): { listed: boolean; error?: string } {
    const errors = addresses.filter((a) => a.startsWith("127.255.255."));
    const listings = addresses.filter((a) => a.startsWith("127.") && !a.startsWith("127.255.255."));
    if (listings.length > 0) {
        return { listed: true };
    }
    if (errors.length > 0) {
        const why: Record<string, string> = {
            "127.255.255.252": "typing error in the DNSBL name", "127.255.255.254": "query via a public/open resolver refused",
            "127.255.255.255": "excessive number of queries",
        };
        return { listed: false, error: `${errors[0]} (${why[errors[0]] ?? "error code"})` };
    }
    return { listed: false, error: addresses.length > 0 ? `unexpected answer ${addresses.join(", ")}` : undefined };
}

export function reversed(ip: string): string {
    if (net.isIPv4(ip)) {
        return ip.split(".").reverse().join(".");
    }
    // IPv6: every nibble, reversed (RFC 5782 2.4)
    const halves = ip.split("::");
    const groups = (s: string): string[] => (s === "" ? [] : s.split(":"));
    const head = groups(halves[0]);
    const tail = halves.length > 1 ? groups(halves[1]) : [];
    const full = [...head, ...Array<string>(8 - head.length - tail.length).fill("0"), ...tail];
    return full.map((g) => g.padStart(4, "0")).join("").split("").reverse().join(".");
}

export function arpa(ip: string): string {
    return `${reversed(ip)}.${net.isIPv4(ip) ? "in-addr" : "ip6"}.arpa`;
}

export async function checkBlocklist(r: Resolver, ip: string, zone: string): Promise<Check> {
    const check = `blocklist ${zone}`;
    let answer: string[];
    try {
        answer = await r.resolve4(`${reversed(ip)}.${zone}`);
    } catch (e) {
        const code = errCode(e);
        if (code === "ENOTFOUND" || code === "ENODATA") {
            return { check, status: "ok", detail: `${ip} not listed` };
        }
        return { check, status: "warn", detail: `${ip}: lookup failed (${code}), not known whether listed` };
    }
    const read = readBlocklistAnswer(answer);
    if (read.listed) {
        return { check, status: "fail", detail: `${ip} is LISTED (${answer.join(", ")})` };
    }
    return { check, status: "warn", detail: `${ip}: the list answered ${read.error}: not a listing, but no answer either` };
}

// ---------------------------------------------------------------- TLS

function readLine(sock: net.Socket, until: (line: string) => boolean): Promise<void> {
    return new Promise((resolve, reject) => {
        let buf = "";
        const onData = (d: Buffer): void => {
            buf += d.toString("latin1");
            const lines = buf.split("\r\n");
            buf = lines.pop() ?? "";
            for (const l of lines) {
                if (until(l)) {
                    sock.off("data", onData);
                    resolve();
                    return;
                }
            }
        };
        sock.on("data", onData);
        sock.once("error", reject);
        sock.once("close", () => reject(new Error("connection closed")));
    });
}

/** The certificate a port serves, after STARTTLS where the protocol needs it. */
export async function servedCertificate(host: string, servername: string, p: Pick<Listener, "port" | "tls" | "protocol">):
    Promise<tls.PeerCertificate> {
    const plain = await new Promise<net.Socket>((resolve, reject) => {
        const s = net.connect({ host, port: p.port, timeout: 10000 }, () => resolve(s));
        s.once("error", reject);
        s.once("timeout", () => s.destroy(new Error("timeout")));
    });
    try {
        const how = tlsStart(p);
        if (how === "smtp") {
            await readLine(plain, (l) => /^220 /.test(l));
            plain.write("EHLO doctor.invalid\r\n");
            await readLine(plain, (l) => /^250 /.test(l));
            plain.write("STARTTLS\r\n");
            await readLine(plain, (l) => /^220 /.test(l));
        } else if (how === "imap") {
            await readLine(plain, (l) => /^\* OK/.test(l));
            plain.write("a STARTTLS\r\n");
            await readLine(plain, (l) => /^a OK/.test(l));
        } else if (how === "sieve") {
            // ManageSieve (RFC 5804): capability lines, then OK; STARTTLS answers OK
            await readLine(plain, (l) => /^OK/.test(l));
            plain.write("STARTTLS\r\n");
            await readLine(plain, (l) => /^OK/.test(l));
        }
        const sock = await new Promise<tls.TLSSocket>((resolve, reject) => {
            // Trust is not judged here (a test CA, a staging CA): names, issuer and dates are.
            const t = tls.connect({ socket: plain, servername, rejectUnauthorized: false }, () => resolve(t));
            t.once("error", reject);
        });
        const cert = sock.getPeerCertificate();
        sock.end();
        return cert;
    } finally {
        plain.destroy();
    }
}

export function certIssues(cert: tls.PeerCertificate, names: string[], minDays: number, now: Date): {
    problems: string[]; days: number; sans: string[];
} {
    const sans = (cert.subjectaltname ?? "").split(", ").filter((s) => s.startsWith("DNS:")).map((s) => s.slice(4).toLowerCase());
    const days = Math.floor((new Date(cert.valid_to).getTime() - now.getTime()) / 86400000);
    const problems: string[] = [];
    const missing = names.filter((n) => !sans.includes(n));
    if (missing.length > 0) {
        problems.push(`does not cover ${missing.join(", ")}`);
    }
    if (days < minDays) {
        problems.push(days < 0 ? `expired ${-days} days ago` : `expires in ${days} days`);
    }
    return { problems, days, sans };
}

/** The SHA-256 (hex) of a certificate's public key as DER SubjectPublicKeyInfo: what TLSA 3 1 1 pins. */
export function spkiSha256(der: Buffer): string {
    const spki = new X509Certificate(der).publicKey.export({ type: "spki", format: "der" });
    return createHash("sha256").update(spki).digest("hex");
}

type DoctorCert = DoctorTarget["certificates"][number];

/** The name a port is asked for a lineage's certificate: the hostname's without a domain; else `mail.DOMAIN` on the
 * mail ports (none where that is the hostname) and the web name on nginx's. */
export function probeName(t: Pick<DoctorTarget, "hostname">, l: DoctorCert, p: Pick<Listener, "daemon">): string | undefined {
    if (l.domain === undefined) {
        return t.hostname;
    }
    return p.daemon === "nginx" ? l.web : l.sni;
}

/** TLSA: the record set of the port (`3 1 1 HEX` values). The served key must be one of them, or DANE senders defer. */
async function checkPort(t: DoctorTarget, ip: string, p: Listener, l: DoctorCert, servername: string,
    diskFingerprint: string | undefined, tlsa: string[]): Promise<Check> {
    // the hostname's keeps the plain name; a domain's names what it asked for
    const check = l.domain === undefined ? `tls:${p.port}` : `tls:${p.port}:${servername}`;
    try {
        const cert = await servedCertificate(ip, servername, p);
        const { problems, days } = certIssues(cert, l.names, t.certMinDays, new Date());
        const pin = `3 1 1 ${spkiSha256(cert.raw)}`;
        if (tlsa.length > 0 && !tlsa.includes(pin)) {
            problems.push(`its key (${pin}) is not in the TLSA record (${tlsa.join(", ")}): senders that check DANE will not deliver`);
        }
        if (diskFingerprint !== undefined && cert.fingerprint256 !== diskFingerprint) {
            problems.push(`is not the certificate on disk (${l.name}: a renewal the daemon has not loaded: reload it)`);
        }
        const issuer = cert.issuer.CN ?? cert.issuer.O ?? "?";
        return { check, status: problems.length > 0 ? "fail" : "ok",
            detail: `${problems.length > 0 ? problems.join("; ") + "; " : ""}issuer ${issuer}, ${days} days left` };
    } catch (e) {
        return { check, status: "fail", detail: `no certificate: ${(e as Error).message}` };
    }
}

// ---------------------------------------------------------------- inside (ssh)

interface SshTarget {
    host: string;
    port: number;
    user: string;
    privateKey: string;
}

function inside(target: SshTarget): Promise<string> {
    return new Promise((resolve, reject) => {
        const c = new Client();
        c.on("ready", () => {
            c.exec("/usr/local/sbin/mailstack-doctor", (err, stream) => {
                if (err) {
                    c.end();
                    reject(err);
                    return;
                }
                let out = "";
                stream.on("data", (d: Buffer) => { out += d.toString("utf8"); });
                stream.stderr.on("data", () => undefined);
                stream.on("close", () => { c.end(); resolve(out); });
            });
        }).on("error", reject).connect({ ...target, readyTimeout: 15000 });
    });
}

/** The inside checks, and the fingerprint of each lineage's certificate on disk (by lineage name). */
export function parseInside(text: string): { checks: Check[]; diskFingerprints: Record<string, string> } {
    const checks: Check[] = [];
    const diskFingerprints: Record<string, string> = {};
    for (const line of text.split("\n").filter((l) => l !== "")) {
        const [status, check, ...rest] = line.split("\t");
        if (status === "info" && check.startsWith("cert-disk:")) {
            diskFingerprints[check.slice("cert-disk:".length)] = rest.join("\t");
        } else if (["ok", "fail", "warn", "skip", "info"].includes(status)) {
            checks.push({ check, status: status as Status, detail: rest.join("\t") });
        }
    }
    return { checks, diskFingerprints };
}

// ---------------------------------------------------------------- main

function pulumiJson<T>(stack: string, args: string[]): T {
    const out = execFileSync("bash", [path.join(ROOT, "scripts", "run"), "pulumi", ...args, "--stack", stack, "--json"],
        { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 16 * 1024 * 1024 });
    return JSON.parse(out) as T;
}

function sshTarget(stack: string, t: DoctorTarget): SshTarget {
    if (stack === "local") {
        const tb = JSON.parse(readFileSync(path.join(ROOT, ".local", "testbed.json"), "utf8")) as { sshPrivateKeyFile: string };
        return { ...t.ssh, privateKey: readFileSync(tb.sshPrivateKeyFile, "utf8") };
    }
    // The key stays in this process: read from the stack's secret config, never written to a file or argv.
    return { ...t.ssh, privateKey: pulumiJson<string>(stack, ["config", "get", "mailstack:sshPrivateKey"]) };
}

export async function runDoctor(stack: string): Promise<Check[]> {
    const outputs = pulumiJson<{ dnsRecords: DnsRecord[]; serverIp: string; doctor?: DoctorTarget }>(stack, ["stack", "output"]);
    const t = outputs.doctor;
    if (t === undefined) {
        throw new Error(`stack ${stack} has no doctor output: run \`pulumi up\` with this version first`);
    }
    const resolver = new Resolver({ timeout: 3000, tries: 2 });
    if (t.resolvers.length > 0) {
        resolver.setServers(t.resolvers);
    }
    const sending = outputs.dnsRecords.filter((r) => r.type === "PTR").map((r) => r.name);
    let insideChecks: Check[];
    let disk: Record<string, string> = {};
    try {
        const parsed = parseInside(await inside(sshTarget(stack, t)));
        insideChecks = parsed.checks;
        disk = parsed.diskFingerprints;
    } catch (e) {
        insideChecks = [{ check: "ssh", status: "fail", detail: `inside checks not run: ${(e as Error).message}` }];
    }
    const outside = await Promise.all([
        ...outputs.dnsRecords.map((rec) => checkRecord(resolver, rec)),
        ...t.certificates.flatMap((l) => t.ports.flatMap((p) => {
            const servername = probeName(t, l, p);
            // the TLSA records pin the hostname's certificate, served without SNI to senders that check DANE
            const tlsa = l.domain === undefined ? outputs.dnsRecords
                .filter((r) => r.type === "TLSA" && r.name === `_${p.port}._tcp.${t.hostname}`).map((r) => r.value) : [];
            return servername === undefined ? [] : [checkPort(t, outputs.serverIp, p, l, servername, disk[l.name], tlsa)];
        })),
        ...sending.flatMap((ip) => t.blocklists.map((zone) => checkBlocklist(resolver, ip, zone))),
    ]);
    return [...outside, ...insideChecks];
}

export function table(checks: Check[]): string {
    const w = Math.max(5, ...checks.map((c) => c.check.length));
    return checks.map((c) => `${c.status.toUpperCase().padEnd(4)}  ${c.check.padEnd(w)}  ${c.detail}`).join("\n") + "\n";
}

async function main(argv: string[]): Promise<number> {
    let stack: string | undefined;
    let json = false;
    for (let i = 0; i < argv.length; i++) {
        if (argv[i] === "--stack" || argv[i] === "-s") {
            stack = argv[++i];
        } else if (argv[i].startsWith("--stack=")) {
            stack = argv[i].slice("--stack=".length);
        } else if (argv[i] === "--json") {
            json = true;
        } else {
            process.stderr.write(`doctor: unknown argument ${argv[i]}\nusage: npm run doctor -- --stack NAME [--json]\n`);
            return 2;
        }
    }
    if (stack === undefined) {
        process.stderr.write("usage: npm run doctor -- --stack NAME [--json]\n");
        return 2;
    }
    const checks = await runDoctor(stack);
    const failed = checks.filter((c) => c.status === "fail");
    if (json) {
        process.stdout.write(JSON.stringify({ ok: failed.length === 0, checks }, null, 2) + "\n");
    } else {
        process.stdout.write(table(checks));
        process.stdout.write(failed.length === 0 ? `all ${checks.length} checks pass\n`
            : `${failed.length} of ${checks.length} checks FAIL: ${failed.map((c) => c.check).join(", ")}\n`);
    }
    return failed.length === 0 ? 0 : 1;
}

if (require.main === module) {
    main(process.argv.slice(2)).then((code) => process.exit(code), (e: unknown) => {
        process.stderr.write(`doctor: ${(e as Error).message}\n`);
        process.exit(2);
    });
}
