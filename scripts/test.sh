#!/usr/bin/env bash
# The whole test suite: GCC debug build (warnings are errors), then clang-19 with
# ASan+UBSan over every test, then ThreadSanitizer over the multi-threaded io_uring tests,
# then ringo as users install it (scripts/test-install.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

# Each step says how long the one before it took: CI's budget is 25 minutes on 2 cores.
last_step="" last_start=$SECONDS
step() {
  [ -z "$last_step" ] || printf '=== took %ds: %s\n' $((SECONDS - last_start)) "$last_step"
  last_step=$* last_start=$SECONDS
  printf '\n=== %s ===\n' "$*"
}

step "debug (g++, -Werror)"
cmake --preset debug >/dev/null
cmake --build --preset debug
ctest --preset debug

step "layout (include graph) and function size (clang-tidy, 70 lines)"
python3 scripts/check-layout.py
bash scripts/check-function-size.sh --build-dir build/debug

step "API reference (Doxygen over the public headers; a warning fails)"
cmake --build --preset debug --target docs

step "asan (clang-19, ASan+UBSan)"
cmake --preset asan >/dev/null
cmake --build --preset asan
ctest --preset asan

step "tsan (clang-19, multi-threaded io_uring tests)"
cmake --preset tsan >/dev/null
cmake --build --preset tsan
ctest --preset tsan

step "install (release libraries only: installed tree, find_package and pkg-config consumers, the .deb)"
bash scripts/test-install.sh

step "fuzz (clang-19 libFuzzer + ASan/UBSan: corpus regression, then a fixed-seed smoke run)"
bash scripts/fuzz.sh --runs "${RINGO_FUZZ_RUNS:-2000}"

step "format"
bash scripts/check-format.sh

step "done"
echo "make test: all suites passed in ${SECONDS}s"
