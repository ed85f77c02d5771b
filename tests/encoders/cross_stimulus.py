#!/usr/bin/python3
"""Cross-stimulus memories (spec §13) through `uhn encode text` and `uhn recall`.

A constructed bank of 12 images (8 x 8, or 28 x 28 for pixel) with captions,
two of which share one caption. Memories are [x_n ; s t_n] with t_n the text
code of caption n (ngram D = 256, or pixel: the rendered digest, encoded with
the identity image encoder) and s = auto (mean image norm / mean text norm);
text queries are [0 ; s t_m] with the text coordinates known: held (`--clamp`)
and the cue set of `--cue-only` similarity. At beta = 1000:
  - a unique caption recalls its image exactly (the other weights vanish);
  - the two memories with one caption get weights 1/2 each (within 1e-6) and
    the recall is the mean of their two images: a metastable mixture;
  - the text coordinates of the output are the query's (held);
for dot and euclidean similarity, and the output is identical at every rank
count given.

    cross_stimulus.py --uhn ./uhn --mpiexec mpiexec --ranks 1 3
"""
import os
import sys
import tempfile

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "cli"))
from uhn_cli import Runner, check, common_args, main_wrapper  # noqa: E402

CAPTIONS = ["a red sandal", "a blue coat", "the striped shirt", "Ankle boot 7",
            "Ankle boot 8", "a bag", "a dress with dots", "a dress with dots",
            "trousers, grey", "café sneaker", "pullover 12", "t-shirt"]
SHARED = (6, 7)  # the pair with one caption


def text_codes(runner, ranks, d, method, extra):
    cap = os.path.join(d, "captions.h5")
    with h5py.File(cap, "w") as f:
        f["captions"] = np.array(CAPTIONS, dtype=h5py.string_dtype("utf-8"))
    out = os.path.join(d, f"text_{method}_{ranks}.h5")
    argv = ["encode", "text", "--method", method, "--input", cap, "--output", out,
            "--quiet"] + extra
    rc, so, se = runner.run(ranks, argv)
    check(rc == 0, f"uhn {' '.join(argv)}: exit {rc}\n{so}\n{se}")
    with h5py.File(out, "r") as f:
        return f["output"][...].astype(np.float32)


def bank(d, images, text, tag):
    """Memories [x ; s t], text queries [0 ; s t], the clamp of the text part."""
    n, K = images.shape
    s = np.mean(np.linalg.norm(images, axis=1)) / np.mean(np.linalg.norm(text, axis=1))
    mem = np.concatenate([images, np.float32(s) * text], axis=1).astype(np.float32)
    q = mem.copy()
    q[:, :K] = 0
    clamp = np.zeros(mem.shape, np.uint8)
    clamp[:, K:] = 1
    path = os.path.join(d, f"bank_{tag}.h5")
    with h5py.File(path, "w") as f:
        f["memories"], f["queries"], f["clamp"] = mem, q, clamp
    return path, K


def recall(runner, ranks, d, path, sim, tag):
    out = os.path.join(d, f"out_{tag}_{sim}_{ranks}.h5")
    argv = ["recall", "--memories", path, "--queries", f"{path}:queries", "--clamp",
            f"{path}:clamp", "--cue-only", "--similarity", sim, "--beta", "1000", "--output", out]
    rc, so, se = runner.run(ranks, argv)
    check(rc == 0, f"uhn {' '.join(argv)}: exit {rc}\n{so}\n{se}")
    with h5py.File(out, "r") as f:
        return {k: f[k][...] for k in ("output", "index", "weight")}


def check_recall(o, images, path, K, what):
    with h5py.File(path, "r") as f:
        q = f["queries"][...]
    z = o["output"]
    check(np.array_equal(z[:, K:], q[:, K:]), f"{what}: the text coordinates were not held")
    a, b = SHARED
    for m in range(len(CAPTIONS)):
        if m in SHARED:
            continue
        check(o["index"][m] == m and abs(o["weight"][m] - 1) <= 1e-6,
              f"{what}: caption {m} recalled {o['index'][m]} with weight {o['weight'][m]}")
        err = float(np.max(np.abs(z[m, :K] - images[m])))
        check(err <= 1e-6, f"{what}: caption {m}: recalled image differs by {err:.3g}")
    mean = (images[a].astype(np.float64) + images[b]) / 2
    for m in SHARED:
        check(o["index"][m] == a, f"{what}: shared caption {m}: n* {o['index'][m]}, expected {a}")
        check(abs(o["weight"][m] - 0.5) <= 1e-6,
              f"{what}: shared caption {m}: weight {o['weight'][m]}, expected 1/2")
        err = float(np.max(np.abs(z[m, :K] - mean)))
        check(err <= 1e-6, f"{what}: shared caption {m}: not the mean image ({err:.3g})")


def main():
    ap = common_args(__doc__)
    ap.add_argument("--ranks", type=int, nargs="+", required=True)
    args = ap.parse_args()
    runner = Runner(args)
    rng = np.random.default_rng(13)
    with tempfile.TemporaryDirectory(dir=args.workdir) as d:
        for method, extra, side in (("ngram", ["--dim", "256"], 8),
                                    ("pixel", ["--shape", "28,28,1"], 28)):
            images = rng.random((len(CAPTIONS), side * side)).astype(np.float32)
            first = {}
            for r in args.ranks:
                text = text_codes(runner, r, d, method, extra)
                path, K = bank(d, images, text, f"{method}{r}")
                for sim in ("dot", "euclidean"):
                    what = f"{method} {sim} at {r} ranks"
                    o = recall(runner, r, d, path, sim, method)
                    check_recall(o, images, path, K, what)
                    if sim in first:
                        check(all(np.array_equal(first[sim][k], o[k]) for k in o),
                              f"{what}: differs from {args.ranks[0]} ranks")
                    first.setdefault(sim, o)
                    print(f"ok {what}")


if __name__ == "__main__":
    main_wrapper(main)
