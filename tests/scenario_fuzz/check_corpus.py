#!/usr/bin/env python3
"""explore failures and fuzz_scenario meet (docs/fuzzing.md, "fuzz_scenario"):

  1. `ringo-sim explore --corpus` on a planted bug writes one entry, named by its SHA-1;
     fuzz_scenario's own code (built without libFuzzer) rejects it by default and, with
     RINGO_FUZZ_PLANTED=1, aborts naming the scenario and the same failure;
  2. `ringo-sim from-fuzz` turns the entry into a failure file that replay runs to the same
     failure (same trace hash) and shrink shrinks; likewise for arbitrary choice bytes
     (values above their bounds, read modulo them by the target);
  3. bytes that are no scenario run are rejected by the target and are exit 2 for from-fuzz;
     a full-size run (format 2 with size 0, or format 1) is rejected by the target, which
     runs small runs only, and from-fuzz still takes it;
  4. every checked-in corpus entry is named by its SHA-1 (or regression-*) and runs without failing, and
     every checked-in planted-bug entry (fuzz/planted/) is rejected by default and makes
     the target abort naming its scenario with RINGO_FUZZ_PLANTED=1.

Exit 0 when all hold, 1 naming what failed."""
import argparse
import hashlib
import os
import random
import re
import struct
import subprocess
import sys
import tempfile

failures = []


def check(ok, what):
    if not ok:
        failures.append(what)
        print("FAILED:", what)


def run(cmd, env=None, timeout=120):
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run(cmd, capture_output=True, text=True, env=e, timeout=timeout)


def header(name, faults="none", seed=1, strategy=0, depth=3, buggify=0, fmt=2, size=1):
    """Format 2 ends with the size byte (1 small, 0 full); format 1 has none (a full run)."""
    fixed = (name + "\n" + faults + "\n").encode() + bytes([fmt]) + struct.pack("<QBBI", seed, strategy, depth, buggify)
    return fixed + (bytes([size]) if fmt == 2 else b"")


def summary_hash(text):
    m = re.search(r"hash=([0-9a-f]+)", text)
    return m.group(1) if m else None


def explore_writes_an_entry(a, tmp):
    corpus = os.path.join(tmp, "corpus")
    os.mkdir(corpus)
    r = run([a.ringo_sim, "explore", "--scenario", "lost_wakeup", "--seeds", "1..20", "--strategy", "pct",
             "--stop-after", "1", "--size", "small", "--corpus", corpus])
    check(r.returncode == 1, f"explore on lost_wakeup exits 1 (got {r.returncode}: {r.stderr})")
    why = re.search(r"FAIL seed=\d+: (.*)", r.stdout)
    entries = os.listdir(corpus)
    check(len(entries) == 1 and why is not None, f"explore --corpus writes one entry (got {entries})\n{r.stdout}")
    if len(entries) != 1 or why is None:
        return None, None
    path = os.path.join(corpus, entries[0])
    data = open(path, "rb").read()
    check(entries[0] == hashlib.sha1(data).hexdigest(), "the entry is named by its content's SHA-1")
    check(data.startswith(b"lost_wakeup\nnone\n\x02"), f"the entry starts with its scenario: {data[:20]!r}")
    check(data[17 + 15] == 1, f"the entry is a small run (size byte 1): {data[:40]!r}")
    return path, why.group(1)


def target_finds_the_failure(a, entry, why):
    r = run([a.target, entry])
    check(r.returncode == 0 and "rejected" in r.stdout, f"a planted bug is not fuzzed by default: {r.stdout}{r.stderr}")
    r = run([a.target, entry], env={"RINGO_FUZZ_PLANTED": "1"})
    check(r.returncode != 0 and "fuzz_scenario: scenario lost_wakeup FAILED" in r.stderr and why in r.stderr,
          f"with RINGO_FUZZ_PLANTED=1 the target aborts on the entry with the explore failure "
          f"(rc {r.returncode}): {r.stderr}")
    return summary_hash(r.stderr)


