#!/usr/bin/env python3
"""The scaling benchmark of uhn (issue 9): time per recall step, split into
local compute, reduction and I/O, against the number of memories N and against
the number of ranks, written as one self-describing HDF5 file.

    python3 postprocess/scaling.py run --uhn build/uhn --out scaling.h5 \\
        [--n 1e4,1e5,1e6,1e7] [--n-ranks 2] [--ranks 1,2,4] [--ranks-n 1e6] \\
        [--weak-ranks 1,2,4 --weak-n-per-rank 2.5e5] \\
        [--k 64] [--batch 1,64] [--steps 10] [--repeat 3] [--workdir DIR]

    mpirun -n P python3 postprocess/scaling.py allreduce --bytes 8,384,24576 ...
        (the MPI_Allreduce micro-benchmark; `run` starts it itself)

`run` writes one synthetic bank per N (N x K uniform [0, 1] float32, written
in chunks so that 10^7 x 64 needs no 2.56 GB array in memory) and query files
(B stored rows + uniform noise in [-0.05, 0.05]), then times
`mpirun -n R uhn recall --verbose --no-energy` (softmax, dot, beta = 1/K so
that every row carries weight and the dense path runs) `--repeat` times for
each (N, R, B), keeping the run with the smallest wall time that uhn reported.
Three sweeps: N at fixed ranks (vs_n), ranks at fixed N (strong scaling,
vs_ranks) and, with --weak-ranks, ranks at fixed rows per rank, N = R x
--weak-n-per-rank (weak scaling, group weak).
uhn's phase timers (min / mean / max over ranks) are per recall; per step is
compute / T and reduce / T. I/O (reading the bank shard and the queries,
writing the result) happens once per recall: it is stored per recall and,
amortised, per step (io / T). The reduction timer is the MPI_Allreduce of the
partial records plus the status agreement before it, so it includes the wait
for the slowest rank.

`allreduce` times MPI_Allreduce of MPI_DOUBLE sums directly (Open MPI's
libmpi through ctypes: no mpi4py), for the record sizes of the recall (one
record per query: a 128-byte header and K float32, rounded up to 64 bytes) and
a ladder of sizes for the alpha-beta fit of plot_scaling.py's model. It moves
the same bytes as the recall's reduction but sums doubles where uhn merges
records with a user MPI_Op (a few flops per float: the same order).

Exit status: 0 on success, 2 on bad input (one line on standard error), 1 when
a measurement fails.
"""
import argparse
import ctypes
import ctypes.util
import datetime
import json
import os
import re
import socket
import subprocess
import sys
import time

# The record header of src/core/reduce.h (struct uhn_rec: 9 eight-byte and 4
# four-byte fields, aligned to 64 bytes) and the rounding of uhn_rec_bytes().
REC_HEADER_BYTES = 128
REC_ALIGN = 64
NOISE = 0.05
CHUNK_ROWS = 1 << 20  # rows written per chunk of a synthetic bank (256 MB at K = 64)
PHASES = ("compute", "reduce", "io")
STATS = ("min", "mean", "max")


class InputError(Exception):
    """A bad option or input: reported as one line, exit status 2."""


