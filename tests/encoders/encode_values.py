#!/usr/bin/python3
"""`uhn encode fit|apply` (spec §9, §14) against numpy.

    encode_values.py --uhn ./uhn --mpiexec mpiexec --ranks 3
    encode_values.py --uhn ./uhn --mpiexec mpiexec --compare-ranks 1 2 3 4

With --ranks R, at R ranks:
  - pca on 300 Fashion-MNIST training images (uint8 [n][28][28]; synthetic
    float64 [n][6][5][2] images when the data set is not installed): mean,
    eigenvalues (1e-6 relative), components up to the fixed sign (1e-5), codes
    and decode(encode(x)) against numpy.linalg.eigh of the float64 covariance;
    whitened codes have unit variance over the training set; D = K
    reconstructs the images to float32 round-off;
  - random: R recovered from the codes of unit images, and decode(encode(x))
    equal to numpy's least-squares projection onto R's row space (decoded
    images leave [0, 1], so encode(decode(c)) = c is test_encoders' job);
  - identity and centred exactly (centred to the 2^-32 fixed point of the mean).
With --compare-ranks, every encoder is fitted and applied at each rank count:
the codes of one saved model are bit-identical at every rank count, the mean is
bit-identical, and refits agree within RANK_TOL (ScaLAPACK's reductions follow
the grid; the measured spread is printed).
"""
import gzip
import os
import sys
import tempfile

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cli"))
from uhn_cli import Runner, TestFailure, check, common_args, main_wrapper  # noqa: E402

FMNIST = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"
N_IMAGES = 300
RANK_TOL = 1e-11  # refits at different rank counts: max |difference| of model arrays


def training_set(d):
    """(path, X float64 [n][K] as uhn reads it, shape) of the training images."""
    path = os.path.join(d, "train.h5")
    if os.path.exists(FMNIST):
        with gzip.open(FMNIST) as f:
            raw = np.frombuffer(f.read(16 + N_IMAGES * 784), np.uint8, offset=16)
        img = raw.reshape(N_IMAGES, 28, 28)
        with h5py.File(path, "w") as f:
            f["images"] = img
        X = (img.reshape(N_IMAGES, -1).astype(np.float32) / np.float32(255)).astype(np.float64)
        return path, X, (28, 28, 1)
    rng = np.random.default_rng(4)
    base = rng.random((8, 60))
    img = np.clip(base[rng.integers(0, 8, N_IMAGES)] + 0.1 * rng.standard_normal((N_IMAGES, 60)),
                  0, 1).reshape(N_IMAGES, 6, 5, 2)
    with h5py.File(path, "w") as f:
        f["images"] = img
    X = img.reshape(N_IMAGES, -1).astype(np.float32).astype(np.float64)
    return path, X, (6, 5, 2)


def fit(runner, ranks, d, train, name, model, *extra):
    rc, out, err = runner.run(ranks, ["encode", "fit", "--encoder", name, "--input", train,
                                      "--model", os.path.join(d, model)] + list(extra))
    check(rc == 0, f"encode fit {name} {extra} failed (exit {rc}) at {ranks} ranks:\n{out}\n{err}")
    return os.path.join(d, model)


def apply(runner, ranks, d, model, inp, out_name, decode=False):
    out = os.path.join(d, out_name)
    argv = ["encode", "apply", "--model", model, "--input", inp, "--output", out]
    if decode:
        argv.append("--decode")
    rc, so, se = runner.run(ranks, argv)
    check(rc == 0, f"encode apply {model} failed (exit {rc}) at {ranks} ranks:\n{so}\n{se}")
    with h5py.File(out, "r") as f:
        return f["output"][...]


def reference_pca(X):
    mu = X.mean(axis=0)
    C = (X - mu).T @ (X - mu) / X.shape[0]
    w, V = np.linalg.eigh(C)
    w, V = w[::-1], V[:, ::-1].T.copy()
    for v in V:
        i = np.argmax(np.abs(v))
        if v[i] < 0:
            v *= -1
    return mu, w, V


