#!/usr/bin/python3
"""What `uhn recall --output` (and `uhn run`'s output.file) may replace, and what its writer cleans up
(issue 7; the writer is h5io's, shared with `uhn run`).

Cases (one CTest test per case and rank count):
  fifo             --output names a FIFO: exit 2, one 'uhn:' line saying it is
                   not a regular file; the FIFO is still a FIFO afterwards.
  chardev          --output names a character device made with mknod in the
                   temporary folder (the same device as /dev/null; /dev/null
                   itself is never risked): refused, the node intact. Skipped
                   (exit 77) where mknod is not permitted.
  symlink_devnull  --output names a symbolic link to /dev/null: refused, the
                   link and /dev/null intact.
  symlink_regular  --output names a symbolic link to a regular file: accepted
                   (the documented rule): the link is replaced by the results
                   and its target is left byte-for-byte untouched.
  stale_tmp        temporary files of killed writers, OUT.tmp.<dead pid>.<n>,
                   are removed by the next successful run of OUT; a live
                   writer's (this test's pid), other outputs' and names that
                   only look alike (a suffix, a directory, a symbolic link)
                   are kept.
  run_fifo, run_stale_tmp
                   the same for `uhn run` (output.file a FIFO; temporaries of
                   its results and of its checkpoint, "<file>.partial").

    output_files.py --list
    output_files.py --uhn ./uhn --mpiexec mpiexec --ranks 3 --case fifo
"""
import hashlib
import os
import stat
import sys
import tempfile

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from uhn_cli import Runner, TestFailure, check, common_args, main_wrapper, program_stderr_lines  # noqa: E402

N, K, B = 23, 8, 5
SKIP = 77  # CTest's SKIP_RETURN_CODE for these tests


class Skip(Exception):
    pass


def inputs(d):
    rng = np.random.default_rng(7)
    with h5py.File(os.path.join(d, "mem.h5"), "w") as f:
        f.create_dataset("memories", data=rng.random((N, K), dtype=np.float32))
    with h5py.File(os.path.join(d, "q.h5"), "w") as f:
        f.create_dataset("queries", data=rng.random((B, K), dtype=np.float32))
    return ["recall", "--memories", os.path.join(d, "mem.h5"), "--queries", os.path.join(d, "q.h5")]


def listing(d):
    return sorted(os.listdir(d))


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def one_line(where, rc, err, culprits):
    """Exit 2 and exactly one 'uhn:' line holding every culprit substring."""
    check(rc == 2, f"{where} exit status {rc}, expected 2\nstderr:\n{err}")
    lines = [l for l in err.splitlines() if l.startswith("uhn:")]
    check(len(lines) == 1, f"{where} expected one 'uhn:' line, got {len(lines)}:\n{err}")
    other = [l for l in program_stderr_lines(err) if not l.startswith("uhn:")]
    check(not other, f"{where} stderr holds more than the 'uhn:' line:\n{err}")
    for c in culprits:
        check(c.lower() in lines[0].lower(), f"{where} the message lacks {c!r}: {lines[0]!r}")
    return lines[0]


def refused(runner, ranks, d, out, culprits, intact):
    """Runs with --output out, requires the refusal and intact() afterwards."""
    args = inputs(d) + ["--output", out]
    before = listing(d)
    rc, _, err = runner.run(ranks, args, cwd=d)
    line = one_line(f"[{os.path.basename(out)}, {ranks} ranks]", rc, err, culprits)
    intact()
    check(listing(d) == before, f"files created or removed by a refused run: {before} -> {listing(d)}")
    return line


def c_fifo(runner, ranks, d):
    p = os.path.join(d, "out.fifo")
    os.mkfifo(p)

    def intact():
        check(stat.S_ISFIFO(os.lstat(p).st_mode), f"{p} is no longer a FIFO")
    return refused(runner, ranks, d, p, [p, "FIFO", "not a regular file"], intact)


def c_chardev(runner, ranks, d):
    p = os.path.join(d, "null_node")
    dev = os.makedev(1, 3)  # the device of /dev/null, under a name in the temp folder
    try:
        os.mknod(p, stat.S_IFCHR | 0o600, dev)
    except (PermissionError, OSError) as e:
        raise Skip(f"mknod not permitted here ({e})")

    def intact():
        st = os.lstat(p)
        check(stat.S_ISCHR(st.st_mode) and st.st_rdev == dev, f"{p} is no longer the character device")
    return refused(runner, ranks, d, p, [p, "character device", "not a regular file"], intact)


def c_symlink_devnull(runner, ranks, d):
    p = os.path.join(d, "null_link.h5")
    os.symlink("/dev/null", p)

    def intact():
        check(os.path.islink(p) and os.readlink(p) == "/dev/null", f"{p} is no longer a link to /dev/null")
        check(stat.S_ISCHR(os.stat("/dev/null").st_mode), "/dev/null is no longer a character device")
    return refused(runner, ranks, d, p, [p, "symbolic link to a character device"], intact)


def c_symlink_regular(runner, ranks, d):
    target = os.path.join(d, "target.h5")
    with h5py.File(target, "w") as f:
        f.create_dataset("sentinel", data=np.arange(4.0))
    digest = sha256(target)
    link = os.path.join(d, "link.h5")
    os.symlink(target, link)
    rc, out, err = runner.run(ranks, inputs(d) + ["--output", link], cwd=d)
    check(rc == 0, f"a link to a regular file was refused (exit {rc}):\n{err}")
    check(not os.path.islink(link) and os.path.isfile(link), f"{link} was not replaced by the results")
    with h5py.File(link, "r") as f:
        check(f["output"].shape == (B, K), f"{link}: unexpected output shape {f['output'].shape}")
    check(sha256(target) == digest, f"the link's target {target} was changed")
    check(not [n for n in listing(d) if ".tmp." in n], f"temporary files left: {listing(d)}")
    return "accepted; the link was replaced and its target left untouched"


