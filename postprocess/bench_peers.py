#!/usr/bin/python3
"""uhn beside numpy, PyTorch and FAISS on the workloads of a real recall, in one run.

Builds its inputs from the Fashion-MNIST training images (or a synthetic
uniform bank with --synthetic K) in a scratch directory, then times, in the
same run and on the same data:

  W1  dot, softmax, beta 1, B queries, one step (the `uhn recall` default, which
      also reports the energy)          peers: numpy, torch (CPU)
  W2  squared L2 (euclidean), softmax   peers: numpy, torch
  W3  manhattan (L1), --l1-batch queries
                                        peers: FAISS IndexFlat METRIC_L1 top-1
                                        search, torch.cdist(p=1) + softmax
  W4  one query, --steps iterated steps (time per step)   peers: numpy, torch
      and W4-later: the same per step after the first (uhn's `step1` timer:
      the first step's one-time work, a pooled copy of the bank and its
      fresh pages, left out; the peers have none: their W4 times)
  KL and Jensen-Shannon, --kl-batch queries (uhn only: the JS / KL ratio)
  W1 and W2 with --no-energy, when `uhn recall --help` lists that option

uhn runs at every --configs RANKSxTHREADS (default 2x1,1x2: the two ways to
fill this 2-core node); the first is the one the peers are compared with and
the others appear as rows of their own (their 'vs uhn' is the ratio between
configurations). Queries are training images with the bottom half of the
pixels set to 0, as a user completing images would write them.

Machine limits, measured in the same run, before and after the workloads:
`uhn bench --limits-only` at every configuration (read bandwidth of a bank of
the same N x K, SGEMM of the W1 shapes, the L1 element rate of a
register-resident |x - q| loop) and numpy's float32 Q @ M.T of the W1 shapes;
the limit used for a share is the best figure of any of them (the machine's,
not one configuration's or one moment's).

Timing. uhn: each run is a whole `mpirun ... uhn recall --verbose` process;
its time is the engine's own phase timers, compute + reduce (mean over ranks:
every rank ends the recall in the same reduction), so process start, MPI
start-up and HDF5 reading and writing are excluded. One process per repeat,
best of --repeat; the first call's warm-up (OpenBLAS thread start, first touch
of the work buffers) stays in, as a user sees it. Peers: the compute alone,
data already in memory, one warm-up call then best of --repeat.

Everything printed is also written to --csv and --json. It is a measurement:
the exit status says whether it ran, never whether uhn was faster.

usage: bench_peers.py --uhn build/uhn [--n 60000] [--batch 1000] [--repeat 3]
                      [--configs 2x1,1x2] [--csv F] [--json F] ...
"""

