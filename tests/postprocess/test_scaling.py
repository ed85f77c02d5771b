#!/usr/bin/python3
"""Smoke test of the scaling benchmark (postprocess/scaling.py and
postprocess/plot_scaling.py) on a tiny problem: N = 10^3 and 10^4, 1 and 2
ranks, 3 steps, one repeat. It checks what the scripts wrote and printed, never
how fast anything was:

- the HDF5 layout: provenance attributes (date, host, `uhn --version`,
  OPENBLAS_CORETYPE, threads, load average), the coordinate datasets n_memories,
  ranks, batch, phase, rank_stat, bytes made dimension scales and attached to
  the datasets' axes, units and a description on every dataset, the shapes, and
  record_bytes as computed by hand from src/core/reduce.h (B x 384 at K = 64);
- consistency: every progress line's compute / reduce / io / wall equal the
  file's (to the printed precision); in both printed tables total / step =
  compute / step + reduce / step + io / recall / T and equal the file's; the
  phases' mean over ranks add up to no more than the wall time uhn reported;
  the checker rejects a doctored table (so it can fail);
- the plots are PNG files and the Markdown table has a model row per node count;
- model_time_per_step and load_time_s reproduce values computed by hand;
- every bad input gives exit status 2 (or ValueError for the model) and one
  clear message naming the option or parameter, no traceback.

    test_scaling.py --scaling postprocess/scaling.py --plot postprocess/plot_scaling.py
                    --uhn build/uhn --mpirun mpiexec --workdir DIR
"""
import argparse
import importlib.util
import math
import os
import re
import shutil
import subprocess
import sys

MPI_ENV = {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
           "OMP_NUM_THREADS": "1"}
N_LIST, RANKS, BATCH, STEPS, K = (1000, 10000), (1, 2), (1, 64), 3, 64

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print(f"FAIL: {what}", file=sys.stderr)
    return cond


def close(a, b, rel, abs_):
    return abs(a - b) <= abs_ + rel * max(abs(a), abs(b))


def run(cmd, env, timeout):
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)


# ---------------------------------------------------------------------------

def check_layout(path, uhn_version):
    import h5py
    with h5py.File(path, "r") as f:
        for a in ("date", "host", "uhn_version", "OPENBLAS_CORETYPE", "OMP_NUM_THREADS",
                  "threads_per_rank", "load_average_start", "load_average_end", "K", "steps",
                  "description"):
            check(a in f.attrs, f"root attribute {a} missing")
        check(f.attrs.get("uhn_version") == uhn_version,
              f"uhn_version {f.attrs.get('uhn_version')!r} != `uhn --version` {uhn_version!r}")
        check(f.attrs.get("steps") == STEPS and f.attrs.get("K") == K, "steps / K attributes")
        # Every dataset self-described.
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                check("units" in obj.attrs and "description" in obj.attrs,
                      f"{name}: units or description missing")
        f.visititems(visit)
        scales = {"coords/batch": list(BATCH), "coords/phase": [b"compute", b"reduce", b"io"],
                  "coords/rank_stat": [b"min", b"mean", b"max"], "vs_n/n_memories": list(N_LIST),
                  "vs_ranks/ranks": list(RANKS), "allreduce/ranks": [2]}
        for name, want in scales.items():
            if not check(name in f, f"{name} missing"):
                continue
            check(f[name].attrs.get("CLASS") == b"DIMENSION_SCALE", f"{name} is not a dimension scale")
            check(list(f[name][()]) == want, f"{name} = {list(f[name][()])}, expected {want}")
        for g, axis in (("vs_n", "n_memories"), ("vs_ranks", "ranks")):
            shape = (len(BATCH), len(f[f"{g}/{axis}"]))
            for d in ("compute_s_per_step", "reduce_s_per_step", "io_s_per_recall",
                      "total_s_per_step", "wall_s"):
                ds = f[f"{g}/{d}"]
                check(ds.shape == shape, f"{g}/{d} shape {ds.shape} != {shape}")
                check([ds.dims[i][0].name for i in range(2)] == ["/coords/batch", f"/{g}/{axis}"],
                      f"{g}/{d}: axes not labelled batch, {axis}")
            t = f[f"{g}/time"]
            check(t.shape == shape + (3, 3), f"{g}/time shape {t.shape}")
            check([t.dims[i][0].name for i in range(4)] ==
                  ["/coords/batch", f"/{g}/{axis}", "/coords/phase", "/coords/rank_stat"],
                  f"{g}/time: axes not labelled")
            # Hand-computed: a 128-byte record header + 64 float32 = 384 bytes per query.
            check(list(f[f"{g}/record_bytes"][()]) == [384, 64 * 384],
                  f"{g}/record_bytes {list(f[f'{g}/record_bytes'][()])} != [384, 24576]")
        for d in ("time_s", "alpha_s", "beta_s_per_byte"):
            check(f"allreduce/{d}" in f, f"allreduce/{d} missing")
        if "allreduce/time_s" in f:
            ts = f["allreduce/time_s"][()]
            check(ts.shape == (1, len(f["allreduce/bytes"])) and (ts > 0).all(),
                  "allreduce/time_s: shape or non-positive times")
            check({384, 24576} <= set(f["allreduce/bytes"][()]),
                  "allreduce/bytes lacks the record sizes 384 and 24576")


