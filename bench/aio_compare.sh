#!/usr/bin/env bash
# The AIO backend against io_uring and against raw peers, in interleaved rounds on this
# machine: 4 KiB file reads (ringo on AIO vs a raw io_submit loop vs ringo on io_uring vs
# raw liburing; page cache and O_DIRECT; one and 32 in flight) and the cross-shard paths
# (submit_to, spawn_on, channel round trips: AIO's doorbell is a mailbox plus an eventfd,
# io_uring's is MSG_RING). Prints medians with their spread, ratios taken within a round,
# and the rows where io_uring is not faster. TCP echo on AIO: bench/echo_compare.sh.
# ROUNDS (default 3) rounds; each runs every benchmark once, in the same order. The results
# file (every round's value) is drawn as $CHART_DIR/aio.svg (default docs/img/bench).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-deps.sh --bench
cmake --preset release >/dev/null
cmake --build --preset release --target file_bench runtime_bench chan_bench
out=build/release/bench-results
mkdir -p "$out"
rm -f "$out"/aio_*.json
rounds=${ROUNDS:-3}
min_time=${MIN_TIME:-0.3}
charts=${CHART_DIR:-docs/img/bench}

for round in $(seq 1 "$rounds"); do
  echo "== round $round of $rounds"
  ./build/release/bench/file_bench --benchmark_min_time="$min_time" \
    --benchmark_out="$out/aio_file.$round.json" --benchmark_out_format=json >/dev/null
  ./build/release/bench/runtime_bench --benchmark_min_time="$min_time" \
    --benchmark_filter='^(spawn_join|cross_shard_spawn_on|cross_shard_submit_to|cross_shard_wake|op_nop)/.*(uring|aio)' \
    --benchmark_out="$out/aio_runtime.$round.json" --benchmark_out_format=json >/dev/null
  ./build/release/bench/chan_bench --benchmark_min_time="$min_time" \
    --benchmark_filter='^(ping_pong/cross_shard|ping_pong_receiver_homed/|cross_shard_stream/)' \
    --benchmark_out="$out/aio_chan.$round.json" --benchmark_out_format=json >/dev/null
done

python3 - "$out" "$rounds" <<'PY' | tee "$out/aio_compare.txt"
import sys
sys.path.insert(0, "bench")
from bench_stats import comparison, load_rounds, med, spread, ratios, write_results
out, rounds = sys.argv[1], int(sys.argv[2])
files, skipped = load_rounds([f"{out}/aio_file.{r}.json" for r in range(1, rounds + 1)])
rt, rt_skipped = load_rounds([f"{out}/aio_{k}.{r}.json" for k in ("runtime", "chan") for r in range(1, rounds + 1)])
skipped.update(rt_skipped)
not_faster = []  # (what, io_uring ns, AIO ns)
# For the results file: each round on its own, so that a row one round skipped leaves a gap
# (None) there instead of shifting the later rounds.
per_round = [load_rounds([f"{out}/aio_{k}.{r}.json" for k in ("file", "runtime", "chan")])[0]
            for r in range(1, rounds + 1)]
res = []

def series(name):
    return [d[name][0] if name in d else None for d in per_round]

def row(name):
    return spread(files[name]) + " ns" if name in files else "skipped: " + skipped.get(name, "no result")

def ratio(a, b, label):
    if a not in files or b not in files:
        return f"{label} n/a"
    r = ratios(files[a], files[b])
    return f"{label} {spread(r, 2)}"

