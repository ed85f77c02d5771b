#!/usr/bin/env bash
# The Hopfield Encoding Networks study on Fashion-MNIST (README "Encoded
# studies"): trains the two mlp autoencoders if they are missing, runs the
# three decks inputs/hen_{beta,n,trajectory}.ini, and writes their tables and
# figures.
#
#   jobscripts/run_hen.sh [OUT_DIR] [DECK_NAME ...]
#       (defaults: ./results_hen, and all three decks: beta n trajectory)
#
# In OUT_DIR: models/mlp.h5 and models/mlp_masked.h5 (postprocess/
# train_autoencoder.py, plain and masked), hen_*.h5 (results), hen_*.md
# (tables) and hen_*.png (figures). Running it again resumes an interrupted
# deck and reuses trained models.
#
# Environment: UHN_RANKS (default 2), UHN_LAUNCHER (default mpirun; see mpi_env.sh),
# OMP_NUM_THREADS (default 1), UHN_BUILD (default ./build),
# UHN_AE_EPOCHS (default: the trainer's).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Under sbatch this runs from Slurm's copy of the script: the repository is then
# the one of the job's Command.
[[ -f $HERE/jobscripts/mpi_env.sh ]] || HERE=$(cd "$(dirname "$(scontrol show job -o "${SLURM_JOB_ID:-0}" |
  grep -o ' Command=[^ ]*' | head -n 1 | cut -d= -f2)")/.." && pwd)
OUT=${1:-./results_hen}
shift $(($# > 1 ? 1 : $#))
DECKS=("$@")
[[ ${#DECKS[@]} -gt 0 ]] || DECKS=(beta n trajectory)
PROG=run_hen.sh
# shellcheck source=jobscripts/paper_env.sh
source "$HERE/jobscripts/paper_env.sh"
mkdir -p "$OUT/models"
cd "$OUT"

# The autoencoders (dim 128, as pca and random in the decks), plain and masked.
bash "$HERE/jobscripts/train_autoencoders.sh" models plain masked

for name in "${DECKS[@]}"; do
  deck="$HERE/inputs/hen_$name.ini"
  [[ -f $deck ]] || die "no deck $deck (names: beta n trajectory)"
  echo "== $UHN_LAUNCHER -n $UHN_RANKS uhn run hen_$name.ini (in $(pwd), OMP_NUM_THREADS=$OMP_NUM_THREADS)"
  uhn_launch "$UHN_RANKS" "$UHN" run "$deck" ||
    die "uhn run hen_$name.ini failed (exit $?); run it again to resume from the checkpoint"
  file=hen_$name.h5
  case $name in
    beta)
      for y in mse dssim; do
        "$PY" "$HERE/postprocess/plot_study.py" "$file" --x beta --y "$y" --where cue_only=off \
          --out "hen_beta_$y.png" >/dev/null
      done
      "$PY" "$HERE/postprocess/plot_study.py" "$file" --x beta --y mse --table | tee hen_beta.md
      "$PY" "$HERE/postprocess/plot_study.py" "$file" --x beta --y dssim --table | tee -a hen_beta.md
      "$PY" "$HERE/postprocess/plot_encoded.py" separability "$file" --where beta=1 \
        --where cue_only=off --out hen_separability.png
      "$PY" "$HERE/postprocess/plot_encoded.py" table "$file" --where beta=1 --where cue_only=off |
        tee -a hen_beta.md
      ;;
    n)
      for y in mse dssim code_frac_metastable; do
        "$PY" "$HERE/postprocess/plot_study.py" "$file" --x n --y "$y" --out "hen_n_$y.png" >/dev/null
      done
      "$PY" "$HERE/postprocess/plot_study.py" "$file" --x n --y mse --table | tee hen_n.md
      "$PY" "$HERE/postprocess/plot_study.py" "$file" --x n --y code_frac_metastable --table |
        tee -a hen_n.md
      ;;
    trajectory)
      "$PY" "$HERE/postprocess/plot_encoded.py" trajectory "$file" --query 0 --out hen_trajectory.png
      ;;
  esac
done
echo "run_hen.sh: results, tables and figures in $(pwd)"
