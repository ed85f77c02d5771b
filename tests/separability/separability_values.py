#!/usr/bin/python3
"""`uhn separability` against the numpy reference of spec §12 (sep_common.py).

    separability_values.py --uhn ./uhn --mpiexec mpiexec --ranks 3
        every case at one rank count: histograms exact (the data hold no value
        within 1e-9 of a bin edge, checked), top1 exact, scalars to 1e-6
        relative, the layout (types, shapes, description/units, attributes);
    separability_values.py ... --compare-ranks 1 2 3 4
        the same data at every rank count and at tiny and large block and tile
        sizes (--block, --tile): histograms and top1 identical, scalars equal to
        1e-12 relative (float64 sums in another order).
"""
import os
import tempfile

import h5py
import numpy as np

from sep_common import (SCALARS, ambiguous, check, common_args, compare, main_wrapper, make_codes,
                        read_result, reference, separability_ok, write, Runner)

# name: (B, N, D, seed, bins, extra options, dtype of the memories on disk)
CASES = {
    "default": (29, 67, 19, 11, None, [], np.float32),
    "float64_memories": (29, 67, 19, 11, None, [], np.float64),
    "bins7_tiny_blocks": (29, 67, 19, 12, 7, ["--block", "2", "--tile", "5"], np.float32),
    "bins1": (16, 40, 9, 13, 1, ["--block", "3", "--tile", "4"], np.float32),
    "square_b_equals_n": (12, 12, 30, 14, 50, ["--block", "1", "--tile", "1"], np.float32),
    "many_bins": (20, 130, 64, 15, 100000, ["--block", "8", "--tile", "24"], np.float32),
    "int16_codes": (24, 50, 11, 16, 40, [], np.int16),
}


def inputs(d, case):
    B, N, D, seed, bins, extra, mdtype = CASES[case]
    Q, M, ties = make_codes(B, N, D, seed) if B + 2 <= N else make_square(B, D, seed)
    if np.issubdtype(mdtype, np.integer):
        # integer codes: both inputs rounded, read as float32 by uhn
        Q, M = np.round(Q * 10), np.round(M * 10)
    nb = bins or 200
    amb = ambiguous(Q, M, nb, ties)
    check(amb == 0, f"[{case}] test data hold {amb} value(s) within round-off of a bin edge or a "
                    f"tie; change the seed")
    qp = write(os.path.join(d, "q.h5"), queries=Q.astype(np.float32 if not np.issubdtype(mdtype, np.integer) else mdtype))
    mp = write(os.path.join(d, "m.h5"), codes=M.astype(mdtype))
    argv = ["--queries", qp, "--memories", mp + ":codes"] + (["--bins", bins] if bins else []) + extra
    return argv, reference(Q.astype(np.float32).astype(np.float64), M.astype(np.float64), nb, ties), (B, N, D, nb)


def make_square(B, D, seed):
    """B == N: noisy copies, one zero query, no duplicates."""
    rng = np.random.default_rng(seed)
    M = rng.normal(size=(B, D)).astype(np.float32)
    Q = (M + 0.5 * rng.normal(size=(B, D))).astype(np.float32)
    Q[1] = 0
    return Q, M, (1,)


def check_layout(got, case, ranks, shape, argv):
    B, N, D, nb = shape
    where = f"[{case}, {ranks} ranks]"
    check(got["self_hist"].shape == (nb,) and got["cross_hist"].shape == (nb,),
          f"{where} histogram shapes {got['self_hist'].shape}, {got['cross_hist'].shape}")
    check(got["bin_edges"].shape == (nb + 1,) and got["bin_edges"].dtype == np.float64,
          f"{where} bin_edges {got['bin_edges'].shape} {got['bin_edges'].dtype}")
    check(int(got["self_hist"].sum()) == B, f"{where} self_hist sums to {got['self_hist'].sum()}")
    check(int(got["cross_hist"].sum()) == B * N - B,
          f"{where} cross_hist sums to {got['cross_hist'].sum()}, expected {B * N - B}")
    for k in SCALARS:
        check(np.ndim(got[k]) == 0 and np.asarray(got[k]).dtype == np.float64,
              f"{where} {k} is not a float64 scalar")
    for k, meta in got["meta"].items():
        check("description" in meta and "units" in meta, f"{where} dataset {k} lacks description/units")
    a = got["attrs"]
    for k, v in (("command", "separability"), ("bins", nb), ("n_queries", B), ("n_memories", N),
                 ("code_length", D), ("ranks", ranks)):
        check(k in a and (a[k] == v or (isinstance(a[k], bytes) and a[k].decode() == v)),
              f"{where} attribute {k} = {a.get(k)!r}, expected {v!r}")
    check("queries" in a and "memories" in a, f"{where} input attributes missing")


def run_values(runner, ranks, workdir):
    for case in CASES:
        with tempfile.TemporaryDirectory(dir=workdir, prefix=f"sep_{case}_np{ranks}_") as d:
            argv, ref, shape = inputs(d, case)
            out_path = os.path.join(d, "sep.h5")
            out, err = separability_ok(runner, ranks, argv + ["--output", out_path])
            check(out.count("uhn separability:") == 1, f"[{case}] expected one summary line, got:\n{out}")
            got = read_result(out_path)
            compare(got, ref, f"[{case}, {ranks} ranks]")
            check_layout(got, case, ranks, shape, argv)
            check(sorted(os.listdir(d)) == ["m.h5", "q.h5", "sep.h5"],
                  f"[{case}] stray files: {os.listdir(d)}")
            print(f"{case} at {ranks} ranks: top1 {float(got['top1']):.4f}, d' {float(got['dprime']):.4f}, ok")


def run_compare(runner, rank_list, workdir):
    variants = [[], ["--block", "1", "--tile", "1"], ["--block", "3", "--tile", "7"],
                ["--block", "5", "--tile", "1000"]]
    for case in ("default", "bins7_tiny_blocks"):
        with tempfile.TemporaryDirectory(dir=workdir, prefix=f"sep_cmp_{case}_") as d:
            argv, ref, _ = inputs(d, case)
            argv = [a for a in argv]
            # drop the case's own --block/--tile: the variants set them
            for opt in ("--block", "--tile"):
                if opt in argv:
                    i = argv.index(opt)
                    del argv[i:i + 2]
            first = None
            for ranks in rank_list:
                for v in variants:
                    p = os.path.join(d, f"sep_{ranks}_{len(v)}_{'_'.join(v)}.h5")
                    separability_ok(runner, ranks, argv + v + ["--output", p])
                    got = read_result(p)
                    where = f"[{case}, {ranks} ranks, {' '.join(v) or 'defaults'}]"
                    compare(got, ref, where)
                    if first is None:
                        first = got
                    else:
                        compare(got, first, where + " against the first run", rtol=1e-12)
            print(f"{case}: identical histograms and top1 at ranks {rank_list} x {len(variants)} block/tile variants")


def main():
    ap = common_args(__doc__)
    ap.add_argument("--ranks", type=int)
    ap.add_argument("--compare-ranks", type=int, nargs="+")
    args = ap.parse_args()
    runner = Runner(args)
    if args.compare_ranks:
        run_compare(runner, args.compare_ranks, args.workdir)
    else:
        check(args.ranks, "--ranks or --compare-ranks is required")
        run_values(runner, args.ranks, args.workdir)


if __name__ == "__main__":
    main_wrapper(main)
