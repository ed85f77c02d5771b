#!/usr/bin/python3
"""The vq and mlp encoders of `uhn encode` (spec §9, §14) against numpy.

    encode_vq_mlp.py --uhn ./uhn --mpiexec mpiexec --resave ./encoder_resave --ranks 3

At R ranks (and at 1 for comparison):
  vq  - k-means on synthetic 8x8x2 images (p = 2, J = 12; float data, no ties)
        and on 300 Fashion-MNIST images when installed (p = 4, J = 16): the
        codebook, seeds, iterations and objective are bit-identical at 1 and R
        ranks; the objective is no worse than a plain numpy Lloyd from the same
        seeds (numpy's objective of uhn's codebook, 1e-9 relative), and the
        recorded objective is that one to its 2^-24 units per patch; the codes of the training
        images are numpy's argmin over the codebook wherever numpy's margin
        exceeds 1e-9;
      - a codebook written with h5py (a model made elsewhere, 6x4x2 images,
        p = 2, J = 5): codes equal numpy's one-hot argmin, decode of one-hot
        and of mixed codes equal numpy's Σ_j c_ij e_j (1e-6), and an image built
        from codebook patches encodes to its one-hot code and decodes exactly;
  mlp - a model written with h5py (float32 and float64 weights, every
        activation, 3 encoder and 2 decoder layers): codes and decoded images
        against a numpy forward pass in float64 (1e-6); codes bit-identical at
        1 and R ranks and for a subset of the rows (another number per call);
  both - a model saved again by uhn_encoder_save (encoder_resave, into "/" and
        into "/encoders/NAME" as a study's results file does) reloads to
        bit-identical codes and keeps the layout.
"""
import gzip
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cli"))
from uhn_cli import Runner, check, common_args, main_wrapper  # noqa: E402

FMNIST = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"
MAX_ITER = 100


def run_ok(runner, ranks, argv):
    rc, out, err = runner.run(ranks, argv)
    check(rc == 0, f"uhn {' '.join(map(str, argv))} failed (exit {rc}) at {ranks} ranks:\n"
                   f"{out}\n{err}")
    return out


def fit(runner, ranks, train, model, *extra):
    run_ok(runner, ranks, ["encode", "fit", "--input", train, "--model", model] + list(extra))
    return model


def apply(runner, ranks, model, inp, out, decode=False):
    run_ok(runner, ranks, ["encode", "apply", "--model", model, "--input", inp, "--output", out]
           + (["--decode"] if decode else []))
    with h5py.File(out, "r") as f:
        return f["output"][...]


def write(path, **datasets):
    with h5py.File(path, "w") as f:
        for k, v in datasets.items():
            f[k] = v
    return path


