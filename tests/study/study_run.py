#!/usr/bin/python3
"""`uhn run`: rank independence, checkpoints and resumption, signals, the
results file's layout, and bad input. One case per CTest test:

  ranks    the same study at 1, 2 and 3 ranks: integer results identical,
           floating results equal to FLOAT_RTOL (see below)
  resume   --max-points 2 (exit 3, a valid OUT.partial), then --max-points 3,
           then to completion: every dataset but `seconds` bit-identical to an
           uninterrupted run, OUT.partial gone, provenance resumes = 2; a re-run
           of the complete deck exits 0 and leaves the file untouched
  signal   SIGUSR1 to mpirun -n 2 once OUT.partial exists: exit 3 and a valid
           checkpoint; the resumed run bit-identical to an uninterrupted one;
           SIGTERM to mpirun -n 2: exit 1 (Open MPI's, documented) and the same;
           SIGTERM to a singleton (no mpirun): exit 3
  layout   the file through h5py: dimension scales attached in order, every
           dataset's description and units, provenance, parameters (one
           attribute per deck key), effective_deck and deck
  diskfull output.file on a 400 kB tmpfs that fills at the second checkpoint,
           at 1 and 3 ranks: exit 1, one line, the first checkpoint resumable
           (skipped, exit 77, where mount(2) is not allowed)
  errors   every bad input of ERRORS at --ranks R (the ONE_RANK variants at 1
           rank only), a few at once: exit 2, exactly one `uhn:` line naming
           the problem, no file left behind, an existing output unchanged;
           error:NAME runs one of them

    study_run.py --list                       # the case names (CMake reads these)
    study_run.py --uhn ./uhn --mpiexec mpiexec --case resume
    study_run.py --uhn ./uhn --mpiexec mpiexec --case errors --ranks 3
    study_run.py --uhn ./uhn --mpiexec mpiexec --case error:bad_level --ranks 3
"""
import concurrent.futures
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cli"))
from uhn_cli import (Runner, TestFailure, check, common_args, finish, main_wrapper,  # noqa: E402
                     program_stderr_lines)

EXIT_FAILURE, EXIT_INPUT, EXIT_SIGNAL = 1, 2, 3
# Open MPI's mpirun exits 1 on a SIGTERM of its own, whatever the ranks did
# (it cannot forward SIGTERM; README, "signals").
EXIT_MPIRUN_SIGTERM = 1
EXIT_SKIP = 77  # CTest's SKIP_RETURN_CODE of the diskfull case

# Floating results at different rank counts: the bank's rows are split
# differently, so the sums over n, the softmax normaliser and z are
# reassociated in float32. A difference is measured against the dataset's
# scale: |a - b| <= FLOAT_RTOL * (|a| + max |a|) (as tests/cli's close()), so
# that standard deviations of nearly equal trials and pixels near 0 are not
# held to a tolerance below the round-off of the terms they come from. Measured
# on this deck: at most 7.8e-6 by this measure (images/retrieved and
# images/weight at 3 ranks: 1.1e-5 absolute, 2.4e-5 of the value; topk on
# beta * dot scores of ~400, where one float32 rounding of a score moves a
# weight by ~2.4e-5 of itself); typically 1e-7. FLOAT_RTOL leaves a margin of
# ~10. The integers (outcome counts, indices, outcomes, done, queries) and
# frac_correct must be identical.
FLOAT_RTOL = 1e-4

# A small study: 2 x 2 x 1 x 1 x 2 x 2 x 1 = 16 points of a few ms each.
# count = 40 queries of each n (count <= min n is required).
SMALL = """\
# study_run.py: the small study
[data]
source = fashion-mnist:train

[memory]
n = 50, 120

[network]
similarity = dot, euclidean
separation = topk
beta = 2
param = 5, 40
cue_only = both

[query]
corruption = mask_top
level = 0.5
count = 40

[experiment]
trials = 2
seed = 1234

[output]
file = {out}
save_images = 3
quiet = on
"""
SMALL_AXES = dict(n=[50, 120], encoder=["identity"], similarity=["dot", "euclidean"],
                  separation=["topk"],
                  beta=[2.0], param=[5.0, 40.0], cue_only=[0, 1], level=[0.5],
                  scale=[None], known=[0], shared=[0.0])
AXES = ["n", "encoder", "similarity", "separation", "beta", "param", "cue_only", "level", "scale",
        "known", "shared"]

# A slower study for the signal test: 8 points of a few tenths of a second.
# Every point has its own N, so that none shares a bank with another: points
# that share one run as a group and finish together, in a fraction of the time.
SLOW = """\
[memory]
n = 4000, 4010, 4020, 4030, 4040, 4050, 4060, 4070

[network]
similarity = dot
beta = 1

[query]
count = 300

[experiment]
trials = 2
seed = 99

[output]
file = {out}
save_images = 2
quiet = on
"""

PROVENANCE = ["uhn_version", "git_commit", "compiler", "mpi_library", "hdf5_version", "ranks",
              "threads", "start_time", "end_time", "command_line", "resumes"]


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

def write_deck(work, name, text, **fmt):
    path = os.path.join(work, name)
    with open(path, "w") as f:
        f.write(text.format(**fmt))
    return path


def study_dir(work, sub, text):
    """work/sub/study.ini writing study.h5 (relative): runs in different
    folders then have the same deck text, deck name and output.file, so their
    files can be compared attribute for attribute. Returns (folder, deck, out)."""
    d = os.path.join(work, sub)
    os.mkdir(d)
    write_deck(d, "study.ini", text, out="study.h5")
    return d, "study.ini", os.path.join(d, "study.h5")


def run_ok(runner, ranks, argv, cwd, want=0):
    rc, out, err = runner.run(ranks, ["run"] + list(argv), cwd=cwd)
    check(rc == want, f"uhn run {' '.join(map(str, argv))} at {ranks} ranks: exit {rc}, expected "
                      f"{want}\nstdout:\n{out}\nstderr:\n{err}")
    return out, err


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def as_str(v):
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.ndarray) and v.dtype.kind in "OS":
        return [as_str(x) for x in v.ravel()]
    return v


def datasets(path):
    """name -> numpy array of every dataset (strings decoded)."""
    out = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                a = obj[...]
                out[name] = as_str(a) if a.dtype.kind in "OS" else a
        f.visititems(visit)
    return out


def attrs(path, group="/"):
    with h5py.File(path, "r") as f:
        return {k: as_str(v) for k, v in f[group].attrs.items()}


