#!/usr/bin/python3
"""`uhn encode text` (spec §13, §14) against an independent reference.

The captions (ASCII, upper case, non-ASCII, empty, longer than the image holds,
repeated) are stored as variable-length UTF-8 strings, variable-length ASCII
bytes and fixed-length strings; each is encoded with pixel (28x28x1 and
12x20x3) and ngram (D = 1024, n = 3; D = 97, n = 2) and compared with
text_ref.py (hashlib and numpy): pixel images and digests bit for bit, ngram
codes to 1e-6. --compare-ranks runs the same commands at several rank counts
and requires identical datasets.

    encode_text.py --uhn ./uhn --mpiexec mpiexec --ranks 3
    encode_text.py --uhn ./uhn --mpiexec mpiexec --compare-ranks 1 2 3 4
"""
import os
import sys
import tempfile

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "cli"))
sys.path.insert(0, HERE)
import text_ref  # noqa: E402
from uhn_cli import Runner, check, common_args, main_wrapper  # noqa: E402

CAPTIONS = ["a cat sat on the mat", "A CAT SAT ON THE MAT", "the dog", "café au lait",
            "naïve Œuvre — 東京 🙂", "", "x", "ab",
            "a very long caption that goes on and on well past sixty-four bytes of text",
            "the dog", "Shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Sneaker",
            "Bag", "Ankle boot", "  spaces  around  ", "MiXeD CaSe 123", "tab\there"]
ASCII = [c for c in CAPTIONS if c.isascii()]

METHODS = [("pixel", ["--shape", "28,28,1"], dict(h=28, w=28, c=1)),
           ("pixel", ["--shape", "12,20,3"], dict(h=12, w=20, c=3)),
           ("ngram", ["--dim", "1024"], dict(dim=1024, n=3)),
           ("ngram", ["--dim", "97", "--n", "2"], dict(dim=97, n=2))]


def inputs(d):
    """{dataset: captions as bytes}: vlen UTF-8, vlen ASCII bytes, fixed-length."""
    path = os.path.join(d, "captions.h5")
    with h5py.File(path, "w") as f:
        f["captions"] = np.array(CAPTIONS, dtype=h5py.string_dtype("utf-8"))
        f.create_dataset("ascii", data=np.array([c.encode() for c in ASCII], dtype=object),
                         dtype=h5py.string_dtype("ascii"))
        f["fixed"] = np.array([c.encode() for c in CAPTIONS], dtype="S100")
    return path, {"captions": [c.encode() for c in CAPTIONS],
                  "ascii": [c.encode() for c in ASCII],
                  "fixed": [c.encode() for c in CAPTIONS]}


def encode(runner, ranks, d, path, dset, method, extra, tag):
    out = os.path.join(d, f"{tag}.h5")
    argv = ["encode", "text", "--method", method, "--input", f"{path}:{dset}", "--output", out,
            "--quiet"] + extra
    rc, so, se = runner.run(ranks, argv)
    check(rc == 0, f"uhn {' '.join(argv)} at {ranks} ranks: exit {rc}\n{so}\n{se}")
    check(so.strip() == "", f"--quiet printed: {so}")
    return out


def check_file(out, caps, method, p, ranks):
    what = f"{out} ({method} {p})"
    with h5py.File(out, "r") as f:
        got = f["output"][...]
        check(got.dtype == np.float32, f"{what}: output is {got.dtype}")
        a = f.attrs
        check(a["command"] == "encode text" and a["method"] == method, f"{what}: attributes")
        check(int(a["ranks"]) == ranks and int(a["rows"]) == len(caps), f"{what}: ranks/rows")
        for k in ("description", "units"):
            check(k in f["output"].attrs, f"{what}: output has no {k}")
        if method == "pixel":
            D = p["h"] * p["w"] * p["c"]
            check(got.shape == (len(caps), D), f"{what}: shape {got.shape}")
            check((int(a["height"]), int(a["width"]), int(a["channels"])) ==
                  (p["h"], p["w"], p["c"]), f"{what}: shape attributes")
            dig = f["digest"][...]
            check(dig.shape == (len(caps),), f"{what}: digest shape {dig.shape}")
            for i, c in enumerate(caps):
                img, hexd = text_ref.pixel(c, p["h"], p["w"], p["c"])
                g = dig[i].decode() if isinstance(dig[i], bytes) else str(dig[i])
                check(g == hexd, f"{what}: digest {i} {g} != {hexd}")
                check(np.array_equal(got[i], img),
                      f"{what}: image {i} differs in {int(np.sum(got[i] != img))} pixels")
        else:
            check(got.shape == (len(caps), p["dim"]), f"{what}: shape {got.shape}")
            check(int(a["dim"]) == p["dim"] and int(a["n"]) == p["n"], f"{what}: dim/n attributes")
            check("digest" not in f, f"{what}: ngram wrote a digest")
            ref = np.stack([text_ref.ngram(c, p["dim"], p["n"]) for c in caps])
            err = float(np.max(np.abs(got - ref)))
            check(err <= 1e-6, f"{what}: differs from the reference by {err:.3g}")
            norms = np.linalg.norm(got.astype(np.float64), axis=1)
            check(np.all(np.abs(norms - 1) < 1e-6), f"{what}: norms {norms}")


def test_values(runner, ranks, d):
    path, data = inputs(d)
    for dset, caps in data.items():
        for k, (method, extra, p) in enumerate(METHODS):
            out = encode(runner, ranks, d, path, dset, method, extra, f"{dset}_{k}")
            check_file(out, caps, method, p, ranks)
            print(f"ok {dset} {method} {' '.join(extra)} at {ranks} ranks")
    # Equal captions (differing only in ASCII case, or repeated) give equal codes.
    with h5py.File(os.path.join(d, "captions_2.h5"), "r") as f:
        g = f["output"][...]
    check(np.array_equal(g[0], g[1]) and np.array_equal(g[2], g[9]), "equal captions differ")


def compare_ranks(runner, counts, d):
    path, data = inputs(d)
    for k, (method, extra, p) in enumerate(METHODS):
        first = None
        for r in counts:
            out = encode(runner, r, d, path, "captions", method, extra, f"r{r}_{k}")
            with h5py.File(out, "r") as f:
                got = {n: f[n][...] for n in ("output", "digest") if n in f}
            if first is None:
                first = got
                check_file(out, data["captions"], method, p, r)
                continue
            for n in first:
                check(np.array_equal(first[n], got[n]),
                      f"{method} {extra}: {n} at {r} ranks differs from {counts[0]} ranks")
        print(f"ok {method} {' '.join(extra)}: identical at ranks {counts}")


def main():
    ap = common_args(__doc__)
    ap.add_argument("--ranks", type=int)
    ap.add_argument("--compare-ranks", type=int, nargs="+")
    args = ap.parse_args()
    check(bool(args.ranks) != bool(args.compare_ranks), "give --ranks or --compare-ranks")
    runner = Runner(args)
    with tempfile.TemporaryDirectory(dir=args.workdir) as d:
        if args.compare_ranks:
            compare_ranks(runner, args.compare_ranks, d)
        else:
            test_values(runner, args.ranks, d)


if __name__ == "__main__":
    main_wrapper(main)
