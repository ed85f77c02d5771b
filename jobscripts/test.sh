#!/usr/bin/env bash
# The whole test suite, as CI runs it, on Debian 12:
#
#   bash jobscripts/test.sh [CTEST_ARGS...]      (e.g. -L unit, -R fault)
#
#  1. installs the Debian packages (jobscripts/setup.sh, without its build);
#  2. the checking build, build-check/: the Release build's optimisation with
#     AddressSanitizer, LeakSanitizer and UBSan, the debug invariants and the
#     fault-injection sites, and runs every test on it (ctest -j cores; any
#     sanitizer report fails the test that caused it);
#  3. the fuzz targets, build-fuzz/ (clang, libFuzzer, ASan/UBSan): every
#     committed seed and regression input once, then each target for
#     UHN_FUZZ_SECONDS (default 20) of new inputs (label `fuzz`).
#
# Given CTEST_ARGS, step 2 passes them to ctest and step 3 runs only when
# they select label fuzz. The plain Release build of jobscripts/setup.sh runs
# the same suite without sanitizers: ctest --test-dir build.
set -euo pipefail
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
cores=$(getconf _NPROCESSORS_ONLN)

UHN_SETUP_BUILD=0 bash "$src/jobscripts/setup.sh"

check=$src/build-check
cmake -S "$src" -B "$check" -DCMAKE_BUILD_TYPE=Release -DUHN_SANITIZE=ON
cmake --build "$check" -j"$cores"
# The seconds each test took on the checking build (2 cores), so that a fresh
# build's ctest -j starts the longest tests first instead of last.
costs=$check/Testing/Temporary/CTestCostData.txt
[ -f "$costs" ] || { mkdir -p "$(dirname "$costs")" && cp "$src/tests/ctest_costs.txt" "$costs"; }
start=$(date +%s)
ctest --test-dir "$check" -j"$cores" --output-on-failure -LE fuzz "$@"
echo "test.sh: the suite on the checking build took $(( $(date +%s) - start )) s"

if [ $# -eq 0 ] || [[ " $* " == *" fuzz "* ]]; then
  fuzz=$src/build-fuzz
  CC=clang cmake -S "$src" -B "$fuzz" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DUHN_SANITIZE=ON \
    -DUHN_FUZZ=ON -DUHN_FUZZ_SECONDS="${UHN_FUZZ_SECONDS:-20}"
  cmake --build "$fuzz" -j"$cores" --target fuzz_deck fuzz_source fuzz_h5
  start=$(date +%s)
  ctest --test-dir "$fuzz" -j"$cores" --output-on-failure -L fuzz
  echo "test.sh: the fuzz targets took $(( $(date +%s) - start )) s"
fi
