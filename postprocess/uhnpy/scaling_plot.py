"""Plots and tables of the uhn scaling benchmark (postprocess/scaling.py), and
the performance model of one recall step for 10^9 memories on 1 ... 1000 nodes.

    python3 postprocess/plot_scaling.py scaling.h5 [--outdir DIR] [--n-model 1e9]
        [--nodes 1,2,5,10,20,50,100,200,500,1000] [--network ib|measured]

Writes DIR/scaling_vs_n.png (log-log time per step against N: compute, reduce
and I/O as separate lines, one panel per batch), DIR/scaling_vs_ranks.png,
DIR/scaling_model.png and DIR/scaling_tables.md (the measured tables and the
model's table, in Markdown; also printed).

The model is model_time_per_step(); its assumptions are the named constants
below. Exit status: 0 on success, 2 on bad input (one line on standard error).
"""
import argparse
import math
import os
import sys

# ---------------------------------------------------------------------------
# Model assumptions (stated in the README; change them here, nowhere else)
# ---------------------------------------------------------------------------
#: memories of the modelled bank
MODEL_N_MEMORIES = 10**9
#: node counts of the model's table
MODEL_NODES = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
#: MPI ranks per node: like this machine (2 cores, one single-threaded rank per core)
RANKS_PER_NODE = 2
#: a node is this machine: the per-row cost measured here holds per node; a
#: faster node divides it by this factor (e.g. its memory bandwidth over this
#: node's)
NODE_SPEEDUP = 1.0
#: the per-row cost is the smallest compute / step / N over the N sweep's banks
#: of at least this many rows (256 MB at K = 64: far beyond the caches, so the
#: cost per row is the memory-bound one); the smallest because other work on a
#: shared node only ever adds time
ROW_COST_MIN_N = 10**6
#: wait for the slowest rank before the Allreduce, as a fraction of the compute
#: per step: 0 on dedicated, identical nodes (on this busy shared node the
#: measured reduce timer at 2 ranks is mostly such waiting; see the tables)
IMBALANCE_FRACTION = 0.0
#: memory of one node (this VM: 23 GiB); a shard larger than this does not fit
NODE_MEMORY_BYTES = 23 * 2**30
#: Allreduce latency per hop: a typical MPI small-message latency over
#: InfiniBand HDR (1-2 us; the larger figure, software overhead included)
ALPHA_IB_S = 2.0e-6
#: Allreduce inverse bandwidth per hop: InfiniBand HDR, 100 Gb/s = 12.5 GB/s
BETA_IB_S_PER_BYTE = 1.0 / 12.5e9
#: bank read bandwidth of one node from a parallel file system (a few GB/s per
#: client) and the file system's aggregate limit; the load happens once per
#: recall, not per step
FS_READ_PER_NODE_BPS = 5.0e9
FS_READ_AGGREGATE_BPS = 200.0e9
#: bytes of one stored memory: K = 64 float32
MODEL_ROW_BYTES = 64 * 4


class InputError(Exception):
    """A bad input: reported as one line, exit status 2."""


def _check(name, value, minimum, integer=False, strict=False):
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value > minimum if strict else value >= minimum)
    ok = ok and (not integer or float(value) == int(value))
    if not ok:
        kind = "an integer" if integer else "a finite number"
        raise ValueError(f"{name} must be {kind} {'>' if strict else '>='} {minimum} (got {value!r})")


