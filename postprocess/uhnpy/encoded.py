"""Figures and tables of an encoded study (`uhn run DECK` with an [encoder] section).

    plot_encoded.py trajectory   RESULTS.h5 --out PNG [--where AXIS=V ...] [--query J]
    plot_encoded.py separability RESULTS.h5 --out PNG [--where AXIS=V ...]
    plot_encoded.py table        RESULTS.h5 [--where AXIS=V ...]

RESULTS.h5 is the file `uhn run` writes (or its checkpoint OUT.partial); its
sweep axes are read from the dimension scales of its per-point datasets, as
plot_study.py does, and none is listed here.

The chosen points: every kept value of the encoder axis, and of every other
axis the values named by --where AXIS=V1[,V2...] (default: its first value).
Each subcommand draws one row, panel or table row per chosen point, labelled
with the encoder and the other axes that have more than one chosen value; a
point not done yet (a checkpoint) is left out of the figures and is "—" in the
table.

trajectory: an image strip (the HEN paper's figure 1). One row per chosen
point; the columns are the corrupted query J (--query, default 0: the first
saved query), the decoded states dec(v_S) at each step S of output.trajectory
(spec §11; "t = S"), and the true image. The row label gives the encoder and
the query's outcome in code space (spec §10: correct, wrong, metastable).
Needs output.save_images > 0 and output.trajectory.

separability: one panel per chosen point with the normalised histograms
(densities) of the self cosines cos(v_i, c_i) and the cross cosines
cos(v_i, c_j), j != i, of trial 0 (spec §12; the HEN paper's figure 3),
titled with d', the overlap of the two histograms and top-1. Needs
output.separability = on.

table: a markdown table on stdout, one row per chosen point: d', overlap and
top-1 (when the file holds separability), the code-space fractions correct /
wrong / metastable (code_count_* / queries, over all trials), the pixel-space
fraction correct, mse, mse_recon (against the memory's own reconstruction
dec(c_m)) and dssim. Put side by side, they answer "are more separable
encodings less metastable?" with the numbers.

Errors (missing file, not a uhn results file, no trajectories or no
separability saved, unknown --where axis or value, --query out of range) are
one line on stderr and exit status 2.
"""
import argparse
import itertools
import os
import sys

import numpy as np

# The reading of results files, the axis values and --where are plot_study.py's
# (uhnpy.study): one reading of the format for both scripts.
from . import study as ps

PROG = "plot_encoded.py"
ENCODER_AXIS = "encoder"
CODE_OUTCOMES = ps.OUTCOMES  # 0 correct, 1 wrong, 2 metastable (spec §10), -1 no such query
SEPARABILITY_HINT = "run the study with output.separability = on"
TRAJECTORY_HINT = "run the study with output.save_images > 0 and output.trajectory = STEPS"

# The table's columns after the row labels: (heading, how the value is read, format).
# A value is a dataset of the file, or a count over the dataset `queries`.
TABLE_COLUMNS = [
    ("d′", ("separability/dprime", None), "{:.3g}"),
    ("overlap", ("separability/overlap", None), "{:.3f}"),
    ("top-1", ("separability/top1", None), "{:.3f}"),
    ("code correct", ("code_count_correct", "queries"), "{:.3f}"),
    ("code wrong", ("code_count_wrong", "queries"), "{:.3f}"),
    ("code metastable", ("code_count_metastable", "queries"), "{:.3f}"),
    ("pixel correct", ("frac_correct", None), "{:.3f}"),
    ("mse", ("mse", None), "{:.4g}"),
    ("mse_recon", ("mse_recon", None), "{:.4g}"),
    ("dssim", ("dssim", None), "{:.4g}"),
]


