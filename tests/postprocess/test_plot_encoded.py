#!/usr/bin/python3
"""Test of postprocess/plot_encoded.py, and of plot_study.py's metrics of encoded
studies, against real `uhn run` results.

Runs a tiny encoded study (identity, pca, random x two betas, with trajectories
and separability; a few seconds), the same study without trajectories and
separability, and a checkpoint of it, then checks:

- `plot_encoded.py trajectory` and `separability` write valid, non-empty PNGs
  (one row / panel per encoder; --where and --query pick others);
- `plot_encoded.py table` prints one row per chosen point whose numbers equal
  the file's datasets (separability/dprime, overlap, top1, code_count_* /
  queries, frac_correct, mse, mse_recon, dssim) to the printed precision, with
  "—" for the points a checkpoint has not done;
- `plot_study.py --table --y METRIC` for the new metrics (mse_recon and
  dssim_recon with "mean ± std"; frac_wrong, frac_metastable, code_frac_*,
  separability/dprime, overlap, top1 without std) equals the datasets, and
  `--y separability/top1` plots;
- each error (missing file, not a uhn results file, no trajectories saved, no
  separability saved, unknown --where axis or value, --query out of range, no
  command) exits with status 2 and one line "plot_encoded.py: error: ...".

    test_plot_encoded.py --uhn build/uhn --mpiexec mpiexec \
        --plot-encoded postprocess/plot_encoded.py --plot-study postprocess/plot_study.py
"""
import argparse
import os
import re
import sys
import tempfile

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_plot_study import (Env, TestFailure, axis_text, check, check_png,  # noqa: E402
                             parse_table)

DECK = """\
[memory]
n = 24
[encoder]
name = identity, pca, random
dim = 16
train_n = 500
[network]
beta = 1, 20
steps = 5
[query]
corruption = mask_top
level = 0.5
count = 6
[experiment]
trials = 2
[output]
save_images = 2
trajectory = 0, 1, 5
separability = on
quiet = on
"""
STEPS = [0, 1, 5]
ENCODERS = ["identity", "pca", "random"]

# plot_study.py metrics of encoded studies: name -> (dataset, divided by, std dataset).
NEW_METRICS = {
    "mse_recon": ("mse_recon", None, "mse_recon_std"),
    "dssim_recon": ("dssim_recon", None, "dssim_recon_std"),
    "frac_wrong": ("count_wrong", "queries", None),
    "frac_metastable": ("count_metastable", "queries", None),
    "code_frac_correct": ("code_count_correct", "queries", None),
    "code_frac_wrong": ("code_count_wrong", "queries", None),
    "code_frac_metastable": ("code_count_metastable", "queries", None),
    "separability/dprime": ("separability/dprime", None, None),
    "separability/overlap": ("separability/overlap", None, None),
    "separability/top1": ("separability/top1", None, None),
}
FRACTIONS = {"frac_wrong", "frac_metastable", "code_frac_correct", "code_frac_wrong",
             "code_frac_metastable", "separability/overlap", "separability/top1"}

# plot_encoded.py table: heading -> (dataset, divided by, printed decimals or significant digits)
TABLE = {
    "d′": ("separability/dprime", None, ("sig", 3)),
    "overlap": ("separability/overlap", None, ("dec", 3)),
    "top-1": ("separability/top1", None, ("dec", 3)),
    "code correct": ("code_count_correct", "queries", ("dec", 3)),
    "code wrong": ("code_count_wrong", "queries", ("dec", 3)),
    "code metastable": ("code_count_metastable", "queries", ("dec", 3)),
    "pixel correct": ("frac_correct", None, ("dec", 3)),
    "mse": ("mse", None, ("sig", 4)),
    "mse_recon": ("mse_recon", None, ("sig", 4)),
    "dssim": ("dssim", None, ("sig", 4)),
}


def printed_equal(printed, value, precision):
    kind, digits = precision
    if kind == "dec":
        return abs(printed - value) <= 0.5 * 10.0 ** -digits + 1e-12
    return abs(printed - value) <= 0.5 * 10.0 ** (1 - digits) * abs(value) + 1e-300


def value_at(f, name, per, p):
    v = float(f[name][p])
    return v / float(f[per][p]) if per else v


