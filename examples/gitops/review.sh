#!/usr/bin/env bash
# A merge request's check: preview the stack and report disruptive changes apart from harmless
# ones. Run in the Pulumi project's directory, with the stack's backend and secrets provider set.
#   review.sh STACK [--fail-on disruptive|any|never] [--format text|markdown]
# Exit: 0 nothing to flag, 1 flagged changes, 2 bad report input, else the preview's own failure.
set -euo pipefail
stack=${1:?usage: review.sh STACK [report options]}
shift
root=$(cd "$(dirname "$0")/../.." && pwd)
preview=$(mktemp)
trap 'rm -f "$preview"' EXIT
# --json keeps stdout machine-readable; a preview that fails (bad input, host refuses) stops here.
pulumi preview --diff --json --non-interactive --stack "$stack" >"$preview"
node "$root/dist/scripts/gitops-report.js" "$preview" "$@"
