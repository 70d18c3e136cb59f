// The accounts: generated passwords, dovecot's passwd-file, postfix's maps (postmap'd atomically), and the PAM
// accounts the stack creates. Adding a user changes only these steps: postfix and dovecot re-read their tables
// by themselves, so nothing reloads.

import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { effectiveAliases, MailConfig, splitAddress } from "./config";
import { appPasswordsAllowed, nonMailRecipients, PAM_FILE, pamService, parseAccounts } from "./render/access";
import { appPasswordPath, quotaLogin } from "./render/dovecot";
import { appPasswordFile, baseSenderLogins, localSenders, PASSWD_FILE, passwdFile, senderLogins, virtualAliases, vmailbox }
    from "./render/maps";
import { MAPS } from "./render/postfix";
import { CTL, Connection, putFile, quote, sha256, step } from "./remote";
import { ServerState } from "./serverState";
import { ctlScript } from "./render/ctl";

export { PASSWD_FILE };

/** In systemUserPasswords, for an account that existed before it was listed: the stack never changed its password. */
export const ADOPTED = "(adopted: the account keeps the password it already had)";
/** In virtualUserPasswords and systemUserPasswords, for a user who chose a password (mailstack-ctl password). */
export const OWN = "(changed by its user: the generated password no longer works; mailstack:passwordResets restores it)";

/** The logins (dovecot's: a virtual user's address, a system user's bare name) that chose their password, read
 * from the server once `after` is known. */
export type OwnLogins = (after: pulumi.Input<unknown>) => pulumi.Output<string[]>;

export interface UsersArgs {
    connection: pulumi.Input<Connection>;
    config: MailConfig;
    /** Drift of the tables on the server: a repaired table is written again. */
    state: ServerState;
    /** Without it (the unit tests' mocks have no server), the outputs name no user's own password. */
    ownLogins?: OwnLogins;
}


function password(name: string, parent: pulumi.Resource, formerly?: string): random.RandomPassword {
    // Letters and digits only: 24 of them carry ~142 bits and survive every client's and shell's quoting.
    // A renamed user's password is the resource of the old address under its new name: the same password.
    return new random.RandomPassword(name, { length: 24, special: false },
        { parent, aliases: formerly === undefined ? undefined : [{ name: formerly }] });
}

export class Users extends pulumi.ComponentResource {
    readonly virtualUserPasswords: pulumi.Output<Record<string, string>>;
    readonly systemUserPasswords: pulumi.Output<Record<string, string>>;
    /** user -> device -> password (mailstack:appPasswords). */
    readonly appPasswords: pulumi.Output<Record<string, Record<string, string>>>;
    /** The devices that have a file: dovecot gets one passdb each. */
    readonly appDevices: string[];
    /** /etc/pam.d/mailstack, which dovecot's pam passdb needs, checked. */
    readonly pam: pulumi.Resource;
    readonly nonMail: pulumi.Resource;

