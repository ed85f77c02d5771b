#!/usr/bin/python3
"""Bad input to `uhn separability` (spec §14, handled as §8): one CTest test per
case and rank count.

For a case, the same bad command is run under `mpiexec -n R`, as in
tests/cli/recall_errors.py (whose checks are reused): with --output naming a
file that does not exist, then an existing one (at more than 1 rank only the
second, where the case has one). Each run must exit with status
2, print exactly one 'uhn:' line on stderr naming the culprit, leave no file
behind and the existing output byte-for-byte untouched. A run that does not
exit within --timeout seconds is killed and fails.

    separability_errors.py --list
    separability_errors.py --uhn ./uhn --mpiexec mpiexec --ranks 3 --case nan_queries
"""
import os
import sys
import tempfile

import h5py
import numpy as np

from sep_common import Runner, TestFailure, check, common_args, main_wrapper, write  # noqa: F401
from recall_errors import check_message, listing, sha256  # tests/cli, put on sys.path by sep_common

B, N, D = 9, 37, 12


def base_inputs(d, rng):
    M = rng.random((N, D), dtype=np.float32)
    Q = (M[:B] + 0.1 * rng.random((B, D), dtype=np.float32)).astype(np.float32)
    write(os.path.join(d, "m.h5"), memories=M)
    write(os.path.join(d, "q.h5"), queries=Q)
    return Q, M


def good(d):
    return {"--queries": os.path.join(d, "q.h5"), "--memories": os.path.join(d, "m.h5")}


def _opt(name, value, *culprits):
    def f(d, Q, M):
        o = good(d)
        o[name] = value
        return o, list(culprits) or [name.lstrip("-")]
    return f


def _data(file, dataset, data, option, *culprits):
    """Writes `data` as file:dataset and points `option` at it."""
    def f(d, Q, M):
        p = os.path.join(d, file)
        write(p, **{dataset: data(Q, M) if callable(data) else data})
        o = good(d)
        o[option] = p + ":" + dataset
        return o, list(culprits)
    return f


def _set(a, idx, v):
    a = a.copy()
    a[idx] = v
    return a


def c_not_hdf5(d, Q, M):
    p = os.path.join(d, "plain.h5")
    with open(p, "w") as f:
        f.write("not hdf5\n")
    o = good(d)
    o["--memories"] = p
    return o, ["plain.h5"]


def c_missing_default_dataset(d, Q, M):
    write(os.path.join(d, "other.h5"), stuff=Q)
    o = good(d)
    o["--queries"] = os.path.join(d, "other.h5")
    return o, ["queries"]


def c_not_numeric(d, Q, M):
    with h5py.File(os.path.join(d, "m.h5"), "a") as f:
        f.create_dataset("words", data=np.array([[b"ab", b"cd"]] * 3))
    o = good(d)
    o["--memories"] = os.path.join(d, "m.h5") + ":words"
    return o, ["words"]


def c_missing_required(opt):
    def f(d, Q, M):
        o = good(d)
        o.pop(opt, None)
        if opt == "--output":
            o["--output"] = None  # marker: run without --output
        return o, [opt.lstrip("-")]
    return f


def c_output_is_input(d, Q, M):
    o = good(d)
    o["--output"] = os.path.join(d, "m.h5")
    return o, ["--output"], {"existing": False}


def c_output_dir_missing(d, Q, M):
    o = good(d)
    o["--output"] = os.path.join(d, "no_such_dir", "out.h5")
    return o, ["no_such_dir"]


