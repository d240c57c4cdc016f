#!/usr/bin/env bash
# TCP echo, 64-byte messages: ringo's echo server on io_uring and on AIO vs a Go echo
# server vs a minimal raw liburing server vs a minimal raw epoll server, all driven by the
# same ringo-load, on this machine, in one run. ROUNDS (default 3) rounds, each running
# every server once in the same order, so the comparisons are interleaved; the summary
# gives medians, the min-max spread, and ratios taken within each round; the results file
# (every round's value) is drawn as $CHART_DIR/echo.svg (default docs/img/bench).
# Caveat: the load generator shares the machine's two cores with the server.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-deps.sh --bench
cmake --preset release >/dev/null
cmake --build --preset release --target echo_server ringo-load uring_echo epoll_echo
(cd bench/peers/go_echo && GOFLAGS=-mod=mod GO111MODULE=off GOCACHE=/tmp/ringo-gocache go build -o go_echo main.go)
out=build/release/bench-results
mkdir -p "$out"
: >"$out/echo.txt"
duration=${ECHO_SECONDS:-3}
rounds=${ROUNDS:-3}
charts=${CHART_DIR:-docs/img/bench}
port=7311
# The load generator's backend stays the same whatever the server's (io_uring when here).
load="env -u RINGO_BACKEND ./build/release/tools/ringo-load"
server=./build/release/examples/echo_server

# run NAME SHARDS CONNS -- server command...
run() {
  local name=$1 shards=$2 conns=$3
  shift 4
  port=$((port + 1))
  "${@/PORT/$port}" >/dev/null 2>&1 &
  local pid=$!
  sleep 0.5
  local line
  line=$($load --addr 127.0.0.1:$port -c "$conns" -s 64 -d "$duration" --shards 1 || true)
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  echo "$name shards=$shards c=$conns round=$round $line" | tee -a "$out/echo.txt"
}

for round in $(seq 1 "$rounds"); do
  for c in 1 64; do
    run ringo 1 "$c" -- env RINGO_BACKEND=uring $server --addr 127.0.0.1:PORT --shards 1
    run ringo_aio 1 "$c" -- env RINGO_BACKEND=aio $server --addr 127.0.0.1:PORT --shards 1
    run epoll 1 "$c" -- ./build/release/bench/epoll_echo PORT
    run raw 1 "$c" -- ./build/release/bench/uring_echo PORT
    run go 1 "$c" -- env GOMAXPROCS=1 ./bench/peers/go_echo/go_echo 127.0.0.1:PORT
    run ringo 2 "$c" -- env RINGO_BACKEND=uring $server --addr 127.0.0.1:PORT --shards 2
    run ringo_aio 2 "$c" -- env RINGO_BACKEND=aio $server --addr 127.0.0.1:PORT --shards 2
    run go 2 "$c" -- env GOMAXPROCS=2 ./bench/peers/go_echo/go_echo 127.0.0.1:PORT
  done
done

python3 - "$out/echo.txt" "$rounds" "$duration" "$out/echo.results.json" <<'PY' | tee "$out/echo_summary.txt"
import re, sys
sys.path.insert(0, "bench")
from bench_stats import by_round, comparison, med, spread, ratios, write_results
rows = {}  # (name, shards, conns) -> {"rps": [...], "p99": [...], "round": [...]}, one entry per round
for line in open(sys.argv[1]):
    m = re.match(r"(\w+) shards=(\d) c=(\d+) round=(\d+) .*rps=(\d+) p50_us=([\d.]+) p99_us=([\d.]+)", line)
    if m:
        r = rows.setdefault((m[1], int(m[2]), int(m[3])), {"rps": [], "p99": [], "round": []})
        r["rps"].append(float(m[5]))
        r["p99"].append(float(m[7]))
        r["round"].append(int(m[4]))
def get(name, shards, c):
    return rows.get((name, shards, c))
