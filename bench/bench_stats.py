"""What the bench/*.sh scripts share: Google Benchmark JSON gathered over interleaved
rounds, and medians with their spread. On a shared 2-core VM one run is an anecdote; the
scripts run each comparison in rounds (A B C, A B C, ...) and report the median and the
range, and ratios are taken within a round, where both sides saw the same machine."""
import json
import statistics


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
