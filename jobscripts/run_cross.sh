#!/usr/bin/env bash
# Cross-stimulus studies on Fashion-MNIST (README "Cross-stimulus studies"):
# trains the plain mlp autoencoder if it is missing, runs the decks
# inputs/cross_{pixel,ngram,shared,trajectory}.ini, and writes their tables and
# figures.
#
#   jobscripts/run_cross.sh [OUT_DIR] [DECK_NAME ...]
#       (defaults: ./results_cross, and all four decks: pixel ngram shared trajectory)
#
# In OUT_DIR: models/mlp.h5, cross_*.h5 (results), cross_*.md (tables),
# cross_*.png (figures). Running it again resumes an interrupted deck.
#
# Environment: UHN_RANKS (default 2), UHN_LAUNCHER (default mpirun; see mpi_env.sh),
# OMP_NUM_THREADS (default 1), UHN_BUILD (default ./build).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Under sbatch this runs from Slurm's copy of the script: the repository is then
# the one of the job's Command.
[[ -f $HERE/jobscripts/mpi_env.sh ]] || HERE=$(cd "$(dirname "$(scontrol show job -o "${SLURM_JOB_ID:-0}" |
  grep -o ' Command=[^ ]*' | head -n 1 | cut -d= -f2)")/.." && pwd)
OUT=${1:-./results_cross}
shift $(($# > 1 ? 1 : $#))
DECKS=("$@")
[[ ${#DECKS[@]} -gt 0 ]] || DECKS=(pixel ngram shared trajectory)
PROG=run_cross.sh
# shellcheck source=jobscripts/paper_env.sh
source "$HERE/jobscripts/paper_env.sh"
mkdir -p "$OUT"
cd "$OUT"
bash "$HERE/jobscripts/train_autoencoders.sh" models plain

CS="$HERE/postprocess/cross_stimulus.py"
for name in "${DECKS[@]}"; do
  deck="$HERE/inputs/cross_$name.ini"
  [[ -f $deck ]] || die "no deck $deck (names: pixel ngram shared trajectory)"
  echo "== $UHN_LAUNCHER -n $UHN_RANKS uhn run cross_$name.ini (in $(pwd), OMP_NUM_THREADS=$OMP_NUM_THREADS)"
  uhn_launch "$UHN_RANKS" "$UHN" run "$deck" ||
    die "uhn run cross_$name.ini failed (exit $?); run it again to resume from the checkpoint"
  file=cross_$name.h5
  case $name in
    pixel | ngram)
      "$PY" "$CS" table "$file" | tee "cross_$name.md"
      ;;
    shared)
      "$PY" "$CS" shared "$file" | tee cross_shared.md
      "$PY" "$CS" mixtures "$file" --where shared=0.5 --where known=on --out cross_mixtures.png
      ;;
    trajectory)
      for enc in identity vq; do
        for j in 0 2; do  # saved query 0 has a shared caption, 2 a unique one (seed 1)
          "$PY" "$HERE/postprocess/plot_encoded.py" trajectory "$file" --where encoder=$enc \
            --query $j --out "cross_trajectory_${enc}_$j.png"
        done
      done
      ;;
  esac
done
echo "run_cross.sh: results, tables and figures in $(pwd)"
