#!/usr/bin/env bash
# Builds mailstack's stand-in provider plugins into OUT_DIR:
#   pulumi-resource-command (for @pulumi/command 1.2.1) and pulumi-resource-random (for @pulumi/random 4.21.2).
# Install them for the engine with:
#   pulumi plugin install resource command 1.2.1 --file OUT_DIR/pulumi-resource-command
#   pulumi plugin install resource random 4.21.2 --file OUT_DIR/pulumi-resource-random
set -euo pipefail

out="${1:?usage: build.sh OUT_DIR}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
cd "$here"

# Static binaries (no cgo) so they run wherever the engine runs, stripped (-s -w: half the size); -mod=mod lets go.sum be completed from the
# module proxy if a dependency is missing from it.
export CGO_ENABLED=0 GOFLAGS=-mod=mod
# One `go build` for both: they share almost all packages, so a single invocation compiles them once.
go build -trimpath -ldflags="-s -w" -o "$out/" ./cmd/pulumi-resource-command ./cmd/pulumi-resource-random
ls -l "$out/pulumi-resource-command" "$out/pulumi-resource-random"
