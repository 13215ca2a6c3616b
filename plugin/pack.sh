#!/usr/bin/env bash
# Packs the provider plugin pulumi-resource-vhostnet for this checkout, cached per version:
# an executable launcher that runs the set-up's Node on the compiled plugin entry
# (dist/plugin/main.js). A launcher, not a PulumiPlugin.yaml with runtime nodejs: the set-up's
# language host does not implement RunPlugin, so such a plugin would not start.
#
# Usage:
#   plugin/pack.sh                           pack (skipped when cached) and print the launcher's path
#   plugin/pack.sh --install-into <HOME>     also `pulumi plugin install resource vhostnet VERSION --file …`
#                                            into PULUMI_HOME=<HOME> (skipped when installed)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
. "$root/scripts/versions.sh"

die() { echo "plugin/pack.sh: $*" >&2; exit 1; }

home=
case ${1:-} in
  --install-into) [ -n "${2:-}" ] || die "--install-into: needs a PULUMI_HOME directory argument"; home=$2 ;;
  '') ;;
  *) die "$1: unknown argument (usage: plugin/pack.sh [--install-into PULUMI_HOME])" ;;
esac

version=$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$root/package.json" | head -1)
[ -n "$version" ] || die "$root/package.json: no version"
entry=$root/dist/plugin/main.js
[ -f "$entry" ] || die "$entry: missing; build first (npm run build)"
node=$NODE_DIR/bin/node
[ -x "$node" ] || die "$node: missing; run scripts/install-node.sh"

# Per version, and per checkout: the launcher names this checkout's build.
dir=$CACHE_DIR/vhostnet-plugin-$version-$(printf '%s' "$root" | sha256sum | cut -c1-12)
launcher=$dir/pulumi-resource-vhostnet
want=$(printf '#!/bin/sh\n# pulumi-resource-vhostnet %s, packed by plugin/pack.sh for %s\nexec "%s" "%s" "$@"\n' "$version" "$root" "$node" "$entry")
if [ "$(cat "$launcher" 2>/dev/null)" != "$want" ]; then
  mkdir -p "$dir"
  printf '%s\n' "$want" > "$launcher.tmp"
  chmod 0755 "$launcher.tmp"
  mv -f "$launcher.tmp" "$launcher"
fi

if [ -n "$home" ]; then
  pulumi=$PULUMI_DIR/bin/pulumi
  [ -x "$pulumi" ] || die "$pulumi: missing; run scripts/install-pulumi.sh"
  installed=$home/plugins/resource-vhostnet-v$version/pulumi-resource-vhostnet
  if ! cmp -s "$installed" "$launcher"; then
    mkdir -p "$home"
    PULUMI_HOME=$home PULUMI_SKIP_UPDATE_CHECK=true "$pulumi" plugin install resource vhostnet "$version" --file "$launcher" --reinstall >&2 \
      || die "pulumi plugin install resource vhostnet $version into $home failed"
  fi
fi
echo "$launcher"
