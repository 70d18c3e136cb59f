#!/usr/bin/env bash
# End-to-end check of the provider plugins with the real engine: a tiny TypeScript program using @pulumi/command
# and @pulumi/random against a throwaway sshd on 127.0.0.1.
#
#   test/integration.sh PLUGIN_DIR PULUMI_DIR NODE_MODULES
#
# PLUGIN_DIR holds the binaries of build.sh; PULUMI_DIR holds `pulumi` and `pulumi-language-nodejs`; NODE_MODULES
# has @pulumi/{pulumi,command,random}, typescript and ts-node. `node` (>= 22) must be on PATH. Needs sshd and
# ssh-keygen (openssh-server). Everything lives in a temp dir, removed at the end with the sshd stopped.
set -euo pipefail
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/project.sh"

plugins="$(cd "${1:?usage: integration.sh PLUGIN_DIR PULUMI_DIR NODE_MODULES}" && pwd)"
pulumi_dir="$(cd "${2:?}" && pwd)"
node_modules="$(cd "${3:?}" && pwd)"

T="$(mktemp -d /tmp/provider-it.XXXXXX)"
sshd_pid=""
cleanup() {
    [[ -n "$sshd_pid" ]] && kill "$sshd_pid" 2>/dev/null || true
    rm -rf "$T"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; echo "--- runs.log:" >&2; cat "$T/work/runs.log" >&2 || true; exit 1; }

export PATH="$pulumi_dir:$PATH"
export PULUMI_HOME="$T/home" PULUMI_BACKEND_URL="file://$T/state" PULUMI_CONFIG_PASSPHRASE=x
export PULUMI_SKIP_UPDATE_CHECK=true PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
mkdir -p "$T/home" "$T/state" "$T/proj" "$T/work" "$T/sshd"

# --- a throwaway sshd -------------------------------------------------------------------------------------------
S="$T/sshd"
mkdir -p /run/sshd # sshd's privilege separation directory
ssh-keygen -q -t ed25519 -N "" -f "$S/host"
ssh-keygen -q -t ed25519 -N "" -f "$S/client"
cp "$S/client.pub" "$S/authorized_keys"
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
cat > "$S/sshd_config" <<EOF
Port $port
ListenAddress 127.0.0.1
HostKey $S/host
AuthorizedKeysFile $S/authorized_keys
PidFile $S/sshd.pid
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin yes
EOF
"$(command -v sshd || echo /usr/sbin/sshd)" -D -f "$S/sshd_config" -E "$S/sshd.log" &
sshd_pid=$!

# --- the plugins and the program --------------------------------------------------------------------------------
pulumi plugin install resource command 1.2.1 --file "$plugins/pulumi-resource-command" >/dev/null
pulumi plugin install resource random 4.21.2 --file "$plugins/pulumi-resource-random" >/dev/null

cd "$T/proj"
new_project provider-it "$node_modules"
cat > index.ts <<EOF
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import * as random from "@pulumi/random";
import { readFileSync } from "fs";

const cfg = new pulumi.Config();
const work = "$T/work";
// Secret as a whole, as mailstack passes it.
const conn = pulumi.secret({ host: "127.0.0.1", port: $port, user: "$(id -un)",
    privateKey: readFileSync("$S/client", "utf8"), hostKey: readFileSync("$S/host.pub", "utf8").trim() });

const pw = new random.RandomPassword("pw", { length: 24, special: false });

// Every command appends to runs.log, so the script can check exactly what ran.
const local = new command.local.Command("local", {
    create: 'echo "local create \$GREETING" | tee -a runs.log',
    delete: "echo 'local delete' >> runs.log",
    environment: { GREETING: cfg.get("greeting") ?? "hello" },
    dir: work,
});
const remote = new command.remote.Command("remote", {
    connection: conn,
    create: \`cat > \${work}/remote-file && echo "remote create" | tee -a \${work}/runs.log\`,
    update: \`cat > \${work}/remote-file && echo "remote update" | tee -a \${work}/runs.log\`,
    delete: \`echo "remote delete" >> \${work}/runs.log\`,
    stdin: cfg.get("content") ?? "v1",
    triggers: [cfg.get("trigger") ?? "t1"],
});
// A secret on stdin, with logging off, as mailstack's putFile.
const secretFile = new command.remote.Command("secret", {
    connection: conn,
    create: \`cat > \${work}/secret-file && echo "secret create" >> \${work}/runs.log && echo done\`,
    stdin: pw.result,
    addPreviousOutputInEnv: false,
    logging: "none",
}, { additionalSecretOutputs: ["stdout", "stderr"] });

export const pwLength = pw.result.apply((r) => r.length);
export const localOut = local.stdout;
export const remoteOut = remote.stdout;
export const secretOut = secretFile.stdout;
EOF
pulumi stack init dev >/dev/null

runs() { cat "$T/work/runs.log" 2>/dev/null | sort | tr '\n' ',' ; }
step() { : > "$T/work/runs.log"; echo "== $1"; pulumi up --yes > "$T/up.log" 2>&1 || { cat "$T/up.log"; fail "$1: pulumi up failed"; }; }

step "first up"
[[ "$(runs)" == "local create hello,remote create,secret create," ]] || fail "first up ran: $(runs)"
[[ "$(pulumi stack output pwLength --show-secrets)" == 24 ]] || fail "password length"
[[ "$(cat "$T/work/secret-file")" =~ ^[A-Za-z0-9]{24}$ ]] || fail "password on stdin"
pw="$(cat "$T/work/secret-file")"
pulumi stack export > "$T/state.json"
! grep -q -- "$pw" "$T/state.json" || fail "the password is stored in plain text"
! grep -q "OPENSSH PRIVATE KEY" "$T/state.json" || fail "the private key is stored in plain text"
grep -q "remote create" "$T/up.log" || fail "remote stdout not logged"

step "second up, no changes"
[[ -z "$(runs)" ]] || fail "an unchanged up ran: $(runs)"
grep -q "5 unchanged" "$T/up.log" || { cat "$T/up.log"; fail "expected 5 unchanged"; }

pulumi config set content v2
step "changed stdin: update"
[[ "$(runs)" == "remote update," ]] || fail "stdin change ran: $(runs)"
[[ "$(cat "$T/work/remote-file")" == v2 ]] || fail "new stdin not written"
grep -q "1 updated" "$T/up.log" || fail "expected 1 updated"

pulumi config set trigger t2
step "changed triggers: replace"
[[ "$(runs)" == "remote create,remote delete," ]] || fail "trigger change ran: $(runs)"
grep -q "1 replaced" "$T/up.log" || fail "expected 1 replaced"

: > "$T/work/runs.log"
echo "== destroy"
pulumi destroy --yes > "$T/up.log" 2>&1 || { cat "$T/up.log"; fail "destroy failed"; }
[[ "$(runs)" == "local delete,remote delete," ]] || fail "destroy ran: $(runs)"

echo "integration: 5 passed, 0 failed"