def same_bits(a, b):
    if isinstance(a, list) or isinstance(b, list):
        return a == b
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def check_identical(got_path, ref_path, what):
    """Every dataset but `seconds` bit-identical (strings as strings), and the
    root attributes and parameters equal."""
    got, ref = datasets(got_path), datasets(ref_path)
    check(sorted(got) == sorted(ref), f"{what}: datasets {sorted(got)} != {sorted(ref)}")
    for name in ref:
        if name == "seconds":
            continue
        check(same_bits(got[name], ref[name]),
              f"{what}: dataset '{name}' is not bit-identical to the uninterrupted run")
    for group in ("/", "parameters"):
        ga, ra = attrs(got_path, group), attrs(ref_path, group)
        check(ga.keys() == ra.keys(), f"{what}: attributes of {group} differ: {ga.keys()} vs "
                                      f"{ra.keys()}")
        for k in ra:
            check(same_bits(np.asarray(ga[k]), np.asarray(ra[k])) if not isinstance(ra[k], str)
                  else ga[k] == ra[k], f"{what}: attribute {group}:{k} {ga[k]!r} != {ra[k]!r}")


def check_partial(path, total, done_want=None):
    """A checkpoint: complete = 0, `done` with done_want ones (or 1..total-1),
    points_done agreeing, the undone points NaN / 0."""
    check(os.path.exists(path), f"no checkpoint '{path}'")
    with h5py.File(path, "r") as f:
        check(int(f.attrs["complete"]) == 0,
              f"{path}: complete = {f.attrs['complete']}, expected 0")
        done = f["done"][...].ravel()
        nd = int(done.sum())
        check(set(np.unique(done).tolist()) <= {0, 1}, f"{path}: done is not 0/1: {done}")
        if done_want is not None:
            check(nd == done_want, f"{path}: done has {nd} ones, expected {done_want}")
        else:
            check(0 < nd < total, f"{path}: done has {nd} ones of {total}; expected some, not all")
        check(int(f.attrs["points_done"]) == nd and int(f.attrs["points_total"]) == total,
              f"{path}: points_done {f.attrs['points_done']} / points_total "
              f"{f.attrs['points_total']}, done has {nd} of {total}")
        # points are computed in order: the done ones are the first nd
        check(np.all(done[:nd] == 1), f"{path}: the done points are not the first {nd}")
        fc = f["frac_correct"][...].ravel()
        q = f["queries"][...].ravel()
        check(np.all(np.isfinite(fc[:nd])) and np.all(np.isnan(fc[nd:])),
              f"{path}: frac_correct is not finite on the done points and NaN on the others")
        check(np.all(q[:nd] > 0) and np.all(q[nd:] == 0), f"{path}: queries {q}")
    return nd


def compare_prefix(partial, full, nd, what):
    """The first nd points of a checkpoint equal those of the complete run."""
    p, r = datasets(partial), datasets(full)
    for name in ("frac_correct", "sq_error", "count_correct", "count_wrong", "count_metastable",
                 "per_trial/frac_correct", "per_trial/sq_error"):
        P = p[name].reshape(-1, *p[name].shape[11:])[:nd]
        R = r[name].reshape(-1, *r[name].shape[11:])[:nd]
        check(P.tobytes() == R.tobytes(), f"{what}: the checkpoint's '{name}' of the done points "
                                          f"differs from the uninterrupted run")


def one_uhn_line(err, what):
    # mpirun's own note on a forwarded signal is not the program's
    lines = [x for x in program_stderr_lines(err)
             if not re.match(r"^(mpirun|mpiexec|orterun): Forwarding signal \d+ to job$", x)]
    check(len(lines) == 1 and lines[0].startswith("uhn: "),
          f"{what}: expected exactly one 'uhn:' line on stderr, got {lines!r}")
    return lines[0]


# ---------------------------------------------------------------------------
# (a) ranks
# ---------------------------------------------------------------------------

def case_ranks(runner, work, args):
    files = {}
    for r in (1, 2, 3):
        d, deck, out = study_dir(work, f"np{r}", SMALL)
        run_ok(runner, r, [deck], d)
        files[r] = datasets(out)
        check(attrs(out, "provenance")["ranks"] == r, f"provenance ranks != {r}")
    base = files[1]
    worst = 0.0
    for r in (2, 3):
        got = files[r]
        check(sorted(got) == sorted(base), f"{r} ranks: datasets differ: {sorted(got)}")
        for name, ref in base.items():
            if name == "seconds":
                continue
            g = got[name]
            if isinstance(ref, list) or ref.dtype.kind in "iub":
                check(same_bits(g, ref), f"dataset '{name}' at {r} ranks differs from 1 rank "
                                         f"(integers must be identical)")
                continue
            check(g.shape == ref.shape and g.dtype == ref.dtype, f"'{name}' shape/dtype at {r}")
            nan = np.isnan(ref)
            check(np.array_equal(nan, np.isnan(g)), f"'{name}' at {r} ranks: NaN pattern differs")
            a, b = ref[~nan].astype(np.float64), g[~nan].astype(np.float64)
            if not a.size:
                continue
            if name.endswith("frac_correct"):  # counts / queries: exactly the same
                check(same_bits(g, ref), f"'{name}' at {r} ranks differs from 1 rank")
            err = np.abs(a - b)
            rel = err / (np.abs(a) + np.max(np.abs(a)) + 1e-300)
            worst = max(worst, float(np.max(rel)))
            if np.any(rel > FLOAT_RTOL):
                i = int(np.argmax(rel))
                raise TestFailure(f"'{name}' at {r} ranks differs from 1 rank beyond "
                                  f"{FLOAT_RTOL} of its scale: {b[i]!r} vs {a[i]!r}")
    # the outcome classes must be exercised, or the integer check proves little
    for k in ("count_correct", "count_wrong", "count_metastable"):
        check(base[k].sum() > 0, f"the small study has no {k}")
    print(f"ranks 1, 2, 3: integers identical; largest relative float difference {worst:.2e}")


# ---------------------------------------------------------------------------
# (b) resume
# ---------------------------------------------------------------------------

def case_resume(runner, work, args):
    R = 2
    total = int(np.prod([len(v) for v in SMALL_AXES.values()]))
    d, deck, ref = study_dir(work, "ref", SMALL)
    run_ok(runner, R, [deck], d)
    rd, deck, out = study_dir(work, "res", SMALL)
    partial = out + ".partial"

    _, err = run_ok(runner, R, [deck, "--max-points", "2"], rd, want=EXIT_SIGNAL)
    line = one_uhn_line(err, "--max-points 2")
    check("--max-points" in line and "'study.h5.partial'" in line,
          f"--max-points message: {line!r}")
    check(not os.path.exists(out), "OUT exists after a run stopped by --max-points")
    check_partial(partial, total, 2)
    compare_prefix(partial, ref, 2, "--max-points 2")
    check(attrs(partial, "provenance")["resumes"] == 0, "resumes != 0 in the first checkpoint")
    start = attrs(partial, "provenance")["start_time"]

    time.sleep(1.1)  # so that a new start_time would differ
    run_ok(runner, R, [deck, "--max-points=3", "--resume"], rd, want=EXIT_SIGNAL)
    check_partial(partial, total, 5)
    check(attrs(partial, "provenance")["resumes"] == 1, "resumes != 1 after one resumption")

    out_txt, _ = run_ok(runner, R, [deck, "--quiet"], rd)
    check(out_txt.strip() == "", f"--quiet printed:\n{out_txt}")
    check(not os.path.exists(partial), "OUT.partial is left after the run completed")
    check(os.path.exists(out), "no OUT after the run completed")
    check(int(attrs(out)["complete"]) == 1, "complete != 1")
    check_identical(out, ref, "resumed twice")
    prov = attrs(out, "provenance")
    check(prov["resumes"] == 2, f"provenance resumes = {prov['resumes']}, expected 2")
    check(prov["start_time"] == start, f"start_time {prov['start_time']} is not the first run's "
                                       f"{start}")

    # the complete deck again: exit 0, the file untouched, with or without --resume
    h, m = sha(out), os.stat(out).st_mtime_ns
    time.sleep(0.05)
    for extra in ([], ["--resume"]):
        txt, _ = run_ok(runner, R, [deck, "output.quiet=off"] + extra, rd)
        check("already holds the complete results" in txt,
              f"re-run of a complete deck does not say so:\n{txt}")
        check(sha(out) == h and os.stat(out).st_mtime_ns == m,
              "re-running a complete deck rewrote the file")
        check(not os.path.exists(partial), "re-running a complete deck left OUT.partial")
    print(f"resume: {total} points in runs of 2, 3 and {total - 5}: bit-identical")


