#!/usr/bin/env bash
# The Slurm job scripts (jobscripts/study.sbatch, and the sweep's
# submit_sweep.sh + merge.sbatch) on a real one-node Slurm started for the test
# (tests/slurm/slurm_cluster.sh), against `mpirun -n 2 uhn run` of the same
# tiny synthetic deck. One case per CTest test:
#
#   study     study.sbatch -n 2 under mpirun, and under srun --mpi=pmix
#             (UHN_LAUNCHER=srun), both COMPLETED, the log says the study is
#             complete, and the results equal the mpirun run's
#   requeue   an 8-point study paused 1 s after each point
#             (UHN_STUDY_POINT_PAUSE): once the first checkpoint is on disk,
#             `scancel --signal=USR1 --batch` (what --signal=B:USR1@300 sends);
#             uhn stops with status 3, the job requeues itself (same id,
#             restart 1), resumes and completes: the results equal an
#             uninterrupted run, provenance resumes = 1
#   bad_deck  a deck with an unknown similarity: the job FAILED with exit code
#             2, its log has uhn's one line naming the deck line, no results
#             file and no checkpoint
#   sweep     jobscripts/submit_sweep.sh 3 DECK: a 3-task array (each task its
#             --part I/3 file) and the merge job after it, points paused 1 s;
#             task 0 (5 of the 8 points) gets USR1 after its first checkpoint
#             and requeues itself (restart 1) while the merge waits; the merged
#             file equals the single run's
#   scripts   the workstation scripts submitted unchanged with sbatch:
#             run_study.sh (under mpirun) equals the mpirun run and writes its
#             table and plot; scaling.sh (under srun --mpi=pmix) writes
#             scaling.h5 with its vs_n, vs_ranks and weak sweeps, and the plots
#
#   slurm_check.sh CASE --uhn UHN --mpiexec MPIEXEC --src SOURCE_DIR --work DIR [--limit S]
#
# Exit status: 0 passed, 1 failed, 77 skipped (no munged/slurmctld/slurmd/
# sbatch on this machine). Every daemon and job the test started is stopped by
# PID when it ends, fails, or runs past --limit seconds (default 150).
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=slurm_cluster.sh
source "$here/slurm_cluster.sh"

case=${1:-}
shift || true
uhn='' mpiexec=mpirun src='' work='' limit=150 watchdog=''
while (($#)); do
    case $1 in
    --uhn) uhn=$2 ;;
    --mpiexec) mpiexec=$2 ;;
    --src) src=$2 ;;
    --work) work=$2 ;;
    --limit) limit=$2 ;;
    *)
        echo "slurm_check.sh: unknown argument '$1'" >&2
        exit 1
        ;;
    esac
    shift 2
done
if [[ -z $case || -z $uhn || -z $src || -z $work ]]; then
    echo "usage: slurm_check.sh study|requeue|bad_deck|sweep|scripts --uhn UHN --mpiexec MPIEXEC --src SRC --work DIR" >&2
    exit 1
fi
case $case in
study | requeue | bad_deck | sweep | scripts) ;;
*)
    echo "slurm_check.sh: unknown case '$case' (study, requeue, bad_deck, sweep, scripts)" >&2
    exit 1
    ;;
esac
if ! slurm_available; then
    echo "slurm_check.sh: SKIP: munged, slurmctld, slurmd or sbatch not installed (slurm-wlm, munge)"
    exit 77
