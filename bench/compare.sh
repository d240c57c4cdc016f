#!/usr/bin/env bash
# Runs ringo's benchmarks and the peers (Go with GOMAXPROCS=1, Boost.Fiber with pooled
# stacks) side by side on this machine and prints ratios measured in the same run.
# ROUNDS (default 1) runs the whole comparison that many times, each round printing its
# own summary; every round's values go to the results file that bench/chart.py draws as
# $CHART_DIR/compare.svg (default docs/img/bench; docs/benchmarks.md).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-deps.sh --bench
cmake --preset release >/dev/null
cmake --build --preset release --target runtime_bench chan_bench fiber_peer file_bench msg_ring_peer blocking_bench
(cd bench/peers/go && GOFLAGS=-mod=mod GO111MODULE=off GOCACHE=/tmp/ringo-gocache go build -o go_peer main.go)
out=build/release/bench-results
mkdir -p "$out"
rm -f "$out"/compare.results.*.json
rounds=${ROUNDS:-1}
charts=${CHART_DIR:-docs/img/bench}

for run in $(seq 1 "$rounds"); do
  if [ "$rounds" -gt 1 ]; then echo "=== round $run of $rounds"; fi
  echo "== ringo"
  ./build/release/bench/runtime_bench --benchmark_format=json --benchmark_out="$out/ringo.json" \
    --benchmark_out_format=json --benchmark_min_time=0.5 | tee "$out/ringo.txt" >/dev/null
  ./build/release/bench/chan_bench --benchmark_format=json --benchmark_out="$out/chan.json" \
    --benchmark_out_format=json --benchmark_min_time=0.5 >/dev/null
  # Page-cache reads, one in flight, against raw liburing; the AIO and O_DIRECT rows are
  # bench/aio_compare.sh's.
  ./build/release/bench/file_bench --benchmark_format=json --benchmark_out="$out/file.json" \
    --benchmark_out_format=json --benchmark_min_time=0.5 \
    --benchmark_filter='^file_read_4k/(ringo_uring|raw_liburing)/random:./qd:1/direct:0' >/dev/null
  ./build/release/bench/blocking_bench --benchmark_format=json --benchmark_out="$out/blocking.json" \
    --benchmark_out_format=json --benchmark_min_time=0.5 >/dev/null
  echo "== raw MSG_RING between two spinning threads"
  # Bounded: this peer's stream mode has hung intermittently (threads asleep, not spinning;
  # not yet understood), and make bench must not hang with it.
  timeout 60 ./build/release/bench/msg_ring_peer | tee "$out/msg_ring.txt" ||
    echo "msg_ring_peer: no result within 60 s (known intermittent hang; see the note in bench/compare.sh)"
  # The cross-shard round trip against its raw peers, bracketed: raw, ringo, raw. On this VM
  # the two vCPUs' placement changes from minute to minute (a raw shared-memory round trip
  # reads 0.12 or 0.55 us), so a round counts only if both raw runs around ringo's agree
  # (same placement), and each ratio is taken within its round.
  echo "== cross-shard round trip, ringo bracketed by raw peers"
  : >"$out/round_trips.txt"
  for _ in $(seq 1 16); do
    timeout 60 ./build/release/bench/msg_ring_peer 50000 round-trips-only >>"$out/round_trips.txt" ||
      echo "raw_missing 0 -" >>"$out/round_trips.txt"  # keeps rounds paired: that round is skipped
    ./build/release/bench/chan_bench --benchmark_filter='ping_pong_receiver_homed/uring' --benchmark_min_time=0.2 \
      --benchmark_format=json 2>/dev/null |
      python3 -c 'import json,sys; b=json.load(sys.stdin)["benchmarks"][0]; print("ringo_round_trip", b["real_time"], "ns")' \
        >>"$out/round_trips.txt"
  done
  timeout 60 ./build/release/bench/msg_ring_peer 50000 round-trips-only >>"$out/round_trips.txt" ||
    echo "raw_missing 0 -" >>"$out/round_trips.txt"  # keeps rounds paired: that round is skipped
  echo "== Boost.Fiber"
  ./build/release/bench/fiber_peer --benchmark_format=json --benchmark_out="$out/fiber.json" \
    --benchmark_out_format=json --benchmark_min_time=0.5 >/dev/null
  echo "== Go (GOMAXPROCS=1)"
  ./bench/peers/go/go_peer | tee "$out/go.txt"

python3 - "$out" "$run" <<'PY'
import json, sys
sys.path.insert(0, "bench")
from bench_stats import comparison, write_results
out = sys.argv[1]
res = []  # the results file's rows (bench_stats.comparison), each taken beside its printed line
def load(name):
    with open(f"{out}/{name}.json") as f:
        return {b["name"]: b for b in json.load(f)["benchmarks"]}