# ---------------------------------------------------------------------------
# (c) signals
# ---------------------------------------------------------------------------

def start(cmd, env, cwd):
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, cwd=cwd, start_new_session=True)


def signal_when_partial(p, partial, sig, timeout, what):
    """Sends sig to process p once `partial` exists; returns (rc, out, err)."""
    t0 = time.time()
    while not os.path.exists(partial):
        if p.poll() is not None:
            out, err = p.communicate()
            raise TestFailure(f"{what}: the run ended (exit {p.returncode}) before a checkpoint "
                              f"appeared\nstdout:\n{out}\nstderr:\n{err}")
        if time.time() - t0 > timeout:
            os.killpg(p.pid, signal.SIGKILL)
            p.communicate()
            raise TestFailure(f"{what}: no checkpoint after {timeout} s")
        time.sleep(0.01)
    p.send_signal(sig)
    return finish(p, timeout, f"{what}: no exit {timeout} s after the signal")


# SLOW with 16 points: mpirun takes a second or two to pass a SIGTERM on, and
# the study must not complete meanwhile.
SLOW16 = SLOW.replace("n = 4000, 4010, 4020, 4030, 4040, 4050, 4060, 4070",
                      "n = " + ", ".join(str(4000 + 10 * i) for i in range(16)))


def interrupt_and_resume(runner, work, name, text, sig, want_rc, total, R=2):
    """Runs deck `text` at R ranks under mpirun, sends sig to mpirun once the
    first checkpoint exists, checks the exit status, then resumes and checks
    the result is bit-identical to an uninterrupted run. Returns (points done
    at the stop, the stderr of the stopped run)."""
    d, deck, ref = study_dir(work, f"{name}_ref", text)
    run_ok(runner, R, [deck], d)
    d, deck, out = study_dir(work, name, text)
    partial = out + ".partial"
    cmd = [runner.mpiexec] + runner.pre + [runner.np_flag, str(R), runner.uhn, "run", deck]
    # Each point then waits 0.25 s after its checkpoint (a test switch of
    # study.c): the signal arrives before the last point, however fast they run.
    p = start(cmd, dict(runner.env, UHN_STUDY_POINT_PAUSE="0.25"), d)
    rc, so, se = signal_when_partial(p, partial, sig, runner.timeout, name)
    check(rc == want_rc, f"{name}: exit {rc}, expected {want_rc}\nstdout:\n{so}\nstderr:\n{se}")
    check(not os.path.exists(out), f"{name}: OUT exists after a stopped run")
    nd = check_partial(partial, total)
    compare_prefix(partial, ref, nd, name)
    run_ok(runner, R, [deck, "--resume"], d)
    check(not os.path.exists(partial), f"{name}: OUT.partial is left after the resumed run")
    check_identical(out, ref, f"resumed after {name}")
    check(attrs(out, "provenance")["resumes"] == 1, f"{name}: resumes != 1 after one resumption")
    return nd, se


def case_signal(runner, work, args):
    total = 8
    nd, se = interrupt_and_resume(runner, work, "SIGUSR1", SLOW, signal.SIGUSR1, EXIT_SIGNAL,
                                  total)
    line = one_uhn_line(se, "SIGUSR1")
    check("stopped by SIGUSR1" in line and "'study.h5.partial'" in line,
          f"SIGUSR1 message: {line!r}")
    # SIGTERM to mpirun: Open MPI cannot forward it; mpirun kills the ranks
    # (SIGTERM, then SIGKILL after a second) and exits 1 (README, "signals").
    # The checkpoint on disk is whole and resumes bit-identically.
    ndt, _ = interrupt_and_resume(runner, work, "SIGTERM_to_mpirun", SLOW16, signal.SIGTERM,
                                  EXIT_MPIRUN_SIGTERM, 2 * total)

    # SIGTERM to a singleton (uhn started without mpirun)
    out1 = os.path.join(work, "single.h5")
    deck1 = write_deck(work, "single.ini", SLOW, out=out1)
    p = start([runner.uhn, "run", deck1], dict(runner.env, UHN_STUDY_POINT_PAUSE="0.25"), work)
    rc, so, se = signal_when_partial(p, out1 + ".partial", signal.SIGTERM, runner.timeout,
                                     "SIGTERM (singleton)")
    check(rc == EXIT_SIGNAL, f"SIGTERM to a singleton: exit {rc}, expected {EXIT_SIGNAL}\n"
                             f"stdout:\n{so}\nstderr:\n{se}")
    line = one_uhn_line(se, "SIGTERM")
    check("stopped by SIGTERM" in line, f"SIGTERM message: {line!r}")
    check(not os.path.exists(out1), "OUT exists after a run stopped by SIGTERM")
    nd1 = check_partial(out1 + ".partial", total)
    print(f"signal: SIGUSR1 stopped after {nd}/{total} points, resumed bit-identical; SIGTERM to "
          f"mpirun after {ndt}/{2 * total} (exit {EXIT_MPIRUN_SIGTERM}), resumed bit-identical; "
          f"SIGTERM (singleton) after {nd1}/{total}")


# ---------------------------------------------------------------------------
# (d) layout
# ---------------------------------------------------------------------------

def deck_keys(runner):
    """(section, key) of every deck key, from `uhn run --help-deck`."""
    p = subprocess.run([runner.uhn, "run", "--help-deck"], capture_output=True, text=True,
                       env=runner.env, timeout=runner.timeout)
    check(p.returncode == 0, f"uhn run --help-deck: exit {p.returncode}\n{p.stderr}")
    keys = []
    for line in p.stdout.splitlines():
        m = re.match(r"^\|\s*([a-z_]+)\s*\|\s*([a-z_]+)(\s*\(list\))?\s*\|", line)
        if m and m.group(1) != "section":
            keys.append((m.group(1), m.group(2)))
    check(len(keys) >= 20, f"--help-deck lists only {len(keys)} keys:\n{p.stdout}")
    return keys