def from_fuzz_round_trip(a, entry, tmp, want_hash, label):
    out = os.path.join(tmp, label + ".failure")
    r = run([a.ringo_sim, "from-fuzz", entry, "--out", out])
    check(r.returncode == 0 and os.path.exists(out), f"{label}: from-fuzz writes a failure file: {r.stdout}{r.stderr}")
    if r.returncode != 0:
        return
    check(summary_hash(r.stdout) == want_hash, f"{label}: from-fuzz ran the target's run ({r.stdout})")
    rep = run([a.ringo_sim, "replay", out])
    check(rep.returncode == 1 and summary_hash(rep.stdout) == want_hash,
          f"{label}: the failure file replays the same failing run: {rep.stdout}{rep.stderr}")
    shr = run([a.ringo_sim, "shrink", out, "--out", out + ".shrunk", "--max-runs", "300"])
    check(shr.returncode == 0, f"{label}: shrink takes the failure file: {shr.stdout}{shr.stderr}")


def arbitrary_bytes_round_trip(a, tmp):
    """Random choice bytes: the target reads values modulo their bounds; from-fuzz's file
    (values recorded below their bounds) must replay the very run the target made."""
    rng = random.Random(20)
    found = passed = 0
    for i in range(40):
        name = ["lost_wakeup", "ordering_assumption", "racing_receivers_leak"][i % 3]
        path = os.path.join(tmp, f"random-{i}")
        with open(path, "wb") as f:
            f.write(header(name, seed=i, strategy=i % 2) + bytes(rng.randrange(256) for _ in range(rng.randrange(40))))
        t = run([a.target, path], env={"RINGO_FUZZ_PLANTED": "1"})
        if t.returncode == 0:
            passed += 1
            r = run([a.ringo_sim, "from-fuzz", path])
            check(r.returncode == 4 and not os.path.exists(path + ".failure"),
                  f"from-fuzz on a passing input exits 4, writes nothing: {r.stdout}{r.stderr}")
            continue
        found += 1
        from_fuzz_round_trip(a, path, tmp, summary_hash(t.stderr), f"random-{i}")
    check(found > 0 and passed > 0, f"random inputs both fail and pass ({found} failed, {passed} passed)")
    print(f"arbitrary bytes: {found} failing inputs round-tripped, {passed} passing")


BAD = {
    "empty": b"",
    "no newline": b"echo",
    "unknown scenario": header("no_such_scenario"),
    "bad faults": header("echo", faults="stormy"),
    "header cut short": header("echo")[:-3],
    "unknown format": header("echo", fmt=3),
    "unknown size": header("echo", size=2),
    "size byte missing": header("echo")[:-1],
    "unknown strategy": header("echo", strategy=2),
    "depth 0": header("echo", depth=0),
    "buggify too high": header("echo", buggify=1000001),
    "pct for a cluster": header("election", strategy=1),
}


def bad_inputs(a, tmp):
    for what, data in BAD.items():
        path = os.path.join(tmp, "bad-" + what.replace(" ", "_"))
        open(path, "wb").write(data)
        t = run([a.target, path], env={"RINGO_FUZZ_PLANTED": "1"})
        check(t.returncode == 0 and "rejected" in t.stdout, f"target rejects {what}: {t.stdout}{t.stderr}")
        r = run([a.ringo_sim, "from-fuzz", path])
        check(r.returncode == 2 and "is no fuzz_scenario input" in r.stderr, f"from-fuzz: {what} is exit 2: {r.stderr}")
    full_runs(a, tmp)
    r = run([a.ringo_sim, "explore", "--scenario", "echo", "--seeds", "1..1", "--size", "medium"])
    check(r.returncode == 2 and "unknown --size medium" in r.stderr, f"--size medium is exit 2: {r.stderr}")
    r = run([a.ringo_sim, "from-fuzz", os.path.join(tmp, "missing")])
    check(r.returncode == 2 and "cannot read" in r.stderr, f"from-fuzz on a missing file is exit 2: {r.stderr}")
    r = run([a.ringo_sim, "explore", "--scenario", "echo", "--seeds", "1..1", "--corpus-all"])
    check(r.returncode == 2, f"--corpus-all without --corpus is exit 2: {r.stderr}")
    r = run([a.ringo_sim, "explore", "--scenario", "echo", "--seeds", "1..1", "--corpus", os.path.join(tmp, "none")])
    check(r.returncode == 3, f"--corpus into a missing directory is exit 3: {r.stderr}")