def model_time_per_step(n_memories, nodes, row_cost_s, record_bytes,
                        ranks_per_node=RANKS_PER_NODE, alpha_s=ALPHA_IB_S,
                        beta_s_per_byte=BETA_IB_S_PER_BYTE, node_speedup=NODE_SPEEDUP,
                        imbalance=IMBALANCE_FRACTION):
    """Predicted time of one recall step, split into compute and reduction.

    n_memories       rows of the bank, spread evenly over every rank
    nodes            nodes (integer >= 1)
    row_cost_s       seconds per memory row per step on one node (all its ranks
                     together), measured: compute per step / N at the largest N
    record_bytes     bytes each rank contributes to the step's MPI_Allreduce
                     (the batch's partial records)
    ranks_per_node   MPI ranks per node; P = nodes x ranks_per_node
    alpha_s, beta_s_per_byte
                     latency and inverse bandwidth of one hop of the Allreduce
    node_speedup     a node's speed over the one measured (divides row_cost_s)
    imbalance        wait for the slowest rank, as a fraction of compute

    compute = row_cost_s / node_speedup * n_memories / nodes
        (perfectly even shards, no per-rank overhead: the row cost is linear in
        N, as measured up to 10^7 rows)
    reduce  = ceil(log2 P) * (alpha + beta * record_bytes) + imbalance * compute
        (recursive doubling, what MPI libraries use for messages this small;
        every hop priced at the network's figures, also the intra-node one; the
        record merge is folded into beta; the wait for a slower rank, which the
        reduction timer includes, as a fraction of the compute)
    I/O is not per step (the bank is read once per recall): see load_time_s.

    Returns {'compute': s, 'reduce': s, 'total': s}. Raises ValueError naming
    the parameter when an input is out of range. Not collective: plain arithmetic.
    """
    _check("n_memories", n_memories, 1, integer=True)
    _check("nodes", nodes, 1, integer=True)
    _check("row_cost_s", row_cost_s, 0, strict=True)
    _check("record_bytes", record_bytes, 0, integer=True)
    _check("ranks_per_node", ranks_per_node, 1, integer=True)
    _check("alpha_s", alpha_s, 0)
    _check("beta_s_per_byte", beta_s_per_byte, 0)
    _check("node_speedup", node_speedup, 0, strict=True)
    _check("imbalance", imbalance, 0)
    p = int(nodes) * int(ranks_per_node)
    compute = row_cost_s / node_speedup * n_memories / nodes
    hops = math.ceil(math.log2(p)) if p > 1 else 0
    reduce = hops * (alpha_s + beta_s_per_byte * record_bytes) + imbalance * compute
    return {"compute": compute, "reduce": reduce, "total": compute + reduce}


def load_time_s(n_memories, nodes, row_bytes=MODEL_ROW_BYTES,
                per_node_bps=FS_READ_PER_NODE_BPS, aggregate_bps=FS_READ_AGGREGATE_BPS):
    """Seconds to read the bank once from the file system: every node reads
    its shard at per_node_bps, all together at most aggregate_bps."""
    _check("n_memories", n_memories, 1, integer=True)
    _check("nodes", nodes, 1, integer=True)
    _check("row_bytes", row_bytes, 1, integer=True)
    _check("per_node_bps", per_node_bps, 0, strict=True)
    _check("aggregate_bps", aggregate_bps, 0, strict=True)
    return n_memories * row_bytes / min(nodes * per_node_bps, aggregate_bps)


# ---------------------------------------------------------------------------
# Reading the benchmark file
# ---------------------------------------------------------------------------

REQUIRED = ("coords/batch", "vs_n/n_memories", "vs_n/compute_s_per_step",
            "vs_n/reduce_s_per_step", "vs_n/io_s_per_recall", "vs_n/total_s_per_step",
            "vs_n/record_bytes", "vs_ranks/ranks", "vs_ranks/compute_s_per_step",
            "vs_ranks/reduce_s_per_step", "vs_ranks/io_s_per_recall",
            "vs_ranks/total_s_per_step")


def load(path):
    """The benchmark file as a dict of numpy arrays and attributes."""
    import h5py
    if not os.path.isfile(path):
        raise InputError(f"{path}: no such file")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise InputError(f"{path}: not an HDF5 file ({e})") from None
    with f:
        for name in REQUIRED:
            if name not in f:
                raise InputError(f"{path}: no dataset '{name}' (not written by postprocess/scaling.py?)")
        for name in ("steps", "K"):
            if name not in f.attrs:
                raise InputError(f"{path}: no attribute '{name}' (not written by postprocess/scaling.py?)")
        d = {"attrs": {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()},
             "batch": f["coords/batch"][()]}
        for g in ("vs_n", "vs_ranks") + (("weak",) if "weak" in f else ()):
            d[g] = {k: f[g][k][()] for k in f[g] if k != "time"}
            d[g]["attrs"] = dict(f[g].attrs)
        if "allreduce" in f:
            d["allreduce"] = {k: f["allreduce"][k][()] for k in f["allreduce"]}
    nb = len(d["batch"])
    for g, axis in (("vs_n", "n_memories"), ("vs_ranks", "ranks"), ("weak", "ranks")):
        if g not in d:
            continue
        shape = (nb, len(d[g][axis]))
        for k in ("compute_s_per_step", "reduce_s_per_step", "io_s_per_recall"):
            if d[g][k].shape != shape:
                raise InputError(f"{path}: {g}/{k} has shape {d[g][k].shape}, expected {shape}")
    if d["attrs"]["steps"] < 1:
        raise InputError(f"{path}: attribute steps = {d['attrs']['steps']} is not >= 1")
    return d


