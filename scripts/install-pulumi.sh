#!/usr/bin/env bash
# Builds the Pulumi engine from Go modules into $PULUMI_DIR/bin, cached by version:
#   pulumi                          CLI, from github.com/pulumi/pulumi/pkg/v3 (version pinned in scripts/pulumi-build/go.mod)
#   pulumi-language-nodejs          minimal Node.js language host (scripts/pulumi-build/cmd/...; the upstream one is not served)
#   pulumi-resource-pulumi-nodejs   dynamic-provider launcher, copied from node_modules/@pulumi/pulumi
#   pulumi-language-yaml            Pulumi YAML language host, from github.com/pulumi/pulumi-yaml (its own
#                                   wrapper module, scripts/pulumi-build/yaml: it pins an older pkg/v3)
# then packs the vhostnet provider plugin's launcher (plugin/pack.sh) and builds the SDKs of its
# schema (scripts/pulumi-build/build-sdks.sh: Python, checked with mypy; Go, vetted and built).
# The CLI's npm package and install script download binaries, which cannot be reached here.
#
# Usage:
#   scripts/install-pulumi.sh                          build (skipped when cached) and print $PULUMI_DIR/bin
#   scripts/install-pulumi.sh --plugins-into <HOME>    also install the command resource plugin into PULUMI_HOME=<HOME>
#   (the vhostnet plugin: bash plugin/pack.sh --install-into <HOME>)
# A cold build takes several minutes on 2 cores; cached runs take about a second.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
. "$here/versions.sh"
build_dir=$here/pulumi-build
bin_dir=$PULUMI_DIR/bin

die() { echo "install-pulumi.sh: $*" >&2; exit 1; }

usage() {
  sed -n '/^# Usage:/,/^# A cold/p' "$0" >&2
  exit 2
}

plugins_home=
while [ $# -gt 0 ]; do
  case $1 in
    --plugins-into)
      [ $# -ge 2 ] && [ -n "$2" ] || die "--plugins-into: needs a PULUMI_HOME directory argument"
      plugins_home=$2; shift 2 ;;
    -h|--help) usage ;;
    *) echo "install-pulumi.sh: $1: unknown argument" >&2; usage ;;
  esac
done

go_bin=$(command -v go || true)
[ -n "$go_bin" ] || go_bin=/usr/local/go/bin/go
[ -x "$go_bin" ] || die "go: not found on PATH nor at /usr/local/go/bin/go (Go >= 1.26.6 is needed to build the engine)"

# The engine version is whatever pkg/v3 the wrapper module pins (the proxy serves no 3.276.0 source).
engine_version=$(cd "$build_dir" && "$go_bin" list -mod=readonly -m -f '{{.Version}}' github.com/pulumi/pulumi/pkg/v3) \
  || die "scripts/pulumi-build/go.mod: cannot read the github.com/pulumi/pulumi/pkg/v3 version"
version_ldflag="-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$engine_version"

launcher_src=$root/node_modules/@pulumi/pulumi/pulumi-resource-pulumi-nodejs

is_cached() {
  [ -x "$bin_dir/pulumi" ] && [ -x "$bin_dir/pulumi-language-nodejs" ] && [ -x "$bin_dir/pulumi-resource-pulumi-nodejs" ] || return 1
  [ "$("$bin_dir/pulumi" version 2>/dev/null)" = "$engine_version" ] || return 1
  [ "$("$bin_dir/pulumi-language-nodejs" -version 2>/dev/null)" = "$engine_version" ] || return 1
  # Our own sources (wrapper module, language host) and the launcher are part of the key: a change rebuilds.
  [ "$(cat "$bin_dir/.build-key" 2>/dev/null)" = "$(build_key)" ]
}

# Content hash (paths relative, so another checkout of the same sources hits the same cache).
# Only the engine's own module: modules of their own below it (yaml/, gen-sdk/) have their own
# keys, and must not make every checkout that lacks or changes them rebuild the engine.
build_key() {
  { (cd "$build_dir" && find . \( -path ./yaml -o -path ./gen-sdk \) -prune -o -type f \( -name '*.go' -o -name 'go.mod' -o -name 'go.sum' \) -print0 \
       | LC_ALL=C sort -z | xargs -0 sha256sum)
    sha256sum < "$launcher_src"
  } | sha256sum | cut -d' ' -f1
}

