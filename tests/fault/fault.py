#!/usr/bin/python3
"""Fault injection: a failure that strikes one rank alone, after the collective
input checks, ends the job with one line and no hang, and loses nothing.

A build with fault injection (UHN_FAULT_INJECTION, on in builds with tests)
reads UHN_FAULT=SITE@RANK[#HIT] (src/core/fault.h): the HIT-th pass of the
named site on that rank takes the site's real failure branch. One CTest test
per case and rank count (2, 3, 4), label `fault`. Each case runs one command
of uhn with the fault on the case's rank and checks:

  - the job ends within --timeout (no hang) with the exit status of the
    failure (1: out of memory, I/O);
  - stderr holds exactly one `uhn:` line (Open MPI's own banners aside), the
    case's message, either agreed ("uhn: MSG", printed by rank 0) or from the
    failed rank itself ("uhn: rank R: MSG", when the others were in a
    collective it could not join and uhn_finish aborted the job);
  - no output file, no temporary file; a checkpoint written before the fault
    is intact, and resuming from it (no fault) gives the results of an
    uninterrupted run.

The `lone_*` cases drive uhn_finish directly (tests/fault/lone_rank.c): a rank
that fails while the others wait in a collective it will never join (`stuck`:
it must abort the job after UHN_FINISH_GRACE seconds with its own line), a
rank that fails while the others finish (`late`: agreed, one line from rank
0), and every rank failing (`all`).

    fault.py --list
    fault.py --uhn ./uhn --lone ./lone_rank --mpiexec mpiexec --ranks 3 --case run_step_alloc
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "cli"))
sys.path.insert(0, os.path.join(HERE, "..", "slurm"))
from uhn_cli import (Runner, check, common_args, finish, main_wrapper,  # noqa: E402
                     program_stderr_lines)
import same_results  # noqa: E402

EXIT_FAILURE = 1
GRACE = 3.0  # UHN_FINISH_GRACE (include/uhn/context.h)

DECK = """[data]
source = synthetic:binary?n=2000&h=8&w=8&seed=3
[memory]
n = 100, 1000
[network]
similarity = dot, euclidean
separation = softmax
beta = 10
[query]
corruption = mask_top
level = 0.5
count = 20
[experiment]
trials = 2
seed = 1
[output]
file = out.h5
"""

LAST = -1  # the case's rank: the last one


def inputs(d):
    rng = np.random.default_rng(7)
    with h5py.File(os.path.join(d, "in.h5"), "w") as f:
        f["images"] = rng.random((600, 64), dtype=np.float32)
        f["queries"] = rng.random((40, 64), dtype=np.float32)
    with open(os.path.join(d, "study.ini"), "w") as f:
        f.write(DECK)


RECALL = ["recall", "--memories", "in.h5:images", "--queries", "in.h5:queries",
          "--output", "out.h5", "--steps", "3", "--quiet"]
FIT = ["encode", "fit", "--encoder", "pca", "--dim", "8", "--input", "in.h5:images",
       "--model", "out.h5", "--quiet"]
SEP = ["separability", "--queries", "in.h5:queries", "--memories", "in.h5:images",
       "--output", "out.h5", "--quiet"]
RUN = ["run", "study.ini"]

# name: (argv, site, rank (LAST or a number), message pattern, checkpoint kept)
CASES = {
    "run_bank_alloc": (RUN, "bank_alloc", LAST,
                       r"out of memory for \d+ rows of the memory bank \(\d+ x 64 floats: [0-9.]+ MiB "
                       r"on this rank\)", 0),
    "run_step_alloc": (RUN, "step_alloc", LAST, r"out of memory for \d+ records", 0),
    "run_data_rows": (RUN, "data_rows", LAST, r"data set 'synthetic:.*': reading \d+ rows failed", 0),
    "run_study_alloc": (RUN, "study_alloc", LAST, r"out of memory for the study's work space", 0),
    "run_first_checkpoint": (RUN, "h5_commit#1", 0, r"writing 'out\.h5\.partial' failed", 0),
    "run_second_checkpoint": (RUN, "h5_commit#2", 0, r"writing 'out\.h5\.partial' failed", 1),
    "recall_h5_read": (RECALL, "h5_read", LAST, r"--memories: reading rows of in\.h5:images failed", 0),
    "recall_bank_alloc": (RECALL, "bank_alloc", LAST,
                          r"--memories: in\.h5:images \[600\]\[64\]: out of memory for (\d+) rows of the "
                          r"memory bank \(\1 x 64 floats: 0\.\d MiB on this rank\)", 0),
    "recall_second_step": (RECALL, "step_alloc#2", LAST, r"out of memory for 40 records", 0),
    "recall_uhn_score": (RECALL + ["--score", "uhn"], "step_alloc#2", LAST,
                         r"out of memory for 40 records", 0),
    "recall_commit": (RECALL, "h5_commit", 0, r"writing 'out\.h5' failed: Input/output error", 0),
    "fit_pca": (FIT, "encoder_fit", LAST, r"pca: out of memory for \d+ x 64 centred rows", 0),
    "fit_h5_read": (FIT, "h5_read", LAST, r"--input: reading in\.h5:images failed", 0),
    "fit_commit": (FIT, "h5_commit", 0, r"writing 'out\.h5' failed: Input/output error", 0),
    "sep_tile": (SEP, "sep_tile", LAST, r"out of memory for a \d+ x \d+ tile of cosines", 0),
    "sep_h5_read": (SEP, "h5_read", LAST, r"--queries: reading rows of in\.h5:queries failed", 0),
    "sep_commit": (SEP, "h5_commit", 0, r"writing 'out\.h5' failed: Input/output error", 0),
}
LONE = {  # mode: (exit status, message, from the failed rank itself)
    "lone_stuck": ("stuck", EXIT_FAILURE, r"lone failure on rank {r}", True),
    "lone_late": ("late", EXIT_FAILURE, r"lone failure on rank {r}", False),
    "lone_all": ("all", 2, r"every rank failed", False),
}


def one_uhn_line(err, pattern, rank, own):
    """The one `uhn:` line of err, checked against the case's message."""
    lines = [l for l in program_stderr_lines(err) if l.startswith("uhn:")]
    check(len(lines) == 1, f"expected exactly one 'uhn:' line, got {len(lines)}:\n{err}")
    body = lines[0][len("uhn: "):]
    prefix = f"rank {rank}: "
    if own is None:  # either form
        own = body.startswith(prefix)
    if own:
        check(body.startswith(prefix), f"expected the failed rank's own line, got: {lines[0]}")
        body = body[len(prefix):]
    check(re.search(pattern, body) is not None,
          f"message {lines[0]!r} does not match {pattern!r}")
    return lines[0]


