#!/usr/bin/env python3
"""Draws bench/*.sh results files (bench_stats.write_results) as one self-contained SVG:
for each benchmark row, how many times better ringo is than each peer, round by round.

usage: bench/chart.py [-o OUT.svg] RESULTS.json [RESULTS.json ...]

A ratio is taken within each round, where both sides saw the same machine: peer / ringo
where lower is better (time, latency, bytes), ringo / peer where higher is better
(throughput), so above 1 always means ringo is ahead. The bar is the median of a peer's
per-round ratios; the whisker and dots are every round's ratio, min to max. Files with the
same name (runs of one script) are pooled, their rounds concatenated; different names
become sections of one chart. The output depends only on the input: no clock, no fonts or
scripts from outside, and the input itself rides along in <metadata>.

Exit 0 when written, 2 on a usage error or bad input (the message names file and row)."""
import argparse
import json
import math
import statistics
import sys
import textwrap
from xml.sax.saxutils import escape

FORMAT = "ringo-bench-results/1"  # bench_stats.RESULTS_FORMAT

# Layout, in px. Text widths are estimated (no font metrics without a renderer): 12 px
# sans-serif averages under 7 px a character, so columns sized by CHAR never clip.
CHAR, MARGIN, PLOT_W, LINE, BAR_STEP, BAR_H = 7, 16, 380, 18, 20, 12
AHEAD, BEHIND = "#1f77b4", "#ff7f0e"  # blue / orange: apart for colour-blind readers too


class BadInput(Exception):
    pass


def _need(cond, where, what):
    if not cond:
        raise BadInput(f"{where}: {what}")


def _text(d, key, where):
    _need(isinstance(d.get(key), str) and d[key].strip(), where, f"'{key}' must be a non-empty string")
    return d[key]


def _rounds(values, where):
    _need(isinstance(values, list) and values, where, "no rounds")
    for i, v in enumerate(values, 1):
        if v is None:
            continue  # that round has no value (the server or peer did not run)
        _need(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v), where,
              f"round {i}: {v!r} is not a number")
        _need(v > 0, where, f"round {i}: {v!r} is not positive (a ratio needs values above zero)")
    _need(any(v is not None for v in values), where, "no rounds with a value")
    return values


def _row(row, where):
    _need(isinstance(row, dict), where, "a row must be an object")
    where = f"{where} ({row.get('row')!r})"
    for key in ("row", "metric", "unit"):
        _text(row, key, where)
    _need(row.get("better") in ("lower", "higher"), where, "'better' must be \"lower\" or \"higher\"")
    subject = row.get("subject")
    _need(isinstance(subject, dict), where, "'subject' must be an object with 'name' and 'rounds'")
    _text(subject, "name", where + " subject")
    mine = _rounds(subject.get("rounds"), f"{where} subject {subject['name']!r}")
    _need(isinstance(row.get("peers"), list) and row["peers"], where, "no peers")
    seen = set()
    for p in row["peers"]:
        _need(isinstance(p, dict), where, "a peer must be an object with 'name' and 'rounds'")
        pw = f"{where} peer {_text(p, 'name', where + ' peer')!r}"
        _need(p["name"] not in seen, pw, "named twice in the row")
        seen.add(p["name"])
        theirs = _rounds(p.get("rounds"), pw)
        _need(len(theirs) == len(mine), pw, f"{len(theirs)} rounds, the subject has {len(mine)}")
        _need(any(a is not None and b is not None for a, b in zip(mine, theirs)), pw,
              "no round in which both it and the subject have a value")
        t = p.get("target")
        _need(t is None or (isinstance(t, (int, float)) and not isinstance(t, bool) and 0 < t < math.inf),
              pw, "'target' must be a positive number")