def dead_pid():
    """A pid that no process has (high in the pid range, where few are used)."""
    try:
        with open("/proc/sys/kernel/pid_max") as f:
            top = int(f.read())
    except OSError:
        top = 32768
    for pid in range(top - 1, 300, -1):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except PermissionError:
            pass
    raise TestFailure("no free pid found")


def c_stale_tmp(runner, ranks, d):
    out = os.path.join(d, "out.h5")
    dead, live = dead_pid(), os.getpid()
    blob = b"\0" * (1 << 20)

    def make(name):
        with open(os.path.join(d, name), "wb") as f:
            f.write(blob)
        return name
    stale = [make(f"out.h5.tmp.{dead}.0"), make(f"out.h5.tmp.{dead}.17")]
    keep = [make(f"out.h5.tmp.{live}.0"),            # a live writer
            make(f"out.h5.partial.tmp.{dead}.0"),    # another output's
            make(f"other.h5.tmp.{dead}.0"),
            make(f"out.h5.tmp.{dead}.0.bak"),        # only looks alike
            make(f"out.h5.tmp.{dead}x.0"),
            make("out.h5.tmp..0")]
    os.mkdir(os.path.join(d, f"out.h5.tmp.{dead}.9"))  # not a regular file
    keep.append(f"out.h5.tmp.{dead}.9")
    os.symlink(os.path.join(d, keep[2]), os.path.join(d, f"out.h5.tmp.{dead}.3"))
    keep.append(f"out.h5.tmp.{dead}.3")
    runner.recall_ok(ranks, inputs(d)[1:] + ["--output", out], cwd=d)
    names = set(listing(d))
    for s in stale:
        check(s not in names, f"stale temporary file {s} (pid {dead} is dead) was not removed: {sorted(names)}")
    for k in keep:
        check(k in names, f"{k} was removed, but it is not a dead writer's temporary file")
    check(os.path.isfile(out), "no output written")
    check(os.path.getsize(os.path.join(d, keep[2])) == len(blob), "a link's target was changed")
    return f"removed {stale}, kept {len(keep)} look-alikes"


# `uhn run` writes through the same writer: its final file and its checkpoint
# ("<file>.partial", written as "<file>.partial.tmp.<pid>.<n>").
RUN_DECK = """\
[memory]
n = 20

[query]
count = 5

[experiment]
trials = 1
seed = 1

[output]
file = {out}
quiet = on
"""


def run_deck(d, out):
    deck = os.path.join(d, "study.deck")
    with open(deck, "w") as f:
        f.write(RUN_DECK.format(out=out))
    return deck


def c_run_fifo(runner, ranks, d):
    p = os.path.join(d, "study.fifo")
    os.mkfifo(p)
    deck = run_deck(d, p)
    before = listing(d)
    rc, _, err = runner.run(ranks, ["run", deck], cwd=d)
    line = one_line(f"[run, {ranks} ranks]", rc, err, [p, "FIFO", "not a regular file"])
    check(stat.S_ISFIFO(os.lstat(p).st_mode), f"{p} is no longer a FIFO")
    check(listing(d) == before, f"files created by a refused run: {before} -> {listing(d)}")
    return line


def c_run_stale_tmp(runner, ranks, d):
    out = os.path.join(d, "study.h5")
    dead, live = dead_pid(), os.getpid()
    names = {f"study.h5.tmp.{dead}.0": False, f"study.h5.partial.tmp.{dead}.4": False,
             f"study.h5.partial.tmp.{live}.0": True, f"study.h5.partial.tmp.{dead}.4.x": True}
    for n in names:
        with open(os.path.join(d, n), "wb") as f:
            f.write(b"\0" * 4096)
    rc, _, err = runner.run(ranks, ["run", run_deck(d, out)], cwd=d)
    check(rc == 0, f"uhn run failed (exit {rc}):\n{err}")
    left = set(listing(d))
    for n, kept in names.items():
        check((n in left) == kept, f"{n} was {'removed' if kept else 'kept'}: {sorted(left)}")
    check(os.path.isfile(out), "uhn run wrote no results")
    return "removed the dead pid's temporaries of the results and of the checkpoint"


CASES = {
    "fifo": c_fifo,
    "chardev": c_chardev,
    "symlink_devnull": c_symlink_devnull,
    "symlink_regular": c_symlink_regular,
    "stale_tmp": c_stale_tmp,
    "run_fifo": c_run_fifo,
    "run_stale_tmp": c_run_stale_tmp,
}


def main():
    ap = common_args(__doc__)
    ap.add_argument("--ranks", type=int, required=True)
    ap.add_argument("--case", action="append", required=True, help="case name (repeatable; 'all')")
    args = ap.parse_args()
    runner = Runner(args)
    names = list(CASES) if "all" in args.case else args.case
    for n in names:
        if n not in CASES:
            raise TestFailure(f"unknown case {n!r}; known: {', '.join(CASES)}")
    for n in names:
        with tempfile.TemporaryDirectory(dir=args.workdir, prefix=f"out_{n}_np{args.ranks}_") as d:
            try:
                what = CASES[n](runner, args.ranks, d)
            except Skip as e:
                print(f"SKIP: {n}: {e}")
                sys.exit(SKIP)
            print(f"{n} at {args.ranks} ranks: {what}")


if __name__ == "__main__":
    if "--list" in sys.argv:
        print(";".join(CASES))
    else:
        main_wrapper(main)
