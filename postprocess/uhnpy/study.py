"""Plots and tabulates the results file of a capacity study (`uhn run DECK`).

    plot_study.py RESULTS.h5 [--x AXIS] [--y METRIC] [--out PNG] [--table]
                  [--images PNG] [--where AXIS=VALUE[,VALUE...] ...]

RESULTS.h5 is the file `uhn run` writes (or its checkpoint OUT.partial). Every
per-point dataset has the shape of the sweep axes (today
[n, encoder, similarity, separation, beta, param, cue_only, level, scale, known,
shared]), which are
stored as root datasets (HDF5 dimension scales) of those names.

Plot (--out PNG; also the default when neither --table nor --images is given,
then written next to RESULTS as STEM.png, or STEM_METRIC.png for another
metric): METRIC against the x axis, one line per combination of the other axes
that have more than one value, error bars = the METRIC_std dataset (standard
deviation over trials) where the metric has one. The default x axis is the
first of n, level, beta, param with more than one value (else the first axis
with more than one value); n and beta are drawn on a log scale when they span
more than a decade. A checkpoint (root attribute complete = 0) is plotted with
its done points only, and the title says so.

--table prints a markdown table on stdout: one row per combination of the
other axes with more than one value, one column per x value, cells
"mean ± std" of METRIC ("—" for a point not done yet).

--images PNG draws the saved images (output.save_images > 0): for each chosen
point (the first --image-points done points, in file order, that pass
--where) three rows, query / retrieved / truth, of its first --image-queries
saved queries, each retrieval labelled with its outcome and squared error.

--where AXIS=V1[,V2...] keeps only those values of an axis (for the plot, the
table and the images); param accepts "default", cue_only on/off.

METRIC is one of (METRIC_TABLE below):
- frac_correct (default), mse, dssim, sq_error, and for encoded studies
  mse_recon, dssim_recon (against the memory's own reconstruction dec(c_m)):
  datasets with a METRIC_std companion (error bars, "mean ± std" cells);
- frac_wrong, frac_metastable (count_*/queries, pixel-space outcome, spec §7),
  code_frac_correct, code_frac_wrong, code_frac_metastable (code_count_*/queries,
  code-space outcome, spec §10): fractions over all trials, no std;
- separability/dprime, separability/overlap, separability/top1 (spec §12, with
  output.separability = on): of trial 0, no std.
A metric without std has no error bars and table cells without "±".

Errors (missing file, not a uhn results file, unknown axis or metric, a metric
the file does not hold, --images without saved images) are one line on stderr
and exit status 2.
"""
import argparse
import itertools
import math
import os
import sys

import numpy as np

from . import outcome as _outcome
from .errors import UhnError
from .reader import text as _str  # noqa: F401 (plot_encoded.py uses ps._str)

# The sweep axes are read from the file: the dimension scales attached to the
# metric's dataset, in order, each with its `axis_scale` attribute (linear, log,
# category) written from uhn's deck-key table; none is listed here.
X_PREFERENCE = ["n", "level", "beta", "param"]  # the default x axis, where present


class Metric:
    """How one METRIC is read: `data` (a per-point dataset, or the numerator of a ratio
    over `per`), its standard deviation over trials `std` (None: no error bars),
    whether it is a fraction (axis 0..1, cells "%.2f") and how to get it when the file
    lacks it."""

    def __init__(self, data, std=None, per=None, fraction=False, needs=None):
        self.data, self.std, self.per = data, std, per
        self.fraction, self.needs = fraction, needs


def _with_std(name, fraction=False):
    return Metric(name, std=name + "_std", fraction=fraction)


def _share(count):
    return Metric(count, per="queries", fraction=True)


_SEPARABILITY = "output.separability = on"
METRIC_TABLE = {
    "frac_correct": _with_std("frac_correct", fraction=True),
    "mse": _with_std("mse"),
    "dssim": _with_std("dssim"),
    "sq_error": _with_std("sq_error"),
    "mse_recon": _with_std("mse_recon"),
    "dssim_recon": _with_std("dssim_recon"),
    "frac_wrong": _share("count_wrong"),
    "frac_metastable": _share("count_metastable"),
    "code_frac_correct": _share("code_count_correct"),
    "code_frac_wrong": _share("code_count_wrong"),
    "code_frac_metastable": _share("code_count_metastable"),
    "separability/dprime": Metric("separability/dprime", needs=_SEPARABILITY),
    "separability/overlap": Metric("separability/overlap", fraction=True, needs=_SEPARABILITY),
    "separability/top1": Metric("separability/top1", fraction=True, needs=_SEPARABILITY),
}
METRICS = list(METRIC_TABLE)
IMAGE_SETS = ("query", "retrieved", "truth", "image_index", "recalled_index", "sq_error",
              "outcome")
