#!/usr/bin/python3
"""Summarises the recall demo: a table and a PNG.

    show_recall.py --input demo/demo_input.h5 --runs demo/runs.tsv --png demo/recall_demo.png

--runs is a tab-separated file written by jobscripts/demo.sh, one line per
`uhn recall` run: label, similarity, cue_only (0/1), beta, seconds, output file
(relative to the runs file). For each run the table gives the fraction of
queries recalled correctly by the rule of spec §7 (sum of squared errors
against the true image < theta, default 50), the fraction whose arg-max n* is
the true memory, the mean squared error per pixel, the median weight at n*
(1 = the softmax picked a single memory) and the wall time of the run.
"""
import argparse
import csv
import os
import sys

import h5py
import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from uhnpy import outcome  # noqa: E402  (the one correctness rule, spec §7)


def read_runs(path):
    base = os.path.dirname(os.path.abspath(path))
    runs = []
    with open(path, newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            row["file"] = os.path.join(base, row["file"])
            row["cue_only"] = row["cue_only"] == "1"
            row["seconds"] = float(row["seconds"])
            runs.append(row)
    return runs


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", required=True, help="the demo input (make_recall_demo.py)")
    ap.add_argument("--runs", required=True, help="runs.tsv written by demo.sh")
    ap.add_argument("--png", help="figure to write")
    ap.add_argument("--theta", type=float, default=outcome.THETA, help="correctness threshold on the SSE")
    ap.add_argument("--show", type=int, default=6, help="queries shown in the figure")
    args = ap.parse_args()

    with h5py.File(args.input, "r") as f:
        memories = f["memories"][()]
        queries = f["queries"][()]
        truth = f["truth"][()]
        shape = tuple(f.attrs.get("image_shape", (28, 28)))
    target = memories[truth].astype(np.float64)

    runs = read_runs(args.runs)
    rows = []
    for r in runs:
        with h5py.File(r["file"], "r") as f:
            z = f["output"][()].astype(np.float64)
            idx = f["index"][()]
            w = f["weight"][()]
        if z.shape != target.shape:
            raise SystemExit(f"show_recall: {r['file']}: output shape {z.shape}, expected {target.shape}")
        sse = outcome.sq_error(z, target)
        r.update(z=z, sse=sse, correct=np.mean(outcome.is_correct(sse, args.theta)), hit=np.mean(idx == truth),
                 mse=np.mean((z - target) ** 2), wmed=float(np.median(w)))
        rows.append(r)

    hdr = (f"{'similarity':<11} {'beta':>7} {'cue-only':>8} {'correct':>8} {'n*=true':>8} "
           f"{'MSE/pixel':>10} {'median w*':>9} {'time (s)':>8}")
    print(f"Recall of {len(truth)} half-masked Fashion-MNIST images from {len(memories)} memories "
          f"(correct: SSE < {args.theta:g}, spec §7; time: wall seconds of the mpirun, start-up included)")
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        print(f"{r['similarity']:<11} {float(r['beta']):>7g} {'yes' if r['cue_only'] else 'no':>8} "
              f"{r['correct']:>8.2f} {r['hit']:>8.2f} {r['mse']:>10.5f} {r['wmed']:>9.3f} "
              f"{r['seconds']:>8.2f}")

    if args.png:
        n = min(args.show, len(truth))
        cols = 2 + len(rows)
        fig, axes = plt.subplots(n, cols, figsize=(1.25 * cols, 1.35 * n + 0.6), squeeze=False)
        titles = ["query", "truth"] + [f"{r['similarity']}\n{'cue-only' if r['cue_only'] else 'full'}"
                                       for r in rows]
        for i in range(n):
            imgs = [queries[i], target[i]] + [r["z"][i] for r in rows]
            for j, im in enumerate(imgs):
                ax = axes[i, j]
                ax.imshow(np.asarray(im).reshape(shape), cmap="gray", vmin=0, vmax=1)
                ax.set_xticks([])
                ax.set_yticks([])
                if i == 0:
                    ax.set_title(titles[j], fontsize=7)
                if j >= 2:
                    ok = outcome.is_correct(rows[j - 2]["sse"][i], args.theta)
                    for s in ax.spines.values():
                        s.set_edgecolor("tab:green" if ok else "tab:red")
                        s.set_linewidth(2)
        fig.suptitle("uhn recall: Fashion-MNIST, bottom half unknown (green: SSE < %g)" % args.theta,
                     fontsize=8)
        fig.tight_layout()
        fig.savefig(args.png, dpi=110)
        print(f"figure: {args.png}")


if __name__ == "__main__":
    main()
