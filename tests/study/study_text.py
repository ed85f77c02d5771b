#!/usr/bin/python3
"""Cross-stimulus studies of `uhn run` (spec §13, the deck's [text] section).

Image sets are written here with h5py (random float32 pixels in [0, 1],
labels, one distinct caption per image, "item 17, a small thing"), and every
image is stored (memory.n = the set's size), so that each trial's subset is a
permutation of the set and, with query.count = output.save_images = n, trial
0's images/* hold every stored memory in stored order. Queries are text cues
[0 ; s t(caption)] (the blank image); beta = 1000, softmax, one step.
Expectations, derived from spec §7, §10 and §13:

  values  (--ranks R) ngram D_T = 256, 40 images of 8 x 8, scale = auto,
          similarity = dot, euclidean, known = on, shared = 0, 0.5, 2 trials;
          then known = off with dot (the blank image part adds nothing to dot
          scores); then pixel text codes (encoder identity) on 20 images of
          28 x 28, shared = 0:
          - a unique caption recalls its own image exactly: retrieved == truth
            (|diff| <= 1e-6), weight 1 (1e-6), outcome and code outcome
            correct, recalled_index == image_index, images/caption_shared 0,
            images/partner_index -1;
          - a shared caption (shared = 0.5: round(0.5 * 20) = 10 pairs (2k,
            2k+1) of the stored order a trial): both memories of the pair get
            weight 1/2 (1e-6), the recall is the mean of the two images
            (1e-6), outcome and code outcome metastable (the threshold is
            below every pair's squared error), images/caption_shared 1 on both,
            partner_index the other one's image_index;
          - the counts: queries, count_*, code_count_*, text/shared_queries,
            text/shared_count_*, text/unique_count_*, frac_correct;
          - text/applied_scale == mean ||x|| / mean ||t|| (numpy, relative 1e-6) in
            every trial (ngram codes are unit vectors; pixel codes from
            tests/encoders/text_ref.py);
          - text/unique_mse and text/shared_mse against numpy from the saved
            images (a run with experiment.trials = 1, every query saved), and
            against per_trial/mse in the 2-trial run;
          - images/query is the blank image; the text.scale axis is NaN (auto);
          - with query.count = 30 < save_images = 40, images/caption_shared,
            partner_index and image_index are -1 past the 30 queries and
            the counts cover the 30 queries only;
          - method = external with the ngram codes of text_ref.py gives the
            ngram results (1e-6).
  errors  (--ranks R) bad inputs: exit 2, exactly one `uhn:` line naming the
          culprit, no results file and no OUT.partial left behind: a data set
          without captions, text.shared = 1.5, a corruption, external codes
          with 39 rows for 40 images or with a NaN, text.known without a
          method, network.cue_only = on, data.hetero = halves, text.scale = 0.
  ranks   (--ranks R1 R2 ...) the values deck at each rank count: integer
          results identical, floats within 1e-6 (+ 1e-6 relative).

    study_text.py --uhn ./uhn --mpiexec mpiexec --case values --ranks 3
    study_text.py --uhn ./uhn --mpiexec mpiexec --case errors --ranks 3 --jobs 4
    study_text.py --uhn ./uhn --mpiexec mpiexec --case ranks --ranks 1 3
"""
import concurrent.futures
import os
import sys
import tempfile

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "cli"))
sys.path.insert(0, os.path.join(HERE, "..", "encoders"))
from uhn_cli import (Runner, TestFailure, check, common_args, main_wrapper,  # noqa: E402
                     program_stderr_lines)
import text_ref  # noqa: E402

EXIT_INPUT = 2
N = 40            # images of the ngram set = memory.n = query.count = save_images
SIDE = 8          # its images are SIDE x SIDE
N_PIX = 20        # images of the pixel set (28 x 28)
DIM_T = 256       # text.dim of ngram
TRIALS = 2
BETA = 1000.0
THRESHOLD = 0.5   # experiment.threshold: below every pair's ((a - b) / 2)^2 sum (checked)
SEED = 17
TOL = 1e-6        # images, weights, scale (relative), rank comparison
NAXES = 11        # memory.n ... query.level, text.scale, text.known, text.shared
AX_SIM, AX_SCALE, AX_KNOWN, AX_SHARED = 2, 8, 9, 10

