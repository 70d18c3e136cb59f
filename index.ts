// Reads the stack config, validates all of it before any resource exists, and builds one MailServer.

import * as pulumi from "@pulumi/pulumi";
import { parseConfig, RawConfig } from "./components/config";
import { MailServer } from "./components/mailServer";

const cfg = new pulumi.Config("mailstack");
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

const server = new MailServer("mail", { config, sshPrivateKey: cfg.getSecret("sshPrivateKey") });

export const serverIp = server.serverIp;
export const clientSettings = server.clientSettings;
export const dnsRecords = server.dnsRecords;
export const virtualUserPasswords = server.virtualUserPasswords;
export const systemUserPasswords = server.systemUserPasswords;
