"""What the bench/*.sh scripts share: Google Benchmark JSON gathered over interleaved
rounds, and medians with their spread. On a shared 2-core VM one run is an anecdote; the
scripts run each comparison in rounds (A B C, A B C, ...) and report the median and the
range, and ratios are taken within a round, where both sides saw the same machine. Each
script also writes its comparisons, every round's value, to a results file (comparison,
write_results) that bench/chart.py draws."""
import datetime
import json
import os
import statistics
import subprocess


def ns(b):
    scale = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}[b["time_unit"]]
    return b["real_time"] * scale


def load_rounds(paths):
    """Benchmark name (without /real_time) -> [ns per round]; and name -> skip reason."""
    times, skipped = {}, {}
    for path in paths:
        with open(path) as f:
            for b in json.load(f)["benchmarks"]:
                name = b["name"].removesuffix("/real_time")
                if b.get("error_occurred") or b.get("skipped"):
                    skipped[name] = b.get("error_message") or b.get("skip_message") or "skipped"
                    continue
                times.setdefault(name, []).append(ns(b))
    return times, skipped


def med(xs):
    return statistics.median(xs)


def spread(xs, digits=0):
    """'median (min-max, n rounds)', or the one value when there was one round."""
    f = f"{{:.{digits}f}}"
    if len(xs) == 1:
        return f.format(xs[0])
    return f"{f.format(med(xs))} ({f.format(min(xs))}-{f.format(max(xs))}, {len(xs)} rounds)"


def ratios(a, b):
    """a[i] / b[i] for each round both sides have."""
    return [x / y for x, y in zip(a, b) if y]


# The results file every bench/*.sh writes next to its printed summary, and bench/chart.py
# draws (docs/benchmarks.md, "Results files"): one row per comparison, every round's value.
RESULTS_FORMAT = "ringo-bench-results/1"


def by_round(rounds, values, n):
    """Values tagged with their round numbers (1..n) -> one slot per round, None where that
    round has none, so that a round a server missed does not shift the later ones."""
    slots = [None] * n
    for r, v in zip(rounds, values):
        slots[r - 1] = v
    return slots


def comparison(row, metric, unit, better, subject, peers):
    """One row of a results file. subject: (name, [value per round]); peers: a list of
    (name, [value per round]) or (name, [value per round], target), the target being the
    ratio ringo should reach, in the chart's terms (how many times better than the peer).
    A missing round is None; a value that is not positive (a failed run) counts as one."""
    def clean(values):
        return [v if v is not None and v > 0 else None for v in values]
    s = clean(subject[1])
    out = {"row": row, "metric": metric, "unit": unit, "better": better,
           "subject": {"name": subject[0], "rounds": s}, "peers": []}
    for name, values, *target in peers:
        p = clean(values)
        if len(p) != len(s) or not any(a is not None and b is not None for a, b in zip(s, p)):
            continue  # did not run in a round ringo ran (a hung peer, a skipped row)
        out["peers"].append({"name": name, "rounds": p, **({"target": target[0]} if target else {})})
    return out


def _machine():
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    u = os.uname()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{u.sysname} {u.release} {u.machine}, {os.cpu_count()} CPUs ({cpu}), load average {load} at the end"


def _commit():
    """HEAD, marked +dirty when tracked files differ; the charts themselves do not count,
    since make bench rewrites them between its scripts."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                                ":!docs/img/bench"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def write_results(path, name, title, rows, notes=()):
    """Writes the results file: the rows that kept ringo and at least one peer."""
    rows = [r for r in rows if r["peers"] and any(v is not None for v in r["subject"]["rounds"])]
    doc = {"format": RESULTS_FORMAT, "name": name, "title": title, "machine": _machine(),
           "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
           "commit": _commit(), "notes": list(notes), "rows": []}
    head = json.dumps(doc, indent=1, ensure_ascii=False).removesuffix("[]\n}")
    with open(path, "w") as f:  # a row a line: readable, and diffs between runs stay small
        f.write(head + "[\n" + ",\n".join("  " + json.dumps(r, ensure_ascii=False) for r in rows) + "\n ]\n}\n")