def load(path):
    """One results file, checked: BadInput names the file and what is wrong."""
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except OSError as e:
        raise BadInput(f"{path}: cannot read: {e.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise BadInput(f"{path}: not JSON: {e}") from None
    _need(isinstance(doc, dict), path, "not a results object")
    _need(doc.get("format") == FORMAT, path, f"'format' is {doc.get('format')!r}, expected {FORMAT!r}")
    for key in ("name", "title", "machine", "date", "commit"):
        _text(doc, key, path)
    notes = doc.get("notes", [])
    _need(isinstance(notes, list) and all(isinstance(n, str) for n in notes), path, "'notes' must be strings")
    _need(isinstance(doc.get("rows"), list) and doc["rows"], path, "no rows")
    seen = set()
    for i, row in enumerate(doc["rows"]):
        _row(row, f"{path}: rows[{i}]")
        key = row_key(row)
        _need(key not in seen, f"{path}: rows[{i}] ({row['row']!r})", "the same row, metric and subject twice")
        seen.add(key)
    return doc


def row_key(row):
    """What makes rows of pooled runs one row."""
    return (row["row"], row["metric"], row["unit"], row["better"], row["subject"]["name"])


def merge(docs):
    """Sections by name, in first-seen order; a row seen in several files (same row, metric,
    unit, direction and subject) gets their rounds one after another, a peer missing from
    a file padded with None for that file's rounds."""
    sections = {}
    for doc in docs:
        s = sections.setdefault(doc["name"], {"title": doc["title"], "docs": [], "notes": [], "rows": {}})
        s["docs"].append(doc)
        s["notes"] += [n for n in doc.get("notes", []) if n not in s["notes"]]
        for row in doc["rows"]:
            m = s["rows"].setdefault(row_key(row), {**{k: row[k] for k in ("row", "metric", "unit", "better")},
                                           "subject": row["subject"]["name"], "mine": [], "peers": {}})
            start = len(m["mine"])
            m["mine"] += row["subject"]["rounds"]
            for p in row["peers"]:
                q = m["peers"].setdefault(p["name"], {"rounds": [], "target": p.get("target")})
                q["rounds"] += [None] * (start - len(q["rounds"])) + p["rounds"]
    for s in sections.values():
        for m in s["rows"].values():
            for q in m["peers"].values():
                q["rounds"] += [None] * (len(m["mine"]) - len(q["rounds"]))
    return sections


def ratios(better, mine, theirs):
    """ringo's advantage in each round both sides have: above 1, ringo is ahead."""
    pairs = [(a, b) for a, b in zip(mine, theirs) if a is not None and b is not None]
    return [b / a if better == "lower" else a / b for a, b in pairs]


def fmt_ratio(r):
    return f"{r:.2g}x" if r < 0.1 else f"{r:.2f}x" if r < 10 else f"{r:.1f}x" if r < 100 else f"{r:.0f}x"


TIME_LADDER = ("ns", "µs", "ms", "s")


def fmt_value(v, unit):
    """3 significant digits; times climb ns -> µs -> ms -> s, other units take k and M; a
    factor (unit x) sticks to its number."""
    if unit in TIME_LADDER:
        i = TIME_LADDER.index(unit)
        while v >= 1000 and i + 1 < len(TIME_LADDER):
            v, i = v / 1000, i + 1
        unit = TIME_LADDER[i]
    suffix = ""
    if unit not in TIME_LADDER and v >= 1e4:
        v, suffix = (v / 1e6, " M") if v >= 1e6 else (v / 1e3, " k")
    text = f"{v:,.0f}" if v >= 1000 else f"{v:.3g}"
    return f"{text}{suffix}{'' if unit == 'x' else ' '}{unit}"


def scale(values):
    """Log-scale domain on the 1-2-5 ladder around every ratio and target, 1x included."""
    lo, hi = min(values + [1.0]) / 1.1, max(values + [1.0]) * 1.1
    first, last = math.floor(math.log10(lo)) - 1, math.ceil(math.log10(hi)) + 1
    ladder = [m * 10.0 ** e for e in range(first, last + 1) for m in (1, 2, 5)]
    lo = min(max(x for x in ladder if x <= lo), 0.5)
    hi = max(min(x for x in ladder if x >= hi), 2.0)
    ticks = [x for x in ladder if lo * 0.999 <= x <= hi * 1.001]
    if len(ticks) > 9:  # too crowded: decades only, plus the ends
        ticks = sorted({lo, hi, *(x for x in ticks if abs(math.log10(x) - round(math.log10(x))) < 1e-9)})
    return lo, hi, ticks


def _svg_text(x, y, s, size=12, weight=None, fill="#222", anchor=None):
    extra = (f' font-weight="{weight}"' if weight else "") + (f' text-anchor="{anchor}"' if anchor else "")
    return f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" fill="{fill}"{extra}>{escape(s)}</text>'


def _bars(section):
    """Per row: its header text and, per peer, (label, ratios, target, hover text)."""
    out = []
    for m in section["rows"].values():
        mine = [v for v in m["mine"] if v is not None]
        header = (f"{m['row']}: {m['metric']}, {m['better']} is better. "
                  f"{m['subject']} {fmt_value(statistics.median(mine), m['unit'])}"
                  + (f" (median of {len(mine)})" if len(mine) > 1 else ""))
        bars = []
        for name, q in m["peers"].items():
            theirs = [v for v in q["rounds"] if v is not None]
            r = ratios(m["better"], m["mine"], q["rounds"])
            label = f"vs {name} {fmt_value(statistics.median(theirs), m['unit'])}"
            hover = f"{m['subject']} vs {name}, per round: " + ", ".join(fmt_ratio(x) for x in r)
            bars.append((label, r, q["target"], hover))
        out.append((header, bars))
    return out


def _short(ratio):
    """6.00x -> 6x, 10.0x -> 10x: a target is a round figure."""
    return ratio.replace(".00x", "x").replace(".0x", "x")


def _value_text(r, target):
    spread = f"{fmt_ratio(min(r))[:-1]}-{fmt_ratio(max(r))} over {len(r)} rounds" if len(r) > 1 else "1 round"
    return f"{fmt_ratio(statistics.median(r))} ({spread})" + (f", target {_short(fmt_ratio(target))}" if target else "")


LEGEND = ("Each bar: how many times better ringo is than the peer, the median of the ratios taken round by round "
          "(peer / ringo where lower is better, ringo / peer where higher is better). Whisker and dots: each "
          "round's ratio, min to max. Right of 1x: ringo ahead; left: the peer ahead. Log scale.")


def render(sections, docs):
    laid = [(s, _bars(s)) for s in sections.values()]
    targets = [t for _, rows in laid for _, bars in rows for _, _, t, _ in bars if t]
    lo, hi, ticks = scale([x for _, rows in laid for _, bars in rows for _, r, _, _ in bars for x in r] + targets)
    legend = LEGEND + (" Red dash: the target." if targets else "")
    labels = [b[0] for _, rows in laid for _, bars in rows for b in bars]
    values = [_value_text(r, t) for _, rows in laid for _, bars in rows for _, r, t, _ in bars]
    label_w = CHAR * max(map(len, labels)) + 2 * MARGIN
    value_w = CHAR * max(map(len, values)) + MARGIN
    headers = [h for _, rows in laid for h, _ in rows] + [s["title"] for s in sections.values()]
    width = max(MARGIN + label_w + PLOT_W + value_w, 2 * MARGIN + CHAR * max(map(len, headers)))
    wrap = (width - 2 * MARGIN) // CHAR
    x0 = MARGIN + label_w

    def x(r):
        return x0 + PLOT_W * (math.log10(r) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))

    def axis(y):
        return [_svg_text(x(t), y, f"{t:g}x", size=11, fill="#444", anchor="middle") for t in ticks]

    body, y = [], 0
    for i, (s, rows) in enumerate(laid):
        y += LINE * 2
        body.append(_svg_text(MARGIN, y, s["title"], size=15, weight="bold"))
        for line in _meta(s["docs"]) + s["notes"]:
            for part in textwrap.wrap(line, wrap):
                y += LINE
                body.append(_svg_text(MARGIN, y, part, fill="#555"))
        for line in textwrap.wrap(legend, wrap) if i == 0 else []:  # once, under the first heading
            y += LINE
            body.append(_svg_text(MARGIN, y, line, fill="#222"))
        y += LINE * 1.5
        body += axis(y)
        for header, bars in rows:
            y += LINE + 8
            body.append(_svg_text(MARGIN, y, header, weight="bold"))
            y += 6
            body.append(_band(x, x0, y, len(bars) * BAR_STEP, ticks))
            for label, r, target, hover in bars:
                body.append(_bar(x, y + (BAR_STEP - BAR_H) / 2, label, r, target, hover, x0))
                y += BAR_STEP
        y += LINE
        body += axis(y)
        y += LINE
        body.append(_svg_text(x0, y, "< the peer ahead", size=11, fill=BEHIND))
        body.append(_svg_text(x0 + PLOT_W, y, "ringo ahead >", size=11, fill=AHEAD, anchor="end"))
    height = y + MARGIN
    title = "; ".join(s["title"] for s in sections.values())
    data = json.dumps(docs, ensure_ascii=False, separators=(",", ":"))
    return "\n".join([
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="DejaVu Sans, Arial, Helvetica, sans-serif">',
        f"<title>{escape(title)}</title>",
        f'<metadata id="ringo-bench-results">{escape(data)}</metadata>',
        # Opaque: a transparent chart is unreadable on a dark page.
        f'<rect width="{width:.0f}" height="{height:.0f}" fill="#fff"/>',
        *body, "</svg>", ""])