DECK = """\
# study_text.py: cross-stimulus study
[data]
source = hdf5:{data}

[memory]
n = {n}

[network]
similarity = dot, euclidean
separation = softmax
beta = {beta}

[query]
corruption = none
count = {n}

[text]
method = {method}
dim = {dim}
scale = auto
known = on
shared = {shared}

[experiment]
trials = {trials}
threshold = {threshold}
seed = {seed}

[output]
file = {out}
save_images = {n}
quiet = on
"""

# The same without a [text] section (the error of text.known without a method).
DECK_NOTEXT = DECK.split("[text]")[0].rstrip() + """

[experiment]
trials = 1
seed = 1

[output]
file = {out}
quiet = on
"""


def caption(i):
    return f"item {i}, a small thing"


def write_set(path, n, side, seed, captions=True):
    """n random float32 images side x side in [0, 1], labels, captions.
    Returns the images as float64 rows [n][side * side]."""
    x = np.random.default_rng(seed).random((n, side, side)).astype(np.float32)
    with h5py.File(path, "w") as f:
        f["images"] = x
        f["labels"] = np.arange(n, dtype=np.int32) % 10
        if captions:
            f["captions"] = np.array([caption(i) for i in range(n)],
                                     dtype=h5py.string_dtype("utf-8"))
    return x.reshape(n, -1).astype(np.float64)


def write_deck(work, name, **fmt):
    fmt.setdefault("n", N)
    fmt.setdefault("beta", BETA)
    fmt.setdefault("method", "ngram")
    fmt.setdefault("dim", DIM_T)
    fmt.setdefault("shared", "0, 0.5")
    fmt.setdefault("trials", TRIALS)
    fmt.setdefault("threshold", THRESHOLD)
    fmt.setdefault("seed", SEED)
    path = os.path.join(work, name)
    with open(path, "w") as f:
        f.write(DECK.format(**fmt))
    return path


def run_study(runner, ranks, work, tag, data, overrides=(), **fmt):
    out = os.path.join(work, f"{tag}_np{ranks}.h5")
    deck = write_deck(work, f"{tag}_np{ranks}.ini", data=data, out=out, **fmt)
    argv = ["run", deck] + list(overrides)
    rc, so, se = runner.run(ranks, argv, cwd=work)
    check(rc == 0, f"{tag}: uhn {' '.join(argv)} at {ranks} ranks: exit {rc}\nstdout:\n{so}\n"
                   f"stderr:\n{se}")
    check(not os.path.exists(out + ".partial"), f"{tag}: OUT.partial left after a complete run")
    return out


def as_str(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def read_all(path):
    """Every dataset (name -> array) and the axis scales of frac_correct."""
    out = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset) and obj.dtype.kind not in "OSU":
                out[name] = obj[...]
        f.visititems(visit)
        check("frac_correct" in f, f"{path}: no frac_correct dataset")
        fc = f["frac_correct"]
        check(fc.ndim == NAXES, f"frac_correct has {fc.ndim} dimensions, expected the {NAXES} "
                                f"axes (... query.level, text.scale, text.known, text.shared)")
        scales = []
        for i in range(NAXES):
            check(len(fc.dims[i]) >= 1, f"frac_correct: no dimension scale on dimension {i}")
            v = fc.dims[i][0][...]
            scales.append([as_str(x) for x in v] if v.dtype.kind in "OS" else list(v))
    return out, scales


