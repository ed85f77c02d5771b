#!/usr/bin/python3
"""A sweep split into parts (`uhn run DECK --part I/K`) and merged (`uhn merge
OUT PART.h5...`) gives the file of a single run: every dataset bit-identical
(but `seconds`), the same attributes (but the part ones and the provenance).

Cases (--case):
  merge   the 16-point deck of study_reuse.py (2 n x 2 encoders x 2
          similarities x 2 betas, separability, trajectories, saved images)
          as one run at --ranks R, then in 3 parts, and in 5 parts with part 1 stopped by --max-points and resumed: each
          part file holds exactly its share (consecutive points, none empty,
          together every point once), and both merges equal the single run,
          which `uhn run` then takes as its complete results.
  errors  every refusal of `uhn merge` and of `uhn run --part`: exit 2, the
          exact line on stderr, and no merged file written.

    study_parts.py --uhn ./uhn --mpiexec mpiexec --case merge --ranks 2
"""
import concurrent.futures
import os
import shutil
import sys
import tempfile

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cli"))
from uhn_cli import Runner, check, common_args, main_wrapper, program_stderr_lines  # noqa: E402
from study_reuse import DECK, same_bits  # noqa: E402

CASES = ["merge", "errors"]
PART_ATTRS = {"part_index", "part_count", "part_points"}


def everything(path):
    """Every dataset (values) and the root attributes of a results file."""
    data = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda n, o: data.__setitem__(n, o[...])
                     if isinstance(o, h5py.Dataset) else None)
        attrs = {k: f.attrs[k] for k in f.attrs}
        prov = {k: f["provenance"].attrs[k] for k in f["provenance"].attrs}
    return data, attrs, prov


def run(runner, ranks, argv, cwd, want=0):
    rc, out, err = runner.run(ranks, argv, cwd=cwd)
    check(rc == want, f"uhn {' '.join(argv)} at {ranks} ranks: exit {rc}, expected {want}\n"
                      f"stdout:\n{out}\nstderr:\n{err}")
    return out, err


def same_as_single(merged, single, what):
    md, ma, mp = everything(merged)
    sd, sa, _ = everything(single)
    check(sorted(md) == sorted(sd), f"{what}: datasets {sorted(set(md) ^ set(sd))} differ")
    for name, ref in sd.items():
        if name != "seconds":
            check(same_bits(md[name], ref), f"{what}: dataset '{name}' differs from the single run")
    check(not PART_ATTRS & set(ma), f"{what}: part attributes left: {PART_ATTRS & set(ma)}")
    check(sorted(ma) == sorted(sa), f"{what}: root attributes {sorted(set(ma) ^ set(sa))} differ")
    for k, v in sa.items():
        check(np.array_equal(ma[k], v), f"{what}: attribute '{k}' is {ma[k]!r}, single run {v!r}")
    return mp


def check_shares(paths, P, what):
    """The part files hold consecutive, non-empty shares that cover every point once."""
    owner = np.full(P, -1)
    for i, path in enumerate(paths):
        with h5py.File(path, "r") as f:
            check(int(f.attrs["part_index"]) == i and int(f.attrs["part_count"]) == len(paths),
                  f"{what}: '{path}' says part {f.attrs['part_index']} of {f.attrs['part_count']}")
            check(int(f.attrs["complete"]) == 1, f"{what}: '{path}' is not complete")
            done = f["done"][...].reshape(-1).astype(bool)
            check(int(f.attrs["part_points"]) == done.sum() == int(f.attrs["points_done"]),
                  f"{what}: '{path}': part_points, points_done and the done flags disagree")
            # the points outside the share are empty (NaN), those inside are not
            frac = f["frac_correct"][...].reshape(-1)
            check(np.isnan(frac[~done]).all() and not np.isnan(frac[done]).any(),
                  f"{what}: '{path}' holds data exactly for its done points: no")
        check(done.any(), f"{what}: part {i} of {len(paths)} is empty")
        check(not (owner[done] >= 0).any(), f"{what}: a point is in two parts")
        owner[done] = i
    check((owner >= 0).all(), f"{what}: points {np.flatnonzero(owner < 0)} are in no part")
    check((np.diff(owner) >= 0).all(), f"{what}: the shares are not runs of consecutive points")


