#!/usr/bin/env bash
# Builds the libFuzzer targets (preset `fuzz`: clang-19, ASan+UBSan) and runs each one:
# first its checked-in corpus as a regression, then SECONDS of fuzzing from that corpus
# (new inputs go to build/fuzz/work/<target>, crashes to build/fuzz/artifacts/).
#
#   scripts/fuzz.sh [SECONDS]      default 60 per target
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
bash scripts/setup-deps.sh
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
  echo "== $t: fuzzing for ${seconds}s"
  ./build/fuzz/fuzz/$t "${dict[@]}" -max_total_time="$seconds" -timeout=20 -max_len=4096 -len_control=0 -print_final_stats=1 \
    -artifact_prefix=build/fuzz/artifacts/$t- "$work" "$corpus"
done
