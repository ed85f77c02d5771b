#!/usr/bin/python3
"""Encoded studies of `uhn run` (spec §9-§11) against a numpy reference.

One deck sweeps encoder.name = identity, centred, pca, file:RANDOM (a random
projection saved by `uhn encode fit`) x network.cue_only = off, on on
Fashion-MNIST with mask_top 0.5 queries and T = 3 steps of the dynamics
(dot similarity, softmax), n = query.count = output.save_images, one trial,
and trajectories at steps 0, 1, 3. Cases:

  values   at --ranks R: per saved query and encoder, against numpy:
           - memories c_n = enc(x_n) and the query v_0 = enc(corrupt(x_m)):
             images/trajectory_code at step 0 equals the reference v_0 (pca
             and centred from the model arrays the results file records under
             encoders/<i>; the random projection from `uhn encode apply`);
           - v_1 and v_3 after the dynamics of spec §5 in code space;
           - images/retrieved = dec(v_3); images/trajectory = dec(v_S);
           - images/code_outcome (spec §10) and the code_count_* of the point;
           - mse_recon: the MSE of dec(v_3) against dec(c_m), and mse against
             the true image;
           - cue_only = on is the same as off for every encoder but identity
             (masks are of pixels; spec §10), bit for bit;
           - identity is the raw network: its code trajectory is its pixel one.
  model    the pca model a study records under encoders/<i> is the model
           `uhn encode fit` makes from the same training images, bit for bit.
  ranks    1, 2 and 3 ranks give identical counts and outcomes, and the same
           floats to float32 round-off.

    study_encoded.py --uhn ./uhn --mpiexec mpiexec --case values --ranks 3
"""
import gzip
import os
import sys
import tempfile

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cli"))
from uhn_cli import Runner, check, close, common_args, main_wrapper  # noqa: E402

N = 24            # memory.n = query.count = output.save_images
DIM = 20          # encoder.dim of pca and of the random projection
TRAIN_N = 3000    # encoder.train_n
BETA = 20.0
STEPS = [0, 1, 3]
BINS = 40         # output.separability_bins
T = 3
SEED = 4
ENCODERS = ["identity", "centred", "pca", "random"]
DATA = "/usr/share/datasets/fashion-mnist"

DECK = """\
[data]
source = fashion-mnist:train
[memory]
n = {n}
[encoder]
name = identity, centred, pca, file:{random}
dim = {dim}
train_n = {train_n}
[network]
similarity = dot
separation = softmax
beta = {beta}
steps = {steps}
cue_only = both
[query]
corruption = mask_top
level = 0.5
count = {n}
[experiment]
trials = 1
seed = {seed}
[output]
file = {out}
save_images = {n}
trajectory = {traj}
separability = on
separability_bins = {bins}
quiet = on
"""


def load_images(n=None):
    with gzip.open(os.path.join(DATA, "train-images-idx3-ubyte.gz"), "rb") as f:
        raw = f.read()
    count = int.from_bytes(raw[4:8], "big") if n is None else n
    a = np.frombuffer(raw, np.uint8, count=count * 784, offset=16).reshape(count, 784)
    return a.astype(np.float32) / np.float32(255.0)


def make_random_model(runner, work):
    """A random projection (D = DIM, seed 7) saved by `uhn encode fit`; it
    reads the shape from two images."""
    path, images = os.path.join(work, "random.h5"), os.path.join(work, "two.h5")
    with h5py.File(images, "w") as f:
        f["images"] = (load_images(2) * 255).round().astype(np.uint8).reshape(2, 28, 28)
    rc, so, se = runner.run(1, ["encode", "fit", "--encoder", "random", "--dim", DIM, "--seed", 7,
                                "--input", images, "--model", path], cwd=work)
    check(rc == 0, f"uhn encode fit random: exit {rc}\n{so}\n{se}")
    return path


def encode_apply(runner, work, model, rows, name, decode=False):
    """`uhn encode apply` of float32 rows (codes with decode) -> float32 rows."""
    src, dst = os.path.join(work, name + "_in.h5"), os.path.join(work, name + "_out.h5")
    with h5py.File(src, "w") as f:
        f["x"] = np.asarray(rows, np.float32)
    argv = ["encode", "apply", "--model", model, "--input", f"{src}:x", "--output", dst]
    rc, so, se = runner.run(1, argv + (["--decode"] if decode else []), cwd=work)
    check(rc == 0, f"uhn encode apply {name}: exit {rc}\n{so}\n{se}")
    with h5py.File(dst, "r") as f:
        return f["output"][...]