def text_attr(obj, name, where):
    check(name in obj.attrs, f"{where}: no attribute '{name}'")
    v = as_str(obj.attrs[name])
    check(isinstance(v, str) and v.strip() != "", f"{where}: attribute '{name}' is {v!r}")
    return v


def case_layout(runner, work, args):
    R = 2
    out = os.path.join(work, "layout.h5")
    deck = write_deck(work, "layout.ini", SMALL, out=out)
    run_ok(runner, R, [deck, "experiment.trials=2"], work)
    keys = deck_keys(runner)
    dims = tuple(len(SMALL_AXES[a]) for a in AXES)
    trials, save = 2, 3
    with h5py.File(out, "r") as f:
        # axes: dimension scales with the deck's values, in order
        for a in AXES + ["trial"]:
            check(a in f and isinstance(f[a], h5py.Dataset), f"no axis dataset '{a}'")
            check(h5py.h5ds.is_scale(f[a].id), f"'{a}' is not a dimension scale")
            text_attr(f[a], "description", a)
            text_attr(f[a], "units", a)
        # how plots draw each axis, from the deck's key table (plot_study.py reads it)
        scales = {a: as_str(f[a].attrs.get("axis_scale", "")) for a in AXES}
        check(scales == dict(n="log", encoder="category", similarity="category", separation="category", beta="log",
                             param="linear", cue_only="linear", level="linear", scale="log",
                             known="linear", shared="linear"),
              f"axis_scale attributes: {scales}")
        for a in AXES:
            v = f[a][...]
            want = SMALL_AXES[a]
            got = as_str(v) if v.dtype.kind in "OS" else v.tolist()
            if v.dtype.kind == "f":  # text.scale's auto is NaN on its scale
                got = [None if np.isnan(x) else x for x in got]
            check(got == want, f"axis '{a}' holds {got}, expected {want}")
        check(f["trial"][...].tolist() == list(range(trials)), f"trial axis {f['trial'][...]}")

        # the index scales of the images' own dimensions (so that xarray opens images/)
        own = {"saved": save, "key_row": 28, "row": 28, "column": 28, "channel": 1}
        for a, n in own.items():
            name = f"images/{a}"
            check(name in f and h5py.h5ds.is_scale(f[name].id), f"'{name}' is not a dimension scale")
            check(f[name][...].tolist() == list(range(n)), f"'{name}' holds {f[name][...]}, "
                                                           f"expected 0 .. {n - 1}")
            text_attr(f[name], "description", name)
        own_dims = {"images/query": ("saved", "key_row", "column", "channel"),
                    "images/retrieved": ("saved", "row", "column", "channel"),
                    "images/truth": ("saved", "row", "column", "channel")}

        # every dataset but the axes: shape, scales attached in order, description and units
        seen = []

        def visit(name, obj):
            if not isinstance(obj, h5py.Dataset) or name in AXES + ["trial"]:
                return
            if name in (f"images/{a}" for a in own):
                return
            seen.append(name)
            text_attr(obj, "description", name)
            text_attr(obj, "units", name)
            if name.startswith("per_trial/"):
                shape, nscaled = dims + (trials,), len(AXES) + 1
            elif name.startswith("images/"):
                extra = (28, 28, 1) if name in ("images/retrieved", "images/truth",
                                                "images/query") else ()
                shape, nscaled = dims + (save,) + extra, len(AXES)
            else:
                shape, nscaled = dims, len(AXES)
            check(obj.shape == shape, f"'{name}' has shape {obj.shape}, expected {shape}")
            for i in range(obj.ndim):
                scales = list(obj.dims[i].keys())
                if i < nscaled:
                    axis = (AXES + ["trial"])[i]
                    check(len(obj.dims[i]) == 1 and obj.dims[i][0] == f[axis],
                          f"'{name}' dimension {i} is attached to {scales}, expected '{axis}'")
                    check(obj.dims[i].label == axis,
                          f"'{name}' dimension {i} is labelled {obj.dims[i].label!r}, "
                          f"expected '{axis}'")
                elif name.startswith("images/"):
                    axis = own_dims.get(name, ("saved",))[i - nscaled]
                    check(len(obj.dims[i]) == 1 and obj.dims[i][0] == f["images/" + axis],
                          f"'{name}' dimension {i} is attached to {scales}, expected "
                          f"'images/{axis}'")
                    check(obj.dims[i].label == axis,
                          f"'{name}' dimension {i} is labelled {obj.dims[i].label!r}, "
                          f"expected '{axis}'")
                else:
                    check(len(obj.dims[i]) == 0, f"'{name}' dimension {i} has scales {scales}")
        f.visititems(visit)
        want = {"frac_correct", "frac_correct_std", "sq_error", "sq_error_std", "mse", "mse_std",
                "dssim", "dssim_std", "count_correct", "count_wrong", "count_metastable",
                "queries", "seconds", "done", "per_trial/frac_correct", "per_trial/sq_error",
                "per_trial/mse", "per_trial/dssim", "mse_recon", "mse_recon_std", "dssim_recon",
                "dssim_recon_std", "code_count_correct", "code_count_wrong",
                "code_count_metastable", "per_trial/mse_recon", "per_trial/dssim_recon", "images/retrieved", "images/truth",
                "images/query", "images/image_index", "images/recalled_index", "images/weight",
                "images/sq_error", "images/dssim", "images/outcome", "images/code_outcome"}
        check(set(seen) == want, f"datasets: missing {sorted(want - set(seen))}, unexpected "
                                 f"{sorted(set(seen) - want)}")
        check(np.all(f["done"][...] == 1), "not every point is done")
        q = f["queries"][...]
        check(np.all(q == 40 * trials), f"queries per point {np.unique(q)}, expected 40 per trial")
        # the images of a point: trial 0's first `save` stored images
        idx = f["images/image_index"][...]
        check(np.all(idx >= 0) and np.all(idx < 60000), "images/image_index out of range")
        check(np.all(f["images/outcome"][...] >= 0), "images/outcome has unfilled entries")

        # root attributes
        root = {k: as_str(v) for k, v in f.attrs.items()}
        check(int(root["complete"]) == 1, "complete != 1")
        check(int(root["points_total"]) == int(np.prod(dims)) == int(root["points_done"]),
              "points_total / points_done")
        check(int(root["trials"]) == trials, "trials attribute")
        check(int(root["image_height"]) == 28 and int(root["image_width"]) == 28,
              "image size attributes")
        with open(deck) as d:
            check(root["deck"] == d.read(), "the deck attribute is not the deck's text")

        # parameters: one attribute per deck key, valued as effective_deck says
        par = {k: as_str(v) for k, v in f["parameters"].attrs.items()}
        names = [f"{s}.{k}" for s, k in keys]
        check(sorted(par) == sorted(names), f"parameters attributes {sorted(par)} != deck keys "
                                            f"{sorted(names)}")
        check(par["experiment.trials"] == "2", "the override experiment.trials=2 is not recorded")
        check(par["memory.n"] == "50, 120", f"memory.n = {par['memory.n']!r}")
        check(par["output.file"] == out, f"output.file = {par['output.file']!r}")
        eff = text_attr(f, "effective_deck", "/").splitlines()
        want_eff = [f"[{s}] {k} = {par[s + '.' + k]}" for s, k in keys
                    if (s, k) not in (("output", "file"), ("output", "quiet"))]
        check(eff == want_eff, f"effective_deck:\n{eff}\nexpected\n{want_eff}")

        # provenance
        prov = {k: as_str(v) for k, v in f["provenance"].attrs.items()}
        for k in PROVENANCE:
            check(k in prov, f"provenance has no '{k}' (has {sorted(prov)})")
        for k in ("uhn_version", "git_commit", "compiler", "mpi_library", "hdf5_version",
                  "command_line"):
            check(isinstance(prov[k], str) and prov[k].strip(), f"provenance {k} = {prov[k]!r}")
        check(int(prov["ranks"]) == R and int(prov["threads"]) >= 1 and int(prov["resumes"]) == 0,
              f"provenance ranks/threads/resumes: {prov['ranks']}/{prov['threads']}/"
              f"{prov['resumes']}")
        iso = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"
        check(re.match(iso, prov["start_time"]) and re.match(iso, prov["end_time"]) and
              prov["start_time"] <= prov["end_time"],
              f"start_time {prov['start_time']!r} / end_time {prov['end_time']!r}")
        check(" run " in prov["command_line"] and deck in prov["command_line"] and
              "experiment.trials=2" in prov["command_line"],
              f"command_line {prov['command_line']!r}")
    print(f"layout: {len(seen)} datasets, {len(AXES) + 1} scales, {len(keys)} parameters")


