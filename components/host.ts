// Where the mail server runs: a new Hetzner Cloud server, a host that already exists, or the local test server.
// Each gives the rest of the stack the same two things: an SSH connection (with the server's identity, see
// remote.ts) and a public address.

import * as command from "@pulumi/command";
import * as hcloud from "@pulumi/hcloud";
import * as pulumi from "@pulumi/pulumi";
import * as path from "path";
import { ExistingHost, HetznerHost, TestbedHost } from "./config";
import { Connection, step } from "./remote";

export interface Host {
    connection: pulumi.Output<Connection>;
    address: pulumi.Output<string>;
    /** The IPv6 address mail leaves from, with its PTR set; hosts without one send over IPv4 only. */
    ipv6?: pulumi.Output<string>;
    /** The Hetzner server id, for the firewall attachment. */
    serverId?: pulumi.Output<number>;
    /** Resources that must exist before the first remote step. */
    ready: pulumi.Resource[];
    /** A block device apart from the server that holds the mail state (components/storage.ts; Hetzner: the volume's
     * Linux device); none: the root disk. */
    storage?: { device: pulumi.Output<string> };
    /** The testbed's backup target: the ssh key of its sftp account, used unless mailstack:backupSshKey is set. */
    backupSshKey?: pulumi.Output<string>;
    /** The testbed's DNS: the TSIG secret of its RFC 2136 updates, used unless mailstack:dnsKey is set. */
    dnsKey?: pulumi.Output<string>;
}

export interface HetznerArgs {
    config: HetznerHost;
    hostname: string;
    sshPrivateKey: pulumi.Input<string>;
}

export class HetznerServer extends pulumi.ComponentResource implements Host {
    readonly connection: pulumi.Output<Connection>;
    readonly address: pulumi.Output<string>;
    readonly ipv6: pulumi.Output<string>;
    readonly serverId: pulumi.Output<number>;
    readonly storage: { device: pulumi.Output<string> };
    readonly ready: pulumi.Resource[];

    constructor(name: string, args: HetznerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mailstack:index:HetznerServer", name, {}, opts);
        const { config, hostname } = args;
        const labels = { "managed-by": "mailstack" };
        // Hetzner names are unique per project and these keep theirs: a replacement (new key, new location) must
        // delete the old one first. The provider creates the new one first unless told.
        const key = new hcloud.SshKey(`${name}-key`, { name: hostname, publicKey: config.sshPublicKey, labels },
            { parent: this, deleteBeforeReplace: true });
        // The address outlives the server (autoDelete: false), so a replaced server keeps its IP, PTR and reputation.
        // No assigneeType: it only goes with assigneeId, and the provider warns about it on every run otherwise.
        const ip = new hcloud.PrimaryIp(`${name}-ipv4`, {
            name: `${hostname}-ipv4`,
            type: "ipv4",
            location: config.location,
            autoDelete: false,
            labels,
        }, { parent: this, deleteBeforeReplace: true });
        // Its own primary IP for the same reason: the /64 (and so the sending address and its PTR) stays.
        const ip6 = new hcloud.PrimaryIp(`${name}-ipv6`, {
            name: `${hostname}-ipv6`,
            type: "ipv6",
            location: config.location,
            autoDelete: false,
            labels,
        }, { parent: this, deleteBeforeReplace: true });
        // Protected at Hetzner (console, API) and in Pulumi: a plan that would replace or delete the server fails
        // naming it, until host.replaceServer says the replacement is meant. The provider lifts Hetzner's lock
        // itself when Pulumi deletes, so only Pulumi's needs lifting.
        const server = new hcloud.Server(name, {
            name: hostname,
            serverType: config.serverType,
            image: config.image,
            location: config.location,
            sshKeys: [key.id],
            publicNets: [{ ipv4Enabled: true, ipv4: ip.id.apply(Number), ipv6Enabled: true, ipv6: ip6.id.apply(Number) }],
            labels,
            deleteProtection: config.protect,
            rebuildProtection: config.protect,
        }, {
            parent: this,
            // Keys are only installed when a server is created: a new key must not replace (wipe) the server.
            ignoreChanges: ["sshKeys"],
            protect: config.protect && !config.replaceServer,
        });
        // The mail state lives here, not on the server's disk: a replaced server gets the same volume. Formatted
        // once by Hetzner; not automounted (the stack mounts it before postfix and dovecot start). Its location
        // is its only replacing input, and it stays protected even while the server may be replaced.
        const volume = new hcloud.Volume(`${name}-data`, {
            name: `${hostname}-data`,
            size: config.volumeSize,
            location: config.location,
            format: "ext4",
            automount: false,
            deleteProtection: config.protect,
            labels,
        }, { parent: this, protect: config.protect });
        // No name, so replaced new-first; but a replaced server takes its attachment with it first (its id is
        // unknown then), so the volume is free for the new server.
        const attached = new hcloud.VolumeAttachment(`${name}-data`, {
            volumeId: volume.id.apply(Number),
            serverId: server.id.apply(Number),
            automount: false,
        }, { parent: this });
        this.storage = { device: volume.linuxDevice };
        // A replaced entry may be for the same address: deleting the old one after the new was set would reset
        // the PTR to Hetzner's default.
        const rdns = new hcloud.Rdns(`${name}-ptr`, {
            primaryIpId: ip.id.apply(Number),
            ipAddress: ip.ipAddress,
            dnsPtr: hostname,
        }, { parent: this, dependsOn: [server], deleteBeforeReplace: true });
        // Hetzner configures the first address of the /64 on the server (cloud-init): postfix binds to it.
        this.ipv6 = server.ipv6Address;
        const rdns6 = new hcloud.Rdns(`${name}-ptr6`, {
            primaryIpId: ip6.id.apply(Number),
            ipAddress: this.ipv6,
            dnsPtr: hostname,
        }, { parent: this, dependsOn: [server], deleteBeforeReplace: true });
        this.address = ip.ipAddress;
        this.serverId = server.id.apply(Number);
        this.connection = pulumi.secret(pulumi.all([ip.ipAddress, args.sshPrivateKey, server.id])
            .apply(([host, privateKey, id]) => ({ host, port: 22, user: "root", privateKey, server: `hcloud-${id}` })));
        // A new server takes a while to answer SSH: keep dialing until it does.
        const booted = step(`${name}-ssh`, {
            connection: this.connection.apply((c) => ({ ...c, dialErrorLimit: -1 })),
            create: "echo up",
        }, { parent: this, dependsOn: [server] });
        this.ready = [booted, rdns, rdns6, attached];
        this.registerOutputs({ address: this.address, serverId: this.serverId });
    }
}