def read_file(path):
    import h5py
    with h5py.File(path, "r") as f:
        return {g: {"time": f[g]["time"][()], "wall": f[g]["wall_s"][()],
                    "total": f[g]["total_s_per_step"][()],
                    "axis": list(f[g]["n_memories" if g == "vs_n" else "ranks"][()])}
                for g in ("vs_n", "vs_ranks")}


PROGRESS = re.compile(r"N = (\d+), B = (\d+), (\d+) rank\(s\): compute (\S+) s, reduce (\S+) s, "
                      r"io (\S+) s, wall (\S+) s")
ROW = re.compile(r"^\s*(\d+)\s+(\d+)\s+(\d+)" + r"\s+([0-9.]+)" * 6 + r"\s*$")


def consistency(out, data):
    """Failures (a list) of the printed figures against the file's."""
    bad = []
    seen = 0
    for n, b, r, c, red, io, wall in PROGRESS.findall(out):
        n, b, r = int(n), int(b), int(r)
        j = BATCH.index(b)
        keys = ([("vs_n", N_LIST.index(n))] if n in N_LIST and r == 2 else []) + \
               ([("vs_ranks", RANKS.index(r))] if n == N_LIST[-1] else [])
        for g, i in keys:
            seen += 1
            t = data[g]["time"][j, i]
            got = (t[0, 2] * STEPS, t[1, 2] * STEPS, t[2, 2], data[g]["wall"][j, i])
            for name, printed, stored in zip(("compute", "reduce", "io", "wall"),
                                             (c, red, io, wall), got):
                if not close(float(printed), stored, 1e-3, 1e-9):
                    bad.append(f"{g} N={n} B={b} R={r}: printed {name} {printed} != file {stored}")
            # uhn's timers are inside its wall time: the ranks' mean phases fit in it.
            mean_sum = t[0, 1] * STEPS + t[1, 1] * STEPS + t[2, 1]
            if mean_sum > got[3] * 1.01 + 3e-4:
                bad.append(f"{g} N={n} B={b} R={r}: mean compute+reduce+io {mean_sum} > wall {got[3]}")
    if seen != 2 * len(BATCH) * len(N_LIST):
        bad.append(f"{seen} progress lines matched, expected {2 * len(BATCH) * len(N_LIST)}")
    rows = [m.groups() for m in map(ROW.match, out.splitlines()) if m]
    if len(rows) != len(BATCH) * (len(N_LIST) + len(RANKS)):
        bad.append(f"{len(rows)} table rows printed, expected {len(BATCH) * (len(N_LIST) + len(RANKS))}")
    for k, row in enumerate(rows):
        n, r, b = map(int, row[:3])
        c, red, io, io_step, total, wall = map(float, row[3:])
        if not close(c + red + io_step, total, 0, 2.5e-6):
            bad.append(f"row N={n} R={r} B={b}: {c} + {red} + {io_step} != total {total}")
        if not close(io / STEPS, io_step, 0, 1.5e-6):
            bad.append(f"row N={n} R={r} B={b}: io {io} / {STEPS} != io/step {io_step}")
        g = "vs_n" if k < len(BATCH) * len(N_LIST) else "vs_ranks"
        i = N_LIST.index(n) if g == "vs_n" else RANKS.index(r)
        if not close(total, data[g]["total"][BATCH.index(b), i], 0, 1.5e-6):
            bad.append(f"row N={n} R={r} B={b}: total {total} != file {data[g]['total'][BATCH.index(b), i]}")
    return bad


