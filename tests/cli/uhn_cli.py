"""Shared helpers of the `uhn recall` CLI tests.

- `Runner` launches `mpiexec -n R uhn recall ...` in a subprocess with a hard
  timeout (the whole process group is killed on a hang, and the test fails).
- `recall_ref` is an independent numpy implementation of spec §1-§5 in float64,
  written from docs/spec (retrieval.md), not from the C code: the CLI tests
  compare the program's output file against it.

Only numpy, h5py and the standard library are used.
"""
import argparse
import os
import re
import signal
import subprocess
import sys

import numpy as np

EPS_DIV = 1e-6  # spec §1: epsilon added before a vector is made a distribution

MPI_ENV = {
    "OMPI_ALLOW_RUN_AS_ROOT": "1",
    "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
    "OMPI_MCA_rmaps_base_oversubscribe": "1",
    "OMP_NUM_THREADS": "1",
    "ASAN_OPTIONS": "detect_leaks=0",
}


class TestFailure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def common_args(description):
    """The arguments every CLI test script takes (CMake passes them)."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--uhn", required=True, help="path of the uhn program")
    ap.add_argument("--mpiexec", required=True, help="MPI launcher (mpiexec)")
    ap.add_argument("--np-flag", default="-n", help="launcher flag for the rank count")
    ap.add_argument("--mpiexec-preflags", default="--oversubscribe",
                    help="flags given to the launcher before the rank count")
    ap.add_argument("--timeout", type=float, default=60.0,
                    help="seconds one uhn run may take before it counts as a hang")
    ap.add_argument("--workdir", default=None, help="scratch folder (default: a fresh temp dir)")
    return ap


def finish(p, timeout, hang_msg):
    """Waits for process p (started with start_new_session=True); returns
    (rc, stdout, stderr). After `timeout` s its process group is killed and the
    test fails with hang_msg and the output."""
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        raise TestFailure(f"{hang_msg}\nstdout:\n{out}\nstderr:\n{err}")
    return p.returncode, out, err


class Runner:
    def __init__(self, args):
        self.uhn = os.path.abspath(args.uhn)
        self.mpiexec = args.mpiexec
        self.np_flag = args.np_flag
        self.pre = args.mpiexec_preflags.split()
        self.timeout = args.timeout
        self.env = dict(os.environ)
        for k, v in MPI_ENV.items():
            self.env.setdefault(k, v)
        check(os.access(self.uhn, os.X_OK), f"uhn program not found or not executable: {self.uhn}")

    def run(self, ranks, argv, cwd=None):
        """Runs `mpiexec -n ranks uhn argv...`; returns (rc, stdout, stderr).
        A run that outlives the timeout is killed and fails the test."""
        cmd = [self.mpiexec] + self.pre + [self.np_flag, str(ranks), self.uhn] + [str(a) for a in argv]
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=self.env, cwd=cwd, start_new_session=True)
        return finish(p, self.timeout, f"HANG: no exit after {self.timeout:.0f} s: {' '.join(cmd)}")

    def recall_ok(self, ranks, argv, cwd=None):
        """Runs `uhn recall argv` and requires exit status 0."""
        rc, out, err = self.run(ranks, ["recall"] + list(argv), cwd=cwd)
        check(rc == 0, f"uhn recall failed (exit {rc}) at {ranks} ranks: recall {' '.join(map(str, argv))}\n"
                       f"stdout:\n{out}\nstderr:\n{err}")
        return out, err


_DASHES = re.compile(r"^-{10,}\s*$")
# mpiexec's own libevent, when a job ends with a failed process, now and then
# warns about a descriptor it already closed (Open MPI issues 2004 and 5520):
#   [warn] Epoll MOD(1) on fd 23 failed. Old events were 6; ...: Bad file descriptor
_LIBEVENT = re.compile(r"^\[warn\] Epoll (ADD|MOD|DEL)\(\d+\) on fd \d+ failed\.")


def program_stderr_lines(err):
    """The non-empty lines of stderr that are not the MPI launcher's own
    (Open MPI frames its banners between lines of dashes, and its libevent
    prints the warnings above)."""
    lines, inside = [], False
    for line in err.splitlines():
        if _DASHES.match(line):
            inside = not inside
            continue
        if inside or not line.strip() or _LIBEVENT.match(line):
            continue
        lines.append(line)
    return lines


# ---------------------------------------------------------------------------
# The reference: spec §1-§5 in float64, one query at a time, plain numpy.
# ---------------------------------------------------------------------------

def _dist(p):
    p = p + EPS_DIV
    return p / p.sum(axis=-1, keepdims=True)


def _kl(p, q):
    """KL(p || q) over the last axis (p, q already distributions, > 0)."""
    return np.sum(p * np.log(p / q), axis=-1)


def similarity(name, X, q):
    """s(x_n, q) for every row of X (spec §1), float64."""
    X = np.asarray(X, np.float64)
    q = np.asarray(q, np.float64)
    if name == "dot":
        return X @ q
    if name == "cosine":
        nx = np.sqrt(np.sum(X * X, axis=1))
        nq = np.sqrt(np.sum(q * q))
        s = np.zeros(X.shape[0])
        ok = (nx > 0) & (nq > 0)
        s[ok] = (X[ok] @ q) / (nx[ok] * nq)
        return s
    if name == "euclidean":
        return -np.sum((X - q) ** 2, axis=1)
    if name == "manhattan":
        return -np.sum(np.abs(X - q), axis=1)
    if name in ("kl", "reverse_kl", "jensen_shannon"):
        xh, qh = _dist(X), _dist(q[None, :])
        if name == "kl":
            return -_kl(qh, xh)
        if name == "reverse_kl":
            return -_kl(xh, qh)
        m = 0.5 * (xh + qh)
        return -(0.5 * _kl(xh, m) + 0.5 * _kl(qh, m))
    raise ValueError(name)


DISTANCE_SIMS = ("euclidean", "manhattan", "kl", "reverse_kl", "jensen_shannon")


def scores(sim, X, q, beta, mode):
    """h_n (spec §2). Returns (h, exact) where exact is None or the weights of
    an exact match in `uhn` mode (separation is then skipped)."""
    s = similarity(sim, X, q)
    if mode == "raw":
        return beta * s, None
    if sim in DISTANCE_SIMS:
        d = -s
        if np.any(d == 0):
            w = (d == 0).astype(np.float64)
            return None, w / w.sum()
        r = 1.0 / d
    elif sim == "dot":
        Xb = np.asarray(X, np.float64)
        Xb = Xb / Xb.sum(axis=1, keepdims=True)
        r = Xb @ (q / q.sum())
    elif sim == "cosine":
        r = np.maximum(s, 0.0)
    else:
        raise ValueError(sim)
    return beta * r / r.sum(), None


def score_scale(sim, X, q, beta, mode):
    """The magnitude of the terms that make up the scores: float32 round-off in
    a score is relative to this, not to the score itself (a euclidean score
    near 0 is a difference of terms ~ ||x||^2 + ||q||^2)."""
    if mode != "raw":
        return beta
    X = np.abs(np.asarray(X, np.float64))
    q = np.abs(np.asarray(q, np.float64))
    if sim == "dot":
        t = X @ q
    elif sim == "euclidean":
        t = np.sum(X * X, axis=1) + np.sum(q * q)
    elif sim == "manhattan":
        t = np.sum(X, axis=1) + np.sum(q)
    else:
        t = np.ones(1)
    return beta * float(np.max(t))


def _order(h):
    """Indices of h from largest to smallest, ties by lowest index."""
    return np.lexsort((np.arange(h.size), -h))


def separate(sep, param, h, normalize=True):
    """Weights w (spec §3). Returns (w, empty)."""
    if sep == "identity":
        assert np.all(h >= 0), "reference: identity on negative scores"
        g = h.copy()
    elif sep == "power":
        p = 2 if param is None else int(param)
        assert np.all(h >= 0)
        g = h ** p
    elif sep == "log":
        assert np.all(h > 0)
        g = np.log(h)
    elif sep == "softmax":
        g = np.exp(h - h.max())
    elif sep == "max":
        g = np.zeros_like(h)
        g[_order(h)[0]] = 1.0
    elif sep == "topk":
        k = int(param)
        g = np.zeros_like(h)
        top = _order(h)[:k]
        g[top] = np.exp(h[top] - h[top].max())
    elif sep == "threshold":
        g = (h >= param).astype(np.float64)
    else:
        raise ValueError(sep)
    if not normalize:
        return g, bool(np.sum(g) == 0)
    tot = g.sum()
    if tot == 0:
        return np.zeros_like(g), True
    return g / tot, False


def lse(h):
    m = h.max()
    return m + np.log(np.sum(np.exp(h - m)))


def energy(sim, X, v, beta):
    """E(v) of spec §5 for softmax with dot or euclidean."""
    h = beta * similarity(sim, X, v)
    if sim == "dot":
        return -lse(h) / beta + 0.5 * float(np.dot(v, v))
    if sim == "euclidean":
        return -lse(h) / beta
    raise ValueError(sim)


def has_energy(o):
    """E is reported for softmax with dot or euclidean (spec §5), in the raw
    score mode with normalised weights (the setting where E is defined)."""
    return (o.get("separation", "softmax") == "softmax" and o.get("similarity", "dot") in ("dot", "euclidean")
            and o.get("score", "raw") == "raw" and o.get("normalize", True) and o.get("energy", True))


def recall_ref(X, Q, Y=None, clamp=None, with_energy=None, **opts):
    """Runs the reference recall for every query of Q (B x K).

    X: keys (N x K); Y: values (N x O) or None for auto-association; clamp:
    None, a [K] or a [B][K] mask. opts: similarity, separation, beta, param,
    score, normalize, steps, step_size, tol (spec §8 defaults).
    with_energy: compute E (default: for the two pairs of spec §5, and only
    for auto-association).
    Returns a dict of arrays shaped as in the output file, plus 'margin' (how
    far the reference is from a tie in the index choice).
    """
    o = dict(similarity="dot", separation="softmax", beta=1.0, param=None, score="raw",
             normalize=True, steps=1, step_size=1.0, tol=0.0, save=None, energy=True)
    o.update(opts)
    X = np.asarray(X, np.float32).astype(np.float64)
    Q = np.asarray(Q, np.float32).astype(np.float64)
    hetero = Y is not None
    Yv = X if Y is None else np.asarray(Y, np.float32).astype(np.float64)
    B, K = Q.shape
    T = int(o["steps"])
    assert not (hetero and T > 1)
    if clamp is not None:
        C = np.asarray(clamp) != 0
        C = np.broadcast_to(C, (B, K)) if C.ndim == 1 else C
    else:
        C = np.zeros((B, K), bool)
    out = dict(output=np.zeros((B, Yv.shape[1])), index=np.zeros(B, np.int64),
               weight=np.zeros(B), lse=np.full(B, np.nan), steps=np.zeros(B, np.int32),
               empty=np.zeros(B, np.uint8), margin=np.full(B, np.inf), hscale=np.zeros(B),
               energy=None)
    if with_energy is None:
        with_energy = has_energy(o) and not hetero
    if with_energy:
        out["energy"] = np.full((B, T + 1), np.nan)
    save = list(o["save"] or [])  # spec §11: v_S at the steps S (0 = the query)
    out["trajectory"] = np.full((B, len(save), K), np.nan) if save else None
    for b in range(B):
        q = Q[b]
        v = q.copy()
        if 0 in save:
            out["trajectory"][b, save.index(0)] = v
        if out["energy"] is not None:
            out["energy"][b, 0] = energy(o["similarity"], X, v, o["beta"])
        for t in range(T):
            h, exact = scores(o["similarity"], X, v, o["beta"], o["score"])
            out["hscale"][b] = max(out["hscale"][b], score_scale(o["similarity"], X, v, o["beta"], o["score"]))
            if exact is not None:
                w, empty = exact, False
            else:
                w, empty = separate(o["separation"], o["param"], h, o["normalize"])
            z = w @ Yv
            if hetero:
                vn = z
            else:
                vn = v + o["step_size"] * (z - v)
                vn[C[b]] = q[C[b]]
            # index / weight / lse / empty describe the last step's weights
            order = _order(w)
            n = order[0]
            out["index"][b] = n
            out["weight"][b] = w[n]
            out["empty"][b] = empty
            out["margin"][b] = (w[order[0]] - w[order[1]]) if w.size > 1 else np.inf
            if o["separation"] == "softmax" and exact is None:
                out["lse"][b] = lse(h)
            delta = np.max(np.abs(vn - v)) if not hetero else np.inf
            v = vn
            out["steps"][b] = t + 1
            if t + 1 in save:
                out["trajectory"][b, save.index(t + 1)] = v
            if out["energy"] is not None:
                out["energy"][b, t + 1] = energy(o["similarity"], X, v, o["beta"])
            if o["tol"] > 0 and delta < o["tol"]:
                break
        for i, st in enumerate(save):  # a query that stopped early repeats its final state
            if st > out["steps"][b]:
                out["trajectory"][b, i] = v
        out["output"][b] = v
    return out


def close(got, ref, rtol=1e-5, what="", atol=0.0):
    """|got - ref| <= rtol * (|ref| + max|ref|) + atol: relative 1e-5 to each
    value and to the array's scale (so that values near 0 are not held to a
    tolerance below float32 round-off); atol (a scalar or an array) adds the
    scale of the terms a value is computed from."""
    got = np.asarray(got, np.float64)
    ref = np.asarray(ref, np.float64)
    check(got.shape == ref.shape, f"{what}: shape {got.shape} != reference {ref.shape}")
    check(np.all(np.isfinite(got)), f"{what}: non-finite values {got}")
    scale = np.max(np.abs(ref)) if ref.size else 0.0
    err = np.abs(got - ref)
    lim = rtol * (np.abs(ref) + scale) + atol + 1e-30
    if np.any(err > lim):
        i = np.unravel_index(np.argmax(err / lim), err.shape)
        raise TestFailure(f"{what}: differs from the reference beyond rtol {rtol}: at {tuple(map(int, i))} "
                          f"got {got[i]!r}, reference {ref[i]!r} (|diff| {err[i]:.3g}, limit {lim[i]:.3g})")


def main_wrapper(fn):
    """Runs fn(); prints PASS/FAIL and exits 0/1."""
    try:
        fn()
    except TestFailure as e:
        print(f"FAIL: {e}", file=sys.stderr)
        sys.exit(1)
    print("PASS")
    sys.exit(0)