def run_case(runner, args, name, d):
    argv, site, rank, pattern, kept = CASES[name]
    R = args.ranks
    r = R - 1 if rank == LAST else rank
    spec = site.replace("#", f"@{r}#") if "#" in site else f"{site}@{r}"
    env = dict(runner.env, UHN_FAULT=spec)
    cmd = [runner.mpiexec] + runner.pre + [runner.np_flag, str(R), runner.uhn] + argv
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                         cwd=d, start_new_session=True)
    rc, out, err = finish(p, args.timeout, f"HANG with UHN_FAULT={spec}: {' '.join(cmd)}")
    secs, fault_rc = time.monotonic() - t0, rc
    check(rc == EXIT_FAILURE, f"UHN_FAULT={spec}: exit {rc}, expected {EXIT_FAILURE}\n{err}")
    line = one_uhn_line(err, pattern, r, None)
    left = sorted(f for f in os.listdir(d) if f.startswith("out.h5"))
    if kept:
        check(left == ["out.h5.partial"], f"UHN_FAULT={spec}: expected the first checkpoint "
                                          f"kept, found {left}")
        with h5py.File(os.path.join(d, "out.h5.partial"), "r") as f:
            check(int(f.attrs["points_done"]) >= 1, "the checkpoint holds no point")
        rc, out, err = runner.run(R, argv, cwd=d)  # resume, no fault
        check(rc == 0, f"resuming after the fault failed (exit {rc}):\n{err}")
        ref = os.path.join(d, "ref")
        os.mkdir(ref)
        shutil.copy(os.path.join(d, "study.ini"), ref)
        rc, out, err = runner.run(R, argv, cwd=ref)
        check(rc == 0, f"the uninterrupted run failed (exit {rc}):\n{err}")
        diffs = same_results.compare(os.path.join(d, "out.h5"), os.path.join(ref, "out.h5"))
        check(not diffs, "the resumed results differ from an uninterrupted run:\n" +
              "\n".join(diffs[:10]))
        with h5py.File(os.path.join(d, "out.h5"), "r") as f:
            check(int(f["provenance"].attrs["resumes"]) == 1, "provenance resumes != 1")
    else:
        check(left == [], f"UHN_FAULT={spec}: files left behind: {left}")
    print(f"{name} at {R} ranks, UHN_FAULT={spec}: exit {fault_rc} in {secs:.1f} s; {line}")


def run_lone(args, name):
    mode, code, pattern, own = LONE[name]
    R = args.ranks
    r = R - 1
    cmd = [args.mpiexec] + args.mpiexec_preflags.split() + [args.np_flag, str(R),
                                                             os.path.abspath(args.lone), mode, str(r)]
    env = dict(os.environ)
    env.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")
    env.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                         start_new_session=True)
    rc, out, err = finish(p, args.timeout, f"HANG: {' '.join(cmd)}")
    secs = time.monotonic() - t0
    check(rc == code, f"{name}: exit {rc}, expected {code}\n{err}")
    line = one_uhn_line(err, pattern.format(r=r), r, own)
    if mode == "stuck":
        check(secs >= GRACE, f"{name}: aborted after {secs:.1f} s, before the {GRACE} s grace")
    print(f"{name} at {R} ranks: exit {rc} in {secs:.1f} s; {line}")


def main():
    ap = common_args(__doc__.splitlines()[0])
    ap.add_argument("--lone", help="path of tests/fault/lone_rank")
    ap.add_argument("--ranks", type=int, default=3)
    ap.add_argument("--case")
    ap.add_argument("--list", action="store_true")
    if "--list" in sys.argv:
        print(";".join(list(CASES) + list(LONE)))
        return
    args = ap.parse_args()
    check(args.case in CASES or args.case in LONE, f"unknown case {args.case!r}")
    if args.case in LONE:
        return run_lone(args, args.case)
    runner = Runner(args)
    d = tempfile.mkdtemp(prefix="uhn_fault_", dir=args.workdir)
    try:
        inputs(d)
        run_case(runner, args, args.case, d)
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    if "--list" in sys.argv:
        main()
        sys.exit(0)
    main_wrapper(main)