def axis_names(f, axis):
    return [axis_text(f, axis, i) for i in range(f[axis].shape[0])]


class EncodedEnv(Env):
    def encoded(self, *argv):
        return self.run([sys.executable, self.args.plot_encoded] + list(argv), 60)

    def study(self, *argv):
        return self.run([sys.executable, self.args.plot_study] + list(argv), 60)


def check_encoded_table(env, h5, where, point, rows_expected, partial=False):
    """The table at the point {axis: index} (encoder free) equals the file."""
    argv = ["table", h5] + [x for w in where for x in ("--where", w)]
    st, out, err = env.encoded(*argv)
    check(st == 0, f"table {where}: status {st}: {err}")
    head, rows = parse_table(out)
    with h5py.File(os.path.join(env.work, h5), "r") as f:
        axes = [d.label for d in f["done"].dims]
        check(head[0] == "encoder", f"table header {head}")
        labels = [h for h in head if h not in TABLE]
        check(set(head[len(labels):]) == set(TABLE), f"table columns {head}")
        check(len(rows) == rows_expected, f"{len(rows)} table rows, expected {rows_expected}")
        filled = 0
        for row in rows:
            idx = [point.get(a, 0) for a in axes]
            for a, cell in zip(labels, row):
                names = axis_names(f, a)
                check(cell in names, f"row label '{cell}' is not a value of {a}: {names}")
                idx[axes.index(a)] = names.index(cell)
            p = tuple(idx)
            for name, cell in zip(head[len(labels):], row[len(labels):]):
                ds, per, prec = TABLE[name]
                if not f["done"][p]:
                    check(cell == "—", f"point {p} is not done but {name} is '{cell}'")
                    continue
                want = value_at(f, ds, per, p)
                check(printed_equal(float(cell), want, prec),
                      f"table {name} at {p}: '{cell}', file {want}")
                filled += 1
        if not partial:
            check(filled == len(rows) * len(TABLE), "not every cell of the table is filled")
        else:
            check("partial" in err, f"no 'partial' note on stderr: {err!r}")
    return filled


def check_study_table(env, h5, metric, x, line_axes):
    """plot_study.py --table --y METRIC equals the file (no ± without a std)."""
    ds, per, std_ds = NEW_METRICS[metric]
    st, out, err = env.study(h5, "--table", "--y", metric, "--x", x)
    check(st == 0, f"plot_study --table --y {metric}: status {st}: {err}")
    head, rows = parse_table(out)
    with h5py.File(os.path.join(env.work, h5), "r") as f:
        axes = [d.label for d in f["done"].dims]
        xs = axis_names(f, x)
        check(head == list(line_axes) + [f"{x} = {v}" for v in xs],
              f"plot_study --y {metric}: header {head}")
        check(len(rows) == int(np.prod([f[a].shape[0] for a in line_axes])),
              f"plot_study --y {metric}: {len(rows)} rows")
        for row in rows:
            idx = [0] * len(axes)
            for a, cell in zip(line_axes, row):
                idx[axes.index(a)] = axis_names(f, a).index(cell)
            for xi, cell in enumerate(row[len(line_axes):]):
                idx[axes.index(x)] = xi
                p = tuple(idx)
                want = value_at(f, ds, per, p)
                prec = ("dec", 2) if metric in FRACTIONS else ("sig", 3)
                if std_ds is None:
                    check("±" not in cell, f"--y {metric}: a ± in '{cell}' (no std)")
                    check(printed_equal(float(cell), want, prec),
                          f"--y {metric} at {p}: '{cell}', file {want}")
                else:
                    m = re.fullmatch(r"(\S+) ± (\S+)", cell)
                    check(m is not None, f"--y {metric}: cell '{cell}' is not 'mean ± std'")
                    check(printed_equal(float(m.group(1)), want, prec) and
                          printed_equal(float(m.group(2)), float(f[std_ds][p]), ("sig", 2)),
                          f"--y {metric} at {p}: '{cell}', file {want} ± {f[std_ds][p]}")


