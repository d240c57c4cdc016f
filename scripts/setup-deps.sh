#!/usr/bin/env bash
# Installs what ringo needs to build and test, from Debian packages.
# Idempotent: only missing packages are installed; a second run does nothing.
# Benchmark-only peers (Go, Boost.Fiber) are installed by bench/compare.sh.
set -euo pipefail

packages=(
  build-essential cmake make ninja-build git pkg-config
  liburing-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  librapidcheck-dev libtrompeloeil-cpp-dev
  clang-19 libfuzzer-19-dev libclang-rt-19-dev
  clang-format clang-tidy-19
  ccache file doxygen  # scripts/test-install.sh (ccache; file: CPack's .deb), make docs
  chromium  # tests/timeline: the offline timeline page in a headless browser
)
if [ "${1:-}" = "--bench" ]; then
  packages+=(golang-go libboost-fiber-dev libboost-context-dev)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "setup-deps: missing packages: ${missing[*]}" >&2
  echo "setup-deps: run as root (or install them) and retry" >&2
  exit 1
fi

echo "setup-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
