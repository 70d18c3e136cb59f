// DMARC and TLS reports (components/render/reports.ts): the reader of the reports that arrive (its system user and
// directory, then the script; before postfix, whose master.cf runs it as that user), and the daily run that sends
// rspamd's DMARC reports (its script, service and timer).

import * as pulumi from "@pulumi/pulumi";
import { port } from "./listeners";
import {
    DMARC_REPORT_UNITS, DMARC_REPORTER, dmarcReportService, dmarcReportTimer, REPORTS_DIR, REPORTS_READER, REPORTS_USER,
} from "./render/reports";
import { CTL, Connection, putFile, quote, sha256, staticFile, step } from "./remote";
import { ServerState } from "./serverState";

export interface ReportsArgs {
    connection: pulumi.Input<Connection>;
    hostname: string;
    baseDomain: string;
    state: ServerState;
}

export class Reports extends pulumi.ComponentResource {
    constructor(name: string, args: ReportsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mailstack:index:Reports", name, {}, opts);
        const user = step(`${name}-user`, {
            connection: args.connection, create: `${CTL} reports ${quote(REPORTS_USER)} ${quote(REPORTS_DIR)}`,
        }, { parent: this });
        const repair = args.state.repairOf.bind(args.state);
        putFile(`${name}-reader`, { path: REPORTS_READER, mode: "0755", owner: "root:root", content: staticFile("mailstack-reports") },
            args.connection, { parent: this, dependsOn: [user] }, [repair(REPORTS_READER)]);
        const d = { hostname: args.hostname, baseDomain: args.baseDomain, port: port("dmarc-report") };
        const files: [string, string, string][] = [
            [DMARC_REPORTER, "0755", staticFile("mailstack-dmarc-report")],
            [DMARC_REPORT_UNITS.service, "0644", dmarcReportService(d)],
            [DMARC_REPORT_UNITS.timer, "0644", dmarcReportTimer()],
        ];
        const written = files.map(([path, mode, content]) => putFile(`${name}-${path.split("/").pop()}`, {
            path, mode, owner: "root:root", content,
        }, args.connection, { parent: this }, [repair(path)]));
        const timer = DMARC_REPORT_UNITS.timer.split("/").pop() ?? "";
        step(`${name}-timer`, {
            connection: args.connection,
            create: `systemctl daemon-reload && systemctl enable --quiet ${timer} && systemctl restart ${timer}`,
            delete: `systemctl disable --now --quiet ${timer} || true`,
            triggers: [...files.map(([, , text]) => sha256(text)), repair(...files.map(([path]) => path))],
            // a changed file replaces this step: the old one's delete (disable) runs before the new create
        }, { parent: this, dependsOn: written, deleteBeforeReplace: true });
        this.registerOutputs({});
    }
}