def close(name, want, got, tol, rel=False):
    want, got = np.asarray(want, np.float64), np.asarray(got, np.float64)
    check(want.shape == got.shape, f"{name}: shape {got.shape}, expected {want.shape}")
    err = np.abs(want - got)
    if rel:
        err = err / np.maximum(np.abs(want), 1e-300)
    check(err.max() <= tol, f"{name}: max {'relative ' if rel else ''}error {err.max():.3g} > {tol:g}")


def test_pca(runner, ranks, d, train, X, shape):
    n, K = X.shape
    D = 20
    mu, w, V = reference_pca(X)
    model = fit(runner, ranks, d, train, "pca", "pca.h5", "--dim", D)
    with h5py.File(model, "r") as f:
        a = dict(f.attrs)
        check(a["uhn_model"] == "encoder" and a["encoder"] == "pca", f"model attrs {a}")
        check((a["dim"], a["input_length"], a["height"], a["width"], a["channels"])
              == (D, K) + shape, f"model shape attrs {a}")
        close("pca mean", mu, f["mean"][...], 1e-9)
        close("pca variances", w[:D], f["variances"][...], 1e-6, rel=True)
        close("pca components", V[:D], f["components"][...], 1e-5)
        check(f["components"].dtype == np.float64, "components are not float64")
    codes = apply(runner, ranks, d, model, train, "pca_codes.h5")
    ref = (X - mu) @ V[:D].T
    close("pca codes", ref, codes, 1e-5)
    back = apply(runner, ranks, d, model, os.path.join(d, "pca_codes.h5"), "pca_back.h5", True)
    close("pca decode(encode(x))", mu + ref @ V[:D], back, 1e-5)

    wm = fit(runner, ranks, d, train, "pca", "pcaw.h5", "--dim", D, "--whiten")
    wc = apply(runner, ranks, d, wm, train, "pcaw_codes.h5").astype(np.float64)
    close("whitened code variance", np.ones(D), (wc ** 2).mean(axis=0), 1e-5)
    close("whitened code mean", np.zeros(D), wc.mean(axis=0), 1e-5)
    close("whitened codes", ref / np.sqrt(w[:D]), wc, 1e-4)
    wb = apply(runner, ranks, d, wm, os.path.join(d, "pcaw_codes.h5"), "pcaw_back.h5", True)
    close("whitened decode(encode(x))", mu + ref @ V[:D], wb, 1e-5)

    full = fit(runner, ranks, d, train, "pca", "pcak.h5", "--dim", K)
    apply(runner, ranks, d, full, train, "pcak_codes.h5")
    fb = apply(runner, ranks, d, full, os.path.join(d, "pcak_codes.h5"), "pcak_back.h5", True)
    close("pca D = K reconstruction", X, fb, 2e-6)


def test_random(runner, ranks, d, train, X, shape):
    n, K = X.shape
    D = 40
    model = fit(runner, ranks, d, train, "random", "rnd.h5", "--dim", D, "--seed", 123)
    with h5py.File(model, "r") as f:
        check(set(f.keys()) <= {"provenance"}, f"random model holds datasets {list(f.keys())}")
        check(f.attrs["seed"] == 123 and f.attrs["dim"] == D, "random model attrs")
    unit = os.path.join(d, "unit.h5")
    with h5py.File(unit, "w") as f:
        f["images"] = np.eye(K, dtype=np.uint8).reshape((K,) + shape) * 255
    R = apply(runner, ranks, d, model, unit, "unit_codes.h5").astype(np.float64).T  # [D][K]
    check(abs(R.var() * D - 1) < 0.1, f"R entries have variance {R.var():.4g}, expected 1/D")
    codes = apply(runner, ranks, d, model, train, "rnd_codes.h5")
    close("random codes", X @ R.T, codes, 1e-5)
    back = apply(runner, ranks, d, model, os.path.join(d, "rnd_codes.h5"), "rnd_back.h5", True)
    proj = np.linalg.lstsq(R, codes.astype(np.float64).T, rcond=None)[0].T
    close("random decode = least squares", proj, back, 1e-5)


