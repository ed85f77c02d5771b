#!/bin/bash
# A sweep as a Slurm job array of K parts plus a merge job that combines
# them when every part is complete:
#
#   jobscripts/submit_sweep.sh K DECK [section.key=value ...]
#
# submits `sbatch --array=0-(K-1) study.sbatch DECK ...` (each task runs
# `uhn run DECK --part I/K`, checkpointing and requeueing itself as
# study.sbatch does) and `sbatch --dependency=afterok:ARRAY merge.sbatch K
# DECK ...`, and prints both job ids. Extra sbatch options for both jobs go in
# UHN_SBATCH_ARGS (e.g. "-p compute -t 02:00:00 -n 32"; the array tasks'
# shape comes from study.sbatch's #SBATCH lines otherwise).
#
# Without Slurm (no sbatch on PATH, or UHN_NO_SLURM=1) it runs the same parts
# one after another with `bash study.sbatch`, then the merge, on this machine:
# the same files and results.
set -euo pipefail

prog=submit_sweep.sh
if [[ $# -lt 2 || ! $1 =~ ^[1-9][0-9]*$ ]]; then
    echo "$prog: usage: $prog K DECK [section.key=value ...] (K: the number of parts)" >&2
    exit 2
fi
parts=$1
shift
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

if [[ ${UHN_NO_SLURM:-0} == 1 ]] || ! command -v sbatch >/dev/null; then
    echo "$prog: no Slurm here: running the $parts parts and the merge one after another"
    for ((i = 0; i < parts; ++i)); do
        bash "$here/study.sbatch" "$@" --part "$i/$parts" || exit $?
    done
    exec bash "$here/merge.sbatch" "$parts" "$@"
fi

# shellcheck disable=SC2086 # UHN_SBATCH_ARGS is split on purpose
array=$(sbatch --parsable --array="0-$((parts - 1))" --export="ALL,UHN_PARTS=$parts" \
    ${UHN_SBATCH_ARGS:-} "$here/study.sbatch" "$@")
array=${array%%;*} # "jobid;cluster" on federated clusters
# shellcheck disable=SC2086
merge=$(sbatch --parsable --dependency="afterok:$array" ${UHN_SBATCH_ARGS:-} \
    "$here/merge.sbatch" "$parts" "$@")
merge=${merge%%;*}
echo "$prog: array job $array ($parts parts of the sweep), merge job $merge (after every part is complete)"
echo "array=$array merge=$merge"
