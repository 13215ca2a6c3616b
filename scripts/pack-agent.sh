#!/usr/bin/env bash
# What the built vhostnet-agent needs at run time, without npm or a compiler, in one place:
#   bin/node (Node 24), package.json, dist/datapath/**/*.js, the native addon, zod's JavaScript.
# packaging/build-deb.sh puts this tree under /usr/lib/vhostnet.
# Usage: scripts/pack-agent.sh --hash        prints a hash of every file's path and content
#        scripts/pack-agent.sh --stage DIR   copies the tree into DIR, then prints the hash
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
. "$here/versions.sh"
mode=${1:-}
[[ $mode == --hash || ($mode == --stage && -n ${2:-}) ]] || { echo "usage: pack-agent.sh --hash | --stage DIR" >&2; exit 2; }

node_bin="$NODE_DIR/bin/node"
addon="$root/datapath/native/build/Release/vhostnet_datapath.node"
for f in "$node_bin" "$addon" "$root/dist/datapath/agent/main.js" "$root/node_modules/zod/package.json"; do
  [[ -f $f ]] || { echo "pack-agent: $f is missing: run scripts/setup.sh and npm run build first" >&2; exit 1; }
done
# The agent's run-time requires outside node: builtins: zod only. Refuse to pack if that changed.
extra=$(grep -rhoE "require\(\"[^.\"][^\"]*\"\)" "$root/dist/datapath" | grep -v '"node:' | grep -v '"zod"' | sort -u || true)
[[ -z $extra ]] || { echo "pack-agent: dist/datapath requires packages this script does not pack: $extra" >&2; exit 1; }

# "<path in the tree> <source>" lines, sorted, so the hash does not depend on find's order.
# Of zod, what node loads (package.json, *.js, *.cjs) and its licence: not its sources or types.
list=$(
  {
    echo "bin/node $node_bin"
    echo "package.json $root/package.json"
    echo "datapath/native/build/Release/vhostnet_datapath.node $addon"
    (cd "$root" && find dist/datapath -name '*.js' -type f) | sed "s|.*|& $root/&|"
    (cd "$root" && find node_modules/zod -type f \( -name '*.js' -o -name '*.cjs' -o -name package.json -o -name LICENSE \) -not -path '*/src/*') | sed "s|.*|& $root/&|"
  } | LC_ALL=C sort
)
# One sha256sum over every source (a process per file would take seconds), paired with the dests.
hash=$(paste -d' ' <(cut -d' ' -f1 <<<"$list") <(cut -d' ' -f2- <<<"$list" | tr '\n' '\0' | xargs -0 sha256sum | cut -c1-64) | sha256sum | cut -c1-64)

if [[ $mode == --stage ]]; then
  stage=$2
  while read -r dest src; do
    mkdir -p "$stage/$(dirname "$dest")"
    cp -p "$src" "$stage/$dest"
  done <<<"$list"
fi
echo "$hash"
