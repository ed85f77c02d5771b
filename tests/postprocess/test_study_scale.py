#!/usr/bin/python3
"""Smoke test of the study-against-engine benchmark (postprocess/study_scale.py)
on tiny banks: 2000 x 64, 500 x 784 and 20000 x 784 at 1 and 2 ranks, 2
repeats, 10 queries. It checks what the script wrote and printed, never how fast
anything was:

- the HDF5 layout: provenance attributes, the dimension scales bank, ranks and
  repeat attached to every [bank][ranks][repeat] dataset, units and a
  description on every dataset, n_memories, k and shard_bytes (ceil(N / R) K 4,
  computed here by hand);
- invariants: every launch's whole wall time is at least the sum of the stage
  timers uhn printed inside it (store + recall stage; io + compute); the peak
  resident set is at least the peak private and the peak library pages sampled;
  the private memory grows with the bank by at least 90 % of the growth of the
  shard (20000 x 784 against 500 x 784: it sees the bank);
- consistency: every progress line equals the file's values (to the printed
  precision); the printed table and the Markdown file agree, and each row's
  ratios are recomputed from the file's best launches;
- nothing is left in the work directory but the results;
- every bad input gives exit status 2 and one line naming the option, no
  traceback; a uhn that fails gives exit status 1.

    test_study_scale.py --script postprocess/study_scale.py --uhn build/uhn
                        --mpirun mpiexec --workdir DIR
"""
import argparse
import os
import re
import shutil
import subprocess
import sys

MPI_ENV = {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
           "OMP_NUM_THREADS": "1"}
BANKS, RANKS, REPEAT, QUERIES = ((2000, 64), (500, 784), (20000, 784)), (1, 2), 2, 10

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print(f"FAIL: {what}", file=sys.stderr)
    return cond


def run(cmd, env, timeout):
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)


PROGRESS = re.compile(r"N = (\d+), K = (\d+), (\d+) rank\(s\): uhn run (\S+) s \(store (\S+), "
                      r"recall (\S+)\), uhn recall (\S+) s \(io (\S+), compute (\S+)\); peak RSS "
                      r"per rank (\d+) / (\d+) MB")