print("\nmedians (min-max) over the rounds; ratios within a round; the load generator shares the 2 cores:")
for c in (1, 64):
    for shards in (1, 2):
        for name in ("ringo", "ringo_aio", "epoll", "raw", "go"):
            r = get(name, shards, c)
            if r:
                print(f"  {shards} shard(s), C={c:2d}, {name:9s}: {spread(r['rps'])} req/s, p99 {spread(r['p99'])} us")
print("\nratios:")
not_faster = []
for c in (1, 64):
    r, a, e = get("ringo", 1, c), get("ringo_aio", 1, c), get("epoll", 1, c)
    g, raw = get("go", 1, c), get("raw", 1, c)
    if r and g and raw:
        print(f"  one shard, C={c}: ringo io_uring = {spread(ratios(r['rps'], g['rps']), 2)}x Go req/s (GOMAXPROCS=1, "
              f"target 1.35x at C=64), {spread(ratios(r['rps'], raw['rps']), 2)}x raw liburing (target 1.05x at C=64)")
    if a and e:
        print(f"  one shard, C={c}: ringo AIO = {spread(ratios(a['rps'], e['rps']), 2)}x raw epoll req/s, p99 "
              f"{spread(ratios(a['p99'], e['p99']), 2)}x epoll's (target: req/s >= 0.85x, p99 <= 1.15x)")
    if a and r:
        print(f"  one shard, C={c}: ringo AIO = {spread(ratios(a['rps'], r['rps']), 2)}x ringo io_uring req/s")
    for shards in (1, 2):
        r, a = get("ringo", shards, c), get("ringo_aio", shards, c)
        if r and a and med(a["rps"]) >= med(r["rps"]):
            not_faster.append(f"{shards} shard(s), C={c}: io_uring {med(r['rps']):.0f} req/s, AIO {med(a['rps']):.0f}")
    r2, g2 = get("ringo", 2, c), get("go", 2, c)
    if r2 and g2:
        print(f"  two shards, C={c}: ringo io_uring = {spread(ratios(r2['rps'], g2['rps']), 2)}x Go (GOMAXPROCS=2)")
print("where ringo on io_uring is not faster than on AIO (median req/s): " + ("; ".join(not_faster) or "nowhere"))

# The results file: each server's value in each round (None where it gave no result), the
# same comparisons as the ratios above, and p99 beside req/s.
n = int(sys.argv[2])
NAMES = {"ringo": "ringo io_uring", "ringo_aio": "ringo AIO", "epoll": "raw epoll", "raw": "raw liburing"}
METRICS = {"rps": ("throughput", "req/s", "higher"), "p99": ("p99 latency", "µs", "lower")}
def compared(shards, c, metric, subject, peers):
    def series(name):
        r = get(name, shards, c)
        return by_round(r["round"], r[metric], n) if r else [None] * n
    where = f"{shards} shard{'s' * (shards > 1)}, {c} connection{'s' * (c > 1)}"
    return comparison(where, *METRICS[metric], (NAMES[subject], series(subject)),
                      [(NAMES.get(p, f"Go (GOMAXPROCS={shards})"), series(p), *t) for p, *t in peers])
res = []
for c in (1, 64):
    for metric in ("rps", "p99"):
        rps = metric == "rps"
        res.append(compared(1, c, metric, "ringo", [("raw", 1.05), ("epoll",), ("go", 1.35)] if rps and c == 64
                            else [("raw",), ("epoll",), ("go",)]))
        res.append(compared(1, c, metric, "ringo_aio", [("epoll", 0.85 if rps else 1 / 1.15), ("ringo",)]))
        res.append(compared(2, c, metric, "ringo", [("go",)]))
write_results(sys.argv[4], "echo",
              "TCP echo, 64-byte messages: ringo against raw liburing, raw epoll and Go", res,
              [f"ringo-load (one shard, io_uring) drives each server for {sys.argv[3]} s a round, on the same machine: "
               "it shares the cores with the server."])
PY
mkdir -p "$charts"
python3 bench/chart.py -o "$charts/echo.svg" "$out/echo.results.json"
echo "chart: $charts/echo.svg"