print(f"\n4 KiB reads, ns per read (median, min-max over {rounds} interleaved rounds; same machine, same run):")
for direct in (0, 1):
    for qd in (1, 32):
        for rnd in (0, 1):
            shape = f"random:{rnd}/qd:{qd}/direct:{direct}"
            where = "O_DIRECT" if direct else "page cache"
            print(f"  {where}, {'random' if rnd else 'sequential'}, {qd} in flight:")
            names = {w: f"file_read_4k/{w}/{shape}" for w in ("ringo_aio", "raw_io_submit", "ringo_uring", "raw_liburing")}
            what = f"4 KiB reads, {where}, {'random' if rnd else 'sequential'}, {qd} in flight"
            res.append(comparison(what, "time per read", "ns", "lower", ("ringo AIO", series(names["ringo_aio"])),
                                  [("raw io_submit", series(names["raw_io_submit"])),
                                   ("ringo io_uring", series(names["ringo_uring"]))]))
            res.append(comparison(what, "time per read", "ns", "lower",
                                  ("ringo io_uring", series(names["ringo_uring"])),
                                  [("raw liburing", series(names["raw_liburing"]))]))
            for who, name in names.items():
                print(f"    {who:14s} {row(name)}")
            print("    " + ratio(names["ringo_aio"], names["raw_io_submit"], "ringo AIO / raw io_submit:") + "; " +
                  ratio(names["ringo_aio"], names["ringo_uring"], "ringo AIO / ringo io_uring:"))
            for a, b, what in (("ringo_uring", "ringo_aio", "ringo"), ("raw_liburing", "raw_io_submit", "raw")):
                if names[a] in files and names[b] in files and med(files[names[a]]) >= med(files[names[b]]):
                    not_faster.append((f"file read {where}, {'random' if rnd else 'sequential'}, QD{qd} ({what})",
                                       med(files[names[a]]), med(files[names[b]])))

print(f"\ncross-shard and runtime paths, ns (median, min-max over {rounds} rounds):")
pairs = [("cross_shard_submit_to/uring", "cross_shard_submit_to/aio", "submit_to round trip, spinning shards"),
         ("cross_shard_spawn_on/uring", "cross_shard_spawn_on/aio", "spawn_on + join on the other shard"),
         ("cross_shard_wake/peer_spins_1ms_uring", "cross_shard_wake/peer_spins_1ms_aio", "submit_to + 200 us sleep, peer spins"),
         ("cross_shard_wake/peer_sleeps_uring", "cross_shard_wake/peer_sleeps_aio", "submit_to + 200 us sleep, peer sleeps (doorbell)"),
         ("ping_pong/cross_shard_uring", "ping_pong/cross_shard_aio", "channel round trip, both channels on one shard"),
         ("ping_pong_receiver_homed/uring", "ping_pong_receiver_homed/aio", "channel round trip, receiver-homed"),
         ("cross_shard_stream/uring", "cross_shard_stream/aio", "cross-shard stream, per message"),
         ("spawn_join/uring", "spawn_join/aio", "spawn + join, one shard"),
         ("op_nop/uring_no_deadline", "op_nop/aio_no_deadline", "one NOP op")]
for u, a, label in pairs:
    res.append(comparison(label, "time", "ns", "lower", ("ringo AIO", series(a)), [("ringo io_uring", series(u))]))
    if u not in rt or a not in rt:
        print(f"  {label}: skipped ({skipped.get(a) or skipped.get(u) or 'no result'})")
        continue
    print(f"  {label}: io_uring {spread(rt[u])}, AIO {spread(rt[a])}; AIO/io_uring {spread(ratios(rt[a], rt[u]), 2)}")
    if med(rt[u]) >= med(rt[a]):
        not_faster.append((label, med(rt[u]), med(rt[a])))

print("\nwhere io_uring is not faster than AIO (medians):")
for what, u, a in not_faster:
    print(f"  {what}: io_uring {u:.0f} ns, AIO {a:.0f} ns")
if not not_faster:
    print("  nowhere in these rows")
write_results(f"{out}/aio.results.json", "aio",
              "The AIO backend against raw io_submit and io_uring: 4 KiB reads, cross-shard paths", res,
              ["File reads: one shard, 64 MiB file; O_DIRECT rows are left out where O_DIRECT was refused. "
               "Cross-shard rows: ringo on AIO against ringo on io_uring."])
PY
mkdir -p "$charts"
python3 bench/chart.py -o "$charts/aio.svg" "$out/aio.results.json"
echo "chart: $charts/aio.svg"
