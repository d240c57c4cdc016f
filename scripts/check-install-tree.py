#!/usr/bin/env python3
"""Checks what `cmake --install` (or the .deb) put under a prefix:

  1. no installed file, text or binary, contains a forbidden path (--forbid: ringo's
     source and build directories), so nothing points back into the tree it came from;
     the prefix itself may be named (ringo.pc does) even when it lies inside them;
  2. every file is one ringo means to install: headers under include/ringo/, libringo.a
     and libringo.so*, lib*/cmake/ringo/*.cmake, lib*/pkgconfig/ringo.pc, share/doc/;
  3. with --source: the headers are exactly the layers' include/ trees (core, sim, uring,
     aio, api; public and internal) plus the generated ringo/version.hpp: nothing from
     tests/, examples/ or tools/, and nothing missing;
  4. every ringo/... include in an installed header names an installed header.

usage: scripts/check-install-tree.py PREFIX [--source DIR] [--forbid PATH]...
Exit 0 when all hold, 1 listing each violation, 2 on a usage error."""
import argparse
import os
import re
import sys

LAYERS = ("core", "sim", "uring", "aio", "api")
GENERATED = {"ringo/version.hpp"}
INCLUDE = re.compile(r'^\s*#\s*include\s*[<"](ringo/[^>"]+)[>"]', re.M)
ALLOWED = (
    re.compile(r"^include/ringo/.+\.hpp$"),
    re.compile(r"^lib(/[^/]+)?/libringo\.(a|so(\.\d+)*)$"),
    re.compile(r"^lib(/[^/]+)?/cmake/ringo/[^/]+\.cmake$"),
    re.compile(r"^lib(/[^/]+)?/pkgconfig/ringo\.pc$"),
    re.compile(r"^share/doc/libringo-dev/[^/]+$"),
)


def installed_files(prefix):
    for d, _, names in os.walk(prefix):
        for n in names:
            path = os.path.join(d, n)
            yield os.path.relpath(path, prefix), path


def layer_headers(source):
    headers = set(GENERATED)
    for layer in LAYERS:
        root = os.path.join(source, layer, "include")
        for d, _, names in os.walk(root):
            for n in names:
                if n.endswith(".hpp"):
                    headers.add(os.path.relpath(os.path.join(d, n), root))
    return headers


def main(argv):
    parser = argparse.ArgumentParser(description="check an installed ringo tree")
    parser.add_argument("prefix")
    parser.add_argument("--source", help="ringo's source tree, to compare the installed headers with")
    parser.add_argument("--forbid", action="append", default=[], help="a path no installed file may contain")
    args = parser.parse_args(argv[1:])
    if not os.path.isdir(os.path.join(args.prefix, "include", "ringo")):
        print(f"check-install-tree: {args.prefix} has no include/ringo: not an installed ringo", file=sys.stderr)
        return 2
    forbidden = [os.path.realpath(p).encode() for p in args.forbid]
    allowed_prefix = os.path.realpath(args.prefix).encode()
    problems, headers, libraries = [], {}, 0
    for rel, path in sorted(installed_files(args.prefix)):
        if not any(p.match(rel) for p in ALLOWED):
            problems.append(f"{rel}: not a file ringo installs")
        if os.path.islink(path):
            continue
        data = open(path, "rb").read()
        for f in forbidden:
            if f in data.replace(allowed_prefix, b""):
                problems.append(f"{rel}: contains {f.decode()}")
        if rel.startswith("include/"):
            headers[rel.removeprefix("include/")] = data.decode("utf-8", "replace")
        elif "/libringo." in rel:
            libraries += 1
    if libraries == 0:
        problems.append("no libringo installed")
    if args.source:
        expected = layer_headers(args.source)
        for h in sorted(set(headers) - expected):
            problems.append(f"include/{h}: not a header of the layers ({', '.join(LAYERS)})")
        for h in sorted(expected - set(headers)):
            problems.append(f"include/{h}: a layer's header that was not installed")
    for h, text in sorted(headers.items()):
        for inc in INCLUDE.findall(text):
            if inc not in headers:
                problems.append(f"include/{h}: includes {inc}, which is not installed")
    for p in problems:
        print(p)
    if problems:
        print(f"check-install-tree: {len(problems)} problem(s) in {args.prefix}", file=sys.stderr)
        return 1
    print(f"check-install-tree: {args.prefix}: {len(headers)} headers, {libraries} library files, no path of the "
          f"build or source tree")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
