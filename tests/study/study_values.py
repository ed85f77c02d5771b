#!/usr/bin/python3
"""`uhn run` against a brute-force numpy reference of the whole pipeline.

A small deck (trials = 2, memory.n = query.count = output.save_images = 40)
sweeps similarity (dot, euclidean, manhattan) x cue_only (off, on) with
mask_top 0.5 queries, once with query.hold = off and once with hold = on.
With save_images = n, images/image_index of trial 0 lists the whole stored
subset in bank order, so the reference rebuilds the bank from the Fashion-MNIST
IDX file itself (numpy, /255), corrupts the queries (the top round(f*H) rows
zeroed; the rest known), and recalls them in float64 (spec §1 similarities over
all pixels or, with cue_only, the known ones; softmax(beta*s) weights;
z = sum w_n x_n; with hold, the known pixels of z replaced by the query's).
Then per query of trial 0: retrieved image (images/retrieved), truth, query,
sq_error, weight, recalled_index and outcome (spec §7) are compared, and the
trial-0 per_trial/frac_correct exactly.

    study_values.py --uhn ./uhn --mpiexec mpiexec --ranks 3 [--data DIR]
"""
import gzip
import itertools
import os
import sys
import tempfile

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cli"))
from uhn_cli import Runner, TestFailure, check, common_args, main_wrapper  # noqa: E402

N = 40          # memory.n = query.count = output.save_images
BETAS = [0.05, 1.0]  # network.beta (an axis): mixtures, and settling
LEVEL = 0.5     # query.level (mask_top)
THRESHOLD = 50.0
SETTLED = 0.99  # spec §7: "wrong" needs the largest weight >= this
SIMS = ["dot", "euclidean", "manhattan"]
SEED = 11

# Tolerances. The engine works in float32 (scores of magnitude up to
# beta * max|s|, a few tens here); the reference in float64.
TOL_IMAGE = 1e-4   # |retrieved - reference|, per pixel value in [0, 1]
TOL_WEIGHT = 1e-4  # |w[n*] - reference|
# A query whose reference sq_error lies within this of the threshold, or whose
# largest weight lies within TOL_WEIGHT of 0.99, could fall either side by
# round-off: its outcome is not compared (none does with this deck and seed;
# the count is printed).
TOL_SQ_REL = 1e-4

DECK = """\
# study_values.py: brute-force check of uhn run
[data]
source = fashion-mnist:train

[memory]
n = {n}

[network]
similarity = {sims}
separation = softmax
beta = {beta}
cue_only = both

[query]
corruption = mask_top
level = {level}
count = {n}
hold = {hold}

[experiment]
trials = 2
threshold = {threshold}
seed = {seed}

[output]
file = {out}
save_images = {n}
quiet = on
"""


