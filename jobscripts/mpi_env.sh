# shellcheck shell=bash
# The one launcher environment of uhn's job scripts, sourced by every one of
# them (run_study.sh, run_hen.sh, run_cross.sh, demo.sh, bench.sh, scaling.sh,
# study.sbatch, merge.sbatch). The same variables, everywhere:
#
#   UHN_LAUNCHER        the MPI launcher: mpirun (default), mpiexec, srun, or a
#                       path to one of them. Open MPI's mpirun takes its nodes
#                       from a Slurm allocation, and runs on this machine
#                       outside one, so the default works in both.
#   UHN_LAUNCHER_FLAGS  extra flags for it, split on spaces (srun: --mpi=pmix)
#   UHN_RANKS           ranks (default: SLURM_NTASKS in a Slurm job, else 2)
#   OMP_NUM_THREADS     threads per rank (default: SLURM_CPUS_PER_TASK in a
#                       Slurm job, else 1)
#
# (MPIEXEC and MPIRUN, the names of earlier versions, are read when
# UHN_LAUNCHER is unset.) Sets UHN_LAUNCHER, UHN_RANKS, exports
# OMP_NUM_THREADS, and defines
#
#   uhn_launch RANKS PROGRAM [ARGS...]   runs PROGRAM on RANKS ranks
#   uhn_launch_text RANKS PROGRAM ...    the command uhn_launch runs, as text
#   uhn_launcher_check                   exits with a message when the
#                                        launcher is not installed
#
# Open MPI gets --oversubscribe (more ranks than cores on a workstation), the
# thread variables forwarded to every node (-x), and each rank bound to its
# OMP_NUM_THREADS cores when the ranks fit the cores of a node; as root, the
# two variables Open MPI requires. srun gets --ntasks and --cpus-per-task.
if [[ -z ${UHN_LAUNCHER:-} && -n ${MPIEXEC:-${MPIRUN:-}} ]]; then
  UHN_LAUNCHER=${MPIEXEC:-$MPIRUN}
  echo "note: MPIEXEC/MPIRUN is read as UHN_LAUNCHER, the launcher variable of every uhn script" >&2
fi
UHN_LAUNCHER=${UHN_LAUNCHER:-mpirun}
UHN_RANKS=${UHN_RANKS:-${SLURM_NTASKS:-2}}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-${SLURM_CPUS_PER_TASK:-1}}
# shellcheck disable=SC2206 # split on purpose
UHN_LAUNCHER_ARGS=(${UHN_LAUNCHER_FLAGS:-})

uhn_launcher_check() {
  command -v "$UHN_LAUNCHER" >/dev/null ||
    { echo "${PROG:-uhn}: MPI launcher '$UHN_LAUNCHER' not found (set UHN_LAUNCHER)" >&2; exit 1; }
}

_uhn_open_mpi=0
if [[ $(basename "$UHN_LAUNCHER") != srun ]] && "$UHN_LAUNCHER" --version 2>/dev/null | grep -q "Open MPI"; then
  _uhn_open_mpi=1
  if [[ $(id -u) -eq 0 ]]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  fi
fi

# The launch command of RANKS ranks, in the array _uhn_cmd.
_uhn_command() {
  local ranks=$1
  shift
  local threads=$OMP_NUM_THREADS
  if [[ $(basename "$UHN_LAUNCHER") == srun ]]; then
    _uhn_cmd=("$UHN_LAUNCHER" --ntasks="$ranks" --cpus-per-task="$threads" "${UHN_LAUNCHER_ARGS[@]}" "$@")
  elif ((_uhn_open_mpi)); then
    local cores=${SLURM_CPUS_ON_NODE:-$(getconf _NPROCESSORS_ONLN)} nodes=${SLURM_JOB_NUM_NODES:-1} bind
    local per_node=$(((ranks + nodes - 1) / nodes))
    if ((ranks > 1 && per_node * threads <= cores)); then
      bind=(--map-by "slot:PE=$threads" --bind-to core)
    else
      bind=(--bind-to none) # one rank owns the node, or the ranks share cores
    fi
    local fwd=(-x OMP_NUM_THREADS)
    local v
    for v in OPENBLAS_NUM_THREADS OPENBLAS_CORETYPE; do
      [[ -n ${!v:-} ]] && fwd+=(-x "$v")
    done
    _uhn_cmd=("$UHN_LAUNCHER" --oversubscribe "${bind[@]}" "${fwd[@]}" "${UHN_LAUNCHER_ARGS[@]}" -n "$ranks" "$@")
  else
    _uhn_cmd=("$UHN_LAUNCHER" "${UHN_LAUNCHER_ARGS[@]}" -n "$ranks" "$@")
  fi
}

uhn_launch() {
  _uhn_command "$@"
  "${_uhn_cmd[@]}"
}

uhn_launch_text() {
  _uhn_command "$@"
  echo "${_uhn_cmd[*]}"
}
