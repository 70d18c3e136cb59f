// Debian packages and the server-side helper script. Everything after this step may assume postfix, dovecot,
// certbot and mailstack-ctl are installed.

import * as pulumi from "@pulumi/pulumi";
import { CTL, Connection, staticFile, step } from "./remote";
import { ctlScript } from "./render/ctl";

export interface PackagesArgs {
    connection: pulumi.Input<Connection>;
    /** Roundcube and php-fpm too (files/install-packages.sh). */
    webmail: boolean;
}

export class Packages extends pulumi.ComponentResource {
    constructor(name: string, args: PackagesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mailstack:index:Packages", name, {}, opts);
        const apt = step(`${name}-apt`, {
            connection: args.connection,
            create: args.webmail ? "sh -s webmail" : "sh -s",
            stdin: staticFile("install-packages.sh"),
        }, { parent: this });
        step(`${name}-ctl`, {
            connection: args.connection,
            create: `mkdir -p /usr/local/sbin && cat > ${CTL}.new && chmod 0755 ${CTL}.new && mv -f ${CTL}.new ${CTL}`,
            stdin: ctlScript(),
        }, { parent: this, dependsOn: [apt] });
        this.registerOutputs({});
    }
}