def case_merge(runner, work, R):
    deck = os.path.join(work, "study.ini")
    with open(deck, "w") as f:
        f.write(DECK.format(out="study.h5"))
    run(runner, R, ["run", deck], work)
    single = os.path.join(work, "study.h5")

    # 3 parts (at the ranks of the single run: the floating-point sums over the
    # ranks then add in the same order, and every bit must agree)
    parts = []
    for i in range(3):
        out, _ = run(runner, 1, ["run", deck, "--part", f"{i}/3", "--print-output"], work)
        parts.append(out.strip())
        run(runner, R, ["run", deck, "--part", f"{i}/3"], work)
    check(parts == [f"study.part{i}of3.h5" for i in range(3)], f"part files named {parts}")
    check_shares([os.path.join(work, p) for p in parts], 16, "3 parts")
    run(runner, R, ["merge", "merged3.h5"] + parts[::-1], work)  # any order
    prov = same_as_single(os.path.join(work, "merged3.h5"), single, "3 parts merged")
    check(prov["merged_from"].split("\n") == parts[::-1], f"merged_from is {prov['merged_from']!r}")
    check("merge merged3.h5" in prov["merge_command"], f"merge_command {prov['merge_command']!r}")
    out, _ = run(runner, R, ["run", deck, "output.file=merged3.h5", "output.quiet=off"], work)
    check("already holds the complete results of this deck" in out,
          f"uhn run does not take the merged file as complete:\n{out}")
    print("3 parts merged: bit-identical to the single run")

    # 5 parts, part 1 in two runs (--max-points 1, then --resume)
    for i in range(5):
        if i == 1:
            run(runner, R, ["run", deck, "--part", "1/5", "--max-points", "1"], work, want=3)
            check(os.path.exists(os.path.join(work, "study.part1of5.h5.partial")),
                  "no checkpoint of the stopped part")
            _, err = run(runner, R, ["merge", "m5.h5"] + [f"study.part{j}of5.h5" for j in range(5)],
                         work, want=2)
            run(runner, R, ["run", deck, "--part", "1/5", "--resume"], work)
        else:
            run(runner, R, ["run", deck, "--part", f"{i}/5"], work)
    parts5 = [os.path.join(work, f"study.part{i}of5.h5") for i in range(5)]
    check_shares(parts5, 16, "5 parts")
    run(runner, R, ["merge", "merged5.h5"] + parts5, work)
    same_as_single(os.path.join(work, "merged5.h5"), single, "5 parts merged")
    print("5 parts, one of them resumed, merged: bit-identical to the single run")


