#!/usr/bin/python3
"""Output layout and values of `uhn recall` (spec §1-§5, §8).

Small random data (N=37 memories, K=12, B=9 queries) is recalled under many
option sets; the output file is read with h5py and checked for its layout
(dataset names, types, shapes, presence of lse/energy, the option attributes)
and its values against the numpy reference of uhn_cli.recall_ref (relative
1e-5; the arg-max index identical).

    recall_values.py ... --ranks R            # every case at R ranks vs numpy
    recall_values.py ... --compare-ranks 1 2 3 4
        # a set of cases at each rank count, each vs numpy and vs 1 rank
        # (1e-5, identical index), plus --kernel ref vs fast and --batch
"""
import os
import sys
import tempfile

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from uhn_cli import (Runner, TestFailure, check, close, common_args, has_energy,  # noqa: E402
                     main_wrapper, recall_ref, scores)

N, K, B, O = 37, 12, 9, 5
RTOL = 1e-5


# --------------------------------------------------------------------------
# Input data (seeded) written once per run into the scratch folder.
# --------------------------------------------------------------------------

class Data:
    def __init__(self, d):
        rng = np.random.default_rng(20240611)
        self.d = d
        self.X = rng.random((N, K), dtype=np.float32)
        Q = rng.random((B, K), dtype=np.float32)
        near = [3, 10, 17, 25, 36]  # queries 0-4 are noisy copies of these memories
        Q[:5] = np.clip(self.X[near] + 0.15 * rng.standard_normal((5, K)), 0, None)
        self.Q = Q.astype(np.float32)
        self.Y = rng.standard_normal((N, O)).astype(np.float32)
        self.clampK = (np.arange(K) % 3 != 2).astype(np.uint8)  # 8 of 12 known
        self.clampBK = (rng.random((B, K)) < 0.6).astype(np.uint8)
        self.clampBK[:, 0] = 1  # every query has a non-empty cue
        # uhn score mode: query 2 equals memory 8 exactly (the exact-match rule)
        self.Qexact = self.Q.copy()
        self.Qexact[2] = self.X[8]
        # other numeric types on disk
        self.X64 = rng.random((N, K))  # float64
        self.Q16 = rng.integers(0, 4, size=(B, K)).astype(np.int16)
        with h5py.File(self.p("mem.h5"), "w") as f:
            f["memories"] = self.X
            f.create_group("grp")["bank"] = self.X
            f["memories64"] = self.X64
            f["tiny2"] = self.X[:2]
            f["tiny1"] = self.X[5:6]
        with h5py.File(self.p("q.h5"), "w") as f:
            f["queries"] = self.Q
            f["exact"] = self.Qexact
            f["q16"] = self.Q16
        with h5py.File(self.p("v.h5"), "w") as f:
            f["values"] = self.Y
        with h5py.File(self.p("c.h5"), "w") as f:
            f["clamp"] = self.clampK
            f["perquery"] = self.clampBK

    def p(self, name):
        return os.path.join(self.d, name)


# --------------------------------------------------------------------------
# The cases: name -> (command-line options, reference inputs and options)
# --------------------------------------------------------------------------

def case(opts=None, mem="mem.h5", X=None, q="q.h5", Q=None, values=None, clamp=None, clampv=None,
         **ref):
    return dict(opts=opts or [], mem=mem, X=X, q=q, Q=Q, values=values, clamp=clamp, clampv=clampv,
                ref=ref)