OUTCOMES = _outcome.NAMES  # spec §7: 0 correct, 1 wrong, 2 metastable
PROG = "plot_study.py"


class UsageError(UhnError):
    """A one-line error: printed on stderr, exit status 2."""


# ---------------------------------------------------------------------------
# Reading


class Study:
    """The parts of a results file this script uses (all read at once)."""

    def __init__(self, path, metric):
        import h5py

        if not os.path.exists(path):
            hint = ""
            if os.path.exists(path + ".partial"):
                hint = f" (the checkpoint {path}.partial exists: plot that)"
            raise UsageError(f"no such file: {path}{hint}")
        try:
            f = h5py.File(path, "r")
        except OSError:
            raise UsageError(f"{path} is not a uhn results file (not an HDF5 file)")
        with f:
            if "effective_deck" not in f.attrs:
                raise UsageError(f"{path} is not a uhn results file (no effective_deck attribute)")
            spec = METRIC_TABLE[metric]
            if "done" not in f:
                raise UsageError(f"{path} is not a uhn results file (no dataset done)")
            if spec.needs and spec.data not in f:
                raise UsageError(f"{path} has no {spec.data} (run the study with {spec.needs})")
            missing = [a for a in [spec.data, spec.std, spec.per] if a and a not in f]
            if missing:
                raise UsageError(f"{path} is not a uhn results file (no dataset {missing[0]})")
            dims = f[spec.data].dims
            self.axes = [dims[i].label for i in range(len(dims))]
            if not all(self.axes) or any(a not in f for a in self.axes):
                raise UsageError(f"{path} is not a uhn results file ({metric} has no labelled "
                                 f"dimension scales)")
            self.log_axes = {a for a in self.axes
                             if _str(f[a].attrs.get("axis_scale", "")) == "log"}
            self.path = path
            self.deck_name = _str(f.attrs.get("deck_name", os.path.basename(path)))
            self.threshold = float(np.ravel(f.attrs.get("threshold_effective", [np.nan]))[0])
            self.deck = effective_deck(_str(f.attrs.get("effective_deck", "")))
            self.complete = int(f.attrs.get("complete", 1)) != 0
            self.trials = int(f.attrs.get("trials", 0))
            self.values = {}
            for a in self.axes:
                d = f[a]
                if d.dtype.kind in "OSU":
                    self.values[a] = [_str(v) for v in d[()]]
                else:
                    self.values[a] = [v.item() for v in d[()]]
            self.mean = np.asarray(f[spec.data][()], dtype=float)
            self.units = _str(f[spec.data].attrs.get("units", ""))
            if spec.per:
                with np.errstate(divide="ignore", invalid="ignore"):
                    self.mean = self.mean / np.asarray(f[spec.per][()], dtype=float)
                self.units = "fraction"
            self.has_std = spec.std is not None
            self.std = (np.asarray(f[spec.std][()], dtype=float) if spec.std
                        else np.full(self.mean.shape, np.nan))
            self.done = np.asarray(f["done"][()]).astype(bool)
            self.saved_images = 0  # saved queries per point (output.save_images)
            if "images" in f and "retrieved" in f["images"]:
                self.saved_images = int(f["images/retrieved"].shape[len(self.axes)])
        self.shape = self.done.shape
        self.mean[~self.done] = np.nan
        self.std[~self.done] = np.nan
        if self.mean.shape != tuple(len(self.values[a]) for a in self.axes):
            raise UsageError(f"{path} is not a uhn results file (the shape of {metric} "
                             f"does not match the axes)")
        self.npoints = int(self.done.size)
        self.ndone = int(self.done.sum())

    def read_images(self, point, nq):
        """query, retrieved, truth, image_index, recalled_index, sq_error, outcome of the
        first nq saved queries of one point (a tuple of axis indices)."""
        import h5py

        with h5py.File(self.path, "r") as f:
            g = f["images"]
            return {k: np.asarray(g[k][point + (slice(0, nq),)]) for k in IMAGE_SETS}