def check_model(plot_path):
    spec = importlib.util.spec_from_file_location("plot_scaling", plot_path)
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    # By hand: compute = 1e-9 s/row * 1e9 rows / 10 nodes = 0.1 s; P = 20,
    # ceil(log2 20) = 5 hops of 2e-6 + 384 * 1e-10 = 2.0384e-6 s -> 1.0192e-5 s.
    r = m.model_time_per_step(10**9, 10, 1e-9, 384, ranks_per_node=2, alpha_s=2e-6,
                              beta_s_per_byte=1e-10, node_speedup=1.0)
    check(close(r["compute"], 0.1, 1e-12, 0), f"model compute {r['compute']} != 0.1")
    check(close(r["reduce"], 1.0192e-5, 1e-12, 0), f"model reduce {r['reduce']} != 1.0192e-5")
    check(close(r["total"], 0.1000101920, 1e-12, 0), f"model total {r['total']}")
    # 3 ranks: ceil(log2 3) = 2 hops; a node twice as fast halves compute.
    r = m.model_time_per_step(3000, 1, 2e-9, 1000, ranks_per_node=3, alpha_s=1e-6,
                              beta_s_per_byte=1e-9, node_speedup=2.0)
    check(close(r["reduce"], 2 * (1e-6 + 1e-6), 1e-12, 0), f"model reduce at P = 3: {r['reduce']}")
    check(close(r["compute"], 3e-6, 1e-12, 0), f"model compute with speedup: {r['compute']}")
    # 10 % imbalance on the first case: reduce + 0.1 * 0.1 s.
    r = m.model_time_per_step(10**9, 10, 1e-9, 384, ranks_per_node=2, alpha_s=2e-6,
                              beta_s_per_byte=1e-10, node_speedup=1.0, imbalance=0.1)
    check(close(r["reduce"], 0.010010192, 1e-12, 0), f"model reduce with imbalance {r['reduce']}")
    r = m.model_time_per_step(100, 1, 1e-9, 384, ranks_per_node=1, imbalance=0.0)
    check(r["reduce"] == 0.0, "one rank: the model has a reduction")
    # Load: 1e9 rows * 256 B / min(10 * 5e9, 200e9) B/s = 5.12 s; 100 nodes hit the aggregate.
    check(close(m.load_time_s(10**9, 10, 256, 5e9, 200e9), 5.12, 1e-12, 0), "load_time_s at 10 nodes")
    check(close(m.load_time_s(10**9, 100, 256, 5e9, 200e9), 1.28, 1e-12, 0), "load_time_s at 100 nodes")
    for kw, name in (({"nodes": 0}, "nodes"), ({"nodes": 2.5}, "nodes"),
                     ({"row_cost_s": 0.0}, "row_cost_s"), ({"row_cost_s": math.nan}, "row_cost_s"),
                     ({"record_bytes": -1}, "record_bytes"), ({"n_memories": 0}, "n_memories"),
                     ({"ranks_per_node": 0}, "ranks_per_node"), ({"alpha_s": -1e-6}, "alpha_s"),
                     ({"beta_s_per_byte": math.inf}, "beta_s_per_byte"),
                     ({"node_speedup": 0}, "node_speedup"), ({"imbalance": -0.1}, "imbalance")):
        args = {"n_memories": 10**9, "nodes": 4, "row_cost_s": 1e-9, "record_bytes": 384}
        args.update(kw)
        try:
            m.model_time_per_step(**args)
            check(False, f"model accepted {kw}")
        except ValueError as e:
            check(str(e).startswith(name), f"model error for {kw} does not name {name}: {e}")