def cases(D):
    c = {}
    c["softmax_dot"] = case(["--beta", "2"], beta=2.0)
    c["softmax_euclidean"] = case(["--similarity", "euclidean", "--beta", "4"],
                                  similarity="euclidean", beta=4.0)
    c["softmax_manhattan"] = case(["--similarity", "manhattan", "--beta", "2"],
                                  similarity="manhattan", beta=2.0)
    c["softmax_cosine"] = case(["--similarity", "cosine", "--beta", "20"], similarity="cosine", beta=20.0)
    c["softmax_kl"] = case(["--similarity", "kl", "--beta", "5"], similarity="kl", beta=5.0)
    c["softmax_reverse_kl"] = case(["--similarity", "reverse_kl", "--beta", "5"],
                                   similarity="reverse_kl", beta=5.0)
    c["softmax_jensen_shannon"] = case(["--similarity", "jensen_shannon", "--beta", "40"],
                                       similarity="jensen_shannon", beta=40.0)
    c["default_options"] = case([])
    c["max_euclidean"] = case(["--similarity", "euclidean", "--separation", "max"],
                              similarity="euclidean", separation="max")
    c["max_dot"] = case(["--separation", "max"], separation="max")
    c["identity_dot"] = case(["--separation", "identity"], separation="identity")
    c["identity_dot_no_normalize"] = case(["--separation", "identity", "--no-normalize", "--beta", "0.5"],
                                          separation="identity", normalize=False, beta=0.5)
    c["power_default_cosine"] = case(["--similarity", "cosine", "--separation", "power"],
                                     similarity="cosine", separation="power")
    c["power3_dot"] = case(["--separation", "power", "--param", "3"], separation="power", param=3)
    c["log_dot"] = case(["--separation", "log", "--beta", "4"], separation="log", beta=4.0)
    c["topk3_euclidean"] = case(["--similarity", "euclidean", "--separation", "topk", "--param", "3",
                                 "--beta", "4"], similarity="euclidean", separation="topk", param=3,
                                beta=4.0)
    # threshold on beta*x.q: a few memories pass for some queries, none (empty) for others
    c["threshold_dot"] = case(["--separation", "threshold", "--param", "3.9"],
                              separation="threshold", param=3.9)
    c["hetero_softmax_dot"] = case(["--values", D.p("v.h5"), "--beta", "2"], values=D.Y, beta=2.0)
    c["hetero_max_euclidean"] = case(["--values", D.p("v.h5") + ":values", "--similarity", "euclidean",
                                      "--separation", "max"], values=D.Y, similarity="euclidean",
                                     separation="max")
    c["clamp_k_euclidean"] = case(["--clamp", D.p("c.h5"), "--similarity", "euclidean", "--beta", "4"],
                                  clampv=D.clampK, similarity="euclidean", beta=4.0)
    c["iterate_dot_steps5"] = case(["--steps", "5", "--beta", "4"], steps=5, beta=4.0)
    # 9 queries x 30 steps >= 256: the bank sorted by norm (attribute bank_order = norm)
    c["iterate_dot_steps30_sorted"] = case(["--steps", "30", "--beta", "4"], steps=30, beta=4.0)
    c["iterate_euclidean_steps30_sorted"] = case(["--steps", "30", "--similarity", "euclidean", "--beta", "4"],
                                                 steps=30, similarity="euclidean", beta=4.0)
    # --no-energy: the same states, no energy dataset, attribute no_energy = 1
    c["iterate_dot_steps5_no_energy"] = case(["--steps", "5", "--beta", "4", "--no-energy"], steps=5,
                                             beta=4.0, energy=False)
    c["softmax_euclidean_no_energy"] = case(["--similarity", "euclidean", "--beta", "4", "--no-energy"],
                                            similarity="euclidean", beta=4.0, energy=False)
    c["iterate_euclidean_clamp"] = case(["--similarity", "euclidean", "--steps", "5", "--step-size", "0.5",
                                         "--beta", "3", "--clamp", D.p("c.h5") + ":perquery"],
                                        similarity="euclidean", steps=5, step_size=0.5, beta=3.0,
                                        clampv=D.clampBK)
    c["iterate_tol"] = case(["--similarity", "euclidean", "--steps", "30", "--tol", "1e-3", "--beta", "8"],
                            similarity="euclidean", steps=30, tol=1e-3, beta=8.0)
    # trajectories (spec §11): the states at chosen steps, with early stops repeating the final
    c["trajectory_euclidean_tol"] = case(["--similarity", "euclidean", "--steps", "30", "--tol", "1e-3",
                                          "--beta", "8", "--trajectory", "0,1,2,29,30"],
                                         similarity="euclidean", steps=30, tol=1e-3, beta=8.0,
                                         save=[0, 1, 2, 29, 30])
    c["trajectory_dot_clamp"] = case(["--clamp", D.p("c.h5"), "--steps", "4", "--step-size", "0.5",
                                      "--beta", "3", "--save-steps", "2,4"],
                                     clampv=D.clampK, steps=4, step_size=0.5, beta=3.0, save=[2, 4])
    c["iterate_max"] = case(["--separation", "max", "--similarity", "manhattan", "--steps", "3",
                             "--step-size", "0.5"], separation="max", similarity="manhattan", steps=3,
                            step_size=0.5)
    c["score_uhn_euclidean"] = case(["--score", "uhn", "--similarity", "euclidean", "--beta", "10"],
                                    score="uhn", similarity="euclidean", beta=10.0)
    c["score_uhn_dot"] = case(["--score", "uhn", "--beta", "30"], score="uhn", beta=30.0)
    c["score_uhn_cosine_power"] = case(["--score", "uhn", "--similarity", "cosine", "--separation", "power",
                                        "--param", "2"], score="uhn", similarity="cosine",
                                       separation="power", param=2)
    c["score_uhn_manhattan_exact"] = case(["--score", "uhn", "--similarity", "manhattan", "--beta", "10"],
                                          q="q.h5:exact", Q=D.Qexact, score="uhn",
                                          similarity="manhattan", beta=10.0)
    c["types_float64_int16"] = case(["--similarity", "euclidean", "--beta", "0.5"], mem="mem.h5:memories64",
                                    X=D.X64, q="q.h5:q16", Q=D.Q16, similarity="euclidean", beta=0.5)
    c["dataset_in_group"] = case(["--beta", "2"], mem="mem.h5:/grp/bank", beta=2.0)
    c["tiny_bank_2"] = case(["--similarity", "euclidean"], mem="mem.h5:tiny2", X=D.X[:2],
                            similarity="euclidean")
    c["tiny_bank_1"] = case(["--separation", "max"], mem="mem.h5:tiny1", X=D.X[5:6], separation="max")
    return c