r, fb, ch = load("ringo"), load("fiber"), load("chan")
r.update(ch)
r.update(load("blocking"))
go = {}
for line in open(f"{out}/go.txt"):
    k, v, _ = line.split()
    go[k] = float(v)
def ns(b):
    scale = {"ns": 1, "us": 1e3, "ms": 1e6}[b["time_unit"]]
    return b["real_time"] * scale
rows = []
for name, b in r.items():
    if "bytes_per_routine" in b:
        rows.append(f"{name:45s} {b['bytes_per_routine']:10.0f} bytes")
    else:
        rows.append(f"{name:45s} {ns(b):10.1f} ns")
print("\nringo results:")
print("\n".join(rows))
def find(d, prefix):
    return next(b for n, b in d.items() if n.startswith(prefix))
sj = ns(find(r, "spawn_join/uring"))
fiber = ns(find(fb, "fiber_spawn_join"))
mem = find(r, "memory_per_blocked_routine/uring")["bytes_per_routine"]
print("\nratios (same run, same machine):")
print(f"  spawn+join: ringo {sj:.1f} ns, Go {go['go_spawn_join']:.1f} ns  -> ringo is {go['go_spawn_join']/sj:.1f}x faster (target >= 6x)")
print(f"  spawn+join: ringo {sj:.1f} ns, Boost.Fiber {fiber:.1f} ns -> ringo is {fiber/sj:.1f}x faster (target >= 5x)")
res.append(comparison("spawn + join", "time", "ns", "lower", ("ringo", [sj]),
                      [("Go", [go["go_spawn_join"]], 6), ("Boost.Fiber", [fiber], 5)]))
pairs = [("ping_pong/same_shard_uring", "go_ping_pong_same", "unbuffered ping-pong, same shard vs GOMAXPROCS=1"),
         ("ping_pong/cross_shard_uring", "go_ping_pong_two_procs", "unbuffered ping-pong, two shards vs GOMAXPROCS=2"),
         ("spsc_buffered/uring", "go_spsc_1024", "SPSC cap 1024, per message"),
         ("mpsc_four_to_one/uring", "go_mpsc_4to1", "MPSC 4->1, per message"),
         ("select_three_one_ready/uring", "go_select_3_one_ready", "select over 3, one ready"),
         ("select_default_three_empty/uring", "go_select_default_3", "select with default, 3 empty"),
         ("select_hundred/uring", "go_select_100", "select over 100 (Go: reflect.Select)")]
pairs += [("blocking_round_trip/uring", "go_syscall_round_trip", "blocking pool round trip vs a goroutine's syscall"),
          ("blocking_concurrent_64/uring_64_threads", "go_syscall_concurrent_64", "64 concurrent blocking calls, per call, pool of 64"),
          ("blocking_concurrent_64/uring_2_threads", "go_syscall_concurrent_64", "64 concurrent blocking calls, per call, pool of 2")]
def per_item(b):  # per call / per message: an iteration of a batch benchmark does many
    return 1e9 / b["items_per_second"] if "items_per_second" in b else ns(b)
for ours, theirs, label in pairs:
    # blocking_concurrent_64's iteration is 64 routines x 100 calls; Go's row is per call.
    mine = per_item(find(r, ours)) if ours.startswith("blocking_concurrent") else ns(find(r, ours))
    print(f"  {label}: ringo {mine:.1f} ns, Go {go[theirs]:.1f} ns -> {go[theirs]/mine:.2f}x")
    res.append(comparison(label, "time", "ns", "lower", ("ringo", [mine]), [("Go", [go[theirs]])]))
raw = {}
for line in open(f"{out}/msg_ring.txt"):
    k, v, _ = line.split()
    raw[k] = float(v)
cross = ns(find(r, "ping_pong/cross_shard_uring"))
# msg_ring_peer may hang and be cut off by its timeout (see above): rows it feeds are then
# reported as missing instead of stopping the summary (and make bench) with a KeyError.
rt = raw.get('raw_msg_ring_round_trip')
print(f"  cross-shard round trip, both channels on one shard: ringo {cross:.0f} ns "
      + (f"(raw MSG_RING {rt:.0f} ns a minute apart, maybe in another placement: bracketed ratios below)"
         if rt is not None else "(raw MSG_RING: no result, msg_ring_peer timed out)"))
raws, ringos = [], []
cur = {}
for line in open(f"{out}/round_trips.txt"):
    k, v, _ = line.split()
    if k == "ringo_round_trip":
        ringos.append(float(v))
        continue
    if k == "raw_missing":  # that raw run timed out: the rounds around it are skipped
        raws.append(None)
        cur = {}
        continue
    cur[k] = float(v)
    if k == "raw_shared_memory_round_trip":
        raws.append(cur)
        cur = {}
def placement(raw):  # by the cost of moving a cache line; in between: it moved mid-run
    shm = raw["raw_shared_memory_round_trip"]
    return "fast" if shm < 250 else "slow" if shm > 450 else None
