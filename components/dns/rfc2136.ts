// `dns: {provider: rfc2136}`: each record set is one local command that replaces it on the primary name server with
// an update signed with TSIG (files/dns-update, Debian's nsupdate), and removes it when it leaves the stack. The set
// is in the command's environment, so `preview --diff` shows the values that change; the TSIG secret only on stdin.

import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { Publisher } from "../dns";

/** Relative to the project directory, where the engine runs local commands: the same text in every checkout. */
const DNS_UPDATE = "files/dns-update";

export const rfc2136: Publisher = (name, args, parent) => {
    const dns = args.config.dns;
    if (dns.provider !== "rfc2136") {
        throw new Error(`the rfc2136 publisher got dns provider ${dns.provider}`);
    }
    if (args.key === undefined) {
        throw new Error("mailstack:dnsKey: required with dns provider rfc2136");
    }
    const key = pulumi.secret(pulumi.output(args.key).apply((k) => `${k.trim()}\n`));
    return args.sets.map(({ resourceName, shape, set }) => new command.local.Command(resourceName, {
        create: `sh ${DNS_UPDATE} set`,
        delete: `sh ${DNS_UPDATE} delete`,
        stdin: key,
        environment: {
            DNS_SERVER: dns.server, DNS_PORT: String(dns.port), DNS_KEY_NAME: dns.keyName,
            DNS_KEY_ALGORITHM: dns.keyAlgorithm,
            RRSET_ZONE: shape.zone, RRSET_FQDN: shape.fqdn, RRSET_TYPE: shape.type, RRSET_TTL: String(shape.ttl),
            RRSET_VALUES: set.apply((s) => s.values.join("\n")),
        },
        addPreviousOutputInEnv: false,
        logging: "stdoutAndStderr",
    }, { parent }));
};
