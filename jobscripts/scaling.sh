#!/bin/bash
# The scaling benchmark of uhn (issue 9): time per recall step split into local
# compute, reduction (MPI_Allreduce of the partial records) and I/O, against the
# number of memories N (synthetic banks, K = 64), against the rank count at a
# fixed N (strong scaling) and at a fixed N per rank (weak scaling), plus a
# direct MPI_Allreduce micro-benchmark; written as HDF5
# ($SCALING_OUT/scaling.h5), then plotted (python3 -m uhnpy scaling: time per
# step and its parts, strong and weak parallel efficiency, and the performance
# model for 10^9 memories on 1 ... 1000 nodes). Then a one-point capacity
# study beside `uhn recall` on banks of the same sizes, each launch timed
# whole, with every rank's peak memory against its shard of the bank
# (postprocess/study_scale.py: $SCALING_OUT/study_scale.h5 and .md).
#
# Runs as `bash jobscripts/scaling.sh` on a workstation (mpirun) and as
# `sbatch -n 4 jobscripts/scaling.sh` on a cluster, with the launcher of
# jobscripts/mpi_env.sh (UHN_LAUNCHER=srun UHN_LAUNCHER_FLAGS=--mpi=pmix for srun).
#
#   jobscripts/scaling.sh [extra postprocess/scaling.py run options]
#
# The synthetic banks (2.56 GB at N = 10^7, K = 64) are written in chunks to
# $SCALING_TMP and removed after use. A benchmark: the exit status says whether
# it ran, never whether a figure was good. On a shared node the load average it
# prints at the start and end says how much the figures are to be trusted.
#
# Environment:
#   UHN                the uhn program (default: build/uhn, then build-*/uhn)
#   SCALING_OUT        output directory (default ./scaling-results)
#   SCALING_TMP        directory for the synthetic banks (default $SCALING_OUT)
#   SCALING_N          memories of the N sweep (default "1e4 1e5 1e6 1e7")
#   SCALING_N_RANKS    ranks of the N sweep (default 2)
#   SCALING_RANKS      ranks of the rank sweep (default "1 2 4"; above the core
#                      count they are oversubscribed)
#   SCALING_RANKS_N    N of the rank sweep (strong scaling; default 1e6)
#   SCALING_WEAK_RANKS ranks of the weak-scaling sweep (default "1 2 4"; "" for none)
#   SCALING_WEAK_N_PER_RANK  memories per rank of the weak sweep: N = ranks x
#                      this (default 2.5e5)
#   SCALING_K          key length (default 64)
#   SCALING_BATCH      queries per recall (default "1 64")
#   SCALING_STEPS      recall steps (default 10)
#   SCALING_REPEAT     runs per point, the fastest kept (default 3)
#   SCALING_THREADS    OpenMP threads per rank (default 1)
#   SCALING_STUDY      banks NxK of the study-against-recall comparison
#                      (default "1e6x64 1e7x64 1e6x784"; "" for none)
#   SCALING_STUDY_RANKS  ranks of that comparison (default "1 2")
#   SCALING_OPENBLAS_CORETYPE  OpenBLAS kernel family to force; by default
#                      OPENBLAS_CORETYPE is unset (forcing Haswell halves SGEMM
#                      on AVX-512 CPUs); recorded in the HDF5 file either way
#   UHN_LAUNCHER, UHN_LAUNCHER_FLAGS  the launcher environment of every script
#                      (jobscripts/mpi_env.sh; default mpirun)
#   PYTHON             the Python with h5py, numpy, matplotlib (default /usr/bin/python3)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Under sbatch this runs from Slurm's copy of the script: the repository is then
# the one of the job's Command.
[[ -f $root/jobscripts/mpi_env.sh ]] || root=$(cd "$(dirname "$(scontrol show job -o "${SLURM_JOB_ID:-0}" |
  grep -o ' Command=[^ ]*' | head -n 1 | cut -d= -f2)")/.." && pwd)
# shellcheck source=jobscripts/find_uhn.sh
source "$root/jobscripts/find_uhn.sh"
out=${SCALING_OUT:-$PWD/scaling-results}
tmp=${SCALING_TMP:-$out}
mkdir -p "$out" "$tmp"
python=${PYTHON:-/usr/bin/python3}

if [[ -n ${SCALING_OPENBLAS_CORETYPE:-} ]]; then
    export OPENBLAS_CORETYPE=$SCALING_OPENBLAS_CORETYPE
else
    unset OPENBLAS_CORETYPE
fi
export OMP_NUM_THREADS=${SCALING_THREADS:-1}
PROG=scaling.sh
# shellcheck source=jobscripts/mpi_env.sh
source "$root/jobscripts/mpi_env.sh"
uhn_launcher_check
# Every rank of the launcher inherits these (Open MPI forwards the environment
# of mpirun's own process on one node; -x makes it explicit on several).
# srun passes the whole environment by default and takes no -x.
if ((_uhn_open_mpi)); then
    xargs_=(-x OMP_NUM_THREADS ${OPENBLAS_CORETYPE:+-x OPENBLAS_CORETYPE} "${UHN_LAUNCHER_ARGS[@]}")
else
    xargs_=("${UHN_LAUNCHER_ARGS[@]}")
fi

list() { echo "$1" | tr ' ' ','; }
weak=$(list "${SCALING_WEAK_RANKS-1 2 4}")

echo "== scaling.sh on $(hostname), $(date "+%Y-%m-%d %H:%M:%S %Z"); $(getconf _NPROCESSORS_ONLN) cores; load average $(cut -d' ' -f1-3 /proc/loadavg)"
"$python" "$root/postprocess/scaling.py" run \
    --uhn "$uhn" --out "$out/scaling.h5" --workdir "$tmp" \
    --mpirun "$UHN_LAUNCHER" --mpirun-args="${xargs_[*]}" \
    --n "$(list "${SCALING_N:-1e4 1e5 1e6 1e7}")" \
    --n-ranks "${SCALING_N_RANKS:-2}" \
    --ranks "$(list "${SCALING_RANKS:-1 2 4}")" \
    --ranks-n "${SCALING_RANKS_N:-1e6}" \
    ${weak:+--weak-ranks "$weak" --weak-n-per-rank "${SCALING_WEAK_N_PER_RANK:-2.5e5}"} \
    --k "${SCALING_K:-64}" \
    --batch "$(list "${SCALING_BATCH:-1 64}")" \
    --steps "${SCALING_STEPS:-10}" \
    --repeat "${SCALING_REPEAT:-3}" \
    "$@"
echo
MPLBACKEND=Agg PYTHONPATH="$root/postprocess${PYTHONPATH:+:$PYTHONPATH}" \
    "$python" -m uhnpy scaling "$out/scaling.h5" --outdir "$out"

study=$(list "${SCALING_STUDY-1e6x64 1e7x64 1e6x784}")
if [[ -n $study ]]; then
    echo
    "$python" "$root/postprocess/study_scale.py" \
        --uhn "$uhn" --out "$out/study_scale.h5" --workdir "$tmp" \
        --mpirun "$UHN_LAUNCHER" --mpirun-args="${xargs_[*]}" \
        --banks "$study" --ranks "$(list "${SCALING_STUDY_RANKS:-1 2}")" \
        --repeat "${SCALING_REPEAT:-3}"
fi
