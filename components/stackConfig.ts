// Reads the `mailstack:*` keys from the Pulumi stack config and validates all of them, the SSH key included,
// before the program creates any resource. Kept apart from config.ts, which stays free of Pulumi.

import * as pulumi from "@pulumi/pulumi";
import { ConfigError, MailConfig, parseConfig, RawConfig } from "./config";

export interface StackConfig {
    config: MailConfig;
    /** Secret; required for hetzner and existing hosts, unused by the testbed (which makes its own key). */
    sshPrivateKey?: pulumi.Output<string>;
}

export function readStackConfig(cfg: pulumi.Config): StackConfig {
    const raw: RawConfig = {
        hostname: cfg.get("hostname"),
        baseDomain: cfg.get("baseDomain"),
        virtualDomains: cfg.getObject("virtualDomains"),
        virtualUsers: cfg.getObject("virtualUsers"),
        systemUsers: cfg.getObject("systemUsers"),
        aliases: cfg.getObject("aliases"),
        host: cfg.getObject("host"),
        certificate: cfg.getObject("certificate"),
        imaps: cfg.getObject("imaps"),
        smtps: cfg.getObject("smtps"),
    };
    const config = parseConfig(raw);
    const sshPrivateKey = cfg.getSecret("sshPrivateKey");
    if (sshPrivateKey === undefined && config.host.kind !== "testbed") {
        // Checked here, not only in MailServer: by then the MailServer component would already be registered.
        throw new ConfigError("sshPrivateKey", `is not set, and host kind "${config.host.kind}" needs it ` +
            "(pulumi config set --secret mailstack:sshPrivateKey < KEYFILE)");
    }
    return { config, sshPrivateKey };
}