def row_costs(d):
    """Seconds per memory row per step per node, per batch: the smallest
    compute per step / N over the N sweep's banks of >= ROW_COST_MIN_N rows
    (all of them when none is that large)."""
    n = d["vs_n"]["n_memories"]
    use = n >= ROW_COST_MIN_N
    if not use.any():
        use = n == n.max()
    return {int(b): float((d["vs_n"]["compute_s_per_step"][j][use] / n[use]).min())
            for j, b in enumerate(d["batch"])}


# ---------------------------------------------------------------------------
# Tables and plots
# ---------------------------------------------------------------------------

def fmt_t(s):
    """Seconds with a unit that keeps 3 significant digits readable."""
    if s == 0:
        return "0"
    for unit, f in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if abs(s) >= f:
            return f"{s / f:.3g} {unit}"
    return f"{s * 1e9:.3g} ns"


def measured_tables(d):
    steps = d["attrs"]["steps"]
    out = []
    for g, axis, label in (("vs_n", "n_memories", "N"), ("vs_ranks", "ranks", "ranks"),
                           ("weak", "ranks", "ranks")):
        if g not in d:
            continue
        fixed = ", ".join(f"{k} = {v}" for k, v in d[g]["attrs"].items())
        what = "weak scaling: " if g == "weak" else ""
        out.append(f"\n{what}Time per step vs {label} ({fixed}; K = {d['attrs']['K']}, T = {steps}, "
                   "slowest rank; I/O per recall and amortised over the T steps)\n")
        out.append(f"| {label} | B | compute / step | reduce / step | I/O / recall | "
                   "total / step (I/O amortised) | compute / step / N | load average |")
        out.append("|---|---|---|---|---|---|---|---|")
        load = d[g].get("load_average_1min")
        for j, b in enumerate(d["batch"]):
            for i, x in enumerate(d[g][axis]):
                c, r = d[g]["compute_s_per_step"][j, i], d[g]["reduce_s_per_step"][j, i]
                io, t = d[g]["io_s_per_recall"][j, i], d[g]["total_s_per_step"][j, i]
                la = "?" if load is None else f"{load[j, i]:.1f}"
                xs = f"{x:.0e}" if label == "N" else f"{x}"
                n = (x if label == "N" else d[g]["n_memories"][i] if g == "weak"
                     else d[g]["attrs"]["n_memories"])
                out.append(f"| {xs} | {b} | {fmt_t(c)} | {fmt_t(r)} | {fmt_t(io)} | {fmt_t(t)} "
                           f"| {fmt_t(c / n)} | {la} |")
    if "allreduce" in d:
        a = d["allreduce"]
        out.append("\nMPI_Allreduce measured directly (MPI_DOUBLE sum, slowest rank, best of 3):\n")
        out.append("| ranks | " + " | ".join(f"{b} B" for b in a["bytes"]) + " | fitted alpha | fitted beta |")
        out.append("|---" * (len(a["bytes"]) + 3) + "|")
        for k, p in enumerate(a["ranks"]):
            out.append(f"| {p} | " + " | ".join(fmt_t(t) for t in a["time_s"][k]) +
                       f" | {fmt_t(a['alpha_s'][k])} | {a['beta_s_per_byte'][k] * 1e12:.3g} ps/B |")
    return out