import argparse
import csv
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_IMAGES = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"
# G elements/s, issue 9's figure for this 2-core Zen 5: 2 cores x 2 FP-add pipes x 16 lanes
# x 3.5 GHz / 2 FP adds per element (subtract, accumulate).
NOMINAL_L1 = 112.0


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--uhn", required=True, help="the uhn program")
    p.add_argument("--mpirun", default=os.environ.get("UHN_LAUNCHER", "mpirun"))
    p.add_argument("--mpirun-flags", default=None,
                   help="extra launcher flags, one string (default: UHN_LAUNCHER_FLAGS, and "
                        "--oversubscribe for Open MPI)")
    p.add_argument("--bind", choices=("auto", "none"), default="auto",
                   help="auto: one rank unbound, several ranks each bound to its cores "
                        "(as jobscripts/bench.sh); none: no binding")
    p.add_argument("--configs", default="2x1,1x2",
                   help="uhn RANKSxTHREADS list; the first is compared with the peers")
    p.add_argument("--cores", type=int, default=os.cpu_count() or 1,
                   help="threads of the Python peers (default: all CPUs)")
    p.add_argument("--images", default=DEFAULT_IMAGES, help="IDX (.gz) training images")
    p.add_argument("--synthetic", type=int, metavar="K",
                   help="a uniform [0,1] bank of key length K instead of the images")
    p.add_argument("--n", type=int, default=60000, help="memories: the first N images")
    p.add_argument("--batch", type=int, default=1000, help="queries of W1 and W2")
    p.add_argument("--l1-batch", type=int, default=1000, help="queries of W3")
    p.add_argument("--kl-batch", type=int, default=100, help="queries of KL and JS")
    p.add_argument("--steps", type=int, default=20, help="steps of W4")
    p.add_argument("--repeat", type=int, default=3, help="timed runs per case (best taken)")
    p.add_argument("--peers", default="numpy,torch,faiss")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--workdir", help="scratch directory (default: a temporary one, removed)")
    p.add_argument("--csv", help="write the rows as CSV")
    p.add_argument("--json", help="write environment, limits and rows as JSON")
    p.add_argument("--timeout", type=float, default=1800, help="seconds per uhn process")
    a = p.parse_args(argv)
    if min(a.n, a.batch, a.l1_batch, a.kl_batch, a.steps, a.repeat, a.cores) < 1:
        p.error("sizes, steps, repeat and cores must be positive")
    if a.synthetic is not None and a.synthetic < 2:
        p.error("--synthetic K needs K >= 2")
    a.configs = [parse_config(p, c) for c in a.configs.split(",") if c]
    if not a.configs:
        p.error("--configs: empty list")
    a.peers = [x for x in a.peers.split(",") if x]
    a.peers_asked = list(a.peers)  # a.peers loses those that cannot be imported
    for x in a.peers:
        if x not in ("numpy", "torch", "faiss"):
            p.error("--peers: unknown peer '%s' (numpy, torch, faiss)" % x)
    return a


def parse_config(p, text):
    m = re.fullmatch(r"(\d+)x(\d+)", text)
    if not m or int(m.group(1)) < 1 or int(m.group(2)) < 1:
        p.error("--configs: '%s' is not RANKSxTHREADS" % text)
    return int(m.group(1)), int(m.group(2))


# Peers' thread counts are fixed before numpy (OpenBLAS) is first imported.
def set_peer_threads(cores):
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = str(cores)


# ------------------------------------------------------------------ data

def load_images(path, n):
    """The first n images of an IDX file as float32 [n][rows*cols] in [0, 1]
    (uhnpy.idx: the one IDX reader)."""
    import numpy as np
    sys.path.insert(0, HERE)
    from uhnpy import idx
    try:
        data = idx.read_idx(path, idx.IMAGES, count=n)
    except idx.IdxError as e:
        if e.kind == "count":
            sys.exit("bench_peers.py: --n %d but %s holds %d images" % (n, path, e.held))
        sys.exit("bench_peers.py: %s is not an IDX image file" % path)
    return data.reshape(n, -1).astype(np.float32) / 255.0


def make_data(a):
    """Memories M [N][K] and the queries of every workload: stored rows, drawn
    without replacement, with the second half of their coordinates (the bottom
    half of an image) set to 0."""
    import numpy as np
    rng = np.random.default_rng(a.seed)
    if a.synthetic:
        M = rng.random((a.n, a.synthetic), dtype=np.float32)
        origin = "synthetic uniform [0,1], seed %d" % a.seed
    else:
        if not os.path.exists(a.images):
            sys.exit("bench_peers.py: no images at %s (give --images or --synthetic K)" % a.images)
        M = load_images(a.images, a.n)
        origin = "%s, first %d images, pixels / 255" % (a.images, a.n)
    N, K = M.shape
    bmax = max(a.batch, a.l1_batch, a.kl_batch)
    src = rng.choice(N, bmax, replace=N < bmax)
    Q = M[src].copy()
    Q[:, K // 2:] = 0.0
    return M, Q, origin


def write_inputs(path, M, Q, a):
    import h5py
    with h5py.File(path, "w") as f:
        f["memories"] = M
        f["queries"] = Q[:a.batch]
        f["q_l1"] = Q[:a.l1_batch]
        f["q_kl"] = Q[:a.kl_batch]
        f["q1"] = Q[:1]


# ------------------------------------------------------------ uhn runs

def launcher(a, ranks, threads):
    """The launch of `ranks` ranks of `threads` threads: Slurm's srun (inside an
    allocation), or Open MPI's mpirun/mpiexec, as jobscripts/mpi_env.sh does."""
    flags = a.mpirun_flags
    if flags is None:
        flags = os.environ.get("UHN_LAUNCHER_FLAGS", "")
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads))
    if os.path.basename(a.mpirun) == "srun":
        return [a.mpirun, "--ntasks=%d" % ranks, "--cpus-per-task=%d" % threads] + \
            flags.split(), env
    if a.mpirun_flags is None:
        flags = "--oversubscribe " + flags
    cmd = [a.mpirun] + flags.split()
    if a.bind == "auto":
        cmd += ["--bind-to", "none"] if ranks == 1 else \
            ["--map-by", "slot:PE=%d" % threads, "--bind-to", "core"]
    cmd += ["-n", str(ranks), "-x", "OMP_NUM_THREADS", "-x", "OPENBLAS_NUM_THREADS"]
    if os.environ.get("OPENBLAS_CORETYPE"):
        cmd += ["-x", "OPENBLAS_CORETYPE"]
    if os.geteuid() == 0:
        env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    return cmd, env


