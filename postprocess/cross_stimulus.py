#!/usr/bin/python3
"""Tables and figures of cross-stimulus studies (`uhn run` with a [text] section).

    cross_stimulus.py table  RESULTS.h5 [--x AXIS]          markdown on stdout
    cross_stimulus.py shared RESULTS.h5                     markdown on stdout
    cross_stimulus.py mixtures RESULTS.h5 --out PNG [--where AXIS=VALUE ...]

table: one row per combination of the axes other than --x (default n) that have
more than one value, one column per x value; each cell "pixel / code", the
fraction of text-cued queries recalled correctly by the squared-error rule of
spec §7 and by the code-space rule of §10 (n* = m with weight >= 0.99), over
all trials.

shared: per point, the queries whose caption is shared with the other image of
their pair against the unique ones: their counts, the fraction recalled
correctly (§7), the fraction ending metastable (§7, and in brackets in code
space, §10: largest weight below 0.99), and the mean MSE.

mixtures: the saved queries of one point (--where picks it; every axis with
more than one value must be fixed): per query its true image, the other image
of its pair (shared captions) and the recalled image, marked shared or unique.

Axes are read from the file's dimension scales (the root datasets named by the
`axis` attribute order of each dataset's dimensions), never from positions.
"""
import argparse
import sys

import os

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from uhnpy.reader import dimensions  # noqa: E402


def fail(msg):
    print(f"cross_stimulus.py: {msg}", file=sys.stderr)
    sys.exit(2)


def axes_of(f, name):
    """[(axis name, values)] of the sweep dimensions of dataset `name` (uhnpy.reader:
    the dimension scales, up to `trial`)."""
    out = []
    for label, c in dimensions(f[name]):
        if c is None or label == "trial":
            break
        out.append((label, [x.item() if isinstance(x, np.generic) else x for x in c.tolist()]))
    return out


def fmt(v):
    if isinstance(v, float):
        return "auto" if np.isnan(v) else f"{v:g}"
    return {0: "off", 1: "on"}.get(v, str(v)) if isinstance(v, (int, np.integer)) else str(v)


def open_results(path):
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        fail(f"cannot open '{path}': {e}")
    if "text" not in f or "frac_correct" not in f:
        fail(f"'{path}' is not the results file of a cross-stimulus study (no text/ group)")
    return f


def cmd_table(args):
    f = open_results(args.results)
    axes = axes_of(f, "frac_correct")
    names = [a for a, _ in axes]
    if args.x not in names:
        fail(f"--x {args.x}: not an axis of '{args.results}' ({', '.join(names)})")
    xi = names.index(args.x)
    q = f["queries"][...].astype(float)
    pix = f["count_correct"][...] / np.maximum(q, 1)
    code = f["code_count_correct"][...] / np.maximum(q, 1)
    done = f["done"][...]
    rows = [i for i, (a, v) in enumerate(axes) if len(v) > 1 and i != xi]
    print(f"| {' '.join(names[i] for i in rows) or 'point'} | " +
          " | ".join(f"{args.x} = {fmt(v)}" for v in axes[xi][1]) + " |")
    print("|---" * (1 + len(axes[xi][1])) + "|")
    for combo in np.ndindex(*[len(axes[i][1]) for i in rows]):
        cells = []
        for xv in range(len(axes[xi][1])):
            at = [0] * len(axes)
            for i, c in zip(rows, combo):
                at[i] = c
            at[xi] = xv
            at = tuple(at)
            cells.append(f"{pix[at]:.2f} / {code[at]:.2f}" if done[at] else "—")
        label = " ".join(f"{names[i]}={fmt(axes[i][1][c])}" for i, c in zip(rows, combo))
        print(f"| {label or '-'} | " + " | ".join(cells) + " |")