build_engine() {
  [ -f "$launcher_src" ] || die "$launcher_src: missing; install the npm dependencies first (npm ci)"
  mkdir -p "$bin_dir"
  echo "install-pulumi.sh: building Pulumi $engine_version into $bin_dir (cold: several minutes)" >&2
  local start=$SECONDS
  # -mod=readonly: build exactly what go.sum pins; no VCS stamping (the checkout may not be a usable git tree).
  # CGO off: static binaries, no C toolchain needed.
  (cd "$build_dir" && CGO_ENABLED=0 "$go_bin" build -mod=readonly -buildvcs=false -ldflags "$version_ldflag" \
      -o "$bin_dir/pulumi.tmp" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi) \
    || die "go build of github.com/pulumi/pulumi/pkg/v3/cmd/pulumi@$engine_version failed"
  (cd "$build_dir" && CGO_ENABLED=0 "$go_bin" build -mod=readonly -buildvcs=false -ldflags "$version_ldflag" \
      -o "$bin_dir/pulumi-language-nodejs.tmp" ./cmd/pulumi-language-nodejs) \
    || die "go build of scripts/pulumi-build/cmd/pulumi-language-nodejs failed"
  mv -f "$bin_dir/pulumi.tmp" "$bin_dir/pulumi"
  mv -f "$bin_dir/pulumi-language-nodejs.tmp" "$bin_dir/pulumi-language-nodejs"
  # Dynamic providers are started as the binary plugin "pulumi-nodejs": this shell launcher runs
  # @pulumi/pulumi/cmd/dynamic-provider with the node on PATH, resolved from the program directory.
  install -m 0755 "$launcher_src" "$bin_dir/pulumi-resource-pulumi-nodejs"
  build_key > "$bin_dir/.build-key"
  echo "install-pulumi.sh: built in $((SECONDS - start)) s" >&2
}

install_command_plugin() {
  local home=$1 plugin=$bin_dir/pulumi-resource-command
  # github.com/pulumi/pulumi-command/provider (the plugin's main module) is refused by the Go
  # module proxy reachable here, so it cannot be built; a binary placed here is still installed.
  [ -x "$plugin" ] || die "$plugin: missing; pulumi-resource-command v$PULUMI_COMMAND_VERSION cannot be built here (module github.com/pulumi/pulumi-command/provider is not served by the Go module proxy)"
  mkdir -p "$home"
  if PULUMI_HOME=$home "$bin_dir/pulumi" plugin ls 2>/dev/null | grep -Eq "^command +resource +$PULUMI_COMMAND_VERSION "; then
    return 0
  fi
  PULUMI_HOME=$home PULUMI_SKIP_UPDATE_CHECK=true "$bin_dir/pulumi" plugin install resource command \
    "$PULUMI_COMMAND_VERSION" --file "$plugin" >&2 \
    || die "pulumi plugin install resource command $PULUMI_COMMAND_VERSION into $home failed"
}

yaml_dir=$build_dir/yaml
yaml_key() { (cd "$yaml_dir" && cat go.mod go.sum) | sha256sum | cut -d' ' -f1; }

build_yaml() {
  local yaml_version start=$SECONDS
  yaml_version=$(cd "$yaml_dir" && "$go_bin" list -mod=readonly -m -f '{{.Version}}' github.com/pulumi/pulumi-yaml) \
    || die "scripts/pulumi-build/yaml/go.mod: cannot read the github.com/pulumi/pulumi-yaml version"
  [ "$(cat "$bin_dir/.yaml-build-key" 2>/dev/null)" = "$yaml_version $(yaml_key)" ] && [ -x "$bin_dir/pulumi-language-yaml" ] && return 0
  echo "install-pulumi.sh: building pulumi-language-yaml $yaml_version into $bin_dir (cold: a few minutes)" >&2
  (cd "$yaml_dir" && CGO_ENABLED=0 "$go_bin" build -mod=readonly -buildvcs=false \
      -ldflags "-X github.com/pulumi/pulumi-yaml/pkg/version.Version=$yaml_version" \
      -o "$bin_dir/pulumi-language-yaml.tmp" github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml) \
    || die "go build of github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml@$yaml_version failed"
  mv -f "$bin_dir/pulumi-language-yaml.tmp" "$bin_dir/pulumi-language-yaml"
  echo "$yaml_version $(yaml_key)" > "$bin_dir/.yaml-build-key"
  echo "install-pulumi.sh: pulumi-language-yaml built in $((SECONDS - start)) s" >&2
}

is_cached || build_engine
build_yaml
bash "$root/plugin/pack.sh" >/dev/null
bash "$build_dir/build-sdks.sh" >/dev/null
[ -z "$plugins_home" ] || install_command_plugin "$plugins_home"
echo "$bin_dir"