def run(cmd, env, timeout):
    t0 = time.perf_counter()
    try:
        r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        sys.exit("bench_peers.py: timed out after %.0f s: %s" % (timeout, " ".join(cmd)))
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        sys.exit("bench_peers.py: failed (exit %d): %s\n%s%s" % (
            r.returncode, " ".join(cmd), r.stdout[-2000:], r.stderr[-2000:]))
    return r, wall


# The table's workloads, in its order (those uhn ran).
WORKLOADS = ("W1", "W1-noE", "W2", "W2-noE", "W3", "W4", "W4-later", "KL", "JS")

TIMER = re.compile(r"^\s*(compute|reduce|io|step1)\s+(\S+)\s+(\S+)\s+(\S+)\s*$")


def uhn_recall_once(a, ranks, threads, args):
    """One whole process; its compute + reduce (means over ranks) from
    --verbose. Returns (seconds, wall seconds, seconds less the first step's
    (the step1 timer), or None without it)."""
    cmd, env = launcher(a, ranks, threads)
    cmd += [a.uhn, "recall", "--quiet", "--verbose"] + args
    r, wall = run(cmd, env, a.timeout)
    phase = {}
    for line in r.stderr.splitlines():
        m = TIMER.match(line)
        if m:
            phase[m.group(1)] = float(m.group(3))
    if "compute" not in phase or "reduce" not in phase:
        sys.exit("bench_peers.py: no phase timers from: %s\n%s" % (" ".join(cmd), r.stderr))
    t = phase["compute"] + phase["reduce"]
    return t, wall, t - phase["step1"] if "step1" in phase else None


def uhn_recall_times(a, args):
    """Best of --repeat processes at each configuration, the configurations
    taken in turn within each repeat (on a node whose speed drifts, a
    configuration run as one block after the other would carry the drift into
    their ratio). Returns {config: (best seconds, wall seconds of that
    process, best seconds less the first step's or None)}."""
    best = {}
    for _ in range(a.repeat):
        for cfg in a.configs:
            t, wall, later = uhn_recall_once(a, cfg[0], cfg[1], args)
            bt, bw, bl = best.get(cfg, (t, wall, later))
            if t < bt:
                bt, bw = t, wall
            if later is not None and (bl is None or later < bl):
                bl = later
            best[cfg] = (bt, bw, bl)
    return best


def uhn_limits(a, ranks, threads, N, K, workdir):
    """The limits `uhn bench --limits-only` measures at one configuration."""
    cmd, env = launcher(a, ranks, threads)
    path = os.path.join(workdir, "limits_%dx%d.csv" % (ranks, threads))
    cmd += [a.uhn, "bench", "--limits-only", "--quiet", "--n", str(N), "--k", str(K),
            "--batch", str(a.batch), "--repeat", str(a.repeat), "--csv", path]
    r, _ = run(cmd, env, a.timeout)
    out = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            out[row["case"]] = float(row["rate_best"])
    m = re.search(r"openblas\s+(.*)", r.stdout)
    out["openblas"] = m.group(1).strip() if m else "unknown"
    for key in ("read_bandwidth", "sgemm", "l1_rate"):
        if key not in out:
            sys.exit("bench_peers.py: %s has no %s row (an older uhn without "
                     "--limits-only L1 rate?)" % (path, key))
    return out