fi
PY=/usr/bin/python3
same() { "$PY" "$here/same_results.py" "$@"; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
export UHN=$uhn
# The job scripts' settings come from this environment (sbatch exports it).
unset UHN_LAUNCHER UHN_LAUNCHER_FLAGS UHN_RANKS UHN_PARTS UHN_NO_SLURM UHN_REQUEUE UHN_REQUEUE_MODE UHN_STUDY_POINT_PAUSE \
    UHN_RESTARTS UHN_MAX_RESTARTS UHN_SBATCH_ARGS
# Nothing of an outer Slurm job (ctest run inside salloc) reaches the test's.
# shellcheck disable=SC2046 # one name per word
unset $(compgen -v | grep -E '^(SLURM|SBATCH|SRUN|SALLOC)_' | grep -v '^SLURM_CLUSTER_')

log() { echo "slurm_check[$case]: $*"; }
fail() {
    echo "slurm_check[$case]: FAIL: $*" >&2
    local f
    for f in "$work"/*/*.out; do
        [[ -f $f ]] && { echo "----- $f"; cat "$f"; }
    done
    slurm_logs
    echo "slurm_check[$case]: FAIL: $*" >&2 # again, below the logs
    exit 1 # the EXIT trap stops the cluster
}

# A deck of tiny synthetic points (seconds at 2 ranks). DIR NAME N_LIST
# SIMILARITIES writes DIR/NAME.ini with output.file NAME.h5 (relative: the
# same deck text in every folder).
write_deck() {
    mkdir -p "$1"
    cat >"$1/$2.ini" <<EOF
[data]
source = synthetic:uniform?n=2000&h=8&w=8&seed=3

[memory]
n = $3

[network]
similarity = $4
beta = 10

[query]
corruption = mask_top
level = 0.5
count = 50

[experiment]
trials = 2
seed = 7

[output]
file = $2.h5
save_images = 2
quiet = on
EOF
}

# The reference: mpirun -n 2 uhn run in DIR.
reference() { # DIR DECK
    (cd "$1" && timeout 40 "$mpiexec" --oversubscribe -n 2 "$uhn" run "$2") >"$1/ref.log" 2>&1 ||
        { cat "$1/ref.log"; fail "the reference run 'mpirun -n 2 uhn run $2' failed"; }
}

# Submit from DIR (its folder is the job's submit directory): prints the id.
submit() { # DIR sbatch-args...
    local dir=$1 id
    shift
    id=$(cd "$dir" && sbatch --parsable "$@") || fail "sbatch $* failed"
    echo "${id%%;*}"
}

expect_state() { # ID WANT TIMEOUT
    local got
    got=$(slurm_wait_job "$1" "$3") || fail "job $1 still $got after $3 s (want $2)"
    [[ $got == "$2" ]] || fail "job $1 ended $got, want $2"
}

expect_log() { # FILE FIXED-STRING
    grep -qF -- "$2" "$1" || fail "$1 lacks the line '$2'"
}

exit_code() { scontrol show job "$1" | sed -n 's/.* ExitCode=\([0-9:]*\).*/\1/p' | head -n 1; }

case_study() {
    write_deck "$work/ref" small "100, 200, 400, 800" "dot, euclidean"
    reference "$work/ref" small.ini
    write_deck "$work/mpirun" small "100, 200, 400, 800" "dot, euclidean"
    write_deck "$work/srun" small "100, 200, 400, 800" "dot, euclidean"
    local a b
    a=$(submit "$work/mpirun" -n 2 -o job.out "$src/jobscripts/study.sbatch" small.ini)
    b=$(UHN_LAUNCHER=srun UHN_LAUNCHER_FLAGS=--mpi=pmix \
        submit "$work/srun" -n 2 -o job.out "$src/jobscripts/study.sbatch" small.ini)
    expect_state "$a" COMPLETED 60
    expect_state "$b" COMPLETED 60
    local d
    for d in mpirun srun; do
        expect_log "$work/$d/job.out" "study.sbatch: the study is complete"
        expect_log "$work/$d/job.out" "uhn run exited with status 0"
        [[ ! -e $work/$d/small.h5.partial ]] || fail "$d: small.h5.partial left behind"
        same "$work/$d/small.h5" "$work/ref/small.h5" --what "study.sbatch ($d)" ||
            fail "$d: the job's results differ from mpirun's"
        [[ $($PY -c "import h5py, sys; print(h5py.File(sys.argv[1])['provenance'].attrs['ranks'])" \
            "$work/$d/small.h5") == 2 ]] || fail "$d: provenance ranks is not 2"
    done
    grep -qE "^command: (/[^ ]*/)?srun .*--mpi=pmix .*run small.ini$" "$work/srun/job.out" ||
        fail "$work/srun/job.out: the command is not 'srun ... --mpi=pmix ... uhn run small.ini'"
    ! grep -qE "^command: .*mpirun" "$work/srun/job.out" || fail "the srun job ran mpirun"
    log "mpirun and srun --mpi=pmix jobs equal mpirun -n 2"
}

case_requeue() {
    local ns="100, 110, 120, 130, 140, 150, 160, 170" id i
    write_deck "$work/ref" slow "$ns" dot
    reference "$work/ref" slow.ini
    write_deck "$work/job" slow "$ns" dot
    id=$(UHN_STUDY_POINT_PAUSE=1 submit "$work/job" -n 2 -o job.out \
        "$src/jobscripts/study.sbatch" slow.ini)
    for ((i = 0; i < 300; i++)); do
        [[ -f $work/job/slow.h5.partial ]] && break
        sleep 0.1
    done
    [[ -f $work/job/slow.h5.partial ]] || fail "no checkpoint slow.h5.partial after 30 s"
    [[ $(slurm_job_state "$id") == RUNNING ]] || fail "job $id is not running at its first checkpoint"
    scancel --signal=USR1 --batch "$id" || fail "scancel --signal=USR1 --batch $id failed"
    # Held cred_expire (10 s) after the requeue, then 8 points at 1 s.
    expect_state "$id" COMPLETED 90
    local out=$work/job/job.out
    expect_log "$out" "got SIGUSR1; asking uhn to checkpoint and stop (SIGUSR1)"
    expect_log "$out" "uhn run exited with status 3"
    expect_log "$out" "study.sbatch: requeued job $id; the next run resumes the study"
    expect_log "$out" "job $id (uhn-study), restart 1,"
    expect_log "$out" "study.sbatch: the study is complete"
    grep -qE "^uhn: stopped by SIGUSR1 after point [0-6]; [1-7] of 8 are done in 'slow.h5.partial'" "$out" ||
        fail "$out lacks uhn's 'stopped by SIGUSR1 after point ...' line"
    [[ $(scontrol show job "$id" | grep -o 'Restarts=[0-9]*') == Restarts=1 ]] ||
        fail "job $id: $(scontrol show job "$id" | grep -o 'Restarts=[0-9]*'), want Restarts=1"
    [[ ! -e $work/job/slow.h5.partial ]] || fail "slow.h5.partial left behind"
    same "$work/job/slow.h5" "$work/ref/slow.h5" --what "requeued study.sbatch" ||
        fail "the requeued job's results differ from an uninterrupted run"
    [[ $($PY -c "import h5py, sys; print(h5py.File(sys.argv[1])['provenance'].attrs['resumes'])" \
        "$work/job/slow.h5") == 1 ]] || fail "provenance resumes is not 1"
    log "USR1 -> status 3 -> requeued (restart 1) -> resumed -> identical to an uninterrupted run"
}

case_bad_deck() {
    write_deck "$work/job" bad "100, 200" "dot, bogus"
    local id
    id=$(submit "$work/job" -n 2 -o job.out "$src/jobscripts/study.sbatch" bad.ini)
    expect_state "$id" FAILED 60
    [[ $(exit_code "$id") == 2:0 ]] || fail "job $id: ExitCode=$(exit_code "$id"), want 2:0"
    local out=$work/job/job.out
    expect_log "$out" "uhn: bad.ini:8: [network] similarity: unknown name 'bogus' (valid: dot, cosine, euclidean, manhattan, kl, reverse_kl, jensen_shannon)"
    expect_log "$out" "uhn run exited with status 2"
    # uhn's lines (not the script's own "uhn: PROGRAM" header line): just the one
    [[ $(grep '^uhn: ' "$out" | grep -cvxF "uhn: $uhn") == 1 ]] ||
        fail "$out: not exactly one line from uhn"
    ! grep -q "requeue" "$out" || fail "$out: a bad deck was requeued"
    local f
    for f in bad.h5 bad.h5.partial; do
        [[ ! -e $work/job/$f ]] || fail "$f written for a bad deck"
    done
    log "bad deck: FAILED, exit code 2, uhn's line in the log, no results file"
}

case_sweep() {
    local k=3 f i
    for f in submit_sweep.sh merge.sbatch; do
        [[ -f $src/jobscripts/$f ]] || fail "jobscripts/$f is missing"
    done
    write_deck "$work/ref" sweep "100, 200, 400, 800" "dot, euclidean"
    reference "$work/ref" sweep.ini
    write_deck "$work/job" sweep "100, 200, 400, 800" "dot, euclidean"
    # 2 tasks per part (study.sbatch asks for 4; the test node may have 2 CPUs)
    (cd "$work/job" && UHN_STUDY_POINT_PAUSE=1 UHN_SBATCH_ARGS="-n 2" \
        bash "$src/jobscripts/submit_sweep.sh" "$k" sweep.ini) >"$work/job/submit.out" 2>&1 ||
        { cat "$work/job/submit.out"; fail "submit_sweep.sh $k sweep.ini failed"; }
    cat "$work/job/submit.out"
    local array
    array=$(sed -n 's/^array=\([0-9]*\) merge=.*/\1/p' "$work/job/submit.out")
    [[ -n $array ]] || fail "submit_sweep.sh printed no 'array=ID merge=ID' line"
    # Preemption of an array task: task 0 (the 5 lightest points) is sent what
    # --signal=B:USR1@300 sends, once its first checkpoint is on disk.
    for ((i = 0; i < 600; i++)); do
        [[ -f $work/job/sweep.part0of$k.h5.partial ]] && break
        sleep 0.1
    done
    [[ -f $work/job/sweep.part0of$k.h5.partial ]] || fail "no checkpoint of part 0 after 60 s"
    # For an array task Slurm 22.05 delivers the signal yet answers "Job can
    # not be altered now, try again later", and scancel retries every few
    # seconds until the requeued task runs again and gets a second USR1. So
    # scancel gets 3 s (the first try), and the log must show one signal.
    local task0 rc
    task0=$(squeue -h -j "${array}_0" -o %A)
    [[ $task0 =~ ^[0-9]+$ ]] || fail "squeue has no job id of array task ${array}_0 ('$task0')"
    timeout 3 scancel --signal=USR1 --batch "$task0"
    rc=$?
    ((rc == 0 || rc == 124)) || fail "scancel --signal=USR1 --batch $task0 failed ($rc)"
    # Every job of the sweep (the array's tasks and the merge) must end
    # COMPLETED; a task that fails leaves the merge pending for ever
    # (DependencyNeverSatisfied), so any other end fails the test at once.
    local jobs j bad
    for ((i = 0; i < 600; i++)); do
        jobs=$(scontrol show job -o | sed -n 's/^JobId=\([0-9]*\) .*JobState=\([A-Z_]*\) Reason=\([^ ]*\).*/\1:\2:\3/p')
        bad=
        for j in $jobs; do
            case $j in
            *:COMPLETED:* | *:PENDING:None | *:PENDING:Dependency | *:PENDING:Resources | \
                *:PENDING:Priority | *:PENDING:BeginTime | *:RUNNING:* | *:COMPLETING:* | \
                *:CONFIGURING:* | *:REQUEUED:*) ;;
            *) bad+=" $j" ;;
            esac
        done
        [[ -z $bad ]] || fail "sweep jobs (id:state:reason):$bad"
        [[ -n $jobs && -z $(squeue -h -o %i) ]] && break
        sleep 0.2
    done
    [[ -z $(squeue -h -o %i) ]] || fail "jobs still queued after 120 s: $(squeue -h)"
    local t0log
    t0log=$(grep -lF "study.sbatch: requeued job" "$work"/job/uhn-study-*.out | head -n 1)
    [[ -n $t0log ]] || fail "no array task log says 'study.sbatch: requeued job'"
    expect_log "$t0log" "uhn run exited with status 3"
    expect_log "$t0log" "--part 0/$k"
    expect_log "$t0log" "restart 1,"
    [[ $(grep -c "got SIGUSR1" "$t0log") == 1 ]] || fail "$t0log: not exactly one SIGUSR1"
    [[ $(scontrol show job "$task0" | grep -o 'Restarts=[0-9]*') == Restarts=1 ]] ||
        fail "task $task0: $(scontrol show job "$task0" | grep -o 'Restarts=[0-9]*'), want Restarts=1"
    expect_log "$t0log" "study.sbatch: the study is complete"
    [[ $(wc -w <<<"$jobs") == $((k + 1)) ]] || fail "$((k + 1)) jobs expected, Slurm lists: $jobs"
    local parts=0
    for ((i = 0; i < k; i++)); do
        [[ -f $work/job/sweep.part${i}of$k.h5 ]] && parts=$((parts + 1))
    done
    ((parts == k)) || fail "$parts of $k part files sweep.partIof$k.h5 written"
    [[ -f $work/job/sweep.h5 ]] || fail "no merged sweep.h5"
    local mlog=("$work"/job/uhn-merge-*.out)
    [[ -f ${mlog[0]} ]] || fail "no merge log uhn-merge-JOBID.out"
    expect_log "${mlog[0]}" "uhn merge exited with status 0"
    same "$work/job/sweep.h5" "$work/ref/sweep.h5" --what "submit_sweep.sh $k" ||
        fail "the merged sweep differs from the single run"
    [[ $($PY -c "import h5py, sys; print(h5py.File(sys.argv[1])['provenance'].attrs['resumes'])" \
        "$work/job/sweep.part0of$k.h5") == 1 ]] || fail "part 0: provenance resumes is not 1"
    log "a $k-task array (task 0 preempted by USR1, requeued, resumed) and its merge equal the single run"
}