def run_study(runner, work, ranks, tag):
    random_model = os.path.join(work, "random.h5")
    if not os.path.exists(random_model):
        make_random_model(runner, work)
    out = os.path.join(work, f"enc_{tag}.h5")
    deck = os.path.join(work, f"enc_{tag}.ini")
    with open(deck, "w") as f:
        f.write(DECK.format(n=N, random=random_model, dim=DIM, train_n=TRAIN_N, beta=BETA,
                            steps=T, seed=SEED, out=out, traj=", ".join(map(str, STEPS)),
                            bins=BINS))
    rc, so, se = runner.run(ranks, ["run", deck], cwd=work)
    check(rc == 0, f"uhn run ({ranks} ranks): exit {rc}\nstdout:\n{so}\nstderr:\n{se}")
    return out


def recall(C, v0, beta, steps):
    """Spec §5 in code space with dot/softmax, step size 1: v <- softmax(beta C v) C.
    Returns the states at `steps` and the last step's weights."""
    v, states, w = v0.copy(), {0: v0.copy()}, None
    for t in range(1, max(steps) + 1):
        h = beta * (C @ v)
        g = np.exp(h - h.max())
        w = g / g.sum()
        v = w @ C
        states[t] = v.copy()
    return [states[s] for s in steps], w


def code_outcome(w, m):
    n = int(np.lexsort((np.arange(w.size), -w))[0])
    if w[n] >= 0.99:
        return 0 if n == m else 1
    return 2


def separability(g, at, V, C, name):
    """Spec §12 of the encoded queries V (query i of memory i) against C."""
    def unit(a):
        n = np.linalg.norm(a, axis=1, keepdims=True)
        return np.divide(a, n, out=np.zeros_like(a), where=n > 0)
    cos = np.clip(unit(V) @ unit(C).T, -1, 1)
    self_v = np.diag(cos)
    cross = cos[~np.eye(len(V), dtype=bool)]
    def hist(v):
        b = np.minimum(np.floor((v + 1) * BINS / 2).astype(int), BINS - 1)
        return np.bincount(b, minlength=BINS)
    # a value within 1e-12 of a bin edge may fall either side: none does here
    edges = -1 + 2 * np.arange(BINS + 1) / BINS
    check(np.min(np.abs(np.concatenate([self_v, cross])[:, None] - edges[None, :])) > 1e-9,
          f"{name}: a cosine lies on a bin edge; choose another seed")
    check(np.array_equal(g["separability/bin_edges"], edges), "separability/bin_edges")
    check(np.array_equal(g["separability/self_hist"][at], hist(self_v)),
          f"{name}: separability/self_hist differs from numpy")
    check(np.array_equal(g["separability/cross_hist"][at], hist(cross)),
          f"{name}: separability/cross_hist differs from numpy")
    for k, v in (("self_mean", self_v.mean()), ("cross_mean", cross.mean()),
                 ("self_std", self_v.std()), ("cross_std", cross.std())):
        close(g[f"separability/{k}"][at], v, 1e-9, f"{name}: separability/{k}", atol=1e-12)
    dp = (self_v.mean() - cross.mean()) / np.sqrt((self_v.var() + cross.var()) / 2)
    close(g["separability/dprime"][at], dp, 1e-8, f"{name}: separability/dprime")
    top1 = np.mean(self_v > np.max(np.where(np.eye(len(V), dtype=bool), -np.inf, cos), axis=1))
    close(g["separability/top1"][at], top1, 0, f"{name}: separability/top1")


