#!/usr/bin/python3
"""Test of postprocess/plot_study.py against real `uhn run` results.

Runs two tiny studies (a few seconds each) and a checkpoint of one, then runs
plot_study.py on them and checks:

- the default plot is a valid, non-empty PNG, with n as the x axis on a log
  scale (reported on stderr), one line per similarity x cue_only;
- the --table cells equal frac_correct / frac_correct_std (and mse) in the
  HDF5 file, to the printed precision, with one row per combination of the
  non-x axes and one column per x value;
- the default x axis is level when n has a single value, and --x / --y pick
  another axis and metric;
- --images writes a PNG when images were saved;
- a checkpoint (--max-points 1: exit status 3, OUT.partial) plots and
  tabulates its done point only and says "partial";
- each error (missing file, not a uhn results file, unknown axis, unknown
  metric, --images without saved images) exits with status 2 and one line.

    test_plot_study.py --uhn build/uhn --mpiexec mpiexec --plot postprocess/plot_study.py
"""
import argparse
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import zlib

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cli"))
from uhn_cli import MPI_ENV  # noqa: E402  (the MPI environment every CLI test uses)

DECK_N = """\
[memory]
n = 6, 20, 100
[network]
similarity = dot, euclidean
cue_only = both
[query]
corruption = mask_top
level = 0.5
count = 6
[experiment]
trials = 2
[output]
save_images = 2
quiet = on
"""

DECK_LEVEL = """\
[memory]
n = 20
[network]
similarity = euclidean
[query]
corruption = mask_top
level = 0.25, 0.5, 0.75
count = 6
[experiment]
trials = 2
"""


class TestFailure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


class Env:
    def __init__(self, args, work):
        self.args = args
        self.work = work
        self.env = dict(os.environ, **MPI_ENV)

    def run(self, cmd, timeout):
        """(status, stdout, stderr); the process group is killed on a hang."""
        p = subprocess.Popen(cmd, cwd=self.work, env=self.env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, start_new_session=True)
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.communicate()
            raise TestFailure(f"timed out after {timeout} s: {' '.join(cmd)}")
        return p.returncode, out, err

    def uhn_run(self, deck, *extra):
        cmd = ([self.args.mpiexec] + self.args.mpiexec_preflags.split() +
               [self.args.np_flag, str(self.args.ranks), os.path.abspath(self.args.uhn), "run",
                deck] + list(extra))
        return self.run(cmd, self.args.timeout)

    def plot(self, *argv):
        return self.run([sys.executable, self.args.plot] + list(argv), 60)


