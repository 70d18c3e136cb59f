// DMARC and TLS reports (components/render/reports.ts): the reader of the reports that arrive (its system user and
// directory, then the script; before postfix, whose master.cf runs it as that user), and the daily run that sends
// rspamd's DMARC reports (its script, service and timer).

import * as pulumi from "@pulumi/pulumi";
import { port } from "./listeners";
import {
    DMARC_REPORT_UNITS, DMARC_REPORTER, dmarcReportService, dmarcReportTimer, REPORTS_DIR, REPORTS_READER, REPORTS_USER,
} from "./render/reports";
import { CTL, Connection, quote, Repairs, staticFile, startUnit, step, TextFile, writeFiles } from "./remote";

export interface ReportsArgs {
    connection: pulumi.Input<Connection>;
    hostname: string;
    baseDomain: string;
    state: Repairs;
}

export class Reports extends pulumi.ComponentResource {
    constructor(name: string, args: ReportsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mailstack:index:Reports", name, {}, opts);
        const user = step(`${name}-user`, {
            connection: args.connection, create: `${CTL} reports ${quote(REPORTS_USER)} ${quote(REPORTS_DIR)}`,
        }, { parent: this });
        writeFiles(name, [{ path: REPORTS_READER, mode: "0755", content: staticFile("mailstack-reports"), id: "reader" }],
            args.connection, args.state, { parent: this, dependsOn: [user] });
        const d = { hostname: args.hostname, baseDomain: args.baseDomain, port: port("dmarc-report") };
        const files: TextFile[] = [
            { path: DMARC_REPORTER, mode: "0755", content: staticFile("mailstack-dmarc-report") },
            { path: DMARC_REPORT_UNITS.service, content: dmarcReportService(d) },
            { path: DMARC_REPORT_UNITS.timer, content: dmarcReportTimer() },
        ];
        const written = writeFiles(name, files, args.connection, args.state, { parent: this });
        startUnit(`${name}-timer`, DMARC_REPORT_UNITS.timer, files, args.connection, args.state, { parent: this, dependsOn: written });
        this.registerOutputs({});
    }
}