def point(scales, sim, known, shared):
    """The index of (similarity, known, shared), every other axis single."""
    for i in range(NAXES):
        if i not in (AX_SIM, AX_KNOWN, AX_SHARED):
            check(len(scales[i]) == 1, f"axis {i} has {len(scales[i])} values, expected 1")
    def value(x):  # a bool axis may be written 0/1 or off/on
        return {"off": 0.0, "on": 1.0}.get(x, x) if isinstance(x, str) else float(x)

    def find(ax, v, what):
        hits = [j for j, x in enumerate(scales[ax]) if (x == v if isinstance(v, str)
                                                        else abs(value(x) - v) < 1e-12)]
        check(len(hits) == 1, f"axis {ax} ({what}) {scales[ax]}: no single value {v!r}")
        return hits[0]
    idx = [0] * NAXES
    idx[AX_SIM] = find(AX_SIM, sim, "network.similarity")
    idx[AX_KNOWN] = find(AX_KNOWN, known, "text.known")
    idx[AX_SHARED] = find(AX_SHARED, shared, "text.shared")
    return tuple(idx)


def get(res, name):
    check(name in res, f"the results file has no dataset '{name}'")
    return res[name]


def check_point(res, at, X, what, shared_frac, n, trials):
    """Every check of one sweep point (see the module doc). X: the set's
    images [n][K] (float64 of the stored float32)."""
    K = X.shape[1]
    idx = get(res, "images/image_index")[at]
    check(idx.shape == (n,), f"{what}: images/image_index has shape {idx.shape}, expected ({n},)")
    check(np.array_equal(np.sort(idx), np.arange(n)),
          f"{what}: images/image_index of trial 0 is not a permutation of the {n} images: {idx}")
    ret = get(res, "images/retrieved")[at].reshape(n, -1).astype(np.float64)
    tru = get(res, "images/truth")[at].reshape(n, -1).astype(np.float64)
    qry = get(res, "images/query")[at].reshape(n, -1)
    check(ret.shape == (n, K) and tru.shape == (n, K),
          f"{what}: images/retrieved {ret.shape}, images/truth {tru.shape}, expected ({n}, {K})")
    w = get(res, "images/weight")[at].astype(np.float64)
    rec = get(res, "images/recalled_index")[at]
    out = get(res, "images/outcome")[at]
    cout = get(res, "images/code_outcome")[at]
    sh = get(res, "images/caption_shared")[at]
    part = get(res, "images/partner_index")[at]
    check(get(res, "images/caption_shared").dtype == np.int32,
          f"images/caption_shared has type {get(res, 'images/caption_shared').dtype}, expected int32")
    check(get(res, "images/partner_index").dtype == np.int64,
          f"images/partner_index has type {get(res, 'images/partner_index').dtype}, expected int64")
    err = np.max(np.abs(tru - X[idx]))
    check(err <= TOL, f"{what}: images/truth differs from the set's image of images/image_index "
                      f"by {err:.3g}")
    check(np.all(qry == 0), f"{what}: images/query is not the blank image (max |q| "
                            f"{np.max(np.abs(qry)):.3g})")

    pairs = int(round(shared_frac * (n // 2)))
    check(set(np.unique(sh).tolist()) <= {0, 1},
          f"{what}: images/caption_shared holds {sorted(set(sh.tolist()))}, expected 0/1 for all {n} "
          f"saved queries")
    check(int(np.sum(sh == 1)) == 2 * pairs,
          f"{what}: {int(np.sum(sh == 1))} saved queries marked shared, expected 2 * round("
          f"{shared_frac} * {n // 2}) = {2 * pairs}")
    n_sh = 0
    for j in range(n):
        m = int(idx[j])
        if sh[j] == 0:
            check(part[j] == -1, f"{what}: query {j} (image {m}, unique caption): partner_index "
                                 f"{part[j]}, expected -1")
            check(abs(w[j] - 1) <= TOL, f"{what}: query {j} (image {m}, unique): weight {w[j]!r}, "
                                        f"expected 1 within {TOL}")
            e = np.max(np.abs(ret[j] - tru[j]))
            check(e <= TOL, f"{what}: query {j} (image {m}, unique): retrieved differs from the "
                            f"truth by {e:.3g} (> {TOL})")
            check(rec[j] == m, f"{what}: query {j} (image {m}, unique): recalled_index {rec[j]}")
            check(out[j] == 0 and cout[j] == 0,
                  f"{what}: query {j} (image {m}, unique): outcome {out[j]}, code_outcome "
                  f"{cout[j]}, expected 0 (correct) for both")
        else:
            n_sh += 1
            p = int(part[j])
            mate = j ^ 1  # pairs (2k, 2k + 1) of the stored order
            check(0 <= p < n and p == idx[mate] and sh[mate] == 1,
                  f"{what}: query {j} (image {m}, shared): partner_index {p}, expected the image "
                  f"of stored position {mate} ({idx[mate]}, marked shared {sh[mate]})")
            check(abs(w[j] - 0.5) <= TOL, f"{what}: query {j} (image {m}, shared with {p}): weight "
                                          f"{w[j]!r}, expected 1/2 within {TOL}")
            mean = (X[m] + X[p]) / 2
            e = np.max(np.abs(ret[j] - mean))
            check(e <= TOL, f"{what}: query {j} (image {m}, shared with {p}): retrieved differs "
                            f"from (truth + image[partner]) / 2 by {e:.3g} (> {TOL})")
            check(rec[j] in (m, p), f"{what}: query {j} (image {m}, shared with {p}): "
                                    f"recalled_index {rec[j]}, expected one of the pair")
            check(out[j] == 2 and cout[j] == 2,
                  f"{what}: query {j} (image {m}, shared with {p}): outcome {out[j]}, code_outcome "
                  f"{cout[j]}, expected 2 (metastable) for both")

    # counts over all trials: every trial shares exactly `pairs` pairs
    q_all, sq_all = trials * n, trials * 2 * pairs
    uq_all = q_all - sq_all
    want = {"queries": q_all, "count_correct": uq_all, "count_wrong": 0,
            "count_metastable": sq_all, "code_count_correct": uq_all, "code_count_wrong": 0,
            "code_count_metastable": sq_all, "text/shared_queries": sq_all,
            "text/shared_count_correct": 0, "text/shared_count_wrong": 0,
            "text/shared_count_metastable": sq_all, "text/unique_count_correct": uq_all,
            "text/unique_count_wrong": 0, "text/unique_count_metastable": 0,
            "text/shared_code_count_correct": 0, "text/shared_code_count_wrong": 0,
            "text/shared_code_count_metastable": sq_all, "text/unique_code_count_correct": uq_all,
            "text/unique_code_count_wrong": 0, "text/unique_code_count_metastable": 0}
    for k, v in want.items():
        a = get(res, k)
        if k.startswith("text/"):
            check(a.dtype == np.int64, f"{k} has type {a.dtype}, expected int64")
        check(int(a[at]) == v, f"{what}: {k} = {int(a[at])}, expected {v}")
    fc = float(get(res, "frac_correct")[at])
    check(abs(fc - uq_all / q_all) <= 1e-12, f"{what}: frac_correct {fc}, expected {uq_all / q_all}")
    umse = float(get(res, "text/unique_mse")[at])
    check(0 <= umse <= 1e-12, f"{what}: text/unique_mse {umse!r}, expected 0 (exact recall)")
    smse = float(get(res, "text/shared_mse")[at])
    if sq_all == 0:
        check(np.isnan(smse), f"{what}: text/shared_mse {smse!r} with no shared query, expected NaN")
    else:
        check(np.isfinite(smse) and smse > 0, f"{what}: text/shared_mse {smse!r}, expected > 0")
        # per_trial/mse is the trial mean over all n queries; the unique ones add 0
        pt = get(res, "per_trial/mse")[at].astype(np.float64)
        ref = float(np.sum(pt)) * n / sq_all
        check(abs(smse - ref) <= 1e-6 * ref,
              f"{what}: text/shared_mse {smse!r} != sum of per_trial/mse * {n} / shared queries = "
              f"{ref!r}")
    return n_sh


def check_scale(res, at, ref, what, trials):
    sc = get(res, "text/applied_scale")
    check(sc.ndim == NAXES + 1 and sc.shape[-1] == trials,
          f"text/applied_scale has shape {sc.shape}, expected [{NAXES} axes][{trials} trials]")
    got = sc[at].astype(np.float64)
    for t in range(trials):
        check(abs(got[t] - ref) <= TOL * ref,
              f"{what}: text/applied_scale of trial {t} is {got[t]!r}, expected mean ||x|| / mean ||t|| = "
              f"{ref!r} (relative {abs(got[t] - ref) / ref:.3g} > {TOL})")


def check_axes(scales, what):
    sv = scales[AX_SCALE]
    check(len(sv) == 1 and np.isnan(float(sv[0])),
          f"{what}: the text.scale dimension scale is {sv}, expected [NaN] (auto)")


def case_values(runner, work, args):
    R = args.ranks[0]
    data = os.path.join(work, "set8.h5")
    X = write_set(data, N, SIDE, 3)
    # every pair's mean image must be "not correct" by the threshold (spec §7)
    d2 = np.sum((X[:, None, :] - X[None, :, :]) ** 2, axis=2) / 4
    low = np.min(d2[~np.eye(N, dtype=bool)])
    check(low > THRESHOLD, f"setup: a pair's mean image has squared error {low} <= threshold "
                           f"{THRESHOLD}; choose another seed")
    img_norm = float(np.mean(np.linalg.norm(X, axis=1)))
    codes = np.array([text_ref.ngram(caption(i).encode(), DIM_T) for i in range(N)])
    scale_ref = img_norm / float(np.mean(np.linalg.norm(codes.astype(np.float64), axis=1)))

    # 1. ngram, known = on, dot and euclidean, shared 0 and 0.5, 2 trials
    path = run_study(runner, R, work, "ngram", data)
    res, scales = read_all(path)
    check_axes(scales, "ngram")
    for sim in ("dot", "euclidean"):
        for f in (0.0, 0.5):
            what = f"ngram {sim} known=on shared={f} at {R} ranks"
            at = point(scales, sim, 1, f)
            nsh = check_point(res, at, X, what, f, N, TRIALS)
            check_scale(res, at, scale_ref, what, TRIALS)
            print(f"ok {what}: {N - nsh} unique captions exact, {nsh} shared ones the mean of "
                  f"their pair with weight 1/2; counts; text/applied_scale = {scale_ref:.6f}")

    # 2. known = off with dot: the blank image part adds nothing to dot scores
    path_off = run_study(runner, R, work, "ngram_off", data,
                         ["network.similarity=dot", "text.known=off"])
    res_off, sc_off = read_all(path_off)
    for f in (0.0, 0.5):
        what = f"ngram dot known=off shared={f} at {R} ranks"
        at = point(sc_off, "dot", 0, f)
        nsh = check_point(res_off, at, X, what, f, N, TRIALS)
        check_scale(res_off, at, scale_ref, what, TRIALS)
        print(f"ok {what}: {N - nsh} unique exact, {nsh} shared the pair's mean")

    # 3. one trial, every query saved: the MSEs against numpy from the images
    path1 = run_study(runner, R, work, "ngram_t1", data, ["experiment.trials=1"])
    res1, sc1 = read_all(path1)
    for sim in ("dot", "euclidean"):
        for f in (0.0, 0.5):
            what = f"ngram {sim} known=on shared={f}, 1 trial, at {R} ranks"
            at, at2 = point(sc1, sim, 1, f), point(scales, sim, 1, f)
            check_point(res1, at, X, what, f, N, 1)
            idx = res1["images/image_index"][at]
            sh = res1["images/caption_shared"][at]
            part = res1["images/partner_index"][at]
            mse = [np.mean(((X[idx[j]] - X[part[j]]) / 2) ** 2) for j in range(N) if sh[j] == 1]
            got = float(res1["text/shared_mse"][at])
            if mse:
                ref = float(np.mean(mse))
                check(abs(got - ref) <= 1e-5 * ref,
                      f"{what}: text/shared_mse {got!r}, numpy from the pairs' images {ref!r}")
            else:
                check(np.isnan(got), f"{what}: text/shared_mse {got!r}, expected NaN")
            # trial 0 of the 2-trial run is this run
            for k in ("images/image_index", "images/caption_shared", "images/partner_index",
                      "images/outcome"):
                check(np.array_equal(res1[k][at], res[k][at2]),
                      f"{what}: {k} differs from trial 0 of the 2-trial run")
            print(f"ok {what}: text/shared_mse = {got!r} (numpy over {len(mse)} shared queries), "
                  f"the saved images are trial 0 of the 2-trial run")

    # 3b. fewer queries than saved slots: the first 30 stored memories are the
    # queries (the pairs do not depend on the count); the other slots say -1
    q = 30
    path_q = run_study(runner, R, work, "ngram_q30", data,
                       ["experiment.trials=1", f"query.count={q}"])
    res_q, sc_q = read_all(path_q)
    for f in (0.0, 0.5):
        what = f"ngram dot known=on shared={f}, query.count={q}, 1 trial, at {R} ranks"
        at, at1 = point(sc_q, "dot", 1, f), point(sc1, "dot", 1, f)
        for k in ("images/caption_shared", "images/partner_index", "images/image_index"):
            got = res_q[k][at]
            check(np.array_equal(got[:q], res1[k][at1][:q]),
                  f"{what}: {k} of the first {q} queries differs from the run with {N} queries")
            check(np.all(got[q:] == -1), f"{what}: {k} of the slots past the {q} queries: "
                                         f"{got[q:]}, expected -1")
        nsh = int(np.sum(res_q["images/caption_shared"][at][:q] == 1))
        for k, v in (("queries", q), ("text/shared_queries", nsh),
                     ("text/shared_count_metastable", nsh), ("text/unique_count_correct", q - nsh),
                     ("text/shared_code_count_metastable", nsh),
                     ("text/unique_code_count_correct", q - nsh)):
            check(int(res_q[k][at]) == v, f"{what}: {k} = {int(res_q[k][at])}, expected {v}")
        print(f"ok {what}: {nsh} shared queries among the first {q}, slots past them -1")

    # 4. external codes = text_ref's ngram codes: the ngram results
    cfile = os.path.join(work, "codes40.h5")
    with h5py.File(cfile, "w") as f:
        f["codes"] = codes.astype(np.float32)
    path_ext = run_study(runner, R, work, "external", data,
                         ["text.method=external", f"text.codes={cfile}:codes"])
    res_ext, sc_ext = read_all(path_ext)
    for sim in ("dot", "euclidean"):
        for f in (0.0, 0.5):
            what = f"external (text_ref ngram codes) {sim} shared={f} at {R} ranks"
            check_point(res_ext, point(sc_ext, sim, 1, f), X, what, f, N, TRIALS)
    compare(res, res_ext, "external codes (text_ref.ngram) against method ngram",
            skip=("seconds",))
    print(f"ok external codes from text_ref.ngram give the ngram results at {R} ranks")

    # 5. pixel text codes on 28 x 28 images, encoder identity
    pdata = os.path.join(work, "set28.h5")
    P = write_set(pdata, N_PIX, 28, 5)
    t = np.array([text_ref.pixel(caption(i).encode(), 28, 28, 1)[0] for i in range(N_PIX)],
                 np.float64)
    pscale = float(np.mean(np.linalg.norm(P, axis=1)) / np.mean(np.linalg.norm(t, axis=1)))
    for known, ov in ((1, []), (0, ["network.similarity=dot", "text.known=off"])):
        ppath = run_study(runner, R, work, f"pixel_k{known}", pdata,
                          ov + ["encoder.name=identity"], n=N_PIX, method="pixel", shared="0")
        pres, psc = read_all(ppath)
        check_axes(psc, "pixel")
        for sim in (("dot", "euclidean") if known else ("dot",)):
            what = f"pixel {sim} known={'on' if known else 'off'} shared=0 at {R} ranks"
            at = point(psc, sim, known, 0.0)
            check_point(pres, at, P, what, 0.0, N_PIX, TRIALS)
            check_scale(pres, at, pscale, what, TRIALS)
            print(f"ok {what}: {N_PIX} captions recall their images exactly; text/applied_scale = "
                  f"{pscale:.6f}")


def compare(a, b, what, skip=("seconds",)):
    """Integers identical, floats within TOL + TOL * |a| (NaN where NaN)."""
    missing = sorted(set(a) ^ set(b))
    check(not missing, f"{what}: datasets in only one of the files: {missing}")
    for k in sorted(a):
        if k in skip:
            continue
        x, y = a[k], b[k]
        check(x.shape == y.shape and x.dtype == y.dtype,
              f"{what}: {k}: shape/type {x.shape}/{x.dtype} against {y.shape}/{y.dtype}")
        if x.dtype.kind in "iub":
            if not np.array_equal(x, y):
                i = np.argwhere(x != y)[0]
                raise_diff(what, k, tuple(i), x, y)
        else:
            x64, y64 = x.astype(np.float64), y.astype(np.float64)
            nan = np.isnan(x64)
            check(np.array_equal(nan, np.isnan(y64)), f"{what}: {k}: NaN in different places")
            err = np.abs(np.where(nan, 0, x64 - y64))
            lim = TOL + TOL * np.abs(np.where(nan, 0, x64))
            if np.any(err > lim):
                i = np.unravel_index(np.argmax(err - lim), err.shape)
                raise_diff(what, k, i, x, y, f" (|diff| {err[i]:.3g} > {lim[i]:.3g})")


def raise_diff(what, k, i, x, y, extra=""):
    check(False, f"{what}: {k} at {tuple(int(v) for v in i)}: {x[i]!r} against {y[i]!r}{extra}")


def case_ranks(runner, work, args):
    check(len(args.ranks) >= 2, "--case ranks needs two or more rank counts (--ranks 1 3)")
    data = os.path.join(work, "set8.h5")
    write_set(data, N, SIDE, 3)
    files = {r: run_study(runner, r, work, "ngram", data) for r in args.ranks}
    ref, _ = read_all(files[args.ranks[0]])
    for r in args.ranks[1:]:
        got, _ = read_all(files[r])
        compare(ref, got, f"{r} ranks against {args.ranks[0]}")
        print(f"ok {r} ranks: every dataset as at {args.ranks[0]} rank(s) (integers identical, "
              f"floats within {TOL} + {TOL} relative; {len(ref)} datasets)")


# Bad inputs: name -> (deck maker, overrides, culprits (any one must appear)).
def bad_cases(work):
    data = os.path.join(work, "set8.h5")
    write_set(data, N, SIDE, 3)
    nocap = os.path.join(work, "nocaptions.h5")
    write_set(nocap, N, SIDE, 3, captions=False)
    c39 = os.path.join(work, "codes39.h5")
    with h5py.File(c39, "w") as f:
        f["codes"] = np.random.default_rng(1).random((N - 1, 16)).astype(np.float32)
    cnan = os.path.join(work, "codesnan.h5")
    with h5py.File(cnan, "w") as f:
        a = np.random.default_rng(1).random((N, 16)).astype(np.float32)
        a[7, 3] = np.nan
        f["codes"] = a
    return data, {
        "no_captions": ("text", [f"data.source=hdf5:{nocap}"], ["captions"]),
        "shared_above_1": ("text", ["text.shared=1.5"], ["[text] shared"]),
        "corruption": ("text", ["query.corruption=mask_top"], ["corruption"]),
        "external_39_rows": ("text", ["text.method=external", f"text.codes={c39}:codes"],
                             ["codes", "codes39.h5"]),
        "known_without_method": ("notext", ["text.known=on"], ["[text] known"]),
        # the other rules of the section (spec §13 and the deck's documentation)
        "external_not_finite": ("text", ["text.method=external", f"text.codes={cnan}:codes"],
                                ["codes", "codesnan.h5"]),
        "cue_only": ("text", ["network.cue_only=on"], ["cue_only"]),
        "hetero": ("text", ["data.hetero=halves"], ["hetero"]),
        "scale_zero": ("text", ["text.scale=0"], ["[text] scale"]),
        "separability": ("text", ["output.separability=on"], ["[output] separability"]),
    }


def error_case(runner, R, d, data, name, kind, ov, culprits):
    """One bad input in its own folder d; raises TestFailure."""
    os.mkdir(d)
    out = os.path.join(d, "out.h5")
    if kind == "text":
        deck = write_deck(d, "deck.ini", data=data, out=out)
    else:
        deck = os.path.join(d, "deck.ini")
        with open(deck, "w") as f:
            f.write(DECK_NOTEXT.format(data=data, out=out, n=N, beta=BETA))
    before = sorted(os.listdir(d))
    rc, so, se = runner.run(R, ["run", deck] + ov, cwd=d)
    what = f"error {name} ({' '.join(ov)}) at {R} ranks"
    check(rc == EXIT_INPUT, f"{what}: exit {rc}, expected {EXIT_INPUT}\nstdout:\n{so}\n"
                            f"stderr:\n{se}")
    lines = program_stderr_lines(se)
    check(len(lines) == 1 and lines[0].startswith("uhn: "),
          f"{what}: expected exactly one 'uhn:' line on stderr, got {lines!r}")
    check(any(c in lines[0] for c in culprits),
          f"{what}: the message names none of {culprits}: {lines[0]!r}")
    check(not os.path.exists(out) and not os.path.exists(out + ".partial"),
          f"{what}: a results file or OUT.partial was left behind")
    check(sorted(os.listdir(d)) == before,
          f"{what}: files left behind: {sorted(set(os.listdir(d)) - set(before))}")
    return f"ok {what}: exit 2, {lines[0]!r}"


def case_errors(runner, work, args):
    """Every bad input at args.ranks[0], args.jobs at a time (a failing mpirun
    idles ~2 s in the launcher); every failing case is reported by name."""
    R = args.ranks[0]
    data, cases = bad_cases(work)

    def one(item):
        name, (kind, ov, culprits) = item
        try:
            return name, error_case(runner, R, os.path.join(work, "err_" + name), data, name,
                                    kind, ov, culprits), None
        except TestFailure as e:
            return name, None, str(e)

    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        results = list(pool.map(one, cases.items()))
    failed = [name for name, _, err in results if err]
    for name, msg, err in results:
        print(msg if msg else f"FAIL error {name} at {R} ranks: {err}")
    check(not failed, f"{len(failed)} of {len(cases)} error cases failed: {', '.join(failed)}")


CASES = {"values": case_values, "errors": case_errors, "ranks": case_ranks}


def main():
    ap = common_args(__doc__)
    ap.add_argument("--case", required=True, choices=sorted(CASES))
    ap.add_argument("--ranks", type=int, nargs="+", default=[1],
                    help="rank count (values, errors: the first; ranks: all, compared)")
    ap.add_argument("--jobs", type=int, default=4, help="error cases run at once")
    args = ap.parse_args()
    runner = Runner(args)
    with tempfile.TemporaryDirectory(prefix="uhn_study_text_", dir=args.workdir) as work:
        CASES[args.case](runner, work, args)


if __name__ == "__main__":
    main_wrapper(main)
