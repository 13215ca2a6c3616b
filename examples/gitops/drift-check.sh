#!/usr/bin/env bash
# The scheduled drift check: read every object back from its host (refresh), then fail if the
# program and the hosts differ (a port deleted by hand, a bridge changed with vhostctl, ...).
#   drift-check.sh STACK
# Exit: 0 no drift; non-zero: drift (the preview shows what `pulumi up` would do to fix it).
set -euo pipefail
stack=${1:?usage: drift-check.sh STACK}
pulumi refresh --yes --skip-preview --non-interactive --stack "$stack"
pulumi preview --diff --expect-no-changes --non-interactive --stack "$stack"
