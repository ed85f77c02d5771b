#!/usr/bin/env bash
# The main demo: recall of half-masked Fashion-MNIST images with `uhn recall`.
#
#   jobscripts/demo.sh [BUILD_DIR] [OUT_DIR]        (defaults: ./build ./demo)
#
# 1. postprocess/make_recall_demo.py writes OUT_DIR/demo_input.h5: the first
#    1000 Fashion-MNIST test images as memories, the first 100 of them with the
#    bottom half set to 0 as queries, and the top-half mask as the clamp set.
# 2. `mpirun -n 2 uhn recall` recalls every query with softmax separation for
#    several similarities, with and without --cue-only; the known top half is
#    clamped, so the recall fills in the bottom half.
# 3. postprocess/show_recall.py prints the table and writes recall_demo.png.
#
# beta: softmax weights are exp(beta * (s_n - s_max)), computed as a
# log-sum-exp, so any beta is exact; beta only sets how many memories blend.
# To recall one stored image, beta * (gap between the best and second-best
# score) must be >> 1. Measured on these data, the median gap is ~1.5 for
# euclidean (~7 cue-only), ~4 for manhattan (~24 cue-only), ~0.014 for cosine
# (~0.05 cue-only) and ~1.4 for dot (scores ~80). Hence beta = 1000 for the two
# distances and 10000 for cosine (beta * gap >~ 20 even for the closest
# calls), and beta = 10 for dot (beta * gap ~ 14): dot's weakness here is not
# sharpness but that it is no distance (it prefers bright images), which a
# larger beta would not cure.
#
# Environment: the launcher environment of every script
# (jobscripts/mpi_env.sh: UHN_LAUNCHER, default mpirun; UHN_RANKS, default 2).
# Takes well under a minute on 2 cores.
set -euo pipefail

BUILD=${1:-./build}
OUT=${2:-./demo}
RANKS=${UHN_RANKS:-${UHN_DEMO_RANKS:-2}}
PROG=demo.sh
PY=/usr/bin/python3
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Under sbatch this runs from Slurm's copy of the script: the repository is then
# the one of the job's Command.
[[ -f $HERE/jobscripts/mpi_env.sh ]] || HERE=$(cd "$(dirname "$(scontrol show job -o "${SLURM_JOB_ID:-0}" |
  grep -o ' Command=[^ ]*' | head -n 1 | cut -d= -f2)")/.." && pwd)
UHN="$BUILD/uhn"

die() { echo "demo.sh: $*" >&2; exit 1; }

[[ -d "$BUILD" ]] || die "build folder '$BUILD' not found; build first:
  cmake -S $HERE -B $BUILD -DCMAKE_BUILD_TYPE=Release && cmake --build $BUILD -j
or give the build folder: $0 BUILD_DIR [OUT_DIR]"
[[ -x "$UHN" ]] || die "'$UHN' not found or not executable; build it first:
  cmake --build $BUILD -j"
[[ -x "$PY" ]] || die "$PY not found"
"$PY" -c 'import h5py, numpy, matplotlib' 2>/dev/null ||
  die "$PY needs h5py, numpy and matplotlib (Debian: python3-h5py python3-numpy python3-matplotlib)"

# Open MPI: allow more ranks than cores, and running as root in containers.
# shellcheck source=jobscripts/mpi_env.sh
source "$HERE/jobscripts/mpi_env.sh"
uhn_launcher_check

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
INPUT="$OUT/demo_input.h5"

echo "== input: real Fashion-MNIST images"
"$PY" "$HERE/postprocess/make_recall_demo.py" --out "$INPUT" --memories 1000 --queries 100

RUNS="$OUT/runs.tsv"
printf 'label\tsimilarity\tcue_only\tbeta\tseconds\tfile\n' >"$RUNS"

# similarity beta (see above for the choice of beta)
CONFIGS=(
  "dot 10"
  "euclidean 1000"
  "manhattan 1000"
  "cosine 10000"
)

echo "== recall: $UHN_LAUNCHER -n $RANKS $UHN recall ..."
for cfg in "${CONFIGS[@]}"; do
  read -r sim beta <<<"$cfg"
  for cue in 0 1; do
    label="${sim}$([[ $cue -eq 1 ]] && echo _cue || true)"
    file="recall_${label}.h5"
    extra=()
    [[ $cue -eq 1 ]] && extra+=(--cue-only)
    t0=$(date +%s.%N)
    uhn_launch "$RANKS" "$UHN" recall \
      --memories "$INPUT:memories" --queries "$INPUT:queries" --clamp "$INPUT:clamp" \
      --similarity "$sim" --separation softmax --beta "$beta" "${extra[@]}" \
      --output "$OUT/$file" ||
      die "uhn recall failed for --similarity $sim --beta $beta ${extra[*]}"
    t1=$(date +%s.%N)
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$sim" "$cue" "$beta" "$secs" "$file" >>"$RUNS"
    echo "   $label: ${secs} s"
  done
done

echo "== results"
"$PY" "$HERE/postprocess/show_recall.py" --input "$INPUT" --runs "$RUNS" --png "$OUT/recall_demo.png" |
  tee "$OUT/summary.txt"
echo "demo.sh: outputs in $OUT"
