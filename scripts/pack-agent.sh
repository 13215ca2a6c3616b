#!/usr/bin/env bash
# Packs the built vhostnet-agent into one tarball a host can run without npm or a compiler:
#   bin/node (Node 24), package.json, dist/datapath/**/*.js, the native addon, node_modules/zod.
# Usage: scripts/pack-agent.sh OUT_DIR
# Prints one JSON line {"version", "path", "hash"}: version is package.json's version plus a
# hash of the packed contents, so the same build always gets the same name and a rebuilt one a
# new name. An existing tarball of that name is reused: packing is then only hashing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
. "$here/versions.sh"
out=${1:?usage: pack-agent.sh OUT_DIR}

node_bin="$NODE_DIR/bin/node"
addon="$root/datapath/native/build/Release/vhostnet_datapath.node"
for f in "$node_bin" "$addon" "$root/dist/datapath/agent/main.js" "$root/node_modules/zod/package.json"; do
  [[ -f $f ]] || { echo "pack-agent: $f is missing: run scripts/setup.sh and npm run build first" >&2; exit 1; }
done
# The agent's run-time requires outside node: builtins: zod only. Refuse to pack if that changed.
extra=$(grep -rhoE "require\(\"[^.\"][^\"]*\"\)" "$root/dist/datapath" | grep -v '"node:' | grep -v '"zod"' | sort -u || true)
[[ -z $extra ]] || { echo "pack-agent: dist/datapath requires packages this script does not pack: $extra" >&2; exit 1; }

# "<path in the tarball> <source>" lines, sorted, so the hash does not depend on find's order.
list=$(
  {
    echo "bin/node $node_bin"
    echo "package.json $root/package.json"
    echo "datapath/native/build/Release/vhostnet_datapath.node $addon"
    (cd "$root" && find dist/datapath -name '*.js' -type f) | sed "s|.*|& $root/&|"
    (cd "$root" && find node_modules/zod -type f) | sed "s|.*|& $root/&|"
  } | LC_ALL=C sort
)
# One sha256sum over every source (a process per file would take seconds), paired with the dests.
hash=$(paste -d' ' <(cut -d' ' -f1 <<<"$list") <(cut -d' ' -f2- <<<"$list" | tr '\n' '\0' | xargs -0 sha256sum | cut -c1-64) | sha256sum | cut -c1-12)
pkgver=$(sed -n 's/^  "version": "\([^"]*\)".*/\1/p' "$root/package.json" | head -1)
version="$pkgver-$hash"
tarball="$out/vhostnet-agent-$version.tar.gz"

if [[ ! -f $tarball ]]; then
  mkdir -p "$out"
  stage=$(mktemp -d)
  trap 'rm -rf "$stage"' EXIT
  while read -r dest src; do
    mkdir -p "$stage/$(dirname "$dest")"
    cp -p "$src" "$stage/$dest"
  done <<<"$list"
  printf '%s\n' "$version" >"$stage/VERSION"
  # Written under a temporary name: a crash never leaves a truncated tarball under the real one.
  tar -C "$stage" --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -cf - . | gzip -1 -n >"$tarball.tmp.$$"
  mv "$tarball.tmp.$$" "$tarball"
fi
printf '{"version":"%s","path":"%s","hash":"%s"}\n' "$version" "$tarball" "$hash"