def cue_cases(D):
    """--cue-only: scores over the clamp set only (spec §1)."""
    c = {}
    c["cue_only_euclidean_k"] = case(["--clamp", D.p("c.h5"), "--cue-only", "--similarity", "euclidean",
                                      "--beta", "4"], clampv=D.clampK, cue_only=True,
                                     similarity="euclidean", beta=4.0)
    c["cue_only_dot_perquery"] = case(["--clamp", D.p("c.h5") + ":perquery", "--cue-only", "--beta", "2"],
                                      clampv=D.clampBK, cue_only=True, beta=2.0)
    c["cue_only_manhattan_max"] = case(["--clamp", D.p("c.h5"), "--cue-only", "--similarity", "manhattan",
                                        "--separation", "max"], clampv=D.clampK, cue_only=True,
                                       similarity="manhattan", separation="max")
    c["cue_only_kl"] = case(["--clamp", D.p("c.h5") + ":perquery", "--cue-only", "--similarity", "kl",
                             "--beta", "5"], clampv=D.clampBK, cue_only=True, similarity="kl", beta=5.0)
    return c


# The subset run at every rank count and compared across rank counts.
RANKS_CASES = ["softmax_euclidean", "softmax_cosine", "softmax_jensen_shannon", "max_dot", "topk3_euclidean",
               "threshold_dot", "hetero_softmax_dot", "iterate_dot_steps5", "iterate_dot_steps30_sorted",
               "iterate_euclidean_clamp",
               "iterate_tol", "score_uhn_euclidean", "score_uhn_manhattan_exact", "cue_only_dot_perquery",
               "tiny_bank_2"]


# --------------------------------------------------------------------------
# Reference with cue-only (the reference of uhn_cli handles the rest)
# --------------------------------------------------------------------------

def reference(D, cs):
    r = dict(cs["ref"])
    X = D.X if cs["X"] is None else cs["X"]
    Q = D.Q if cs["Q"] is None else cs["Q"]
    cue = r.pop("cue_only", False)
    if not cue:
        return recall_ref(X, Q, Y=cs["values"], clamp=cs["clampv"], **r)
    # cue-only: each query is scored over its own clamp set; the clamp set is
    # held at the query value, so the result is recall over the masked
    # sub-vectors, with the unknown coordinates from z and the known from q.
    Cm = np.asarray(cs["clampv"]) != 0
    Cm = np.broadcast_to(Cm, Q.shape) if Cm.ndim == 1 else Cm
    assert r.get("steps", 1) == 1
    outs = []
    for b in range(Q.shape[0]):
        m = Cm[b]
        sub = recall_ref(X[:, m], Q[b:b + 1, m], Y=X, with_energy=False, **r)  # weights from the cue; values = full rows
        o = sub["output"][0].copy()
        qb = np.asarray(Q[b], np.float32).astype(np.float64)
        o[m] = qb[m]
        sub["output"][0] = o
        outs.append(sub)
    res = {k: (np.concatenate([s[k] for s in outs]) if outs[0][k] is not None else None)
           for k in outs[0]}
    return res