def uhn_has_no_energy(a):
    r = subprocess.run([a.uhn, "recall", "--help"], capture_output=True, text=True)
    return "--no-energy" in r.stdout


# ---------------------------------------------------------------- peers

def timed(fn, repeat, warm=None):
    """Best seconds of `repeat` calls of fn after one warm-up call (of warm,
    when the full call is too slow to repeat needlessly)."""
    (warm or fn)()
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def numpy_peers(M, Q, a):
    import numpy as np
    sys.path.insert(0, HERE)
    from bench_numpy import batch_dot, batch_euclidean, iterate
    beta = np.float32(1.0)
    Qb, q1 = Q[:a.batch], Q[0].copy()
    m2 = (M * M).sum(axis=1)
    return {
        "W1": timed(lambda: batch_dot(M, Qb, beta), a.repeat),
        "W2": timed(lambda: batch_euclidean(M, Qb, beta, m2), a.repeat),
        "W4": timed(lambda: iterate(M, q1, beta, a.steps), a.repeat) / a.steps,
    }


def torch_peers(M, Q, a):
    import torch
    torch.set_num_threads(a.cores)
    Mt, Qt = torch.from_numpy(M), torch.from_numpy(Q)
    Qb, Ql1, q1 = Qt[:a.batch], Qt[:a.l1_batch], Qt[0].clone()
    m2 = (Mt * Mt).sum(1)
    beta = 1.0

    def dot():
        return torch.softmax(beta * (Qb @ Mt.T), dim=1) @ Mt

    def euclid():
        s = 2.0 * (Qb @ Mt.T) - m2[None, :] - (Qb * Qb).sum(1)[:, None]
        return torch.softmax(beta * s, dim=1) @ Mt

    def l1(q):
        return torch.softmax(-beta * torch.cdist(q, Mt, p=1), dim=1) @ Mt

    def iterate():
        v = q1
        for _ in range(a.steps):
            v = torch.softmax(beta * (Mt @ v), dim=0) @ Mt
        return v

    with torch.no_grad():
        return {
            "W1": timed(dot, a.repeat),
            "W2": timed(euclid, a.repeat),
            "W3": timed(lambda: l1(Ql1), a.repeat, warm=lambda: l1(Ql1[:2])),
            "W4": timed(iterate, a.repeat) / a.steps,
        }


def faiss_peers(M, Q, a):
    import faiss
    import numpy as np
    faiss.omp_set_num_threads(a.cores)
    index = faiss.IndexFlat(M.shape[1], faiss.METRIC_L1)
    index.add(M)  # a copy of M: part of loading, not timed
    Ql1 = np.ascontiguousarray(Q[:a.l1_batch])
    return {"W3": timed(lambda: index.search(Ql1, 1), a.repeat,
                        warm=lambda: index.search(Ql1[:2], 1))}


PEERS = {
    "numpy": (numpy_peers, "numpy: Q @ M.T, softmax, @ M (postprocess/bench_numpy.py)"),
    "torch": (torch_peers, "torch (CPU): the same; W3 torch.cdist(p=1), softmax, @ M"),
    "faiss": (faiss_peers, "faiss: IndexFlat(METRIC_L1) top-1 search (no softmax or projection)"),
}


def module_version(name):
    try:
        mod = __import__(name)
    except Exception as e:  # a broken install reads as missing, with its reason
        return None, "%s: %s" % (type(e).__name__, e)
    return mod, getattr(mod, "__version__", "unknown")


# ---------------------------------------------------------- environment

def idle_percent():
    def sample():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:9]]
        return v[3], sum(v)
    i0, t0 = sample()
    time.sleep(1)
    i1, t1 = sample()
    return 100.0 * (i1 - i0) / (t1 - t0) if t1 > t0 else 0.0


