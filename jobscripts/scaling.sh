#!/bin/bash
# The scaling benchmark of uhn (issue 9): time per recall step split into local
# compute, reduction (MPI_Allreduce of the partial records) and I/O, against the
# number of memories N (synthetic banks, K = 64) and against the rank count at a
# fixed N, plus a direct MPI_Allreduce micro-benchmark; written as HDF5
# ($SCALING_OUT/scaling.h5), then plotted with the performance model for 10^9
# memories on 1 ... 1000 nodes (postprocess/plot_scaling.py).
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
#   SCALING_RANKS_N    N of the rank sweep (default 1e6)
#   SCALING_K          key length (default 64)
#   SCALING_BATCH      queries per recall (default "1 64")
#   SCALING_STEPS      recall steps (default 10)
#   SCALING_REPEAT     runs per point, the fastest kept (default 3)
#   SCALING_THREADS    OpenMP threads per rank (default 1)
#   SCALING_OPENBLAS_CORETYPE  OpenBLAS kernel family to force; by default
#                      OPENBLAS_CORETYPE is unset (forcing Haswell halves SGEMM
#                      on AVX-512 CPUs); recorded in the HDF5 file either way
#   MPIRUN             the launcher (default mpirun)
#   PYTHON             the Python with h5py, numpy, matplotlib (default /usr/bin/python3)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
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
if [[ $(id -u) == 0 ]]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
# Every rank of the launcher inherits these (Open MPI forwards the environment
# of mpirun's own process on one node; -x makes it explicit on several).
xargs_=(-x OMP_NUM_THREADS ${OPENBLAS_CORETYPE:+-x OPENBLAS_CORETYPE})

list() { echo "$1" | tr ' ' ','; }

echo "== scaling.sh on $(hostname), $(date "+%Y-%m-%d %H:%M:%S %Z"); $(getconf _NPROCESSORS_ONLN) cores; load average $(cut -d' ' -f1-3 /proc/loadavg)"
"$python" "$root/postprocess/scaling.py" run \
    --uhn "$uhn" --out "$out/scaling.h5" --workdir "$tmp" \
    --mpirun "${MPIRUN:-mpirun}" --mpirun-args "${xargs_[*]}" \
    --n "$(list "${SCALING_N:-1e4 1e5 1e6 1e7}")" \
    --n-ranks "${SCALING_N_RANKS:-2}" \
    --ranks "$(list "${SCALING_RANKS:-1 2 4}")" \
    --ranks-n "${SCALING_RANKS_N:-1e6}" \
    --k "${SCALING_K:-64}" \
    --batch "$(list "${SCALING_BATCH:-1 64}")" \
    --steps "${SCALING_STEPS:-10}" \
    --repeat "${SCALING_REPEAT:-3}" \
    "$@"
echo
MPLBACKEND=Agg "$python" "$root/postprocess/plot_scaling.py" "$out/scaling.h5" --outdir "$out"
