#!/usr/bin/python3
"""Thread binding: a rank that runs more OpenMP threads than the cores it may
run on says so in one line on stderr, and the run still succeeds with the same
results; a rank that owns exactly as many CPUs as it runs threads, with
OMP_PROC_BIND and OMP_PLACES unset, has each thread pinned to one of them
(`--verbose` reports on how many ranks, from each thread's affinity read back).

`mpiexec -n 1` binds its rank to one core (Open MPI's default at <= 2 ranks),
so OMP_NUM_THREADS=2 there makes two threads share that core; `--bind-to none`
gives the rank every core of the node (a warning then only when the node has
one core). The expectations are computed from this machine's own affinity.
"""
import os
import re
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from uhn_cli import Runner, TestFailure, check, common_args, program_stderr_lines  # noqa: E402

WARN = ("uhn: warning: rank 0 runs 2 OpenMP threads on the 1 core(s) it is bound to, so threads "
        "share cores; bind each rank to OMP_NUM_THREADS cores (mpirun --map-by slot:PE=2, or "
        "--bind-to none) or lower OMP_NUM_THREADS")


def main():
    args = common_args(__doc__).parse_args()
    r = Runner(args)
    d = args.workdir or __import__("tempfile").mkdtemp(prefix="uhn_binding_")
    rng = np.random.default_rng(3)
    with h5py.File(os.path.join(d, "in.h5"), "w") as f:
        f["memories"] = rng.random((50, 8), dtype=np.float32)
        f["queries"] = rng.random((4, 8), dtype=np.float32)
    argv = ["recall", "--memories", os.path.join(d, "in.h5"), "--queries", os.path.join(d, "in.h5"),
            "--quiet"]
    pre = r.pre
    outs = {}
    for name, threads, flags in (("bound, 2 threads", "2", []), ("bound, 1 thread", "1", []),
                                 ("unbound, 2 threads", "2", ["--bind-to", "none"])):
        r.env["OMP_NUM_THREADS"] = threads
        r.pre = pre + flags + ["-x", "OMP_NUM_THREADS"]
        out = os.path.join(d, f"out_{len(outs)}.h5")
        rc, _, err = r.run(1, argv + ["--output", out])
        check(rc == 0, f"[{name}] exit {rc}\n{err}")
        lines = program_stderr_lines(err)
        if name == "bound, 2 threads":
            check(lines == [WARN], f"[{name}] stderr should be the one warning line, got {lines}")
        elif name == "unbound, 2 threads" and len(os.sched_getaffinity(0)) < 2:
            check(len(lines) == 1 and "warning" in lines[0], f"[{name}] one core: expected the warning, got {lines}")
        else:
            check(lines == [], f"[{name}] stderr should be empty, got {lines}")
        with h5py.File(out, "r") as f:
            outs[name] = f["output"][()]
    # Pinning: 1 rank x 2 threads owning the node's CPUs (pinned only where
    # the node has exactly 2); the same with OMP_PROC_BIND set (the user's
    # binding wins); 2 ranks x 2 threads on the same CPUs (shared: never).
    cpus = len(os.sched_getaffinity(0))
    for name, ranks, extra, pinned in (
            ("1 rank owns the cpus", 1, {}, 1 if cpus == 2 else 0),
            ("OMP_PROC_BIND=false", 1, {"OMP_PROC_BIND": "false"}, 0),
            ("2 ranks share the cpus", 2, {}, 0)):
        r.env["OMP_NUM_THREADS"] = "2"
        r.env.pop("OMP_PROC_BIND", None)
        r.env.update(extra)
        r.pre = pre + ["--bind-to", "none", "-x", "OMP_NUM_THREADS"] + \
            [a for k in extra for a in ("-x", k)]
        out = os.path.join(d, f"out_{len(outs)}.h5")
        rc, _, err = r.run(ranks, argv + ["--output", out, "--verbose"])
        check(rc == 0, f"[{name}] exit {rc}\n{err}")
        want = f"  threads pinned one per CPU by uhn on {pinned} of {ranks} rank(s)"
        lines = program_stderr_lines(err)
        check(want in lines, f"[{name}] expected the line {want!r}, got {lines}")
        # the phase timers (min / mean / max over ranks); step1, the first
        # step's compute + reduce, is part of those two
        ph = {m.group(1): [float(x) for x in m.groups()[1:]] for m in
              (re.match(r"^\s+(compute|reduce|io|step1)\s+(\S+)\s+(\S+)\s+(\S+)$", l)
               for l in lines) if m}
        check(set(ph) == {"compute", "reduce", "io", "step1"}, f"[{name}] timers {sorted(ph)}")
        if "step1" in ph and "compute" in ph and "reduce" in ph:
            check(0 < ph["step1"][1] <= ph["compute"][1] + ph["reduce"][1] + 2e-6,
                  f"[{name}] step1 {ph['step1']} within compute + reduce")
        with h5py.File(out, "r") as f:
            outs[name] = f["output"][()]
    r.env.pop("OMP_PROC_BIND", None)
    for name, z in outs.items():
        check(np.allclose(z, outs["bound, 1 thread"], rtol=1e-5, atol=1e-6),
              f"[{name}] output differs from the 1-thread run")
    print("binding: warning exactly when threads outnumber the bound cores; threads pinned exactly "
          "when a rank owns its cpus and OMP_PROC_BIND is unset; outputs agree")


if __name__ == "__main__":
    try:
        main()
    except TestFailure as e:
        print(f"FAIL: {e}", file=sys.stderr)
        sys.exit(1)
