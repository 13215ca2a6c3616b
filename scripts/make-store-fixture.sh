#!/usr/bin/env bash
# Makes the stored-state fixture of a released agent for the upgrade test (56), with that release's
# own code: builds COMMIT in a worktree of its own (scripts/setup.sh there), compiles this tree's
# test/fixtures/make-store-fixture.ts in it, and runs it under the heavy-test lock.
#   bash scripts/make-store-fixture.sh COMMIT OUT_DIR      e.g. ff3657e test/fixtures/store-0.1.0
# See docs/upgrades.md.
set -euo pipefail
cd "$(dirname "$0")/.."
commit=${1:?usage: make-store-fixture.sh COMMIT OUT_DIR}
out=$(realpath -m "${2:?usage: make-store-fixture.sh COMMIT OUT_DIR}")
prev=${VHOSTNET_PREV_TREE:-/tmp/vhostnet-release-$commit}
[[ -d $prev ]] || git worktree add --detach "$prev" "$commit"
# The release's own set-up: its npm dependencies, its TypeScript build, its native addon.
VHOSTNET_SKIP_PULUMI=1 bash "$prev/scripts/setup.sh"
mkdir -p "$prev/test/fixtures"
cp test/fixtures/make-store-fixture.ts "$prev/test/fixtures/"
(cd "$prev" && bash scripts/with-node.sh tsc -p tsconfig.json)
flock /tmp/vhostnet-heavy.lock bash "$prev/scripts/with-node.sh" node "$prev/dist/test/fixtures/make-store-fixture.js" "$out"
