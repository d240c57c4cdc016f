#!/usr/bin/env python3
"""bench/chart.py on small synthetic results files: the ratios in both directions, the
spread over rounds, pooled runs, bad input (exit 2 and a message), well-formed and
deterministic SVG; and bench_stats' writer produces files the chart accepts. Run by ctest
(bench_chart_test); standard library only."""
import contextlib
import io
import json
import os
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET

sys.dont_write_bytecode = True  # ctest runs this in the source tree: leave no __pycache__ there
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_stats  # noqa: E402
import chart  # noqa: E402

SVG = "{http://www.w3.org/2000/svg}"


def results(rows, name="demo", **extra):
    return {"format": chart.FORMAT, "name": name, "title": f"Demo {name}", "machine": "test machine, 2 CPUs",
            "date": "2026-12-01 10:00 UTC", "commit": "abc123", "notes": ["a note"], "rows": rows, **extra}


def row(mine, peers, better="lower", name="spawn + join", unit="ns"):
    return {"row": name, "metric": "time", "unit": unit, "better": better,
            "subject": {"name": "ringo", "rounds": mine},
            "peers": [{"name": n, "rounds": r} for n, r in peers.items()]}


class ChartTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)

    def write(self, doc, name="r.json"):
        path = os.path.join(self.dir.name, name)
        with open(path, "w") as f:
            f.write(doc if isinstance(doc, str) else json.dumps(doc))
        return path

    def run_chart(self, *paths):
        """(exit code, SVG text or None, standard error)."""
        out = os.path.join(self.dir.name, "out.svg")
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            code = chart.main(["-o", out, *paths])
        if not os.path.exists(out):
            return code, None, err.getvalue()
        with open(out) as f:
            return code, f.read(), err.getvalue()

    def texts(self, svg):
        return [t.text for t in ET.fromstring(svg).iter(SVG + "text")]

    def test_lower_is_better_ratio_is_peer_over_ringo(self):
        self.assertEqual(chart.ratios("lower", [10, 20], [30, 50]), [3.0, 2.5])

    def test_higher_is_better_ratio_is_ringo_over_peer(self):
        self.assertEqual(chart.ratios("higher", [300, 100], [100, 200]), [3.0, 0.5])

    def test_ratios_pair_rounds_and_skip_gaps(self):
        self.assertEqual(chart.ratios("lower", [10, None, 10], [20, 40, None]), [2.0])

    def test_bar_shows_median_and_spread_of_per_round_ratios(self):
        code, svg, err = self.run_chart(self.write(results([
            row([10, 20, 10], {"Go": [30, 50, 40]}),  # per round 3.0, 2.5, 4.0
            row([300, 100], {"raw": [100, 200]}, better="higher", name="echo", unit="req/s")])))
        self.assertEqual((code, err), (0, ""))
        texts = self.texts(svg)
        self.assertIn("3.00x (2.50-4.00x over 3 rounds)", texts)
        self.assertIn("1.75x (0.50-3.00x over 2 rounds)", texts)
        self.assertIn("vs Go 40 ns", texts)  # the peer's median, with the unit
        self.assertTrue(any("lower is better" in t for t in texts))
        self.assertTrue(any("higher is better" in t for t in texts))

    def test_one_round_has_no_whisker(self):
        code, svg, _ = self.run_chart(self.write(results([row([10], {"Go": [50]})])))
        self.assertEqual(code, 0)
        self.assertIn("5.00x (1 round)", self.texts(svg))
        self.assertEqual(list(ET.fromstring(svg).iter(SVG + "path")), [])

    def test_header_carries_title_machine_date_commit_and_target(self):
        doc = results([row([10, 10], {"Go": [60, 70]})])
        doc["rows"][0]["peers"][0]["target"] = 6
        code, svg, _ = self.run_chart(self.write(doc))
        self.assertEqual(code, 0)
        texts = self.texts(svg)
        self.assertIn("Demo demo", texts)
        self.assertIn("test machine, 2 CPUs", texts)
        self.assertIn("2026-12-01 10:00 UTC, commit abc123", texts)
        self.assertIn("6.50x (6.00-7.00x over 2 rounds), target 6x", texts)
        self.assertEqual(ET.fromstring(svg).find(SVG + "title").text, "Demo demo")

    def test_runs_of_one_script_pool_their_rounds(self):
        a = self.write(results([row([10], {"Go": [20], "Fiber": [30]})]), "a.json")
        b = self.write(results([row([10, 10], {"Go": [40, 30]})], date="2026-12-02 10:00 UTC"), "b.json")
        code, svg, _ = self.run_chart(a, b)
        self.assertEqual(code, 0)
        texts = self.texts(svg)
        self.assertIn("3.00x (2.00-4.00x over 3 rounds)", texts)  # Go: 2, 4, 3
        self.assertIn("3.00x (1 round)", texts)  # Fiber, padded for b's rounds
        self.assertIn("2026-12-01 10:00 UTC to 2026-12-02 10:00 UTC (2 runs), commit abc123", texts)

    def test_different_scripts_become_sections(self):
        a = self.write(results([row([10], {"Go": [20]})], name="one"), "a.json")
        b = self.write(results([row([10], {"Go": [20]})], name="two"), "b.json")
        code, svg, _ = self.run_chart(a, b)
        self.assertEqual(code, 0)
        self.assertTrue({"Demo one", "Demo two"} <= set(self.texts(svg)))

    def test_output_is_well_formed_self_contained_and_deterministic(self):
        path = self.write(results([row([10, 12], {"Go <&> \"1\"": [30, 31]})]))
        code, first, _ = self.run_chart(path)
        self.assertEqual(code, 0)
        root = ET.fromstring(first)
        self.assertEqual(root.tag, SVG + "svg")
        for needle in ("href", "<script", "@import", "url("):
            self.assertNotIn(needle, first)
        self.assertEqual(json.loads(root.find(SVG + "metadata").text)[0]["rows"][0]["peers"][0]["name"], 'Go <&> "1"')
        self.assertEqual(self.run_chart(path)[1], first)

    def assert_rejected(self, doc, *words):
        """doc: a results object or text to write, or the path of a file that is not there."""
        path = doc if isinstance(doc, str) and doc.startswith(self.dir.name) else self.write(doc)
        code, svg, err = self.run_chart(path)
        self.assertEqual(code, 2)
        self.assertIsNone(svg, "no chart is written from bad input")
        for w in (path, *words):
            self.assertIn(w, err)

    def test_missing_file(self):
        self.assert_rejected(os.path.join(self.dir.name, "absent.json"), "cannot read")

    def test_malformed_json(self):
        self.assert_rejected('{"format": ', "not JSON")

    def test_wrong_format(self):
        self.assert_rejected(results([row([1], {"Go": [2]})], format="something else"), "'format'")

    def test_peer_with_no_rounds(self):
        self.assert_rejected(results([row([10], {"Go": []})]), "peer 'Go'", "no rounds")
        self.assert_rejected(results([row([10], {"Go": [None]})]), "peer 'Go'", "no rounds with a value")

    def test_zero_or_negative_values(self):
        self.assert_rejected(results([row([10, 0], {"Go": [1, 2]})]), "subject 'ringo'", "round 2", "not positive")
        self.assert_rejected(results([row([10], {"Go": [-3]})]), "peer 'Go'", "round 1", "not positive")
        self.assert_rejected(results([row([10], {"Go": ["fast"]})]), "not a number")

    def test_rounds_that_do_not_pair(self):
        self.assert_rejected(results([row([10, 11], {"Go": [20]})]), "1 rounds, the subject has 2")
        self.assert_rejected(results([row([10, None], {"Go": [None, 20]})]), "no round in which both")

    def test_names_twice(self):
        self.assert_rejected(results([{**row([10], {"Go": [20]}), "peers": [{"name": "Go", "rounds": [20]}] * 2}]),
                             "named twice")
        self.assert_rejected(results([row([10], {"Go": [20]})] * 2), "rows[1]", "twice")

    def test_bad_direction_and_missing_fields(self):
        self.assert_rejected(results([row([10], {"Go": [20]}, better="faster")]), "'better'")
        self.assert_rejected(results([]), "no rows")
        doc = results([row([10], {"Go": [20]})])
        del doc["commit"]
        self.assert_rejected(doc, "'commit'")

    def test_values_are_formatted_with_their_unit(self):
        self.assertEqual(chart.fmt_value(71800, "ns"), "71.8 µs")
        self.assertEqual(chart.fmt_value(308000, "req/s"), "308 k req/s")
        self.assertEqual(chart.fmt_value(2700, "bytes"), "2,700 bytes")
        self.assertEqual(chart.fmt_value(1.97, "x"), "1.97x")

    def test_writer_output_is_accepted(self):
        path = os.path.join(self.dir.name, "w.json")
        rows = [bench_stats.comparison("echo", "throughput", "req/s", "higher", ("ringo", [300, 0, 310]),
                                       [("Go", [200, 210, None], 1.35), ("hung", [None, None, None])]),
                bench_stats.comparison("none", "time", "ns", "lower", ("ringo", [None]), [("Go", [1])])]
        bench_stats.write_results(path, "echo", "Echo", rows, ["note"])
        doc = chart.load(path)
        self.assertEqual(len(doc["rows"]), 1, "a row without ringo's values is left out")
        r = doc["rows"][0]
        self.assertEqual(r["subject"]["rounds"], [300, None, 310], "a failed run (0) is a missing round")
        self.assertEqual([p["name"] for p in r["peers"]], ["Go"], "a peer that never ran is left out")
        self.assertEqual(r["peers"][0]["target"], 1.35)
        self.assertEqual(self.run_chart(path)[0], 0)

    def test_by_round_keeps_gaps(self):
        self.assertEqual(bench_stats.by_round([1, 3], [5.0, 7.0], 3), [5.0, None, 7.0])


if __name__ == "__main__":
    unittest.main()
