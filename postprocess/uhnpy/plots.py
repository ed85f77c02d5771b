"""The figures of the uhnpy commands. Each *_figure function returns a matplotlib
Figure (Agg) whose Axes hold the plotted numbers, so that they can be checked."""
import os

import numpy as np

from . import encoded, study as st
from .errors import UhnError
from .reader import open_file


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


STUDY_KINDS = ("study", "checkpoint")


def open_study(path, metric="frac_correct"):
    """The Study (plot_study.py's reading) of a capacity study or its checkpoint; any
    other file is refused with the reader's message naming its kind."""
    with open_file(path, kinds=STUDY_KINDS):
        pass
    return st.Study(path, metric)


def sweep_figure(path, metric="frac_correct", x=None, where=(), need=None):
    """METRIC against x of a study (capacity: x = n; retrieval against noise: x =
    level), a line per combination of the other swept axes, error bars = the standard
    deviation over trials. need: the x axis must have more than one value."""
    if metric not in st.METRIC_TABLE:
        raise UhnError(f"unknown metric '{metric}' (metrics: {', '.join(st.METRICS)})")
    s = open_study(path, metric)
    keep = st.selection(s, list(where))
    x = st.choose_x(keep, x)
    if need and len(keep[x]) < 2:
        raise UhnError(f"{path} sweeps no {need}: {x} has one value "
                       f"({st.fmt_value(x, s.values[x][keep[x][0]])})")
    fig, log, nlines = st.figure(s, keep, x, metric)
    return fig, {"x": x, "log": log, "lines": nlines, "study": s, "keep": keep}


def beta_figure(path, where=()):
    """MSE and 1 - SSIM (dssim) against beta: two panels, a line per combination of
    the other swept axes."""
    open_study(path)
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    info = {}
    for ax, metric in zip(axes, ("mse", "dssim")):
        s = st.Study(path, metric)
        keep = st.selection(s, list(where))
        if "beta" not in keep or len(keep["beta"]) < 2:
            plt.close(fig)
            raise UhnError(f"{path} sweeps no beta (network.beta has one value)")
        _, log, nlines = st.figure(s, keep, "beta", metric, ax=ax)
        info[metric] = {"log": log, "lines": nlines}
        ax.set_title(f"{metric} (mean over the queries)", fontsize=9)
    axes[1].set_ylabel("dssim = 1 − SSIM")
    lines = st.line_axes(keep, "beta")
    fixed = st.short_fixed(s, keep, "beta", lines, 150)
    deck = os.path.splitext(os.path.basename(s.deck_name))[0]
    fig.suptitle(f"{deck}: reconstruction error against β{st.trials_note(s)}"
                 + (f"\n{fixed}" if fixed else ""), fontsize=10)
    fig.tight_layout()
    return fig, info


