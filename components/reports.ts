// The report reader (components/render/reports.ts, files/mailstack-reports): its system user and directory, then the
// script. Before postfix, whose master.cf runs it as that user.

import * as pulumi from "@pulumi/pulumi";
import { REPORTS_DIR, REPORTS_READER, REPORTS_USER } from "./render/reports";
import { CTL, Connection, putFile, quote, staticFile, step } from "./remote";
import { ServerState } from "./serverState";

export class Reports extends pulumi.ComponentResource {
    constructor(name: string, args: { connection: pulumi.Input<Connection>; state: ServerState },
        opts?: pulumi.ComponentResourceOptions) {
        super("mailstack:index:Reports", name, {}, opts);
        const user = step(`${name}-user`, {
            connection: args.connection, create: `${CTL} reports ${quote(REPORTS_USER)} ${quote(REPORTS_DIR)}`,
        }, { parent: this });
        putFile(`${name}-reader`, { path: REPORTS_READER, mode: "0755", owner: "root:root", content: staticFile("mailstack-reports") },
            args.connection, { parent: this, dependsOn: [user] }, [args.state.repairOf(REPORTS_READER)]);
        this.registerOutputs({});
    }
}
