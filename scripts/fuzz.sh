#!/usr/bin/env bash
# Builds the libFuzzer targets (preset `fuzz`: clang-19, ASan+UBSan) and runs each one:
# first its checked-in corpus as a regression, then SECONDS of fuzzing from that corpus
# (new inputs go to build/fuzz/work/<target>, crashes to build/fuzz/artifacts/).
#
#   scripts/fuzz.sh [SECONDS]      default 60 per target
#   scripts/fuzz.sh --runs N       N inputs per target from a fixed seed: the same
#                                  inputs on every machine (CI's smoke run)
set -euo pipefail
cd "$(dirname "$0")/.."
budget=(-max_total_time="${1:-60}")
label="${1:-60}s"
if [ "${1:-}" = "--runs" ]; then
  budget=(-runs="$2" -seed=1)
  label="$2 runs, seed 1"
fi
bash scripts/setup-deps.sh
# Readable stack traces in crash reports, when the symbolizer is there.
if command -v llvm-symbolizer >/dev/null; then export ASAN_SYMBOLIZER_PATH=$(command -v llvm-symbolizer); fi
cmake --preset fuzz >/dev/null
targets=$(sed -n 's/^ringo_fuzz(\([a-z_]*\).*/\1/p' fuzz/CMakeLists.txt)
cmake --build --preset fuzz --target $targets
mkdir -p build/fuzz/artifacts
for t in $targets; do
  corpus=fuzz/corpus/$t
  work=build/fuzz/work/$t
  mkdir -p "$work"
  dict=()
  [ -f "fuzz/$t.dict" ] && dict=(-dict="fuzz/$t.dict")
  echo "== $t: corpus regression ($(ls "$corpus" | wc -l) inputs)"
  ./build/fuzz/fuzz/$t "${dict[@]}" -runs=0 "$corpus"
  echo "== $t: fuzzing ($label)"
  ./build/fuzz/fuzz/$t "${dict[@]}" "${budget[@]}" -timeout=20 -max_len=4096 -len_control=0 -print_final_stats=1 \
    -artifact_prefix=build/fuzz/artifacts/$t- "$work" "$corpus"
done