export interface ExistingArgs {
    config: ExistingHost;
    sshPrivateKey: pulumi.Input<string>;
}

export class ExistingServer extends pulumi.ComponentResource implements Host {
    readonly connection: pulumi.Output<Connection>;
    readonly address: pulumi.Output<string>;
    readonly ready: pulumi.Resource[] = [];
    readonly storage?: { device: pulumi.Output<string> };

    constructor(name: string, args: ExistingArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mailstack:index:ExistingServer", name, {}, opts);
        const { address, port, user, id, storage } = args.config;
        // Only when asked: an existing server's mail stays where it is unless host.storage names a device.
        this.storage = storage === undefined ? undefined : { device: pulumi.output(storage) };
        this.address = pulumi.output(address);
        this.connection = pulumi.secret(pulumi.output(args.sshPrivateKey).apply((privateKey) => ({
            host: address, port, user, privateKey, server: `existing-${id}`,
        })));
        this.registerOutputs({ address: this.address });
    }
}

interface TestbedInfo {
    /** New with every server that server-up creates (a new root), kept while that server lives. */
    id: string;
    address: string;
    port: number;
    user: string;
    privateKey: string;
    storage: { device: string };
    backupSshKey: string;
}

/**
 * The throwaway Debian server of `npm run local`: created by `up` and removed by `destroy`, like any other server.
 * scripts/testbed prints its connection as JSON on the last line of stdout (the private key among it: secret).
 */
export class TestbedServer extends pulumi.ComponentResource implements Host {
    readonly connection: pulumi.Output<Connection>;
    readonly address: pulumi.Output<string>;
    readonly ready: pulumi.Resource[];
    readonly storage: { device: pulumi.Output<string> };
    readonly backupSshKey: pulumi.Output<string>;
    readonly dnsKey?: pulumi.Output<string>;

    constructor(name: string, args: { config: TestbedHost; dnsKey: boolean }, opts?: pulumi.ComponentResourceOptions) {
        super("mailstack:index:TestbedServer", name, {}, opts);
        const root = path.join(__dirname, "..");
        // MAILSTACK_SUITE=trixie npm run local tries Debian 13 without editing Pulumi.local.yaml.
        const suite = process.env.MAILSTACK_SUITE || args.config.suite;
        if (!["bookworm", "trixie"].includes(suite)) {
            throw new Error(`MAILSTACK_SUITE: "${suite}" is not a supported Debian suite (bookworm, trixie)`);
        }
        const server = new command.local.Command(name, {
            create: `bash scripts/testbed server-up --json --suite ${suite}`,
            delete: "bash scripts/testbed server-down",
            dir: root,
            logging: "none",
            addPreviousOutputInEnv: false,
        }, {
            parent: this,
            additionalSecretOutputs: ["stdout"],
            // There is one test server slot: the old server must go before its replacement comes up.
            deleteBeforeReplace: true,
            // Another suite is another machine, as another image is on Hetzner: without this the provider would
            // run server-up again in place (an update), which refuses while the old server runs.
            replaceOnChanges: ["create"],
        });
        const info = server.stdout.apply((out) => JSON.parse(out.trim().split("\n").pop() ?? "{}") as TestbedInfo);
        this.address = pulumi.unsecret(info.apply((i) => i.address));
        this.connection = pulumi.secret(info.apply((i) => ({
            host: i.address, port: i.port, user: i.user, privateKey: i.privateKey, server: `testbed-${i.id}`,
        })));
        // The volume (a loop device given to the guest) outlives the server: server-down and destroy keep it.
        this.storage = { device: pulumi.unsecret(info.apply((i) => i.storage.device)) };
        this.backupSshKey = pulumi.secret(info.apply((i) => i.backupSshKey));
        this.ready = [server];
        if (args.dnsKey) {
            // The test DNS's TSIG key, made once per checkout with the client side (not read from server-up's output:
            // an older checkout's stack may hold a server from before the test DNS existed).
            const dnsKey = new command.local.Command(`${name}-dns-key`, {
                create: "bash scripts/testbed dns-key", dir: root, logging: "none", addPreviousOutputInEnv: false,
            }, { parent: this, additionalSecretOutputs: ["stdout"] });
            this.dnsKey = pulumi.secret(dnsKey.stdout.apply((k) => k.trim()));
        }
        this.registerOutputs({ address: this.address });
    }
}