def check_file(path, printed, table_md, uhn_version):
    import h5py
    import numpy as np
    with h5py.File(path, "r") as f:
        for a in ("date", "host", "uhn_version", "OPENBLAS_CORETYPE", "OMP_NUM_THREADS",
                  "load_average_start", "load_average_end", "queries", "repeat", "description"):
            check(a in f.attrs, f"root attribute {a} missing")
        check(f.attrs.get("uhn_version") == uhn_version, "uhn_version != `uhn --version`")

        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                check("units" in obj.attrs and "description" in obj.attrs,
                      f"{name}: units or description missing")
        f.visititems(visit)
        for name, want in (("bank", list(range(len(BANKS)))), ("ranks", list(RANKS)),
                           ("repeat", list(range(REPEAT))),
                           ("n_memories", [n for n, _ in BANKS]), ("k", [k for _, k in BANKS])):
            if check(name in f, f"{name} missing"):
                check(list(f[name][()]) == want, f"{name} = {list(f[name][()])}, expected {want}")
        for name in ("bank", "ranks", "repeat"):
            check(f[name].attrs.get("CLASS") == b"DIMENSION_SCALE", f"{name} is not a scale")
        shard = [[-(-n // r) * k * 4 for r in RANKS] for n, k in BANKS]
        check(f["shard_bytes"][()].tolist() == shard,
              f"shard_bytes {f['shard_bytes'][()].tolist()} != {shard}")
        shape = (len(BANKS), len(RANKS), REPEAT)
        d = {}
        for g, stages in (("study", ("store_s", "recall_stage_s")),
                          ("recall", ("io_s", "compute_s"))):
            for name in ("wall_s",) + stages + ("peak_rss_bytes", "peak_anon_bytes",
                                                "peak_file_bytes"):
                ds = f[f"{g}/{name}"]
                check(ds.shape == shape, f"{g}/{name} shape {ds.shape} != {shape}")
                check([ds.dims[i][0].name for i in range(3)] == ["/bank", "/ranks", "/repeat"],
                      f"{g}/{name}: axes not labelled bank, ranks, repeat")
                d[g, name] = ds[()]
            a, b = (d[g, s] for s in stages)
            # uhn prints its stage timers to 0.01 s (run) or 1e-6 s (recall)
            check((d[g, "wall_s"] + 0.02 >= a + b).all(),
                  f"{g}: a launch's wall time under its own stage timers")
            check((a >= 0).all() and (b > 0).all() if g == "recall" else (a >= 0).all(),
                  f"{g}: negative stage times")
            rss, anon, lib = d[g, "peak_rss_bytes"], d[g, "peak_anon_bytes"], d[g, "peak_file_bytes"]
            check((anon > 0).all() and (lib > 0).all(), f"{g}: memory not sampled")
            check((rss >= anon).all() and (rss >= lib).all(),
                  f"{g}: peak RSS under its private or library part")
            # 20000 x 784 against 500 x 784 at 1 rank: the shard grows by 61 MB
            grow = anon[2, 0].min() - anon[1, 0].max()
            want = 0.9 * (shard[2][0] - shard[1][0])
            check(grow >= want, f"{g}: private memory grew by {grow / 1e6:.1f} MB for a shard "
                                f"{(shard[2][0] - shard[1][0]) / 1e6:.1f} MB larger")

    # Progress lines, in the order of the sweep: bank, repeat, ranks.
    lines = PROGRESS.findall(printed)
    check(len(lines) == len(BANKS) * len(RANKS) * REPEAT, f"{len(lines)} progress lines")
    order = [(b, i, r) for b in range(len(BANKS)) for i in range(REPEAT) for r in range(len(RANKS))]
    for (b, i, r), ln in zip(order, lines):
        n, k, ranks = (int(x) for x in ln[:3])
        check((n, k, ranks) == (BANKS[b] + (RANKS[r],)), f"progress line {ln[:3]} out of order")
        vals = [float(x) for x in ln[3:9]]
        want = [d["study", "wall_s"][b, r, i], d["study", "store_s"][b, r, i],
                d["study", "recall_stage_s"][b, r, i], d["recall", "wall_s"][b, r, i],
                d["recall", "io_s"][b, r, i], d["recall", "compute_s"][b, r, i]]
        check(all(abs(v - w) <= 6e-4 for v, w in zip(vals, want)),
              f"progress line {ln} != file {want}")
        check(int(ln[9]) == round(d["study", "peak_rss_bytes"][b, r, i] / 1e6) and
              int(ln[10]) == round(d["recall", "peak_rss_bytes"][b, r, i] / 1e6),
              f"progress line's peak RSS {ln[9:]} != file")

    # The table: printed and in the Markdown file, ratios from the best launches.
    rows = [ln for ln in printed.splitlines() if re.match(r"\| (10\^\d|\d)", ln)]
    md_rows = [ln for ln in table_md.splitlines() if re.match(r"\| (10\^\d|\d)", ln)]
    check(rows == md_rows and len(rows) == len(BANKS) * len(RANKS),
          f"printed table ({len(rows)} rows) != Markdown table ({len(md_rows)} rows)")
    for j, ln in enumerate(rows):
        b, r = divmod(j, len(RANKS))
        cells = [c.strip() for c in ln.strip("|").split("|")]
        s = int(np.argmin(d["study", "wall_s"][b, r]))
        e = int(np.argmin(d["recall", "wall_s"][b, r]))
        sw, ew = d["study", "wall_s"][b, r, s], d["recall", "wall_s"][b, r, e]
        check(cells[0] == f"{BANKS[b][0]} × {BANKS[b][1]}" and cells[1] == str(RANKS[r]),
              f"table row {j}: bank / ranks {cells[:2]}")
        check(cells[2] == f"{sw:.2f} s" and cells[4] == f"{ew:.2f} s",
              f"table row {j}: walls {cells[2]}, {cells[4]} != best {sw:.2f}, {ew:.2f}")
        check(cells[6] == f"{sw / ew:.2f}", f"table row {j}: run ÷ recall {cells[6]}")
        mem = [d["study", m][b, r].max() / shard[b][r]
               for m in ("peak_rss_bytes", "peak_anon_bytes", "peak_file_bytes")]
        mem.append(d["recall", "peak_rss_bytes"][b, r].max() / shard[b][r])
        check([float(c) for c in cells[8:12]] == [float(f"{m:.2f}") for m in mem],
              f"table row {j}: memory ratios {cells[8:12]} != {[round(m, 2) for m in mem]}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--script", required=True)
    ap.add_argument("--uhn", required=True)
    ap.add_argument("--mpirun", default="mpiexec")
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--timeout", type=float, default=120)
    args = ap.parse_args()
    env = dict(os.environ, **MPI_ENV)
    shutil.rmtree(args.workdir, ignore_errors=True)
    os.makedirs(args.workdir)
    out = os.path.join(args.workdir, "study_scale.h5")
    base = [sys.executable, args.script, "--uhn", args.uhn, "--mpirun", args.mpirun]
    p = run(base + ["--out", out, "--banks", ",".join(f"{n}x{k}" for n, k in BANKS),
                    "--ranks", ",".join(map(str, RANKS)), "--repeat", str(REPEAT),
                    "--queries", str(QUERIES), "--timeout", str(args.timeout)], env, 600)
    if not check(p.returncode == 0, f"study_scale.py exit {p.returncode}:\n{p.stderr[-3000:]}"):
        return 1
    version = run([args.uhn, "--version"], env, 30).stdout.strip()
    md = os.path.splitext(out)[0] + ".md"
    with open(md) as f:
        check_file(out, p.stdout, f.read(), version)
    left = sorted(os.listdir(args.workdir))
    check(left == ["study_scale.h5", "study_scale.md"], f"left in the work directory: {left}")

    bad = os.path.join(args.workdir, "bad.h5")
    cases = [
        (["--banks", "12x"], 2, "study_scale.py: --banks: '12x' is not NxK (as 1e6x64)"),
        (["--banks", "1e3x64x2"], 2, "study_scale.py: --banks: '1e3x64x2' is not NxK (as 1e6x64)"),
        (["--banks", "1e3x0"], 2, "study_scale.py: --banks: '1e3x0': '0' is not an integer >= 1"),
        (["--banks", "1e3x64,1000x64"], 2,
         "study_scale.py: --banks: repeated bank in '1e3x64,1000x64'"),
        (["--banks", "3x64", "--ranks", "1,4"], 2,
         "study_scale.py: --banks: N = 3 has fewer rows than ranks"),
        (["--ranks", "0"], 2, "study_scale.py: --ranks: '0' is not an integer >= 1"),
        (["--queries", "0"], 2, "study_scale.py: --queries must be >= 1 (got 0)"),
        (["--repeat", "0"], 2, "study_scale.py: --repeat must be >= 1 (got 0)"),
    ]
    for extra, code, want in cases:
        q = run(base + ["--out", bad, "--banks", "100x64"] + extra, env, 120)
        check(q.returncode == code and q.stderr.strip() == want,
              f"{extra}: exit {q.returncode}, stderr {q.stderr.strip()!r}; expected {code}, {want!r}")
    missing = os.path.join(args.workdir, "no", "such", "x.h5")
    q = run(base + ["--out", missing], env, 60)
    check(q.returncode == 2 and q.stderr.strip() ==
          f"study_scale.py: --out: the directory of {missing} does not exist",
          f"--out in a missing directory: {q.returncode} {q.stderr.strip()!r}")
    q = run([sys.executable, args.script, "--uhn", "/no/such/uhn", "--out", bad], env, 60)
    check(q.returncode == 2 and q.stderr.strip() ==
          "study_scale.py: --uhn: /no/such/uhn is not an executable program",
          f"--uhn missing: {q.returncode} {q.stderr.strip()!r}")
    # A uhn that runs but fails every launch: exit 1, one message, no traceback.
    q = run([sys.executable, args.script, "--uhn", "/bin/false", "--mpirun", args.mpirun,
             "--out", bad, "--banks", "100x64", "--repeat", "1", "--ranks", "1"], env, 120)
    check(q.returncode == 1 and "Traceback" not in q.stderr and
          q.stderr.startswith("study_scale.py: ") and " failed (" in q.stderr,
          f"a failing uhn: {q.returncode} {q.stderr[-400:]!r}")
    check(not os.path.exists(bad), "a failed run left its results file")
    if failures:
        print(f"{len(failures)} failure(s)", file=sys.stderr)
        return 1
    print("study_scale.py: layout, invariants, tables and bad inputs all checked")
    return 0


if __name__ == "__main__":
    sys.exit(main())
