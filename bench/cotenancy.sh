#!/usr/bin/env bash
# Co-tenancy (docs/scheduling.md): the cross-shard round trip and the echo server, quiet
# and beside a co-tenant that keeps both cores busy, for one build or for two (old vs
# new), interleaved in rounds: every variant runs once per round in the same order, under
# each condition, so the comparisons see the same machine.
#
#   bench/cotenancy.sh                       # the current release build
#   bench/cotenancy.sh old=DIR new=DIR       # two build dirs (each with bench/, examples/, tools/)
#   bench/cotenancy.sh new=DIR:VAR=1,VAR2=x  # a variant with environment variables set
#
# ROUNDS (default 3), CONDITIONS (default "quiet busy2"; also "nice2": the same busy
# loops at nice 10), ECHO_SECONDS (default 3), ECHO_CONNS (default 64), MIN_TIME
# (benchmark seconds, default 0.5). A co-tenant is a shell busy loop per core, each in its
# own session (so its own autogroup, as another login or service would be).
# Output: build/release/bench-results/cotenancy.txt (one line per run) and
# cotenancy_summary.txt (medians, min-max).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -eq 0 ]; then
  cmake --preset release >/dev/null
  cmake --build --preset release --target chan_bench runtime_bench echo_server ringo-load
  set -- current=build/release
fi
out=build/release/bench-results
mkdir -p "$out"
log=$out/cotenancy.txt
: >"$log"
rounds=${ROUNDS:-3}
conditions=${CONDITIONS:-quiet busy2}
duration=${ECHO_SECONDS:-3}
conns=${ECHO_CONNS:-64}
min_time=${MIN_TIME:-0.5}
port=$((7400 + RANDOM % 500))
cpus=$(nproc)
echo "uptime at start: $(uptime)" | tee -a "$log"

tenants=()
start_tenants() {  # $1: condition
  tenants=()
  case $1 in
    quiet) ;;
    busy2 | nice2)
      local prefix=""
      [ "$1" = nice2 ] && prefix="nice -n 10"
      for _ in $(seq 1 "$cpus"); do
        setsid $prefix bash -c 'while :; do :; done' &
        tenants+=($!)
      done
      sleep 0.3
      ;;
    *) echo "unknown condition $1" >&2; exit 2 ;;
  esac
}
stop_tenants() {
  for p in "${tenants[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${tenants[@]}"; do wait "$p" 2>/dev/null || true; done
  tenants=()
}
trap stop_tenants EXIT

# bench NAME DIR ENV COND BINARY FILTER
bench() {
  local name=$1 dir=$2 envs=$3 cond=$4 bin=$5 filter=$6
  env $envs "$dir/bench/$bin" --benchmark_filter="$filter" --benchmark_min_time="$min_time" \
    --benchmark_format=json 2>/dev/null |
    python3 -c '
import json, sys
for b in json.load(sys.stdin)["benchmarks"]:
    print(b["name"].removesuffix("/real_time"), round(b["real_time"]), b.get("spins_preempted", ""))' |
    while read -r bname ns pre; do
      echo "$name cond=$cond round=$round $bname ns=$ns preempted=${pre:-na}" | tee -a "$log"
    done
}

# echo_run NAME DIR ENV COND SHARDS
echo_run() {
  local name=$1 dir=$2 envs=$3 cond=$4 shards=$5
  port=$((port + 1))
  env $envs RINGO_BACKEND=uring "$dir/examples/echo_server" --addr 127.0.0.1:$port --shards "$shards" \
    >/dev/null 2>&1 &
  local pid=$!
  sleep 0.5
  local line
  line=$(env $envs RINGO_BACKEND=uring "$dir/tools/ringo-load" --addr 127.0.0.1:$port -c "$conns" -s 64 \
    -d "$duration" --shards 1 || true)
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  echo "$name cond=$cond round=$round echo_${shards}_shard $line" | tee -a "$log"
}

for round in $(seq 1 "$rounds"); do
  for cond in $conditions; do
    start_tenants "$cond"
    for variant in "$@"; do
      name=${variant%%=*}
      rest=${variant#*=}
      dir=${rest%%:*}
      envs=""
      [ "$rest" != "$dir" ] && envs=${rest#*:} && envs=${envs//,/ }
      bench "$name" "$dir" "$envs" "$cond" chan_bench '^ping_pong_receiver_homed/uring/'
      bench "$name" "$dir" "$envs" "$cond" runtime_bench '^(cross_shard_submit_to/uring|spawn_join/uring)/'
      echo_run "$name" "$dir" "$envs" "$cond" 1
      echo_run "$name" "$dir" "$envs" "$cond" 2
    done
    stop_tenants
  done
done
echo "uptime at end: $(uptime)" | tee -a "$log"

python3 - "$log" <<'PY' | tee "$out/cotenancy_summary.txt"
import re, sys
sys.path.insert(0, "bench")
from bench_stats import spread
rows, order = {}, []
for line in open(sys.argv[1]):
    m = re.match(r"(\S+) cond=(\S+) round=\d+ (\S+) ns=(\d+)", line)
    if m:
        key, val = (m[3], m[2], m[1]), float(m[4]) / 1000
    else:
        m = re.match(r"(\S+) cond=(\S+) round=\d+ (echo_\d_shard) .*rps=(\d+) p50_us=([\d.]+) p99_us=([\d.]+)", line)
        if not m:
            continue
        key, val = (m[3], m[2], m[1]), (float(m[4]), float(m[6]))
    if key not in rows:
        order.append(key)
    rows.setdefault(key, []).append(val)
print("\nmedians (min-max) over the rounds:")
for key in sorted(order, key=lambda k: (k[0], k[1] != "quiet", k[1], order.index(k))):
    what, cond, name = key
    v = rows[key]
    if what.startswith("echo"):
        print(f"  {what:28s} {cond:6s} {name:10s} {spread([x[0] for x in v])} req/s, p99 {spread([x[1] for x in v])} us")
    else:
        print(f"  {what:28s} {cond:6s} {name:10s} {spread(v, 2)} us")
PY
