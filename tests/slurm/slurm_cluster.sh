# shellcheck shell=bash
# A throw-away one-node Slurm on this machine: munged, slurmctld and slurmd
# started from Debian's `munge` and `slurm-wlm`, with their key, configuration,
# state, spool, logs and sockets all in one directory, on free ports, and
# stopped again by PID. For the tests in tests/slurm/ and for trying job
# scripts by hand:
#
#   source tests/slurm/slurm_cluster.sh
#   slurm_start /tmp/myslurm        # an empty or missing directory; exports SLURM_CONF
#   sbatch --wrap hostname; squeue; sinfo ...
#   slurm_stop                      # cancels the jobs, stops the daemons (by PID)
#
# slurm_start sets a trap on EXIT, INT, TERM, HUP and PIPE that calls slurm_stop, so
# a script that sources this file leaves no daemon behind however it ends (a
# caller with its own EXIT trap calls slurm_stop from it). In an interactive
# shell no trap is set: call slurm_stop yourself.
#
# The daemons run as the calling user (SlurmUser and SlurmdUser): root on CI
# and in Debian containers, tested so; slurmd must be root to run jobs for
# other users, and here every job is the caller's own. munged needs its key
# readable by its user alone, and every directory above its socket searchable
# by all: the socket lives in a /tmp/uhn-munge.XXXXXX of its own. Slurm holds
# a requeued job for AuthInfo's cred_expire (default 120 s): 10 s here.
# Finished jobs stay in `scontrol show job` for MinJobAge = 300 s.
#
# Settings (environment, read by slurm_start):
#   SLURM_CLUSTER_CPUS    CPUs of the node (default: nproc, at least 2;
#                         slurmd takes the configured count, SlurmdParameters=
#                         config_overrides). More than the machine has lets
#                         more jobs run at once, but Open MPI then refuses to
#                         bind more ranks than cores (mpirun --bind-to core)
#   SLURM_CLUSTER_EXTRA   extra slurm.conf lines (newline separated)
#
# Functions:
#   slurm_available       0 when munged, slurmctld, slurmd and sbatch exist
#   slurm_start DIR       start the cluster in DIR; 0 once the node is idle
#   slurm_stop            cancel jobs, stop every daemon and job process this
#                         cluster started; safe to call twice
#   slurm_wait_job ID [TIMEOUT_S]  wait until job ID has ended (sacct-free:
#                         scontrol), print its final state
#   slurm_job_state ID    the job's state (PENDING, RUNNING, COMPLETED, ...)
#   slurm_logs            the daemons' log tails (for a failed test)

SLURM_CLUSTER_DIR=
_slurm_pids=() # the daemons' PIDs, in start order
_slurm_sids=() # their session ids
_slurm_sockdir= # munged's socket directory

slurm_available() {
    local b
    for b in munged slurmctld slurmd sbatch scontrol squeue munge; do
        command -v "$b" >/dev/null 2>&1 || [[ -x /usr/sbin/$b ]] || return 1
    done
}

_slurm_bin() { # the path of a daemon (/usr/sbin may be missing from PATH)
    command -v "$1" 2>/dev/null || echo "/usr/sbin/$1"
}

_slurm_log() { echo "slurm_cluster: $*" >&2; }