def patches(X, shape, p):
    """[n·P][p·p·C]: patches in row-major grid order, pixels row-major, channels last."""
    H, W, C = shape
    n = X.shape[0]
    return (X.reshape(n, H // p, p, W // p, p, C).transpose(0, 1, 3, 2, 4, 5)
            .reshape(n * (H // p) * (W // p), p * p * C))


def unpatch(Pt, n, shape, p):
    H, W, C = shape
    return (Pt.reshape(n, H // p, W // p, p, p, C).transpose(0, 1, 3, 2, 4, 5)
            .reshape(n, H * W * C))


def sqdist(Xp, cb):
    return ((Xp[:, None, :] - cb[None, :, :]) ** 2).sum(axis=2)


def lloyd(Xp, init):
    """Plain serial Lloyd from the given centres: (centres, objective, iterations)."""
    c = init.copy()
    a = np.argmin(sqdist(Xp, c), axis=1)
    it = 0
    while it < MAX_ITER:
        for j in range(c.shape[0]):
            if np.any(a == j):
                c[j] = Xp[a == j].mean(axis=0)
        it += 1
        b = np.argmin(sqdist(Xp, c), axis=1)
        if np.array_equal(a, b):
            break
        a = b
    return c, sqdist(Xp, c).min(axis=1).sum(), it


def read_model(path):
    with h5py.File(path, "r") as f:
        return ({k: f.attrs[k] for k in f.attrs}, f["codebook"][...],
                f["seeds"][...] if "seeds" in f else None)


def check_kmeans(runner, ranks, d, name, train, X, shape, p, J):
    m1 = fit(runner, 1, train, os.path.join(d, f"{name}_1.h5"), "--encoder", "vq", "--patch",
             str(p), "--codes", str(J), "--seed", "7")
    mr = fit(runner, ranks, train, os.path.join(d, f"{name}_r.h5"), "--encoder", "vq", "--patch",
             str(p), "--codes", str(J), "--seed", "7")
    a1, cb1, s1 = read_model(m1)
    ar, cbr, sr = read_model(mr)
    check(cb1.tobytes() == cbr.tobytes(), f"{name}: codebooks differ at 1 and {ranks} ranks")
    check(np.array_equal(s1, sr), f"{name}: seeds differ: {s1} / {sr}")
    for k in ("iterations", "converged", "objective", "patch", "codes", "dim"):
        check(a1[k] == ar[k], f"{name}: attribute {k} differs: {a1[k]} / {ar[k]}")
    H, W, C = shape
    P = (H // p) * (W // p)
    check(a1["dim"] == P * J and cb1.shape == (J, p * p * C), f"{name}: shapes {a1['dim']} "
                                                              f"{cb1.shape}")
    Xp = patches(X, shape, p)
    check(len(set(s1.tolist())) == J and s1.min() >= 0 and s1.max() < Xp.shape[0],
          f"{name}: seeds {s1}")
    _, ref_obj, ref_it = lloyd(Xp, Xp[s1])
    obj = float(a1["objective"])
    own = sqdist(Xp, cb1).min(axis=1).sum()
    check(own <= ref_obj * (1 + 1e-9), f"{name}: objective {own} worse than numpy Lloyd's "
                                       f"{ref_obj}")
    # uhn sums the objective in 2^-24 units: half a unit per patch at most.
    check(abs(obj - own) <= Xp.shape[0] * 2.0 ** -25 + 1e-12 * own,
          f"{name}: objective {obj} but numpy gives {own} for the codebook")
    codes = apply(runner, ranks, m1, train, os.path.join(d, f"{name}_codes.h5"))
    dist = sqdist(Xp, cb1)
    want = np.argmin(dist, axis=1)
    srt = np.sort(dist, axis=1)
    clear = srt[:, 1] - srt[:, 0] > 1e-9
    got = codes.reshape(-1, J)
    check(np.all(got.sum(axis=1) == 1) and np.all((got == 0) | (got == 1)),
          f"{name}: codes are not one-hot")
    check(np.array_equal(np.argmax(got, axis=1)[clear], want[clear]),
          f"{name}: assignments differ from numpy's argmin")
    print(f"ok {name}: k-means {a1['iterations']} iterations (numpy {ref_it}), objective "
          f"{obj:.6f} (numpy Lloyd {ref_obj:.6f}), bit-identical at 1 and {ranks} ranks")
    return m1


def resave(runner, ranks, args, d, model, name, inp, codes):
    """The model saved again reloads to the same codes; into a group too."""
    for group in ("/", f"/encoders/{name}"):
        out = os.path.join(d, f"{name}_resaved{'_g' if group != '/' else ''}.h5")
        cmd = [args.mpiexec] + args.mpiexec_preflags.split() + [args.np_flag, str(ranks),
                                                                args.resave, model, out, group]
        p = subprocess.run(cmd, capture_output=True, text=True, env=runner.env,
                           timeout=args.timeout)
        check(p.returncode == 0, f"encoder_resave {model} {group} failed:\n{p.stdout}\n{p.stderr}")
        if group == "/":
            again = apply(runner, ranks, out, inp, os.path.join(d, f"{name}_again.h5"))
            check(again.tobytes() == codes.tobytes(), f"{name}: resaved model gives other codes")
        else:
            with h5py.File(model, "r") as a, h5py.File(out, "r") as b:
                g = b[group]
                check(g.attrs["encoder"] == a.attrs["encoder"], f"{name}: group's encoder")

                def same(na, oa, nb, ob):
                    if isinstance(oa, h5py.Dataset):
                        check(isinstance(ob, h5py.Dataset), f"{name}: {na} is not a dataset")
                        check(np.array_equal(oa[...].astype(np.float64),
                                             ob[...].astype(np.float64)), f"{name}: {na} differs")
                    for k in oa.attrs:
                        if k in ("command", "input", "ranks", "uhn_version"):
                            continue  # the fit's record, not the model's
                        check(k in ob.attrs, f"{name}: {nb} lacks attribute {k}")
                    if isinstance(oa, h5py.Group):
                        for k in oa:
                            if k != "provenance":
                                check(k in ob, f"{name}: {nb} lacks {k}")
                                same(f"{na}/{k}", oa[k], f"{nb}/{k}", ob[k])
                same("/", a, group, g)
    print(f"ok {name}: saved again (into / and /encoders/{name}) reloads to the same codes")


def check_known_codebook(runner, ranks, d):
    H, W, C, p, J, n = 6, 4, 2, 2, 5, 30
    shape = (H, W, C)
    P, L = (H // p) * (W // p), p * p * C
    rng = np.random.default_rng(11)
    cb = rng.random((J, L))
    model = os.path.join(d, "vq_known.h5")
    with h5py.File(model, "w") as f:
        for k, v in dict(uhn_model="encoder", encoder="vq", dim=P * J, input_length=H * W * C,
                         height=H, width=W, channels=C, whiten=0, seed=0, n_train=0, patch=p,
                         codes=J).items():
            f.attrs[k] = v
        f["codebook"] = cb
    img = rng.random((n, H, W, C)).astype(np.float32)
    inp = write(os.path.join(d, "vq_known_in.h5"), images=img)
    X = img.reshape(n, -1).astype(np.float64)
    codes = apply(runner, ranks, model, inp, os.path.join(d, "vq_known_codes.h5"))
    want = np.eye(J, dtype=np.float32)[np.argmin(sqdist(patches(X, shape, p), cb), axis=1)]
    check(np.array_equal(codes, want.reshape(n, P * J)), "vq known codebook: codes differ from "
                                                         "numpy's argmin")
    dec = apply(runner, ranks, model, os.path.join(d, "vq_known_codes.h5"),
                os.path.join(d, "vq_known_dec.h5"), decode=True)
    ref = unpatch(want.reshape(n * P, J) @ cb, n, shape, p)
    check(np.abs(dec - ref).max() <= 1e-6, "vq known codebook: decode of one-hot codes")
    mixed = rng.random((n, P * J)).astype(np.float32)
    write(os.path.join(d, "vq_mixed.h5"), output=mixed)
    dec = apply(runner, ranks, model, os.path.join(d, "vq_mixed.h5"),
                os.path.join(d, "vq_mixed_dec.h5"), decode=True)
    ref = unpatch(mixed.reshape(n * P, J).astype(np.float64) @ cb, n, shape, p)
    check(np.abs(dec - ref).max() <= 1e-6 * max(1, np.abs(ref).max()),
          f"vq: decode of mixed codes off by {np.abs(dec - ref).max()}")
    # Images built from codebook patches (as float32) encode to their own one-hot codes.
    pick = rng.integers(0, J, n * P)
    built = unpatch(cb[pick].astype(np.float32), n, shape, p).reshape(n, H, W, C)
    inp = write(os.path.join(d, "vq_built.h5"), images=built)
    codes = apply(runner, ranks, model, inp, os.path.join(d, "vq_built_codes.h5"))
    check(np.array_equal(codes, np.eye(J, dtype=np.float32)[pick].reshape(n, P * J)),
          "vq: an image built from codebook patches does not encode to its code")
    dec = apply(runner, ranks, model, os.path.join(d, "vq_built_codes.h5"),
                os.path.join(d, "vq_built_dec.h5"), decode=True)
    check(dec.tobytes() == built.reshape(n, -1).tobytes(),
          "vq: an image built from codebook patches does not decode exactly")
    print("ok vq: a codebook written by h5py: codes, one-hot and mixed decodes, exact round trip")


ACTS = {"identity": lambda v: v, "relu": lambda v: np.maximum(v, 0), "tanh": np.tanh,
        "sigmoid": lambda v: 1 / (1 + np.exp(-v))}


def mlp_model(path, K, D, shape, n_train=0):
    """An mlp model file as postprocess/train_autoencoder.py writes it; returns the layers."""
    rng = np.random.default_rng(5)
    enc = [(K, 10, "tanh", np.float32), (10, 7, "relu", np.float64), (7, D, "identity", np.float32)]
    dec = [(D, 9, "sigmoid", np.float64), (9, K, "relu", np.float32)]
    layers = {}
    with h5py.File(path, "w") as f:
        for k, v in dict(uhn_model="encoder", encoder="mlp", dim=D, input_length=K,
                         height=shape[0], width=shape[1], channels=shape[2], whiten=0, seed=0,
                         n_train=n_train, fit_seconds=1.5, encoder_layers=len(enc),
                         decoder_layers=len(dec)).items():
            f.attrs[k] = v
        for stack, spec in (("encoder", enc), ("decoder", dec)):
            layers[stack] = []
            for i, (nin, nout, act, dt) in enumerate(spec):
                w = (rng.standard_normal((nout, nin)) / np.sqrt(nin)).astype(dt)
                b = (0.1 * rng.standard_normal(nout)).astype(dt)
                g = f.create_group(f"layers/{stack}/{i}")
                g["weight"] = w
                g["bias"] = b
                g.attrs["activation"] = act
                layers[stack].append((w.astype(np.float64), b.astype(np.float64), act))
    return layers


def forward(layers, A):
    a = A.astype(np.float64)
    for w, b, act in layers:
        a = ACTS[act](a @ w.T + b)
    return a


def check_mlp(runner, ranks, args, d):
    H, W, C, n, D = 6, 4, 2, 25, 5
    K = H * W * C
    model = os.path.join(d, "mlp.h5")
    layers = mlp_model(model, K, D, (H, W, C))
    img = np.random.default_rng(6).random((n, H, W, C)).astype(np.float32)
    inp = write(os.path.join(d, "mlp_in.h5"), images=img)
    codes = apply(runner, ranks, model, inp, os.path.join(d, "mlp_codes.h5"))
    ref = forward(layers["encoder"], img.reshape(n, K))
    err = np.abs(codes - ref).max()
    check(codes.shape == (n, D) and err <= 1e-6 * max(1, np.abs(ref).max()),
          f"mlp: codes off numpy's by {err}")
    dec = apply(runner, ranks, model, os.path.join(d, "mlp_codes.h5"),
                os.path.join(d, "mlp_dec.h5"), decode=True)
    ref = forward(layers["decoder"], codes)
    err = np.abs(dec - ref).max()
    check(dec.shape == (n, K) and err <= 1e-6 * max(1, np.abs(ref).max()),
          f"mlp: decoded images off numpy's by {err}")
    one = apply(runner, 1, model, inp, os.path.join(d, "mlp_codes1.h5"))
    check(one.tobytes() == codes.tobytes(), f"mlp: codes differ at 1 and {ranks} ranks")
    sub = write(os.path.join(d, "mlp_sub.h5"), images=img[3:10])
    part = apply(runner, ranks, model, sub, os.path.join(d, "mlp_sub_codes.h5"))
    check(part.tobytes() == codes[3:10].tobytes(), "mlp: codes of a subset of the rows differ")
    print(f"ok mlp: codes and decodes against numpy (1e-6), bit-identical at 1 and {ranks} ranks "
          f"and per row")
    resave(runner, ranks, args, d, model, "mlp", inp, codes)


def synthetic(d):
    rng = np.random.default_rng(3)
    H, W, C, n = 8, 8, 2, 40
    centres = rng.random((6, 2 * 2 * C))
    img = np.clip(centres[rng.integers(0, 6, n * 16)] + 0.08 * rng.standard_normal((n * 16, 8)),
                  0, 1).astype(np.float32)
    X = unpatch(img.astype(np.float64), n, (H, W, C), 2)
    path = write(os.path.join(d, "syn.h5"), images=X.reshape(n, H, W, C).astype(np.float32))
    return path, X, (H, W, C)


def fashion(d, n=300):
    with gzip.open(FMNIST) as f:
        raw = np.frombuffer(f.read(16 + n * 784), np.uint8, offset=16).reshape(n, 28, 28)
    path = write(os.path.join(d, "fm.h5"), images=raw)
    X = (raw.reshape(n, -1).astype(np.float32) / np.float32(255)).astype(np.float64)
    return path, X, (28, 28, 1)


def main():
    ap = common_args(__doc__)
    ap.add_argument("--ranks", type=int, required=True)
    ap.add_argument("--resave", required=True, help="the encoder_resave test program")
    args = ap.parse_args()
    runner = Runner(args)
    with tempfile.TemporaryDirectory(dir=args.workdir) as d:
        train, X, shape = synthetic(d)
        model = check_kmeans(runner, args.ranks, d, "vq_synthetic", train, X, shape, 2, 12)
        codes = apply(runner, args.ranks, model, train, os.path.join(d, "syn_codes.h5"))
        resave(runner, args.ranks, args, d, model, "vq", train, codes)
        if os.path.exists(FMNIST):
            train, X, shape = fashion(d)
            check_kmeans(runner, args.ranks, d, "vq_fashion", train, X, shape, 4, 16)
        check_known_codebook(runner, args.ranks, d)
        check_mlp(runner, args.ranks, args, d)


if __name__ == "__main__":
    main_wrapper(main)
