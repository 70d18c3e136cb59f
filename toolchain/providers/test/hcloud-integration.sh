#!/usr/bin/env bash
# End-to-end check of mailstack's hcloud provider plugin with the real engine: a tiny TypeScript program with
# mailstack's Hetzner resources (SshKey, PrimaryIp, Server, Rdns, Firewall, FirewallAttachment; Zone and ZoneRrset:
# a zone it creates, and record sets in it and in an adopted zone that holds a set that is not the program's).
#   1. `pulumi preview` offline, with a placeholder HCLOUD_TOKEN and the real API endpoint (unreachable here):
#      a preview must not call the API.
#   2. up, no-op up, in-place updates, a replacement, refresh and destroy against the fake Hetzner API of the Go
#      tests (hcloud/serve_test.go), which fails on any request it does not expect.
#
#   test/hcloud-integration.sh PLUGIN_DIR PULUMI_DIR NODE_MODULES
#
# PLUGIN_DIR holds pulumi-resource-hcloud; PULUMI_DIR holds `pulumi` and `pulumi-language-nodejs`; NODE_MODULES
# has @pulumi/{pulumi,hcloud}, typescript and ts-node. `node` (>= 22) and `go` must be on PATH. Everything lives
# in a temp dir, removed at the end (kept with HCLOUD_IT_KEEP=1, to read the logs).
set -euo pipefail
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/project.sh"

plugins="$(cd "${1:?usage: hcloud-integration.sh PLUGIN_DIR PULUMI_DIR NODE_MODULES}" && pwd)"
pulumi_dir="$(cd "${2:?}" && pwd)"
node_modules="$(cd "${3:?}" && pwd)"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

