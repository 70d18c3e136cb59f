// Webmail: Roundcube's files (render/webmail.ts), then `mailstack-ctl webmail`, which checks them with PHP and visudo,
// makes or upgrades its database on the volume, and (re)starts php-fpm with its pool, taking the files back if it
// does not serve. nginx's side is in render/web.ts.

import * as pulumi from "@pulumi/pulumi";
import { daemonConfig, FilesArgs, quote } from "./remote";
import { WebmailInput, webmailFiles } from "./render/webmail";

export interface WebmailArgs extends FilesArgs {
    input: WebmailInput;
}

export class Webmail extends pulumi.ComponentResource {
    constructor(name: string, args: WebmailArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mailstack:index:Webmail", name, {}, opts);
        const files = webmailFiles(args.input).map((f) => ({ ...f, id: f.path.split("/").slice(-2).join("-") }));
        const php = files.filter((f) => f.path.endsWith(".php")).map((f) => quote(f.path));
        daemonConfig(name, `webmail ${php.join(" ")}`, files, args.connection, args.state, { parent: this });
        this.registerOutputs({});
    }
}