# ---------------------------------------------------------------------------
# (e) full disk
# ---------------------------------------------------------------------------

# Four points whose checkpoint (~410 kB with 5 saved 28 x 28 images per point
# and 11 attached axes per dataset) fits a 600 kB file system once, but not twice: the second checkpoint's
# temporary file fills the disk while the first checkpoint is still there.
DISKFULL = """\
[memory]
n = 20
[network]
similarity = dot
beta = 1, 2, 3, 4
[query]
count = 5
[experiment]
trials = 1
seed = 3
[output]
file = {out}
save_images = 5
quiet = on
"""


def unmount(path):
    """Unmounts a test's tmpfs. Right after a failed run, a launcher process
    may still hold it for a moment (umount: target is busy): retry for up to
    10 s, then detach it lazily, so that the work directory can be removed."""
    for _ in range(50):
        if subprocess.run(["umount", path], capture_output=True).returncode == 0:
            return
        time.sleep(0.2)
    subprocess.run(["umount", "-l", path], capture_output=True)


def case_diskfull(runner, work, args):
    """At 1 and 3 ranks: output.file on a 600 kB tmpfs that fills while the
    second checkpoint is written. Exit 1 (no signal, no core dump), one `uhn:`
    line naming the full disk, the first checkpoint intact and resumable to
    the same results as a run on a roomy disk. Needs mount(2) (root); without
    it the test is skipped."""
    for R in (1, 3):
        ref_dir, deck, ref = study_dir(work, f"ref{R}", DISKFULL)
        run_ok(runner, R, [deck], ref_dir)
        small = os.path.join(work, f"tmpfs{R}")
        os.mkdir(small)
        m = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=600k", "tmpfs", small],
                           capture_output=True, text=True)
        if m.returncode != 0:
            print(f"SKIP: cannot mount a small tmpfs (needs root): {m.stderr.strip()}")
            sys.exit(EXIT_SKIP)
        try:
            write_deck(small, "study.ini", DISKFULL, out="study.h5")
            partial = os.path.join(small, "study.h5.partial")
            rc, so, se = runner.run(R, ["run", "study.ini"], cwd=small)
            what = f"full disk at {R} ranks"
            check(rc == EXIT_FAILURE, f"{what}: exit {rc}, expected {EXIT_FAILURE}\n"
                                      f"stdout:\n{so}\nstderr:\n{se}")
            check("signal" not in se.lower() and "segmentation" not in se.lower(),
                  f"{what}: a signal in stderr:\n{se}")
            line = one_uhn_line(se, what)
            check("No space left on device" in line and "study.h5" in line,
                  f"{what}: the message does not name the full disk and the file: {line!r}")
            left = sorted(os.listdir(small))
            check(left == ["study.h5.partial", "study.ini"],
                  f"{what}: files left on the full disk: {left}")
            check(not [n for n in os.listdir(work) if n.startswith("core")], f"{what}: core dump")
            nd = check_partial(partial, 4, 1)
            compare_prefix(partial, ref, nd, what)
            # a first checkpoint that does not fit at all: HDF5's own write
            # fails (the writer's abort path); the old checkpoint is untouched
            h = sha(partial)
            rc, so, se = runner.run(R, ["run", "study.ini", "output.save_images=20",
                                        "query.count=20", "--fresh"], cwd=small)
            check(rc == EXIT_FAILURE, f"{what} (abort): exit {rc}, expected {EXIT_FAILURE}\n"
                                      f"stdout:\n{so}\nstderr:\n{se}")
            line = one_uhn_line(se, f"{what} (abort)")
            check("No space left on device" in line, f"{what} (abort): {line!r}")
            check(sorted(os.listdir(small)) == ["study.h5.partial", "study.ini"] and
                  sha(partial) == h, f"{what} (abort): files {sorted(os.listdir(small))}, the "
                                     f"checkpoint changed: {sha(partial) != h}")
            # resumable: the same checkpoint on a roomy disk completes the study
            res_dir = os.path.join(work, f"resume{R}")
            os.mkdir(res_dir)
            write_deck(res_dir, "study.ini", DISKFULL, out="study.h5")
            shutil.copyfile(partial, os.path.join(res_dir, "study.h5.partial"))
        finally:
            unmount(small)
        run_ok(runner, R, ["study.ini", "--resume"], res_dir)
        check_identical(os.path.join(res_dir, "study.h5"), ref, f"resumed after {what}")
    # A directory that turns read-only mid-run (a tmpfs remounted ro once the
    # first checkpoint is there): one line with the system's reason, the
    # checkpoint before it whole.
    ro = os.path.join(work, "tmpfs_ro")
    os.mkdir(ro)
    m = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", ro],
                       capture_output=True, text=True)
    check(m.returncode == 0, f"mount: {m.stderr}")
    try:
        deck = write_deck(ro, "study.ini", SLOW16, out="study.h5")
        partial = os.path.join(ro, "study.h5.partial")
        cmd = [runner.mpiexec] + runner.pre + [runner.np_flag, "2", runner.uhn, "run", deck]
        p = start(cmd, runner.env, ro)
        t0 = time.time()
        while not os.path.exists(partial) and p.poll() is None and time.time() - t0 < 60:
            time.sleep(0.01)
        r = subprocess.run(["mount", "-o", "remount,ro", ro], capture_output=True, text=True)
        check(r.returncode == 0, f"remount ro: {r.stderr}")
        rc, so, se = finish(p, runner.timeout, "read-only mid-run: no exit")
        what = "read-only directory mid-run"
        check(rc == EXIT_FAILURE, f"{what}: exit {rc}, expected {EXIT_FAILURE} (a system "
                                  f"failure: the output was checked before any work)\n"
                                  f"stdout:\n{so}\nstderr:\n{se}")
        line = one_uhn_line(se, what)
        check("Read-only file system" in line and "study.h5" in line,
              f"{what}: the message does not give the system's reason: {line!r}")
        check_partial(partial, 16)
    finally:
        unmount(ro)
    print("diskfull: exit 1 with one line at 1 and 3 ranks; the checkpoint resumed bit-identical; "
          "a directory turned read-only mid-run is named with its errno")


