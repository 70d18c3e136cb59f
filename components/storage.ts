// The mail state on a volume apart from the server: mounted before postfix and dovecot start, with the state of
// an earlier server (or of this one's root disk, moved once) in place. See components/render/storage.ts.

import * as pulumi from "@pulumi/pulumi";
import { CTL, Connection, quote, step, writeFiles } from "./remote";
import { STORAGE_BINDS, STORAGE_MOUNT, storageUnits } from "./render/storage";
import { UNIT_DIR } from "./render/systemd";
import { ServerState } from "./serverState";

export interface StorageArgs {
    connection: pulumi.Input<Connection>;
    device: pulumi.Input<string>;
    /** Drift of the mount units: a changed one is written again (the mounts stay as they are). */
    state: ServerState;
}

export class Storage extends pulumi.ComponentResource {
    /** The last step: everything that writes mail state comes after it. */
    readonly ready: pulumi.Resource;

    constructor(name: string, args: StorageArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mailstack:index:Storage", name, {}, opts);
        const units = pulumi.output(args.device).apply(storageUnits);
        // One step per file would need the file list before the device is known: the list never depends on it.
        const files = writeFiles(name, storageUnits("/dev/placeholder").map((u, i) => ({
            path: u.path, content: units.apply((all) => all[i].content),
            id: u.path.slice(UNIT_DIR.length + 1).replace(/\//g, "-"),
        })), args.connection, args.state, { parent: this });
        const binds = STORAGE_BINDS.map((b) => quote(`${b.dir}:${b.target}`)).join(" ");
        this.ready = step(name, {
            connection: args.connection,
            create: pulumi.output(args.device).apply((device) => `${CTL} storage ${quote(device)} ${STORAGE_MOUNT} ${binds}`),
            // changed units mount again: the step has no delete, so a replacement only runs it again
            triggers: [units],
        }, { parent: this, dependsOn: files });
        this.registerOutputs({});
    }
}