# ---------------------------------------------------------------------------
# Axis values, labels and selections


def fmt_value(axis, v):
    """An axis value as the deck would spell it."""
    if isinstance(v, str):  # a category (similarity, separation)
        return v
    if axis == "cue_only":
        return "on" if v else "off"
    if axis == "param" and (v is None or (isinstance(v, float) and math.isnan(v))):
        return "default"
    if axis == "n":
        return str(int(v))
    return f"{v:g}"


def series_label(axes, values):
    """A line's legend label: "euclidean, cue-only", "dot", "n=100, beta=10"."""
    parts = []
    for a, v in zip(axes, values):
        if isinstance(v, str):
            parts.append(v)
        elif a == "cue_only":
            if v:
                parts.append("cue-only")
        else:
            parts.append(f"{a}={fmt_value(a, v)}")
    if not parts:
        return "full query" if "cue_only" in axes else ""
    return ", ".join(parts)


def value_matches(axis, v, text):
    t = text.strip()
    if isinstance(v, str):
        return v == t
    if axis == "cue_only":
        on = {"on": 1, "1": 1, "true": 1, "yes": 1, "off": 0, "0": 0, "false": 0, "no": 0}
        if t.lower() not in on:
            raise UsageError(f"--where cue_only={t}: expected on or off")
        return int(v) == on[t.lower()]
    if t == "default":
        return isinstance(v, float) and math.isnan(v)
    try:
        x = float(t)
    except ValueError:
        raise UsageError(f"--where {axis}={t}: not a number")
    return math.isclose(float(v), x, rel_tol=1e-9, abs_tol=0.0)


def selection(study, where):
    """The kept indices of every axis after the --where filters."""
    keep = {a: list(range(len(study.values[a]))) for a in study.axes}  # in file order
    for w in where:
        axis, sep, vals = w.partition("=")
        axis = axis.strip()
        if not sep:
            raise UsageError(f"--where {w}: expected AXIS=VALUE[,VALUE...]")
        if axis not in study.axes:
            raise UsageError(f"unknown axis '{axis}' in --where (axes: {', '.join(study.axes)})")
        wanted = [t for t in vals.split(",") if t.strip()]
        keep[axis] = [i for i in keep[axis]
                      if any(value_matches(axis, study.values[axis][i], t) for t in wanted)]
        if not keep[axis]:
            have = ", ".join(fmt_value(axis, v) for v in study.values[axis])
            raise UsageError(f"--where {w}: no such value (the file has {axis} = {have})")
    return keep


def choose_x(keep, x):
    axes = list(keep)
    if x is not None:
        if x not in axes:
            raise UsageError(f"unknown axis '{x}' (axes: {', '.join(axes)})")
        return x
    for a in [a for a in X_PREFERENCE if a in keep] + axes:
        if len(keep[a]) > 1:
            return a
    return axes[0]


def line_axes(keep, x):
    return [a for a in keep if a != x and len(keep[a]) > 1]


def combinations(study, keep, lines):
    """(indices, values) of every combination of the line axes, in file order."""
    for idx in itertools.product(*(keep[a] for a in lines)):
        yield idx, [study.values[a][i] for a, i in zip(lines, idx)]


def point_index(keep, x, xi, lines, idx):
    """The full axis index of a point: the line axes at idx, x at xi, the rest first kept."""
    full = []
    for a in keep:
        if a == x:
            full.append(xi)
        elif a in lines:
            full.append(idx[lines.index(a)])
        else:
            full.append(keep[a][0])
    return tuple(full)


def is_numeric_x(study, keep, x):
    if x == "cue_only" or any(isinstance(study.values[x][i], str) for i in keep[x]):
        return False
    return not any(isinstance(study.values[x][i], float) and math.isnan(study.values[x][i])
                   for i in keep[x])


def effective_deck(text):
    """{"section.key": value} of the effective_deck attribute ("[section] key = value"
    lines)."""
    out = {}
    for line in text.splitlines():
        sec, sep, rest = line.strip().partition("]")
        key, eq, val = rest.partition("=")
        if sep and eq and sec.startswith("["):
            out[f"{sec[1:].strip()}.{key.strip()}"] = val.strip()
    return out


