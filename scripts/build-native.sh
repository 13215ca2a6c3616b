#!/usr/bin/env bash
# Builds the native datapath addon (datapath/native/build/Release/vhostnet_datapath.node) with
# node-gyp against Node 24's headers and Debian's DPDK (pkg-config libdpdk), after checking the
# sources' format with clang-format when it is installed. Skips the build when the addon is newer
# than every source file.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/versions.sh"
cd "$here/../datapath/native"
# The C++ keeps one format (.clang-format here); checked, never rewritten, by the build.
if command -v clang-format >/dev/null; then
  find src -name '*.cpp' -o -name '*.h' | sort | xargs clang-format --dry-run --Werror ||
    { echo "native sources are not formatted: (cd datapath/native && clang-format -i \$(find src -name '*.cpp' -o -name '*.h'))" >&2; exit 1; }
fi
out=build/Release/vhostnet_datapath.node
if [[ -f $out && -z $(find src binding.gyp -newer "$out" -print -quit) ]]; then
  echo "native addon up to date: $out"
  exit 0
fi
pkg-config --exists libdpdk || { echo "libdpdk not found by pkg-config (apt-get install libdpdk-dev)" >&2; exit 1; }
bash "$here/with-node.sh" node-gyp rebuild --nodedir="$NODE_DIR" --jobs=max