def case_errors(runner, work, R):
    deck = os.path.join(work, "study.ini")
    small = DECK.format(out="s.h5").replace("n = 60, 150", "n = 60").replace(
        "name = identity, random", "name = identity").replace("separability = on", "")
    with open(deck, "w") as f:
        f.write(small)  # 4 points
    for i in range(2):
        run(runner, R, ["run", deck, "--part", f"{i}/2"], work)
    run(runner, R, ["run", deck], work)
    run(runner, R, ["run", deck, "--part", "0/3", "experiment.trials=2", "output.file=t.h5"], work)
    run(runner, R, ["run", deck, "--part", "0/3", "--max-points", "1"], work, want=3)
    os.rename(os.path.join(work, "s.part0of3.h5.partial"), os.path.join(work, "partial.h5"))
    with h5py.File(os.path.join(work, "foreign.h5"), "w") as f:
        f["x"] = np.arange(3)
    with open(os.path.join(work, "text.h5"), "w") as f:
        f.write("not hdf5\n")
    # a part whose non-point data (an axis) was changed after the run
    shutil.copy(os.path.join(work, "s.part1of2.h5"), os.path.join(work, "edited.h5"))
    with h5py.File(os.path.join(work, "edited.h5"), "a") as f:
        f["beta"][0] = 0.25
    # a part whose done flags claim a point of the other part
    shutil.copy(os.path.join(work, "s.part1of2.h5"), os.path.join(work, "both.h5"))
    with h5py.File(os.path.join(work, "both.h5"), "a") as f:
        d = f["done"][...]
        d.reshape(-1)[0] = 1
        f["done"][...] = d

    p0, p1 = "s.part0of2.h5", "s.part1of2.h5"
    cases = [
        (["merge", "m.h5", p0], "part 1 of 2 is missing (uhn merge needs all 2 parts of the sweep)"),
        (["merge", "m.h5", p0, p0], f"'{p0}' and '{p0}' are both part 0 of 2"),
        (["merge", "m.h5", p0, "s.h5"],
         "'s.h5' holds a whole study, not a part of a sweep (uhn run --part I/K): it needs no merge"),
        (["merge", "m.h5", p0, "foreign.h5"], "'foreign.h5' is not the results of a uhn run"),
        (["merge", "m.h5", p0, "text.h5"], "'text.h5' is not an HDF5 file"),
        (["merge", "m.h5", p0, "gone.h5"], "'gone.h5' does not exist"),
        (["merge", "m.h5", p0, "t.part0of3.h5"],
         f"'{p0}' and 't.part0of3.h5' are parts of different decks "
         "('[experiment] trials = 3' against '[experiment] trials = 2')"),
        (["merge", "m.h5", p0, "partial.h5"],
         "'partial.h5': part 0 of 3 is not complete (1 of its 2 points done); "
         "run its uhn run --part again to finish it"),
        (["merge", "m.h5", p0, "edited.h5"],
         f"'{p0}' and 'edited.h5' differ in 'beta', which is the same for every point of a sweep: "
         "they are not parts of one run"),
        (["merge", "m.h5", p0, "both.h5"], f"point 0 is done in both '{p0}' and 'both.h5'"),
        (["merge", p0, p0, p1], f"the merged file '{p0}' is one of the parts"),
        (["merge", "m.h5"], "usage: uhn merge OUT PART.h5... (no part files given)"),
        (["merge", "m.h5", p0, "--fast"], "unknown option '--fast' (see uhn merge --help)"),
        (["run", deck, "--part", "2/2"], "--part: '2/2' is not I/K with integers 0 <= I < K <= 1000000"),
        (["run", deck, "--part", "1"], "--part: '1' is not I/K with integers 0 <= I < K <= 1000000"),
        (["run", deck, "--part", "-1/2"], "--part: '-1/2' is not I/K with integers 0 <= I < K <= 1000000"),
        (["run", deck, "--part"], "--part needs a value I/K (0 <= I < K)"),
        (["run", deck, "output.file=s.part0of2.h5"],
         f"'{p0}' holds part 0 of 2 of a sweep, not a whole study: combine the parts with uhn "
         "merge, or run with --fresh"),
    ]

    def one(i):  # the refusals read the files above, 4 at a time, each its own m<i>.h5
        argv, want = cases[i]
        argv = [f"m{i}.h5" if a == "m.h5" else a for a in argv]
        rc, _, err = runner.run(R, argv, cwd=work)
        lines = program_stderr_lines(err)
        check(rc == 2, f"uhn {' '.join(argv)}: exit {rc}, expected 2\nstderr:\n{err}")
        check(set(lines) == {f"uhn: {want}"},
              f"uhn {' '.join(argv)}: stderr\n{err}\nexpected the one line\nuhn: {want}")
        check(not os.path.exists(os.path.join(work, f"m{i}.h5")),
              f"uhn {' '.join(argv)} wrote m{i}.h5")

    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(one, range(len(cases))))  # the first failure raises here
    # the part file of another part, resumed under this part's name
    shutil.copy(os.path.join(work, p0), os.path.join(work, "s.part1of2.h5"))
    rc, _, err = runner.run(R, ["run", deck, "--part", "1/2"], cwd=work)
    want = ("uhn: 's.part1of2.h5' holds part 0 of 2, not part 1 of 2; the file is damaged: "
            "remove it or run with --fresh")
    check(rc == 2 and set(program_stderr_lines(err)) == {want},
          f"a part file of part 0 named as part 1: exit {rc}\n{err}\nexpected\n{want}")
    print(f"{len(cases) + 1} bad inputs: exit 2, one line each, nothing written")


def main():
    ap = common_args(__doc__)
    ap.add_argument("--case", choices=CASES)
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--list", action="store_true")
    if "--list" in sys.argv:
        print(";".join(CASES))
        return
    args = ap.parse_args()
    runner = Runner(args)
    with tempfile.TemporaryDirectory(prefix="uhn_parts_") as tmp:
        work = args.workdir or tmp
        {"merge": case_merge, "errors": case_errors}[args.case](runner, work, args.ranks)


if __name__ == "__main__":
    if "--list" in sys.argv:
        print(";".join(CASES))
        sys.exit(0)
    main_wrapper(main)
