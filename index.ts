// Reads the stack config, validates all of it before any resource exists, and builds one MailServer.

import * as pulumi from "@pulumi/pulumi";
import { MailServer } from "./components/mailServer";
import { readServer } from "./components/serverState";
import { readStackConfig } from "./components/stackConfig";

const { config, ...secrets } = readStackConfig(new pulumi.Config("mailstack"));

const server = new MailServer("mail", { config, ...secrets, readServer });

export const serverIp = server.serverIp;
export const clientSettings = server.clientSettings;
export const dnsRecords = server.dnsRecords;
export const virtualUserPasswords = server.virtualUserPasswords;
export const systemUserPasswords = server.systemUserPasswords;
export const appPasswords = server.appPasswords;
export const doctor = server.doctor;
