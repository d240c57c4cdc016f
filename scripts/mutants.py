#!/usr/bin/env python3
"""Mutation score: applies each planted bug of tools/mutants/catalogue.txt to a scratch
copy of the committed tree (HEAD), builds it (debug preset, ccache), runs the suite
(ctest, stopping at the first failure) and reports which bugs the suite killed.

  scripts/mutants.py [--list] [--only ID[,ID...]] [--keep] [--strict]

Exit status: 0 with a report; 1 with --strict when a mutant survived; 2 for bad usage or
a catalogue entry whose original text is not found exactly once (the catalogue has gone
stale: fix the entry)."""
import argparse
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CATALOGUE = os.path.join(ROOT, "tools", "mutants", "catalogue.txt")
SCRATCH = os.path.join(ROOT, "build", "mutants-tree")


def fail(msg):
    print(f"mutants: {msg}", file=sys.stderr)
    sys.exit(2)


def parse(path):
    entries, cur, part = [], None, None
    for n, line in enumerate(open(path), 1):
        if cur is None:
            if line.startswith("@@ "):
                fields = [f.strip() for f in line[3:].split("|")]
                if len(fields) != 3 or not all(fields):
                    fail(f"{path}:{n}: expected '@@ id | file | what'")
                cur = {"id": fields[0], "file": fields[1], "why": fields[2], "old": [], "new": [], "line": n}
                part = "old"
            elif line.strip() and not line.startswith("#"):
                fail(f"{path}:{n}: text outside an entry")
            continue
        if line.rstrip("\n") == "=>":
            part = "new"
        elif line.rstrip("\n") == "@@end":
            if part != "new" or not cur["old"]:
                fail(f"{path}:{cur['line']}: entry {cur['id']} needs original text, '=>' and a replacement")
            entries.append(cur)
            cur = None
        else:
            cur[part].append(line)
    if cur is not None:
        fail(f"{path}: entry {cur['id']} has no @@end")
    ids = [e["id"] for e in entries]
    if len(set(ids)) != len(ids):
        fail("duplicate ids in the catalogue")
    return entries


def check(entries, tree):
    for e in entries:
        path = os.path.join(tree, e["file"])
        if not os.path.exists(path):
            fail(f"{e['id']}: no file {e['file']}")
        count = open(path).read().count("".join(e["old"]))
        if count != 1:
            fail(f"{e['id']}: original text found {count} times in {e['file']} (catalogue is stale)")


def run(cmd, cwd, log):
    with open(log, "a") as f:
        f.write(f"$ {' '.join(cmd)}\n")
        f.flush()
        return subprocess.run(cmd, cwd=cwd, stdout=f, stderr=subprocess.STDOUT).returncode


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--list", action="store_true", help="list the catalogue and exit")
    ap.add_argument("--only", default="", help="comma-separated ids to run")
    ap.add_argument("--keep", action="store_true", help="keep the scratch tree")
    ap.add_argument("--strict", action="store_true", help="exit 1 if a mutant survives")
    args = ap.parse_args()
    entries = parse(CATALOGUE)
    check(entries, ROOT)
    if args.list:
        for e in entries:
            print(f"{e['id']:40} {e['file']}: {e['why']}")
        return 0
    if args.only:
        wanted = args.only.split(",")
        unknown = [w for w in wanted if w not in {e["id"] for e in entries}]
        if unknown:
            fail(f"unknown ids: {', '.join(unknown)}")
        entries = [e for e in entries if e["id"] in wanted]

    subprocess.run(["git", "worktree", "remove", "--force", SCRATCH], cwd=ROOT, capture_output=True)
    if subprocess.run(["git", "worktree", "add", "--detach", SCRATCH, "HEAD"], cwd=ROOT, capture_output=True).returncode:
        fail("cannot make the scratch worktree")
    check(entries, SCRATCH)  # the committed tree, which is what is mutated
    logdir = os.path.join(ROOT, "build", "mutants-logs")
    os.makedirs(logdir, exist_ok=True)
    env_log = os.path.join(logdir, "configure.log")
    if run(["cmake", "--preset", "debug"], SCRATCH, env_log):
        fail(f"configure failed: {env_log}")
    results = []
    for e in entries:
        log = os.path.join(logdir, f"{e['id']}.log")
        open(log, "w").close()
        path = os.path.join(SCRATCH, e["file"])
        original = open(path).read()
        open(path, "w").write(original.replace("".join(e["old"]), "".join(e["new"]), 1))
        t0 = time.time()
        if run(["cmake", "--build", "--preset", "debug"], SCRATCH, log):
            verdict, by = "stillborn", "does not build"
        # Not mutants_catalogue_is_current: it checks that every entry's original text is
        # in the tree, which a planted bug has just replaced, so it failed under every
        # mutant and "killed" it whenever ctest happened to run it first (its cost data
        # decides the order): a kill by it means nothing.
        elif run(["ctest", "--preset", "debug", "--stop-on-failure", "--timeout", "120", "-E",
                  "^mutants_catalogue_is_current$"], SCRATCH, log):
            verdict = "killed"
            failed = re.findall(r"\d+ - (\S+)[^\n]* \((?:Failed|Timeout|Subprocess aborted|SEGFAULT|Exception)\)",
                                open(log).read())
            by = failed[0] if failed else "a test"
        else:
            verdict, by = "SURVIVED", "no test failed"
        open(path, "w").write(original)
        results.append((e, verdict, by, time.time() - t0))
        print(f"{verdict:9} {e['id']:40} {by}  ({time.time() - t0:.0f} s)", flush=True)
    # Leave the scratch build matching HEAD, so the next run rebuilds only what it mutates.
    run(["cmake", "--build", "--preset", "debug"], SCRATCH, env_log)
    if not args.keep:
        subprocess.run(["git", "worktree", "remove", "--force", SCRATCH], cwd=ROOT, capture_output=True)
    scored = [r for r in results if r[1] != "stillborn"]
    killed = sum(1 for r in scored if r[1] == "killed")
    print(f"\nmutation score: {killed}/{len(scored)} killed"
          + (f", {len(results) - len(scored)} stillborn" if len(scored) != len(results) else ""))
    for e, verdict, _, _ in results:
        if verdict == "SURVIVED":
            print(f"  survived: {e['id']}: {e['why']}")
    return 1 if args.strict and killed != len(scored) else 0


if __name__ == "__main__":
    sys.exit(main())
