// DKIM keys, made in the Pulumi program's state rather than on the server: a key outlives a server replacement and
// every re-run, and the public half is known to `dnsRecords` before the server exists. One resource per domain and
// selector, named by both: promoting `nextSelector` to `selector` keeps its key, a new selector gets a new one.

import * as pulumi from "@pulumi/pulumi";

interface Inputs {
    domain: string;
    selector: string;
}

interface Outs extends Inputs {
    /** PEM (PKCS#1), as rspamd's `dkim_keygen` writes it. */
    privateKey: string;
    /** base64 of the DER SubjectPublicKeyInfo: the p= of the TXT record. */
    publicKey: string;
}

export const DKIM_BITS = 2048;

export const dkimKeyProvider: pulumi.dynamic.ResourceProvider<Inputs, Outs> = {
    create(inputs) {
        // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded in the dynamic provider's process
        const { generateKeyPairSync } = require("crypto") as typeof import("crypto");
        const pair = generateKeyPairSync("rsa", {
            modulusLength: 2048,
            publicKeyEncoding: { type: "spki", format: "der" },
            privateKeyEncoding: { type: "pkcs1", format: "pem" },
        });
        return Promise.resolve({
            id: `${inputs.selector}._domainkey.${inputs.domain}`,
            outs: {
                domain: inputs.domain, selector: inputs.selector, privateKey: pair.privateKey,
                publicKey: pair.publicKey.toString("base64"),
            },
        });
    },

    // A key never changes in place: another domain or selector is another key.
    diff(_id, olds, news) {
        const replaces = (["domain", "selector"] as const).filter((k) => olds[k] !== news[k]);
        return Promise.resolve({ changes: replaces.length > 0, replaces, deleteBeforeReplace: false });
    },

    read(id, props) {
        if (props === undefined) {
            return Promise.reject(new Error("mailstack:DkimKey cannot be imported: its private key lives only in the stack's state"));
        }
        return Promise.resolve({ id, props });
    },
};

export class DkimKey extends pulumi.dynamic.Resource {
    declare readonly domain: pulumi.Output<string>;
    declare readonly selector: pulumi.Output<string>;
    declare readonly privateKey: pulumi.Output<string>;
    declare readonly publicKey: pulumi.Output<string>;

    constructor(name: string, args: Inputs, opts?: pulumi.CustomResourceOptions) {
        super(dkimKeyProvider, name, { ...args, privateKey: undefined, publicKey: undefined },
            { ...opts, additionalSecretOutputs: ["privateKey"] }, "mailstack", "DkimKey");
    }
}