# --------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------

def _as_str(v):
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.ndarray) and v.shape == ():
        return _as_str(v[()])
    return str(v)


def _num(v):
    return float(np.asarray(v).ravel()[0])


def check_attrs(f, name, cs, out, extra=()):
    """The file records every option as a root attribute (spec §8)."""
    r = dict(similarity="dot", separation="softmax", beta=1.0, score="raw", normalize=True, steps=1,
             step_size=1.0, tol=0.0, cue_only=False, param=None, energy=True)
    r.update(cs["ref"])
    default_param = {"power": 2.0, "topk": None, "threshold": None}
    # the bank is sorted by norm where that pays (uhn_params_sort_pays): the fast kernel, softmax of
    # raw dot or euclidean scores, no --cue-only, queries x steps >= 256
    sort = ("ref" not in extra and r["separation"] == "softmax" and r["score"] == "raw"
            and r["similarity"] in ("dot", "euclidean") and not r["cue_only"] and B * r["steps"] >= 256)
    strings = {"similarity": r["similarity"], "separation": r["separation"], "score": r["score"],
               "kernel": "ref" if "ref" in extra else "fast", "output": out,
               "bank_order": "norm" if sort else "index"}
    numbers = {"beta": r["beta"], "steps": r["steps"], "step_size": r["step_size"], "tol": r["tol"],
               "no_normalize": 0 if r["normalize"] else 1, "cue_only": 1 if r["cue_only"] else 0,
               "no_energy": 0 if r["energy"] else 1}
    if "--batch" in extra:
        numbers["batch"] = float(extra[list(extra).index("--batch") + 1])
    if r["param"] is not None:
        numbers["param"] = float(r["param"])
    elif r["separation"] in default_param and default_param[r["separation"]] is not None:
        numbers["param"] = default_param[r["separation"]]
    A = f.attrs
    for key, val in strings.items():
        check(key in A, f"[{name}] no root attribute {key!r}; has {sorted(A.keys())}")
        check(_as_str(A[key]) == val, f"[{name}] attribute {key} = {A[key]!r}, expected {val!r}")
    for key, val in numbers.items():
        check(key in A, f"[{name}] no root attribute {key!r}; has {sorted(A.keys())}")
        check(abs(_num(A[key]) - val) <= 1e-12 * max(1.0, abs(val)),
              f"[{name}] attribute {key} = {A[key]!r}, expected {val}")
    # the inputs: file and dataset of each
    inputs = {"memories": cs["mem"], "queries": cs["q"]}
    for opt in ("--values", "--clamp"):
        if opt in cs["opts"]:
            inputs[opt[2:]] = os.path.basename(cs["opts"][cs["opts"].index(opt) + 1])
    for key, arg in inputs.items():
        fname, _, dset = arg.partition(":")
        check(key in A, f"[{name}] no root attribute {key!r} recording the input")
        got = _as_str(A[key])
        check(fname in got and (not dset or dset.strip("/") in got),
              f"[{name}] attribute {key} = {got!r} does not record the input {arg}")
    for key in ("values", "clamp"):
        if key not in inputs:
            check(key not in A, f"[{name}] attribute {key!r} present without --{key}")


