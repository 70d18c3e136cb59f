# Sourced by every script in scripts/: where things live and which versions we pin.
# The cache lives outside the checkout, keyed by version, so a fresh clone reuses it and a second setup is quick.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${MAILSTACK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mailstack}
SUITE=${MAILSTACK_SUITE:-bookworm}
# The local test server's network namespaces are NAME-client and NAME-server. Another checkout on the same machine
# (a git worktree) picks its own NAME in .local/testbed-name, so two test servers can run side by side.
TESTBED_NAME=${MAILSTACK_TESTBED:-$(cat "$ROOT/.local/testbed-name" 2>/dev/null || echo mailstack)}
CLIENT_NETNS=$TESTBED_NAME-client
SERVER_NETNS=$TESTBED_NAME-server

# package.json is the one place versions are pinned; plain sed so that this works before any usable Node exists.
pin() { sed -n "s/^ *\"$1\": *\"\([^\"]*\)\".*/\1/p" "$ROOT/package.json" | head -n 1; }
NODE_VERSION=$(pin nodeVersion)
PULUMI_VERSION=$(pin pulumiCli)

NODE_HOME=$CACHE/node/$NODE_VERSION
TOOLCHAIN=$CACHE/pulumi/$PULUMI_VERSION
export PULUMI_HOME=$CACHE/pulumi-home
export PULUMI_BACKEND_URL=${PULUMI_BACKEND_URL:-file://$ROOT}
export PULUMI_SKIP_UPDATE_CHECK=true
# The engine runs the program without type-checking it again (seconds on every preview and up): `npm test` and
# `npm run lint` type-check it.
export PULUMI_NODEJS_TRANSPILE_ONLY=${PULUMI_NODEJS_TRANSPILE_ONLY:-true}
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PATH=$NODE_HOME/bin:$TOOLCHAIN/bin:$PATH

# The stack exists in the current backend (stack ls needs no passphrase).
stack_exists() { pulumi stack ls --json 2>/dev/null | grep -q "\"name\": \"$1\""; }

log() { printf '[mailstack] %s\n' "$*" >&2; }
die() { printf '[mailstack] error: %s\n' "$*" >&2; exit 1; }

# apt-get install only what is missing; `apt-get update` once per run at most.
apt_ready=
need_debs() {
    local missing=()
    for p in "$@"; do dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p"); done
    [ ${#missing[@]} -eq 0 ] && return 0
    log "installing Debian packages: ${missing[*]}"
    if [ -z "$apt_ready" ]; then apt-get update -q >/dev/null || log "apt-get update reported errors; trying anyway"; apt_ready=1; fi
    # Setup installs tools, never services: no package may start a daemon on this machine (sshd, pebble).
    local guard=
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 0755 /usr/sbin/policy-rc.d && guard=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
    [ -z "$guard" ] || rm -f /usr/sbin/policy-rc.d
}
