#!/usr/bin/python3
"""Provenance that reproduces a run, read back with h5py.

  1. `uhn run` of a small synthetic deck as if in Slurm array task 3 of job
     120 (job 123, restart 1: the variables Slurm sets) with OPENBLAS_CORETYPE
     pinned to one kernel, stopped after one point (--max-points 1): the
     checkpoint's provenance holds the host, the Slurm ids, the git commit of
     the source at build time (with -dirty), the compile flags
     and build options CMake configured, the BLAS library and the kernel it
     picked (checked against OpenBLAS itself, called through ctypes), and the
     versions, times, ranks and threads;
  2. resumed outside Slurm with the other kernel: exactly one warning line
     naming both kernels; the complete file records both in `blas_kernels`,
     no Slurm ids (this run was not a Slurm job), and resumes = 1;
  3. resumed again with the same kernel: no warning;
  4. `uhn recall` writes the same provenance attributes.

    provenance.py --uhn ./uhn --mpiexec mpiexec --compile-flags "..." --build-options "..."
                  --source-dir SRC
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cli"))
from uhn_cli import (Runner, check, common_args, finish, main_wrapper,  # noqa: E402
                     program_stderr_lines)

DECK = """[data]
source = synthetic:binary?n=500&h=8&w=8&seed=3
[memory]
n = 50, 100
[network]
similarity = dot
separation = softmax
beta = 10
[query]
corruption = mask_top
level = 0.5
count = 10
[experiment]
trials = 1
seed = 1
[output]
file = out.h5
"""
SLURM = {"SLURM_JOB_ID": "123", "SLURM_ARRAY_JOB_ID": "120", "SLURM_ARRAY_TASK_ID": "3",
         "SLURM_RESTART_COUNT": "1", "SLURM_CLUSTER_NAME": "testcluster",
         "SLURM_JOB_NODELIST": "node[01-02]"}
COMMON = ["uhn_version", "git_commit", "compiler", "build_type", "compile_flags",
          "build_options", "mpi_library", "mpi_standard", "hdf5_version", "blas_library",
          "blas_kernel", "openblas_coretype", "host", "start_time", "end_time", "command_line",
          "ranks", "threads", "ranks_threads_pinned", "blas_threads"]


def openblas_kernel(coretype):
    """The kernel OpenBLAS picks under OPENBLAS_CORETYPE=coretype (None: its own
    choice), asked of the library itself in a fresh process."""
    code = ("import ctypes, ctypes.util\n"
            "lib = ctypes.CDLL('libopenblas.so.0')\n"
            "lib.openblas_get_corename.restype = ctypes.c_char_p\n"
            "print(lib.openblas_get_corename().decode())\n")
    env = dict(os.environ)
    env.pop("OPENBLAS_CORETYPE", None)
    if coretype:
        env["OPENBLAS_CORETYPE"] = coretype
    return subprocess.run([sys.executable, "-c", code], env=env, text=True, check=True,
                          capture_output=True).stdout.strip()


def attrs(path):
    with h5py.File(path, "r") as f:
        return {k: (v.decode() if isinstance(v, bytes) else v)
                for k, v in f["provenance"].attrs.items()}


def run(runner, ranks, argv, cwd, env):
    cmd = [runner.mpiexec] + runner.pre + [runner.np_flag, str(ranks), runner.uhn] + argv
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                         cwd=cwd, start_new_session=True)
    return finish(p, runner.timeout, f"HANG: {' '.join(cmd)}")


def source_commit(src):
    """The commit the build should record (cmake/git_commit.cmake): git's short
    hash of HEAD, with -dirty when tracked files differ from it; "unknown"
    outside a checkout or without git."""
    git = shutil.which("git")
    if not git or not os.path.exists(os.path.join(src, ".git")):
        return "unknown"
    head = subprocess.run([git, "rev-parse", "--short=12", "HEAD"], cwd=src, capture_output=True,
                          text=True)
    if head.returncode != 0:
        return "unknown"
    dirty = subprocess.run([git, "diff", "--quiet", "HEAD", "--"], cwd=src, capture_output=True)
    return head.stdout.strip() + ("-dirty" if dirty.returncode == 1 else "")


def check_common(a, args, kernel, coretype, what):
    missing = [k for k in COMMON if k not in a]
    check(not missing, f"{what}: provenance lacks {missing}")
    check(a["host"] == socket.gethostname(), f"{what}: host {a['host']!r}")
    want = source_commit(args.source_dir)
    check(a["git_commit"] == want, f"{what}: git_commit {a['git_commit']!r}, but the source is at "
                                   f"{want!r} (a build older than its source?)")
    check(a["compile_flags"] == args.compile_flags,
          f"{what}: compile_flags {a['compile_flags']!r} != CMake's {args.compile_flags!r}")
    check(a["build_options"] == args.build_options,
          f"{what}: build_options {a['build_options']!r} != {args.build_options!r}")
    check(a["blas_kernel"] == kernel, f"{what}: blas_kernel {a['blas_kernel']!r} != {kernel!r}")
    check(a["blas_library"].startswith("OpenBLAS ") and kernel in a["blas_library"],
          f"{what}: blas_library {a['blas_library']!r}")
    check(a["openblas_coretype"] == (coretype or ""), f"{what}: openblas_coretype "
                                                      f"{a['openblas_coretype']!r}")
    check(int(a["threads"]) == 1 and int(a["blas_threads"]) >= 1, f"{what}: threads")
    check(int(a["ranks_threads_pinned"]) == 0, f"{what}: 1 thread a rank, none pinned")


def main():
    ap = common_args(__doc__.splitlines()[0])
    ap.add_argument("--compile-flags", required=True)
    ap.add_argument("--build-options", required=True)
    ap.add_argument("--source-dir", required=True, help="the source tree the build was made from")
    args = ap.parse_args()
    runner = Runner(args)
    base = {k: v for k, v in runner.env.items()
            if not k.startswith("SLURM_") and k != "OPENBLAS_CORETYPE"}
    # Two kernels this CPU runs: OpenBLAS's own choice and another one.
    own = openblas_kernel(None)
    other_type = "Haswell" if own != "Haswell" else "Sandybridge"
    other = openblas_kernel(other_type)
    check(other != own, f"OPENBLAS_CORETYPE={other_type} did not change the kernel ({own})")

    d = tempfile.mkdtemp(prefix="uhn_prov_", dir=args.workdir)
    try:
        with open(os.path.join(d, "deck.ini"), "w") as f:
            f.write(DECK)
        # 1. a Slurm array task, one point, the other kernel
        env = dict(base, OPENBLAS_CORETYPE=other_type, **SLURM)
        rc, out, err = run(runner, 2, ["run", "deck.ini", "--max-points", "1"], d, env)
        check(rc == 3, f"--max-points 1: exit {rc}\n{err}")
        a = attrs(os.path.join(d, "out.h5.partial"))
        check_common(a, args, other, other_type, "checkpoint")
        for k, v in SLURM.items():
            key = k.lower()
            check(a.get(key) == v, f"checkpoint: {key} = {a.get(key)!r}, expected {v!r}")
        check(a["blas_kernels"] == other, f"checkpoint: blas_kernels {a['blas_kernels']!r}")
        check(int(a["ranks"]) == 2, "checkpoint: ranks")

        # 2. resumed outside Slurm, with OpenBLAS's own kernel: one warning
        rc, out, err = run(runner, 2, ["run", "deck.ini", "--quiet"], d, base)
        check(rc == 0, f"resume: exit {rc}\n{err}")
        lines = [l for l in program_stderr_lines(err) if l.startswith("uhn:")]
        want = (f"uhn: warning: 'out.h5.partial' was computed with the BLAS kernel {other} and "
                f"this run uses {own}: its points and the ones computed now may differ in the "
                f"last bits from an uninterrupted run (OPENBLAS_CORETYPE picks the kernel)")
        check(lines == [want], f"resume: expected the one warning line\n  {want}\ngot {lines}")
        a = attrs(os.path.join(d, "out.h5"))
        check_common(a, args, own, None, "resumed")
        check(a["blas_kernels"] == f"{other}, {own}", f"resumed: blas_kernels {a['blas_kernels']!r}")
        check(int(a["resumes"]) == 1, f"resumed: resumes {a['resumes']}")
        slurm_left = sorted(k for k in a if k.startswith("slurm_"))
        check(not slurm_left, f"resumed outside Slurm, yet {slurm_left} recorded")

        # 3. the same kernel again (a complete file: nothing to do): no warning
        rc, out, err = run(runner, 2, ["run", "deck.ini", "--quiet"], d, base)
        lines = [l for l in program_stderr_lines(err) if l.startswith("uhn:")]
        check(rc == 0 and not lines, f"re-run of the complete file: exit {rc}, lines {lines}")

        # 4. uhn recall
        rng = np.random.default_rng(1)
        with h5py.File(os.path.join(d, "in.h5"), "w") as f:
            f["memories"] = rng.random((20, 8), dtype=np.float32)
            f["queries"] = rng.random((3, 8), dtype=np.float32)
        rc, out, err = run(runner, 3, ["recall", "--memories", "in.h5", "--queries", "in.h5",
                                       "--output", "r.h5", "--quiet"], d, dict(base, **SLURM))
        check(rc == 0, f"recall: exit {rc}\n{err}")
        a = attrs(os.path.join(d, "r.h5"))
        check_common(a, args, own, None, "recall")
        check(a.get("slurm_array_task_id") == "3" and int(a["ranks"]) == 3, "recall: ids, ranks")
        print(f"provenance: kernels {other} then {own}; host {a['host']}; "
              f"flags {a['compile_flags']!r}")
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main_wrapper(main)