# ---------------------------------------------------------------------------
# (e) bad input
# ---------------------------------------------------------------------------

TINY = """\
[memory]
n = 20
[network]
similarity = dot
[query]
count = 5
[experiment]
trials = 1
seed = {seed}
[output]
file = {out}
quiet = on
"""


# Valid files that several error cases copy or tamper with, made once per run
# (each is a whole study under mpirun) in STORE, a folder of main's.
STORE = None
STORE_LOCK = threading.Lock()


def make_results(runner, seed=1):
    """A complete results file of TINY with this seed (1 rank),
    STORE/results_seed<seed>.h5; returns its path."""
    with STORE_LOCK:
        dst = os.path.join(STORE, f"results_seed{seed}.h5")
        if not os.path.exists(dst):
            tmp = os.path.join(STORE, f"make{seed}")
            os.mkdir(tmp)
            out = os.path.join(tmp, "r.h5")
            run_ok(runner, 1, [write_deck(tmp, "r.ini", TINY, out=out, seed=seed)], tmp)
            shutil.move(out, dst)
            shutil.rmtree(tmp)
        return dst


# A case: f(runner, work, deck, out) -> (argv, [culprit substrings], existing)
# where deck is a valid TINY deck writing `out`, and existing says what to do
# with the output: "absent" (there is none), a path to copy onto `out` first,
# or "both": at 1 rank there is none, at more ranks `out` holds some bytes; in
# either case the run must leave the folder as it was (no output, no temporary
# file, an existing output unchanged).
def e_no_deck(r, w, deck, out):
    return [], ["no deck given"], "both"


def e_no_deck_overrides(r, w, deck, out):
    return ["memory.n=5"], ["no deck given"], "both"


def e_missing_deck(r, w, deck, out):
    return [os.path.join(w, "no_such_deck.ini")], ["no_such_deck.ini: cannot read the deck"], "both"


def e_unknown_option(r, w, deck, out):
    return [deck, "--bogus"], ["unknown option '--bogus'"], "both"


def e_max_points_zero(r, w, deck, out):
    return [deck, "--max-points", "0"], ["--max-points: '0' is not an integer >= 1"], "both"


def e_max_points_abc(r, w, deck, out):
    return [deck, "--max-points=abc"], ["--max-points: 'abc' is not an integer >= 1"], "both"


def e_max_points_missing(r, w, deck, out):
    return [deck, "--max-points"], ["--max-points needs a value"], "both"


def e_two_decks(r, w, deck, out):
    return [deck, deck], ["unexpected argument", "one deck only"], "both"


def e_resume_nothing(r, w, deck, out):
    return [deck, "--resume"], ["--resume: there is nothing to resume", out + ".partial"], "absent"


def e_resume_fresh(r, w, deck, out):
    return [deck, "--resume", "--fresh"], ["--resume and --fresh contradict each other"], "both"


def e_output_not_hdf5(r, w, deck, out):
    junk = os.path.join(w, "junk.h5")
    with open(junk, "w") as f:
        f.write("not an HDF5 file\n")
    return [deck], [f"'{out}' exists but is not an HDF5 file"], junk


def e_partial_not_hdf5(r, w, deck, out):
    """A junk OUT.partial is read before OUT (and named)."""
    with open(out + ".partial", "w") as f:
        f.write("junk")
    return [deck], [f"'{out}.partial' exists but is not an HDF5 file"], "both"


def e_output_not_results(r, w, deck, out):
    other = os.path.join(w, "other.h5")
    with h5py.File(other, "w") as f:
        f["x"] = np.arange(3)
    return [deck], [f"'{out}' is not the results of a uhn run"], other


def e_output_other_deck(r, w, deck, out):
    res = make_results(r, seed=2)
    return [deck], [f"'{out}' holds results of another deck",
                    "'[experiment] seed = 2' there, '[experiment] seed = 1' here"], res


def e_bad_level(r, w, deck, out):
    return [deck, "query.corruption=inpaint", "query.level=20"], [
        "[query] level: 20 is not valid for inpaint on 28 x 28 queries"], "both"


def e_too_many_memories(r, w, deck, out):
    return [deck, "memory.n=60001"], [
        "[memory] n: 60001 memories, but the data set 'fashion-mnist:train' has only 60000"], "both"


def e_engine_error_names_deck_key(r, w, deck, out):
    # the engine's domain error, in the deck's words: its key, never a `uhn recall` flag
    return [deck, "network.similarity=euclidean", "network.separation=log"], [
        "override 'network.separation=log': [network] separation: 'log' needs positive scores, "
        "but memory", "score mode 'uhn'", "!--"], "absent"


def e_steps_wrap(r, w, deck, out):
    # 2^32 + 1 once ran as 1 step and was recorded as 4294967297
    return [deck, "network.steps=4294967297"], [
        "override 'network.steps=4294967297': [network] steps: 4294967297 is out of range "
        "(must be in [1, 2147483647])"], "both"


def e_unknown_key(r, w, deck, out):
    bad = os.path.join(w, "unknown_key.ini")
    with open(deck) as f:
        text = f.read()
    with open(bad, "w") as f:
        f.write(text.replace("[query]\n", "[query]\nlevle = 0.5\n"))
    return [bad], ["unknown_key.ini:6: [query] levle: unknown key"], "both"


def e_unknown_override(r, w, deck, out):
    return [deck, "network.betta=2"], ["override 'network.betta=2'", "betta"], "both"


# Tampered results: a file is trusted only when every point it marks done holds
# its data and `complete` agrees with `done`.
BETA12 = "network.beta=1, 2"  # TINY with two points: n=20 beta=1 and n=20 beta=2


