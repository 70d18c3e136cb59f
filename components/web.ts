// nginx: the autoconfig, autodiscover, Apple profile and MTA-STS endpoints on 443, and certbot's HTTP-01 webroot on
// 80. Two stages around the certificate: before it exists nginx serves port 80 only (the first issuance needs it),
// afterwards the full configuration with TLS.

import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { CERT_FILE } from "./certificate";
import { CTL, Connection, putFile, sha256, step } from "./remote";
import { NGINX_STAGED, nginxConf, WebInput, webFiles } from "./render/web";

export interface WebArgs {
    connection: pulumi.Input<Connection>;
    input: WebInput;
}

export class Web extends pulumi.ComponentResource {
    /** nginx answers ACME challenges on port 80: the certificate may be issued. */
    readonly acmeReady: command.remote.Command;
    private readonly args: WebArgs;
    private readonly written: command.remote.Command[];
    private readonly hashes: string[];

    constructor(name: string, args: WebArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mailstack:index:Web", name, {}, opts);
        this.args = args;
        const files = [
            ...webFiles(args.input).map((f) => ({ ...f, mode: "0644" })),
            { path: NGINX_STAGED.http, content: nginxConf(args.input, false), mode: "0644" },
            { path: NGINX_STAGED.full, content: nginxConf(args.input, true), mode: "0644" },
        ];
        this.hashes = files.map((f) => sha256(`${f.path}\n${f.content}`));
        this.written = files.map((f) => putFile(`${name}-${f.path.replace(/^\/var\/lib\/mailstack\/|^\/etc\/mailstack\//, "")}`,
            { path: f.path, mode: f.mode, owner: "root:root", content: f.content }, args.connection, { parent: this }));
        this.acmeReady = step(`${name}-acme`, {
            connection: args.connection,
            create: `${CTL} web ${CERT_FILE}`,
            triggers: this.hashes,
        }, { parent: this, dependsOn: this.written });
        this.registerOutputs({});
    }

    /** The full configuration, once the certificate exists (again after it changed names). */
    serve(name: string, certificate: pulumi.Resource, certbotCommand: string): command.remote.Command {
        return step(name, {
            connection: this.args.connection,
            create: `${CTL} web ${CERT_FILE}`,
            triggers: [...this.hashes, sha256(certbotCommand)],
        }, { parent: this, dependsOn: [this.acmeReady, certificate] });
    }
}
