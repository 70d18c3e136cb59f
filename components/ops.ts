// Operations on the server: log rotation, the inside checks (files/mailstack-doctor, shared with `npm run doctor`)
// and their timer, which posts failures to a webhook rather than by mail through the server being checked.

import * as pulumi from "@pulumi/pulumi";
import { DoctorConfig, Lineage, RelayHostConfig } from "./config";
import { Listener } from "./listeners";
import {
    DOCTOR, DOCTOR_CONF, DOCTOR_TIMER, DOCTOR_UNIT, doctorConf, doctorService, doctorTimer, LOGROTATE_FILE, logrotate,
    WEBHOOK_CONF, webhookConf,
} from "./render/ops";
import { CTL, Connection, quote, staticFile, startUnit, step, TextFile, writeFiles } from "./remote";
import { ServerState } from "./serverState";

export interface OpsArgs {
    connection: pulumi.Input<Connection>;
    logRetentionDays: number;
    doctor: DoctorConfig;
    relay?: RelayHostConfig;
    /** The lineages the doctor checks on disk and as served (config.ts: lineages). */
    certs: Lineage[];
    /** The listeners the doctor probes for the certificates they serve. */
    ports: Listener[];
    /** Secret. Without it the timer still runs the checks (journal), and posts nothing. */
    alertWebhook?: pulumi.Input<string>;
    /** Drift of the files: a changed one is written again and the timer restarted. */
    state: ServerState;
    /** mailstack:backup is set. */
    backup: boolean;
    /** The units the doctor checks by name. */
    units: string[];
}

export class Ops extends pulumi.ComponentResource {
    constructor(name: string, args: OpsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mailstack:index:Ops", name, {}, opts);
        const script = staticFile("mailstack-doctor");
        const files: TextFile[] = [
            { path: LOGROTATE_FILE, content: logrotate(args.logRetentionDays) },
            { path: DOCTOR, mode: "0755", content: script },
            {
                path: DOCTOR_CONF, content: doctorConf({
                    doctor: args.doctor, relay: args.relay, certs: args.certs, ports: args.ports, backup: args.backup,
                    units: args.units,
                }),
            },
            { path: DOCTOR_UNIT, content: doctorService() },
            { path: DOCTOR_TIMER, content: doctorTimer(args.doctor.intervalMinutes) },
        ];
        const written = writeFiles(name, files, args.connection, args.state, { parent: this });
        if (args.alertWebhook !== undefined) {
            written.push(step(`${name}-webhook`, {
                connection: args.connection,
                create: `${CTL} put ${quote(WEBHOOK_CONF)} 0600 root:root`,
                stdin: pulumi.secret(pulumi.output(args.alertWebhook).apply(webhookConf)),
                delete: `rm -f ${quote(WEBHOOK_CONF)}`,
                quiet: true,
                triggers: [args.state.repairOf(WEBHOOK_CONF)],
            }, { parent: this, deleteBeforeReplace: true }));
        }
        startUnit(`${name}-timer`, DOCTOR_TIMER, files, args.connection, args.state, { parent: this, dependsOn: written });
        this.registerOutputs({});
    }
}
