#!/usr/bin/env python3
"""Renders a ringo-sim Chrome trace (ringo-sim run ... --trace FILE) as an SVG timeline:
one row per track (shard, kernel, routine), one mark per event, in event order. A quick
look without a browser; Perfetto (ui.perfetto.dev) shows the same file interactively.

usage: trace_svg.py TRACE.json OUT.svg
"""
import json
import os
import sys
from html import escape

COLORS = {"spawn": "#2a9d8f", "resume": "#264653", "finish": "#e76f51", "op_submit": "#8ab17d",
          "op_complete": "#e9c46a", "op_cancel": "#f4a261", "msg_send": "#6d597a", "msg_deliver": "#b56576",
          "timer_fire": "#457b9d", "kernel_step": "#adb5bd", "fault": "#d00000"}


def main(src, dst):
    events = [e for e in json.load(open(src))["traceEvents"] if e.get("ph") == "i"]
    names = {}
    for e in json.load(open(src))["traceEvents"]:
        if e.get("ph") == "M" and e["name"] == "thread_name":
            names[(e["pid"], e["tid"])] = e["args"]["name"]
    tracks = sorted({(e["pid"], e["tid"]) for e in events})
    row = {t: i for i, t in enumerate(tracks)}
    left, top, h, w = 190, 30, 22, 980
    step = (w - left - 20) / max(1, len(events))
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{top + h * len(tracks) + 40}" '
           'font-family="monospace" font-size="11">',
           f'<text x="10" y="18" font-size="13">{escape(os.path.basename(src))}: {len(events)} events, in order '
           f'(virtual time {events[0]["ts"]:.0f}..{events[-1]["ts"]:.0f} us)</text>']
    for t, i in row.items():
        label = ("kernel" if t[0] >= 1000000 else f"shard {t[0]}") + " / " + names.get(t, str(t[1]))
        y = top + i * h
        out.append(f'<rect x="{left}" y="{y}" width="{w - left - 10}" height="{h - 4}" fill="#f1f3f5"/>')
        out.append(f'<text x="8" y="{y + 14}">{escape(label)}</text>')
    for n, e in enumerate(events):
        x = left + 5 + n * step
        y = top + row[(e["pid"], e["tid"])] * h
        color = COLORS.get(e["name"], "#000")
        out.append(f'<rect x="{x:.1f}" y="{y + 2}" width="{max(2.0, step * 0.8):.1f}" height="{h - 8}" '
                   f'fill="{color}"><title>{escape(e["name"])} a={e["args"]["a"]} b={e["args"]["b"]} '
                   f't={e["ts"]}us</title></rect>')
    legend_y = top + h * len(tracks) + 20
    for k, (name, color) in enumerate(COLORS.items()):
        out.append(f'<rect x="{10 + k * 88}" y="{legend_y - 9}" width="10" height="10" fill="{color}"/>'
                   f'<text x="{24 + k * 88}" y="{legend_y}">{name}</text>')
    out.append("</svg>")
    open(dst, "w").write("\n".join(out))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