def _meta(docs):
    """Machine, date and commit; pooled runs give each distinct value once, dates as a span."""
    def distinct(key):
        return list(dict.fromkeys(d[key] for d in docs))
    dates = distinct("date")
    when = dates[0] if len(dates) == 1 else f"{dates[0]} to {dates[-1]}"
    when += f" ({len(docs)} runs)" if len(docs) > 1 else ""
    return [" / ".join(distinct("machine")), f"{when}, commit {', '.join(distinct('commit'))}"]


def _band(x, x0, top, h, ticks):
    """Behind one row's bars: the two sides of 1x tinted, and the grid."""
    parts = [f'<rect x="{x0:.1f}" y="{top:.1f}" width="{x(1) - x0:.1f}" height="{h}" fill="#fff1e3"/>',
             f'<rect x="{x(1):.1f}" y="{top:.1f}" width="{x0 + PLOT_W - x(1):.1f}" height="{h}" fill="#e8f1fa"/>']
    for t in ticks:
        stroke = 'stroke="#333" stroke-width="1.5"' if t == 1 else 'stroke="#ccc"'
        parts.append(f'<line x1="{x(t):.1f}" y1="{top:.1f}" x2="{x(t):.1f}" y2="{top + h:.1f}" {stroke}/>')
    return "".join(parts)