class Results:
    """The axes, values and done points of a results file (plot_study.Study), and reads
    of its other datasets at a point."""

    def __init__(self, path):
        self.study = ps.Study(path, "frac_correct")
        self.path = path
        self.axes = self.study.axes
        self.values = self.study.values

    def has(self, name):
        import h5py

        with h5py.File(self.path, "r") as f:
            return name in f

    def read(self, name, points, per=None):
        """The values of a per-point dataset (divided by the dataset `per`) at points."""
        import h5py

        with h5py.File(self.path, "r") as f:
            out = np.array([float(f[name][p]) for p in points])
            if per is not None:
                out = out / np.array([float(f[per][p]) for p in points])
        return out

    def read_at(self, name, point, tail=()):
        """dataset[point + tail] as an array."""
        import h5py

        with h5py.File(self.path, "r") as f:
            return np.asarray(f[name][tuple(point) + tuple(tail)])

    def attr(self, group, key):
        """An attribute of a group ("/" for the root); None when absent."""
        import h5py

        with h5py.File(self.path, "r") as f:
            if group not in f or key not in f[group].attrs:
                return None
            return ps._str(f[group].attrs[key])


def chosen(res, where):
    """(points, varying axes): every kept encoder, and of the other axes the values named
    by --where (default the first); points in file order."""
    keep = ps.selection(res.study, where)
    named = {w.partition("=")[0].strip() for w in where}
    for a in res.axes:
        if a != ENCODER_AXIS and a not in named:
            keep[a] = keep[a][:1]
    points = list(itertools.product(*(keep[a] for a in res.axes)))
    varying = [a for a in res.axes if len(keep[a]) > 1]
    if ENCODER_AXIS in res.axes and ENCODER_AXIS not in varying:
        varying.insert(0, ENCODER_AXIS)  # a row is always labelled with its encoder
    fixed = ps.short_fixed(res.study, keep, None, varying, 10 ** 6)
    return points, varying, fixed


def point_label(res, p, varying, sep=", "):
    parts = []
    for a in varying:
        v = res.values[a][p[res.axes.index(a)]]
        parts.append(ps.fmt_value(a, v) if a == ENCODER_AXIS else f"{a}={ps.fmt_value(a, v)}")
    return sep.join(parts)


def done_points(res, points):
    done = [p for p in points if res.study.done[p]]
    if not done:
        raise ps.UsageError(f"none of the chosen points of {res.path} is done yet")
    return done


def title(res, what, fixed):
    t = f"{os.path.splitext(os.path.basename(res.study.deck_name))[0]}: {what}"
    if not res.study.complete:
        t += f" (partial: {res.study.ndone} of {res.study.npoints} points done)"
    return t + ("\n" + fixed if fixed else "")


def trajectory_steps(res, nsteps):
    """The steps S of output.trajectory, as recorded in the parameters group."""
    text = res.attr("parameters", "output.trajectory") or res.attr("/", "output.trajectory")
    try:
        steps = [int(t) for t in (text or "").replace(",", " ").split()]
    except ValueError:
        steps = []
    if len(steps) != nsteps:
        raise ps.UsageError(f"{res.path} is not a uhn results file (output.trajectory = "
                            f"{text!r} does not name the {nsteps} saved steps)")
    return steps


