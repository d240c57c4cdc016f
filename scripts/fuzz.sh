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
# An input must replay the same wherever it runs (a finding replays from the file alone):
# the first corpus inputs, each in a fresh process, print the same fingerprints (trace
# hash, steps, virtual time; RINGO_FUZZ_TRACE) as all of them in one process, each run
# twice, and as all of them in the reverse order. (libFuzzer runs the first file once more
# at start; `uniq` folds repeats, so a repeat that differs shows as an extra line.)
fingerprints() { RINGO_FUZZ_TRACE=1 "$@" 2>/dev/null | uniq; }
replay_check() {
  local bin=$1 corpus=$2 files fresh twice reversed
  mapfile -t files < <(find "$corpus" -type f | sort | head -n 8)
  fresh=$(for f in "${files[@]}"; do fingerprints "$bin" -runs=1 "$f" | grep -x '.*' || echo "no fingerprint: $f"; done | uniq)
  twice=$(fingerprints "$bin" -runs=2 "${files[@]}")
  reversed=$(mapfile -t back < <(printf '%s\n' "${files[@]}" | tac); fingerprints "$bin" -runs=1 "${back[@]}" | tac)
  if [ "$fresh" != "$twice" ] || [ "$fresh" != "$reversed" ]; then
    echo "replay check FAILED: an input ran differently after other inputs (or printed no fingerprint)"
    diff <(echo "$fresh") <(echo "$twice") || true
    diff <(echo "$fresh") <(echo "$reversed") || true
    return 1
  fi
  echo "replay check: ${#files[@]} inputs, the same fingerprints alone, twice in one process and in reverse"
}
# fuzz_scenario skips the catalogue's planted bugs (they fail by design); with
# RINGO_FUZZ_PLANTED=1 it must find each one from its entry in fuzz/planted/ (written by
# `ringo-sim explore --corpus`), and without it pass them by.
planted_check() {
  local bin=$1 dir=$2 f name out
  for f in "$dir"/*; do
    name=$(head -n 1 "$f")
    "$bin" -runs=1 "$f" >/dev/null 2>&1 || { echo "planted check FAILED: $f ($name) is not passed by by default"; return 1; }
    out=$(RINGO_FUZZ_PLANTED=1 "$bin" -runs=1 -artifact_prefix=build/fuzz/artifacts/planted- "$f" 2>&1 || true)
    grep -q "fuzz_scenario: scenario $name FAILED" <<<"$out" && continue
    echo "planted check FAILED: $f: no failure of $name found with RINGO_FUZZ_PLANTED=1"
    return 1
  done
  echo "planted check: $(ls "$dir" | wc -l) planted bugs found from their entries, passed by without RINGO_FUZZ_PLANTED"
}
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
  replay_check ./build/fuzz/fuzz/$t "$corpus"
  [ -d "fuzz/planted/$t" ] && planted_check ./build/fuzz/fuzz/$t "fuzz/planted/$t"
  # fuzz_scenario's small runs take at most ~2,000 choices (election: ~1 KB of input).
  max_len=4096
  echo "== $t: fuzzing ($label)"
  ./build/fuzz/fuzz/$t "${dict[@]}" "${budget[@]}" -timeout=20 -max_len=$max_len -len_control=0 -print_final_stats=1 \
    -artifact_prefix=build/fuzz/artifacts/$t- "$work" "$corpus"
done
