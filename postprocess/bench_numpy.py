#!/usr/bin/python3
"""The numpy baseline of `uhn bench`: what a user would otherwise write.

Runs the same cases as `uhn bench` on a bank of N rows of K uniform [0, 1]
float32 keys, in plain numpy as a notebook would:

  1. one query iterated T steps:  z = softmax(beta * M @ v) @ M
  2. B queries, one step, for dot, euclidean (one SGEMM for the scores, the
     norms added) and manhattan (np.abs(M - q).sum(1) by row chunks: numpy has
     no fused L1 distance; run on --manhattan-batch queries, the rate is per
     query so it compares),

and prints the same metrics: best and median seconds, effective GB/s (N*K*4
bytes per step) or GFLOP/s (4*N*B*K flops for dot and euclidean) or Gelem/s
(N*B*K distance elements for manhattan), and the percentage of a machine
limit. The limits are `uhn bench`'s own, read from its --csv file with
--limits (so both tools are measured against the same figures; the L1 element
rate only there); without it the script measures numpy's own: the SGEMM rate
of the score product and the bandwidth of M.sum() (single-threaded, so a low
bound). postprocess/bench_peers.py puts these beside uhn, torch and FAISS on
real images in one table.

The data are numpy's random numbers, not uhn's Philox stream: timing does not
depend on the values, and beta = 1/K keeps the softmax away from saturation in
both.

usage: bench_numpy.py [--limits uhn.csv] [--n 60000] [--k 784] [--batch 1000]
                      [--steps 20] [--repeat 3] [--manhattan-batch 100]
(N, K, B and T default to those of the --limits file.)
"""

import argparse
import csv
import ctypes
import os
import platform
import socket
import statistics
import sys
import time

import numpy as np


def blas_info():
    """The BLAS library numpy loaded (from this process's memory map), with
    OpenBLAS's own configuration string when it is OpenBLAS."""
    libs = []
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.split()[-1]
                if "blas" in os.path.basename(path) and path not in libs:
                    libs.append(path)
    except OSError:
        pass
    for path in libs:
        try:
            lib = ctypes.CDLL(path)
            lib.openblas_get_config.restype = ctypes.c_char_p
            lib.openblas_get_corename.restype = ctypes.c_char_p
            return "%s; core %s; %d thread(s) (%s)" % (
                lib.openblas_get_config().decode(),
                lib.openblas_get_corename().decode(),
                lib.openblas_get_num_threads(),
                os.path.realpath(path),
            )
        except (OSError, AttributeError):
            continue
    return ", ".join(os.path.realpath(p) for p in libs) or "unknown"


def cpu_model():
    fields = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                fields.setdefault(key.strip(), value.strip())
    except OSError:
        return "unknown"
    return "%s (family %s, model %s), %d online" % (
        fields.get("model name", "unknown"),
        fields.get("cpu family", "?"),
        fields.get("model", "?"),
        os.cpu_count() or 0,
    )


def print_env(a):
    env = lambda name: os.environ.get(name, "(unset)")  # noqa: E731
    print("numpy baseline (postprocess/bench_numpy.py)")
    print("  date, host           %s, %s" % (time.strftime("%Y-%m-%d %H:%M:%S %Z"), socket.gethostname()))
    print("  cpu                  %s" % cpu_model())
    print("  python, numpy        %s, %s" % (platform.python_version(), np.__version__))
    print("  cpus allowed         %d" % len(os.sched_getaffinity(0)))
    print("  OMP_NUM_THREADS      %s" % env("OMP_NUM_THREADS"))
    print("  OPENBLAS_NUM_THREADS %s" % env("OPENBLAS_NUM_THREADS"))
    print("  OPENBLAS_CORETYPE    %s" % env("OPENBLAS_CORETYPE"))
    print("  blas                 %s" % blas_info())
    print("  problem              N = %d, K = %d, batch = %d, steps = %d, beta = %.6g, "
          "manhattan batch = %d" % (a.n, a.k, a.batch, a.steps, a.beta, a.manhattan_batch))
    print("  timing               1 warm-up + %d timed call(s) per case; best and median\n" % a.repeat)
    sys.stdout.flush()


def timed(fn, repeat):
    fn()  # warm-up: first touch of the temporaries, BLAS thread start
    t = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        t.append(time.perf_counter() - t0)
    return min(t), statistics.median(t)


def softmax_rows(s):
    """Row-wise softmax in place (s is B x N)."""
    s -= s.max(axis=1, keepdims=True)
    np.exp(s, out=s)
    s /= s.sum(axis=1, keepdims=True)
    return s


def iterate(M, q, beta, steps):
    v = q
    for _ in range(steps):
        h = beta * (M @ v)
        h -= h.max()
        w = np.exp(h)
        w /= w.sum()
        v = w @ M
    return v


def batch_dot(M, Q, beta):
    return softmax_rows(beta * (Q @ M.T)) @ M


def batch_euclidean(M, Q, beta, m2):
    s = Q @ M.T  # -||x - q||^2 = 2 x.q - ||x||^2 - ||q||^2
    s *= 2.0
    s -= m2[None, :]
    s -= (Q * Q).sum(axis=1)[:, None]
    s *= beta
    return softmax_rows(s) @ M


