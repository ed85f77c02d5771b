# shellcheck shell=bash
# Sourced by the paper-study scripts (run_hen.sh, run_cross.sh) after they set
# HERE (the repository) and PROG (their name for messages): the build, ranks,
# launcher and Python they use, checked, then the launcher's environment
# (mpi_env.sh: UHN_LAUNCHER, UHN_RANKS, uhn_launch). Sets BUILD, PY, UHN (an
# absolute path) and die.
BUILD=${UHN_BUILD:-./build}
PY=/usr/bin/python3
UHN=${UHN:-$BUILD/uhn} # the uhn program: UHN, else UHN_BUILD/uhn

die() { echo "$PROG: $*" >&2; exit 1; }

[[ -x "$UHN" ]] || die "'$UHN' not found or not executable; build first:
  cmake -S $HERE -B $BUILD -DCMAKE_BUILD_TYPE=Release && cmake --build $BUILD -j
or set UHN_BUILD to the build folder (or UHN to the program)"
"$PY" -c 'import h5py, numpy, matplotlib, torch' 2>/dev/null ||
  die "$PY needs h5py, numpy, matplotlib and torch (Debian: python3-h5py python3-numpy python3-matplotlib python3-torch)"

# shellcheck source=jobscripts/mpi_env.sh
source "$HERE/jobscripts/mpi_env.sh"
uhn_launcher_check
UHN=$(cd "$(dirname "$UHN")" && pwd)/$(basename "$UHN")
