#!/usr/bin/env bash
# Generates and builds the Python and Go SDKs of the provider plugin's schema, cached under
# ~/.cache/vhostnet by the schema's hash, and links them into the checkout (not committed):
#   sdk/python       pulumi_vhostnet, type-checked with mypy against PyPI's pulumi
#   sdk/python-site  it, installed (PYTHONPATH / MYPYPATH for programs that use it)
#   sdk/python-env   the virtualenv it is checked with (pulumi and mypy from PyPI)
#   sdk/go           vhostnet.local/sdk/go/vhostnet, go vet and go build against sdk/v3
# The generator is vhostnet-gen-sdk (gen-sdk/: pkg/v3's codegen/python and codegen/go), since
# `pulumi package gen-sdk` needs the language plugins, which cannot be had here.
# .NET: its generator is no longer in pkg/v3, so there is no .NET SDK.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$root/scripts/versions.sh"
# PyPI's newest pulumi at the time of writing (3.276 is not published there) and mypy.
PY_PULUMI_VERSION=3.272.0
MYPY_VERSION=2.4.1

die() { echo "build-sdks.sh: $*" >&2; exit 1; }
go_bin=$(command -v go || true)
[ -n "$go_bin" ] || go_bin=/usr/local/go/bin/go
node=$NODE_DIR/bin/node
gen_dir=$here/gen-sdk

# 1. The generator, keyed by its sources.
gen_key=$(cd "$gen_dir" && cat go.mod go.sum main.go | sha256sum | cut -c1-16)
gen=$CACHE_DIR/vhostnet-gen-sdk-$gen_key/vhostnet-gen-sdk
if [ ! -x "$gen" ]; then
  mkdir -p "$(dirname "$gen")"
  (cd "$gen_dir" && CGO_ENABLED=0 "$go_bin" build -mod=readonly -buildvcs=false -o "$gen.tmp" .) || die "go build of vhostnet-gen-sdk failed"
  mv -f "$gen.tmp" "$gen"
fi

# 2. The schema, as the plugin's GetSchema answers.
schema=$(mktemp /tmp/vhostnet-schema-XXXXXX.json)
trap 'rm -f "$schema"' EXIT
"$node" "$root/dist/plugin/main.js" --schema > "$schema" || die "the plugin could not print its schema (is it built? npm run build)"
key=$( { cat "$schema"; echo "$gen_key $PY_PULUMI_VERSION $MYPY_VERSION"; } | sha256sum | cut -c1-16)
out=$CACHE_DIR/vhostnet-sdk-$key

# 3. The Python environment: PyPI's pulumi and mypy, keyed by their versions.
venv=$CACHE_DIR/python-sdk-env-pulumi-$PY_PULUMI_VERSION-mypy-$MYPY_VERSION
if [ ! -x "$venv/bin/mypy" ]; then
  rm -rf "$venv"
  python3 -m venv "$venv" || die "python3 -m venv failed"
  "$venv/bin/pip" install -q --disable-pip-version-check "pulumi==$PY_PULUMI_VERSION" "mypy==$MYPY_VERSION" || die "pip install pulumi==$PY_PULUMI_VERSION mypy==$MYPY_VERSION failed"
fi

if [ ! -f "$out/.built" ]; then
  rm -rf "$out"
  mkdir -p "$out"
  "$gen" -schema "$schema" -language python -out "$out/python" >&2
  "$gen" -schema "$schema" -language go -out "$out/go" >&2
  cp "$schema" "$out/schema.json"
  # Installed (into site/, which programs put on PYTHONPATH/MYPYPATH): the SDK reads its own version from its metadata.
  "$venv/bin/pip" install -q --disable-pip-version-check --no-deps --target "$out/site" "$out/python" >&2 \
    || die "pip install of the generated Python SDK failed ($out/python)"
  # Two findings of mypy in what pkg/v3's generator writes for every package, not in our schema:
  # _utilities.lift's decorator type, and Provider passing an optional secret config to Output.secret.
  # Those two codes are off in those two modules only; everything else is checked.
  printf '%s\n' '[mypy]' '[mypy-pulumi_vhostnet._utilities]' 'disable_error_code = return-value' \
    '[mypy-pulumi_vhostnet.provider]' 'disable_error_code = arg-type' > "$out/mypy.ini"
  (export PYTHONPATH=$out/site MYPYPATH=$out/site; "$venv/bin/python" -c 'import pulumi_vhostnet' &&
    "$venv/bin/mypy" --config-file "$out/mypy.ini" --no-error-summary -p pulumi_vhostnet) \
    || die "the generated Python SDK does not import or type-check ($out/python)"
  sdk_version=$(cd "$here" && "$go_bin" list -mod=readonly -m -f '{{.Version}}' github.com/pulumi/pulumi/sdk/v3)
  cat > "$out/go/go.mod" <<GOMOD
module vhostnet.local/sdk/go

go 1.26.6

require github.com/pulumi/pulumi/sdk/v3 $sdk_version
GOMOD
  cp "$gen_dir/go.sum" "$out/go/go.sum"
  (cd "$out/go" && "$go_bin" mod tidy >&2 && "$go_bin" vet ./... && CGO_ENABLED=0 "$go_bin" build ./...) \
    || die "the generated Go SDK does not vet or build ($out/go)"
  touch "$out/.built"
fi

mkdir -p "$root/sdk"
ln -sfn "$out/python" "$root/sdk/python"
ln -sfn "$out/site" "$root/sdk/python-site"
ln -sfn "$out/mypy.ini" "$root/sdk/mypy.ini"
ln -sfn "$out/go" "$root/sdk/go"
ln -sfn "$venv" "$root/sdk/python-env"
echo "$out"