def make_partial(runner):
    """A checkpoint of TINY (seed 1) with BETA12: point 0 done, point 1 not;
    STORE/partial_beta12.h5."""
    with STORE_LOCK:
        dst = os.path.join(STORE, "partial_beta12.h5")
        if not os.path.exists(dst):
            tmp = os.path.join(STORE, "makepartial")
            os.mkdir(tmp)
            out = os.path.join(tmp, "r.h5")
            run_ok(runner, 1, [write_deck(tmp, "r.ini", TINY, out=out, seed=1), BETA12,
                               "--max-points", "1"], tmp, want=EXIT_SIGNAL)
            shutil.move(out + ".partial", dst)
            shutil.rmtree(tmp)
        return dst


def tampered(src, dst, edit):
    """Copies src to dst and applies edit(h5py.File) to the copy."""
    shutil.copyfile(src, dst)
    with h5py.File(dst, "r+") as f:
        edit(f)


def set_entry(name, index, value):
    def edit(f):
        a = f[name][...]
        a.flat[index] = value
        f[name][...] = a
    return edit


DAMAGED = "the file is damaged: remove it or run with --fresh"


def e_tamper_done_undone(r, w, deck, out):
    """done = 1 on a point that was never computed."""
    tampered(make_partial(r), out + ".partial", set_entry("done", 1, 1))
    return [deck, BETA12], [f"'{out}.partial': point 1 (n=20 beta=2) is marked done but its "
                            f"frac_correct is nan", DAMAGED], "both"


def e_tamper_complete_partial(r, w, deck, out):
    """complete = 1 on a checkpoint with a point not done."""
    tampered(make_partial(r), out + ".partial",
             lambda f: f.attrs.modify("complete", np.int64(1)))
    return [deck, BETA12], [f"'{out}.partial' is marked complete but point 1 (n=20 beta=2) is "
                            f"not done", DAMAGED], "both"


def e_tamper_nan(r, w, deck, out):
    """NaN in a per-trial result of a done point of a complete file."""
    res = os.path.join(w, "nan.h5")
    tampered(make_results(r, seed=1), res, set_entry("per_trial/sq_error", 0, np.nan))
    return [deck], [f"'{out}': point 0 (n=20) is marked done but its per_trial/sq_error[trial 0] "
                    f"is nan", DAMAGED], res


def e_tamper_counts(r, w, deck, out):
    """Outcome counts that do not sum to the queries."""
    res = os.path.join(w, "counts.h5")
    tampered(make_results(r, seed=1), res, set_entry("count_wrong", 0, 3))
    return [deck], [f"'{out}': point 0 (n=20) is marked done but its outcome counts sum to",
                    "not the 5 of 1 trials x 5 queries", DAMAGED], res


def e_tamper_deleted(r, w, deck, out):
    """A result dataset deleted from a checkpoint."""
    tampered(make_partial(r), out + ".partial", lambda f: f.__delitem__("per_trial/mse"))
    return [deck, BETA12], [f"'{out}.partial': dataset 'per_trial/mse' is missing", DAMAGED], "both"


# [encoder]: bad encoders, models and training sets, refused before any work.
def small_images(w, name="small.h5", h=8):
    """An image set of 6 random h x h images in w."""
    path = os.path.join(w, name)
    with h5py.File(path, "w") as f:
        f["images"] = np.random.default_rng(2).integers(0, 256, (6, h, h), dtype=np.uint8)
    return path


def e_encoder_unknown(r, w, deck, out):
    return [deck, "encoder.name=pcx"], [
        "override 'encoder.name=pcx': [encoder] name: unknown encoder 'pcx' (valid: identity, "
        "centred, pca,", "file:MODEL.h5)"], "both"


def e_encoder_dim_missing(r, w, deck, out):
    return [deck, "encoder.name=identity,pca"], [
        "tiny.ini: [encoder] dim: is required for encoder pca"], "both"


def e_encoder_dim_too_large(r, w, deck, out):
    return [deck, "encoder.name=random", "encoder.dim=785"], [
        "override 'encoder.dim=785': [encoder] dim: must be from 1 to K = 784, the pixels "
        "per image, for encoder random (got 785)"], "both"


def e_encoder_hetero(r, w, deck, out):
    return [deck, "data.hetero=halves", "encoder.name=centred"], [
        "[encoder] name: centred: hetero-association (data.hetero) stores pixel halves; it "
        "takes encoder identity only"], "both"


def e_encoder_model_missing(r, w, deck, out):
    m = os.path.join(w, "nope.h5")
    return [deck, f"encoder.name=file:{m}"], [
        f"[encoder] name: cannot open '{m}': No such file or directory"], "both"


def e_encoder_model_foreign(r, w, deck, out):
    m = small_images(w)
    return [deck, f"encoder.name=file:{m}"], [
        f"[encoder] name: '{m}' is not a uhn encoder model"], "both"


def e_encoder_model_shape(r, w, deck, out):
    m = os.path.join(w, "pca8.h5")
    rc, so, se = r.run(1, ["encode", "fit", "--encoder", "pca", "--dim", 3, "--input",
                           small_images(w), "--model", m], cwd=w)
    check(rc == 0, f"setup: uhn encode fit: exit {rc}\n{se}")
    return [deck, f"encoder.name=identity,file:{m}"], [
        f"[encoder] name: model '{m}' encodes 8 x 8 x 1 images; the data set's are 28 x 28 x 1"
    ], "both"


def e_encoder_train_n(r, w, deck, out):
    return [deck, "encoder.name=centred", "encoder.train_n=60001"], [
        "[encoder] train_n: train_n = 60001 is more than the 60000 images of "
        "'fashion-mnist:train'"], "both"


def e_encoder_train_shape(r, w, deck, out):
    t = small_images(w)
    return [deck, "encoder.name=pca", "encoder.dim=2", f"encoder.train=hdf5:{t}"], [
        "[encoder] train: its images are 8 x 8 x 1; the data set's are 28 x 28 x 1"], "both"


def e_encoder_vq_patch(r, w, deck, out):
    return [deck, "encoder.name=vq", "encoder.patch=3", "encoder.codes=8"], [
        "override 'encoder.patch=3': [encoder] patch: 3 does not divide the 28x28x1 images"], "both"


def e_encoder_mlp_fit(r, w, deck, out):
    return [deck, "encoder.name=mlp"], [
        "override 'encoder.name=mlp': [encoder] name: mlp is trained by "
        "postprocess/train_autoencoder.py, not fitted by uhn; use the model file it writes"], "both"


def e_separability_one_memory(r, w, deck, out):
    return [deck, "memory.n=1,20", "output.separability=on"], [
        "override 'output.separability=on': [output] separability: on needs at least 2 memories "
        "at every point (memory.n has 1)"], "both"


def e_encoder_train_missing(r, w, deck, out):
    t = os.path.join(w, "none.h5")
    return [deck, "encoder.name=centred", f"encoder.train=hdf5:{t}"], [
        f"override 'encoder.train=hdf5:{t}': [encoder] train: cannot open '{t}'"], "both"


# output.file (or its checkpoint) naming an input of the run: refused before
# any work, with or without --fresh, by path, symbolic link or hard link; the
# input is unchanged (check_error compares every file's sha256).
def image_set(w):
    """A small hdf5:FILE image set (30 random 8 x 8 images) in w."""
    path = os.path.join(w, "images.h5")
    with h5py.File(path, "w") as f:
        f["images"] = np.random.default_rng(5).integers(0, 256, (30, 8, 8), dtype=np.uint8)
    return path


