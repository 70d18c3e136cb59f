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
# A hash of the sources of one of mailstack's own engine parts (toolchain/DIR), part of their cache keys.
src_hash() { (cd "$ROOT/toolchain/$1" && find . -type f \( -name '*.go' -o -name 'go.*' \) | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-16); }
# Plugins live in PULUMI_HOME, where the engine looks them up by name and version only. Checkouts whose stand-in
# providers (toolchain/providers) differ must not replace each other's builds there (a test run of one would
# pick up the other's plugin): each version of those sources has its own PULUMI_HOME. scripts/toolchain builds
# into the one of the sources it sees and records it in .local/pulumi-home for every later command, so an edit
# of toolchain/providers takes effect at the next setup, never in the middle of a run.
pulumi_home_for_sources() { echo "$CACHE/pulumi-homes/providers-$(src_hash providers)"; }
PULUMI_HOME=$(cat "$ROOT/.local/pulumi-home" 2>/dev/null) || PULUMI_HOME=$(pulumi_home_for_sources)
export PULUMI_HOME
export PULUMI_BACKEND_URL=${PULUMI_BACKEND_URL:-file://$ROOT}
export PULUMI_SKIP_UPDATE_CHECK=true
# The engine runs the program without type-checking it again (seconds on every preview and up): `npm test` and
# `npm run lint` type-check it.
export PULUMI_NODEJS_TRANSPILE_ONLY=${PULUMI_NODEJS_TRANSPILE_ONLY:-true}
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
# V8's code cache for our node processes (the program on every preview and up, its dynamic provider, the doctor,
# jest): a later start reuses the compiled modules of @pulumi/pulumi and its dependencies instead of compiling
# them again. Node keys each entry by the module's source, so a changed file is compiled anew.
export NODE_COMPILE_CACHE=${NODE_COMPILE_CACHE:-$CACHE/node-compile-cache}
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