def openblas_of_numpy():
    sys.path.insert(0, HERE)
    from bench_numpy import blas_info
    import numpy as np
    (np.ones((2, 2), np.float32) @ np.ones((2, 2), np.float32)).sum()  # loads the BLAS
    return blas_info()


def first_line(cmd):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        return (r.stdout or r.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "unknown"


def environment(a, mods):
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    import numpy as np
    env = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "host": socket.gethostname(),
        "cpu": "%s, %d online" % (cpu, os.cpu_count() or 0),
        "load_average": load,
        "idle_percent_1s": round(idle_percent(), 1),
        "uhn": first_line([a.uhn, "--version"]),
        "mpirun": first_line([a.mpirun, "--version"]),
        "uhn_configs": ", ".join("%d rank(s) x %d thread(s)" % c for c in a.configs),
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE",
                                            "(unset: OpenBLAS detects the CPU)"),
        "peer_threads": a.cores,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numpy_openblas": openblas_of_numpy(),
    }
    for name in ("torch", "faiss"):
        env[name] = mods[name][1] if mods[name][0] else "missing (%s)" % mods[name][1]
    return env


# --------------------------------------------------------------- report

def fmt(x, spec):
    return "-" if x is None else spec % x


def build_rows(a, N, K, uhn_t, peer_t, limits, peer_notes):
    """One row per (workload, implementation). uhn_t[(config, wid)] and
    peer_t[(peer, wid)] are seconds (per step for W4)."""
    B, B1, Bk, primary = a.batch, a.l1_batch, a.kl_batch, a.configs[0]
    work = {  # (description, B, work per timed unit, rate unit, limit key)
        "W1": ("W1 dot softmax B=%d, 1 step, energy (default)" % B, B,
               4.0 * N * B * K / 1e9, "GFLOP/s", "sgemm"),
        "W1-noE": ("W1 dot softmax B=%d, 1 step, no energy" % B, B,
                   4.0 * N * B * K / 1e9, "GFLOP/s", "sgemm"),
        "W2": ("W2 sq. L2 softmax B=%d, 1 step, energy (default)" % B, B,
               4.0 * N * B * K / 1e9, "GFLOP/s", "sgemm"),
        "W2-noE": ("W2 sq. L2 softmax B=%d, 1 step, no energy" % B, B,
                   4.0 * N * B * K / 1e9, "GFLOP/s", "sgemm"),
        "W3": ("W3 manhattan B=%d, 1 step" % B1, B1, 1.0 * N * B1 * K / 1e9, "Gelem/s", "l1_rate"),
        "W4": ("W4 dot, 1 query, per step of %d" % a.steps, 1, 4.0 * N * K / 1e9, "GB/s",
               "read_bandwidth"),
        "W4-later": ("W4 the same, per step after the first", 1, 4.0 * N * K / 1e9, "GB/s",
                     "read_bandwidth"),
        "KL": ("KL B=%d, 1 step" % Bk, Bk, 1.0 * N * Bk * K / 1e9, "Gelem/s", None),
        "JS": ("Jensen-Shannon B=%d, 1 step" % Bk, Bk, 1.0 * N * Bk * K / 1e9, "Gelem/s", None),
    }
    order = [w for w in WORKLOADS if (primary, w) in uhn_t]
    rows = []
    for w in order:
        desc, b, units, unit, lkey = work[w]
        ref = uhn_t[(primary, w)]
        # uhn's timers print 0.1 ms steps: a zero is below their resolution.
        impls = [("uhn %dx%d" % c, uhn_t.get((c, w)) or None,
                  "below the 0.1 ms resolution of uhn's timers") for c in a.configs]
        # the peers compute no energy and pool no copy: W1's times for W1-noE, W4's for W4-later
        base = w.split("-")[0]
        for peer in a.peers_asked:
            if (peer, base) in peer_t:
                impls.append((peer, peer_t[(peer, base)], ""))
            elif peer in peer_notes and base in peer_notes[peer][1]:
                impls.append((peer, None, peer_notes[peer][0]))
        for name, t, note in impls:
            rate = units / t if t else None
            limit = limits[lkey] if lkey else None
            rows.append({
                "workload": w, "description": desc, "impl": name, "N": N, "K": K, "B": b,
                "time_s": t, "per": "step" if w.startswith("W4") else "call",
                "rate": rate, "rate_unit": unit,
                "limit_name": lkey or "", "limit": limit,
                "pct_limit": 100.0 * rate / limit if rate and limit else None,
                "vs_uhn": t / ref if t and ref else None, "note": "" if t else note,
            })
    return rows


