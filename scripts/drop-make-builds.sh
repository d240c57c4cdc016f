#!/usr/bin/env bash
# The presets moved from Make to Ninja (CHANGELOG, Unreleased). CMake refuses to
# reconfigure a build directory with another generator, so a preset's directory that an
# older checkout configured with Make is removed (it is only a build cache).
set -euo pipefail
cd "$(dirname "$0")/.."
for cache in build/*/CMakeCache.txt; do
  [ -f "$cache" ] || continue
  dir=$(dirname "$cache")
  grep -q '^CMAKE_GENERATOR:INTERNAL=Unix Makefiles$' "$cache" || continue
  case "$(basename "$dir")" in
    debug | release | asan | tsan | fuzz) echo "drop-make-builds: removing $dir (configured with Make; the presets use Ninja)"; rm -rf "$dir" ;;
  esac
done
