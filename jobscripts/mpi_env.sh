# shellcheck shell=bash
# Sourced by the job scripts: the launcher flags and environment Open MPI needs
# here. Sets the array MPIFLAGS for "$MPIEXEC" (which the caller has checked):
# --oversubscribe (more ranks than cores), and as root the two variables Open
# MPI requires; exports OMP_NUM_THREADS (default 1: one thread per rank).
MPIFLAGS=()
if "$MPIEXEC" --version 2>/dev/null | grep -q "Open MPI"; then
  MPIFLAGS+=(--oversubscribe)
  if [[ $(id -u) -eq 0 ]]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  fi
fi
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
