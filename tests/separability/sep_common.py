"""Shared helpers of the `uhn separability` tests (spec §12, §14).

- `reference` is an independent numpy implementation of spec §12 in float64,
  written from the spec, not from the C code;
- `make_codes` builds codes with a known structure: queries are noisy copies of
  their memories (self >> cross), plus exact copies, scaled and negated copies,
  a duplicated memory (a tie: that query is not top-1), a zero query and a zero
  memory (cosines 0);
- `ambiguous` finds the values that lie within round-off of a bin edge (or of
  their query's self value), where the program may legitimately differ from the
  reference; the data are built so that there are none.

The Runner of tests/cli/uhn_cli.py launches the program.
"""
import os
import sys

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "cli"))
from uhn_cli import Runner, TestFailure, check, common_args, main_wrapper, program_stderr_lines  # noqa: E402,F401

EDGE_TOL = 1e-9   # a value this close to a bin edge may go either way (float64 round-off ~1e-15)
SCALAR_RTOL = 1e-6  # scalars against the reference (the program is float64: ~1e-12 in practice)
SCALARS = ("self_mean", "self_std", "cross_mean", "cross_std", "dprime", "overlap", "top1")


def cosines(Q, M):
    """The B x N cosine matrix in float64, 0 where a norm is 0, clamped to [-1, 1]."""
    Q = np.asarray(Q, np.float64)
    M = np.asarray(M, np.float64)
    qn = np.sqrt(np.sum(Q * Q, axis=1))
    mn = np.sqrt(np.sum(M * M, axis=1))
    den = np.outer(qn, mn)
    C = np.zeros((Q.shape[0], M.shape[0]))
    ok = den > 0
    C[ok] = (Q @ M.T)[ok] / den[ok]
    return np.clip(C, -1.0, 1.0)


def bin_of(c, bins):
    return np.clip(np.floor((c + 1.0) * (0.5 * bins)).astype(np.int64), 0, bins - 1)


def reference(Q, M, bins, ties=()):
    """Spec §12 statistics. `ties` lists queries whose self value equals a cross
    value exactly in exact arithmetic (a duplicated memory): not top-1."""
    B, N = Q.shape[0], M.shape[0]
    C = cosines(Q, M)
    self_v = C[np.arange(B), np.arange(B)]
    mask = np.ones((B, N), bool)
    mask[np.arange(B), np.arange(B)] = False
    cross = C[mask]
    sh = np.bincount(bin_of(self_v, bins), minlength=bins).astype(np.int64)
    ch = np.bincount(bin_of(cross, bins), minlength=bins).astype(np.int64)
    maxc = np.where(mask, C, -np.inf).max(axis=1)
    top = self_v > maxc
    for i in ties:
        top[i] = False
    r = {
        "self_hist": sh, "cross_hist": ch,
        "bin_edges": -1.0 + 2.0 * np.arange(bins + 1) / bins,
        "self_mean": self_v.mean(), "self_std": self_v.std(),
        "cross_mean": cross.mean(), "cross_std": cross.std(),
        "overlap": np.minimum(sh / B, ch / (B * N - B)).sum(),
        "top1": top.mean(),
    }
    r["dprime"] = (r["self_mean"] - r["cross_mean"]) / np.sqrt((r["self_std"] ** 2 + r["cross_std"] ** 2) / 2)
    return r


def ambiguous(Q, M, bins, ties=()):
    """Count of values within EDGE_TOL of an interior bin edge (exact zeros of a
    zero row excluded: both sides compute 0 exactly), plus queries whose self and
    largest cross value are within EDGE_TOL without being a known tie."""
    B = Q.shape[0]
    C = cosines(Q, M)
    zero = np.outer(np.sum(np.abs(Q), axis=1) == 0, np.ones(M.shape[0], bool)) | \
        np.outer(np.ones(B, bool), np.sum(np.abs(M), axis=1) == 0)
    t = (C + 1.0) * (0.5 * bins)
    near = (np.abs(t - np.round(t)) * (2.0 / bins) < EDGE_TOL) & (np.round(t) > 0) & (np.round(t) < bins)
    n = int(np.sum(near & ~zero))
    mask = np.ones_like(C, bool)
    mask[np.arange(B), np.arange(B)] = False
    maxc = np.where(mask, C, -np.inf).max(axis=1)
    close = np.abs(C[np.arange(B), np.arange(B)] - maxc) < EDGE_TOL
    close[list(ties)] = False
    return n + int(np.sum(close))


def make_codes(B, N, D, seed):
    """(Q float32 [B][D], M float32 [N][D], ties). Needs B >= 8, N >= B + 2."""
    rng = np.random.default_rng(seed)
    M = (rng.normal(size=(N, D)) + 0.3).astype(np.float32)
    Q = (M[:B] + 0.6 * rng.normal(size=(B, D))).astype(np.float32)
    Q[0] = M[0]                  # exact copy: self = 1 (last bin)
    Q[1] = 0.0                   # zero query: all its cosines are 0
    Q[2] = 3.0 * M[2]            # scaled copy: self = 1
    Q[3] = -M[3]                 # negated copy: self = -1 (first bin)
    M[5] = 0.0                   # zero memory: self of query 5 and all cross to 5 are 0
    Q[6] = rng.normal(size=D).astype(np.float32)  # unrelated query
    M[N - 1] = M[7]              # a duplicate of memory 7: query 7 ties, not top-1
    return Q, M, (1, 5, 7)


def write(path, **datasets):
    with h5py.File(path, "a") as f:
        for name, data in datasets.items():
            if name in f:
                del f[name]
            f.create_dataset(name, data=data)
    return path


def read_result(path):
    with h5py.File(path, "r") as f:
        out = {k: f[k][()] for k in ("self_hist", "cross_hist", "bin_edges") + SCALARS}
        out["attrs"] = dict(f.attrs)
        out["meta"] = {k: dict(f[k].attrs) for k in f if isinstance(f[k], h5py.Dataset)}
    return out


def separability_ok(runner, ranks, argv, cwd=None):
    rc, out, err = runner.run(ranks, ["separability"] + [str(a) for a in argv], cwd=cwd)
    check(rc == 0, f"uhn separability failed (exit {rc}) at {ranks} ranks: {' '.join(map(str, argv))}\n"
                   f"stdout:\n{out}\nstderr:\n{err}")
    extra = program_stderr_lines(err)
    check(not extra, f"uhn separability wrote to stderr on success at {ranks} ranks:\n{err}")
    return out, err


def compare(got, ref, where, rtol=SCALAR_RTOL):
    """Histograms and top1 exactly, the other scalars to rtol (absolute for
    values near 0: a mean of cosines may be ~0)."""
    for k in ("self_hist", "cross_hist"):
        check(got[k].dtype == np.int64, f"{where} {k} is {got[k].dtype}, expected int64")
        check(np.array_equal(got[k], ref[k]),
              f"{where} {k} differs at bins {np.nonzero(got[k] != ref[k])[0][:10]}: "
              f"got {got[k][got[k] != ref[k]][:10]}, expected {ref[k][got[k] != ref[k]][:10]}")
    check(np.array_equal(got["bin_edges"], ref["bin_edges"]), f"{where} bin_edges differ")
    check(got["top1"] == ref["top1"], f"{where} top1 {got['top1']!r}, expected {ref['top1']!r}")
    for k in SCALARS:
        g, r = float(got[k]), float(ref[k])
        ok = (np.isnan(g) and np.isnan(r)) or g == r or abs(g - r) <= rtol * max(abs(r), 1e-3)
        check(ok, f"{where} {k} = {g!r}, expected {r!r} (rtol {rtol})")