# What the level axis measures, by query.corruption (spec §6).
LEVEL_LABELS = {"gaussian": "noise variance", "mask_top": "masked fraction (top rows)",
                "random_pixels": "masked fraction (random pixels)",
                "inpaint": "border width (pixels)"}
AXIS_LABELS = {"n": "N, stored memories", "beta": "β", "param": "separation parameter"}


def axis_label(study, x):
    """The x axis's label: what it measures ("level" by the corruption)."""
    if x == "level":
        corr = getattr(study, "deck", {}).get("query.corruption", "")
        what = LEVEL_LABELS.get(corr)
        return f"level: {what} ({corr})" if what else "level"
    return AXIS_LABELS.get(x, x)


def short_fixed(study, keep, x, lines, width=95):
    """The axes with one kept value ("separation=softmax, beta=1, ...") for a title,
    those at their defaults (param default, text scale auto, known and shared 0: no
    cross-stimulus text) left out, wrapped at width characters."""
    import textwrap

    parts = []
    for a in study.axes:
        if a == x or a in lines:
            continue
        v = study.values[a][keep[a][0]]
        if isinstance(v, float) and math.isnan(v):
            continue
        if a in ("known", "shared") and not v:
            continue
        parts.append(f"{a}={fmt_value(a, v)}")
    return "\n".join(textwrap.wrap(", ".join(parts), width))


def trials_note(study):
    """" (mean ± sd over 10 trials)", " (1 trial)" or "" (no trials attribute)."""
    if study.trials > 1 and study.has_std:
        return f" (mean ± sd over {study.trials} trials)"
    if study.trials > 1:
        return f" (over {study.trials} trials)"
    return " (1 trial)" if study.trials == 1 else ""


MARKERS = {"-": "o", "--": "s", ":": "^", "-.": "D"}  # by line style (open past "-")


def line_styles(study, keep, lines):
    """(colour index, line style) of each combination of the line axes, in file order:
    with two or more line axes and a last one of at most 4 values (cue_only, ...), the
    colour follows the other axes and the style the last one, so that no two lines share
    both; else one colour per line (tab20 past 10 lines)."""
    combos = [idx for idx, _ in combinations(study, keep, lines)]
    styles = ["-", "--", ":", "-."]
    if len(lines) >= 2 and len(keep[lines[-1]]) <= len(styles):
        last = keep[lines[-1]]
        heads = []
        out = []
        for idx in combos:
            if idx[:-1] not in heads:
                heads.append(idx[:-1])
            out.append((heads.index(idx[:-1]), styles[last.index(idx[-1])]))
        return out
    return [(i, "-") for i in range(len(combos))]


def stem(path):
    base = path[:-len(".partial")] if path.endswith(".partial") else path
    return os.path.splitext(base)[0]


# ---------------------------------------------------------------------------
# Outputs


def fmt_cell(metric, mean, std, has_std=True):
    """ "0.93 ± 0.02" ("0.93" for a metric without std; "—" for a point not done)."""
    if not np.isfinite(mean):
        return "—"
    fraction = METRIC_TABLE[metric].fraction
    text = f"{mean:.2f}" if fraction else f"{mean:.3g}"
    if has_std:
        text += f" ± {std:.2f}" if fraction else f" ± {std:.2g}"
    return text


def table(study, keep, x, metric):
    lines = line_axes(keep, x)
    head = lines if lines else ["metric"]
    xcols = [f"{x} = {fmt_value(x, study.values[x][i])}" for i in keep[x]]
    out = ["| " + " | ".join(head + xcols) + " |",
           "|" + "---|" * (len(head) + len(xcols))]
    for idx, vals in combinations(study, keep, lines):
        row = [fmt_value(a, v) for a, v in zip(lines, vals)] if lines else [metric]
        for xi in keep[x]:
            p = point_index(keep, x, xi, lines, idx)
            row.append(fmt_cell(metric, study.mean[p], study.std[p], study.has_std))
        out.append("| " + " | ".join(row) + " |")
    return "\n".join(out)


def plot(study, keep, x, metric, out):
    """Draws the plot (figure()) into the PNG out; returns (log x, number of lines)."""
    import matplotlib.pyplot as plt

    fig, log, nlines = figure(study, keep, x, metric)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return log, nlines


