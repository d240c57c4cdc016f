#!/usr/bin/env bash
# ringo as users get it (issue 18, docs/install.md): builds only the libraries (release,
# static + shared) in build/install-check, installs them into a scratch prefix and checks
# the installed tree, builds and runs the consumers of tests/install against it (CMake
# find_package, static and shared, and pkg-config), checks the version policy, then makes
# the .deb, installs it on this machine with apt-get, builds and runs the consumers against
# /usr, and removes the package again (also when a step fails).
#
# Needs root for the .deb part (as make test does for setup-deps); RINGO_SKIP_DEB_INSTALL=1
# stops after building and checking the .deb. Uses ccache when it is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
build=$root/build/install-check
work=$build/consumers  # scratch: the prefix and the consumers' builds
prefix=$work/prefix
started=$SECONDS

step() { printf '\n--- install-check: %s (%ds) ---\n' "$*" $((SECONDS - started)); }
die() {
  echo "test-install: $*" >&2
  exit 1
}

if command -v ccache >/dev/null && [ -z "${CMAKE_CXX_COMPILER_LAUNCHER:-}" ]; then
  export CMAKE_CXX_COMPILER_LAUNCHER=ccache
  export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$root}  # hits across checkouts in other folders
fi

# Builds tests/install in $1 with the extra cmake arguments that follow, runs both
# programs, and checks which libringo the consumer loaded: $2 = static or shared.
cmake_consumer() {
  local dir=$1 flavour=$2
  shift 2
  rm -rf "$dir"
  cmake -S tests/install -B "$dir" -DCMAKE_BUILD_TYPE=Debug "$@" >"$dir.log" 2>&1 || {
    cat "$dir.log"
    die "the CMake consumer did not configure ($dir.log)"
  }
  grep -- '-- ringo ' "$dir.log"
  grep -q -- "-- ringo .* ($flavour) from ${RINGO_EXPECT_DIR}" "$dir.log" ||
    die "find_package found the wrong ringo (expected $flavour from $RINGO_EXPECT_DIR)"
  cmake --build "$dir" -j2 >"$dir.build.log" 2>&1 || {
    cat "$dir.build.log"
    die "the CMake consumer did not build ($dir.build.log)"
  }
  check_linked "$dir/consumer" "$flavour"
  "$dir/consumer"
  "$dir/sim_consumer"
}

# $1 links libringo.so (shared) or has it inside (static).
check_linked() {
  local deps
  deps=$(ldd "$1")  # not piped into grep -q: under pipefail, ldd's SIGPIPE would fail the test
  if grep -q 'libringo\.so' <<<"$deps"; then
    [ "$2" = shared ] || die "$1 should have ringo linked in statically: $(grep libringo <<<"$deps")"
  else
    [ "$2" = static ] || die "$1 should load libringo.so"
  fi
}

# The one-file build of the README's kind: g++ and pkg-config, nothing else.
pkgconfig_consumer() {
  local out=$1
  shift
  echo "g++ -std=$(pkg-config --variable=cxxstd ringo) tests/install/consumer.cpp $(pkg-config --cflags --libs ringo) $*"
  # Compiled and linked apart, so that ccache (when used) can keep the compile.
  ${CMAKE_CXX_COMPILER_LAUNCHER:-} g++ -std="$(pkg-config --variable=cxxstd ringo)" -Wall -Wextra -Werror \
    $(pkg-config --cflags ringo) -c tests/install/consumer.cpp -o "$out.o"
  g++ "$out.o" -o "$out" $(pkg-config --libs ringo) "$@"
  check_linked "$out" shared
  "$out"
}

step "configure and build the libraries (release, static + shared)"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=g++ -DRINGO_BUILD_TESTS=OFF \
  -DRINGO_BUILD_TOOLS=OFF -DRINGO_BUILD_SHARED=ON -DCMAKE_INSTALL_PREFIX=/usr >/dev/null
cmake --build "$build" -j2

