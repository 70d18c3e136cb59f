// postfix: main.cf and master.cf are staged, validated on the server by postfix itself, then swapped in and
// reloaded by `mailstack-ctl apply`, which restores the previous files if anything fails.

import * as pulumi from "@pulumi/pulumi";
import { mainCf, MAPS, masterCf, PostfixInput, saslPasswd, sniTable } from "./render/postfix";
import { CTL, Connection, quote, sha256, step } from "./remote";
import { ServerState } from "./serverState";

export interface PostfixArgs {
    connection: pulumi.Input<Connection>;
    input: Omit<PostfixInput, "ipv6">;
    /** The address outbound mail leaves from over IPv6, where the host has one with a PTR (Hetzner). */
    ipv6?: pulumi.Input<string>;
    /** Drift of the live files: a repaired file is staged and applied again. */
    state: ServerState;
    /** Secret: the smarthost's password, with input.relay. */
    relayPassword?: pulumi.Input<string>;
}

export const POSTFIX_FILES = ["/etc/postfix/main.cf", "/etc/postfix/master.cf"];

export class Postfix extends pulumi.ComponentResource {
    constructor(name: string, args: PostfixArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mailstack:index:Postfix", name, {}, opts);
        const input = pulumi.output(args.ipv6).apply((ipv6): PostfixInput => ({ ...args.input, ipv6 }));
        const files: [string, pulumi.Output<string>][] = [["main.cf", input.apply(mainCf)], ["master.cf", input.apply(masterCf)]];
        const repair = args.state.repairOf(...POSTFIX_FILES);
        const staged = files.map(([file, text]) => step(`${name}-${file}`, {
            connection: args.connection, create: `${CTL} stage postfix ${file}`, stdin: text, triggers: [repair],
        }, { parent: this }));
        if (args.input.relay !== undefined && args.relayPassword !== undefined) {
            const relay = args.input.relay;
            // Before main.cf names it. Content on stdin and secret; 0600 for the text and its .db; removed with relayHost.
            staged.push(step(`${name}-sasl_passwd`, {
                connection: args.connection,
                create: `${CTL} put-map ${quote(MAPS.saslPasswd)} 0600`,
                stdin: pulumi.secret(pulumi.output(args.relayPassword).apply((pw) => saslPasswd(relay, pw))),
                delete: `rm -f ${quote(MAPS.saslPasswd)} ${quote(MAPS.saslPasswd)}.db`,
                quiet: true,
                triggers: [args.state.repairOf(MAPS.saslPasswd)],
                // a replacement's delete would otherwise remove the new table
            }, { parent: this, deleteBeforeReplace: true }));
        }
        // Before main.cf names it: the SNI table, built from the certificates there are (certbot's deploy hook
        // builds it again once a new one is issued).
        staged.push(step(`${name}-sni`, {
            connection: args.connection, create: `${CTL} sni-map -`, stdin: sniTable(args.input.sni),
        }, { parent: this }));
        step(`${name}-apply`, {
            connection: args.connection,
            create: `${CTL} apply postfix`,
            triggers: [...files.map(([, text]) => text.apply(sha256)), repair],
        }, { parent: this, dependsOn: staged });
        this.registerOutputs({});
    }
}
