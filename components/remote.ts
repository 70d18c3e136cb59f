// The few shapes every remote step shares: a connection, a command that reads its payload on stdin, and the
// server-side helper script (files/mailstack-ctl) that turns "put this file there" into one atomic rename.

import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { createHash } from "crypto";
import { readFileSync } from "fs";
import * as path from "path";
import { CTL } from "./serverState";

export { CTL };

/**
 * The SSH connection to the server, and who the server is. `server` changes when the machine behind the address is
 * replaced, though address and key stay (a Hetzner server id, the test server's id): step() puts it into the
 * triggers of every step, so that a new machine is set up again from scratch.
 */
export type Connection = command.types.input.remote.ConnectionArgs & { server: string };

export function staticFile(name: string): string {
    return readFileSync(path.join(__dirname, "..", "files", name), "utf8");
}

export function sha256(text: string): string {
    return createHash("sha256").update(text).digest("hex");
}

/** Shell-quotes one word. Only for names and paths: payloads go through stdin, never argv. */
export function quote(word: string): string {
    return /^[A-Za-z0-9_./:@=+-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

export interface StepArgs {
    connection: pulumi.Input<Connection>;
    /** The command line: names and paths only. */
    create: pulumi.Input<string>;
    stdin?: pulumi.Input<string>;
    /** Run when the step leaves the stack (names and paths only, like `create`). */
    delete?: pulumi.Input<string>;
    /** Besides the server's identity, which every step has. */
    triggers?: pulumi.Input<unknown>[];
    /** Output that may contain secrets is never logged. */
    quiet?: boolean;
}

/**
 * One remote command. Updates re-run `create`: every verb of mailstack-ctl is idempotent. A quiet step's output is
 * neither logged nor stored in plain text: the provider never makes stdout/stderr secret by itself.
 */
export function step(name: string, args: StepArgs, opts: pulumi.CustomResourceOptions): command.remote.Command {
    const target = pulumi.output(args.connection);
    return new command.remote.Command(name, {
        connection: target.apply(({ server, ...connection }) => connection), // the provider knows no `server`
        create: args.create,
        delete: args.delete,
        stdin: args.stdin,
        triggers: [pulumi.unsecret(target.apply((t) => t.server)), ...(args.triggers ?? [])],
        addPreviousOutputInEnv: false,
        logging: args.quiet ? "none" : "stdoutAndStderr",
    }, args.quiet ? { ...opts, additionalSecretOutputs: [...(opts.additionalSecretOutputs ?? []), "stdout", "stderr"] } : opts);
}

/** Writes a file through mailstack-ctl, content on stdin (secret content stays a secret input, and is never printed). */
export function putFile(name: string, file: { path: string; mode: string; owner: string; content: pulumi.Input<string> },
    connection: pulumi.Input<Connection>, opts: pulumi.CustomResourceOptions,
    triggers?: pulumi.Input<unknown>[]): command.remote.Command {
    return step(name, {
        connection,
        create: `${CTL} put ${quote(file.path)} ${quote(file.mode)} ${quote(file.owner)}`,
        stdin: file.content,
        triggers,
        // mailstack-ctl put prints only what it did (e.g. that it restored a hand-edited file), never the content
    }, opts);
}

/** The drift check's side of a writer (components/serverState.ts): a path's repair count, which also watches it. */
export interface Repairs {
    repairOf(...paths: string[]): pulumi.Output<number>;
}

/** What a component needs that only writes files and applies them: the server, and the drift check, by which a
 * changed file is written again and its daemon restarted. */
export interface FilesArgs {
    connection: pulumi.Input<Connection>;
    state: Repairs;
}

/** A file the stack writes, owned by root: 0644 unless MODE says otherwise. */
export interface RootFile {
    path: string;
    content: pulumi.Input<string>;
    mode?: string;
    /** The step's name after the component's (`NAME-ID`); the file's base name unless given. */
    id?: string;
}

/** A file whose text is known when the program runs: its hash can trigger the step that applies it. */
export type TextFile = RootFile & { content: string };

/** Writes each file in a step of its own, written again whenever the drift check finds it changed or gone. */
export function writeFiles(name: string, files: RootFile[], connection: pulumi.Input<Connection>, state: Repairs,
    opts: pulumi.CustomResourceOptions): command.remote.Command[] {
    return files.map((f) => putFile(`${name}-${f.id ?? path.basename(f.path)}`, {
        path: f.path, mode: f.mode ?? "0644", owner: "root:root", content: f.content,
    }, connection, opts, [state.repairOf(f.path)]));
}

/**
 * The unit at UNIT_FILE, one of the stack's own (its job's FILES written by writeFiles), enabled and started through
 * `mailstack-ctl start`, which takes the job's files back if it does not come up; again when a text changes or a
 * file drifted. A changed file replaces the step, and the old step's delete (disable) runs before the new create.
 */
export function startUnit(name: string, unitFile: string, files: TextFile[], connection: pulumi.Input<Connection>,
    state: Repairs, opts: pulumi.CustomResourceOptions): command.remote.Command {
    const unit = path.posix.basename(unitFile);
    return step(name, {
        connection,
        create: `${CTL} start ${unit}`,
        delete: `systemctl disable --now --quiet ${unit} || true`,
        triggers: [...files.map((f) => sha256(f.content)), state.repairOf(...files.map((f) => f.path))],
    }, { ...opts, deleteBeforeReplace: true });
}

/**
 * A daemon's config files, then `mailstack-ctl VERB`, which checks them with the daemon, (re)starts and probes it,
 * and takes every one of them back if it refuses them. The apply runs again when a text changes or a file drifted.
 */
export function daemonConfig(name: string, verb: string, files: TextFile[],
    connection: pulumi.Input<Connection>, state: Repairs, opts: pulumi.CustomResourceOptions): command.remote.Command {
    return step(`${name}-apply`, {
        connection,
        create: `${CTL} ${verb}`,
        triggers: [...files.map((f) => sha256(f.content)), state.repairOf(...files.map((f) => f.path))],
    }, { ...opts, dependsOn: writeFiles(name, files, connection, state, opts) });
}