def same_file(w, target, how):
    if how == "path":
        return target
    link = os.path.join(w, "link_" + os.path.basename(target))
    (os.symlink if how == "symlink" else os.link)(target, link)
    return link


def refuse_deck(how, fresh):
    def case(r, w, deck, out):
        o = same_file(w, deck, how)
        return [deck, f"output.file={o}"] + (["--fresh"] if fresh else []), [
            f"[output] file: '{o}' is the deck '{deck}'; refusing to replace it",
            "!--fresh"], "absent"
    return case


def refuse_data(how):
    def case(r, w, deck, out):
        data = image_set(w)
        o = same_file(w, data, how)
        return [deck, f"data.source=hdf5:{data}", f"output.file={o}", "--fresh"], [
            f"[output] file: '{o}' is the data set '{data}'; refusing to replace it",
            "!--fresh"], "absent"
    return case


def e_refuse_partial_is_deck(r, w, deck, out):
    """OUT.partial a hard link to the deck (OUT itself is new)."""
    o = os.path.join(w, "new.h5")
    os.link(deck, o + ".partial")
    return [deck, f"output.file={o}"], [
        f"'{o}.partial' (the checkpoint) is the deck '{deck}'; refusing to replace it"], "absent"


def e_refuse_deck_is_data(r, w, deck, out):
    """The reverse is harmless: a deck that names itself as data is only read
    (and refused as a data set that is not HDF5)."""
    return [deck, f"data.source=hdf5:{deck}"], ["is not", "!refusing to replace"], "both"


for _how in ("path", "symlink", "hardlink"):
    globals()[f"e_refuse_deck_{_how}"] = refuse_deck(_how, True)
    globals()[f"e_refuse_data_{_how}"] = refuse_data(_how)
e_refuse_deck_no_fresh = refuse_deck("path", False)

ERRORS = {k[2:]: v for k, v in sorted(globals().items()) if k.startswith("e_")}
# Variants of the cases above, run at 1 rank only (an error run under mpirun
# costs ~2 s of launcher time; the suite keeps to ~90 s on 2 cores).
ONE_RANK = {"no_deck_overrides", "max_points_missing", "two_decks", "partial_not_hdf5",
            "unknown_override", "tamper_counts", "refuse_deck_no_fresh", "refuse_deck_is_data"}


def check_error(runner, ranks, work, name, argv, culprits, existing):
    before = {n: sha(os.path.join(work, n)) for n in os.listdir(work)
              if os.path.isfile(os.path.join(work, n))}
    rc, so, se = runner.run(ranks, ["run"] + argv, cwd=work)
    what = f"{name} at {ranks} ranks ({existing})"
    check(rc == EXIT_INPUT, f"{what}: exit {rc}, expected {EXIT_INPUT}\nstdout:\n{so}\n"
                            f"stderr:\n{se}")
    line = one_uhn_line(se, what)
    for c in culprits:  # "!TEXT": the message must not contain TEXT
        if c.startswith("!"):
            check(c[1:] not in line, f"{what}: the message contains {c[1:]!r}: {line!r}")
        else:
            check(c in line, f"{what}: the message does not contain {c!r}: {line!r}")
    after = {n: sha(os.path.join(work, n)) for n in os.listdir(work)
             if os.path.isfile(os.path.join(work, n))}
    check(sorted(after) == sorted(before), f"{what}: files left behind or removed: "
                                           f"{sorted(set(after) ^ set(before))}")
    for n in before:
        check(after[n] == before[n], f"{what}: '{n}' was changed")
    leftovers = [n for n in os.listdir(work) if os.path.isdir(os.path.join(work, n))]
    check(not leftovers, f"{what}: directories left behind: {leftovers}")


def case_error(runner, work, ranks, name):
    check(name in ERRORS, f"no error case '{name}' (have {sorted(ERRORS)})")
    out = os.path.join(work, "out.h5")
    deck = write_deck(work, "tiny.ini", TINY, out=out, seed=1)
    argv, culprits, existing = ERRORS[name](runner, work, deck, out)
    if existing == "absent" or (existing == "both" and ranks == 1):
        check(not os.path.exists(out), "setup: the output exists")
        check_error(runner, ranks, work, name, argv, culprits, "no output")
    elif existing == "both":
        with open(out, "wb") as f:  # an existing output: any content, it must stay as it is
            f.write(b"previous results\n" * 100)
        check_error(runner, ranks, work, name, argv, culprits, "existing output")
    else:
        shutil.copyfile(existing, out)
        check_error(runner, ranks, work, name, argv, culprits, "existing output")


def case_errors(runner, work, args):
    """Every error case at args.ranks (the ONE_RANK variants at 1 rank only),
    args.jobs at a time: a failing mpirun spends ~2 s in the launcher, idle, so
    the cases overlap. Every failing case is reported by name."""
    names = [k for k in ERRORS if args.ranks == 1 or k not in ONE_RANK]

    def one(name):
        d = os.path.join(work, name)
        os.mkdir(d)
        t0 = time.time()
        try:
            case_error(runner, d, args.ranks, name)
        except TestFailure as e:
            return name, str(e), time.time() - t0
        return name, None, time.time() - t0

    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        results = list(pool.map(one, names))
    failed = []
    for name, err, dt in results:
        print(f"{'FAIL' if err else 'ok  '} error:{name} at {args.ranks} ranks ({dt:.1f} s)"
              + (f": {err}" if err else ""))
        if err:
            failed.append(name)
    check(not failed, f"{len(failed)} of {len(names)} error cases failed: {', '.join(failed)}")


# ---------------------------------------------------------------------------

CASES = {"ranks": case_ranks, "resume": case_resume, "signal": case_signal, "layout": case_layout,
         "diskfull": case_diskfull, "errors": case_errors}


def main():
    if "--list" in sys.argv:
        print(";".join(CASES))
        return
    ap = common_args(__doc__)
    ap.add_argument("--case", required=True, help="a case name, or error:NAME for one error case")
    ap.add_argument("--ranks", type=int, default=1, help="rank count of the error cases")
    ap.add_argument("--jobs", type=int, default=4, help="error cases run at once")
    args = ap.parse_args()
    runner = Runner(args)
    global STORE
    with tempfile.TemporaryDirectory(prefix="uhn_study_run_", dir=args.workdir) as work, \
            tempfile.TemporaryDirectory(prefix="uhn_study_store_", dir=args.workdir) as STORE:
        if args.case.startswith("error:"):
            case_error(runner, work, args.ranks, args.case.split(":", 1)[1])
        else:
            check(args.case in CASES, f"no case '{args.case}'")
            CASES[args.case](runner, work, args)


if __name__ == "__main__":
    if "--list" in sys.argv:
        main()
        sys.exit(0)
    main_wrapper(main)
