#!/usr/bin/env python3
"""Doxygen input filter: reads ringo's public headers in their own comment style (plain
`//`) as documentation, so the headers need no second, Doxygen-only style.

  - the comment block at the top of a header documents the file (@file);
  - a block of `//` lines directly above a declaration documents it (`///`);
  - a `// text` after `;` or `,` on a declaration's line documents that member (`///<`);
  - within a block, lines indented two or more spaces past `// ` are code (@code);
  - outside code, `<` is escaped: Result<U> is text, not an HTML <u> tag;
  - a one-line specialisation of a std template (`template <>` then `struct std::...;`) is
    left out: it is not ringo's API, and Doxygen 1.9 cannot place a class qualified with
    a namespace it is not inside ("Internal inconsistency").

Blocks followed by a blank line, a `}` or a preprocessor line stay plain comments.
Usage (Doxygen's INPUT_FILTER): doxygen_filter.py FILE; prints the filtered file."""
import re
import sys

COMMENT = re.compile(r"^(\s*)//(?!/) ?(.*)$")
TRAILING = re.compile(r"^(.*[;,])(\s+)// (.*)$")
STD_SPECIALISATION = re.compile(r"^(struct|class) std::\w+<.*;\s*$")


def escape(text):
    """`<` as text, except inside `code spans`."""
    parts = text.split("`")
    for i in range(0, len(parts), 2):
        parts[i] = parts[i].replace("<", "\\<")
    return "`".join(parts)


def render(block, indent, file_doc):
    """One comment block as Doxygen lines."""
    out = [f"{indent}/// @file"] if file_doc else []
    in_code = False
    for text in block:
        code_line = text.startswith("  ") and text.strip() != ""
        if code_line and not in_code:
            out.append(f"{indent}/// @code")
            in_code = True
        elif in_code and not code_line:
            out.append(f"{indent}/// @endcode")
            in_code = False
        out.append(f"{indent}/// {text if in_code else escape(text)}".rstrip())
    if in_code:
        out.append(f"{indent}/// @endcode")
    return out


def filter_text(text):
    lines = text.split("\n")
    out, i, seen_code = [], 0, False
    while i < len(lines):
        if lines[i].strip() == "template <>" and i + 1 < len(lines) and STD_SPECIALISATION.match(lines[i + 1]):
            out.extend(["", ""])  # keeps the line count
            i += 2
            continue
        m = COMMENT.match(lines[i])
        if not m:
            t = TRAILING.match(lines[i])
            if t and t.group(1).count('"') % 2 == 0 and "//" not in t.group(1):
                out.append(f"{t.group(1)}{t.group(2)}///< {escape(t.group(3))}")
            else:
                out.append(lines[i])
            seen_code = seen_code or bool(lines[i].strip())
            i += 1
            continue
        indent, block = m.group(1), []
        while i < len(lines) and (m := COMMENT.match(lines[i])) and m.group(1) == indent:
            block.append(m.group(2))
            i += 1
        after = lines[i].strip() if i < len(lines) else ""
        if not seen_code:
            out.extend(render(block, indent, True))
        elif after and not after.startswith(("}", "#")):
            out.extend(render(block, indent, False))
        else:
            out.extend(f"{indent}// {t}".rstrip() for t in block)
    return "\n".join(out)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: doxygen_filter.py FILE", file=sys.stderr)
        sys.exit(2)
    with open(sys.argv[1], encoding="utf-8") as f:
        sys.stdout.write(filter_text(f.read()))
