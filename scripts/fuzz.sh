#!/usr/bin/env bash
# Runs every libFuzzer target for the given seconds (default 60). No targets exist yet.
set -euo pipefail
echo "make fuzz: no fuzz targets are built yet (tracked by the fuzzing issue)" >&2
exit 1