def figure(study, keep, x, metric, ax=None):
    """METRIC against x, a line (errorbar container) per combination of the other kept
    axes with more than one value; returns (Figure, log x, number of lines). With ax,
    draws into that Axes (its figure is returned)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lines = line_axes(keep, x)
    numeric = is_numeric_x(study, keep, x)
    xvals = [study.values[x][i] for i in keep[x]]
    pos = [float(v) for v in xvals] if numeric else list(range(len(xvals)))
    log = (numeric and x in study.log_axes and min(pos) > 0 and max(pos) / min(pos) > 10)
    own = ax is None
    if own:
        fig, ax = plt.subplots(figsize=(8, 4.5))
    else:
        fig = ax.figure
    nlines = 0
    styles = line_styles(study, keep, lines)
    ncolours = max(c for c, _ in styles) + 1 if styles else 1
    cmap = plt.get_cmap("tab10" if ncolours <= 10 else "tab20")
    for (idx, vals), (colour, style) in zip(combinations(study, keep, lines), styles):
        pts = [point_index(keep, x, xi, lines, idx) for xi in keep[x]]
        m = np.array([study.mean[p] for p in pts])
        s = np.array([study.std[p] for p in pts])
        ok = np.isfinite(m)
        if not ok.any():
            continue
        xs = np.array(pos)[ok]
        ax.errorbar(xs, m[ok], yerr=np.nan_to_num(s[ok]) if study.has_std else None,
                    marker=MARKERS[style], capsize=3, label=series_label(lines, vals) or None,
                    color=cmap(colour % cmap.N), linestyle=style, markersize=4,
                    markerfacecolor="white" if style != "-" else None)
        nlines += 1
    if log:
        ax.set_xscale("log")
    if not numeric:
        ax.set_xticks(pos)
        ax.set_xticklabels([fmt_value(x, v) for v in xvals])
    ax.set_xlabel(axis_label(study, x))
    ax.set_ylabel(f"{metric} ({study.units})" if study.units and study.units != "-" else metric)
    if METRIC_TABLE[metric].fraction:
        ax.set_ylim(-0.03, 1.03)
    ax.grid(True, alpha=0.3)
    title = f"{os.path.splitext(os.path.basename(study.deck_name))[0]}: {metric} vs {x}"
    title += trials_note(study)
    if not study.complete:
        title += f" (partial: {study.ndone} of {study.npoints} points done)"
    fixed = short_fixed(study, keep, x, lines, 95 if own else 60)
    if fixed:
        title += "\n" + fixed
    ax.set_title(title, fontsize=9)
    if nlines > 1 or (nlines == 1 and lines):
        if own and nlines > 6:  # many lines: the legend outside, right of the axes
            ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        else:
            ax.legend(fontsize=7)
    fig.tight_layout()
    return fig, log, nlines


def plot_images(study, keep, out, npoints, nqueries):
    """Draws images_figure() into the PNG out; returns (points, queries)."""
    import matplotlib.pyplot as plt

    fig, npts, nq = images_figure(study, keep, npoints, nqueries)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return npts, nq


def images_figure(study, keep, npoints, nqueries):
    """A grid of the saved images: per chosen point three rows, query / retrieved /
    truth; returns (Figure, points, queries)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not study.saved_images:
        raise UsageError(f"{study.path} has no saved images (run the study with "
                         f"output.save_images > 0)")
    nq = max(1, min(nqueries, study.saved_images))
    chosen = []
    for p in itertools.product(*(keep[a] for a in study.axes)):
        if study.done[p]:
            data = study.read_images(p, nq)
            if (data["image_index"] >= 0).any():
                chosen.append((p, data))
        if len(chosen) >= npoints:
            break
    if not chosen:
        raise UsageError(f"{study.path} has no saved images among the chosen points")
    truth = np.concatenate([d["truth"].ravel() for _, d in chosen])
    lo, hi = float(np.nanmin(truth)), float(np.nanmax(truth))
    if not hi > lo:
        hi = lo + 1.0
    varying = [a for a in study.axes if len(keep[a]) > 1]
    fig = plt.figure(figsize=(1.5 * nq + 0.8, 5.0 * len(chosen) + 0.5), layout="constrained")
    rule = (f"correct when sse < {study.threshold:g}" if np.isfinite(study.threshold)
            else "outcome of spec §7")
    fixed = short_fixed(study, keep, None, varying, 8 * nq + 30)
    fig.suptitle(f"{os.path.splitext(os.path.basename(study.deck_name))[0]}: saved queries\n"
                 + (fixed + "\n" if fixed else "")
                 + f"sse = sum of squared errors against the truth; {rule}", fontsize=8)
    subs = fig.subfigures(len(chosen), 1, squeeze=False)[:, 0]
    for sub, (p, d) in zip(subs, chosen):
        label = ", ".join(f"{a}={fmt_value(a, study.values[a][p[study.axes.index(a)]])}"
                          for a in (varying or study.axes[:1]))
        sub.suptitle(label, fontsize=10)
        axs = sub.subplots(3, nq, squeeze=False)
        for j in range(nq):
            for r, key in enumerate(("query", "retrieved", "truth")):
                ax = axs[r, j]
                ax.set_xticks([])
                ax.set_yticks([])
                if j == 0:
                    ax.set_ylabel(key)
                if d["image_index"][j] < 0:
                    continue
                img = np.clip((np.nan_to_num(d[key][j]) - lo) / (hi - lo), 0, 1)
                if img.shape[-1] == 1:
                    ax.imshow(img[..., 0], cmap="gray", vmin=0, vmax=1)
                else:
                    ax.imshow(img)
                if key == "query":
                    ax.set_title(f"image {d['image_index'][j]}", fontsize=8)
                elif key == "retrieved":
                    oc = OUTCOMES.get(int(d["outcome"][j]), "?")
                    ax.set_title(f"{oc}, sse {d['sq_error'][j]:.3g}", fontsize=7)
    return fig, len(chosen), nq


