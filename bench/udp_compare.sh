#!/usr/bin/env bash
# Issue 19's UDP rows: ringo's udp_echo (one routine: recv_from then send_to, on io_uring
# and on AIO; with --buffered, recv_from_buffered's multishot receive; with --routines 16,
# sixteen such loops on the socket, so that sends overlap) against a raw recvmmsg/sendmmsg server (bench/peers/udp), one server thread
# each, driven by the same C client (bench/peers/udp/udp_load.c): 64-byte ping-pong (one
# datagram in flight) and flood (64 in flight). ROUNDS (default 3) interleaved rounds;
# medians with min-max. Quiet machine only.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-deps.sh --bench
cmake --preset release >/dev/null
cmake --build --preset release --target udp_echo udp_mmsg_echo udp_load
out=build/release/bench-results
mkdir -p "$out"
: >"$out/udp.txt"
seconds=${UDP_SECONDS:-3}
rounds=${ROUNDS:-3}
port=7711

# run NAME MODE -- server command (PORT is replaced)
run() {
  local name=$1 mode=$2
  shift 3
  port=$((port + 1))
  "${@/PORT/$port}" >/dev/null 2>&1 &
  local pid=$!
  sleep 0.5
  local args=("$port" ping "$seconds" 64)
  [ "$mode" = flood ] && args=("$port" flood "$seconds" 64 64)
  local line
  line=$(./build/release/bench/udp_load "${args[@]}" || true)
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  echo "$name round=$round $line" | tee -a "$out/udp.txt"
}

for round in $(seq 1 "$rounds"); do
  for mode in ping flood; do
    run ringo "$mode" -- env RINGO_BACKEND=uring ./build/release/examples/udp_echo --addr 127.0.0.1:PORT
    run ringo_buf "$mode" -- env RINGO_BACKEND=uring ./build/release/examples/udp_echo --addr 127.0.0.1:PORT --buffered
    run ringo_16 "$mode" -- env RINGO_BACKEND=uring ./build/release/examples/udp_echo --addr 127.0.0.1:PORT --routines 16
    run ringo_buf16 "$mode" -- env RINGO_BACKEND=uring ./build/release/examples/udp_echo --addr 127.0.0.1:PORT --buffered --routines 16
    run ringo_aio "$mode" -- env RINGO_BACKEND=aio ./build/release/examples/udp_echo --addr 127.0.0.1:PORT
    run raw_mmsg "$mode" -- ./build/release/bench/udp_mmsg_echo PORT
  done
done

python3 - "$out/udp.txt" <<'PY' | tee "$out/udp_summary.txt"
import re, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    m = re.match(r"(\w+) round=(\d+) udp_load (\w+): .*rps=(\d+) p50_us=([\d.]+) p99_us=([\d.]+) lost=(\d+)", line)
    if m:
        rows.setdefault((m[1], m[3]), {})[int(m[2])] = (float(m[4]), float(m[5]), float(m[6]), int(m[7]))
def spread(xs, d=0):
    return f"{statistics.median(xs):.{d}f} ({min(xs):.{d}f}-{max(xs):.{d}f})"
print("medians (min-max) over the rounds; one server thread; the client shares the 2 cores")
for mode in ("ping", "flood"):
    print(f"{mode}, 64 B:")
    for name in ("ringo", "ringo_buf", "ringo_16", "ringo_buf16", "ringo_aio", "raw_mmsg"):
        r = rows.get((name, mode), {})
        if r:
            v = list(r.values())
            print(f"  {name:9s} {spread([x[0] for x in v])} echoes/s, p50 {spread([x[1] for x in v], 1)} us,"
                  f" p99 {spread([x[2] for x in v], 1)} us, lost {sum(x[3] for x in v)}")
    for name in ("ringo", "ringo_buf", "ringo_16", "ringo_buf16"):
        a, b = rows.get((name, mode), {}), rows.get(("raw_mmsg", mode), {})
        both = sorted(set(a) & set(b))
        if both:
            print(f"  {name} / raw_mmsg: {spread([a[k][0] / b[k][0] for k in both], 2)}x echoes/s (within each round)")
PY