# Two free TCP ports on 127.0.0.1 (bound, read, released: good enough for a
# test machine; Slurm's ports are only needed a few seconds later).
_slurm_free_ports() {
    /usr/bin/python3 - <<'EOF'
import socket
socks = []
for _ in range(2):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

# _slurm_wait_file FILE SECONDS: until FILE exists and is not empty
_slurm_wait_file() {
    local i
    for ((i = 0; i < $2 * 10; i++)); do
        [[ -s $1 ]] && return 0
        sleep 0.1
    done
    return 1
}

slurm_logs() {
    local f
    [[ -n $SLURM_CLUSTER_DIR ]] || return 0
    for f in "$SLURM_CLUSTER_DIR"/log/*.log ${_slurm_sockdir:+"$_slurm_sockdir"/munged.log}; do
        [[ -f $f ]] || continue
        echo "----- $f (last 30 lines)"
        tail -n 30 "$f"
    done
}

slurm_start() {
    local dir=${1:?usage: slurm_start DIR}
    if [[ -n $SLURM_CLUSTER_DIR ]]; then
        _slurm_log "a cluster is already running in $SLURM_CLUSTER_DIR; slurm_stop it first"
        return 1
    fi
    if ! slurm_available; then
        _slurm_log "munged, slurmctld, slurmd or sbatch not found (apt-get install slurm-wlm munge)"
        return 1
    fi
    mkdir -p "$dir" || return 1
    dir=$(cd "$dir" && pwd) || return 1
    SLURM_CLUSTER_DIR=$dir
    # Set the trap first: a failure half way still stops what was started.
    # Only in scripts: an interactive shell keeps its own traps.
    if [[ $- != *i* ]]; then
        trap 'slurm_stop' EXIT
        trap 'slurm_stop; exit 130' INT
        trap 'slurm_stop; exit 143' TERM
        trap 'slurm_stop; exit 129' HUP
        trap 'slurm_stop; exit 141' PIPE
    fi

    local user host cpus mem ports ctld_port d_port
    user=$(id -un)
    host=$(hostname -s)
    cpus=${SLURM_CLUSTER_CPUS:-$(nproc)}
    ((cpus < 2)) && cpus=2
    mem=$(awk '/^MemTotal:/ { printf "%d", $2 / 1024 / 2 }' /proc/meminfo)
    ports=$(_slurm_free_ports) || return 1
    read -r ctld_port d_port <<<"$ports"

    # munged insists: key owned by its user, mode 0400 or 0600, and its
    # key, seed, PID and log files in directories no other user may write to
    # (a group-writable build tree under umask 002 is refused); the socket's
    # directory and every one above it searchable by all; a socket path
    # short (108 bytes). DIR may be any of these, so munged's files get a
    # directory of their own in /tmp (its log is copied to DIR/log at the end).
    mkdir -p "$dir"/{etc,state,spool,log,run} || return 1
    chmod 0755 "$dir"/{etc,log,run} && chmod 0700 "$dir"/{state,spool} || return 1
    _slurm_sockdir=$(mktemp -d /tmp/uhn-munge.XXXXXX) && chmod 0755 "$_slurm_sockdir" || return 1
    local key=$_slurm_sockdir/munge.key sock=$_slurm_sockdir/munge.socket
    (umask 077 && head -c 1024 /dev/urandom >"$key") || return 1
    chmod 0400 "$key"

    local munged
    munged=$(_slurm_bin munged)
    # munged forks; its PID file appears once it listens.
    local m=$_slurm_sockdir
    if ! "$munged" --socket="$sock" --key-file="$key" --pid-file="$m/munged.pid" \
        --log-file="$m/munged.log" --seed-file="$m/munged.seed" ||
        ! _slurm_wait_file "$m/munged.pid" 10; then
        _slurm_log "munged did not start:"
        cat "$m/munged.log" >&2
        return 1
    fi
    _slurm_pids+=("$(cat "$m/munged.pid")")

    # The controller must be this host's name (slurmctld checks it); both
    # daemons listen on the loopback address. Requeued jobs are held for
    # AuthInfo's cred_expire (default 120 s): 10 s here, so that tests of
    # requeueing take seconds.
    cat >"$dir/etc/slurm.conf" <<EOF
# Generated by tests/slurm/slurm_cluster.sh: a one-node test cluster.
ClusterName=uhntest
SlurmctldHost=$host(127.0.0.1)
SlurmUser=$user
SlurmdUser=$user
SlurmctldPort=$ctld_port
SlurmdPort=$d_port
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$sock,cred_expire=10
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/slurmd.%n
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
PlugStackConfig=$dir/etc/plugstack.conf
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1
MpiDefault=none
JobRequeue=1
ReturnToService=2
SlurmdParameters=config_overrides
MinJobAge=300
KillWait=5
InactiveLimit=0
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SlurmctldDebug=info
SlurmdDebug=info
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
${SLURM_CLUSTER_EXTRA:-}
EOF
    : >"$dir/etc/plugstack.conf" # not /etc/slurm's: no site plugins
    export SLURM_CONF=$dir/etc/slurm.conf

    local slurmctld slurmd
    slurmctld=$(_slurm_bin slurmctld)
    slurmd=$(_slurm_bin slurmd)
    # -c: a clean start (no jobs or nodes from an earlier state). Both fork
    # into the background and write their PID files.
    if ! "$slurmctld" -c -f "$SLURM_CONF" || ! _slurm_wait_file "$dir/run/slurmctld.pid" 20; then
        _slurm_log "slurmctld did not start; see $dir/log/slurmctld.log"
        slurm_logs >&2
        return 1
    fi
    _slurm_pids+=("$(cat "$dir/run/slurmctld.pid")")
    if ! "$slurmd" -N "$host" -f "$SLURM_CONF" || ! _slurm_wait_file "$dir/run/slurmd.pid" 20; then
        _slurm_log "slurmd did not start; see $dir/log/slurmd.log"
        slurm_logs >&2
        return 1
    fi
    _slurm_pids+=("$(cat "$dir/run/slurmd.pid")")
    local p
    for p in "${_slurm_pids[@]}"; do
        _slurm_sids+=("$(ps -o sid= -p "$p" | tr -d ' ')")
    done

    # Ready when the node is idle.
    local i state
    for ((i = 0; i < 300; i++)); do
        state=$(sinfo -h -n "$host" -o %T 2>/dev/null)
        [[ $state == idle ]] && return 0
        sleep 0.1
    done
    _slurm_log "the node did not become idle within 30 s (state '$state')"
    slurm_logs >&2
    return 1
}

slurm_job_state() {
    local s
    s=$(scontrol show job "$1" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' | head -n 1)
    echo "${s:-UNKNOWN}"
}

slurm_wait_job() { # ID [TIMEOUT_S]: prints the final state; 1 on timeout
    local id=$1 limit=${2:-120} i state
    for ((i = 0; i < limit * 5; i++)); do
        state=$(slurm_job_state "$id")
        case $state in
        COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | BOOT_FAIL | DEADLINE | PREEMPTED)
            echo "$state"
            return 0
            ;;
        esac
        sleep 0.2
    done
    echo "$state"
    return 1
}

# What this cluster left behind besides its daemons: slurmstepd (which starts
# a session of its own and outlives slurmd) and the job processes below it.
# They are the processes whose environment names this cluster's SLURM_CONF
# (slurmd passes its own environment on, sbatch the submitter's), outside the
# caller's session (the caller has SLURM_CONF set too), plus anything still in
# the daemons' own sessions.
_slurm_strays() {
    local conf=$SLURM_CLUSTER_DIR/etc/slurm.conf mysid p sid stat
    local -A env_match=()
    mysid=$(ps -o sid= -p $$ | tr -d ' ')
    while read -r p; do
        p=${p#/proc/}
        env_match[${p%/environ}]=1
    done < <(grep -lzxF "SLURM_CONF=$conf" /proc/[0-9]*/environ 2>/dev/null)
    while read -r p sid stat; do
        [[ $sid != "$mysid" && $stat != Z* ]] || continue
        if [[ -n ${env_match[$p]:-} || " ${_slurm_sids[*]} " == *" $sid "* ]]; then
            echo "$p"
        fi
    done < <(ps -e -o pid=,sid=,stat=)
}

