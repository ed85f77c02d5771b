#!/bin/bash
# The uhn benchmark, its numpy baseline and uhn beside numpy, PyTorch and FAISS
# on Fashion-MNIST, at 1 and 2 ranks on one node.
#
#   jobscripts/bench.sh [extra `uhn bench` options, e.g. --repeat 5]
#
# 1 rank x 2 OpenMP threads, then 2 ranks x 1 thread (the two ways to fill a
# 2-core node), then the numpy baseline on 2 BLAS threads, measured against the
# limits that `uhn bench` measured at 1 rank; then postprocess/bench_peers.py:
# the workloads of issue 9 (W1 dot, W2 squared L2, W3 manhattan, W4 one query
# iterated, KL and Jensen-Shannon) on the 60,000 training images with
# half-masked queries, `uhn recall` at every rank x thread split beside numpy,
# torch and FAISS, with the ratios and the share of the limits measured in the
# same run. Everything it prints is the result; the CSV (and JSON) files go to
# $BENCH_OUT (default ./bench-results).
#
# Environment:
#   UHN                   the uhn program (default: build/uhn, then build-*/uhn)
#   BENCH_OUT             directory for the CSV files (default ./bench-results)
#   BENCH_RANKS           rank counts to run (default "1 2")
#   BENCH_CORES           cores of the node shared out among ranks (default: nproc)
#   BENCH_OPENBLAS_CORETYPE  OpenBLAS kernel family to force; by default
#                         OPENBLAS_CORETYPE is unset so that OpenBLAS picks the
#                         CPU's own (forcing Haswell halves SGEMM on AVX-512 CPUs)
#   UHN_LAUNCHER, UHN_LAUNCHER_FLAGS  the launcher environment of every script
#                         (jobscripts/mpi_env.sh; default mpirun)
#   PYTHON                the Python with numpy (default /usr/bin/python3)
#   BENCH_PEERS           0: leave out the bench_peers.py run (default 1)
#   BENCH_PEERS_ARGS      extra bench_peers.py options, e.g. "--l1-batch 100"
#                         when FAISS and torch.cdist are too slow at B = 1000
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Under sbatch this runs from Slurm's copy of the script: the repository is then
# the one of the job's Command.
[[ -f $root/jobscripts/mpi_env.sh ]] || root=$(cd "$(dirname "$(scontrol show job -o "${SLURM_JOB_ID:-0}" |
  grep -o ' Command=[^ ]*' | head -n 1 | cut -d= -f2)")/.." && pwd)
# shellcheck source=jobscripts/find_uhn.sh
source "$root/jobscripts/find_uhn.sh"
out=${BENCH_OUT:-$PWD/bench-results}
mkdir -p "$out"
cores=${BENCH_CORES:-$(getconf _NPROCESSORS_ONLN)} # not nproc: it reports OMP_NUM_THREADS
python=${PYTHON:-/usr/bin/python3}
PROG=bench.sh
# shellcheck source=jobscripts/mpi_env.sh
source "$root/jobscripts/mpi_env.sh"
uhn_launcher_check

if [[ -n ${BENCH_OPENBLAS_CORETYPE:-} ]]; then
    export OPENBLAS_CORETYPE=$BENCH_OPENBLAS_CORETYPE
else
    unset OPENBLAS_CORETYPE
fi

# Percentage of the node's CPU time that was idle over one second: the figures
# mean little unless it is near 100 (on a shared node, rerun in a quiet spell).
idle() {
    local a b
    read -r -a a < /proc/stat
    sleep 1
    read -r -a b < /proc/stat
    local i t=0
    for i in 1 2 3 4 5 6 7 8; do t=$((t + b[i] - a[i])); done
    echo $((t > 0 ? 100 * (b[4] - a[4]) / t : 0))
}

echo "== bench.sh on $(hostname), $(date '+%Y-%m-%d %H:%M:%S %Z')"
echo "   uhn: $uhn"
echo "   $("$uhn" --version)"
echo "   cores: $cores; load average: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the node skews every figure)"
echo "   OPENBLAS_CORETYPE: ${OPENBLAS_CORETYPE:-(unset: OpenBLAS detects the CPU)}"
echo

for ranks in ${BENCH_RANKS:-1 2}; do
    threads=$((cores / ranks))
    ((threads >= 1)) || threads=1
    # One rank owns the whole node (no binding: its threads would share one
    # core); several ranks are bound to their own cores (mpi_env.sh).
    echo "== uhn bench: $ranks rank(s) x $threads thread(s); node idle $(idle)% over the last second"
    OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads \
        uhn_launch "$ranks" "$uhn" bench --csv "$out/uhn_bench_r${ranks}.csv" "$@"
    echo
done

# The numpy baseline repeats as often as `uhn bench` was asked to.
npargs=()
args=("$@")
for ((i = 0; i + 1 < ${#args[@]}; ++i)); do
    [[ ${args[i]} == --repeat ]] && npargs=(--repeat "${args[i + 1]}")
done
limits=()
first=$(set -- ${BENCH_RANKS:-1 2}; echo "$1")
[[ -f $out/uhn_bench_r${first}.csv ]] && limits=(--limits "$out/uhn_bench_r${first}.csv")
echo "== numpy baseline: $cores BLAS thread(s); node idle $(idle)% over the last second"
OMP_NUM_THREADS=$cores OPENBLAS_NUM_THREADS=$cores "$python" "$root/postprocess/bench_numpy.py" "${limits[@]}" "${npargs[@]}"
echo

if [[ ${BENCH_PEERS:-1} != 0 ]]; then
    # The uhn splits of this script, widest rank count first (the issue's 2 x 1).
    configs=()
    for ranks in ${BENCH_RANKS:-1 2}; do
        threads=$((cores / ranks))
        ((threads >= 1)) || threads=1
        configs=("${ranks}x${threads}" "${configs[@]}")
    done
    echo "== uhn beside numpy, torch and FAISS (postprocess/bench_peers.py); node idle $(idle)% over the last second"
    # shellcheck disable=SC2086  # BENCH_PEERS_ARGS is a list of options
    "$python" "$root/postprocess/bench_peers.py" --uhn "$uhn" --mpirun "$UHN_LAUNCHER" \
        --configs "$(IFS=,; echo "${configs[*]}")" --cores "$cores" "${npargs[@]}" \
        --csv "$out/peers.csv" --json "$out/peers.json" ${BENCH_PEERS_ARGS:-}
    echo
fi
echo "== CSV files in $out"
