// rspamd and its DKIM keys: the keys come from the stack's state (components/dkim.ts) and are written readable by
// rspamd only; the config files are written, checked by rspamadm and served (mailstack-ctl rspamd).

import { createHash } from "crypto";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { DkimConfig, SpamConfig } from "./config";
import { DkimKey } from "./dkim";
import { CONTROLLER_FILE, CONTROLLER_SALT_BYTES, controllerConf, controllerHash, keyPath, RSPAMD_DIR, RSPAMD_GROUP, rspamdFiles } from "./render/rspamd";
import { CTL, Connection, putFile, sha256, step, writeFiles } from "./remote";
import { ServerState } from "./serverState";

export interface RspamdArgs {
    connection: pulumi.Input<Connection>;
    hostname: string;
    baseDomain: string;
    domains: string[];
    dkim: DkimConfig;
    spam: SpamConfig;
}

const configFiles = (args: RspamdArgs): [string, string][] => Object.entries(rspamdFiles({
    hostname: args.hostname, baseDomain: args.baseDomain, domains: args.domains, selector: args.dkim.selector, ...args.spam,
})).map(([rel, content]) => [`${RSPAMD_DIR}/${rel}`, content]);
const CONTROLLER_PATH = `${RSPAMD_DIR}/${CONTROLLER_FILE}`;
const keyFile = (args: RspamdArgs, domain: string): string => keyPath({ domain, selector: args.dkim.selector });


/** The DKIM keys of a config, per domain: the signing selector's and, while a rotation is announced, the next one's. */
export function dkimKeys(name: string, domains: string[], dkim: DkimConfig, parent: pulumi.Resource):
    { signing: DkimKey[]; next: DkimKey[] } {
    const keys = (selector: string | undefined): DkimKey[] => selector === undefined ? [] : domains.map((domain) =>
        new DkimKey(`${name}-dkim-${selector}-${domain}`, { domain, selector }, { parent }));
    return { signing: keys(dkim.selector), next: keys(dkim.nextSelector) };
}

export class Rspamd extends pulumi.ComponentResource {
    /** signing: the signing selector's key of each domain, in the order of `domains`. The next selector's keys
     * are only published (dnsRecords); they reach the server when they sign. */
    constructor(name: string, args: RspamdArgs & { signing: DkimKey[]; state: ServerState },
        opts?: pulumi.ComponentResourceOptions) {
        super("mailstack:index:Rspamd", name, {}, opts);
        const files = configFiles(args);
        const keys = args.domains.map((d) => keyFile(args, d));
        const repair = args.state.repairOf.bind(args.state);
        const written = writeFiles(name, files.map(([path, content]) => ({
            path, content, id: path.slice(RSPAMD_DIR.length + 1).replace(/\//g, "-"),
        })), args.connection, args.state, { parent: this });
        // The controller's password: kept in the stack's state only (nothing on the server needs it: learning uses
        // the controller's socket); the server gets rspamd's salted hash of it. The salt is state too, so that the
        // file changes only with the password.
        const controllerPassword = new random.RandomPassword(`${name}-controller`, { length: 32, special: false },
            { parent: this });
        const controllerSalt = new random.RandomPassword(`${name}-controller-salt`, { length: 32, special: false },
            { parent: this });
        const saltBytes = (seed: string): Buffer =>
            createHash("sha256").update(seed).digest().subarray(0, CONTROLLER_SALT_BYTES);
        const controller = pulumi.secret(pulumi.all([controllerPassword.result, controllerSalt.result])
            .apply(([password, salt]) => controllerConf(controllerHash(password, saltBytes(salt)))));
        written.push(putFile(`${name}-${CONTROLLER_FILE.replace(/\//g, "-")}`, {
            path: CONTROLLER_PATH, mode: "0640", owner: `root:${RSPAMD_GROUP}`, content: controller,
        }, args.connection, { parent: this }, [repair(CONTROLLER_PATH)]));
        const signing = args.signing;
        const keyFiles = signing.map((k, i) => putFile(`${name}-key-${args.domains[i]}`, {
            path: keys[i], mode: "0640", owner: `root:${RSPAMD_GROUP}`, content: k.privateKey,
        }, args.connection, { parent: this }, [repair(keys[i])]));
        step(`${name}-apply`, {
            connection: args.connection,
            create: `${CTL} rspamd`,
            triggers: [...files.map(([, text]) => sha256(text)), pulumi.secret(controller.apply(sha256)),
                ...signing.map((k) => k.publicKey), repair(...files.map(([path]) => path), CONTROLLER_PATH, ...keys)],
        }, { parent: this, dependsOn: [...written, ...keyFiles] });
        this.registerOutputs({});
    }
}