# _slurm_running PID...: true when any of them is alive and not a zombie (a
# container's PID 1 may never reap the daemons' orphans).
_slurm_running() {
    local ids
    ids=$(
        IFS=,
        echo "$*"
    )
    ps -o stat= -p "$ids" 2>/dev/null | grep -qv '^Z'
}

slurm_stop() {
    [[ -n $SLURM_CLUSTER_DIR ]] || return 0
    local pids p i
    # Jobs first, while slurmctld still runs: their processes end with them.
    if [[ -n ${SLURM_CONF:-} ]] && ((${#_slurm_pids[@]} >= 3)) &&
        _slurm_running "${_slurm_pids[1]}"; then
        timeout 10 scancel --quiet --user="$(id -un)" 2>/dev/null
        for ((i = 0; i < 50; i++)); do
            [[ -z $(timeout 5 squeue -h -t RUNNING,COMPLETING -o %i 2>/dev/null) ]] && break
            sleep 0.1
        done
    fi
    # Then slurmd, slurmctld, munged (reverse start order), and whatever is
    # left in their sessions: TERM, up to 5 s, then KILL.
    pids=()
    for ((i = ${#_slurm_pids[@]} - 1; i >= 0; i--)); do pids+=("${_slurm_pids[i]}"); done
    while read -r p; do [[ -n $p ]] && pids+=("$p"); done < <(_slurm_strays)
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for ((i = 0; i < 50; i++)); do
        _slurm_running "${pids[@]}" || break
        sleep 0.1
    done
    while read -r p; do [[ -n $p ]] && pids+=("$p"); done < <(_slurm_strays)
    for p in "${pids[@]}"; do
        if _slurm_running "$p"; then
            _slurm_log "process $p did not stop on SIGTERM: SIGKILL"
            kill -KILL "$p" 2>/dev/null
        fi
    done
    if [[ -n $_slurm_sockdir ]]; then
        cp "$_slurm_sockdir/munged.log" "$SLURM_CLUSTER_DIR/log/" 2>/dev/null
        rm -rf "$_slurm_sockdir"
    fi
    _slurm_pids=()
    _slurm_sids=()
    _slurm_sockdir=
    SLURM_CLUSTER_DIR=
    unset SLURM_CONF
    return 0
}
