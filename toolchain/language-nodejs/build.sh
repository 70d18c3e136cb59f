#!/usr/bin/env bash
# Build our stand-in Pulumi Node.js language host into OUT_DIR.
# Usage: toolchain/language-nodejs/build.sh OUT_DIR
#
# -trimpath and CGO_ENABLED=0 make the binary independent of this checkout's
# path and of the C toolchain, so every machine produces the same bytes.
# GOFLAGS=-mod=mod lets go resolve modules from the proxy against the
# committed go.sum (there is no vendor directory).
set -euo pipefail
out=${1:?usage: $0 OUT_DIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$(dirname "$0")"
go=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
CGO_ENABLED=0 GOFLAGS=-mod=mod "$go" build -trimpath -o "$out/pulumi-language-nodejs" .
