#!/usr/bin/env bash
# Builds vhostnet-agent_<version>_amd64.deb from the built tree (npm run build, the native addon):
# the agent's runtime tree (scripts/pack-agent.sh) under /usr/lib/vhostnet, vhostnet-agent and
# vhostctl in /usr/bin, the systemd unit, /etc/vhostnet/agent.conf (a conffile), and Depends from
# dpkg-shlibdeps plus the DPDK drivers the EAL loads as plugins.
# Usage: packaging/build-deb.sh [OUT_DIR]   (npm run package:deb)
# version = package.json's version + "+" + a hash of every input, so the same inputs give the
# same package (cached in ~/.cache/vhostnet/debs) and changed ones a new version apt upgrades to.
# Prints one JSON line {"version", "path", "sha256"}.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
. "$root/scripts/versions.sh"
out=${1:-$CACHE_DIR/debs}

tree_hash=$(bash "$root/scripts/pack-agent.sh" --hash)
pkg_hash=$(cd "$here" && LC_ALL=C ls | xargs sha256sum | sha256sum | cut -c1-64)
pkgver=$(sed -n 's/^  "version": "\([^"]*\)".*/\1/p' "$root/package.json" | head -1)
version="$pkgver+$(printf '%s %s\n' "$tree_hash" "$pkg_hash" | sha256sum | cut -c1-12)"
name="vhostnet-agent_${version}_amd64.deb"
cache="$CACHE_DIR/debs/$name"

if [[ ! -f $cache ]]; then
  for t in dpkg-deb dpkg-shlibdeps fakeroot strip; do
    command -v "$t" >/dev/null || { echo "build-deb: $t is missing: run scripts/setup.sh" >&2; exit 1; }
  done
  # Every file's time (and the changelog's) is fixed, so the same inputs give the same bytes.
  EPOCH=1735689600 # 2025-01-01
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  r="$work/root"
  lib="$r/usr/lib/vhostnet"
  mkdir -p "$lib" "$r/usr/bin" "$r/lib/systemd/system" "$r/etc/vhostnet" "$r/usr/share/doc/vhostnet-agent" "$r/DEBIAN"
  bash "$root/scripts/pack-agent.sh" --stage "$lib" >/dev/null
  # As dh_strip does: symbols out (the dynamic ones node's addons link against stay).
  strip --remove-section=.comment --remove-section=.note --strip-unneeded "$lib/bin/node" "$lib/datapath/native/build/Release/vhostnet_datapath.node"
  install -m 0755 "$here/start-agent" "$lib/bin/start-agent"
  install -m 0755 "$here/vhostnet-agent" "$here/vhostctl" "$r/usr/bin/"
  install -m 0644 "$here/vhostnet-agent.service" "$r/lib/systemd/system/"
  mkdir -p "$r/usr/share/man/man8"
  for m in vhostnet-agent vhostctl; do gzip -9n <"$here/$m.8" >"$r/usr/share/man/man8/$m.8.gz"; done
  install -m 0644 "$here/agent.conf" "$r/etc/vhostnet/agent.conf"
  install -m 0644 "$here/copyright" "$r/usr/share/doc/vhostnet-agent/copyright"
  install -m 0644 "$NODE_DIR/LICENSE" "$r/usr/share/doc/vhostnet-agent/node.LICENSE"
  install -m 0644 "$here/README.md" "$r/usr/share/doc/vhostnet-agent/README.md"
  install -D -m 0644 "$here/lintian-overrides" "$r/usr/share/lintian/overrides/vhostnet-agent"
  # A native package: its changelog is the one entry of this build.
  {
    printf 'vhostnet-agent (%s) unstable; urgency=medium\n\n  * Built from vhostnet %s.\n\n' "$version" "$pkgver"
    printf ' -- vhostnet developers <vhostnet-dev@lists.vhostnet.org>  %s\n' "$(date -R -u -d "@$EPOCH")"
  } | gzip -9n >"$r/usr/share/doc/vhostnet-agent/changelog.gz"
  chmod -R u=rwX,go=rX "$r"
  # The addon is loaded, not run. The entry points are run by the bundled node (the wrappers):
  # their "#!/usr/bin/env node" (a node this package does not depend on) becomes an empty line.
  chmod 0644 "$lib/datapath/native/build/Release/vhostnet_datapath.node"
  sed -i '1s/^#!.*//' "$lib/dist/datapath/agent/main.js" "$lib/dist/datapath/vhostctl/main.js"
  chmod 0644 "$lib/dist/datapath/agent/main.js" "$lib/dist/datapath/vhostctl/main.js"
  find "$r" -exec touch -h -d "@$EPOCH" {} +

  # dpkg-shlibdeps reads debian/control of a source package: a minimal one, beside the tree.
  mkdir -p "$work/debian"
  printf 'Source: vhostnet\n\nPackage: vhostnet-agent\nArchitecture: amd64\n' >"$work/debian/control"
  shlibs=$(cd "$work" && dpkg-shlibdeps -O -e"root/usr/lib/vhostnet/bin/node" -e"root/usr/lib/vhostnet/datapath/native/build/Release/vhostnet_datapath.node" 2>"$work/shlibdeps.err" | sed -n 's/^shlibs:Depends=//p') ||
    { cat "$work/shlibdeps.err" >&2; exit 1; }
  # The EAL loads its mempool handler and the af_packet PMD (VXLAN's underlay) from the plugin
  # directory at run time: no ELF dependency names them.
  depends="$shlibs, librte-mempool-ring23, librte-net-af-packet23"
  size=$(du -sk --exclude=DEBIAN "$r" | cut -f1)
  sed -e "s/@VERSION@/$version/" -e "s/@INSTALLED_SIZE@/$size/" -e "s/@DEPENDS@/$depends/" "$here/control.in" >"$r/DEBIAN/control"
  echo /etc/vhostnet/agent.conf >"$r/DEBIAN/conffiles"
  install -m 0755 "$here/postinst" "$here/prerm" "$here/postrm" "$r/DEBIAN/"
  (cd "$r" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum) >"$r/DEBIAN/md5sums"
  chmod 0644 "$r/DEBIAN/control" "$r/DEBIAN/conffiles" "$r/DEBIAN/md5sums"

  mkdir -p "$(dirname "$cache")"
  # Written under a temporary name: a crash never leaves a truncated package under the real one.
  SOURCE_DATE_EPOCH=$EPOCH fakeroot dpkg-deb -Zxz -z6 --build "$r" "$cache.tmp.$$" >/dev/null
  mv "$cache.tmp.$$" "$cache"
fi
mkdir -p "$out"
[[ $out -ef $(dirname "$cache") ]] || cp -f "$cache" "$out/$name"
printf '{"version":"%s","path":"%s","sha256":"%s"}\n' "$version" "$(cd "$out" && pwd)/$name" "$(sha256sum "$cache" | cut -c1-64)"
