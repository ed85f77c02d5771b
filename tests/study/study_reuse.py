#!/usr/bin/python3
"""`uhn run` shares the bank of (n, trial) among the points that share n, and
the encoded bank of (n, trial, encoder) among the points of one encoder
(src/experiments/study.c, sweep()). Sharing must not change a bit:

  1. a study of 16 points (2 n x 2 encoders x 2 similarities x 2 betas, 3
     trials, separability and trajectories on) at --ranks R;
  2. each of its points on its own, a one-point study of the same deck with
     every axis fixed to the point's value, so that nothing is shared: every
     dataset of the point (but `seconds`) bit-identical to its entry in (1);
  3. the study of (1) with UHN_STUDY_REUSE=0, which makes `uhn run` draw,
     read, encode and commit the bank afresh for every (point, trial), as it
     did before the sharing: bit-identical to (1);
  4. the study of (1) in runs of --max-points 5, 3, then the rest (a group cut
     short at every stop, in the middle of an n): bit-identical to (1).

  5. separability over n and over the corruption level with one encoder,
     computed once per (n, encoder, level) and copied to the points that share
     them: bit-identical to UHN_STUDY_REUSE=0, which computes it at every point.

(2) checks the order of the work (a group runs trial by trial), (3) what is
kept from one (point, trial) to the next.

    study_reuse.py --uhn ./uhn --mpiexec mpiexec --ranks 2
"""
import itertools
import os
import sys
import tempfile

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cli"))
from uhn_cli import Runner, check, common_args, main_wrapper  # noqa: E402

DECK = """\
[data]
source = fashion-mnist:train

[memory]
n = 60, 150

[encoder]
name = identity, random
dim = 32
seed = 3

[network]
similarity = dot, euclidean
beta = 0.5, 8
steps = 2

[query]
corruption = mask_top
level = 0.5
count = 25

[experiment]
trials = 3
seed = 11

[output]
file = {out}
save_images = 2
separability = on
trajectory = 1, 2
quiet = on
"""
AXES = {"memory.n": ["60", "150"], "encoder.name": ["identity", "random"],
        "network.similarity": ["dot", "euclidean"], "network.beta": ["0.5", "8"]}
NAXES = 11  # the sweep axes that lead the shape of every per-point dataset; where ours are:
AXIS_AT = {"memory.n": 0, "encoder.name": 1, "network.similarity": 2, "network.beta": 4}


def datasets(path):
    out = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset) and not name.startswith("encoders/"):
                out[name] = obj[...]
        f.visititems(visit)
    return out


def same_bits(a, b):
    if a.dtype == object or b.dtype == object:  # strings (the scales of string axes)
        return a.shape == b.shape and a.tolist() == b.tolist()
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def run_ok(runner, ranks, argv, cwd, want=0):
    rc, out, err = runner.run(ranks, ["run"] + argv, cwd=cwd)
    check(rc == want, f"uhn run {' '.join(argv)}: exit {rc}, expected {want}\nstdout:\n{out}\n"
                      f"stderr:\n{err}")


def main():
    ap = common_args(__doc__)
    ap.add_argument("--ranks", type=int, default=2)
    args = ap.parse_args()
    runner = Runner(args)
    R = args.ranks
    with tempfile.TemporaryDirectory(prefix="uhn_reuse_") as tmp:
        work = args.workdir or tmp
        deck = os.path.join(work, "study.ini")
        with open(deck, "w") as f:
            f.write(DECK.format(out="study.h5"))
        run_ok(runner, R, [deck], work)
        whole = datasets(os.path.join(work, "study.h5"))
        check(whole["done"].all(), "the study is not complete")

        # (2) every point alone
        keys = list(AXES)
        compared = 0
        for values in itertools.product(*(AXES[k] for k in keys)):
            out = "p_" + "_".join(v.replace(".", "") for v in values) + ".h5"
            over = [f"{k}={v}" for k, v in zip(keys, values)] + [f"output.file={out}"]
            run_ok(runner, R, [deck] + over, work)
            one = datasets(os.path.join(work, out))
            at = [0] * NAXES
            for k, v in zip(keys, values):
                at[AXIS_AT[k]] = AXES[k].index(v)
            for name, ref in whole.items():
                if name == "seconds" or name not in one:
                    continue  # trajectory_code: only where some encoder is not identity
                if ref.ndim < NAXES:
                    continue  # the dimension scales and separability/bin_edges
                got = one[name][(0,) * NAXES]
                want = ref[tuple(at)]
                check(same_bits(got, want),
                      f"point {dict(zip(keys, values))}: '{name}' of the one-point study "
                      f"differs from its entry in the whole study\n{got!r}\n{want!r}")
                compared += 1
        print(f"{compared} datasets of 16 one-point studies bit-identical to the whole study")

        # (3) nothing kept
        runner.env["UHN_STUDY_REUSE"] = "0"
        run_ok(runner, R, [deck, "output.file=afresh.h5"], work)
        del runner.env["UHN_STUDY_REUSE"]
        fresh = datasets(os.path.join(work, "afresh.h5"))
        check(sorted(fresh) == sorted(whole), "the study built afresh has other datasets")
        for name, ref in whole.items():
            if name != "seconds":
                check(same_bits(fresh[name], ref),
                      f"'{name}' of the study with every bank built afresh (UHN_STUDY_REUSE=0) "
                      f"differs from the study that shares them")
        print("the study with every bank built afresh: bit-identical")

        # (4) in runs of 5, 3 and the rest
        run_ok(runner, R, [deck, "output.file=cut.h5", "--max-points", "5"], work, want=3)
        run_ok(runner, R, [deck, "output.file=cut.h5", "--max-points", "3", "--resume"], work,
               want=3)
        run_ok(runner, R, [deck, "output.file=cut.h5", "--resume"], work)
        cut = datasets(os.path.join(work, "cut.h5"))
        check(sorted(cut) == sorted(whole), "the resumed study has other datasets")
        for name, ref in whole.items():
            if name != "seconds":
                check(same_bits(cut[name], ref),
                      f"'{name}' of the study run in pieces differs from the whole study")
        print("the study in runs of 5, 3 and 8 points: bit-identical")

        # (5) separability, computed once for the points that share (n, encoder,
        # level) and copied to the others: one encoder, so that consecutive
        # points differ by n alone in one study and by the level alone in the other
        for i, over in enumerate((["memory.n=60,150"], ["memory.n=60", "query.level=0.5,0.25"])):
            over = over + ["encoder.name=identity", "network.similarity=dot",
                           "experiment.trials=1", "output.trajectory=1"]
            run_ok(runner, R, [deck, f"output.file=sep{i}.h5"] + over, work)
            runner.env["UHN_STUDY_REUSE"] = "0"
            run_ok(runner, R, [deck, f"output.file=sep{i}_fresh.h5"] + over, work)
            del runner.env["UHN_STUDY_REUSE"]
            sep = datasets(os.path.join(work, f"sep{i}.h5"))
            fresh = datasets(os.path.join(work, f"sep{i}_fresh.h5"))
            names = [n for n in sep if n.startswith("separability/")]
            check(len(names) >= 9, f"separability datasets: {names}")
            for name in names:
                check(same_bits(sep[name], fresh[name]),
                      f"{' '.join(over)}: '{name}' differs from the study built afresh")
            print(f"{' '.join(over[:2])}: separability bit-identical to the study built afresh")


if __name__ == "__main__":
    main_wrapper(main)