CASES = {
    "missing_queries_file": _opt("--queries", "no_such_q.h5", "no_such_q.h5"),
    "missing_memories_file": _opt("--memories", "no_such_m.h5", "no_such_m.h5"),
    "not_hdf5": c_not_hdf5,
    "missing_dataset": _opt("--memories", "m.h5:nope", "nope"),
    "missing_default_dataset": c_missing_default_dataset,
    "not_2d_3d": _data("m3.h5", "cube", lambda Q, M: M.reshape(N, 3, 4), "--memories", "cube"),
    "not_2d_1d": _data("q1.h5", "line", lambda Q, M: Q[0], "--queries", "line"),
    "not_2d_scalar": _data("q0.h5", "one", np.float32(1), "--queries", "one"),
    "not_numeric": c_not_numeric,
    "empty_queries": _data("qe.h5", "none", np.zeros((0, D), np.float32), "--queries", "none"),
    "empty_columns": _data("me.h5", "thin", np.zeros((N, 0), np.float32), "--memories", "thin"),
    "code_length_mismatch": _data("q11.h5", "queries", lambda Q, M: Q[:, :D - 1], "--queries",
                                  "q11.h5"),
    "more_queries_than_memories": _data("qbig.h5", "queries",
                                        lambda Q, M: np.ones((N + 1, D), np.float32), "--queries",
                                        "re:B = 38"),
    "one_memory": _data("m1.h5", "memories", lambda Q, M: M[:1], "--memories", "N >= 2"),
    "nan_queries": _data("qn.h5", "queries", lambda Q, M: _set(Q, (6, 2), np.nan), "--queries",
                         "re:row 6 column 2"),
    "inf_memories": _data("mi.h5", "memories", lambda Q, M: _set(M, (17, 5), np.inf),
                          "--memories", "re:row 17 column 5"),
    "nan_memories_last_row": _data("ml.h5", "memories",
                                   lambda Q, M: _set(_set(M, (N - 1, 0), np.nan), (N - 1, 3), np.nan),
                                   "--memories", "re:row 36 column 0"),
    "overflow_memories": _data("mo.h5", "memories",
                               lambda Q, M: _set(M.astype(np.float64), (30, 1), 1e300),
                               "--memories", "re:\\b30\\b"),
    "bins_zero": _opt("--bins", "0", "--bins"),
    "bins_negative": _opt("--bins", "-3", "--bins"),
    "bins_huge": _opt("--bins", "1000001", "--bins"),
    "bins_beyond_64": _opt("--bins", "99999999999999999999", "--bins"),
    "bins_fraction": _opt("--bins", "2.5", "--bins"),
    "bins_junk": _opt("--bins", "200x", "--bins"),
    "block_zero": _opt("--block", "0", "--block"),
    "tile_zero": _opt("--tile", "0", "--tile"),
    "unknown_option": _opt("--beta", "2", "--beta"),
    "missing_queries_option": c_missing_required("--queries"),
    "missing_memories_option": c_missing_required("--memories"),
    "missing_output_option": c_missing_required("--output"),
    "option_without_value": _opt("--bins", None, "--bins"),
    "output_is_input": c_output_is_input,
    "output_dir_missing": c_output_dir_missing,
}


def contents(d):
    """sha256 of every file in d (inputs and any existing output)."""
    return {p: sha256(os.path.join(d, p)) for p in listing(d) if os.path.isfile(os.path.join(d, p))}


def argv(opts):
    out, last = [], []
    for k, v in opts.items():
        if v is None:
            last.append(k)
        else:
            out += [k, v]
    return out + last


def run_case(runner, name, ranks, workdir):
    rng = np.random.default_rng(4321)
    with tempfile.TemporaryDirectory(dir=workdir, prefix=f"seperr_{name}_np{ranks}_") as d:
        Q, M = base_inputs(d, rng)
        opts, culprits, *extra = CASES[name](d, Q, M)
        no_output = opts.get("--output", "") is None
        if no_output:
            del opts["--output"]
        explicit = "--output" in opts or no_output
        target = opts.get("--output") or os.path.join(d, "out.h5")
        if not explicit:
            opts["--output"] = target
        args = ["separability"] + argv(opts)

        if ranks == 1 or explicit:
            before, digests = listing(d), contents(d)
            rc, out, err = runner.run(ranks, args, cwd=d)
            line = check_message(name, rc, out, err, culprits, ranks)
            check(contents(d) == digests, f"[{name}, {ranks} ranks] a failed run changed a file")
            check(listing(d) == before, f"[{name}, {ranks} ranks] files created by a failed run: "
                                        f"{sorted(listing(d) - before)}")
        if not explicit:
            check(not os.path.exists(target), f"[{name}] output {target} created by a failed run")
            with h5py.File(target, "w") as f:
                f.create_dataset("sentinel", data=np.arange(10.0))
            digest, mtime = sha256(target), os.stat(target).st_mtime_ns
            before = listing(d)
            rc, out, err = runner.run(ranks, args, cwd=d)
            line = check_message(name, rc, out, err, culprits, ranks)
            check(sha256(target) == digest and os.stat(target).st_mtime_ns == mtime,
                  f"[{name}, {ranks} ranks] a failed run changed the existing output")
            check(listing(d) == before, f"[{name}, {ranks} ranks] files left behind: "
                                        f"{sorted(listing(d) - before)}")
        print(f"{name} at {ranks} ranks: exit 2, {line}")


def main():
    if "--list" in sys.argv:
        print(";".join(CASES))
        return
    ap = common_args(__doc__)
    ap.add_argument("--ranks", type=int, required=True)
    ap.add_argument("--case", action="append", required=True, help="case name, or 'all'")
    args = ap.parse_args()
    runner = Runner(args)
    names = list(CASES) if "all" in args.case else args.case
    for n in names:
        check(n in CASES, f"unknown case {n!r}")
    for n in names:
        run_case(runner, n, args.ranks, args.workdir)


if __name__ == "__main__":
    if "--list" in sys.argv:
        main()
    else:
        main_wrapper(main)