def model_rows(d, n_model, nodes, alpha, beta):
    rpn = int(d["vs_n"]["attrs"].get("ranks", RANKS_PER_NODE))
    costs = row_costs(d)
    rows = []
    for j, b in enumerate(d["batch"]):
        rec = int(d["vs_n"]["record_bytes"][j])
        for n in nodes:
            m = model_time_per_step(n_model, n, costs[int(b)], rec, ranks_per_node=rpn,
                                    alpha_s=alpha, beta_s_per_byte=beta)
            rows.append((int(b), n, rpn, rec, m, load_time_s(n_model, n)))
    return rows, costs, rpn


def model_table(d, n_model, nodes, alpha, beta):
    rows, costs, rpn = model_rows(d, n_model, nodes, alpha, beta)
    out = [f"\nModel: time per step for N = {n_model:.0e} memories, {rpn} ranks per node "
           f"(alpha = {fmt_t(alpha)}, beta = {beta * 1e12:.3g} ps/B, imbalance "
           f"{IMBALANCE_FRACTION:g}; row cost per node: " +
           ", ".join(f"B = {b}: {c * 1e9:.3g} ns/row = {MODEL_ROW_BYTES / c / 1e9:.3g} GB/s of "
                     "bank" for b, c in costs.items()) + ")\n",
           "| B | nodes | ranks | shard / node | fits in node | compute / step | reduce / step "
           "| total / step | reduce share | bank load (once) |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for b, n, r, rec, m, ld in rows:
        shard = n_model * MODEL_ROW_BYTES / n
        out.append(f"| {b} | {n} | {n * r} | {shard / 1e9:.3g} GB | "
                   f"{'yes' if shard <= NODE_MEMORY_BYTES else 'no'} | {fmt_t(m['compute'])} | "
                   f"{fmt_t(m['reduce'])} | {fmt_t(m['total'])} | "
                   f"{100 * m['reduce'] / m['total']:.2g} % | {fmt_t(ld)} |")
    return out


def plots(d, outdir, n_model, nodes, alpha, beta):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    steps = d["attrs"]["steps"]
    styles = (("compute_s_per_step", "compute / step", "o-"),
              ("reduce_s_per_step", "reduce / step", "s-"),
              ("io_s_per_recall", "I/O / step (per recall / T)", "^--"),
              ("total_s_per_step", "total / step", "k:"))
    files = []
    for g, axis, xlabel, fname, logx in (
            ("vs_n", "n_memories", "memories N", "scaling_vs_n.png", 10),
            ("vs_ranks", "ranks", "MPI ranks (> cores: oversubscribed)", "scaling_vs_ranks.png", 2)):
        fig, axes = plt.subplots(1, len(d["batch"]), figsize=(5.2 * len(d["batch"]), 4.2),
                                 squeeze=False)
        x = d[g][axis]
        for j, b in enumerate(d["batch"]):
            ax = axes[0, j]
            for key, label, st in styles:
                y = d[g][key][j] / (steps if key == "io_s_per_recall" else 1)
                y = [v if v > 0 else float("nan") for v in y]  # below the timer resolution
                ax.plot(x, y, st, label=label)
            if g == "vs_n":
                # Slope 1 through the largest N's compute: linear in N.
                c = d[g]["compute_s_per_step"][j][-1]
                ax.plot(x, c * x / x[-1], "-", color="lightgrey", lw=3, zorder=0,
                        label="linear in N")
            if g == "vs_ranks" and "allreduce" in d:
                # The bare MPI_Allreduce of this batch's records: the reduce
                # timer above it is the wait for the slowest rank.
                a = d["allreduce"]
                rb = int(d[g]["record_bytes"][j])
                if rb in list(a["bytes"]):
                    k = list(a["bytes"]).index(rb)
                    ax.plot(a["ranks"], a["time_s"][:, k], "x-.", color="grey",
                            label=f"MPI_Allreduce alone, {rb} B")
            ax.set_xscale("log", base=logx)
            ax.set_yscale("log")
            ax.set_xlabel(xlabel)
            ax.set_ylabel("seconds per step (slowest rank)")
            fixed = ", ".join(f"{k} = {v}" for k, v in d[g]["attrs"].items())
            ax.set_title(f"B = {b} queries ({fixed})", fontsize=10)
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=8)
        fig.suptitle(f"uhn recall, softmax dot, K = {d['attrs']['K']}, T = {steps}; "
                     f"{d['attrs'].get('host', '?')} {d['attrs'].get('date', '')}, load "
                     f"{d['attrs'].get('load_average_start', '?')}", fontsize=9)
        fig.tight_layout()
        files.append(os.path.join(outdir, fname))
        fig.savefig(files[-1], dpi=110)
        plt.close(fig)

    rows, costs, rpn = model_rows(d, n_model, nodes, alpha, beta)
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    for b in d["batch"]:
        sel = [r for r in rows if r[0] == int(b)]
        n = [r[1] for r in sel]
        ax.plot(n, [r[4]["compute"] for r in sel], "o-", label=f"B = {b}: compute")
        ax.plot(n, [r[4]["reduce"] for r in sel], "s--", label=f"B = {b}: reduce")
        ax.plot(n, [r[4]["total"] for r in sel], "k:", lw=1)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(f"nodes ({rpn} ranks each)")
    ax.set_ylabel("predicted seconds per step")
    ax.set_title(f"model: N = {n_model:.0e} memories, alpha = {fmt_t(alpha)}, "
                 f"beta = {beta * 1e12:.3g} ps/B (dotted: total)", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    files.append(os.path.join(outdir, "scaling_model.png"))
    fig.savefig(files[-1], dpi=110)
    plt.close(fig)
    return files


def int_list(text, what):
    out = []
    for tok in text.split(","):
        try:
            v = float(tok)
        except ValueError:
            raise InputError(f"{what}: '{tok}' is not a number") from None
        if v != int(v) or v < 1:
            raise InputError(f"{what}: '{tok}' is not an integer >= 1")
        out.append(int(v))
    return out


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("file", help="HDF5 file of postprocess/scaling.py")
    ap.add_argument("--outdir", default=None, help="for the PNG and Markdown files (default: the file's)")
    ap.add_argument("--n-model", default=str(MODEL_N_MEMORIES), help="memories of the model (1e9)")
    ap.add_argument("--nodes", default=",".join(map(str, MODEL_NODES)), help="node counts of the model")
    ap.add_argument("--network", choices=("ib", "measured"), default="ib",
                    help="Allreduce alpha, beta: typical InfiniBand HDR (default) or those "
                         "fitted here at the largest measured rank count (shared memory)")
    a = ap.parse_args(argv)
    try:
        n_model = int_list(a.n_model, "--n-model")[0]
        nodes = int_list(a.nodes, "--nodes")
        outdir = a.outdir or os.path.dirname(os.path.abspath(a.file))
        if not os.path.isdir(outdir):
            raise InputError(f"--outdir: {outdir} is not a directory")
        d = load(a.file)
        alpha, beta = ALPHA_IB_S, BETA_IB_S_PER_BYTE
        if a.network == "measured":
            if "allreduce" not in d:
                raise InputError(f"{a.file}: no allreduce group for --network measured")
            alpha = float(max(d["allreduce"]["alpha_s"][-1], 0.0))
            beta = float(max(d["allreduce"]["beta_s_per_byte"][-1], 0.0))
        lines = measured_tables(d) + model_table(d, n_model, nodes, alpha, beta)
    except (InputError, ValueError) as e:
        print(f"plot_scaling.py: {e}", file=sys.stderr)
        return 2
    at = d["attrs"]
    head = [f"uhn scaling benchmark: {at.get('uhn_version', '?')}; {at.get('host', '?')}, "
            f"{at.get('date', '?')}; OPENBLAS_CORETYPE {at.get('OPENBLAS_CORETYPE', '?')}; "
            f"threads per rank {at.get('threads_per_rank', '?')}; load average "
            f"{at.get('load_average_start', '?')} (start), {at.get('load_average_end', '?')} "
            f"(end) on {at.get('cores', '?')} cores"]
    text = "\n".join(head + lines) + "\n"
    print(text)
    with open(os.path.join(outdir, "scaling_tables.md"), "w") as f:
        f.write(text)
    for p in plots(d, outdir, n_model, nodes, alpha, beta):
        print(f"wrote {p}")
    print(f"wrote {os.path.join(outdir, 'scaling_tables.md')}")
    return 0


