#!/usr/bin/env bash
# TCP echo, 64-byte messages: ringo's echo server vs a Go echo server vs a minimal raw
# liburing server, all driven by the same ringo-load, on this machine, in one run.
# Caveat: the load generator shares the machine's two cores with the server.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-deps.sh --bench
cmake --preset release >/dev/null
cmake --build --preset release --target echo_server ringo-load uring_echo
(cd bench/peers/go_echo && GOFLAGS=-mod=mod GO111MODULE=off GOCACHE=/tmp/ringo-gocache go build -o go_echo main.go)
out=build/release/bench-results
mkdir -p "$out"
: >"$out/echo.txt"
duration=${ECHO_SECONDS:-3}
port=7311
load=./build/release/tools/ringo-load

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
  echo "$name shards=$shards c=$conns $line" | tee -a "$out/echo.txt"
}

for c in 1 64; do
  run ringo 1 "$c" -- ./build/release/examples/echo_server --addr 127.0.0.1:PORT --shards 1
  run go 1 "$c" -- env GOMAXPROCS=1 ./bench/peers/go_echo/go_echo 127.0.0.1:PORT
  run raw 1 "$c" -- ./build/release/bench/uring_echo PORT
  run ringo 2 "$c" -- ./build/release/examples/echo_server --addr 127.0.0.1:PORT --shards 2
  run go 2 "$c" -- env GOMAXPROCS=2 ./bench/peers/go_echo/go_echo 127.0.0.1:PORT
done

python3 - "$out/echo.txt" <<'PY'
import re, sys
rows = {}
for line in open(sys.argv[1]):
    m = re.match(r"(\w+) shards=(\d) c=(\d+) .*rps=(\d+) p50_us=([\d.]+) p99_us=([\d.]+)", line)
    if m:
        rows[(m[1], int(m[2]), int(m[3]))] = (float(m[4]), float(m[5]), float(m[6]))
print("\nratios (same run; the load generator shares the 2 cores):")
for c in (1, 64):
    r, g, raw = rows.get(("ringo", 1, c)), rows.get(("go", 1, c)), rows.get(("raw", 1, c))
    if r and g and raw:
        print(f"  one shard, C={c}: ringo {r[0]:.0f} req/s = {r[0]/g[0]:.2f}x Go (GOMAXPROCS=1, target 1.35x at C=64), "
              f"{r[0]/raw[0]:.2f}x raw liburing (target 1.05x at C=64); p99 ringo {r[2]:.0f} us vs raw {raw[2]:.0f} us")
    r2, g2 = rows.get(("ringo", 2, c)), rows.get(("go", 2, c))
    if r2 and g2:
        print(f"  two shards, C={c}: ringo {r2[0]:.0f} req/s = {r2[0]/g2[0]:.2f}x Go (GOMAXPROCS=2)")
PY
