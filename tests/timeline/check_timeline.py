#!/usr/bin/env python3
"""The offline timeline page (ringo-sim --trace-format html) in a real headless browser.

For a failing catalogue scenario, a passing one and a probe whose texts are hostile HTML,
writes the page and the same run's JSON-lines trace, loads the page in Debian's chromium
(--headless --dump-dom) and checks what the browser made of it:
  - the page's script ran to its end without an error (it records every error into
    #timeline-status and sets data-rendered="yes" only when it drew without one);
  - one lane per shard, routine and the simulated kernel that the trace has, read from the
    JSON-lines trace, not counted by hand;
  - the failure marker carries the run's failure text on a failing run, and is absent on a
    passing one;
  - the probe's description and failure text show as text: none of their markup became an
    element, none of their script ran;
  - outside the embedded data, the page names nothing to load (no src, href, url(), http).
Chromium missing is a failure, not a skip: scripts/setup-deps.sh installs it.

usage: check_timeline.py --ringo-sim PATH --probe PATH [--chromium PATH] [--keep DIR]
"""
import argparse
import html.parser
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROUTINE_KINDS = {"spawn", "resume", "finish", "select_choice"}
SEQ_SHIFT = 48


class Dom(html.parser.HTMLParser):
    """The dumped DOM: attributes by element id, the data-lane elements, the text inside
    each element with an id, and every tag name seen."""

    VOID = {"meta", "br", "img", "input", "hr", "link", "source", "wbr", "area", "base", "col", "embed", "track"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.by_id, self.text, self.lanes, self.tags = {}, {}, [], []
        self.stack = []  # ids of the open elements that have one (or None)
        self.root_attrs = {}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "html":
            self.root_attrs = a
        if "data-lane" in a:
            self.lanes.append(a["data-lane"])
        if "id" in a:
            self.by_id[a["id"]] = a
            self.text.setdefault(a["id"], "")
        if tag not in self.VOID:
            self.stack.append(a.get("id"))

    def handle_endtag(self, tag):
        if tag not in self.VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data):
        for i in self.stack:
            if i is not None:
                self.text[i] += data


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def run_sim(binary, args, want_status):
    r = subprocess.run([binary] + args, capture_output=True, text=True, timeout=120)
    if r.returncode != want_status:
        fail(f"{' '.join(args)}: exit {r.returncode}, want {want_status}\n{r.stdout}{r.stderr}")
    return r.stdout


def expected_lanes(jsonl_path):
    lanes, count = set(), 0
    with open(jsonl_path) as f:
        for line in f:
            e = json.loads(line)
            count += 1
            if e["kind"] in ROUTINE_KINDS:
                lanes.add(f"routine:{e['a']}")
                lanes.add(f"shard:{e['a'] >> SEQ_SHIFT}")
            elif e["shard"] < 0:
                lanes.add("kernel")
            else:
                lanes.add(f"shard:{e['shard']}")
    return lanes, count


def load(chromium, page, profile):
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}",
           "--dump-dom", "file://" + os.path.abspath(page)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=90)
    if r.returncode != 0 or "<html" not in r.stdout:
        fail(f"chromium could not load {page}: exit {r.returncode}\n{r.stderr[-2000:]}")
    dom = Dom()
    dom.feed(r.stdout)
    return dom


def check_static(page):
    text = open(page, encoding="utf-8").read()
    start = text.index('<script type="application/json" id="ringo-trace">')
    end = text.index("</script>", start)
    data, rest = text[start:end], text[:start] + text[end:]
    if "<" in data[len('<script type="application/json" id="ringo-trace">'):]:
        fail(f"{page}: a raw '<' inside the embedded data")
    for bad in ("src=", "href=", "url(", "@import", "http:", "https:", "<link", "<iframe"):
        if bad in rest:
            fail(f"{page}: names something to load outside its data: {bad!r}")


def check_page(name, chromium, page, jsonl, why, tmp):
    check_static(page)
    dom = load(chromium, page, os.path.join(tmp, "profile-" + name))
    status = dom.by_id.get("timeline-status")
    if status is None:
        fail(f"{name}: no #timeline-status in the DOM")
    if status.get("data-errors") != "0":
        fail(f"{name}: the page's script recorded errors: {status.get('data-error-text')}")
    if status.get("data-rendered") != "yes":
        fail(f"{name}: the page never said it rendered (data-rendered={status.get('data-rendered')!r})")
    want, count = expected_lanes(jsonl)
    if status.get("data-events") != str(count):
        fail(f"{name}: the page drew {status.get('data-events')} events, the trace has {count}")
    got = set(dom.lanes)
    if len(dom.lanes) != len(got) or got != want:
        fail(f"{name}: lanes differ from the trace's shards and routines:\n"
             f"  missing {sorted(want - got)}\n  extra {sorted(got - want)}\n  duplicated: {len(dom.lanes) != len(got)}")
    marker = dom.by_id.get("failure-marker")
    verdict = dom.text.get("verdict", "")
    if why is None:
        if marker is not None or verdict != "passed":
            fail(f"{name}: a passing run shows a failure (marker {marker is not None}, verdict {verdict!r})")
    else:
        if marker is None or verdict != "FAILED":
            fail(f"{name}: a failing run without its failure marker (verdict {verdict!r})")
        if why not in dom.text["failure-marker"]:
            fail(f"{name}: the failure marker says {dom.text['failure-marker']!r}, not the failure {why!r}")
    print(f"ok: {name}: rendered without errors, {len(got)} lanes as in the trace ({count} events), "
          f"failure marker {'present' if why else 'absent'}")
    return dom