def separability_figure(path, where=()):
    """Separability histograms: of a `uhn separability` file (self and cross cosine
    densities), or of a study's per-encoder separability (plot_encoded.py's panels)."""
    with open_file(path, kinds=("separability", "study", "checkpoint")) as f:
        kind = f.kind
        if kind == "separability":
            edges = f.read("bin_edges").values.astype(float)
            hists = {k: f.read(k + "_hist").values.astype(float) for k in ("self", "cross")}
            stats = {k: float(f.read(k).values) for k in ("dprime", "overlap", "top1")}
    if kind != "separability":
        args = type("Args", (), {"results": path, "where": list(where), "out": None})()
        return encoded.cmd_separability(args), {"kind": kind}
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    width = np.diff(edges)
    for name, colour in (("cross", "tab:gray"), ("self", "tab:blue")):
        h = hists[name]
        total = h.sum()
        ax.stairs(h / (total * width) if total > 0 else h, edges, fill=True, alpha=0.45,
                  color=colour, label=f"{name} ({int(total)})")
    ax.set_xlabel("cosine")
    ax.set_ylabel("density")
    ax.set_title(f"d′ = {stats['dprime']:.3g}, overlap = {stats['overlap']:.3f}, "
                 f"top-1 = {stats['top1']:.3f}", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig, {"kind": kind, **stats}


def images_figure(path, where=(), points=4, queries=4, trajectory=False, query=0):
    """The saved images of a study: a grid (query / retrieved / truth per point) or,
    with trajectory, the strip of decoded states of saved query `query`."""
    if trajectory:
        open_study(path)
        args = type("Args", (), {"results": path, "where": list(where), "out": None,
                                 "query": query})()
        return encoded.cmd_trajectory(args), {}
    s = open_study(path)
    keep = st.selection(s, list(where))
    fig, npts, nq = st.images_figure(s, keep, points, queries)
    return fig, {"points": npts, "queries": nq}


def efficiency_figure(path):
    """Parallel efficiency of the scaling benchmark against the ranks R, R0 the
    fewest ranks measured, of the time per step (total, and compute alone), a line
    per batch. Strong scaling (vs_ranks, N fixed): E(R) = R0 T(R0) / (R T(R));
    weak scaling (group weak, N / R fixed; a second panel when the file has it):
    E(R) = T(R0) / T(R). Axes read from the scales. Returns the figure and
    {"strong" | "weak": {line label: efficiencies}}."""
    with open_file(path, kinds=("scaling",)) as f:
        groups = ["vs_ranks"] + (["weak"] if "weak" in f.h5 else [])
        series = {g: {k: f.read(f"{g}/{k}") for k in ("total_s_per_step", "compute_s_per_step")}
                  for g in groups}
        fixed = {g: dict(f.h5[g].attrs) for g in groups}
        at = f.attrs
    plt = _plt()
    fig, axes = plt.subplots(1, len(groups), figsize=(6 * len(groups), 4.2), squeeze=False)
    eff = {}
    what = []
    for key, name in (("K", "K"), ("steps", "T")):
        if key in at:
            what.append(f"{name} = {at[key]}")
    if "cores" in at:
        what.append(f"{at['cores']} cores")
    if "load_average_start" in at:
        what.append(f"load {str(at['load_average_start']).split()[0]} at start")
    for ax, g in zip(axes[0], groups):
        kind = "strong" if g == "vs_ranks" else "weak"
        eff[kind] = {}
        colours = {}
        for key, style in (("total_s_per_step", "o-"), ("compute_s_per_step", "s--")):
            t = series[g][key]
            rdim = "ranks"
            bdim = [d for d in t.dims if d != rdim][0]
            tv = np.moveaxis(t.values.astype(float), t.axis(rdim), -1)
            ranks = np.asarray(t.coords[rdim], float)
            for b, row in zip(t.coords[bdim], tv):
                with np.errstate(divide="ignore", invalid="ignore"):
                    e = (ranks[0] * row[0] / (ranks * row) if kind == "strong"
                         else row[0] / row)
                label = f"{key.split('_')[0]}, B = {b}"
                colour = colours.setdefault(str(b), f"C{len(colours)}")  # one colour per batch
                ax.plot(ranks, e, style, label=label, color=colour)
                eff[kind][label] = e
        ax.axhline(1.0, color="lightgrey", lw=2, zorder=0)
        ax.set_xscale("log", base=2)
        ax.set_xticks(ranks)
        ax.set_xticklabels([f"{r:g}" for r in ranks])
        ax.minorticks_off()
        ax.set_xlabel("MPI ranks R")
        if kind == "strong":
            ax.set_ylabel("strong-scaling efficiency R0·T(R0) / (R·T(R))")
            n = fixed[g].get("n_memories")
            head = "strong scaling" + (f", N = {float(n):.3g}" if n is not None else "")
        else:
            ax.set_ylabel("weak-scaling efficiency T(R0) / T(R)")
            n = fixed[g].get("n_per_rank")
            head = "weak scaling" + (f", N = R × {float(n):.3g}" if n is not None else "")
        ax.set_title(f"uhn scaling benchmark: {head}\n" + ", ".join(what), fontsize=9)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig, eff


def _image_shape(length, shape, what):
    """(H, W) of a row of `length` values: shape "HxW" if given, else square."""
    if shape:
        try:
            h, w = (int(t) for t in shape.lower().split("x"))
        except ValueError:
            raise UhnError(f"--shape {shape}: expected HxW, e.g. 28x28")
        if h <= 0 or w <= 0 or h * w != length:
            raise UhnError(f"--shape {shape}: {h} x {w} is not the {length} values of {what}")
        return h, w
    side = int(round(length ** 0.5))
    if side * side != length:
        raise UhnError(f"{what} has {length} values, not a square image: give --shape HxW")
    return side, side


def _recall_rows(path, spec, what, rows):
    """Rows (a list of indices; -1: a row of NaN) of the input named by a recall output's
    attribute ("FILE:DATASET"), FILE as given or relative to the output's folder."""
    import h5py

    name, _, dset = str(spec).rpartition(":")
    if not name:
        name, dset = dset, what
    for cand in (name, os.path.join(os.path.dirname(os.path.abspath(path)), name)):
        if not os.path.isfile(cand):
            continue
        try:
            f = h5py.File(cand, "r")
        except OSError:
            raise UhnError(f"{cand} (the {what} of {path}) is not an HDF5 file")
        with f:
            if dset not in f or not isinstance(f[dset], h5py.Dataset) or f[dset].ndim != 2:
                raise UhnError(f"{cand} has no 2-D dataset {dset} (the {what} of {path})")
            d = f[dset]
            return np.array([d[i] if 0 <= i < d.shape[0] else np.full(d.shape[1], np.nan)
                             for i in rows], dtype=float)
    raise UhnError(f"cannot find {name}, the {what} file of {path} (looked in the current "
                   f"folder and next to {path})")


def recall_figure(path, queries=8, shape=None):
    """A `uhn recall` output as an image grid: per query (columns) the query, the
    output z and the stored row n* (the memory, or the value of hetero-association, at
    the largest weight), titled with n* and w. The queries and memories are read from
    the files named by the output's attributes. shape: "HxW" (default square)."""
    with open_file(path, kinds=("recall",)) as f:
        at = f.attrs
        out = f.h5["output"][()]
        index = f.h5["index"][()]
        weight = f.h5["weight"][()]
    nq = max(1, min(int(queries), out.shape[0]))
    hetero = str(at.get("association", "auto")) == "hetero"
    rows = {}
    for key, attr, which in (("query", "queries", list(range(nq))),
                             ("stored n*", "values" if hetero else "memories",
                              [int(i) for i in index[:nq]])):
        if attr not in at:
            raise UhnError(f"{path} names no {attr} file (attribute {attr})")
        rows[key] = _recall_rows(path, at[attr], attr, which)
    qshape = _image_shape(rows["query"].shape[1], shape if not hetero else None, "a query")
    oshape = _image_shape(out.shape[1], shape, "an output row")
    plt = _plt()
    fig, axs = plt.subplots(3, nq, squeeze=False, figsize=(1.3 * nq + 0.6, 4.6),
                            layout="constrained")
    panels = (("query", rows["query"], qshape), ("output z", out[:nq].astype(float), oshape),
              ("stored n*", rows["stored n*"], oshape))
    for r, (label, data, shp) in enumerate(panels):
        for j in range(nq):
            ax = axs[r, j]
            ax.set_xticks([])
            ax.set_yticks([])
            ax.imshow(np.nan_to_num(data[j]).reshape(shp), cmap="gray", vmin=0,
                      vmax=max(1.0, float(np.nanmax(data[j])) if np.isfinite(data[j]).any()
                               else 1.0))
            if j == 0:
                ax.set_ylabel(label, fontsize=9)
            if r == 0:
                ax.set_title(f"query {j}", fontsize=8)
            if r == 2:
                ax.set_title(f"n* = {int(index[j])}, w = {float(weight[j]):.2f}", fontsize=7)
    opts = ", ".join(f"{k} = {at[k]:g}" if isinstance(at[k], float) else f"{k} = {at[k]}"
                     for k in ("similarity", "separation", "score", "beta", "steps")
                     if k in at)
    cue = ", cue-only" if int(at.get("cue_only", 0) or 0) else ""
    fig.suptitle(f"uhn recall: {nq} of {out.shape[0]} queries, {at.get('n_memories', '?')} "
                 f"memories; {opts}{cue}", fontsize=8)
    return fig, {"queries": nq, "index": index[:nq], "weight": weight[:nq]}
