#!/usr/bin/env bash
# Work requesting against Go: work spawned from one shard (fan-out, pipeline; see
# bench/balance_bench.cpp), ringo on 1 shard, 2 shards, 2 shards without requesting, and Go
# at GOMAXPROCS=1 and 2, in interleaved rounds (ROUNDS, default 3). Prints medians with
# their spread and each side's 2-vs-1 speed-up, taken within a round; the results file
# (every round's value) is drawn as $CHART_DIR/balance.svg (default docs/img/bench).
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
charts=${CHART_DIR:-docs/img/bench}
for round in $(seq 1 "$rounds"); do
  ./build/release/bench/balance_bench "$backend" 1 | sed "s/^/ringo round=$round /" | tee -a "$out/balance.txt"
  ./bench/peers/go_balance/go_balance 1 | sed "s/^/go round=$round /" | tee -a "$out/balance.txt"
done

python3 - "$out/balance.txt" "$rounds" "$backend" "$out/balance.results.json" <<'PY' | tee "$out/balance_summary.txt"
import re, sys
sys.path.insert(0, "bench")
from bench_stats import by_round, comparison, spread, ratios, write_results
t = {}  # (workload, config) -> [ms per round]
rounds_of = {}  # (workload, config) -> the round of each entry of t's list
for line in open(sys.argv[1]):
    m = re.match(r"\w+ round=(\d+) (\w+) (\w+) ([\d.]+) ms", line)
    if m:
        t.setdefault((m[2], m[3]), []).append(float(m[4]))
        rounds_of.setdefault((m[2], m[3]), []).append(int(m[1]))
print("\nwall time, ms (median (min-max, rounds)); speed-up = 1 worker / 2 workers, within each round:")
for w in ("fanout", "pipeline"):
    for cfg in ("1shard", "2shards", "2shards_norequest", "go1", "go2"):
        if (w, cfg) in t:
            print(f"  {w:9} {cfg:18} {spread(t[(w, cfg)], 1)}")
    ringo = ratios(t.get((w, "1shard"), []), t.get((w, "2shards"), []))
    go = ratios(t.get((w, "go1"), []), t.get((w, "go2"), []))
    if ringo and go:
        print(f"  {w}: ringo 2-shard speed-up {spread(ringo, 2)} (target >= 1.8 and >= Go's), Go {spread(go, 2)}")

# The results file: wall times by round (None where a run gave no line), and the speed-ups.
n, res = int(sys.argv[2]), []
for w in ("fanout", "pipeline"):
    def ms(cfg):
        return by_round(rounds_of.get((w, cfg), []), t.get((w, cfg), []), n)
    def speed_up(one, two):
        return [a / b if a and b else None for a, b in zip(ms(one), ms(two))]
    res.append(comparison(f"{w}, 2 workers", "wall time", "ms", "lower", ("ringo (2 shards)", ms("2shards")),
                          [("Go (GOMAXPROCS=2)", ms("go2")),
                           ("ringo (2 shards, no work requesting)", ms("2shards_norequest"))]))
    res.append(comparison(f"{w}, 1 worker", "wall time", "ms", "lower", ("ringo (1 shard)", ms("1shard")),
                          [("Go (GOMAXPROCS=1)", ms("go1"))]))
    res.append(comparison(f"{w}, speed-up from 1 to 2 workers", "1-worker time / 2-worker time", "x", "higher",
                          ("ringo", speed_up("1shard", "2shards")), [("Go", speed_up("go1", "go2"), 1)]))
backend = {"uring": "io_uring", "aio": "AIO"}.get(sys.argv[3], sys.argv[3])
write_results(sys.argv[4], "balance",
              f"Work spread from one shard, ringo on {backend} against Go: fan-out and pipeline", res,
              ["fan-out: 10,000 routines of 1-100 us of work spawned from one shard and joined; pipeline: "
               "100 chains of 100 stages. The speed-up target (>= 1.8) is absolute; the chart's is Go's."])
PY
mkdir -p "$charts"
python3 bench/chart.py -o "$charts/balance.svg" "$out/balance.results.json"
echo "chart: $charts/balance.svg"