step "install into $prefix and check the installed tree"
rm -rf "$work"
mkdir -p "$work"
cmake --install "$build" --prefix "$prefix" >/dev/null
python3 scripts/check-install-tree.py "$prefix" --source "$root" --forbid "$root" --forbid "$build"
pc_dir=$(dirname "$(find "$prefix" -name ringo.pc)")
lib_dir=$(dirname "$pc_dir")

step "CMake consumer against the prefix: static (the default), then shared"
export RINGO_EXPECT_DIR=$lib_dir/cmake/ringo
cmake_consumer "$work/cmake-static" static -DCMAKE_PREFIX_PATH="$prefix"
cmake_consumer "$work/cmake-shared" shared -DCMAKE_PREFIX_PATH="$prefix" -Dringo_SHARED_LIBS=ON

step "version policy: 0.x accepts the same minor only"
IFS=. read -r major minor patch < <(sed -n 's/^Version: //p' "$pc_dir/ringo.pc")
policy() {
  local out rc=0
  out=$(cmake -S tests/install/version-policy -B "$work/policy" -DCMAKE_PREFIX_PATH="$prefix" -DWANT="$1" \
    -DEXPECT="$2" 2>&1) || rc=$?
  rm -rf "$work/policy"
  grep -m1 'find_package(ringo' <<<"$out" || true
  [ $rc -eq 0 ] || die "version policy: find_package(ringo $1) should be $2"
}
policy "$major.$minor" found
policy "$major.$minor.$patch" found
policy "$major.$((minor + 1))" not-found
policy "$((major + 1)).0" not-found

step "pkg-config consumer against the prefix"
PKG_CONFIG_PATH=$pc_dir pkgconfig_consumer "$work/pc-consumer" -Wl,-rpath,"$lib_dir"

step "the .deb"
rm -f "$build"/libringo-dev_*.deb
(cd "$build" && cpack -G DEB >/dev/null)
deb=$(ls "$build"/libringo-dev_*.deb)
dpkg-deb -f "$deb" Package Version Depends
rm -rf "$work/deb"
dpkg-deb -x "$deb" "$work/deb"
python3 scripts/check-install-tree.py "$work/deb/usr" --source "$root" --forbid "$root" --forbid "$build"

if [ "${RINGO_SKIP_DEB_INSTALL:-0}" = 1 ]; then
  echo "test-install: RINGO_SKIP_DEB_INSTALL=1: the .deb was built and checked, not installed"
  exit 0
fi
[ "$(id -u)" -eq 0 ] || die "installing the .deb needs root (or set RINGO_SKIP_DEB_INSTALL=1)"
if dpkg-query -W -f='${Status}' libringo-dev 2>/dev/null | grep -q "install ok installed"; then
  die "libringo-dev is already installed on this machine; this check installs and removes its own (apt-get remove libringo-dev, or RINGO_SKIP_DEB_INSTALL=1)"
fi

step "apt-get install the .deb, consumers against /usr"
remove_deb() { DEBIAN_FRONTEND=noninteractive apt-get remove --purge -y -qq libringo-dev >/dev/null 2>&1 || true; }
trap remove_deb EXIT
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$deb" >/dev/null 2>&1 ||
  die "apt-get install $deb failed"
RINGO_EXPECT_DIR=$(dirname "$(dpkg -L libringo-dev | grep -m1 '/cmake/ringo/ringoConfig.cmake$')")
cmake_consumer "$work/cmake-usr" static
pkgconfig_consumer "$work/pc-usr"

step "apt-get remove --purge libringo-dev"
trap - EXIT
DEBIAN_FRONTEND=noninteractive apt-get remove --purge -y -qq libringo-dev >/dev/null 2>&1
if dpkg-query -W libringo-dev >/dev/null 2>&1; then
  die "libringo-dev is still known to dpkg: $(dpkg-query -W -f='${Status}' libringo-dev)"
fi

echo
echo "install-check: passed in $((SECONDS - started)) s (prefix, find_package static + shared, pkg-config, version policy, .deb on /usr)"