def cmd_shared(args):
    f = open_results(args.results)
    axes = axes_of(f, "frac_correct")
    multi = [i for i, (a, v) in enumerate(axes) if len(v) > 1]
    print("| point | shared queries | shared: correct | shared: metastable (code) | shared MSE | "
          "unique queries | unique: correct | unique: metastable (code) | unique MSE |")
    print("|---" * 9 + "|")
    g = {f"{k}_{c}count_{o}": f[f"text/{k}_{c}count_{o}"][...]
         for k in ("shared", "unique") for c in ("", "code_")
         for o in ("correct", "wrong", "metastable")}
    g.update({f"{k}_mse": f[f"text/{k}_mse"][...] for k in ("shared", "unique")})
    for at in np.ndindex(*[len(v) for _, v in axes]):
        if not f["done"][at]:
            continue
        label = " ".join(f"{axes[i][0]}={fmt(axes[i][1][at[i]])}" for i in multi) or "-"
        cells = []
        for k in ("shared", "unique"):
            n = sum(int(g[f"{k}_count_{o}"][at]) for o in ("correct", "wrong", "metastable"))
            cells += [str(n)]
            if n:
                cells += [f"{g[f'{k}_count_correct'][at] / n:.2f}",
                          f"{g[f'{k}_count_metastable'][at] / n:.2f} "
                          f"({g[f'{k}_code_count_metastable'][at] / n:.2f})",
                          f"{g[f'{k}_mse'][at]:.4f}"]
            else:
                cells += ["—", "—", "—"]
        print(f"| {label} | " + " | ".join(cells) + " |")


def cmd_mixtures(args):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    f = open_results(args.results)
    if "images/caption_shared" not in f:
        fail(f"'{args.results}' saved no images: run the study with output.save_images > 0")
    axes = axes_of(f, "frac_correct")
    want = dict(w.split("=", 1) for w in args.where)
    at = []
    for name, values in axes:
        if name in want:
            labels = [fmt(v) for v in values]
            if want[name] not in labels:
                fail(f"--where {name}={want[name]}: not a value of {name} ({', '.join(labels)})")
            at.append(labels.index(want[name]))
        elif len(values) > 1:
            fail(f"axis {name} has {len(values)} values: choose one with --where {name}=VALUE")
        else:
            at.append(0)
    at = tuple(at)
    shared = f["images/caption_shared"][at]
    keep = np.nonzero(shared >= 0)[0][:args.queries]
    truth, got = f["images/truth"][at], f["images/retrieved"][at]
    partner, index = f["images/partner_index"][at], f["images/image_index"][at]
    fig, ax = plt.subplots(len(keep), 3, figsize=(4.5, 1.5 * len(keep)), squeeze=False)
    by_index = {int(i): truth[j] for j, i in enumerate(index) if i >= 0}
    for r, j in enumerate(keep):
        other = by_index.get(int(partner[j])) if shared[j] else None
        for c, (img, title) in enumerate(((truth[j], f"image {index[j]}"),
                                          (other, f"pair: {partner[j]}" if shared[j] else "unique"),
                                          (got[j], "recalled"))):
            a = ax[r][c]
            a.axis("off")
            a.set_title(title, fontsize=7)
            if img is not None:
                a.imshow(np.clip(img[..., 0], 0, 1), cmap="gray", vmin=0, vmax=1)
    fig.tight_layout()
    fig.savefig(args.out, dpi=120)
    print(f"cross_stimulus.py: {len(keep)} queries -> {args.out}")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("table")
    t.add_argument("results")
    t.add_argument("--x", default="n")
    s = sub.add_parser("shared")
    s.add_argument("results")
    m = sub.add_parser("mixtures")
    m.add_argument("results")
    m.add_argument("--out", required=True)
    m.add_argument("--where", action="append", default=[])
    m.add_argument("--queries", type=int, default=8)
    args = ap.parse_args()
    {"table": cmd_table, "shared": cmd_shared, "mixtures": cmd_mixtures}[args.cmd](args)


if __name__ == "__main__":
    main()
