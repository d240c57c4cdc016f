#!/usr/bin/env bash
# Prints one line per (scenario, seed, faults, strategy): the simulator's summary, which
# carries the trace hash. A refactor that claims "behaviour unchanged" must print the same
# lines before and after: `diff <(scripts/trace_digests.sh old/ringo-sim) <(... new/ringo-sim)`.
# Usage: scripts/trace_digests.sh PATH/TO/ringo-sim [SEEDS]   (default 12 seeds per case)
set -euo pipefail
sim=${1:?usage: trace_digests.sh PATH/TO/ringo-sim [SEEDS]}
seeds=${2:-12}
[[ -x "$sim" ]] || { echo "trace_digests.sh: $sim is not an executable" >&2; exit 2; }
[[ "$seeds" =~ ^[0-9]+$ ]] || { echo "trace_digests.sh: SEEDS must be a whole number" >&2; exit 2; }
for scenario in $("$sim" list | awk '{print $1}'); do
  for faults in none heavy swarm; do
    for strategy in random pct; do
      for seed in $(seq 1 "$seeds"); do
        printf '%s faults=%s strategy=%s: ' "$scenario" "$faults" "$strategy"
        # A failing seed is still a result to compare; keep going.
        "$sim" run --scenario "$scenario" --seed "$seed" --faults "$faults" --strategy "$strategy" | head -1 || true
      done
    done
  done
done