def batch_manhattan(M, Q, beta, chunk=1024):
    B, N = Q.shape[0], M.shape[0]
    s = np.empty((B, N), dtype=np.float32)
    buf = np.empty((chunk, M.shape[1]), dtype=np.float32)
    for b in range(B):
        for r in range(0, N, chunk):
            t = buf[: min(chunk, N - r)]
            np.subtract(M[r : r + chunk], Q[b], out=t)
            np.abs(t, out=t)
            s[b, r : r + chunk] = -t.sum(axis=1)
    s *= beta
    return softmax_rows(s) @ M


def read_limits(path):
    """Read bandwidth (GB/s), SGEMM rate (GFLOP/s), L1 element rate (Gelem/s,
    None from an older uhn) and the problem (N, K, B, T) from a `uhn bench
    --csv` file."""
    bw = gf = l1 = None
    size = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            if row["case"] == "read_bandwidth":
                bw = float(row["rate_best"])
                size.update(n=int(row["N"]), k=int(row["K"]))
            elif row["case"] == "sgemm":
                gf = float(row["rate_best"])
                size.update(batch=int(row["B"]))
            elif row["case"] == "l1_rate":
                l1 = float(row["rate_best"])
            elif row["case"].startswith("iterate"):
                size.update(steps=int(row["T"]))
    if bw is None or gf is None:
        sys.exit("bench_numpy.py: %s has no read_bandwidth and sgemm rows" % path)
    return bw, gf, "uhn bench (%s)" % path, size, l1


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    # N, K, B and T default to the problem of --limits, else to uhn bench's defaults.
    p.add_argument("--n", type=int)
    p.add_argument("--k", type=int)
    p.add_argument("--batch", type=int)
    p.add_argument("--manhattan-batch", type=int, default=100)
    p.add_argument("--steps", type=int)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--beta", type=float, default=None)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--limits", help="CSV file written by `uhn bench --csv`")
    a = p.parse_args()
    limits = read_limits(a.limits) if a.limits else None
    size = dict(n=60000, k=784, batch=1000, steps=20)
    size.update(limits[3] if limits else {})
    for key, value in size.items():
        if getattr(a, key) is None:
            setattr(a, key, value)
    if min(a.n, a.k, a.batch, a.manhattan_batch, a.steps, a.repeat) < 1:
        p.error("sizes, steps and repeat must be positive")
    if a.beta is None:
        a.beta = 1.0 / a.k
    print_env(a)

    N, K, B = a.n, a.k, a.batch
    rng = np.random.default_rng(a.seed)
    M = rng.random((N, K), dtype=np.float32)
    src = ((np.arange(B) + 0.5) * N / B).astype(np.int64)
    Q = M[src] + rng.uniform(-0.05, 0.05, (B, K)).astype(np.float32)
    m2 = (M * M).sum(axis=1)
    beta = np.float32(a.beta)

    # Machine limits as numpy sees them.
    gf_np = 2.0 * N * B * K / timed(lambda: Q @ M.T, a.repeat)[0] / 1e9
    bw_np = N * K * 4 / timed(lambda: M.sum(), max(a.repeat, 5))[0] / 1e9
    print("numpy's own limits: M.sum() %.1f GB/s (one thread), Q @ M.T %.1f GFLOP/s" % (bw_np, gf_np))
    l1 = None
    if limits:
        bw, gf, origin, _, l1 = limits
    else:
        bw, gf, origin = bw_np, gf_np, "numpy's own"
    print("limits used for %%: read bandwidth %.1f GB/s, SGEMM %.1f GFLOP/s, from %s\n" % (bw, gf, origin))

    rows = []
    q1 = Q[:1][0].copy()
    t = timed(lambda: iterate(M, q1, beta, a.steps), a.repeat)
    rows.append(("iterate dot, 1 query", 1, a.steps, t, N * K * 4.0 * a.steps, "GB/s", bw, 70))
    t = timed(lambda: batch_dot(M, Q, beta), a.repeat)
    rows.append(("batch dot", B, 1, t, 4.0 * N * B * K, "GFLOP/s", gf, 60))
    t = timed(lambda: batch_euclidean(M, Q, beta, m2), a.repeat)
    rows.append(("batch euclidean", B, 1, t, 4.0 * N * B * K, "GFLOP/s", gf, 60))
    Bm = min(a.manhattan_batch, B)
    t = timed(lambda: batch_manhattan(M, Q[:Bm], beta), a.repeat)
    rows.append(("batch manhattan", Bm, 1, t, 1.0 * N * Bm * K, "Gelem/s", l1, 0))

    print("%-26s %5s %3s %10s %10s %10s %9s %9s %-7s %7s %6s" % (
        "case", "B", "T", "best[s]", "median[s]", "step[ms]", "rate", "rate med", "unit", "%limit", "target"))
    for name, b, steps, (best, med), work, unit, limit, target in rows:
        share = "%6.1f%%" % (100.0 * work / best / 1e9 / limit) if limit else "%7s" % "-"
        print("%-26s %5d %3d %10.5f %10.5f %10.3f %9.1f %9.1f %-7s %s %6s" % (
            name, b, steps, best, med, 1e3 * best / steps, work / best / 1e9, work / med / 1e9,
            unit, share, "%d%%" % target if target else "-"))
    print("\nrates counted as in `uhn bench`: N*K*4 bytes per step (numpy reads M twice per step: "
          "M @ v and w @ M);\n4*N*B*K flops for dot/euclidean; N*B*K distance elements for "
          "manhattan, % of uhn bench's L1 element rate.")


if __name__ == "__main__":
    main()
