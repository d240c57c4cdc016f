#!/usr/bin/env bash
# Work requesting against Go: work spawned from one shard (fan-out, pipeline; see
# bench/balance_bench.cpp), ringo on 1 shard, 2 shards, 2 shards without requesting, and Go
# at GOMAXPROCS=1 and 2, in interleaved rounds (ROUNDS, default 3). Prints medians with
# their spread and each side's 2-vs-1 speed-up, taken within a round.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-deps.sh --bench
cmake --preset release >/dev/null
cmake --build --preset release --target balance_bench
(cd bench/peers/go_balance && GOFLAGS=-mod=mod GO111MODULE=off GOCACHE=/tmp/ringo-gocache go build -o go_balance main.go)
out=build/release/bench-results
mkdir -p "$out"
: >"$out/balance.txt"
rounds=${ROUNDS:-3}
backend=${BALANCE_BACKEND:-uring}
for round in $(seq 1 "$rounds"); do
  ./build/release/bench/balance_bench "$backend" 1 | sed "s/^/ringo round=$round /" | tee -a "$out/balance.txt"
  ./bench/peers/go_balance/go_balance 1 | sed "s/^/go round=$round /" | tee -a "$out/balance.txt"
done

python3 - "$out/balance.txt" <<'PY' | tee "$out/balance_summary.txt"
import re, sys
sys.path.insert(0, "bench")
from bench_stats import spread, ratios
t = {}  # (workload, config) -> [ms per round]
for line in open(sys.argv[1]):
    m = re.match(r"\w+ round=\d+ (\w+) (\w+) ([\d.]+) ms", line)
    if m:
        t.setdefault((m[1], m[2]), []).append(float(m[3]))
print("\nwall time, ms (median (min-max, rounds)); speed-up = 1 worker / 2 workers, within each round:")
for w in ("fanout", "pipeline"):
    for cfg in ("1shard", "2shards", "2shards_norequest", "go1", "go2"):
        if (w, cfg) in t:
            print(f"  {w:9} {cfg:18} {spread(t[(w, cfg)], 1)}")
    ringo = ratios(t.get((w, "1shard"), []), t.get((w, "2shards"), []))
    go = ratios(t.get((w, "go1"), []), t.get((w, "go2"), []))
    if ringo and go:
        print(f"  {w}: ringo 2-shard speed-up {spread(ringo, 2)} (target >= 1.8 and >= Go's), Go {spread(go, 2)}")
PY