def check_error(env, argv, pattern, what):
    st, out, err = env.encoded(*argv)
    lines = err.strip().splitlines()
    check(st == 2, f"{what}: status {st}, expected 2 (stderr {err!r})")
    check(len(lines) == 1, f"{what}: {len(lines)} lines on stderr, expected 1: {err!r}")
    check(lines[0].startswith("plot_encoded.py: error: "), f"{what}: message {lines[0]!r}")
    check(re.search(pattern, lines[0]) is not None,
          f"{what}: message {lines[0]!r} does not match {pattern!r}")
    check(out == "", f"{what}: output on stdout: {out!r}")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--uhn", required=True, help="path of the uhn program")
    ap.add_argument("--mpiexec", required=True, help="MPI launcher (mpiexec)")
    ap.add_argument("--np-flag", default="-n", help="launcher flag for the rank count")
    ap.add_argument("--mpiexec-preflags", default="--oversubscribe",
                    help="flags given to the launcher before the rank count")
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--plot-encoded", required=True, help="path of postprocess/plot_encoded.py")
    ap.add_argument("--plot-study", required=True, help="path of postprocess/plot_study.py")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds one uhn run may take")
    ap.add_argument("--workdir", default=None, help="scratch folder (default: a fresh temp dir)")
    args = ap.parse_args()
    args.plot_encoded = os.path.abspath(args.plot_encoded)
    args.plot_study = os.path.abspath(args.plot_study)
    work = args.workdir or tempfile.mkdtemp(prefix="uhn_plot_encoded_")
    os.makedirs(work, exist_ok=True)
    for name in os.listdir(work):  # earlier results would be resumed: start clean
        if name.endswith((".h5", ".partial", ".png", ".ini", ".txt")):
            os.remove(os.path.join(work, name))
    env = EncodedEnv(args, work)
    with open(os.path.join(work, "encoded.ini"), "w") as f:
        f.write(DECK)

    # 1. The encoded study, with trajectories and separability.
    st, out, err = env.uhn_run("encoded.ini", "output.file=enc.h5")
    check(st == 0, f"uhn run encoded.ini: status {st}\n{out}\n{err}")
    with h5py.File(os.path.join(work, "enc.h5"), "r") as f:
        check(axis_names(f, "encoder") == ENCODERS, f"encoder axis {axis_names(f, 'encoder')}")
        code_out = f["images/code_outcome"][()]
    st, out, err = env.encoded("trajectory", "enc.h5", "--out", "traj.png")
    check(st == 0, f"trajectory: status {st}: {err}")
    check(f"3 rows x {len(STEPS) + 2} columns (query, t = 0, 1, 5, truth)" in err,
          f"trajectory: one row per encoder, columns query, t = S, truth expected: {err!r}")
    check_png(os.path.join(work, "traj.png"))
    st, out, err = env.encoded("trajectory", "enc.h5", "--out", "traj2.png", "--where",
                               "beta=1,20", "--where", "encoder=pca,random", "--query", "1")
    check(st == 0 and "4 rows" in err, f"trajectory --where --query: status {st}: {err!r}")
    check_png(os.path.join(work, "traj2.png"))
    check(((code_out >= 0) & (code_out <= 2)).any(), "no code outcome saved")
    st, out, err = env.encoded("separability", "enc.h5", "--out", "sep.png")
    check(st == 0 and "3 panels" in err, f"separability: status {st}: {err!r}")
    check_png(os.path.join(work, "sep.png"))
    st, out, err = env.encoded("separability", "enc.h5", "--out", "sep1.png",
                               "--where", "encoder=pca", "--where", "beta=20")
    check(st == 0 and "1 panel" in err, f"separability --where: status {st}: {err!r}")
    check_png(os.path.join(work, "sep1.png"))
    print("trajectory and separability figures ok")

    check_encoded_table(env, "enc.h5", [], {}, 3)
    check_encoded_table(env, "enc.h5", ["beta=20"], {"beta": 1}, 3)
    check_encoded_table(env, "enc.h5", ["beta=1,20", "encoder=identity,random"], {}, 4)
    print("encoded table equals the datasets")

    for metric in NEW_METRICS:
        check_study_table(env, "enc.h5", metric, "beta", ["encoder"])
    st, out, err = env.study("enc.h5", "--y", "separability/top1")
    check(st == 0 and "separability/top1 vs beta" in err, f"plot_study --y top1: {err!r}")
    check_png(os.path.join(work, "enc_separability_top1.png"))
    st, out, err = env.study("enc.h5", "--y", "mse_recon", "--out", "recon.png")
    check(st == 0, f"plot_study --y mse_recon: {err!r}")
    check_png(os.path.join(work, "recon.png"))
    print("plot_study.py: the metrics of encoded studies ok")

    # 2. A checkpoint: the table marks the points not done.
    st, out, err = env.uhn_run("encoded.ini", "output.file=part.h5", "--max-points", "1")
    check(st == 3, f"uhn run --max-points 1: status {st}, expected 3\n{out}\n{err}")
    filled = check_encoded_table(env, "part.h5.partial", [], {}, 3, partial=True)
    check(filled == len(TABLE), f"checkpoint: {filled} cells filled, expected {len(TABLE)}")
    st, out, err = env.encoded("trajectory", "part.h5.partial", "--out", "part.png")
    check(st == 0 and "1 row " in err, f"trajectory of a checkpoint: status {st}: {err!r}")
    check_png(os.path.join(work, "part.png"))
    print("checkpoint ok")

    # 3. Errors: exit status 2 and one line.
    st, out, err = env.uhn_run("encoded.ini", "output.file=plain.h5", "output.trajectory=none",
                               "output.separability=off")
    check(st == 0, f"uhn run without trajectories: status {st}\n{out}\n{err}")
    with open(os.path.join(work, "not_h5.txt"), "w") as f:
        f.write("hello\n")
    with h5py.File(os.path.join(work, "other.h5"), "w") as f:
        f["n"] = np.arange(3)
    check_error(env, ["table", "missing.h5"], r"no such file: missing\.h5$", "missing file")
    check_error(env, ["trajectory", "other.h5", "--out", "x.png"],
                r"other\.h5 is not a uhn results file", "HDF5 file without effective_deck")
    check_error(env, ["table", "not_h5.txt"], r"not_h5\.txt is not a uhn results file",
                "not HDF5")
    check_error(env, ["trajectory", "plain.h5", "--out", "x.png"],
                r"plain\.h5 has no trajectories saved \(.*output\.trajectory", "no trajectories")
    check_error(env, ["separability", "plain.h5", "--out", "x.png"],
                r"plain\.h5 has no separability saved \(.*output\.separability = on",
                "no separability")
    check_error(env, ["table", "enc.h5", "--where", "bogus=1"], r"unknown axis 'bogus'",
                "unknown --where axis")
    check_error(env, ["separability", "enc.h5", "--out", "x.png", "--where", "encoder=vq"],
                r"--where encoder=vq: no such value \(the file has encoder = identity, pca, "
                r"random\)", "unknown --where value")
    check_error(env, ["trajectory", "enc.h5", "--out", "x.png", "--where", "beta=3"],
                r"--where beta=3: no such value", "unknown --where number")
    check_error(env, ["trajectory", "enc.h5", "--out", "x.png", "--query", "2"],
                r"--query 2: the file holds saved queries 0 to 1", "--query out of range")
    check_error(env, ["trajectory", "enc.h5"], r"--out", "no --out")
    check_error(env, [], r"a command is required", "no command")
    check(not os.path.exists(os.path.join(work, "x.png")), "x.png written despite an error")
    # plot_study.py on a study without separability: one line, status 2.
    st, out, err = env.study("plain.h5", "--table", "--y", "separability/dprime")
    check(st == 2 and err.strip() == "plot_study.py: error: plain.h5 has no "
          "separability/dprime (run the study with output.separability = on)",
          f"plot_study --y separability/dprime without separability: {st} {err!r}")
    # ... and its table of the encoded study leaves the separability columns out.
    st, out, err = env.encoded("table", "plain.h5")
    head, rows = parse_table(out)
    check(st == 0 and "d′" not in head and "code metastable" in head and len(rows) == 3,
          f"table without separability: status {st}, header {head}")
    print("errors ok")
    print("PASS")


if __name__ == "__main__":
    try:
        main()
    except TestFailure as e:
        print(f"FAIL: {e}", file=sys.stderr)
        sys.exit(1)