kept = {"fast": [], "slow": []}
for i, mine in enumerate(ringos):
    if i + 1 >= len(raws):  # a raw run around this round timed out
        break
    before, after = raws[i], raws[i + 1]
    if before is None or after is None:
        continue
    where = placement(before)
    msg_before, msg_after = before["raw_msg_ring_round_trip"], after["raw_msg_ring_round_trip"]
    if where is None or placement(after) != where or max(msg_before, msg_after) > 1.25 * min(msg_before, msg_after):
        continue
    shm = (before["raw_shared_memory_round_trip"] + after["raw_shared_memory_round_trip"]) / 2
    kept[where].append((mine, (msg_before + msg_after) / 2, shm))
print(f"  cross-shard round trip, each channel on its receiver's shard ({sum(map(len, kept.values()))} of "
      f"{len(ringos)} rounds bracketed by agreeing raw runs; target <= 1.1x raw MSG_RING):")
for placement, rows in kept.items():
    if not rows:
        print(f"    {placement} placement: no round")
        continue
    print(f"    {placement} placement: ringo {min(x[0] for x in rows):.0f}-{max(x[0] for x in rows):.0f} ns; "
          f"ringo/raw MSG_RING {', '.join(f'{x[0] / x[1]:.2f}x' for x in rows)}; "
          f"ringo/raw shared memory {', '.join(f'{x[0] / x[2]:.2f}x' for x in rows)}")
    res.append(comparison(f"cross-shard round trip, receiver-homed, {placement} placement", "time", "ns", "lower",
                          ("ringo", [x[0] for x in rows]),
                          [("raw MSG_RING", [x[1] for x in rows], 1 / 1.1),
                           ("raw shared memory", [x[2] for x in rows])]))
stream = 1e9 / ns(find(r, "cross_shard_stream/uring"))
go_stream = 1e9 / go['go_spsc_1024_two_procs']
raw_stream = raw.get("raw_msg_ring_stream")
print(f"  cross-shard stream (cap 1024, one producer shard): ringo {stream/1e6:.1f} M msgs/s (target >= 20), "
      + (f"raw MSG_RING one per message {raw_stream/1e6:.1f} M/s -> {stream/raw_stream:.1f}x; " if raw_stream
         else "raw MSG_RING: no result (msg_ring_peer timed out); ")
      + f"Go SPSC GOMAXPROCS=2 {go_stream/1e6:.1f} M/s -> {stream/go_stream:.2f}x")
stream_peers = [("raw MSG_RING, one per message", [raw_stream / 1e6])] if raw_stream else []
res.append(comparison("cross-shard stream, cap 1024, one producer shard", "throughput", "M msgs/s", "higher",
                      ("ringo", [stream / 1e6]), stream_peers + [("Go SPSC, GOMAXPROCS=2", [go_stream / 1e6])]))
multi = ns(find(r, "select_across_shards/two_shards_uring"))
other = ns(find(r, "select_across_shards/other_shard_uring"))
print(f"  select over channels of two shards, one ready: ringo {multi:.0f} ns, "
      f"{multi/other:.2f}x a select over one other shard's channels ({other:.0f} ns)")
fl = load("file")
for arg, label in (("0", "sequential"), ("1", "random")):
    shape = f"random:{arg}/qd:1/direct:0/real_time"
    mine, raw = ns(fl[f"file_read_4k/ringo_uring/{shape}"]), ns(fl[f"file_read_4k/raw_liburing/{shape}"])
    print(f"  4 KiB {label} file read (page cache, one in flight): ringo {mine:.0f} ns, raw liburing {raw:.0f} ns -> {raw/mine:.2f}x")
    res.append(comparison(f"4 KiB {label} file read, page cache, one in flight", "time", "ns", "lower",
                          ("ringo", [mine]), [("raw liburing", [raw])]))
print(f"  memory per blocked routine: ringo {mem:.0f} B, Go {go['go_bytes_per_blocked']:.0f} B -> {mem/go['go_bytes_per_blocked']:.3f} of Go's (target <= 0.1)")
res.append(comparison("memory per blocked routine", "memory", "bytes", "lower", ("ringo", [mem]),
                      [("Go", [go['go_bytes_per_blocked']], 10)]))
write_results(f"{out}/compare.results.{sys.argv[2]}.json", "compare",
              "ringo against Go, Boost.Fiber and raw io_uring: spawn, channels, select, blocking calls, file reads",
              res,
              ["Go runs at GOMAXPROCS=1 unless the row says otherwise. One value a round (ROUNDS); the cross-shard "
               "round trips have one per bracketed run that counted (raw, ringo, raw, the raw runs agreeing), "
               "split by the placement of the two vCPUs."])
PY
done
mkdir -p "$charts"
python3 bench/chart.py -o "$charts/compare.svg" $(seq -f "$out/compare.results.%g.json" 1 "$rounds")
echo "chart: $charts/compare.svg"