def check_png(path):
    check(os.path.isfile(path), f"{path} was not written")
    data = open(path, "rb").read()
    check(data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG (signature)")
    length, kind = struct.unpack(">I4s", data[8:16])
    check(kind == b"IHDR" and length == 13, f"{path}: no IHDR chunk first")
    w, h = struct.unpack(">II", data[16:24])
    check(w > 100 and h > 100, f"{path}: {w} x {h} pixels")
    check(zlib.crc32(data[12:29]) == struct.unpack(">I", data[29:33])[0], f"{path}: bad IHDR CRC")
    check(b"IEND" in data[-12:], f"{path}: no IEND chunk at the end")
    check(b"IDAT" in data, f"{path}: no image data")


def parse_table(text):
    """(header cells, rows of cells) of the markdown table in text."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip().startswith("|")]
    check(len(lines) >= 3, f"no markdown table in:\n{text}")
    cells = [[c.strip() for c in ln.strip("|").split("|")] for ln in lines]
    check(all(re.fullmatch(r"-+", c) for c in cells[1]), f"second line is not |---|: {lines[1]}")
    check(all(len(r) == len(cells[0]) for r in cells), "rows of different lengths")
    return cells[0], cells[2:]


def parse_cell(cell):
    """(mean, std) of "0.93 ± 0.02", or None for a point not done."""
    if cell in ("—", "-", ""):
        return None
    m = re.fullmatch(r"(\S+) ± (\S+)", cell)
    check(m is not None, f"bad cell '{cell}'")
    return float(m.group(1)), float(m.group(2))


def close(printed, value, metric):
    if metric == "frac_correct":  # "%.2f"
        return abs(printed - value) <= 0.005 + 1e-12
    return abs(printed - value) <= 0.005 * abs(value) + 1e-300  # 3 significant digits


def close_std(printed, value, metric):
    if metric == "frac_correct":
        return abs(printed - value) <= 0.005 + 1e-12
    return abs(printed - value) <= 0.05 * abs(value) + 1e-300  # 2 significant digits


def axis_text(f, axis, i):
    v = f[axis][i]
    if isinstance(v, bytes):
        return v.decode()
    if axis == "cue_only":
        return "on" if v else "off"
    if axis == "n":
        return str(int(v))
    return f"{float(v):g}"


def check_table(env, h5, metric, x, line_axes, partial_done=None):
    st, out, err = env.plot(h5, "--table", "--y", metric)
    check(st == 0, f"--table --y {metric}: status {st}: {err}")
    head, rows = parse_table(out)
    with h5py.File(os.path.join(env.work, h5), "r") as f:
        axes = ["n", "encoder", "similarity", "separation", "beta", "param", "cue_only", "level"]
        mean, std, done = f[metric][()], f[metric + "_std"][()], f["done"][()]
        nx = f[x].shape[0]
        want_head = list(line_axes) + [f"{x} = {axis_text(f, x, i)}" for i in range(nx)]
        if not line_axes:
            want_head = ["metric"] + want_head
        check(head == want_head, f"table header {head}, expected {want_head}")
        nrows = int(np.prod([f[a].shape[0] for a in line_axes])) if line_axes else 1
        check(len(rows) == nrows, f"{len(rows)} table rows, expected {nrows}")
        seen = 0
        for row in rows:
            k = len(line_axes) if line_axes else 1
            idx = [0] * len(axes)
            for a, cell in zip(line_axes, row[:k]):
                names = [axis_text(f, a, i) for i in range(f[a].shape[0])]
                check(cell in names, f"row label '{cell}' is not a value of {a}: {names}")
                idx[axes.index(a)] = names.index(cell)
            for xi, cell in enumerate(row[k:]):
                idx[axes.index(x)] = xi
                p = tuple(idx)
                got = parse_cell(cell)
                if not done[p]:
                    check(got is None, f"point {p} is not done but the cell is '{cell}'")
                    continue
                seen += 1
                check(got is not None, f"point {p} is done but the cell is empty")
                check(close(got[0], mean[p], metric) and close_std(got[1], std[p], metric),
                      f"{metric} at {p}: table '{cell}', file {mean[p]} ± {std[p]}")
        if partial_done is not None:
            check(seen == partial_done, f"{seen} cells filled, expected {partial_done}")
            check("partial" in err, f"no 'partial' note on stderr: {err!r}")
        else:
            check(seen == int(done.sum()) == done.size, "not every point in the table")
    return out


def check_error(env, argv, pattern, what):
    st, out, err = env.plot(*argv)
    lines = err.strip().splitlines()
    check(st == 2, f"{what}: status {st}, expected 2 (stderr {err!r})")
    check(len(lines) == 1, f"{what}: {len(lines)} lines on stderr, expected 1: {err!r}")
    check(re.search(pattern, lines[0]) is not None,
          f"{what}: message {lines[0]!r} does not match {pattern!r}")
    check("Traceback" not in err, f"{what}: a traceback")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--uhn", required=True, help="path of the uhn program")
    ap.add_argument("--mpiexec", required=True, help="MPI launcher (mpiexec)")
    ap.add_argument("--np-flag", default="-n", help="launcher flag for the rank count")
    ap.add_argument("--mpiexec-preflags", default="--oversubscribe",
                    help="flags given to the launcher before the rank count")
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--plot", required=True, help="path of postprocess/plot_study.py")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds one uhn run may take")
    ap.add_argument("--workdir", default=None, help="scratch folder (default: a fresh temp dir)")
    args = ap.parse_args()
    args.plot = os.path.abspath(args.plot)
    work = args.workdir or tempfile.mkdtemp(prefix="uhn_plot_study_")
    os.makedirs(work, exist_ok=True)
    for name in os.listdir(work):  # earlier results would be resumed: start clean
        if name.endswith((".h5", ".partial", ".png", ".ini", ".txt")):
            os.remove(os.path.join(work, name))
    env = Env(args, work)
    for name, text in (("sweep_n.ini", DECK_N), ("sweep_level.ini", DECK_LEVEL)):
        with open(os.path.join(work, name), "w") as f:
            f.write(text)

    # 1. A complete study over n x similarity x cue_only.
    st, out, err = env.uhn_run("sweep_n.ini", "output.file=sweep_n.h5")
    check(st == 0, f"uhn run sweep_n.ini: status {st}\n{out}\n{err}")
    st, out, err = env.plot("sweep_n.h5")
    check(st == 0, f"plot_study.py sweep_n.h5: status {st}: {err}")
    check_png(os.path.join(work, "sweep_n.png"))
    check(re.search(r"frac_correct vs n \(log x\), 4 lines \(complete\)", err) is not None,
          f"default plot: x axis n on a log scale, 4 lines expected: {err!r}")
    check_table(env, "sweep_n.h5", "frac_correct", "n", ["similarity", "cue_only"])
    check_table(env, "sweep_n.h5", "mse", "n", ["similarity", "cue_only"])
    st, out, err = env.plot("sweep_n.h5", "--x", "similarity", "--y", "dssim", "--out", "s.png")
    check(st == 0 and re.search(r"dssim vs similarity, 6 lines", err) is not None,
          f"--x similarity --y dssim: status {st}: {err!r}")
    check_png(os.path.join(work, "s.png"))
    st, out, err = env.plot("sweep_n.h5", "--images", "img.png")
    check(st == 0, f"--images: status {st}: {err}")
    check_png(os.path.join(work, "img.png"))
    # The axes come from the file: relabel n's scale as linear and the plot
    # follows (nothing in plot_study.py names the axes or their scales).
    shutil.copyfile(os.path.join(work, "sweep_n.h5"), os.path.join(work, "linear_n.h5"))
    with h5py.File(os.path.join(work, "linear_n.h5"), "a") as f:
        f["n"].attrs["axis_scale"] = "linear"
    st, out, err = env.plot("linear_n.h5", "--out", "linear_n.png")
    check(st == 0 and re.search(r"frac_correct vs n, 4 lines \(complete\)", err) is not None,
          f"axis_scale = linear on n: a linear x axis expected: {err!r}")
    print("complete study: plot, tables, --x/--y and --images ok; axes and scales read from the file")

    # 2. Only level varies: the default x axis is level (linear).
    st, out, err = env.uhn_run("sweep_level.ini", "output.file=sweep_level.h5", "--quiet",
                               "output.save_images=0")
    check(st == 0, f"uhn run sweep_level.ini: status {st}\n{out}\n{err}")
    st, out, err = env.plot("sweep_level.h5", "--out", "level.png")
    check(st == 0 and re.search(r"frac_correct vs level, 1 line \(complete\)", err),
          f"level study: default x axis level expected: status {st}: {err!r}")
    check_png(os.path.join(work, "level.png"))
    check_table(env, "sweep_level.h5", "frac_correct", "level", [])
    print("level study: default x axis level ok")

    # 3. A checkpoint: one point done, exit status 3, OUT.partial.
    st, out, err = env.uhn_run("sweep_n.ini", "output.file=part.h5", "--max-points", "1")
    check(st == 3, f"uhn run --max-points 1: status {st}, expected 3\n{out}\n{err}")
    part = "part.h5.partial"
    check(os.path.isfile(os.path.join(work, part)) and
          not os.path.exists(os.path.join(work, "part.h5")), "no part.h5.partial alone")
    with h5py.File(os.path.join(work, part), "r") as f:
        check(int(f.attrs["complete"]) == 0 and int(f["done"][()].sum()) == 1,
              "the checkpoint is not complete = 0 with one point done")
        total = f["done"].size
    st, out, err = env.plot(part, "--out", "part.png")
    check(st == 0, f"plot of the checkpoint: status {st}: {err}")
    check(f"(partial: 1 of {total} points done)" in err and "1 line " in err,
          f"the checkpoint's plot does not say partial / 1 line: {err!r}")
    check_png(os.path.join(work, "part.png"))
    check_table(env, part, "frac_correct", "n", ["similarity", "cue_only"], partial_done=1)
    print("checkpoint: partial plot and table ok")

    # 4. Errors: exit status 2 and one line.
    with open(os.path.join(work, "not_h5.txt"), "w") as f:
        f.write("hello\n")
    with h5py.File(os.path.join(work, "other.h5"), "w") as f:
        f["n"] = np.arange(3)
    check_error(env, ["missing.h5"], r"error: no such file: missing\.h5$", "missing file")
    check_error(env, ["part.h5"], r"no such file: part\.h5 \(the checkpoint part\.h5\.partial",
                "missing file with a checkpoint")
    check_error(env, ["other.h5"], r"other\.h5 is not a uhn results file.*effective_deck",
                "HDF5 file without effective_deck")
    check_error(env, ["not_h5.txt"], r"not_h5\.txt is not a uhn results file", "not HDF5")
    check_error(env, ["sweep_n.h5", "--x", "bogus"], r"unknown axis 'bogus'", "unknown axis")
    check_error(env, ["sweep_n.h5", "--y", "bogus", "--table"], r"unknown metric 'bogus'",
                "unknown metric")
    check_error(env, ["sweep_level.h5", "--images", "x.png"], r"has no saved images",
                "--images without saved images")
    check(not os.path.exists(os.path.join(work, "x.png")), "x.png written despite the error")
    print("errors ok")
    print("PASS")


if __name__ == "__main__":
    try:
        main()
    except TestFailure as e:
        print(f"FAIL: {e}", file=sys.stderr)
        sys.exit(1)
