// The reports that arrive for our domains (DMARC aggregate reports to the `rua` of our DMARC records, TLS reports to
// the `rua` of our TLS-RPT records): postfix gives a copy of every message to those addresses (recipient_bcc_maps;
// the message itself is delivered as before) to the pipe service "mailstack-reports", which runs the reader
// (files/mailstack-reports, python3's standard library) as a system user of its own. The reader keeps a small
// summary per report under REPORTS_DIR; the doctor prints the last ones per domain. Rendered here; main.cf and
// master.cf (components/render/postfix.ts) use it, components/reports.ts installs the reader.
//
// Why a bcc to a pipe: the report addresses are the admin's own mailbox (postmaster@ goes to adminEmail), which
// must keep every message; a copy needs no change to where mail goes. The copy's address (REPORTS_RECIPIENT) is
// not a mailbox: smtpd refuses it from any client (no such local user), only cleanup's bcc reaches it.

import { MailConfig, splitAddress } from "../config";
import { unitFile } from "./systemd";

/** The pipe runs as this system user (made by mailstack-ctl reports): not root or postfix (pipe(8) refuses both), and
 * no one who can read mailboxes: the reader parses attachments from anyone. */
export const REPORTS_USER = "mailstack-reports";
/** The master.cf service (transport). */
export const REPORTS_TRANSPORT = "mailstack-reports";
export const REPORTS_READER = "/usr/local/lib/mailstack/mailstack-reports";
/** The reader's summaries (KIND/DOMAIN/*.json), owned by REPORTS_USER; the doctor (root) reads them. */
export const REPORTS_DIR = "/var/lib/mailstack/reports";

/** DMARC's `rua` of a domain (records.ts publishes it). */
export const dmarcRua = (domain: string): string => `postmaster@${domain}`;

/** TLS-RPT's `rua`, the same for every domain: adminEmail, with the base domain where it is a bare account name. */
export function tlsRptAddress(c: Pick<MailConfig, "adminEmail" | "baseDomain">): string {
    return c.adminEmail.includes("@") ? c.adminEmail : `${c.adminEmail}@${c.baseDomain}`;
}

export type ReportsInput = Pick<MailConfig, "hostname" | "baseDomain" | "virtualDomains" | "adminEmail">;

/** Every report address that is ours to read: each domain's DMARC rua, and the TLS-RPT rua where it is one of our
 * domains' (an outside adminEmail gets its TLS reports directly, never through this server). */
export function reportAddresses(r: ReportsInput): string[] {
    const domains = [r.baseDomain, ...r.virtualDomains];
    const tls = tlsRptAddress(r);
    const ours = domains.includes(splitAddress(tls).domain) ? [tls] : [];
    return [...new Set([...domains.map(dmarcRua), ...ours])].sort();
}

/** Where the copies go: an address of the hostname that transport_maps sends to the pipe. */
export const reportsRecipient = (hostname: string): string => `${REPORTS_USER}@${hostname}`;

/** main.cf lines. Both are inline tables: they change only with the config, as main.cf does. */
export function reportsMainCf(p: { hostname: string; reportAddresses: string[] }): [string, string][] {
    const copy = reportsRecipient(p.hostname);
    return [
        // a copy of each message to a report address (looked up by the address as it arrived, before aliases)
        ["recipient_bcc_maps", `inline:{ ${p.reportAddresses.map((a) => `${a}=${copy}`).join(", ")} }`],
        ["transport_maps", `inline:{ ${copy}=${REPORTS_TRANSPORT}: }`],
    ];
}

/** The master.cf service: the reader gets the message on stdin and our domains as arguments (a report about any
 * other domain is not kept). Two at a time at most. */
export function reportsService(domains: string[]): string {
    return `${REPORTS_TRANSPORT} unix -     n       n       -       2       pipe
  user=${REPORTS_USER} argv=${REPORTS_READER} receive ${domains.join(" ")}
`;
}

// ---------------------------------------------------------------- DMARC reports we send

// rspamd records, in redis, the DMARC result of every message from outside whose domain asks for aggregate reports
// (a `rua`); once a day mailstack-dmarc-report.timer runs `rspamadm dmarc_report` for the day before, through
// files/mailstack-dmarc-report: rspamadm speaks plain SMTP only (no AUTH), so that script takes its messages on a
// loopback port, for the length of the run, from rspamd's own user only, and hands them to sendmail. rspamd then
// signs them as the server's own mail (components/render/rspamd.ts: SENDMAIL), with the base domain's key.

export const DMARC_REPORTER = "/usr/local/lib/mailstack/mailstack-dmarc-report";
export const DMARC_REPORT_UNITS = {
    service: unitFile("mailstack-dmarc-report.service"),
    timer: unitFile("mailstack-dmarc-report.timer"),
} as const;

/** The reports' sender: the base domain's postmaster, so that a reporter's bounce or question reaches the admin. */
export const dmarcReportSender = (baseDomain: string): string => dmarcRua(baseDomain);

export interface DmarcReportingInput {
    hostname: string;
    baseDomain: string;
    /** Where files/mailstack-dmarc-report listens while it runs (listeners.ts: dmarc-report). */
    port: number;
}

/** rspamd's local.d/dmarc.conf: the option names of rspamd 3.4 (Debian 12) and 3.12 (Debian 13) alike. */
export function dmarcConf(d: DmarcReportingInput): string {
    const q = (s: string): string => JSON.stringify(s);
    return `# Generated by mailstack; edits are overwritten by the next \`pulumi up\`.
# DMARC aggregate reports for the mail we receive (components/render/reports.ts): collected in redis, sent daily by
# mailstack-dmarc-report.timer from ${dmarcReportSender(d.baseDomain)}, DKIM-signed for ${d.baseDomain}.
reporting {
  enabled = true;
  email = ${q(dmarcReportSender(d.baseDomain))};
  domain = ${q(d.baseDomain)};
  org_name = ${q(d.baseDomain)};
  from_name = ${q(`DMARC reports of ${d.hostname}`)};
  helo = ${q(d.hostname)};
  msgid_from = ${q(d.hostname)};
  smtp = "127.0.0.1";
  smtp_port = ${d.port};
}
`;
}

export function dmarcReportService(d: DmarcReportingInput): string {
    return `# Generated by mailstack: yesterday's DMARC aggregate reports (rspamadm dmarc_report), signed and sent by postfix.
[Unit]
Description=mailstack DMARC aggregate reports
After=network-online.target rspamd.service redis-server.service postfix.service

[Service]
Type=oneshot
ExecStart=${DMARC_REPORTER} ${d.port} ${dmarcReportSender(d.baseDomain)}
TimeoutStartSec=1h
`;
}

export function dmarcReportTimer(): string {
    return `# Generated by mailstack.
[Unit]
Description=mailstack DMARC aggregate reports, daily

[Timer]
# after midnight (rspamadm reports the day before), at a time of its own: not every server at once
OnCalendar=*-*-* 00:30:00
RandomizedDelaySec=3h
Persistent=true

[Install]
WantedBy=timers.target
`;
}
