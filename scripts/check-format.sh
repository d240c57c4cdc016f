#!/usr/bin/env bash
# Fails if any source file differs from clang-format's output.
set -euo pipefail
cd "$(dirname "$0")/.."
files=$(find core sim uring aio api tests proptests fuzz bench tools examples -name '*.[ch]pp' 2>/dev/null)
bad=0
for f in $files; do
  if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
    echo "not clang-formatted: $f"
    bad=1
  fi
done
exit $bad