def failure_text(stdout):
    """The failure line ringo-sim prints under FAILED (the first line of the reason)."""
    lines = stdout.split("\n")  # not splitlines(): a failure text may hold U+2028/U+2029
    for i, line in enumerate(lines):
        if " FAILED: " in line:
            return lines[i + 1].strip()
    fail("ringo-sim printed no FAILED line:\n" + stdout)


def scenario(binary, name, seed, want_status, tmp, keep):
    base = os.path.join(tmp, f"{name}-{seed}")
    args = ["run", "--scenario", name, "--seed", str(seed)]
    run_sim(binary, args + ["--trace", base + ".jsonl", "--trace-format", "jsonl"], want_status)
    out = run_sim(binary, args + ["--trace", base + ".html", "--trace-format", "html"], want_status)
    if keep:
        shutil.copy(base + ".html", keep)
    return base + ".html", base + ".jsonl", failure_text(out) if want_status == 1 else None


def replay_pages(binary, failure, base, keep):
    """The replay of a failure file as a JSON-lines trace and as a page."""
    run_sim(binary, ["replay", failure, "--trace", base + ".jsonl", "--trace-format", "jsonl"], 1)
    out = run_sim(binary, ["replay", failure, "--trace", base + ".html", "--trace-format", "html"], 1)
    if keep:
        shutil.copy(base + ".html", keep)
    return base + ".html", base + ".jsonl", failure_text(out)


def check_shrunk(binary, chromium, tmp, keep):
    """A failure found with heavy faults, before and after `ringo-sim shrink`: both pages
    render, show the same failure, and the shrunk one has fewer events and no fault."""
    name = "request_after_shutdown"
    run_sim(binary, ["explore", "--scenario", name, "--seeds", "1..300", "--faults", "heavy", "--buggify", "20000",
                     "--stop-after", "1", "--save", tmp], 1)
    found = sorted(f for f in os.listdir(tmp) if f.startswith(name) and f.endswith(".failure"))
    if not found:
        fail(f"explore saved no failure of {name}")
    before_file, after_file = os.path.join(tmp, found[0]), os.path.join(tmp, name + "-shrunk.failure")
    run_sim(binary, ["shrink", before_file, "--out", after_file], 0)
    before = replay_pages(binary, before_file, os.path.join(tmp, name + "-before"), keep)
    after = replay_pages(binary, after_file, os.path.join(tmp, name + "-after"), keep)
    if before[2] != after[2]:
        fail(f"shrinking changed the failure: {before[2]!r} -> {after[2]!r}")
    doms = [check_page(f"{name} {label}", chromium, page, jsonl, why, tmp)
            for label, (page, jsonl, why) in (("before shrinking", before), ("after shrinking", after))]
    events = [int(d.by_id["timeline-status"].get("data-events")) for d in doms]
    if not events[1] < events[0]:
        fail(f"the shrunk run is not shorter: {events[0]} -> {events[1]} events")
    if '"kind":"fault"' in open(after[1], encoding="utf-8").read():
        fail("the shrunk run still injects a fault")
    print(f"ok: {name}: {events[0]} events before shrinking, {events[1]} after, the same failure")


def check_probe(dom, why):
    """The probe's hostile texts: shown, not run, not parsed."""
    if "data-injected" in dom.root_attrs:
        fail(f"probe: a script from the trace ran (data-injected={dom.root_attrs['data-injected']!r})")
    if "injected" in dom.by_id or any(tag == "img" for tag, _ in dom.tags):
        fail("probe: markup from the trace became elements")
    if "</script><b id=\"injected\">bold</b><!--" not in dom.text.get("failure-marker", ""):
        fail("probe: the failure text is not shown literally: " + repr(dom.text.get("failure-marker")))
    if "<img src=x onerror=" not in dom.text.get("title", ""):
        fail("probe: the description is not shown literally: " + repr(dom.text.get("title")))
    print("ok: probe: hostile description and failure text shown as text, nothing injected")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--ringo-sim", required=True)
    p.add_argument("--probe", required=True)
    p.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    p.add_argument("--keep", help="copy the generated pages into this directory")
    a = p.parse_args()
    if not (os.path.isfile(a.chromium) and os.access(a.chromium, os.X_OK)):
        fail(f"no chromium at {a.chromium}: scripts/setup-deps.sh installs Debian's chromium package")
    with tempfile.TemporaryDirectory(prefix="ringo-timeline-") as tmp:
        cases = [("lost_wakeup", 1, 1), ("lock_order_deadlock", 2, 1), ("pipeline", 1, 0)]
        for name, seed, status in cases:
            page, jsonl, why = scenario(a.ringo_sim, name, seed, status, tmp, a.keep)
            check_page(f"{name} seed {seed}", a.chromium, page, jsonl, why, tmp)
        page, jsonl, why = scenario(a.probe, "html_probe", 1, 1, tmp, a.keep)
        if not re.search(r"probe </script>", why):
            fail("probe: ringo-sim printed an unexpected failure: " + why)
        check_probe(check_page("html_probe", a.chromium, page, jsonl, why, tmp), why)
        check_shrunk(a.ringo_sim, a.chromium, tmp, a.keep)
    print("timeline pages: 6 passed, 0 failed")


if __name__ == "__main__":
    main()
