#!/usr/bin/env bash
# Issue 19's echo rows: ringo's routine-per-connection echo server (default ring flags, and
# with DEFER_TASKRUN: RINGO_URING_FLAGS=defer), ringo's raw-lane state
# machine (examples/raw_echo), the same server echoing with the owned zero-copy send
# (echo_server --zero-copy, write_all_owned; 16 and 64 KiB rows only), a raw liburing server
# with SINGLE_ISSUER + DEFER_TASKRUN
# and Go, all on one thread, driven by the same ringo-load: 64-byte messages at C=1 and
# C=64, then 16 KiB and 64 KiB messages at C=16. ROUNDS (default 3) interleaved rounds;
# medians with min-max, and ratios taken within each round. LOADS picks loads as
# "C SIZE" pairs, comma-separated (default: all four). Quiet machine only.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-deps.sh --bench
cmake --preset release >/dev/null
cmake --build --preset release --target echo_server raw_echo ringo-load uring_echo
(cd bench/peers/go_echo && GOFLAGS=-mod=mod GO111MODULE=off GOCACHE=/tmp/ringo-gocache go build -o go_echo main.go)
out=build/release/bench-results
mkdir -p "$out"
: >"$out/echo_io.txt"
duration=${ECHO_SECONDS:-3}
rounds=${ROUNDS:-3}
port=7411
load="env -u RINGO_BACKEND ./build/release/tools/ringo-load"

# run NAME CONNS SIZE -- server command...
run() {
  local name=$1 conns=$2 size=$3
  shift 4
  port=$((port + 1))
  "${@/PORT/$port}" >/dev/null 2>&1 &
  local pid=$!
  sleep 0.5
  local line
  line=$($load --addr 127.0.0.1:$port -c "$conns" -s "$size" -d "$duration" --shards 1 || true)
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  echo "$name c=$conns s=$size round=$round $line" | tee -a "$out/echo_io.txt"
}

IFS=, read -r -a loads <<<"${LOADS:-1 64,64 64,16 16384,16 65536}"
for round in $(seq 1 "$rounds"); do
  for cs in "${loads[@]}"; do
    set -- $cs
    c=$1 s=$2
    run ringo "$c" "$s" -- env RINGO_BACKEND=uring ./build/release/examples/echo_server --addr 127.0.0.1:PORT --shards 1
    run ringo_defer "$c" "$s" -- env RINGO_BACKEND=uring RINGO_URING_FLAGS=defer ./build/release/examples/echo_server --addr 127.0.0.1:PORT --shards 1
    if [ "$s" -ge 16384 ]; then  # the owned zero-copy echo (write_all_owned), only where copies could cost
      run ringo_zc "$c" "$s" -- env RINGO_BACKEND=uring ./build/release/examples/echo_server --addr 127.0.0.1:PORT --shards 1 --zero-copy
    fi
    run ringo_lane "$c" "$s" -- env RINGO_BACKEND=uring ./build/release/examples/raw_echo --addr 127.0.0.1:PORT
    run raw_defer "$c" "$s" -- ./build/release/bench/uring_echo PORT
    run raw_fixed "$c" "$s" -- ./build/release/bench/uring_echo PORT --fixed
    run go "$c" "$s" -- env GOMAXPROCS=1 ./bench/peers/go_echo/go_echo 127.0.0.1:PORT
  done
done

python3 - "$out/echo_io.txt" <<'PY' | tee "$out/echo_io_summary.txt"
import re, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    m = re.match(r"(\w+) c=(\d+) s=(\d+) round=(\d+) .*rps=(\d+) p50_us=([\d.]+) p99_us=([\d.]+)", line)
    if m:
        rows.setdefault((m[1], int(m[2]), int(m[3])), {})[int(m[4])] = (float(m[5]), float(m[6]), float(m[7]))
def spread(xs, d=0):
    return f"{statistics.median(xs):.{d}f} ({min(xs):.{d}f}-{max(xs):.{d}f})"
print("medians (min-max) over the rounds; one server thread; ringo-load shares the 2 cores")
for c, s in ((1, 64), (64, 64), (16, 16384), (16, 65536)):
    print(f"C={c} size={s}:")
    for name in ("ringo", "ringo_defer", "ringo_zc", "ringo_lane", "raw_defer", "raw_fixed", "go"):
        r = rows.get((name, c, s), {})
        if r:
            print(f"  {name:10s} {spread([v[0] for v in r.values()])} req/s, p50 {spread([v[1] for v in r.values()], 1)} us,"
                  f" p99 {spread([v[2] for v in r.values()], 1)} us")
    for name in ("ringo", "ringo_defer", "ringo_zc", "ringo_lane", "raw_fixed"):
        for peer in ("raw_defer", "go"):
            a, b = rows.get((name, c, s), {}), rows.get((peer, c, s), {})
            both = sorted(set(a) & set(b))
            if both:
                print(f"  {name} / {peer}: req/s {spread([a[k][0] / b[k][0] for k in both], 2)}x, "
                      f"p99 {spread([a[k][2] / b[k][2] for k in both], 2)}x (within each round)")
PY