T="$(mktemp -d /tmp/hcloud-it.XXXXXX)"
fake_pid=""
cleanup() {
    [[ -n "$fake_pid" ]] && { touch "$T/fake/stop"; wait "$fake_pid" 2>/dev/null || true; }
    if [[ -n "${HCLOUD_IT_KEEP:-}" ]]; then echo "kept $T" >&2; else rm -rf "$T"; fi
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
passed=0
ok() { echo "ok: $*"; passed=$((passed + 1)); }

export PATH="$pulumi_dir:$PATH"
export PULUMI_HOME="$T/home" PULUMI_BACKEND_URL="file://$T/state" PULUMI_CONFIG_PASSPHRASE=x
export PULUMI_SKIP_UPDATE_CHECK=true PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
mkdir -p "$T/home" "$T/state" "$T/proj" "$T/fake"

pulumi plugin install resource hcloud 1.41.0 --file "$plugins/pulumi-resource-hcloud" >/dev/null

cd "$T/proj"
new_project hcloud-it "$node_modules"
cat > index.ts <<'EOF'
import * as hcloud from "@pulumi/hcloud";
import * as pulumi from "@pulumi/pulumi";

const cfg = new pulumi.Config();
const labels = { "managed-by": "hcloud-it" };
const anywhere = ["0.0.0.0/0", "::/0"];

const key = new hcloud.SshKey("key", {
    name: "mail.example.org",
    publicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPlaceholderReplaceWithYourOwnPublicKey00000 it@example",
    labels,
});
const ip = new hcloud.PrimaryIp("ipv4", {
    name: "mail.example.org-ipv4", type: "ipv4", assigneeType: "server", location: "nbg1", autoDelete: false, labels,
});
const server = new hcloud.Server("mail", {
    name: "mail.example.org",
    serverType: cfg.get("serverType") ?? "cx22",
    image: cfg.get("image") ?? "debian-12",
    location: "nbg1",
    sshKeys: [key.id],
    publicNets: [{ ipv4Enabled: true, ipv4: ip.id.apply(Number), ipv6Enabled: true }],
    labels,
});
new hcloud.Rdns("ptr", {
    primaryIpId: ip.id.apply(Number), ipAddress: ip.ipAddress, dnsPtr: cfg.get("ptr") ?? "mail.example.org",
}, { dependsOn: [server] });
const fw = new hcloud.Firewall("fw", {
    name: "mail.example.org",
    rules: [
        { direction: "in", protocol: "tcp", port: "22", sourceIps: ["203.0.113.0/24"], description: "SSH" },
        { direction: "in", protocol: "tcp", port: "25", sourceIps: anywhere, description: "SMTP" },
        { direction: "in", protocol: "icmp", sourceIps: anywhere, description: "ping" },
    ],
    labels,
});
new hcloud.FirewallAttachment("fw", { firewallId: fw.id.apply(Number), serverIds: [server.id.apply(Number)] });

// DNS as mailstack publishes it: a zone the program creates (its sets wait for it through zone.name), and an
// adopted one (example.net, made by the fake API with a `www` set) named by its name only.
const zone = new hcloud.Zone("zone", { name: "example.org", mode: "primary", labels });
new hcloud.ZoneRrset("mail-a", { zone: zone.name, name: "mail", type: "A", ttl: 300, labels,
    records: [{ value: ip.ipAddress }] });
new hcloud.ZoneRrset("mx", { zone: zone.name, name: "@", type: "MX", ttl: 300, labels,
    records: [{ value: "10 mail.example.org." }] });
new hcloud.ZoneRrset("dkim", { zone: "example.net", name: "mailstack._domainkey", type: "TXT", ttl: 300, labels,
    records: [{ value: `"v=DKIM1; k=rsa; p=${cfg.get("dkim") ?? "AAAA"}"` }] });
if (cfg.getBoolean("autoconfig") ?? true) {
    new hcloud.ZoneRrset("autoconfig", { zone: "example.net", name: "autoconfig", type: "A", ttl: 300, labels,
        records: [{ value: ip.ipAddress }] });
}

export const address = ip.ipAddress;
export const status = server.status;
export const ipv6 = server.ipv6Address;
export const serverId = server.id;
export const fingerprint = key.fingerprint;
EOF
pulumi stack init dev >/dev/null

run() { # run LOG ARGS...: pulumi ARGS, output in $T/LOG, failing the script with it shown
    local log="$T/$1"; shift
    pulumi "$@" > "$log" 2>&1 || { cat "$log"; fail "pulumi $*"; }
}

# --- 1. offline preview -----------------------------------------------------------------------------------------
placeholder="$(printf 'x%.0s' {1..64})"
HCLOUD_TOKEN="$placeholder" run preview.log preview
for t in SshKey PrimaryIp Server Rdns Firewall FirewallAttachment Zone ZoneRrset; do
    grep -q "hcloud:index:$t " "$T/preview.log" || { cat "$T/preview.log"; fail "preview does not list $t"; }
done
grep -q "+ 12 to create" "$T/preview.log" || { cat "$T/preview.log"; fail "preview: expected 12 to create"; }
ok "offline preview with a placeholder token"

# Without any token, a preview still works.
env -u HCLOUD_TOKEN pulumi preview > "$T/preview-notoken.log" 2>&1 || { cat "$T/preview-notoken.log"; fail "preview without a token"; }
ok "preview without a token"

# --- 2. against the fake API ------------------------------------------------------------------------------------
token="$(printf 'k%.0s' {1..64})"
(cd "$here" && HCLOUD_FAKE_API_DIR="$T/fake" HCLOUD_FAKE_API_TOKEN="$token" HCLOUD_FAKE_API_ZONE=example.net \
    go test -count=1 -run '^TestServeFakeAPI$' ./hcloud/ > "$T/fake/go-test.log" 2>&1) &
fake_pid=$!
for _ in $(seq 600); do [[ -f "$T/fake/url" ]] && break; sleep 1; done
[[ -f "$T/fake/url" ]] || { cat "$T/fake/go-test.log"; fail "the fake API did not start"; }

pulumi config set hcloud:endpoint "$(cat "$T/fake/url")" >/dev/null
pulumi config set hcloud:pollInterval 20ms >/dev/null
pulumi config set --secret hcloud:token "$token" >/dev/null
export HCLOUD_TOKEN="$placeholder" # the stack config must win over the environment

run up1.log up --yes
grep -q "+ 12 created" "$T/up1.log" || { cat "$T/up1.log"; fail "first up: expected 12 created"; }
[[ "$(pulumi stack output status)" == running ]] || fail "server status: $(pulumi stack output status)"
[[ "$(pulumi stack output address)" =~ ^203\.0\.113\.[0-9]+$ ]] || fail "address: $(pulumi stack output address)"
[[ "$(pulumi stack output ipv6)" =~ ^2001:db8:[0-9a-f]+::1$ ]] || fail "ipv6: $(pulumi stack output ipv6)"
[[ "$(pulumi stack output serverId)" =~ ^[0-9]+$ ]] || fail "server id: $(pulumi stack output serverId)"
pulumi stack export > "$T/export.json"
! grep -q "$token" "$T/export.json" || fail "the token is stored in plain text in the state"
ok "up creates the 11 resources"

run up2.log up --yes
grep -q "12 unchanged" "$T/up2.log" || { cat "$T/up2.log"; fail "second up: expected 12 unchanged"; }
ok "a second up changes nothing"

# A DKIM rotation: the set's records change in place (set_records), shown with the value in the preview.
pulumi config set dkim BBBB >/dev/null
run preview-dkim.log preview --diff
grep -q 'p=BBBB' "$T/preview-dkim.log" || { cat "$T/preview-dkim.log"; fail "preview --diff does not show the new DKIM value"; }
run up-dkim.log up --yes
grep -q "1 updated" "$T/up-dkim.log" || { cat "$T/up-dkim.log"; fail "DKIM rotation: expected 1 updated"; }
# A set the program no longer declares is deleted; the adopted zone's own set stays.
pulumi config set autoconfig false >/dev/null
run up-drop.log up --yes
grep -q "1 deleted" "$T/up-drop.log" || { cat "$T/up-drop.log"; fail "dropped set: expected 1 deleted"; }
ok "record sets: new records in place, a dropped set deleted"

pulumi config set serverType cx32 >/dev/null
pulumi config set ptr mx.example.org >/dev/null
run preview-diff.log preview --diff
grep -q "+-" "$T/preview-diff.log" && { cat "$T/preview-diff.log"; fail "a resize and a new PTR must not replace"; }
run up3.log up --yes
grep -q "2 updated" "$T/up3.log" || { cat "$T/up3.log"; fail "resize + PTR: expected 2 updated"; }
# As upstream (toolchain/README.md, A1 "power-on after a resize"): the resize powers the server off and leaves it off.
[[ "$(pulumi stack output status)" == off ]] || fail "server status after the resize: $(pulumi stack output status), want off"
ok "serverType and dnsPtr update in place (the server left off, as upstream)"

old_id="$(pulumi stack output serverId)"
pulumi config set image debian-13 >/dev/null
run up4.log up --yes
grep -q "1 replaced" "$T/up4.log" || { cat "$T/up4.log"; fail "new image: expected 1 replaced"; }
[[ "$(pulumi stack output serverId)" != "$old_id" ]] || fail "the server was not replaced"
ok "a new image replaces the server (deleted first: the program named it)"

run refresh.log refresh --yes
run preview-after.log preview --expect-no-changes
ok "refresh, then nothing to change"

run destroy.log destroy --yes
grep -q "11 deleted" "$T/destroy.log" || { cat "$T/destroy.log"; fail "destroy: expected 11 deleted"; }

touch "$T/fake/stop"
wait "$fake_pid" || { cat "$T/fake/go-test.log"; fail "the fake API saw unexpected requests"; }
fake_pid=""
python3 - "$T/fake/state.json" <<'EOF' || fail "the fake API is not empty after destroy: $(cat "$T/fake/state.json")"
import json, sys
s = json.load(open(sys.argv[1]))
left = {k: s[k] for k in ("sshKeys", "primaryIPs", "servers", "firewalls") if s[k]}
# the created zone is gone; the adopted one is as it was: its SOA, NS and the www set nobody declared
adopted = s["zones"] == {"example.net": ["@/NS=hydrogen.ns.hetzner.com.,oxygen.ns.hetzner.com.,helium.ns.hetzner.de.",
    "@/SOA=hydrogen.ns.hetzner.com. dns.hetzner.com. 2025102101 86400 10800 3600000 3600", "www/A=198.51.100.7"]}
sys.exit(1 if left or not adopted or s["badAuth"] else 0)
EOF
ok "destroy leaves nothing behind (the autoDelete=false primary IP included) but the adopted zone, untouched; every request authenticated"

echo "hcloud integration: $passed passed, 0 failed"