def record_bytes(k, batch=1):
    """Bytes that one step's MPI_Allreduce moves per rank: batch records of a
    softmax recall with value length k (uhn_rec_bytes of src/core/reduce.c)."""
    if k < 1 or batch < 1:
        raise InputError(f"record_bytes: k and batch must be >= 1 (got k = {k}, batch = {batch})")
    one = REC_HEADER_BYTES + 4 * k
    return batch * ((one + REC_ALIGN - 1) // REC_ALIGN * REC_ALIGN)


def int_list(text, what, minimum=1):
    """'1e4,1e5' -> [10000, 100000]; every entry an integer >= minimum."""
    out = []
    for tok in str(text).replace(" ", ",").split(","):
        if not tok:
            continue
        try:
            v = float(tok)
        except ValueError:
            raise InputError(f"{what}: '{tok}' is not a number") from None
        if v != int(v) or v < minimum:
            raise InputError(f"{what}: '{tok}' is not an integer >= {minimum}")
        out.append(int(v))
    if not out:
        raise InputError(f"{what}: empty list")
    if len(set(out)) != len(out):
        raise InputError(f"{what}: repeated value in '{text}'")
    return out


# --------------------------------------------------------------------------
# Synthetic inputs
# --------------------------------------------------------------------------

def write_bank(path, n, k, seed=1):
    """Writes memories [n][k] float32 uniform in [0, 1] in chunks of CHUNK_ROWS."""
    import h5py
    import numpy as np
    rng = np.random.default_rng(seed)
    tmp = path + ".part"
    with h5py.File(tmp, "w") as f:
        d = f.create_dataset("memories", (n, k), dtype="f4")
        d.attrs["description"] = "synthetic memory keys, uniform in [0, 1]"
        d.attrs["units"] = "1"
        for r0 in range(0, n, CHUNK_ROWS):
            r1 = min(n, r0 + CHUNK_ROWS)
            d[r0:r1] = rng.random((r1 - r0, k), dtype=np.float32)
    os.replace(tmp, path)


def write_queries(bank, path, batch, seed=2):
    """Queries = the first `batch` stored rows (cycled) + uniform noise."""
    import h5py
    import numpy as np
    with h5py.File(bank, "r") as f:
        m = f["memories"]
        rows = m[: min(batch, m.shape[0])]
    rows = np.resize(rows, (batch, rows.shape[1]))
    q = rows + np.random.default_rng(seed).uniform(-NOISE, NOISE, rows.shape).astype(np.float32)
    with h5py.File(path, "w") as f:
        f["queries"] = q.astype(np.float32)


# --------------------------------------------------------------------------
# One recall
# --------------------------------------------------------------------------

TIMER_RE = re.compile(r"^\s*(compute|reduce|io)\s+(\S+)\s+(\S+)\s+(\S+)\s*$", re.M)
WALL_RE = re.compile(r" in ([0-9.eE+-]+) s ->")


def parse_recall(text):
    """{'compute': (min, mean, max), ..., 'wall': s} from `uhn recall --verbose` output."""
    out = {}
    for name, a, b, c in TIMER_RE.findall(text):
        out[name] = tuple(float(x) for x in (a, b, c))
    m = WALL_RE.search(text)
    missing = [p for p in PHASES if p not in out] + ([] if m else ["wall time"])
    if missing:
        raise RuntimeError("uhn recall printed no " + ", ".join(missing) + ":\n" + text[-2000:])
    out["wall"] = float(m.group(1))
    return out


def mpi_cmd(args, ranks):
    """The launch of `ranks` ranks: Open MPI's mpirun (or mpiexec) oversubscribed
    when the ranks exceed the cores, or Slurm's srun inside an allocation."""
    if os.path.basename(args.mpirun) == "srun":
        return [args.mpirun, f"--ntasks={ranks}", *args.mpirun_args.split()]
    return [args.mpirun, "--oversubscribe", "-n", str(ranks), *args.mpirun_args.split()]


def run_recall(args, ranks, bank, queries, output):
    cmd = mpi_cmd(args, ranks) + [
        args.uhn, "recall", "--memories", bank, "--queries", queries, "--output", output,
        "--similarity", "dot", "--separation", "softmax", "--beta", repr(1.0 / args.k),
        "--steps", str(args.steps), "--no-energy", "--verbose"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stderr[-2000:]}")
    return parse_recall(p.stdout + "\n" + p.stderr)


def best_recall(args, ranks, bank, queries, output):
    """The repeat with the smallest wall time that uhn reported."""
    load = float(loadavg().split()[0])
    runs = [run_recall(args, ranks, bank, queries, output) for _ in range(args.repeat)]
    best = min(runs, key=lambda r: r["wall"])
    best["load"] = max(load, float(loadavg().split()[0]))
    return best


# --------------------------------------------------------------------------
# MPI_Allreduce through ctypes (Open MPI)
# --------------------------------------------------------------------------

def open_mpi():
    """libmpi and the handles of Open MPI (a handle is the address of a global)."""
    name = ctypes.util.find_library("mpi") or "libmpi.so.40"
    try:
        lib = ctypes.CDLL(name, mode=ctypes.RTLD_GLOBAL)
        h = {s: ctypes.c_void_p(ctypes.addressof(ctypes.c_char.in_dll(lib, "ompi_mpi_" + s)))
             for s in ("comm_world", "double", "op_sum", "op_max")}
    except (OSError, ValueError) as e:
        raise InputError(f"allreduce: needs Open MPI's libmpi ({name}): {e}") from None
    lib.MPI_Wtime.restype = ctypes.c_double
    return lib, h


def allreduce_main(argv):
    ap = argparse.ArgumentParser(prog="scaling.py allreduce")
    ap.add_argument("--bytes", required=True, help="message sizes in bytes (multiples of 8)")
    ap.add_argument("--seconds", type=float, default=0.2, help="time per size (default 0.2)")
    a = ap.parse_args(argv)
    sizes = int_list(a.bytes, "--bytes", minimum=8)
    if any(s % 8 for s in sizes):
        raise InputError("--bytes: every size must be a multiple of 8 (MPI_DOUBLE)")
    lib, h = open_mpi()
    if lib.MPI_Init(None, None) != 0:
        raise RuntimeError("MPI_Init failed")
    rank, size = ctypes.c_int(), ctypes.c_int()
    lib.MPI_Comm_rank(h["comm_world"], ctypes.byref(rank))
    lib.MPI_Comm_size(h["comm_world"], ctypes.byref(size))
    buf = (ctypes.c_double * (max(sizes) // 8))()
    out = (ctypes.c_double * (max(sizes) // 8))()
    res = []
    for s in sizes:
        n = s // 8

        def many(count):
            lib.MPI_Barrier(h["comm_world"])
            t0 = lib.MPI_Wtime()
            for _ in range(count):
                if lib.MPI_Allreduce(buf, out, n, h["double"], h["op_sum"], h["comm_world"]):
                    raise RuntimeError("MPI_Allreduce failed")
            t = ctypes.c_double((lib.MPI_Wtime() - t0) / count)
            worst = ctypes.c_double()
            lib.MPI_Allreduce(ctypes.byref(t), ctypes.byref(worst), 1, h["double"],
                              h["op_max"], h["comm_world"])
            return worst.value

        per = many(5)  # warm-up and a first estimate; every rank sees the same max
        count = max(5, min(20000, int(a.seconds / max(per, 1e-7))))
        # Best of three batches: the node is shared, the minimum is the cost.
        res.append(min(many(count) for _ in range(3)))
    if rank.value == 0:
        print(json.dumps({"ranks": size.value, "bytes": sizes, "seconds": res}))
    lib.MPI_Finalize()
    return 0


def run_allreduce(args, ranks, sizes):
    cmd = mpi_cmd(args, ranks) + [sys.executable, os.path.abspath(__file__), "allreduce",
                                  "--bytes", ",".join(map(str, sizes)),
                                  "--seconds", str(args.allreduce_seconds)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stderr[-2000:]}")
    line = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    if not line:
        raise RuntimeError(f"allreduce printed no result:\n{p.stdout[-2000:]}")
    return json.loads(line[-1])["seconds"]


def fit_alpha_beta(ranks, sizes, seconds):
    """Least-squares alpha, beta of t = ceil(log2 P) (alpha + beta bytes), the
    recursive-doubling form of plot_scaling.py's model, for one P."""
    import numpy as np
    hops = int(np.ceil(np.log2(ranks)))
    a = np.column_stack([np.full(len(sizes), hops, float), hops * np.asarray(sizes, float)])
    (alpha, beta), *_ = np.linalg.lstsq(a, np.asarray(seconds, float), rcond=None)
    return float(alpha), float(beta)


# --------------------------------------------------------------------------
# The sweep and the HDF5 file
# --------------------------------------------------------------------------

def phase_row(r, steps):
    """[phase][stat] per step for compute and reduce, per recall for io."""
    return [[v / steps for v in r["compute"]], [v / steps for v in r["reduce"]], list(r["io"])]


def threads_per_rank():
    """OMP_NUM_THREADS as uhn reads it (unset or unparsable: 0, the OpenMP default)."""
    try:
        return int(os.environ.get("OMP_NUM_THREADS", "0"))
    except ValueError:
        return 0


def provenance(args):
    ver = subprocess.run([args.uhn, "--version"], capture_output=True, text=True)
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "host": socket.gethostname(),
        "uhn_version": (ver.stdout or ver.stderr).strip(),
        "uhn": os.path.abspath(args.uhn),
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE", "(unset: OpenBLAS detects the CPU)"),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "(unset)"),
        "threads_per_rank": threads_per_rank(),
        "cores": os.cpu_count() or 0,
        "mpirun": " ".join(mpi_cmd(args, "R")),
        "command": " ".join(sys.argv),
    }


def banner(prog, prov, load):
    """The first line of a benchmark: what ran, where, when, in which environment."""
    return (f"{prog}: {prov['uhn_version']}; {prov['host']}, {prov['date']}; {prov['cores']} "
            f"cores, load average {load}; OPENBLAS_CORETYPE {prov['OPENBLAS_CORETYPE']}; "
            f"OMP_NUM_THREADS {prov['OMP_NUM_THREADS']}")


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "nan nan nan"


def check_args(args):
    args.n = int_list(args.n, "--n")
    args.ranks = int_list(args.ranks, "--ranks")
    args.batch = int_list(args.batch, "--batch")
    args.ranks_n = int_list(args.ranks_n, "--ranks-n")[0]
    args.weak_ranks = int_list(args.weak_ranks, "--weak-ranks") if args.weak_ranks else []
    args.weak_n_per_rank = int_list(args.weak_n_per_rank, "--weak-n-per-rank")[0]
    for name in ("k", "steps", "repeat", "n_ranks"):
        if getattr(args, name) < 1:
            raise InputError(f"--{name.replace('_', '-')} must be >= 1 (got {getattr(args, name)})")
    if not (os.path.isfile(args.uhn) and os.access(args.uhn, os.X_OK)):
        raise InputError(f"--uhn: {args.uhn} is not an executable program")
    small = [n for n in args.n + [args.ranks_n] if n < max(args.ranks + [args.n_ranks])]
    if small:
        raise InputError(f"--n/--ranks-n: N = {small[0]} has fewer rows than ranks")
    if not os.path.isdir(os.path.dirname(os.path.abspath(args.out))):
        raise InputError(f"--out: the directory of {args.out} does not exist")


def dataset(g, name, data, units, description, dims=()):
    """dims[i]: the scale of dimension i, or a tuple of scales attached in
    order (xarray's h5netcdf names the dimension after the last one)."""
    d = g.create_dataset(name, data=data)
    d.attrs["units"] = units
    d.attrs["description"] = description
    for i, scales in enumerate(dims):
        for scale in scales if isinstance(scales, tuple) else (scales,):
            d.dims[i].attach_scale(scale)
            d.dims[i].label = scale.name.split("/")[-1]
    return d


def coord(g, name, data, units, description):
    d = dataset(g, name, data, units, description)
    d.make_scale(name)
    return d


def write_h5(path, args, prov, vs_n, vs_r, weak, ar, load0, load1):
    import h5py
    import numpy as np
    tmp = path + ".part"
    with h5py.File(tmp, "w") as f:
        for k, v in prov.items():
            f.attrs[k] = v
        f.attrs["load_average_start"] = load0
        f.attrs["load_average_end"] = load1
        f.attrs["description"] = ("uhn scaling benchmark: time per recall step split into local "
                                  "compute, reduction (MPI_Allreduce of the partial records) and "
                                  "I/O, vs N, vs ranks at fixed N (strong) and at fixed N per "
                                  "rank (weak); softmax, dot, beta = 1/K, energy off")
        for k, v in (("K", args.k), ("steps", args.steps), ("repeat", args.repeat),
                     ("beta", 1.0 / args.k), ("noise", NOISE)):
            f.attrs[k] = v
        f.attrs["similarity"], f.attrs["separation"] = "dot", "softmax"
        f.attrs["best_of"] = "the repeat with the smallest wall time reported by uhn recall"
        g0 = f.create_group("coords")
        batch = coord(g0, "batch", np.array(args.batch, "i8"), "queries", "queries per recall (B)")
        phase = coord(g0, "phase", np.array(PHASES, "S8"), "1",
                      "compute and reduce per step (timer / steps); io per recall (load once)")
        stat = coord(g0, "rank_stat", np.array(STATS, "S4"), "1",
                      "min / mean / max over ranks of uhn's phase timers")
        phase_units = "s (compute, reduce: per step; io: per recall)"
        sweeps = [("vs_n", args.n, "n_memories", "rows", "memories N in the bank", vs_n,
                   ("ranks", args.n_ranks)),
                  ("vs_ranks", args.ranks, "ranks", "MPI ranks",
                   "MPI ranks (more than the cores: oversubscribed)", vs_r,
                   ("n_memories", args.ranks_n))]
        if args.weak_ranks:
            sweeps.append(("weak", args.weak_ranks, "ranks", "MPI ranks",
                           "MPI ranks (more than the cores: oversubscribed); N = ranks x "
                           "n_per_rank", weak, ("n_per_rank", args.weak_n_per_rank)))
        for gname, axis, axis_name, axis_units, axis_desc, rows, fixed in sweeps:
            g = f.create_group(gname)
            g.attrs[fixed[0]] = fixed[1]
            ax = coord(g, axis_name, np.array(axis, "i8"), axis_units, axis_desc)
            # The shared scales of coords/ stay first on each dimension (h5py's
            # dims[i][0]); a copy in this group is attached after them, because
            # xarray (h5netcdf) looks a dimension up in the variable's own group
            # and its parents only, never in a sibling such as coords/.
            local = {}
            for c in (batch, phase, stat):
                cname = c.name.split("/")[-1]
                local[cname] = coord(g, cname, c[()], c.attrs["units"], c.attrs["description"])
            batch_, phase_, stat_ = ((c, local[c.name.split("/")[-1]])
                                     for c in (batch, phase, stat))
            t = np.array([[phase_row(rows[b, x], args.steps) for x in axis] for b in args.batch])
            dataset(g, "time", t, phase_units,
                    "uhn recall phase timers [batch][axis][phase][rank_stat]: compute and "
                    "reduce divided by the steps, io per recall",
                    (batch_, ax, phase_, stat_))
            comp, red, io = t[..., 0, 2], t[..., 1, 2], t[..., 2, 2]
            dims = (batch_, ax)
            if gname == "weak":
                dataset(g, "n_memories", np.array([r * args.weak_n_per_rank for r in axis], "i8"),
                        "rows", "memories N of the point: ranks x n_per_rank", (ax,))
            dataset(g, "compute_s_per_step", comp, "s", "local compute per step, slowest rank", dims)
            dataset(g, "reduce_s_per_step", red, "s",
                    "reduction per step (MPI_Allreduce of the partial records, with the wait "
                    "for the slowest rank), slowest rank", dims)
            dataset(g, "io_s_per_recall", io, "s",
                    "I/O per recall (bank shard and queries read, result written), slowest rank",
                    dims)
            dataset(g, "total_s_per_step", comp + red + io / args.steps, "s",
                    "compute + reduce + io / steps (I/O amortised over the steps), slowest rank "
                    "per phase", dims)
            dataset(g, "wall_s", np.array([[rows[b, x]["wall"] for x in axis] for b in args.batch]),
                    "s", "whole recall as uhn reported it (summary line), best repeat", dims)
            dataset(g, "load_average_1min",
                    np.array([[rows[b, x]["load"] for x in axis] for b in args.batch]),
                    "runnable processes", "the node's 1-minute load average around the point's "
                    "runs (larger of before and after); above the core count the point ran on a "
                    "busy node", dims)
            dataset(g, "record_bytes", np.array([record_bytes(args.k, b) for b in args.batch], "i8"),
                    "bytes", "bytes each rank contributes to one step's MPI_Allreduce", (batch_,))
        if ar:
            g = f.create_group("allreduce")
            ps = sorted(ar)
            sizes = ar[ps[0]]["bytes"]
            pr = coord(g, "ranks", np.array(ps, "i8"), "MPI ranks", "ranks of the micro-benchmark")
            by = coord(g, "bytes", np.array(sizes, "i8"), "bytes", "message size per rank")
            dataset(g, "time_s", np.array([ar[p]["seconds"] for p in ps]), "s",
                    "MPI_Allreduce (MPI_DOUBLE, MPI_SUM) per call, slowest rank, best of 3 batches",
                    (pr, by))
            fits = [fit_alpha_beta(p, sizes, ar[p]["seconds"]) for p in ps]
            dataset(g, "alpha_s", np.array([a for a, _ in fits]), "s",
                    "fitted latency per hop of t = ceil(log2 P) (alpha + beta bytes)", (pr,))
            dataset(g, "beta_s_per_byte", np.array([b for _, b in fits]), "s/byte",
                    "fitted inverse bandwidth per hop of t = ceil(log2 P) (alpha + beta bytes)",
                    (pr,))
    os.replace(tmp, path)


def print_table(title, args, rows, points):
    """points: (key, N, ranks) for each row of the table, per batch."""
    print(f"\n{title}")
    print(f"{'N':>10} {'ranks':>5} {'B':>4} {'compute/step':>13} {'reduce/step':>12} "
          f"{'io/recall':>10} {'io/step':>10} {'total/step':>11} {'wall':>9}   [s, slowest rank]")
    for b in args.batch:
        for key, n, r in points:
            c, red, io = (row[2] for row in phase_row(rows[b, key], args.steps))
            print(f"{n:>10} {r:>5} {b:>4} {c:13.6f} {red:12.6f} {io:10.6f} "
                  f"{io / args.steps:10.6f} {c + red + io / args.steps:11.6f} "
                  f"{rows[b, key]['wall']:9.4f}")


def run_main(argv):
    ap = argparse.ArgumentParser(prog="scaling.py run", description=__doc__.split("\n\n")[0])
    ap.add_argument("--uhn", required=True, help="the uhn program")
    ap.add_argument("--out", required=True, help="HDF5 file to write")
    ap.add_argument("--n", default="1e4,1e5,1e6,1e7", help="memories N of the N sweep")
    ap.add_argument("--n-ranks", type=int, default=2, help="ranks of the N sweep (default 2)")
    ap.add_argument("--ranks", default="1,2,4", help="ranks of the rank sweep (default 1,2,4)")
    ap.add_argument("--ranks-n", default="1e6", help="N of the rank sweep (default 1e6)")
    ap.add_argument("--weak-ranks", default="",
                    help="ranks of the weak-scaling sweep (default: none)")
    ap.add_argument("--weak-n-per-rank", default="2.5e5",
                    help="memories per rank of the weak-scaling sweep (default 2.5e5)")
    ap.add_argument("--k", type=int, default=64, help="key length K (default 64)")
    ap.add_argument("--batch", default="1,64", help="queries per recall (default 1,64)")
    ap.add_argument("--steps", type=int, default=10, help="recall steps T (default 10)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per point, best kept (default 3)")
    ap.add_argument("--workdir", default=None, help="for the synthetic banks (default: --out's dir)")
    ap.add_argument("--keep", action="store_true", help="keep the synthetic banks")
    ap.add_argument("--mpirun", default="mpirun", help="the launcher (default mpirun)")
    ap.add_argument("--mpirun-args", default="", help="extra launcher options")
    ap.add_argument("--allreduce-bytes", default="8,64,512,4096,32768,262144,1048576",
                    help="ladder of MPI_Allreduce sizes; the record sizes are added")
    ap.add_argument("--allreduce-seconds", type=float, default=0.2, help="time per size")
    ap.add_argument("--timeout", type=float, default=600, help="seconds per mpirun (default 600)")
    args = ap.parse_args(argv)
    check_args(args)
    ladder = int_list(args.allreduce_bytes, "--allreduce-bytes", minimum=8)
    workdir = args.workdir or os.path.dirname(os.path.abspath(args.out))
    os.makedirs(workdir, exist_ok=True)
    prov = provenance(args)
    load0 = loadavg()
    print(banner("scaling.py", prov, load0), flush=True)

    weak_n = {r * args.weak_n_per_rank: r for r in args.weak_ranks}
    banks = sorted(set(args.n + [args.ranks_n] + list(weak_n)))
    vs_n, vs_r, weak = {}, {}, {}
    for n in banks:
        bank = os.path.join(workdir, f"scaling_bank_{n}_{args.k}.h5")
        t0 = time.time()
        if not os.path.exists(bank):
            write_bank(bank, n, args.k)
        print(f"scaling.py: bank N = {n} ({n * args.k * 4 / 1e9:.3g} GB) ready in "
              f"{time.time() - t0:.1f} s", flush=True)
        out = os.path.join(workdir, "scaling_out.h5")
        for b in args.batch:
            q = os.path.join(workdir, f"scaling_q_{n}_{b}.h5")
            write_queries(bank, q, b)
            jobs = ([args.n_ranks] if n in args.n else []) + \
                   ([r for r in args.ranks] if n == args.ranks_n else []) + \
                   ([weak_n[n]] if n in weak_n else [])
            for r in sorted(set(jobs)):
                res = best_recall(args, r, bank, q, out)
                if n in args.n and r == args.n_ranks:
                    vs_n[b, n] = res
                if n == args.ranks_n:
                    vs_r[b, r] = res
                if weak_n.get(n) == r:
                    weak[b, r] = res
                print(f"scaling.py:   N = {n}, B = {b}, {r} rank(s): compute {res['compute'][2]:.4g} s,"
                      f" reduce {res['reduce'][2]:.4g} s, io {res['io'][2]:.4g} s, wall "
                      f"{res['wall']:.4g} s ({args.steps} steps; load {res['load']:.2f})",
                      flush=True)
            os.remove(q)
        if os.path.exists(out):
            os.remove(out)
        if not args.keep:
            os.remove(bank)

    ar = {}
    sizes = sorted(set(ladder + [record_bytes(args.k, b) for b in args.batch]))
    for p in sorted(set(r for r in args.ranks + args.weak_ranks + [args.n_ranks] if r > 1)):
        ar[p] = {"bytes": sizes, "seconds": run_allreduce(args, p, sizes)}
        print(f"scaling.py: MPI_Allreduce at {p} ranks: " + ", ".join(
            f"{s} B {t * 1e6:.1f} us" for s, t in zip(sizes, ar[p]["seconds"])), flush=True)
    load1 = loadavg()
    write_h5(args.out, args, prov, vs_n, vs_r, weak, ar, load0, load1)

    print_table(f"time per step vs N ({args.n_ranks} ranks x {prov['OMP_NUM_THREADS']} thread(s), "
                f"K = {args.k}, T = {args.steps}, best of {args.repeat})",
                args, vs_n, [(n, n, args.n_ranks) for n in args.n])
    print_table(f"time per step vs ranks (N = {args.ranks_n}; ranks > cores: oversubscribed)",
                args, vs_r, [(r, args.ranks_n, r) for r in args.ranks])
    if args.weak_ranks:
        print_table(f"weak scaling: time per step vs ranks at N = ranks x {args.weak_n_per_rank} "
                    "(the same rows per rank)", args, weak,
                    [(r, r * args.weak_n_per_rank, r) for r in args.weak_ranks])
    print(f"\nload average at start {load0}, at end {load1} on {prov['cores']} cores "
          "(above the core count: a busy machine, every figure is slower than on an idle one)")
    print(f"wrote {args.out}")
    return 0


def main(argv):
    if not argv or argv[0] not in ("run", "allreduce"):
        print("usage: scaling.py run --uhn UHN --out FILE [options] | "
              "scaling.py allreduce --bytes LIST (under mpirun)", file=sys.stderr)
        return 2
    try:
        return (run_main if argv[0] == "run" else allreduce_main)(argv[1:])
    except InputError as e:
        print(f"scaling.py: {e}", file=sys.stderr)
        return 2
    except (RuntimeError, subprocess.TimeoutExpired, OSError) as e:
        print(f"scaling.py: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
