// The accounts: generated passwords, dovecot's passwd-file, postfix's maps (postmap'd atomically), and the PAM
// accounts the stack creates. Adding a user changes only these steps: postfix and dovecot re-read their tables
// by themselves, so nothing reloads.

import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { MailConfig } from "./config";
import { baseSenderLogins, passwdFile, senderLogins, virtualAliases, vmailbox } from "./render/maps";
import { MAPS } from "./render/postfix";
import { CTL, Connection, putFile, quote, sha256, staticFile, step } from "./remote";

export const PASSWD_FILE = "/etc/dovecot/users";

export interface UsersArgs {
    connection: pulumi.Input<Connection>;
    config: MailConfig;
}

function password(name: string, parent: pulumi.Resource): random.RandomPassword {
    // Letters and digits only: 24 of them carry ~142 bits and survive every client's and shell's quoting.
    return new random.RandomPassword(name, { length: 24, special: false }, { parent });
}

export class Users extends pulumi.ComponentResource {
    readonly virtualUserPasswords: pulumi.Output<Record<string, string>>;
    readonly systemUserPasswords: pulumi.Output<Record<string, string>>;

    constructor(name: string, args: UsersArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mailstack:index:Users", name, {}, opts);
        const c = args.config;
        const conn = args.connection;

        const virtual = c.virtualUsers.map((address) => ({ address, pw: password(`${name}-${address}`, this) }));
        this.virtualUserPasswords = pulumi.secret(pulumi.all(virtual.map((v) => v.pw.result))
            .apply((results) => Object.fromEntries(virtual.map((v, i) => [v.address, results[i]]))));
        // bcryptHash is stored in state with the password, so the hash (and the file) stays the same across ups.
        const table = pulumi.all(virtual.map((v) => v.pw.bcryptHash))
            .apply((hashes) => passwdFile(virtual.map((v, i) => ({ address: v.address, hash: hashes[i] }))));
        putFile(`${name}-passwd`, { path: PASSWD_FILE, mode: "0640", owner: "root:dovecot", content: pulumi.secret(table) },
            conn, { parent: this });

        const maps: [string, string][] = [
            [MAPS.vmailbox, vmailbox(c.virtualUsers)],
            [MAPS.virtual, virtualAliases(c.aliases)],
            [MAPS.senderLogins, senderLogins(c)],
        ];
        for (const [path, content] of maps) {
            step(`${name}-${path.split("/").pop()}`, {
                connection: conn, create: `${CTL} put-map ${quote(path)}`, stdin: content,
            }, { parent: this });
        }
        putFile(`${name}-sender_logins_base`, {
            path: MAPS.baseSenderLogins, mode: "0644", owner: "root:root", content: baseSenderLogins(c.baseDomain),
        }, conn, { parent: this });

        const system = c.systemUsers.map((user) => ({ user, pw: password(`${name}-${user}`, this) }));
        // A new mailstack-ctl re-runs these steps once, so that what it now does for an account (such as repairing
        // the root-owned Maildir that earlier versions made) reaches the accounts created before it.
        const ctl = sha256(staticFile("mailstack-ctl"));
        for (const s of system) {
            step(`${name}-${s.user}`, {
                connection: conn, create: `${CTL} system-user ${quote(s.user)}`, stdin: s.pw.result, quiet: true,
                triggers: [ctl],
            }, { parent: this });
        }
        this.systemUserPasswords = pulumi.secret(pulumi.all(system.map((s) => s.pw.result))
            .apply((results) => Object.fromEntries(system.map((s, i) => [`${s.user}@${c.baseDomain}`, results[i]]))));
        this.registerOutputs({});
    }
}
