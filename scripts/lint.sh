#!/usr/bin/env bash
# The tree's habits, checked: Prettier's format (one quote style), typescript-eslint's rules and,
# where clang-format is installed, the C++ format. `--fix` rewrites instead of checking.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ${1:-} == --fix ]]; then
  prettier --log-level warn --write .
  eslint --fix .
else
  prettier --log-level warn --check .
  eslint .
fi
