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
# Environment: UHN (the uhn program; default UHN_BUILD/uhn), UHN_BUILD (default
# ./build), and the launcher environment of
# every script (jobscripts/mpi_env.sh): UHN_LAUNCHER (default mpirun),
# UHN_LAUNCHER_FLAGS, UHN_RANKS (default 2), OMP_NUM_THREADS (default 1).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Under sbatch this runs from Slurm's copy of the script: the repository is then
# the one of the job's Command.
[[ -f $HERE/jobscripts/mpi_env.sh ]] || HERE=$(cd "$(dirname "$(scontrol show job -o "${SLURM_JOB_ID:-0}" |
  grep -o ' Command=[^ ]*' | head -n 1 | cut -d= -f2)")/.." && pwd)
DECK=${1:-$HERE/inputs/quickstart.ini}
OUT=${2:-./results}
shift $(($# > 2 ? 2 : $#))
BUILD=${UHN_BUILD:-./build}
PY=/usr/bin/python3
PROG=run_study.sh
UHN=${UHN:-$BUILD/uhn} # the uhn program: UHN, else UHN_BUILD/uhn

die() { echo "run_study.sh: $*" >&2; exit 1; }

[[ -f "$DECK" ]] || die "deck '$DECK' not found"
[[ -x "$UHN" ]] || die "'$UHN' not found or not executable; build first:
  cmake -S $HERE -B $BUILD -DCMAKE_BUILD_TYPE=Release && cmake --build $BUILD -j
or set UHN_BUILD to the build folder (or UHN to the program)"
"$PY" -c 'import h5py, numpy, matplotlib' 2>/dev/null ||
  die "$PY needs h5py, numpy and matplotlib (Debian: python3-h5py python3-numpy python3-matplotlib)"

# shellcheck source=jobscripts/mpi_env.sh
source "$HERE/jobscripts/mpi_env.sh"
uhn_launcher_check

DECK=$(cd "$(dirname "$DECK")" && pwd)/$(basename "$DECK")
UHN=$(cd "$(dirname "$UHN")" && pwd)/$(basename "$UHN")
mkdir -p "$OUT"
cd "$OUT"

echo "== $UHN_LAUNCHER -n $UHN_RANKS uhn run $(basename "$DECK") $* (in $(pwd), OMP_NUM_THREADS=$OMP_NUM_THREADS)"
uhn_launch "$UHN_RANKS" "$UHN" run "$DECK" --quiet "$@" ||
  die "uhn run failed (exit $?); run it again to resume from the checkpoint"

# The results file named by the deck (output.file, or the deck name with .h5).
FILE=$("$UHN" run "$DECK" "$@" --print-output 2>/dev/null || true)
[[ -n "$FILE" && -f "$FILE" ]] || die "cannot find the results file of $DECK"
BASE=${FILE%.h5}
"$PY" "$HERE/postprocess/plot_study.py" "$FILE" --table | tee "$BASE.md"
"$PY" "$HERE/postprocess/plot_study.py" "$FILE" --out "$BASE.png" >/dev/null
echo "run_study.sh: results in $(pwd)/$FILE, table $BASE.md, plot $BASE.png"
