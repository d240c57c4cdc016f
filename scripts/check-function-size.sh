#!/usr/bin/env bash
# Fails when a function in the engine's sources is longer than 70 lines: "functions fit on
# a screen" (issue 17). The count is clang-tidy's readability-function-size LineThreshold,
# which counts the lines from the body's opening brace to its closing brace, comments and
# blank lines included; nothing else of that check (statements, nesting...) is enforced.
#
# Usage: scripts/check-function-size.sh [--build-dir DIR] [--jobs N] [FOLDER...]
#   FOLDER: folders of the repository to check (default: the engine's, core sim uring aio
#   api; examples or tools/ringo-sim work too).
#   Each .cpp file under them is checked with the flags in DIR/compile_commands.json
#   (default build/debug; `cmake --preset debug` writes it), and the headers they include
#   from the same folders ride along (HeaderFilterRegex), each function reported once.
# Exit: 0 none too long; 1 the list of offenders; 2 usage or set-up error (no clang-tidy,
# no compile database, no such folder or a source file missing from the database);
# 3 clang-tidy could not parse a file (its errors are printed).
# Cost: each .cpp is parsed once; the five engine folders (32 files) take about 110 s of
# CPU, so about a minute with --jobs 2 on two idle cores (4 min measured while three other
# builds shared this 2-core VM). One folder alone: uring 5 s of CPU, api 37 s.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

readonly engine_folders=(core sim uring aio api)
readonly limit=70

usage() {
  echo "usage: scripts/check-function-size.sh [--build-dir DIR] [--jobs N] [FOLDER...]" >&2
  echo "       FOLDER: a folder of the repository (default: ${engine_folders[*]})" >&2
  exit 2
}
die() {
  echo "check-function-size: $*" >&2
  exit 2
}

build_dir=build/debug
jobs=2
folders=()
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) [ $# -ge 2 ] || usage; build_dir=$2; shift 2 ;;
    --jobs) [ $# -ge 2 ] || usage; jobs=$2; shift 2 ;;
    -h | --help) usage ;;
    -*) echo "check-function-size: unknown option $1" >&2; usage ;;
    *) folders+=("${1%/}"); shift ;;
  esac
done
[[ "$jobs" =~ ^[1-9][0-9]*$ ]] || die "--jobs must be a positive whole number, not '$jobs'"
[ ${#folders[@]} -gt 0 ] || folders=("${engine_folders[@]}")
for f in "${folders[@]}"; do
  [[ "$f" =~ ^[A-Za-z0-9_][A-Za-z0-9_./-]*$ && "$f" != *..* && -d "$f" ]] ||
    die "'$f' is not a folder of the repository (the engine's: ${engine_folders[*]})"
done

tidy=""
for t in clang-tidy-19 clang-tidy; do
  if command -v "$t" >/dev/null; then tidy=$t; break; fi
done
[ -n "$tidy" ] || die "clang-tidy not found: run scripts/setup-deps.sh"
# clang-tidy before 17 does not know -std=c++23 and fails on every file.
major=$("$tidy" --version | sed -n 's/.*version \([0-9]*\).*/\1/p' | head -1)
[ "${major:-0}" -ge 17 ] || die "$tidy is version ${major:-unknown}; the C++23 sources need clang-tidy 17 or later (clang-tidy-19)"

db="$build_dir/compile_commands.json"
[ -f "$db" ] || die "$db not found: run 'cmake --preset debug' first"

# The .cpp files under the folders, each of which must be in the database (a file the
# build does not compile would otherwise pass unchecked).
alternation=$(IFS='|'; echo "${folders[*]}")
mapfile -t files < <(find "${folders[@]}" -name '*.cpp' | sort)
[ ${#files[@]} -gt 0 ] || die "no .cpp files under ${folders[*]}"
missing=()
for f in "${files[@]}"; do
  grep -q "\"file\": \"$repo/$f\"" "$db" || missing+=("$f")
done
[ ${#missing[@]} -eq 0 ] || die "not in $db (reconfigure, or build them): ${missing[*]}"

# Headers count only under the checked folders; -w: the build's -Werror must not turn
# GCC-tuned warnings into clang errors here.
config="{Checks: '-*,readability-function-size', WarningsAsErrors: '',
  HeaderFilterRegex: '^$repo/($alternation)/',
  CheckOptions: {readability-function-size.LineThreshold: $limit,
                 readability-function-size.StatementThreshold: none}}"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
start=$SECONDS
printf '%s\n' "${files[@]}" |
  xargs -P "$jobs" -I{} "$tidy" --quiet -p "$build_dir" --config="$config" --extra-arg=-w {} >"$out" 2>&1 || true

if grep -q ': error: ' "$out"; then
  echo "check-function-size: clang-tidy could not parse some files:" >&2
  grep -A3 ': error: ' "$out" >&2
  exit 3
fi

# "FILE:LINE:COL: warning: function 'NAME' exceeds ..." then "FILE:LINE:COL: note: N lines
# including whitespace and comments (threshold 70)": one line per function, once each.
report=$(awk -v repo="$repo/" -v q="'" -v limit="$limit" '
  / warning: function .* exceeds recommended size/ {
    split($0, a, ":"); where = a[1] ":" a[2]
    if (index(where, repo) == 1) where = substr(where, length(repo) + 1)
    s = substr($0, index($0, "function " q) + 10); name = substr(s, 1, index(s, q) - 1)
    next
  }
  where != "" && / note: [0-9]+ lines including/ {
    n = substr($0, index($0, " note: ") + 7) + 0
    print where ": " name " is " n " lines (limit " limit ")"; where = ""
  }' "$out" | sort -u -t: -k1,1 -k2,2n)
elapsed=$((SECONDS - start))

if [ -n "$report" ]; then
  echo "$report"
  echo "check-function-size: $(echo "$report" | wc -l) functions over $limit lines in ${folders[*]} (${elapsed}s); split them by meaning" >&2
  exit 1
fi
echo "check-function-size: no function over $limit lines in ${folders[*]} (${#files[@]} files, ${elapsed}s)"