# ---------------------------------------------------------------------------
# Subcommands


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def cmd_trajectory(args):
    res = Results(args.results)
    if not res.has("images/trajectory"):
        raise ps.UsageError(f"{args.results} has no trajectories saved ({TRAJECTORY_HINT})")
    naxes = len(res.axes)
    shape = res.read_at("images/trajectory", (0,) * naxes).shape  # [save][S][H][W][C]
    nsave, nsteps = shape[0], shape[1]
    if not 0 <= args.query < nsave:
        raise ps.UsageError(f"--query {args.query}: the file holds saved queries 0 to "
                            f"{nsave - 1}")
    steps = trajectory_steps(res, nsteps)
    points, varying, fixed = chosen(res, args.where)
    points = done_points(res, points)
    j = args.query
    rows = []
    for p in points:
        rows.append({
            "index": int(res.read_at("images/image_index", p, (j,))),
            "query": res.read_at("images/query", p, (j,)),
            "states": res.read_at("images/trajectory", p, (j,)),
            "truth": res.read_at("images/truth", p, (j,)),
            "outcome": int(res.read_at("images/code_outcome", p, (j,))),
        })
    truths = [r["truth"] for r in rows if r["index"] >= 0]
    if not truths:
        raise ps.UsageError(f"{args.results}: no saved query {j} at the chosen points")
    lo, hi = float(np.nanmin(truths)), float(np.nanmax(truths))
    if not hi > lo:
        hi = lo + 1.0
    plt = _pyplot()
    ncol = nsteps + 2
    fig, axs = plt.subplots(len(rows), ncol, squeeze=False,
                            figsize=(1.3 * ncol + 1.4, 1.45 * len(rows) + 0.9),
                            layout="constrained")
    heads = ["query"] + [f"t = {s}" for s in steps] + ["truth"]
    for r, (p, row) in enumerate(zip(points, rows)):
        imgs = [row["query"]] + list(row["states"]) + [row["truth"]]
        for c, img in enumerate(imgs):
            ax = axs[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(heads[c], fontsize=9)
            if c == 0:
                oc = CODE_OUTCOMES.get(row["outcome"], "no query")
                ax.set_ylabel(f"{point_label(res, p, varying, sep=chr(10))}\n({oc})",
                              fontsize=8)
            if row["index"] < 0:
                continue
            img = np.clip((np.nan_to_num(np.asarray(img, dtype=float)) - lo) / (hi - lo), 0, 1)
            if img.shape[-1] == 1:
                ax.imshow(img[..., 0], cmap="gray", vmin=0, vmax=1)
            else:
                ax.imshow(img)
    idx = sorted({row["index"] for row in rows if row["index"] >= 0})
    what = (f"trajectory of saved query {j} (image {', '.join(map(str, idx))}), "
            f"outcome in code space")
    fig.suptitle(title(res, what, fixed), fontsize=9)
    if args.out is None:
        return fig
    fig.savefig(args.out, dpi=110)
    plt.close(fig)
    print(f"{PROG}: wrote {args.out}: {len(rows)} row{'s' if len(rows) != 1 else ''} x "
          f"{ncol} columns (query, t = {', '.join(map(str, steps))}, truth)", file=sys.stderr)


def cmd_separability(args):
    res = Results(args.results)
    if not res.has("separability/self_hist"):
        raise ps.UsageError(f"{args.results} has no separability saved ({SEPARABILITY_HINT})")
    edges = res.read_at("separability/bin_edges", ()).astype(float)
    width = np.diff(edges)
    points, varying, fixed = chosen(res, args.where)
    points = done_points(res, points)
    stats = {k: res.read("separability/" + k, points) for k in ("dprime", "overlap", "top1")}
    hists = [(res.read_at("separability/self_hist", p).astype(float),
              res.read_at("separability/cross_hist", p).astype(float)) for p in points]
    # Few self cosines (one per query) in many bins draw as spikes: merge bins by a
    # factor that divides their number until ~20 queries fall in a merged bin's span.
    merge = 1
    nself = min(sh.sum() for sh, _ in hists)
    for f in (8, 5, 4, 2):
        if len(width) % f == 0 and nself < 20 * len(width) / f:
            merge = f
            break
    if merge > 1:
        edges = edges[::merge]
        width = np.diff(edges)
        hists = [(sh.reshape(-1, merge).sum(1), ch.reshape(-1, merge).sum(1))
                 for sh, ch in hists]
    # One cosine range for every panel: the bins holding any count, with a margin.
    used = np.flatnonzero(np.any([s + c for s, c in hists], axis=0))
    x0, x1 = (edges[used[0]], edges[used[-1] + 1]) if used.size else (-1.0, 1.0)
    pad = 0.05 * (x1 - x0)
    x0, x1 = max(-1.0, x0 - pad), min(1.0, x1 + pad)
    plt = _pyplot()
    ncol = min(len(points), 4)
    nrow = (len(points) + ncol - 1) // ncol
    fig, axs = plt.subplots(nrow, ncol, squeeze=False, figsize=(3.4 * ncol, 2.8 * nrow + 0.6),
                            layout="constrained")
    for k, (p, (sh, ch)) in enumerate(zip(points, hists)):
        ax = axs[k // ncol, k % ncol]
        for h, name, colour in ((ch, "cross", "tab:gray"), (sh, "self", "tab:blue")):
            total = h.sum()
            dens = h / (total * width) if total > 0 else h
            ax.stairs(dens, edges, fill=True, alpha=0.45, color=colour,
                      label=f"{name} ({int(total)})")
        ax.set_xlim(x0, x1)
        ax.set_xlabel("cosine", fontsize=8)
        if k % ncol == 0:
            ax.set_ylabel("density", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.set_title(f"{point_label(res, p, varying)}\nd′ = {stats['dprime'][k]:.3g}, "
                     f"overlap = {stats['overlap'][k]:.3f}, top-1 = {stats['top1'][k]:.3f}",
                     fontsize=8)
        ax.legend(fontsize=7)
    for k in range(len(points), nrow * ncol):
        axs[k // ncol, k % ncol].set_visible(False)
    what = "separability of the encoded queries (trial 0)"
    if merge > 1:
        what += f", bins merged by {merge}"
    fig.suptitle(title(res, what, fixed), fontsize=9)
    if args.out is None:
        return fig
    fig.savefig(args.out, dpi=110)
    plt.close(fig)
    print(f"{PROG}: wrote {args.out}: {len(points)} panel{'s' if len(points) != 1 else ''}",
          file=sys.stderr)


def cmd_table(args):
    res = Results(args.results)
    points, varying, fixed = chosen(res, args.where)
    columns = [c for c in TABLE_COLUMNS if res.has(c[1][0])]
    if not res.has("separability/dprime"):
        print(f"{PROG}: note: {args.results} has no separability saved ({SEPARABILITY_HINT}): "
              f"no d′, overlap, top-1 columns", file=sys.stderr)
    head = [a for a in varying] + [c[0] for c in columns]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    values = {c[0]: res.read(c[1][0], points, per=c[1][1]) for c in columns}
    for k, p in enumerate(points):
        row = [ps.fmt_value(a, res.values[a][p[res.axes.index(a)]]) for a in varying]
        for name, _, fmt in columns:
            v = values[name][k]
            row.append(fmt.format(v) if res.study.done[p] and np.isfinite(v) else "—")
        out.append("| " + " | ".join(row) + " |")
    if fixed:
        print(f"At {fixed}:\n")
    print("\n".join(out))
    if not res.study.complete:
        print(f"{PROG}: partial results: {res.study.ndone} of {res.study.npoints} points done",
              file=sys.stderr)


# name, function, help
SUBCOMMANDS = [
    ("trajectory", cmd_trajectory, "image strip: query, decoded states at the saved steps, truth"),
    ("separability", cmd_separability, "histograms of self and cross cosines per encoder"),
    ("table", cmd_table, "markdown table of separability and code-space outcome per encoder"),
]


class _Parser(argparse.ArgumentParser):
    """argparse with its usage errors as one line (PROG: error: ...) and exit status 2."""

    def error(self, message):
        raise ps.UsageError(message)


def main(argv=None, prog=PROG):
    ap = _Parser(prog=prog, description=__doc__,
                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, fn, text in SUBCOMMANDS:
        sp = sub.add_parser(name, help=text, description=text)
        sp.set_defaults(func=fn)
        sp.add_argument("results", help="results file of `uhn run` (or its OUT.partial)")
        if name != "table":
            sp.add_argument("--out", required=True, metavar="PNG", help="the figure (PNG)")
        sp.add_argument("--where", action="append", default=[], metavar="AXIS=VALUE",
                        help="keep only these values of an axis (repeatable); the axes other "
                        "than encoder default to their first value")
        if name == "trajectory":
            sp.add_argument("--query", type=int, default=0, metavar="J",
                            help="the saved query to draw (default 0)")
    try:
        args = ap.parse_args(argv)
        if args.command is None:
            raise ps.UsageError("a command is required: "
                                + ", ".join(n for n, _, _ in SUBCOMMANDS))
        args.func(args)
    except ps.UsageError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 2
    return 0