def load_idx_images(path):
    """Fashion-MNIST images of an IDX3 file (gzip), float64 in [0, 1]."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    magic = int.from_bytes(raw[0:4], "big")
    check(magic == 0x00000803, f"{path}: not an IDX3 ubyte file (magic {magic:#x})")
    n, h, w = (int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(3))
    a = np.frombuffer(raw, np.uint8, count=n * h * w, offset=16).reshape(n, h, w)
    # the same float32 value as the C loader (x / 255 rounded to float32)
    return (a.astype(np.float32) / np.float32(255.0)).astype(np.float64)


def similarity(name, X, q, known):
    """s(x_n, q) over the coordinates in `known` (spec §1), float64."""
    Xc, qc = X[:, known], q[known]
    if name == "dot":
        return Xc @ qc
    if name == "euclidean":
        return -np.sum((Xc - qc) ** 2, axis=1)
    if name == "manhattan":
        return -np.sum(np.abs(Xc - qc), axis=1)
    raise ValueError(name)


def reference(bank, sim, beta, cue_only, hold, H, W):
    """Retrieval of each of the N stored images, corrupted, against the bank."""
    n, K = bank.shape
    rows = int(np.floor(LEVEL * H + 0.5))
    known = np.ones((H, W), bool)
    known[:rows, :] = False
    known = known.ravel()
    out = dict(query=[], retrieved=[], weight=[], index=[], sq=[], outcome=[], border=[])
    for j in range(n):
        y = bank[j]
        q = np.where(known, y, 0.0)
        s = similarity(sim, bank, q, known if cue_only else np.ones(K, bool))
        h = beta * s
        g = np.exp(h - h.max())
        w = g / g.sum()
        z = w @ bank
        if hold:
            z = np.where(known, q, z)
        nstar = int(np.lexsort((np.arange(n), -w))[0])
        sq = float(np.sum((z - y) ** 2))
        if sq < THRESHOLD:
            oc = 0
        elif w[nstar] >= SETTLED and nstar != j:
            oc = 1
        else:
            oc = 2
        border = (abs(sq - THRESHOLD) <= TOL_SQ_REL * THRESHOLD or
                  (sq >= THRESHOLD and abs(w[nstar] - SETTLED) <= TOL_WEIGHT))
        for k, v in (("query", q), ("retrieved", z), ("weight", w[nstar]), ("index", nstar),
                     ("sq", sq), ("outcome", oc), ("border", border)):
            out[k].append(v)
    return {k: np.array(v) for k, v in out.items()}


def run_hold(runner, ranks, work, data, hold):
    out = os.path.join(work, f"values_hold{hold}_np{ranks}.h5")
    deck = os.path.join(work, f"values_hold{hold}.ini")
    with open(deck, "w") as f:
        f.write(DECK.format(n=N, sims=", ".join(SIMS), beta=", ".join(map(str, BETAS)), level=LEVEL,
                            hold="on" if hold else "off", threshold=THRESHOLD, seed=SEED, out=out))
    rc, so, se = runner.run(ranks, ["run", deck], cwd=work)
    check(rc == 0, f"uhn run (hold={hold}, {ranks} ranks) exit {rc}\nstdout:\n{so}\nstderr:\n{se}")
    check(not os.path.exists(out + ".partial"), "the .partial file is left after a complete run")
    with h5py.File(out, "r") as f:
        check(int(f.attrs["complete"]) == 1, "complete != 1")
        sims = [s.decode() if isinstance(s, bytes) else s for s in f["similarity"][...]]
        check(sims == SIMS, f"similarity axis {sims} != {SIMS}")
        check(list(f["cue_only"][...]) == [0, 1], f"cue_only axis {f['cue_only'][...]}")
        g = {k: f[k][...] for k in ("images/retrieved", "images/truth", "images/query",
                                     "images/image_index", "images/recalled_index",
                                     "images/weight", "images/sq_error", "images/outcome",
                                     "images/dssim", "per_trial/frac_correct", "frac_correct",
                                     "count_correct", "count_wrong", "count_metastable",
                                     "queries", "done")}
        H, W = int(f.attrs["image_height"]), int(f.attrs["image_width"])
    check(np.all(g["done"] == 1), "not every point is done")
    check(np.all(g["queries"] == 2 * N), f"queries {g['queries'].ravel()} != {2 * N}")
    tot = g["count_correct"] + g["count_wrong"] + g["count_metastable"]
    check(np.all(tot == 2 * N), "the outcome counts do not add up to the queries")
    check(np.allclose(g["frac_correct"], np.mean(g["per_trial/frac_correct"], axis=-1), rtol=0,
                      atol=1e-12), "frac_correct is not the mean of per_trial/frac_correct")
    check(np.allclose(g["count_correct"] / (2 * N), g["frac_correct"], rtol=0, atol=1e-12),
          "count_correct / queries != frac_correct")

    # the stored subset of trial 0, in bank order: the same at every point
    idx = g["images/image_index"]  # [1, E, S, 1, B, 1, C, 1, N]
    subset = idx[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    check(np.all(idx == subset), "images/image_index differs between points of the same n/trial")
    check(len(set(subset.tolist())) == N and subset.min() >= 0 and subset.max() < data.shape[0],
          f"image_index is not {N} distinct data set indices: {subset}")
    bank = data[subset].reshape(N, H * W)

    stats = dict(border=0, compared=0, correct=0, wrong=0, metastable=0, img_err=0.0)
    for (si, sim), (bi, beta), (ci, cue) in itertools.product(
            enumerate(SIMS), enumerate(BETAS), enumerate((0, 1))):
        at = (0, 0, si, 0, bi, 0, ci, 0, 0, 0, 0)
        what = f"hold={hold} similarity={sim} beta={beta} cue_only={cue} ({ranks} ranks)"
        ref = reference(bank, sim, beta, cue, hold, H, W)
        got_truth = g["images/truth"][at].reshape(N, -1)
        check(np.array_equal(got_truth, bank.astype(np.float32)),
              f"{what}: images/truth is not the data set image of image_index")
        got_q = g["images/query"][at].reshape(N, -1)
        check(np.array_equal(got_q, ref["query"].astype(np.float32)),
              f"{what}: images/query differs from the mask_top {LEVEL} corruption")
        z = g["images/retrieved"][at].reshape(N, -1).astype(np.float64)
        err = np.abs(z - ref["retrieved"])
        stats["img_err"] = max(stats["img_err"], float(err.max()))
        if err.max() > TOL_IMAGE:
            j, k = np.unravel_index(np.argmax(err), err.shape)
            raise TestFailure(f"{what}: retrieved image of query {j} differs at pixel {k}: "
                              f"{z[j, k]!r} vs reference {ref['retrieved'][j, k]!r}")
        if hold:  # the known rows (below the mask) are the query's, i.e. the truth's
            rows = int(np.floor(LEVEL * H + 0.5))
            zk = z.reshape(N, H, W)[:, rows:, :]
            check(np.array_equal(zk, bank.reshape(N, H, W)[:, rows:, :].astype(np.float32)),
                  f"{what}: with hold = on the known pixels are not the query's")
        sq = g["images/sq_error"][at]
        # the squared error of the program's own z: tight; against the reference: the
        # image tolerance propagated (2 * sum |z - y| * err + K * err^2)
        own = np.sum((z - bank) ** 2, axis=1)
        check(np.allclose(sq, own, rtol=1e-6, atol=1e-6),
              f"{what}: sq_error is not sum (z - y)^2 of the saved images: {sq} vs {own}")
        lim = 2 * np.sum(np.abs(ref["retrieved"] - bank), axis=1) * TOL_IMAGE + 1e-6
        check(np.all(np.abs(sq - ref["sq"]) <= lim),
              f"{what}: sq_error {sq} differs from the reference {ref['sq']}")
        w = g["images/weight"][at]
        check(np.all(np.abs(w - ref["weight"]) <= TOL_WEIGHT),
              f"{what}: weight {w} differs from the reference {ref['weight']}")
        rec = g["images/recalled_index"][at]
        oc = g["images/outcome"][at]
        nb = ref["border"]
        stats["border"] += int(nb.sum())
        ok = ~nb
        stats["compared"] += int(ok.sum())
        # n* is ambiguous only when two weights tie; compare where the reference has a
        # clear winner (always here, as the weights are continuous)
        check(np.array_equal(rec[ok], subset[ref["index"]][ok]),
              f"{what}: recalled_index {rec} != reference {subset[ref['index']]}")
        check(np.array_equal(oc[ok], ref["outcome"][ok]),
              f"{what}: outcome {oc.tolist()} != reference {ref['outcome'].tolist()}")
        for name, code in (("correct", 0), ("wrong", 1), ("metastable", 2)):
            stats[name] += int(np.sum(ref["outcome"] == code))
        fc = g["per_trial/frac_correct"][at + (0,)]
        if not nb.any():
            want = np.sum(ref["outcome"] == 0) / N
            check(fc == want, f"{what}: per_trial/frac_correct[trial 0] {fc!r} != {want!r}")
        else:
            lo = np.sum((ref["outcome"] == 0) & ~nb) / N
            check(lo <= fc <= lo + nb.sum() / N, f"{what}: per_trial/frac_correct {fc}")
        ds = g["images/dssim"][at]
        check(np.all(np.isfinite(ds)) and np.all(ds >= -1e-6) and np.all(ds <= 2 + 1e-6),
              f"{what}: dssim out of [0, 2]: {ds}")
        check(np.all(ds[sq < 1e-6] < 1e-3), f"{what}: exact retrievals with 1 - SSIM > 0")
    return stats


TRAJ_DECK = """\
[memory]
n = {n}
[network]
similarity = euclidean
beta = {beta}
steps = 6
step_size = 0.5
[query]
corruption = mask_top
level = 0.5
count = {n}
[experiment]
trials = 1
seed = 5
[output]
file = {out}
save_images = {n}
trajectory = 0, 1, 2, 4, 6
quiet = on
"""


def run_trajectory(runner, ranks, work, data):
    """output.trajectory (spec §11): images/trajectory of every saved query equals
    the states of a float64 reference of the dynamics (spec §5) from its query,
    v_{t+1} = v_t + alpha (softmax(beta s(X, v_t)) X - v_t), at the listed steps;
    v_0 is images/query and v_6 images/retrieved. Returns the largest error."""
    out = os.path.join(work, f"trajectory_np{ranks}.h5")
    deck = os.path.join(work, f"trajectory_np{ranks}.ini")
    with open(deck, "w") as f:
        f.write(TRAJ_DECK.format(n=N, beta=", ".join(str(b) for b in BETAS), out=out))
    rc, so, se = runner.run(ranks, ["run", deck], cwd=work)
    check(rc == 0, f"uhn run {deck}: exit {rc}\n{so}\n{se}")
    steps, err = [0, 1, 2, 4, 6], 0.0
    with h5py.File(out, "r") as f:
        traj = f["images/trajectory"][...]
        idx = f["images/image_index"][...]
        qry, ret = f["images/query"][...], f["images/retrieved"][...]
        check(traj.shape == idx.shape + (len(steps), 28, 28, 1), f"trajectory shape {traj.shape}")
        for bi, beta in enumerate(BETAS):
            at = (0, 0, 0, 0, bi, 0, 0, 0, 0, 0, 0)
            bank = data[idx[at]].reshape(N, -1)
            for j in range(N):
                t = traj[at + (j,)].reshape(len(steps), -1)
                check(np.array_equal(t[0], qry[at + (j,)].ravel()), "v_0 is not the query")
                check(np.array_equal(t[-1], ret[at + (j,)].ravel()), "v_T is not the output")
                v = t[0].astype(np.float64)
                for step in range(1, steps[-1] + 1):
                    h = -beta * np.sum((bank - v) ** 2, axis=1)
                    w = np.exp(h - h.max())
                    v = v + 0.5 * ((w / w.sum()) @ bank - v)
                    if step in steps:
                        e = float(np.max(np.abs(t[steps.index(step)] - v)))
                        check(e <= TOL_IMAGE, f"beta {beta} query {j} step {step}: state off by "
                                              f"{e:.2e} from the reference")
                        err = max(err, e)
    return err


def main():
    ap = common_args(__doc__)
    ap.add_argument("--ranks", type=int, default=1)
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    args = ap.parse_args()
    runner = Runner(args)
    data = load_idx_images(os.path.join(args.data, "train-images-idx3-ubyte.gz"))
    with tempfile.TemporaryDirectory(prefix="uhn_study_values_", dir=args.workdir) as work:
        for hold in (0, 1):
            st = run_hold(runner, args.ranks, work, data, hold)
            print(f"hold={hold}, {args.ranks} ranks: outcomes of the reference: {st['correct']} "
                  f"correct, {st['wrong']} wrong, {st['metastable']} metastable; {st['compared']} "
                  f"compared, {st['border']} at a border; max |z - ref| {st['img_err']:.2e}")
            # the deck must exercise every outcome class, or the check proves little
            check(st["correct"] > 0 and st["wrong"] > 0 and st["metastable"] > 0,
                  f"hold={hold}: the deck does not produce every outcome class: {st}")
        err = run_trajectory(runner, args.ranks, work, data)
        print(f"trajectory, {args.ranks} ranks: {N} queries x 5 saved steps x {len(BETAS)} betas "
              f"equal the float64 dynamics to {err:.2e}")


if __name__ == "__main__":
    main_wrapper(main)