def print_report(a, env, origin, N, K, limits, limit_sources, rows, ratios):
    print("bench_peers.py: uhn beside its peers, measured in one run")
    for key, value in env.items():
        print("  %-18s %s" % (key, value))
    print("  %-18s %s [%d][%d]; queries: stored rows, second half of the pixels set to 0"
          % ("data", origin, N, K))
    print("  %-18s uhn: best of %d whole `mpirun ... uhn recall --verbose` processes, compute +"
          " reduce timers\n  %-18s (mean over ranks; process start and HDF5 I/O excluded;"
          " the configurations in turn);"
          " peers: compute only, data\n  %-18s in memory, 1 warm-up + best of %d"
          % ("timing", a.repeat, "", "", a.repeat))
    print("\nmachine limits (measured in this run, before and after the workloads; the best"
          " figure is used)")
    for key, unit in (("sgemm", "GFLOP/s"), ("read_bandwidth", "GB/s"), ("l1_rate", "Gelem/s")):
        srcs = ", ".join("%s %.1f" % (s, v) for s, v in limit_sources[key])
        print("  %-15s %8.1f %-8s (%s)" % (key, limits[key], unit, srcs))
    print("  (uhn bench: `uhn bench --limits-only` on a bank of the same N x K at that"
          " configuration)")
    print("  %-15s %8.1f %-8s nominal (2 cores x 2 FP-add pipes x 16 lanes x 3.5 GHz / 2 adds"
          " per element), not measured" % ("l1_nominal", NOMINAL_L1, "Gelem/s"))

    primary = "uhn %dx%d" % a.configs[0]
    print("\n%-50s | %-9s | %11s | %9s %-7s | %8s | %7s" % (
        "workload", "impl", "time [ms]", "rate", "", "% limit", "vs uhn"))
    print("-" * 50 + "-+-" + "-" * 9 + "-+-" + "-" * 11 + "-+-" + "-" * 17 + "-+-" + "-" * 8
          + "-+-" + "-" * 7)
    last = None
    for r in rows:
        desc = r["description"] if r["workload"] != last else ""
        last = r["workload"]
        if r["time_s"] is None:
            print("%-50s | %-9s | %s" % (desc, r["impl"], r["note"]))
            continue
        print("%-50s | %-9s | %11.4g | %9.4g %-7s | %8s | %7s" % (
            desc, r["impl"], 1e3 * r["time_s"], r["rate"], r["rate_unit"],
            fmt(r["pct_limit"], "%.1f%%"), fmt(r["vs_uhn"], "%.3f")))
    print("\ntime: seconds per recall of the whole batch (W4: per step; W4-later: per step after"
          " the first);\nvs uhn = time / time of %s (> 1: uhn is faster; for another uhn row, the"
          " ratio between\nconfigurations); rates: 4*N*B*K flops (W1, W2), N*B*K distance elements"
          " (W3, KL, JS),\nN*K*4 bytes per step (W4)." % primary)
    print("\nuhn ratios (targets of issue 9 in brackets)")
    for name, value, target in ratios:
        print("  %-44s %8.3f   %s" % (name, value, target))
    sys.stdout.flush()


