#!/usr/bin/env bash
# Trains the mlp autoencoders of the encoded and cross-stimulus studies when
# they are missing (postprocess/train_autoencoder.py on the 60,000 training
# images of Fashion-MNIST, 784-512-128-512-784):
#
#   jobscripts/train_autoencoders.sh MODEL_DIR KIND...
#       KIND: plain (MODEL_DIR/mlp.h5) or masked (MODEL_DIR/mlp_masked.h5,
#       trained with its top rows occluded at random)
#
# Environment: UHN_AE_EPOCHS (default: the trainer's).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Under sbatch this runs from Slurm's copy of the script: the repository is then
# the one of the job's Command.
[[ -f $HERE/jobscripts/mpi_env.sh ]] || HERE=$(cd "$(dirname "$(scontrol show job -o "${SLURM_JOB_ID:-0}" |
  grep -o ' Command=[^ ]*' | head -n 1 | cut -d= -f2)")/.." && pwd)
DIR=${1:?usage: train_autoencoders.sh MODEL_DIR plain|masked...}
shift
EPOCHS=()
[[ -n "${UHN_AE_EPOCHS:-}" ]] && EPOCHS=(--epochs "$UHN_AE_EPOCHS")
mkdir -p "$DIR"
for kind in "$@"; do
  case $kind in
    plain) model=$DIR/mlp.h5 extra=() ;;
    masked) model=$DIR/mlp_masked.h5 extra=(--masked) ;;
    *) echo "train_autoencoders.sh: unknown kind '$kind' (plain or masked)" >&2; exit 2 ;;
  esac
  if [[ ! -f $model ]]; then
    echo "== train_autoencoder.py ($kind) -> $model"
    /usr/bin/python3 "$HERE/postprocess/train_autoencoder.py" --input fashion-mnist:train \
      --dim 128 "${EPOCHS[@]}" "${extra[@]}" --output "$model"
  fi
done