case_scripts() {
    # run_study.sh runs the deck by its absolute path (recorded in deck_name):
    # so does the reference, from a folder of its own.
    write_deck "$work/study" small "100, 200" "dot, euclidean"
    mkdir -p "$work/ref" "$work/scaling"
    reference "$work/ref" "$work/study/small.ini"
    local a b
    a=$(submit "$work/study" -n 2 -o job.out "$src/jobscripts/run_study.sh" small.ini out)
    b=$(UHN_LAUNCHER=srun UHN_LAUNCHER_FLAGS=--mpi=pmix SCALING_N=1000 SCALING_N_RANKS=2 \
        SCALING_RANKS="1 2" SCALING_RANKS_N=1000 SCALING_WEAK_RANKS="1 2" \
        SCALING_WEAK_N_PER_RANK=500 SCALING_K=8 SCALING_BATCH=1 SCALING_STEPS=2 SCALING_REPEAT=1 \
        SCALING_STUDY=2000x16 SCALING_STUDY_RANKS="1 2" \
        SCALING_OUT="$work/scaling" submit "$work/scaling" -n 2 -o job.out \
        "$src/jobscripts/scaling.sh" --allreduce-bytes 8 --allreduce-seconds 0.01)
    expect_state "$a" COMPLETED 90
    expect_state "$b" COMPLETED 120
    expect_log "$work/study/job.out" "run_study.sh: results in $work/study/out/small.h5"
    local f
    for f in small.h5 small.md small.png; do
        [[ -s $work/study/out/$f ]] || fail "run_study.sh under sbatch wrote no out/$f"
    done
    same "$work/study/out/small.h5" "$work/ref/small.h5" --what "sbatch run_study.sh" ||
        fail "run_study.sh under sbatch: results differ from mpirun's"
    for f in scaling.h5 scaling_vs_n.png scaling_vs_ranks.png scaling_efficiency.png scaling_tables.md \
        study_scale.h5 study_scale.md; do
        [[ -s $work/scaling/$f ]] || fail "scaling.sh under sbatch (srun) wrote no $f"
    done
    "$PY" - "$work/scaling/scaling.h5" "$work/scaling/study_scale.h5" <<'PY' || fail "scaling.h5 from sbatch (srun): wrong layout"
import sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    assert list(f["vs_ranks/ranks"][()]) == [1, 2], f["vs_ranks/ranks"][()]
    assert list(f["weak/ranks"][()]) == [1, 2] and list(f["weak/n_memories"][()]) == [500, 1000]
    assert f["weak/total_s_per_step"].shape == (1, 2)
    assert (f["weak/wall_s"][()] > 0).all() and (f["weak/compute_s_per_step"][()] >= 0).all()
    assert f.attrs["mpirun"] == "srun --ntasks=R --mpi=pmix", f.attrs["mpirun"]
with h5py.File(sys.argv[2], "r") as f:  # study_scale.h5: srun's tasks sampled too
    assert list(f["ranks"][()]) == [1, 2] and f["study/wall_s"].shape == (1, 2, 1)
    for g in ("study", "recall"):
        assert (f[g + "/peak_anon_bytes"][()] > 0).all(), g
    assert f.attrs["mpirun"] == "srun --ntasks=R --mpi=pmix", f.attrs["mpirun"]
PY
    log "run_study.sh and scaling.sh (srun) run unchanged under sbatch"
}

rm -rf "$work"
mkdir -p "$work" || exit 1
# A watchdog: TERM to this script (whose trap stops the cluster) past the
# limit, before CTest's own timeout would kill it and leave daemons behind.
# It ends by itself when this script is gone (however it ended), so that
# CTest, which waits for every process holding the test's output, never does.
(
    trap 'exit 0' TERM
    for ((t = 0; t < limit; t++)); do
        sleep 1
        kill -0 $$ 2>/dev/null || exit 0
    done
    echo "slurm_check[$case]: past $limit s: stopping" >&2
    kill -TERM $$
) &
watchdog=$!
stop_all() {
    [[ -n $watchdog ]] && kill "$watchdog" 2>/dev/null
    watchdog=
    slurm_stop
}
slurm_start "$work/cluster" || { stop_all; fail "could not start the test cluster"; }
# slurm_start's traps call slurm_stop; these also end the watchdog.
trap 'stop_all' EXIT
trap 'stop_all; exit 143' TERM
trap 'stop_all; exit 130' INT

SECONDS=0
"case_$case"
log "passed in $SECONDS s"
