#!/usr/bin/env bash
# Runs a command with Node 24 (and this project's node_modules/.bin) first on PATH.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/versions.sh"
export PATH="$NODE_DIR/bin:$here/../node_modules/.bin:$PULUMI_DIR/bin:$PATH"
exec "$@"
