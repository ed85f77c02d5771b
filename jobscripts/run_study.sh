#!/usr/bin/env bash
# Runs a capacity study deck with `uhn run`, then prints its result table and
# plots it with postprocess/plot_study.py. The README's main command runs the
# quick-start deck with it:
#
#   jobscripts/run_study.sh [DECK] [OUT_DIR] [section.key=value ...]
#       (defaults: inputs/quickstart.ini, ./results)
#
# The results file is OUT_DIR/<output.file of the deck>; the plot is the same
# name with .png, and the table is also written to OUT_DIR/<name>.md. Running it
# again resumes an interrupted study, or only reprints a finished one (pass
# --fresh as an override-position argument to start over).
#
# Environment: UHN_RANKS (default 2), MPIEXEC (default mpirun),
# OMP_NUM_THREADS (default 1), UHN_BUILD (default ./build).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DECK=${1:-$HERE/inputs/quickstart.ini}
OUT=${2:-./results}
shift $(($# > 2 ? 2 : $#))
BUILD=${UHN_BUILD:-./build}
RANKS=${UHN_RANKS:-2}
MPIEXEC=${MPIEXEC:-mpirun}
PY=/usr/bin/python3
UHN="$BUILD/uhn"

die() { echo "run_study.sh: $*" >&2; exit 1; }

[[ -f "$DECK" ]] || die "deck '$DECK' not found"
[[ -x "$UHN" ]] || die "'$UHN' not found or not executable; build first:
  cmake -S $HERE -B $BUILD -DCMAKE_BUILD_TYPE=Release && cmake --build $BUILD -j
or set UHN_BUILD to the build folder"
command -v "$MPIEXEC" >/dev/null || die "MPI launcher '$MPIEXEC' not found (set MPIEXEC)"
"$PY" -c 'import h5py, numpy, matplotlib' 2>/dev/null ||
  die "$PY needs h5py, numpy and matplotlib (Debian: python3-h5py python3-numpy python3-matplotlib)"

# shellcheck source=jobscripts/mpi_env.sh
source "$HERE/jobscripts/mpi_env.sh"

DECK=$(cd "$(dirname "$DECK")" && pwd)/$(basename "$DECK")
UHN=$(cd "$(dirname "$UHN")" && pwd)/uhn
mkdir -p "$OUT"
cd "$OUT"

echo "== $MPIEXEC -n $RANKS uhn run $(basename "$DECK") $* (in $(pwd), OMP_NUM_THREADS=$OMP_NUM_THREADS)"
"$MPIEXEC" "${MPIFLAGS[@]}" -n "$RANKS" "$UHN" run "$DECK" --quiet "$@" ||
  die "uhn run failed (exit $?); run it again to resume from the checkpoint"

# The results file named by the deck (output.file, or the deck name with .h5).
FILE=$("$UHN" run "$DECK" "$@" --print-output 2>/dev/null || true)
[[ -n "$FILE" && -f "$FILE" ]] || die "cannot find the results file of $DECK"
BASE=${FILE%.h5}
"$PY" "$HERE/postprocess/plot_study.py" "$FILE" --table | tee "$BASE.md"
"$PY" "$HERE/postprocess/plot_study.py" "$FILE" --out "$BASE.png" >/dev/null
echo "run_study.sh: results in $(pwd)/$FILE, table $BASE.md, plot $BASE.png"
