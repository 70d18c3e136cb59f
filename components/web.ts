// nginx: the autoconfig, autodiscover, Apple profile and MTA-STS endpoints on 443, and certbot's HTTP-01 webroot on
// 80. Two stages around the certificates: until every one exists nginx serves port 80 only (the first issuance needs
// it), afterwards the full configuration with TLS.

import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { CTL, Connection, quote, sha256, step, writeFiles } from "./remote";
import { ServerState } from "./serverState";
import { NGINX_CONF, NGINX_STAGED, nginxConf, WebInput, webFiles } from "./render/web";

export interface WebArgs {
    connection: pulumi.Input<Connection>;
    input: WebInput;
    /** Every certificate the full configuration names: it goes live once all exist. */
    certFiles: string[];
    /** Drift of the files: a changed one is written again and nginx reloaded. */
    state: ServerState;
}

const files = (input: WebInput): { path: string; content: string; mode: string }[] => [
    ...webFiles(input).map((f) => ({ ...f, mode: "0644" })),
    { path: NGINX_STAGED.http, content: nginxConf(input, false), mode: "0644" },
    { path: NGINX_STAGED.full, content: nginxConf(input, true), mode: "0644" },
];


export class Web extends pulumi.ComponentResource {
    /** nginx answers ACME challenges on port 80: the certificate may be issued. */
    readonly acmeReady: command.remote.Command;
    private readonly args: WebArgs;
    private readonly written: command.remote.Command[];
    private readonly hashes: string[];
    private readonly repair: pulumi.Output<number>;

    constructor(name: string, args: WebArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mailstack:index:Web", name, {}, opts);
        this.args = args;
        const all = files(args.input);
        this.hashes = all.map((f) => sha256(`${f.path}\n${f.content}`));
        // the live nginx.conf is the staged one the web verb copied into place: a hand edit there is drift too
        this.repair = args.state.repairOf(...all.map((f) => f.path), NGINX_CONF);
        this.written = writeFiles(name, all.map((f) => ({
            ...f, id: f.path.replace(/^\/var\/lib\/mailstack\/|^\/etc\/mailstack\//, ""),
        })), args.connection, args.state, { parent: this });
        this.acmeReady = step(`${name}-acme`, {
            connection: args.connection,
            create: `${CTL} web ${args.certFiles.map(quote).join(" ")}`,
            triggers: [...this.hashes, this.repair],
        }, { parent: this, dependsOn: this.written });
        this.registerOutputs({});
    }

    /** The full configuration, once the certificates exist (again after one changed names). */
    serve(name: string, certificates: pulumi.Resource[], certbotCommands: string[]): command.remote.Command {
        return step(name, {
            connection: this.args.connection,
            create: `${CTL} web ${this.args.certFiles.map(quote).join(" ")}`,
            triggers: [...this.hashes, sha256(certbotCommands.join("\n")), this.repair],
        }, { parent: this, dependsOn: [this.acmeReady, ...certificates] });
    }
}