def _bar(x, y, label, r, target, hover, x0):
    """One peer: label, bar from 1x to the median, whisker min-max, a dot per round."""
    med, mid = statistics.median(r), y + BAR_H / 2
    left, right = sorted((x(1), x(med)))
    parts = [f"<g><title>{escape(hover)}</title>",
             _svg_text(x0 - MARGIN, mid + 4, label, anchor="end"),
             f'<rect x="{left:.1f}" y="{y:.1f}" width="{max(right - left, 1):.1f}" height="{BAR_H}" '
             f'fill="{AHEAD if med >= 1 else BEHIND}"/>']
    if len(r) > 1:
        a, b = x(min(r)), x(max(r))
        parts.append(f'<path d="M{a:.1f} {mid:.1f}H{b:.1f}M{a:.1f} {y + 2:.1f}V{y + BAR_H - 2:.1f}'
                     f'M{b:.1f} {y + 2:.1f}V{y + BAR_H - 2:.1f}" stroke="#222" fill="none"/>')
    parts += [f'<circle cx="{x(v):.1f}" cy="{mid:.1f}" r="2.5" fill="#222" fill-opacity="0.6"/>' for v in r]
    if target:
        parts.append(f'<line x1="{x(target):.1f}" y1="{y - 3:.1f}" x2="{x(target):.1f}" y2="{y + BAR_H + 3:.1f}" '
                     'stroke="#d00000" stroke-width="2" stroke-dasharray="3 2"/>')
    parts.append(_svg_text(x0 + PLOT_W + 8, mid + 4, _value_text(r, target)))
    return "".join(parts) + "</g>"


def main(argv=None):
    ap = argparse.ArgumentParser(prog="chart.py", description="Draw bench results files as one SVG.")
    ap.add_argument("-o", "--output", help="the SVG to write (default: standard output)")
    ap.add_argument("results", nargs="+", help="results files written by bench/*.sh")
    args = ap.parse_args(argv)
    try:
        docs = [load(p) for p in args.results]
        svg = render(merge(docs), docs)  # all of it, before a file is opened: no half-written chart
    except BadInput as e:
        print(f"chart.py: {e}", file=sys.stderr)
        return 2
    if not args.output:
        sys.stdout.write(svg)
        return 0
    try:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(svg)
    except OSError as e:
        print(f"chart.py: {args.output}: cannot write: {e.strerror}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