def main(argv=None):
    a = parse_args(argv if argv is not None else sys.argv[1:])
    if not (os.path.isfile(a.uhn) and os.access(a.uhn, os.X_OK)):
        sys.exit("bench_peers.py: --uhn %s is not an executable" % a.uhn)
    if shutil.which(a.mpirun) is None:
        sys.exit("bench_peers.py: no launcher '%s'" % a.mpirun)
    set_peer_threads(a.cores)
    if os.environ.get("OPENBLAS_CORETYPE"):
        print("bench_peers.py: note: OPENBLAS_CORETYPE=%s forces OpenBLAS kernels for uhn and "
              "numpy alike; the SGEMM limit is that core's, not the machine's (jobscripts/bench.sh "
              "unsets it)" % os.environ["OPENBLAS_CORETYPE"], file=sys.stderr)
    mods = {name: module_version(name) for name in ("numpy", "h5py", "torch", "faiss")}
    for need in ("numpy", "h5py"):
        if mods[need][0] is None:
            sys.exit("bench_peers.py: needs %s (%s)" % (need, mods[need][1]))
    peer_notes = {}
    for peer in list(a.peers):
        if mods[peer][0] is None:
            peer_notes[peer] = ("skipped: cannot import %s (%s)" % (peer, mods[peer][1]),
                                ("W1", "W2", "W3", "W4") if peer == "torch" else
                                ("W3",) if peer == "faiss" else ("W1", "W2", "W4"))
            print("bench_peers.py: note: %s" % peer_notes[peer][0], file=sys.stderr)
            a.peers.remove(peer)

    workdir = a.workdir or tempfile.mkdtemp(prefix="bench_peers.")
    os.makedirs(workdir, exist_ok=True)
    try:
        M, Q, origin = make_data(a)
        N, K = M.shape
        data = os.path.join(workdir, "inputs.h5")
        out = os.path.join(workdir, "out.h5")
        write_inputs(data, M, Q, a)
        env = environment(a, mods)
        no_energy = uhn_has_no_energy(a)
        env["uhn --no-energy"] = "yes" if no_energy else "no (W1/W2 energy-off rows left out)"

        # Limits before and after the workloads (on a shared node a limit taken
        # in a busy spell alone would make every share look too good).
        limit_sources = {"sgemm": [], "read_bandwidth": [], "l1_rate": []}

        def measure_limits(when):
            for ranks, threads in a.configs:
                print("bench_peers.py: limits %s, uhn bench %dx%d" % (when, ranks, threads),
                      file=sys.stderr, flush=True)
                lim = uhn_limits(a, ranks, threads, N, K, workdir)
                for key in limit_sources:
                    limit_sources[key].append(
                        ("uhn bench %dx%d %s" % (ranks, threads, when), lim[key]))
                env["uhn openblas %dx%d" % (ranks, threads)] = lim["openblas"]
            Qb = Q[:a.batch]
            gf = 2.0 * N * a.batch * K / timed(lambda: Qb @ M.T, a.repeat) / 1e9
            limit_sources["sgemm"].append(("numpy Q @ M.T %s" % when, gf))

        measure_limits("before")

        sets = [("W1", ["--queries", data + ":queries"]),
                ("W2", ["--queries", data + ":queries", "--similarity", "euclidean"])]
        if no_energy:
            sets[1:1] = [("W1-noE", ["--queries", data + ":queries", "--no-energy"])]
            sets.append(("W2-noE", ["--queries", data + ":queries", "--similarity", "euclidean",
                                    "--no-energy"]))
        sets += [("W3", ["--queries", data + ":q_l1", "--similarity", "manhattan"]),
                 ("W4", ["--queries", data + ":q1", "--steps", str(a.steps), "--tol", "0"]),
                 ("KL", ["--queries", data + ":q_kl", "--similarity", "kl"]),
                 ("JS", ["--queries", data + ":q_kl", "--similarity", "jensen_shannon"])]
        uhn_t, uhn_wall = {}, {}
        for wid, args in sets:
            print("bench_peers.py: uhn %s %s" % (" ".join("%dx%d" % c for c in a.configs), wid),
                  file=sys.stderr, flush=True)
            times = uhn_recall_times(a, ["--memories", data + ":memories", "--output", out] + args)
            for cfg, (t, wall, later) in times.items():
                uhn_t[(cfg, wid)] = t / a.steps if wid == "W4" else t
                uhn_wall[(cfg, wid)] = wall
                if wid == "W4" and later is not None and a.steps > 1:
                    # steps 2 ... T and the final state's energy pass: the
                    # first step's one-time work (the bank's pooled copy,
                    # fresh pages) left out
                    uhn_t[(cfg, "W4-later")] = later / (a.steps - 1)
        peer_t = {}
        for peer in a.peers:
            print("bench_peers.py: %s" % peer, file=sys.stderr, flush=True)
            for wid, t in PEERS[peer][0](M, Q, a).items():
                peer_t[(peer, wid)] = t
        measure_limits("after")
        limits = {key: max(v for _, v in src) for key, src in limit_sources.items()}

        rows = build_rows(a, N, K, uhn_t, peer_t, limits, peer_notes)
        for r in rows:
            cfg = next((c for c in a.configs if r["impl"] == "uhn %dx%d" % c), None)
            r["process_wall_s"] = uhn_wall.get((cfg, r["workload"])) if cfg else None
        def ratio(x, y):
            return x / y if x and y else float("nan")

        ratios = []
        for cfg in a.configs:
            tag = "%dx%d" % cfg
            ratios.append(("JS / KL time, uhn %s" % tag,
                           ratio(uhn_t[(cfg, "JS")], uhn_t[(cfg, "KL")]), "[<= 3]"))
            if no_energy:
                for w in ("W1", "W2"):
                    ratios.append(("%s energy on / off, uhn %s" % (w, tag),
                                   ratio(uhn_t[(cfg, w)], uhn_t[(cfg, w + "-noE")]),
                                   "[well under 2]"))
        # The targets against the peers and the limits, first configuration.
        by = {(r["workload"], r["impl"]): r for r in rows}
        first = "uhn %dx%d" % a.configs[0]
        for wid, peer, target in (("W1", "numpy", "[>= 2]"), ("W1-noE", "numpy", ""),
                                  ("W2", "numpy", "[>= 2]"), ("W2-noE", "numpy", ""),
                                  ("W3", "faiss", "[>= 25]"), ("W4", "numpy", ""),
                                  ("W4-later", "numpy", "")):
            r = by.get((wid, peer))
            if r and r["vs_uhn"]:
                ratios.append(("%s %s / %s time" % (wid, peer, first), r["vs_uhn"], target))
        for wid, target in (("W1", "[score product >= 75 % of SGEMM]"), ("W3", "[>= 60 %]"),
                            ("W4", "[>= 80 %]")):
            r = by.get((wid, first))
            if r and r["pct_limit"]:
                ratios.append(("%s %s %% of %s" % (wid, first, r["limit_name"]), r["pct_limit"],
                               target))
        for cfg in a.configs[1:]:
            for wid in [w for w in WORKLOADS if (cfg, w) in uhn_t and (a.configs[0], w) in uhn_t]:
                ratios.append(("%s uhn %dx%d / %dx%d" % ((wid,) + cfg + a.configs[0]),
                               ratio(uhn_t[(cfg, wid)], uhn_t[(a.configs[0], wid)]), "[<= 1.10]"))
        env["peers"] = "; ".join(PEERS[p][1] for p in a.peers) or "none"
        print_report(a, env, origin, N, K, limits, limit_sources, rows, ratios)

        fields = ["workload", "description", "impl", "N", "K", "B", "time_s", "per", "rate",
                  "rate_unit", "limit_name", "limit", "pct_limit", "vs_uhn", "process_wall_s",
                  "note"]
        if a.csv:
            with open(a.csv, "w", newline="") as f:
                w = csv.DictWriter(f, fieldnames=fields)
                w.writeheader()
                for r in rows:
                    w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in fields})
        if a.json:
            with open(a.json, "w") as f:
                json.dump({"environment": env, "data": origin, "N": N, "K": K,
                           "limits": limits, "limit_sources": limit_sources,
                           "l1_nominal": NOMINAL_L1, "rows": rows,
                           "ratios": [{"name": n, "value": None if v != v else v, "target": t}
                                      for n, v, t in ratios]}, f, indent=1)
    finally:
        if not a.workdir:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
