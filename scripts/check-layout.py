#!/usr/bin/env python3
"""Checks the include graph the layout promises (docs/architecture.md, Layers and layout):

  1. no include cycle among the repository's own headers and sources;
  2. arrows point down: core includes no other layer; uring, aio and sim include only
     core and themselves; api includes the layers; no layer includes tests/support;
  3. users' code (examples/, and tests/install/: programs built against an installed ringo)
     includes only public headers, never ringo/internal/;
  4. every ringo/... include names a header that exists (a header generated at configure
     time exists as its template, <layer>/include/ringo/<name>.hpp.in);
  5. internal headers (include/ringo/internal/) declare nothing in a public namespace: only
     in ringo::detail, ringo::<x>::detail, or the backends' own ringo::uring / ringo::aio;
  6. users' code (examples/, tests/install/) names no internal namespace (no `detail::`).

Exit 0 when all hold, 1 listing each violation, 2 on a usage error."""
import os
import re
import sys

LAYERS = ("core", "uring", "aio", "sim", "api")
ALLOWED = {
    "core": {"core"},
    "uring": {"core", "uring"},
    "aio": {"core", "aio"},
    "sim": {"core", "sim"},
    "api": {"core", "uring", "aio", "sim", "api"},
}
INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]', re.M)
NAMESPACE = re.compile(r'^namespace ([\w:]+) \{', re.M)
INTERNAL_NAMESPACE = re.compile(r'^(ringo::(\w+::)*detail|detail|ringo::uring|ringo::aio)(::\w+)*$')
DETAIL_USE = re.compile(r'\bdetail::')


def namespace_problems(f, text):
    """Rules 5 and 6 for one file."""
    if "/include/ringo/internal/" in "/" + f:
        return [f"{f}: internal header declares in public namespace {ns}"
                for ns in NAMESPACE.findall(text) if not INTERNAL_NAMESPACE.match(ns)]
    if f.startswith(("examples" + os.sep, os.path.join("tests", "install", ""))):
        code = "\n".join(line.split("//")[0] for line in text.splitlines())
        if DETAIL_USE.search(code):
            return [f"{f}: users' code names an internal namespace (detail::)"]
    return []


def repo_files(root):
    for top in LAYERS + ("tests", "proptests", "fuzz", "bench", "tools", "examples"):
        for d, _, names in os.walk(os.path.join(root, top)):
            for n in names:
                if n.endswith((".hpp", ".cpp", ".hpp.in")):
                    yield os.path.relpath(os.path.join(d, n), root)


def resolve(root, src, inc, index):
    """The repository file an include names, or None for a system header."""
    local = os.path.normpath(os.path.join(os.path.dirname(src), inc))
    if local in index:
        return local
    return index.get(("by-include", inc))


def main(argv):
    if len(argv) > 2:
        print("usage: scripts/check-layout.py [REPO]", file=sys.stderr)
        return 2
    root = argv[1] if len(argv) == 2 else os.path.join(os.path.dirname(__file__), "..")
    if not os.path.isdir(os.path.join(root, "core")):
        print(f"check-layout: {root} is not the ringo repository", file=sys.stderr)
        return 2
    files = sorted(repo_files(root))
    index = {f: f for f in files}
    for f in files:  # <layer>/include/<path> is included as <path>; tests/support by name
        parts = f.split(os.sep)
        if len(parts) > 2 and parts[1] == "include":
            name = "/".join(parts[2:])
            index[("by-include", name.removesuffix(".in"))] = f
        if f.startswith("tests/support/"):
            index[("by-include", os.path.basename(f))] = f
    graph, problems = {}, []
    for f in files:
        text = open(os.path.join(root, f), encoding="utf-8").read()
        problems += namespace_problems(f, text)
        edges = []
        for inc in INCLUDE.findall(text):
            target = resolve(root, f, inc, index)
            if target is None:
                if inc.startswith("ringo/"):  # a moved or misspelt header of ours
                    problems.append(f"{f}: includes {inc}, which no layer provides")
                continue
            edges.append(target)
            src_top, dst_top = f.split(os.sep)[0], target.split(os.sep)[0]
            if src_top in LAYERS:
                if target.startswith("tests/"):
                    problems.append(f"{f}: a layer includes test support {target}")
                elif dst_top in LAYERS and dst_top not in ALLOWED[src_top]:
                    problems.append(f"{f}: {src_top} includes {dst_top} ({target}), an arrow pointing up")
            if (src_top == "examples" or f.startswith(os.path.join("tests", "install", ""))) and "/internal/" in target:
                problems.append(f"{f}: users' code includes internal header {target}")
        graph[f] = edges
    state, stack = {}, []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in graph.get(node, ()):
            if state.get(nxt) == 1:
                problems.append("include cycle: " + " -> ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    sys.setrecursionlimit(10000)
    for f in files:
        if f not in state:
            visit(f)
    for p in problems:
        print(p)
    if problems:
        print(f"check-layout: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print(f"check-layout: {len(files)} files, no cycle, every arrow points down")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