def check_errors(a, env, base, workdir, h5):
    scaling, plot = [sys.executable, a.scaling], [sys.executable, a.plot]
    out = os.path.join(workdir, "bad.h5")
    notscaling = os.path.join(workdir, "other.h5")
    import h5py
    with h5py.File(notscaling, "w") as f:
        f["x"] = [1]
    text = os.path.join(workdir, "text.h5")
    with open(text, "w") as f:
        f.write("not hdf5\n")
    cases = [
        (scaling + ["run"] + base + ["--n", "0"], "--n"),
        (scaling + ["run"] + base + ["--n", "1e3,abc"], "--n: 'abc' is not a number"),
        (scaling + ["run"] + base + ["--ranks", "1,1"], "--ranks: repeated"),
        (scaling + ["run"] + base + ["--steps", "0"], "--steps must be >= 1"),
        (scaling + ["run"] + base + ["--n", "1", "--ranks", "2"], "fewer rows than ranks"),
        (scaling + ["run", "--uhn", "/nonexistent/uhn", "--out", out], "--uhn"),
        (scaling + ["run"] + [x if x != h5 else "/nonexistent/dir/x.h5" for x in base],
         "--out: the directory"),
        (scaling + ["bogus"], "usage: scaling.py"),
        (plot + [os.path.join(workdir, "missing.h5")], "no such file"),
        (plot + [text], "not an HDF5 file"),
        (plot + [notscaling], "no dataset 'coords/batch'"),
        (plot + [os.path.join(workdir, "s.h5"), "--nodes", "0"], "--nodes"),
        (plot + [os.path.join(workdir, "s.h5"), "--outdir", "/nonexistent/dir"], "--outdir"),
    ]
    for cmd, want in cases:
        p = run(cmd, env, 60)
        what = " ".join(cmd[1:])
        check(p.returncode == 2, f"{what}: exit {p.returncode}, expected 2")
        check(want in p.stderr, f"{what}: stderr lacks {want!r}: {p.stderr.strip()!r}")
        check("Traceback" not in p.stderr, f"{what}: traceback")
        check(len(p.stderr.strip().splitlines()) == 1, f"{what}: not one line: {p.stderr!r}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scaling", required=True)
    ap.add_argument("--plot", required=True)
    ap.add_argument("--uhn", required=True)
    ap.add_argument("--mpirun", default="mpirun")
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--timeout", type=float, default=120)
    a = ap.parse_args()
    shutil.rmtree(a.workdir, ignore_errors=True)
    os.makedirs(a.workdir)
    env = dict(os.environ, **MPI_ENV, MPLBACKEND="Agg", PYTHONDONTWRITEBYTECODE="1")
    env.pop("OPENBLAS_CORETYPE", None)
    h5 = os.path.join(a.workdir, "s.h5")
    base = ["--uhn", a.uhn, "--out", h5, "--mpirun", a.mpirun,
            "--n", ",".join(map(str, N_LIST)), "--n-ranks", "2", "--ranks", "1,2",
            "--ranks-n", str(N_LIST[-1]), "--k", str(K), "--batch", "1,64",
            "--steps", str(STEPS), "--repeat", "1", "--allreduce-bytes", "8,4096",
            "--allreduce-seconds", "0.01", "--timeout", str(a.timeout)]
    p = run([sys.executable, a.scaling, "run"] + base, env, 4 * a.timeout)
    print(p.stdout)
    if not check(p.returncode == 0, f"scaling.py run exit {p.returncode}: {p.stderr[-2000:]}"):
        return 1
    version = run([a.uhn, "--version"], env, 30).stdout.strip()
    check_layout(h5, version)
    data = read_file(h5)
    for msg in consistency(p.stdout, data):
        check(False, msg)
    # The checker can fail: a doctored total is caught.
    lines = p.stdout.splitlines()
    k = next(i for i, ln in enumerate(lines) if ROW.match(ln))
    parts = lines[k].split()
    parts[7] = f"{float(parts[7]) + 0.001:.6f}"
    lines[k] = " ".join(parts)
    check(any("!= total" in s for s in consistency("\n".join(lines), data)),
          "the consistency check missed a doctored total")
    check(not [x for x in os.listdir(a.workdir) if x.startswith("scaling_bank")],
          "synthetic banks left behind")

    q = run([sys.executable, a.plot, h5], env, a.timeout)
    print(q.stdout)
    check(q.returncode == 0, f"plot_scaling.py exit {q.returncode}: {q.stderr[-2000:]}")
    for png in ("scaling_vs_n.png", "scaling_vs_ranks.png", "scaling_model.png"):
        path = os.path.join(a.workdir, png)
        ok = os.path.isfile(path) and os.path.getsize(path) > 5000
        with open(path, "rb") if ok else open(os.devnull, "rb") as f:
            check(ok and f.read(8) == b"\x89PNG\r\n\x1a\n", f"{png} missing or not a PNG")
    md = os.path.join(a.workdir, "scaling_tables.md")
    if check(os.path.isfile(md), "scaling_tables.md missing"):
        rows = [ln for ln in open(md) if re.match(r"\| (1|64) \| \d+ \| \d+ \| ", ln)]
        check(len(rows) == 2 * 10, f"{len(rows)} model rows in scaling_tables.md, expected 20")
    check_model(a.plot)
    check_errors(a, env, base, a.workdir, h5)
    if failures:
        print(f"{len(failures)} check(s) failed", file=sys.stderr)
        return 1
    print("test_scaling: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