def test_identity_centred(runner, ranks, d, train, X, shape):
    m = fit(runner, ranks, d, train, "identity", "id.h5")
    c = apply(runner, ranks, d, m, train, "id_codes.h5")
    check(np.array_equal(c, X.astype(np.float32)), "identity codes are not the images")
    b = apply(runner, ranks, d, m, os.path.join(d, "id_codes.h5"), "id_back.h5", True)
    check(np.array_equal(b, c), "identity decode is not the codes")
    m = fit(runner, ranks, d, train, "centred", "cen.h5")
    with h5py.File(m, "r") as f:
        mu = f["mean"][...]
    close("centred mean", X.mean(axis=0), mu, 1e-9)
    c = apply(runner, ranks, d, m, train, "cen_codes.h5")
    check(np.array_equal(c, (X - mu).astype(np.float32)), "centred codes are not float32(x - mean)")
    b = apply(runner, ranks, d, m, os.path.join(d, "cen_codes.h5"), "cen_back.h5", True)
    check(np.array_equal(b, (c.astype(np.float64) + mu).astype(np.float32)),
          "centred decode is not float32(c + mean)")


ENCODERS = [("identity", []), ("centred", []), ("pca", ["--dim", "16"]),
            ("pca", ["--dim", "16", "--whiten"]), ("random", ["--dim", "30", "--seed", "9"])]


def compare_ranks(runner, counts, d, train):
    spread = 0.0
    for i, (name, extra) in enumerate(ENCODERS):
        models, codes = {}, {}
        for r in counts:
            models[r] = fit(runner, r, d, train, name, f"m{i}_{r}.h5", *extra)
        first = models[counts[0]]
        for r in counts:  # one model, every rank count: the same bits
            codes[r] = apply(runner, r, d, first, train, f"c{i}_{r}.h5")
            check(np.array_equal(codes[r], codes[counts[0]]),
                  f"{name} {extra}: codes of one model differ between {counts[0]} and {r} ranks")
        with h5py.File(first, "r") as f0:
            for r in counts[1:]:
                with h5py.File(models[r], "r") as f:
                    check(set(f.keys()) == set(f0.keys()), f"{name}: datasets differ at {r} ranks")
                    for k in f0.keys():
                        if k == "provenance":
                            continue
                        a, b = f0[k][...], f[k][...]
                        if k == "mean":
                            check(np.array_equal(a, b), f"{name}: mean differs at {r} ranks")
                        diff = float(np.abs(a - b).max())
                        spread = max(spread, diff)
                        check(diff <= RANK_TOL, f"{name} {extra}: {k} at {r} ranks differs by "
                                                f"{diff:.3g} > {RANK_TOL:g} from {counts[0]} ranks")
                refit = apply(runner, counts[0], d, models[r], train, f"rc{i}_{r}.h5")
                diff = float(np.abs(refit.astype(np.float64) - codes[counts[0]]).max())
                check(diff <= 1e-6, f"{name}: codes of the {r}-rank refit differ by {diff:.3g}")
    print(f"largest difference of refitted model arrays across rank counts {counts}: {spread:.3g}")


def main():
    ap = common_args(__doc__)
    ap.add_argument("--ranks", type=int)
    ap.add_argument("--compare-ranks", type=int, nargs="+")
    args = ap.parse_args()
    check(bool(args.ranks) != bool(args.compare_ranks), "give --ranks or --compare-ranks")
    runner = Runner(args)
    with tempfile.TemporaryDirectory(dir=args.workdir) as d:
        train, X, shape = training_set(d)
        if args.compare_ranks:
            compare_ranks(runner, args.compare_ranks, d, train)
            return
        test_identity_centred(runner, args.ranks, d, train, X, shape)
        test_random(runner, args.ranks, d, train, X, shape)
        test_pca(runner, args.ranks, d, train, X, shape)


if __name__ == "__main__":
    main_wrapper(main)
