#!/usr/bin/env bash
# The tree's habits, checked: Prettier's format (one quote style), typescript-eslint's rules and,
# where clang-format is installed, the C++ format. `--fix` rewrites instead of checking.
set -euo pipefail
cd "$(dirname "$0")/.."
cxx=$(find datapath/native/src -name '*.cpp' -o -name '*.h' | sort)
if [[ ${1:-} == --fix ]]; then
  prettier --log-level warn --write .
  eslint --fix .
  if command -v clang-format >/dev/null; then clang-format -i $cxx; fi
else
  prettier --log-level warn --check .
  eslint .
  if command -v clang-format >/dev/null; then clang-format --dry-run --Werror $cxx; fi
fi