    constructor(name: string, args: UsersArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mailstack:index:Users", name, {}, opts);
        const c = args.config;
        const conn = args.connection;

        const formerly = new Map(c.renames.map((r) => [r.to, r.from]));
        const virtual = c.virtualUsers.map((address) => {
            const old = formerly.get(address);
            return { address, pw: password(`${name}-${address}`, this, old === undefined ? undefined : `${name}-${old}`) };
        });
        // Mailboxes move before the tables name the new addresses, so that no mail lands in a new, empty one.
        const moves = c.renames.map((r) => step(`${name}-rename-${r.from}`, {
            connection: conn, create: `${CTL} rename-mailbox ${quote(r.from)} ${quote(r.to)}`,
        }, { parent: this }));
        const system = c.systemUsers.map((user) => ({ user, pw: password(`${name}-${user}`, this) }));
        // bcryptHash is stored in state with the password, so the hash (and the file) stays the same across ups.
        const table = pulumi.all(virtual.map((v) => v.pw.bcryptHash))
            .apply((hashes) => passwdFile(virtual.map((v, i) => ({ address: v.address, hash: hashes[i] }))));
        const passwd = putFile(`${name}-passwd`, {
            path: PASSWD_FILE, mode: "0640", owner: "root:dovecot", content: pulumi.secret(table),
        }, conn, { parent: this, dependsOn: moves }, [args.state.repairOf(PASSWD_FILE)]);
        // An admin's reset of a user's own password (mailstack:passwordResets), again whenever its word changes: the
        // generated password comes back (a system user's as the password, a virtual user's as the passwd-file's hash).
        const resets = Object.entries(c.passwordResets).map(([address, word]) => {
            const login = quotaLogin(address, c.baseDomain);
            const v = virtual.find((u) => u.address === address);
            const generated = v !== undefined ? pulumi.interpolate`{BLF-CRYPT}${v.pw.bcryptHash}`
                : system.find((s) => s.user === login)?.pw.result ?? "";
            return step(`${name}-reset-${address}`, {
                // the word goes to the server too, which applies each one once: a new server runs this step again
                connection: conn, create: `${CTL} password-reset ${quote(login)} ${quote(word)}`, stdin: pulumi.secret(generated),
                triggers: [word],
            }, { parent: this, dependsOn: [passwd] });
        });
        // Read once the passwd-file is written (a new server has its users' passwords back from the volume by then)
        // and the resets are done.
        const own = args.ownLogins === undefined ? pulumi.output<string[]>([])
            : args.ownLogins(pulumi.all([passwd.stdout, ...resets.map((r) => r.stdout)]));
        this.virtualUserPasswords = pulumi.secret(pulumi.all([pulumi.all(virtual.map((v) => v.pw.result)), own])
            .apply(([results, chose]) => Object.fromEntries(virtual.map((v, i) =>
                [v.address, chose.includes(v.address) ? OWN : results[i]]))));

        const aliases = effectiveAliases(c);
        const maps: [string, string][] = [
            [MAPS.vmailbox, vmailbox(c.virtualUsers)],
            [MAPS.virtual, virtualAliases(aliases)],
            [MAPS.senderLogins, senderLogins({ ...c, aliases })],
        ];
        for (const [path, content] of maps) {
            step(`${name}-${path.split("/").pop()}`, {
                connection: conn, create: `${CTL} put-map ${quote(path)}`, stdin: content,
                triggers: [args.state.repairOf(path)],
            }, { parent: this, dependsOn: moves });
        }
        putFile(`${name}-sender_logins_base`, {
            path: MAPS.baseSenderLogins, mode: "0644", owner: "root:root", content: baseSenderLogins(c.baseDomain),
        }, conn, { parent: this }, [args.state.repairOf(MAPS.baseSenderLogins)]);
        putFile(`${name}-local_senders`, {
            path: MAPS.localSenders, mode: "0644", owner: "root:root", content: localSenders(c.baseDomain),
        }, conn, { parent: this }, [args.state.repairOf(MAPS.localSenders)]);

        // A new mailstack-ctl re-runs these steps once, so that what it now does for an account (such as repairing
        // the root-owned Maildir that earlier versions made) reaches the accounts created before it. An argument the
        // script checks (it refuses to run as another version), not a trigger: a trigger would replace the step, and
        // a replacement runs its delete (lock).
        const ctl = sha256(ctlScript()).slice(0, 16);
        const statuses = system.map((s) => {
            const where = `${quote(s.user)} ${quote(c.baseDomain)} ${quote(c.hostname)}`;
            const made = step(`${name}-${s.user}`, {
                connection: conn, create: `${CTL} --sha256 ${ctl} system-user ${where}`, stdin: s.pw.result,
                quiet: true,
                // Leaving the config locks the account for mail (its home and Maildir stay); listing it again unlocks it.
                // A new machine (host.id changed after a reinstall) has no mailstack-ctl yet, nor accounts to lock.
                delete: `test ! -x ${CTL} || ${CTL} lock-user ${where}`,
            // a replacement locks the old step's account first, then the new step unlocks it: never the reverse
            }, { parent: this, deleteBeforeReplace: true });
            // created, updated or adopted: no secret, but a quiet step's output is secret
            return pulumi.unsecret(made.stdout).apply((out) => out.trim().split("\n").pop() ?? "");
        });
        // Which PAM accounts are mail accounts: the server's UID range and accounts, read once (a later `up` with a
        // changed config re-renders from them). The PAM check itself is live: an account made later by the admin
        // logs in (or not) by its uid at once.
        const scan = step(`${name}-accounts`, { connection: conn, create: `${CTL} accounts` }, { parent: this });
        const accounts = scan.stdout.apply(parseAccounts);
        const scope = { scope: c.loginScope, listed: c.systemUsers };
        const pam = accounts.apply((a) => pamService(a, scope));
        const pamRepair = args.state.repairOf(PAM_FILE);
        const pamPut = putFile(`${name}-pam`, { path: PAM_FILE, mode: "0644", owner: "root:root", content: pam },
            conn, { parent: this }, [pamRepair]);
        // dovecot's auth reads the file at every system user's login, and libpam fails every login on a line it
        // cannot use: mailstack-ctl checks it as libpam reads it, and takes it back (the put kept the previous one)
        // if it would. Again whenever the text changes or the file drifted, like a daemon's apply.
        this.pam = step(`${name}-pam-check`, {
            connection: conn, create: `${CTL} pam`, triggers: [pam.apply(sha256), pamRepair],
        }, { parent: this, dependsOn: [pamPut] });
        const aliased = Object.keys(aliases).filter((a) => splitAddress(a).domain === c.baseDomain)
            .map((a) => splitAddress(a).local);
        this.nonMail = step(`${name}-nonmail_recipients`, {
            connection: conn, create: `${CTL} put-map ${quote(MAPS.nonMail)}`,
            stdin: accounts.apply((a) => nonMailRecipients(a, {
                ...scope, hostname: c.hostname, baseDomain: c.baseDomain, aliased,
            })),
            triggers: [args.state.repairOf(MAPS.nonMail)],
        }, { parent: this });

        // App passwords: one resource per (user, device), named by both, so that adding or removing one device
        // leaves every other password as it is; a renamed user's are the old address's (as its own password).
        const apps = Object.entries(c.appPasswords).flatMap(([address, devices]) => devices.map((device) => {
            const old = formerly.get(address);
            return {
                address, device, login: quotaLogin(address, c.baseDomain),
                pw: password(`${name}-app-${address}-${device}`, this, old === undefined ? undefined : `${name}-app-${old}-${device}`),
            };
        }));
        this.appPasswords = pulumi.secret(pulumi.all(apps.map((a) => a.pw.result)).apply((results) => {
            const out: Record<string, Record<string, string>> = {};
            apps.forEach((a, i) => {
                (out[a.address] ??= {})[a.device] = results[i];
            });
            return out;
        }));
        this.appDevices = [...new Set(apps.map((a) => a.device))].sort();
        for (const device of this.appDevices) {
            const mine = apps.filter((a) => a.device === device);
            // (pulumi.all would turn the accounts' Map into a plain object: an apply inside an apply keeps it)
            const text = pulumi.all(mine.map((a) => a.pw.bcryptHash)).apply((hashes) => accounts.apply((a) =>
                appPasswordFile(device, mine.flatMap((m, i) => m.login.includes("@") || appPasswordsAllowed(m.login, a, scope)
                    ? [{ login: m.login, hash: hashes[i] }] : []))));
            const path = appPasswordPath(device);
            putFile(`${name}-app-${device}`, { path, mode: "0640", owner: "root:dovecot", content: pulumi.secret(text) },
                conn, { parent: this }, [args.state.repairOf(path)]);
        }

        this.systemUserPasswords = pulumi.secret(pulumi.all([pulumi.all(system.map((s) => s.pw.result)), pulumi.all(statuses), own])
            .apply(([results, status, chose]) => Object.fromEntries(system.map((s, i) => [`${s.user}@${c.baseDomain}`,
                status[i] === "adopted" ? ADOPTED : chose.includes(s.user) ? OWN : results[i]]))));
        this.registerOutputs({});
    }
}
