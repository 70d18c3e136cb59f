// Reads the `mailstack:*` keys from the Pulumi stack config and validates all of them, the SSH key included,
// before the program creates any resource. Kept apart from config.ts, which stays free of Pulumi.

import * as pulumi from "@pulumi/pulumi";
import { checkRelayPassword, checkWebhook, ConfigError, MailConfig, parseConfig, RawConfig } from "./config";

export interface StackConfig {
    config: MailConfig;
    /** Secret; required for hetzner and existing hosts, unused by the testbed (which makes its own key). */
    sshPrivateKey?: pulumi.Output<string>;
    /** Secret; set exactly when relayHost is. */
    relayPassword?: pulumi.Output<string>;
    /** Secret (a Slack or ntfy URL is a credential): where the server's own check timer posts failures. */
    alertWebhook?: pulumi.Output<string>;
    /** Secrets of mailstack:backup: restic's password, the sftp key, the S3 secret key. */
    backupPassword?: pulumi.Output<string>;
    backupSshKey?: pulumi.Output<string>;
    backupS3SecretKey?: pulumi.Output<string>;
}

/**
 * As readStackConfig, but a bad value stops the program as a pulumi.RunError: the engine then prints the one
 * line that names key and value, without a stack trace.
 */
export function readStackConfig(cfg: pulumi.Config): StackConfig {
    try {
        return read(cfg);
    } catch (e) {
        if (e instanceof ConfigError) {
            throw new pulumi.RunError(e.message);
        }
        throw e;
    }
}

function read(cfg: pulumi.Config): StackConfig {
    const raw: RawConfig = {
        hostname: cfg.get("hostname"),
        baseDomain: cfg.get("baseDomain"),
        virtualDomains: cfg.getObject("virtualDomains"),
        virtualUsers: cfg.getObject("virtualUsers"),
        systemUsers: cfg.getObject("systemUsers"),
        aliases: cfg.getObject("aliases"),
        renames: cfg.getObject("renames"),
        host: cfg.getObject("host"),
        certificate: cfg.getObject("certificate"),
        imaps: cfg.getObject("imaps"),
        smtps: cfg.getObject("smtps"),
        adminEmail: cfg.get("adminEmail"),
        loginScope: cfg.get("loginScope"),
        bruteForce: cfg.getObject("bruteForce"),
        mtaSts: cfg.get("mtaSts"),
        relayHost: cfg.getObject("relayHost"),
        logRetentionDays: cfg.getObject("logRetentionDays"),
        doctor: cfg.getObject("doctor"),
        dkim: cfg.getObject("dkim"),
        spam: cfg.getObject("spam"),
        quota: cfg.getObject("quota"),
        backup: cfg.getObject("backup"),
    };
    const config = parseConfig(raw);
    // Validated from the plain value, passed on only as a secret.
    checkRelayPassword(config.relayHost, cfg.get("relayPassword"));
    checkWebhook(cfg.get("alertWebhook"));
    const relayPassword = config.relayHost === undefined ? undefined : cfg.requireSecret("relayPassword");
    const alertWebhook = cfg.getSecret("alertWebhook");
    let sshPrivateKey = cfg.getSecret("sshPrivateKey");
    if (sshPrivateKey === undefined && config.host.kind !== "testbed") {
        const problem = `is not set, and host kind "${config.host.kind}" needs it ` +
            "(pulumi config set --secret mailstack:sshPrivateKey < KEYFILE)";
        // Checked here, not only in MailServer: by then the MailServer component would already be registered.
        if (!pulumi.runtime.isDryRun()) {
            throw new ConfigError("sshPrivateKey", problem);
        }
        // A preview runs no remote command, so it can show the plan; `up` refuses before touching anything.
        void pulumi.log.warn(`mailstack:sshPrivateKey ${problem}; this preview goes on, \`pulumi up\` will refuse`);
        sshPrivateKey = pulumi.secret(pulumi.output(pulumi.unknown as unknown as string));
    }
    const backupPassword = cfg.getSecret("backupPassword");
    const backupSshKey = cfg.getSecret("backupSshKey");
    const backupS3SecretKey = cfg.getSecret("backupS3SecretKey");
    if (config.backup !== undefined) {
        if (backupPassword === undefined) {
            throw new ConfigError("backupPassword", "is not set, and mailstack:backup needs it " +
                "(pulumi config set --secret mailstack:backupPassword)");
        }
        if (config.backup.s3AccessKeyId !== undefined && backupS3SecretKey === undefined) {
            throw new ConfigError("backupS3SecretKey", "is not set, and the s3 repository of mailstack:backup needs it " +
                "(pulumi config set --secret mailstack:backupS3SecretKey)");
        }
        if (config.backup.repository.startsWith("sftp:") && backupSshKey === undefined && config.host.kind !== "testbed") {
            throw new ConfigError("backupSshKey", "is not set, and the sftp repository of mailstack:backup needs it " +
                "(pulumi config set --secret mailstack:backupSshKey < KEYFILE)");
        }
    }
    return { config, sshPrivateKey, relayPassword, alertWebhook, backupPassword, backupSshKey, backupS3SecretKey };
}