# ---------------------------------------------------------------------------


def main(argv=None, prog=PROG):
    ap = argparse.ArgumentParser(prog=prog, description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", help="results file of `uhn run` (or its OUT.partial)")
    ap.add_argument("--x", default=None, help="the x axis: one of the file's sweep axes (its "
                    "dimension scales: n, encoder, similarity, separation, beta, param, "
                    "cue_only, level)")
    ap.add_argument("--y", default="frac_correct", help="the metric: one of " + ", ".join(METRICS))
    ap.add_argument("--out", default=None, help="the plot (PNG)")
    ap.add_argument("--table", action="store_true", help="print a markdown table on stdout")
    ap.add_argument("--images", default=None, metavar="PNG", help="a figure of the saved images")
    ap.add_argument("--where", action="append", default=[], metavar="AXIS=VALUE",
                    help="keep only these values of an axis (repeatable)")
    ap.add_argument("--image-points", type=int, default=4,
                    help="points in the --images figure (default 4)")
    ap.add_argument("--image-queries", type=int, default=4,
                    help="saved queries per point in the --images figure (default 4)")
    args = ap.parse_args(argv)
    try:
        if args.y not in METRICS:
            raise UsageError(f"unknown metric '{args.y}' (metrics: {', '.join(METRICS)})")
        study = Study(args.results, args.y)
        keep = selection(study, args.where)
        x = choose_x(keep, args.x)
        if args.images and not study.saved_images:
            raise UsageError(f"{args.results} has no saved images (run the study with "
                             f"output.save_images > 0)")
        out = args.out
        if out is None and not args.table and not args.images:
            suffix = "" if args.y == "frac_correct" else "_" + args.y.replace("/", "_")
            out = stem(args.results) + suffix + ".png"
        if args.table:
            print(table(study, keep, x, args.y))
            if not study.complete:
                print(f"{prog}: partial results: {study.ndone} of {study.npoints} points done",
                      file=sys.stderr)
        if out:
            log, nlines = plot(study, keep, x, args.y, out)
            state = ("complete" if study.complete
                     else f"partial: {study.ndone} of {study.npoints} points done")
            print(f"{prog}: wrote {out}: {args.y} vs {x}{' (log x)' if log else ''}, "
                  f"{nlines} line{'s' if nlines != 1 else ''} ({state})", file=sys.stderr)
        if args.images:
            npts, nq = plot_images(study, keep, args.images, args.image_points, args.image_queries)
            print(f"{prog}: wrote {args.images}: {npts} point{'s' if npts != 1 else ''} x "
                  f"{nq} quer{'ies' if nq != 1 else 'y'}", file=sys.stderr)
    except UsageError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 2
    return 0