def read_output(path, name, B_, O_, T, opts_ref):
    """Reads and checks the layout; returns a dict of arrays."""
    with h5py.File(path, "r") as f:
        want = {"output": (np.float32, (B_, O_)), "index": (np.int64, (B_,)),
                "weight": (np.float32, (B_,)), "steps": (np.int32, (B_,)), "empty": (np.uint8, (B_,))}
        softmax = opts_ref.get("separation", "softmax") == "softmax"
        if softmax:
            want["lse"] = (np.float64, (B_,))
        if has_energy(opts_ref):
            want["energy"] = (np.float64, (B_, T + 1))
        if opts_ref.get("save"):
            S = len(opts_ref["save"])
            want["trajectory"] = (np.float32, (B_, S, O_))  # the state: K = O (auto)
            want["trajectory_steps"] = (np.int32, (S,))
        check(("trajectory" in f) == bool(opts_ref.get("save")),
              f"[{name}] 'trajectory' must be present exactly with --trajectory")
        for ds, (dt, shape) in want.items():
            check(ds in f, f"[{name}] dataset {ds!r} missing from the output; has {sorted(f.keys())}")
            check(isinstance(f[ds], h5py.Dataset), f"[{name}] {ds} is not a dataset")
            check(f[ds].dtype == np.dtype(dt), f"[{name}] {ds} has type {f[ds].dtype}, expected {np.dtype(dt)}")
            check(f[ds].shape == shape, f"[{name}] {ds} has shape {f[ds].shape}, expected {shape}")
        check(softmax == ("lse" in f), f"[{name}] 'lse' must be present exactly for softmax")
        check(("energy" in want) == ("energy" in f),
              f"[{name}] 'energy' must be present exactly for softmax with dot or euclidean")
        res = {k: f[k][()] for k in want}
        return res, f


def compare(name, got, ref, cs):
    r = cs["ref"]
    close(got["output"], ref["output"], RTOL, f"[{name}] output")
    close(got["weight"], ref["weight"], RTOL, f"[{name}] weight")
    check(np.array_equal(got["steps"], ref["steps"]), f"[{name}] steps {got['steps']} != reference {ref['steps']}")
    check(np.array_equal(got["empty"], ref["empty"]), f"[{name}] empty {got['empty']} != reference {ref['empty']}")
    for b in range(len(ref["index"])):
        if ref["empty"][b]:
            check(got["index"][b] == -1, f"[{name}] query {b} is empty: index {got['index'][b]}, expected -1")
            continue
        tied = ref["margin"][b] <= 1e-5 * ref["weight"][b] and ref["margin"][b] > 0
        if tied:  # a near-tie in the reference: either of the near-tied rows is fine
            continue
        check(got["index"][b] == ref["index"][b],
              f"[{name}] query {b}: index {got['index'][b]}, reference {ref['index'][b]} "
              f"(reference weights margin {ref['margin'][b]:.3g})")
    if "trajectory" in got:
        check(list(got["trajectory_steps"]) == list(r["save"]),
              f"[{name}] trajectory_steps {got['trajectory_steps']} != {r['save']}")
        close(got["trajectory"], ref["trajectory"], RTOL, f"[{name}] trajectory")
    if "lse" in got:
        ok = np.isfinite(ref["lse"])  # NaN in the reference: exact match (uhn score), not compared
        close(got["lse"][ok], ref["lse"][ok], RTOL, f"[{name}] lse", atol=RTOL * ref["hscale"][ok])
    if "energy" in got:
        E = got["energy"]
        check(np.all(np.isfinite(E)), f"[{name}] energy not finite: {E}")
        steps = got["steps"]
        if ref["energy"] is None:  # cue-only or hetero: E is defined differently, not compared
            return
        if r.get("score", "raw") == "raw":
            for b in range(E.shape[0]):
                n = steps[b] + 1
                close(E[b, :n], ref["energy"][b, :n], RTOL, f"[{name}] energy of query {b}",
                      atol=RTOL * ref["hscale"][b] / r.get("beta", 1.0))
        if r.get("step_size", 1.0) <= 1.0 and r.get("score", "raw") == "raw":
            for b in range(E.shape[0]):
                e = E[b, :steps[b] + 1]
                inc = np.diff(e)
                # float32 round-off of E is relative to the terms of the scores
                slack = RTOL * (np.abs(e[:-1]) + ref["hscale"][b] / r.get("beta", 1.0))
                check(np.all(inc <= slack), f"[{name}] energy increases along query {b}: {e}")


def run_case(runner, D, name, cs, ranks, extra=()):
    out = D.p(f"out_{name}_np{ranks}{'_'.join([''] + [x.strip('-') for x in extra])}.h5")
    if os.path.exists(out):
        os.remove(out)
    argv = ["--memories", D.p(cs["mem"]), "--queries", D.p(cs["q"]), "--output", out] + cs["opts"] + list(extra)
    runner.recall_ok(ranks, argv, cwd=D.d)
    check(os.path.exists(out), f"[{name}] exit 0 but no output file {out}")
    leftovers = [f for f in os.listdir(D.d) if ".tmp" in f]
    check(not leftovers, f"[{name}] temporary files left after a successful run: {leftovers}")
    Yo = O if cs["values"] is not None else K
    Bq = (D.Q if cs["Q"] is None else cs["Q"]).shape[0]
    T = cs["ref"].get("steps", 1)
    got, _ = read_output(out, name, Bq, Yo, T, cs["ref"])
    with h5py.File(out, "r") as f:
        check_attrs(f, name, cs, out, extra)
    return got


