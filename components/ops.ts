// Operations on the server: log rotation, the inside checks (files/mailstack-doctor, shared with `npm run doctor`)
// and their timer, which posts failures to a webhook rather than by mail through the server being checked.

import * as pulumi from "@pulumi/pulumi";
import * as path from "path";
import { DoctorConfig, Lineage, RelayHostConfig } from "./config";
import { Listener } from "./listeners";
import {
    DOCTOR, DOCTOR_CONF, DOCTOR_TIMER, DOCTOR_UNIT, doctorConf, doctorService, doctorTimer, LOGROTATE_FILE, logrotate,
    WEBHOOK_CONF, webhookConf,
} from "./render/ops";
import { CTL, Connection, quote, sha256, staticFile, step, TextFile, writeFiles } from "./remote";
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

/** The files Ops writes. */
export function opsFiles(alertWebhook: boolean): string[] {
    return [LOGROTATE_FILE, DOCTOR, DOCTOR_CONF, DOCTOR_UNIT, DOCTOR_TIMER, ...(alertWebhook ? [WEBHOOK_CONF] : [])];
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
        step(`${name}-timer`, {
            connection: args.connection,
            create: `${CTL} start ${path.posix.basename(DOCTOR_TIMER)}`,
            delete: "systemctl disable --now --quiet mailstack-doctor.timer || true",
            triggers: [...files.map((f) => sha256(f.content)), args.state.repairOf(...opsFiles(false))],
            // A changed file replaces this step: the old one's delete (disable) must run before the new create.
        }, { parent: this, dependsOn: written, deleteBeforeReplace: true });
        this.registerOutputs({});
    }
}