def full_runs(a, tmp):
    """The target runs small runs only; a full run's input (format 2 size 0, or format 1
    from before sizes) is rejected, and from-fuzz still takes it (exit 4: it passes)."""
    for what, data in {"full": header("pipeline", size=0), "format 1": header("pipeline", fmt=1)}.items():
        path = os.path.join(tmp, "full-" + what.replace(" ", "_"))
        open(path, "wb").write(data)
        t = run([a.target, path])
        check(t.returncode == 0 and "rejected" in t.stdout, f"target rejects a {what} run: {t.stdout}{t.stderr}")
        r = run([a.ringo_sim, "from-fuzz", path])
        check(r.returncode == 4 and "pipeline ok" in r.stdout, f"from-fuzz runs a {what} input: {r.stdout}{r.stderr}")
    r = run([a.ringo_sim, "run", "--scenario", "pipeline", "--size", "small"])
    check(r.returncode == 0 and "pipeline ok" in r.stdout, f"run --size small: {r.stdout}{r.stderr}")


def checked_in_corpus(a):
    files = sorted(os.listdir(a.corpus))
    check(len(files) > 0, f"the checked-in corpus {a.corpus} has entries")
    for name in files:
        data = open(os.path.join(a.corpus, name), "rb").read()
        check(name == hashlib.sha1(data).hexdigest() or name.startswith("regression-"),
              f"corpus entry {name} is named by its SHA-1 (or regression-*: a finding, fixed)")
    r = run([a.target] + [os.path.join(a.corpus, n) for n in files], timeout=600)
    check(r.returncode == 0 and r.stdout.count(": ran") == len(files),
          f"every checked-in entry runs and passes: {r.stdout[-500:]}{r.stderr[-2000:]}")


def checked_in_planted(a):
    files = sorted(os.listdir(a.planted))
    check(len(files) > 0, f"the checked-in planted entries {a.planted} exist")
    for name in files:
        path = os.path.join(a.planted, name)
        data = open(path, "rb").read()
        scenario = data.split(b"\n", 1)[0].decode()
        check(name == hashlib.sha1(data).hexdigest(), f"planted entry {name} is named by its SHA-1")
        r = run([a.target, path])
        check(r.returncode == 0 and "rejected" in r.stdout, f"planted {scenario} rejected by default: {r.stderr}")
        r = run([a.target, path], env={"RINGO_FUZZ_PLANTED": "1"})
        check(r.returncode != 0 and f"fuzz_scenario: scenario {scenario} FAILED" in r.stderr,
              f"planted {scenario} ({name}) fails under RINGO_FUZZ_PLANTED=1: {r.stderr}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--ringo-sim", required=True)
    p.add_argument("--target", required=True)
    p.add_argument("--corpus", required=True)
    p.add_argument("--planted", required=True)
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        entry, why = explore_writes_an_entry(a, tmp)
        if entry:
            h = target_finds_the_failure(a, entry, why)
            from_fuzz_round_trip(a, entry, tmp, h, "explore-entry")
        arbitrary_bytes_round_trip(a, tmp)
        bad_inputs(a, tmp)
    checked_in_corpus(a)
    checked_in_planted(a)
    print("FAILED:" if failures else "ok:", len(failures), "problems")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