def reference_sanity(name, cs, ref, D):
    """Guards against a test whose data sit on a decision boundary."""
    r = cs["ref"]
    if r.get("separation") == "threshold":
        X = D.X if cs["X"] is None else cs["X"]
        Q = D.Q if cs["Q"] is None else cs["Q"]
        hs = np.array([scores(r.get("similarity", "dot"), np.asarray(X, np.float64),
                              np.asarray(Q[b], np.float64), r.get("beta", 1.0), "raw")[0]
                       for b in range(Q.shape[0])])
        gap = np.min(np.abs(hs - r["param"]))
        assert gap > 1e-4, f"threshold test data too close to t: {gap}"
        assert ref["empty"].any() and not ref["empty"].all(), "threshold case should have some empty queries"


def main():
    ap = common_args(__doc__)
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--ranks", type=int)
    g.add_argument("--compare-ranks", type=int, nargs="+")
    ap.add_argument("--case", action="append", help="run only these cases")
    args = ap.parse_args()
    runner = Runner(args)
    with tempfile.TemporaryDirectory(dir=args.workdir, prefix="values_") as d:
        D = Data(d)
        cs_all = cases(D)
        cs_all.update(cue_cases(D))
        if args.case:
            cs_all = {k: v for k, v in cs_all.items() if k in args.case}
            check(len(cs_all) == len(args.case), f"unknown case in {args.case}")
        refs = {}
        for name, cs in cs_all.items():
            refs[name] = reference(D, cs)
            reference_sanity(name, cs, refs[name], D)

        if args.ranks:
            for name, cs in cs_all.items():
                got = run_case(runner, D, name, cs, args.ranks)
                compare(name, got, refs[name], cs)
                print(f"ok {name} at {args.ranks} ranks")
            return

        names = args.case or RANKS_CASES
        for name in names:
            cs = cs_all[name]
            base = None
            for R in args.compare_ranks:
                got = run_case(runner, D, name, cs, R)
                compare(name, got, refs[name], cs)
                if base is None:
                    base = (R, got)
                    continue
                agree(f"[{name}] at {R} ranks vs {base[0]} ranks", got, base[1], refs[name], cs)
            # the reference kernel and the fast kernel, and the internal batch size, agree
            R = args.compare_ranks[-1]
            for extra in (("--kernel", "ref"), ("--batch", "4"), ("--batch", "1")):
                got = run_case(runner, D, name, cs, R, extra)
                compare(name + " " + " ".join(extra), got, refs[name], cs)
                agree(f"[{name}] {' '.join(extra)} at {R} ranks vs the default at {base[0]}", got, base[1],
                      refs[name], cs)
            print(f"ok {name}: ranks {args.compare_ranks} agree; --kernel ref, --batch 4/1 agree")


def agree(what, got, base, ref, cs):
    """Two runs of the same case agree: index, steps, empty identical; the
    rest to relative 1e-5 (with the score-term scale for lse and energy)."""
    beta = cs["ref"].get("beta", 1.0)
    for k in base:
        w = f"{what}: {k}"
        check(k in got, f"{w} missing")
        if k in ("index", "steps", "empty"):
            check(np.array_equal(got[k], base[k]), f"{w}: {got[k]} != {base[k]}")
            continue
        a, b0 = got[k], base[k]
        ok = np.isfinite(b0)
        check(np.array_equal(ok, np.isfinite(a)), f"{w}: NaN pattern differs")
        atol = 0.0
        if k == "lse":
            atol = RTOL * ref["hscale"][ok]
        elif k == "energy":
            atol = (RTOL * ref["hscale"][:, None] / beta * np.ones_like(b0))[ok]
        close(a[ok], b0[ok], RTOL, w, atol=atol)


if __name__ == "__main__":
    main_wrapper(main)