def case_values(runner, work, args):
    out = run_study(runner, work, args.ranks, f"values_np{args.ranks}")
    X = load_images()
    rows = int(np.floor(0.5 * 28 + 0.5))
    with h5py.File(out, "r") as f:
        enc_axis = [e.decode() if isinstance(e, bytes) else e for e in f["encoder"][...]]
        check(len(enc_axis) == 4 and enc_axis[:3] == ENCODERS[:3] and
              enc_axis[3].startswith("file:"), f"encoder axis {enc_axis}")
        check(list(f["cue_only"][...]) == [0, 1], "cue_only axis")
        g = {k: f[k][...] for k in ("images/image_index", "images/trajectory_code",
                                     "images/trajectory", "images/retrieved", "images/query",
                                     "images/code_outcome", "images/weight", "mse_recon", "mse",
                                     "code_count_correct", "code_count_wrong",
                                     "code_count_metastable", "queries", "done",
                                     "separability/self_hist", "separability/cross_hist",
                                     "separability/self_mean", "separability/cross_mean",
                                     "separability/self_std", "separability/cross_std",
                                     "separability/dprime", "separability/top1",
                                     "separability/bin_edges")}
        models = {i: {k: f[f"encoders/{i}"][k][...] for k in f[f"encoders/{i}"]}
                  for i in range(4)}
        names = [f[f"encoders/{i}"].attrs["encoder"] for i in range(4)]
        names = [n.decode() if isinstance(n, bytes) else n for n in names]
        check(names == ENCODERS, f"encoders/<i> name the encoders {names}")
        check(int(f["encoders/2"].attrs["n_train"]) == TRAIN_N, "pca n_train")
    check(np.all(g["done"] == 1), "not every point is done")
    check(np.all(g["queries"] == N), "queries per point")
    Dmax = g["images/trajectory_code"].shape[-1]
    check(Dmax == 784, f"trajectory_code holds {Dmax} values a state, expected the longest, 784")
    idx = g["images/image_index"][0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    check(np.array_equal(np.sort(idx), np.unique(idx)) and idx.size == N, "image_index")
    bank = X[idx].astype(np.float64)  # trial 0's stored images in bank order
    known = np.ones((28, 28), bool)
    known[:rows] = False
    known = known.ravel()
    queries = np.where(known, bank, 0.0)
    random_model = os.path.join(work, "random.h5")
    for e, name in enumerate(ENCODERS):
        at = lambda c: (0, e, 0, 0, 0, 0, c, 0, 0, 0, 0)  # noqa: E731
        if name == "identity":
            C, V0 = bank, queries
            dec = lambda c: c  # noqa: E731
        elif name == "centred":
            mu = models[e]["mean"]
            C, V0 = bank - mu, queries - mu
            dec = lambda c, mu=mu: c + mu  # noqa: E731
        elif name == "pca":
            mu, V = models[e]["mean"], models[e]["components"]
            check(V.shape == (DIM, 784), f"pca components {V.shape}")
            C, V0 = (bank - mu) @ V.T, (queries - mu) @ V.T
            dec = lambda c, mu=mu, V=V: c @ V + mu  # noqa: E731
        else:
            C = encode_apply(runner, work, random_model, bank, "bank").astype(np.float64)
            V0 = encode_apply(runner, work, random_model, queries, "queries").astype(np.float64)
            dec = lambda c: encode_apply(runner, work, random_model, c, "dec", True)  # noqa: E731
        C = C.astype(np.float32).astype(np.float64)
        V0 = V0.astype(np.float32).astype(np.float64)
        D = C.shape[1]
        tc = g["images/trajectory_code"][at(0)]  # [N][S][Dmax]
        check(np.all(np.isnan(tc[:, :, D:])), f"{name}: trajectory_code is not NaN after D = {D}")
        close(tc[:, 0, :D], V0, 1e-6, f"{name}: v_0 = enc(corrupted query)", atol=1e-6)
        ref_states, ref_w, ref_out = [], [], []
        for j in range(N):
            st, w = recall(C, V0[j], BETA, STEPS)
            ref_states.append(st)
            ref_w.append(w)
            ref_out.append(code_outcome(w, j))
        ref_states = np.array(ref_states)  # [N][S][D]
        close(tc[:, :, :D], ref_states, 1e-4, f"{name}: v_S", atol=1e-5)
        decoded = np.asarray(dec(ref_states[:, -1, :]), np.float64)
        close(g["images/retrieved"][at(0)].reshape(N, -1), decoded, 1e-4,
              f"{name}: images/retrieved = dec(v_T)", atol=1e-5)
        traj = g["images/trajectory"][at(0)].reshape(N, len(STEPS), -1)
        close(traj[:, 1, :], np.asarray(dec(ref_states[:, 1, :]), np.float64), 1e-4,
              f"{name}: images/trajectory = dec(v_1)", atol=1e-5)
        weights = np.array([w.max() for w in ref_w])
        settled = np.abs(weights - 0.99) > 1e-4
        got_out = g["images/code_outcome"][at(0)]
        check(np.array_equal(got_out[settled], np.array(ref_out)[settled]),
              f"{name}: images/code_outcome {got_out} != reference {ref_out}")
        if settled.all():
            for o, key in enumerate(("code_count_correct", "code_count_wrong",
                                     "code_count_metastable")):
                check(int(g[key][at(0)]) == ref_out.count(o),
                      f"{name}: {key} {g[key][at(0)]} != {ref_out.count(o)}")
        separability(g, at(0), V0, C, name)
        recon = np.asarray(dec(C), np.float64)
        mse_recon = np.mean(np.mean((decoded - recon) ** 2, axis=1))
        mse = np.mean(np.mean((decoded - bank) ** 2, axis=1))
        close(g["mse_recon"][at(0)], mse_recon, 1e-4, f"{name}: mse_recon", atol=1e-7)
        close(g["mse"][at(0)], mse, 1e-4, f"{name}: mse", atol=1e-7)
        if name == "identity":
            check(np.array_equal(g["mse_recon"][at(0)], g["mse"][at(0)]),
                  "identity: mse_recon != mse (dec(c_m) is the image itself)")
            check(np.array_equal(traj.reshape(N, len(STEPS), -1), tc[:, :, :784]),
                  "identity: the code trajectory is not the pixel trajectory")
        else:  # cue_only has no pixels to act on in code space
            for k in g:
                if k in ("done", "separability/bin_edges"):
                    continue
                a, b = g[k][(0, e) + (0,) * 4 + (0,)], g[k][(0, e) + (0,) * 4 + (1,)]
                check(np.array_equal(a, b, equal_nan=True),
                      f"{name}: {k} differs between cue_only off and on")
    print(f"values at {args.ranks} ranks: 4 encoders x {N} queries match the reference")


def case_model(runner, work, args):
    out = run_study(runner, work, 2, "model")
    images = os.path.join(work, "train.h5")
    with h5py.File(images, "w") as f:
        f["images"] = (load_images(TRAIN_N) * 255).round().astype(np.uint8).reshape(-1, 28, 28)
    model = os.path.join(work, "pca.h5")
    rc, so, se = runner.run(2, ["encode", "fit", "--encoder", "pca", "--dim", DIM, "--input",
                                images, "--model", model], cwd=work)
    check(rc == 0, f"uhn encode fit pca: exit {rc}\n{so}\n{se}")
    with h5py.File(out, "r") as f, h5py.File(model, "r") as m:
        g = f["encoders/2"]
        for k in ("mean", "components", "variances"):
            check(np.array_equal(g[k][...], m[k][...]),
                  f"encoders/2/{k} differs from uhn encode fit's {k}")
        for a in ("encoder", "dim", "input_length", "whiten", "n_train"):
            check(g.attrs[a] == m.attrs[a], f"attribute {a}: {g.attrs[a]} != {m.attrs[a]}")
    print("model: the recorded pca model is uhn encode fit's, bit for bit")


def case_ranks(runner, work, args):
    files = [run_study(runner, work, r, f"ranks_np{r}") for r in (1, 2, 3)]
    with h5py.File(files[0], "r") as a:
        ref = {k: a[k][...] for k in a if isinstance(a[k], h5py.Dataset)}
        ref.update({f"images/{k}": a["images"][k][...] for k in a["images"]})
    for path in files[1:]:
        with h5py.File(path, "r") as b:
            for k, v in ref.items():
                if k in ("seconds", "encoder", "similarity", "separation"):
                    continue
                w = b[k][...]
                if v.dtype.kind in "iu":
                    check(np.array_equal(v, w), f"{k} differs between 1 rank and {path}")
                else:
                    close(np.nan_to_num(w, nan=7.0), np.nan_to_num(v, nan=7.0), 1e-5,
                          f"{k} ({path} against 1 rank)", atol=1e-6)
    print("ranks: 1, 2 and 3 ranks agree")


CASES = {"values": case_values, "model": case_model, "ranks": case_ranks}


def main():
    ap = common_args(__doc__)
    ap.add_argument("--case", required=True, choices=sorted(CASES))
    ap.add_argument("--ranks", type=int, default=1)
    args = ap.parse_args()
    runner = Runner(args)
    with tempfile.TemporaryDirectory(prefix="uhn_enc_") as tmp:
        work = args.workdir or tmp
        CASES[args.case](runner, work, args)


if __name__ == "__main__":
    main_wrapper(main)
