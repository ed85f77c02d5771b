#!/usr/bin/python3
"""Bad input to `uhn recall` (spec §8): one CTest test per case and rank count.

For a case, the same bad command is run under `mpiexec -n R`:
  1. with --output naming a file that does not exist: the run must exit with
     status 2, print exactly one line on stderr (besides the MPI launcher's own
     banner), starting 'uhn:' and naming the culprit, create no output file
     and leave nothing behind (no temporary file) in the output folder;
  2. with --output naming an existing file: the same, and the file must be
     byte-for-byte untouched.
At 1 rank both runs; at more ranks only run 2 where the case has one (what
the ranks add is that every rank exits with the error and none hangs; run 2
checks that as well as run 1, and the suite's time is mostly launches).
A run that does not exit within --timeout seconds is killed and fails.

    recall_errors.py --list                  # the case names (CMake reads these)
    recall_errors.py --uhn ./uhn --mpiexec mpiexec --ranks 3 --case nan_memories
"""
import hashlib
import os
import re
import sys
import tempfile

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from uhn_cli import Runner, TestFailure, check, common_args, main_wrapper, program_stderr_lines  # noqa: E402

N, K, B, O = 37, 12, 9, 5


def write(path, **datasets):
    with h5py.File(path, "a") as f:
        for name, data in datasets.items():
            if name in f:
                del f[name]
            f.create_dataset(name, data=data)
    return path


def base_inputs(d, rng):
    """Good inputs: mem.h5:memories, q.h5:queries, v.h5:values, c.h5:clamp."""
    X = rng.random((N, K), dtype=np.float32)
    Q = rng.random((B, K), dtype=np.float32)
    write(os.path.join(d, "mem.h5"), memories=X)
    write(os.path.join(d, "q.h5"), queries=Q)
    write(os.path.join(d, "v.h5"), values=rng.random((N, O), dtype=np.float32))
    write(os.path.join(d, "c.h5"), clamp=(np.arange(K) < K // 2).astype(np.uint8))
    return X, Q


def good(d):
    """The arguments of a valid run, as a dict option -> value (None: a flag)."""
    return {"--memories": os.path.join(d, "mem.h5"), "--queries": os.path.join(d, "q.h5")}


def argv(opts):
    out = []
    for k, v in opts.items():
        out.append(k)
        if v is not None:
            out.append(v)
    return out


# A case: f(d, X, Q) -> (option dict, [accepted culprit substrings]) where at least one
# of the substrings (case-insensitive; a regex when it starts with 're:') must be in
# the 'uhn:' line. A case may also put '--output' itself in the dict (then step 2 below,
# the existing output, is skipped unless the case returns a third item {'existing': True}); a
# third item may also give {'env': {NAME: VALUE}}, set for the runs of the case.
def _opt(name, value, culprit=None):
    def f(d, X, Q):
        o = good(d)
        o[name] = value
        return o, [culprit or name.lstrip("-")]
    return f


def c_missing_file(d, X, Q):
    o = good(d)
    o["--memories"] = os.path.join(d, "no_such_bank.h5")
    return o, ["no_such_bank.h5"]


def c_not_hdf5(d, X, Q):
    p = os.path.join(d, "plain_text.h5")
    with open(p, "w") as f:
        f.write("memories\n1 2 3\n")
    o = good(d)
    o["--memories"] = p
    return o, ["plain_text.h5"]


def c_missing_dataset(d, X, Q):
    o = good(d)
    o["--memories"] = os.path.join(d, "mem.h5") + ":no_such_dataset"
    return o, ["no_such_dataset"]


def c_missing_default_dataset(d, X, Q):
    # the file exists but has no dataset named 'queries' (the default name)
    write(os.path.join(d, "other.h5"), stuff=Q)
    o = good(d)
    o["--queries"] = os.path.join(d, "other.h5")
    return o, ["queries"]


def c_not_2d_3d(d, X, Q):
    write(os.path.join(d, "mem.h5"), cube=X.reshape(N, 3, 4))
    o = good(d)
    o["--memories"] = os.path.join(d, "mem.h5") + ":cube"
    return o, ["cube"]


def c_not_2d_1d(d, X, Q):
    write(os.path.join(d, "q.h5"), line=Q[0])
    o = good(d)
    o["--queries"] = os.path.join(d, "q.h5") + ":line"
    return o, ["line"]


def c_not_numeric(d, X, Q):
    with h5py.File(os.path.join(d, "mem.h5"), "a") as f:
        f.create_dataset("words", data=np.array([[b"ab", b"cd"]] * 3))
    o = good(d)
    o["--memories"] = os.path.join(d, "mem.h5") + ":words"
    return o, ["words"]


def c_empty_bank(d, X, Q):
    write(os.path.join(d, "mem.h5"), none=np.zeros((0, K), np.float32))
    o = good(d)
    o["--memories"] = os.path.join(d, "mem.h5") + ":none"
    return o, ["none"]


def c_k_mismatch(d, X, Q):
    write(os.path.join(d, "q11.h5"), queries=Q[:, :K - 1])
    o = good(d)
    o["--queries"] = os.path.join(d, "q11.h5")
    return o, ["q11.h5"]


def c_n_mismatch(d, X, Q):
    write(os.path.join(d, "v36.h5"), values=np.ones((N - 1, O), np.float32))
    o = good(d)
    o["--values"] = os.path.join(d, "v36.h5")
    return o, ["v36.h5"]


def c_clamp_shape_1d(d, X, Q):
    write(os.path.join(d, "cbad.h5"), clamp=np.ones(K + 1, np.uint8))
    o = good(d)
    o["--clamp"] = os.path.join(d, "cbad.h5")
    return o, ["cbad.h5"]


def c_clamp_shape_2d(d, X, Q):
    write(os.path.join(d, "cbad.h5"), clamp=np.ones((B + 1, K), np.uint8))
    o = good(d)
    o["--clamp"] = os.path.join(d, "cbad.h5")
    return o, ["cbad.h5"]


def c_nan_memories(d, X, Q):
    # row 17 sits on rank 1 at 3 ranks: the message must still reach rank 0
    Xb = X.copy()
    Xb[17, 5] = np.nan
    write(os.path.join(d, "mem.h5"), memories=Xb)
    return good(d), ["re:\\b17\\b"]


def c_nan_memories_last_row(d, X, Q):
    Xb = X.copy()
    Xb[N - 1, 0] = np.nan
    Xb[N - 1, 3] = np.nan
    write(os.path.join(d, "mem.h5"), memories=Xb)
    return good(d), ["re:\\b36\\b"]


def c_inf_queries(d, X, Q):
    Qb = Q.copy()
    Qb[6, 2] = np.inf
    write(os.path.join(d, "q.h5"), queries=Qb)
    return good(d), ["re:\\b6\\b"]


def c_nan_values(d, X, Q):
    V = np.ones((N, O), np.float32)
    V[30, 1] = np.nan
    write(os.path.join(d, "v.h5"), values=V)
    o = good(d)
    o["--values"] = os.path.join(d, "v.h5")
    return o, ["re:\\b30\\b"]


def c_hetero_iterate(d, X, Q):
    o = good(d)
    o["--values"] = os.path.join(d, "v.h5")
    o["--steps"] = "2"
    return o, ["values", "steps", "hetero"]


def c_negative_memories_kl(d, X, Q):
    Xb = X.copy()
    Xb[20, 7] = -0.5
    write(os.path.join(d, "mem.h5"), memories=Xb)
    o = good(d)
    o["--similarity"] = "kl"
    return o, ["mem.h5", "memories", "re:\\b20\\b"]


def c_negative_queries_js(d, X, Q):
    Qb = Q.copy()
    Qb[3, 0] = -1.0
    write(os.path.join(d, "q.h5"), queries=Qb)
    o = good(d)
    o["--similarity"] = "jensen_shannon"
    return o, ["q.h5", "queries"]


def c_identity_negative_scores(d, X, Q):
    # euclidean scores are <= 0: identity needs them non-negative (spec §3)
    o = good(d)
    o["--similarity"] = "euclidean"
    o["--separation"] = "identity"
    return o, ["identity", "negative", "separation"]


def c_missing_memories(d, X, Q):
    o = good(d)
    del o["--memories"]
    return o, ["memories"]


def c_missing_queries(d, X, Q):
    o = good(d)
    del o["--queries"]
    return o, ["queries"]


def c_missing_output(d, X, Q):
    return good(d), ["output"]


def c_option_without_value(d, X, Q):
    o = good(d)
    o["--beta"] = None  # last on the line: no value follows
    return o, ["beta"]


def c_output_dir_missing(d, X, Q):
    o = good(d)
    o["--output"] = os.path.join(d, "no_such_dir", "out.h5")
    return o, ["no_such_dir"]


def c_lzf_queries(d, X, Q):
    # h5py carries the lzf filter; libhdf5 builds usually do not: the message
    # must name the filter, not just say that reading failed
    with h5py.File(os.path.join(d, "q.h5"), "a") as f:
        f.create_dataset("packed", data=Q, chunks=(3, K), compression="lzf")
    o = good(d)
    o["--queries"] = os.path.join(d, "q.h5") + ":packed"
    return o, ["re:packed.*filter 'lzf' \\(id 32000\\)"]


def c_lzf_memories(d, X, Q):
    with h5py.File(os.path.join(d, "mem.h5"), "a") as f:
        f.create_dataset("packed", data=X, chunks=(8, K), compression="lzf")
    o = good(d)
    o["--memories"] = os.path.join(d, "mem.h5") + ":packed"
    return o, ["re:packed.*filter 'lzf'"]


def c_overflow_queries(d, X, Q):
    # a finite float64 beyond float32's range: say so, not "Inf"
    Qb = Q.astype(np.float64)
    Qb[3, 1] = 1e300
    write(os.path.join(d, "q.h5"), queries=Qb)
    return good(d), ["re:row 3 column 1 is 1e\\+300, which overflows float32"]


def c_overflow_memories(d, X, Q):
    # row 17 sits on rank 1 at 3 ranks (the collective row reads)
    Xb = X.astype(np.float64)
    Xb[17, 5] = -3.5e38
    write(os.path.join(d, "mem.h5"), memories=Xb)
    return good(d), ["re:row 17 column 5 is -3\\.5e\\+38, which overflows float32"]


def c_overflow_values(d, X, Q):
    # --values are read as float32 too
    V = np.ones((N, O))
    V[30, 2] = 1e39
    write(os.path.join(d, "v.h5"), values=V)
    o = good(d)
    o["--values"] = os.path.join(d, "v.h5")
    return o, ["re:v\\.h5:values: row 30 column 2 is 1e\\+39, which overflows float32"]


def c_output_in_proc(d, X, Q):
    # a pseudo file system where access() says "writable" (as root) but nothing
    # can be created: a user error (exit 2) with the system's reason
    o = good(d)
    o["--output"] = "/proc/uhn_no_such_output.h5"
    return o, ["re:/proc/uhn_no_such_output\\.h5.*\\([A-Z][a-z]+[^)]*\\)$"]


def c_output_name_too_long(d, X, Q):
    # the output's name fits (253 bytes) but its temporary name does not: the
    # errno text must be in the message, and an existing file stays untouched
    o = good(d)
    o["--output"] = os.path.join(d, "o" * 250 + ".h5")
    return o, ["File name too long"], {"existing": True}


CASES = {
    "missing_file": c_missing_file,
    "not_hdf5": c_not_hdf5,
    "missing_dataset": c_missing_dataset,
    "missing_default_dataset": c_missing_default_dataset,
    "not_2d_3d": c_not_2d_3d,
    "not_2d_1d": c_not_2d_1d,
    "not_numeric": c_not_numeric,
    "empty_bank": c_empty_bank,
    "k_mismatch": c_k_mismatch,
    "n_mismatch_values": c_n_mismatch,
    "clamp_shape_1d": c_clamp_shape_1d,
    "clamp_shape_2d": c_clamp_shape_2d,
    "nan_memories": c_nan_memories,
    "nan_memories_last_row": c_nan_memories_last_row,
    "inf_queries": c_inf_queries,
    "nan_values": c_nan_values,
    "unknown_similarity": _opt("--similarity", "bogus_sim", "bogus_sim"),
    "unknown_separation": _opt("--separation", "bogus_sep", "bogus_sep"),
    "beta_zero": _opt("--beta", "0"),
    "beta_negative": _opt("--beta", "-1"),
    "beta_text": _opt("--beta", "abc"),
    "beta_overflow": _opt("--beta", "1e400"),
    "beta_trailing_junk": _opt("--beta", "2x"),
    "steps_zero": _opt("--steps", "0"),
    "steps_text": _opt("--steps", "3.5"),
    "step_size_zero": _opt("--step-size", "0", "step-size"),
    "step_size_above_one": _opt("--step-size", "1.5", "step-size"),
    "tol_negative": _opt("--tol", "-1"),
    "score_unknown": _opt("--score", "other", "score"),
    "unknown_option": _opt("--frobnicate", "1", "frobnicate"),
    "missing_memories": c_missing_memories,
    "missing_queries": c_missing_queries,
    "missing_output_option": c_missing_output,
    "option_without_value": c_option_without_value,
    "hetero_iterate": c_hetero_iterate,
    "negative_memories_kl": c_negative_memories_kl,
    "negative_queries_js": c_negative_queries_js,
    "identity_negative_scores": c_identity_negative_scores,
    "output_dir_missing": c_output_dir_missing,
    "lzf_queries": c_lzf_queries,
    "lzf_memories": c_lzf_memories,
    "overflow_queries": c_overflow_queries,
    "overflow_memories": c_overflow_memories,
    "overflow_values": c_overflow_values,
    "output_in_proc": c_output_in_proc,
    "output_name_too_long": c_output_name_too_long,
}


def _param_case(sep, value):
    def f(d, X, Q):
        o = good(d)
        o["--separation"] = sep
        o["--param"] = value
        return o, ["param"]
    return f


def _opts(culprit, **kv):
    """A case with several options (names with '_' for '-') and one exact culprit regex."""
    def f(d, X, Q):
        o = good(d)
        for k, v in kv.items():
            o["--" + k.replace("_", "-")] = v
        return o, [culprit]
    return f


# Numbers that wrap or leave double precision (issue 7): the shared strict parser.
CASES["beta_subnormal"] = _opt(
    "--beta", "1e-320", r"re:^uhn: --beta: '1e-320' underflows double precision \(nonzero and "
    r"below the smallest normal double, 2\.2250738585072014e-308\)$")
CASES["beta_overflow_words"] = _opt(
    "--beta", "1e400", r"re:^uhn: --beta: '1e400' overflows double precision")
CASES["steps_wrap_32"] = _opt(
    "--steps", "4294967297", r"re:^uhn: --steps: 4294967297 is out of range \(must be in "
    r"\[1, 2147483647\]\)$")
CASES["steps_beyond_64"] = _opt(
    "--steps", "9223372036854775808", r"re:^uhn: --steps: 9223372036854775808 is out of range "
    r"\(must be in \[1, 2147483647\]\)$")
CASES["power_param_huge"] = _param_case("power", "4294967297")
# lse = beta * s_max + log(sum) leaves float64 at beta = 1e308 (dot scores up to ~4): the
# outputs and energies are exact, but lse cannot be written, so the run is refused.
CASES["lse_overflow"] = _opts(
    r"re:^uhn: --beta 1e\+308: the log-sum-exp of query 0 \(beta times its largest score\) "
    r"overflows float64", beta="1e308")
# Unnormalised power weights (beta s)^p beyond float32: refused, never written as inf.
CASES["power_unnormalised_overflow"] = _opts(
    r"re:^uhn: --no-normalize: normalize is off, and with separation 'power' the output of "
    r"query 0 \(weights up to [0-9.e+]+\) leaves float32", separation="power", param="20",
    beta="1000", no_normalize=None)
# An engine error about a parameter names the flag, in the engine's words.
CASES["log_negative_scores"] = _opts(
    r"re:^uhn: --separation 'log' needs positive scores, but memory \d+ scores -[0-9.e+-]+ for "
    r"query 0 \(use softmax, a non-negative similarity, or score mode 'uhn'\)$",
    similarity="euclidean", separation="log")
# Control characters in an option are escaped: the message stays one line in any terminal.
CASES["control_characters"] = _opt(
    "--similarity", "dot\x1b[2J\r\u2028x", r"re:^uhn: --similarity: unknown name "
    r"'dot\\x1b\[2J\\x0d\\u2028x' \(valid: ")

# Trajectory steps (spec §11): in [0, T], increasing, integers.
CASES["trajectory_beyond_steps"] = _opts(
    r"re:^uhn: --trajectory step 1 is 5, outside \[0, 3\] \(0 to the number of steps\)$",
    steps="3", trajectory="0,5")
CASES["trajectory_not_increasing"] = _opts(
    r"re:^uhn: --trajectory steps must increase: step 1 \(1\) follows 2$", steps="3",
    trajectory="2,1")
CASES["save_steps_beyond_steps"] = _opts(
    r"re:^uhn: --save-steps step 1 is 5, outside \[0, 3\] \(0 to the number of steps\)$",
    steps="3", save_steps="0,5")
CASES["save_steps_not_integer"] = _opts(r"re:^uhn: --save-steps: 'x' is not an integer$",
                                        steps="3", save_steps="1,x")
CASES["save_steps_and_trajectory"] = _opts(
    r"re:^uhn: --save-steps and --trajectory are one option; give it once$", steps="3",
    save_steps="1", trajectory="1")
CASES["trajectory_not_integer"] = _opts(r"re:^uhn: --trajectory: 'x' is not an integer$",
                                        steps="3", trajectory="1,x")

CASES["power_param_zero"] = _param_case("power", "0")
CASES["power_param_fraction"] = _param_case("power", "2.5")
CASES["topk_param_zero"] = _param_case("topk", "0")


def c_screen_group_env(d, X, Q):
    """UHN_SCREEN_GROUP (the screened energy pass's group size) out of range."""
    return good(d), [r"re:^uhn: environment variable UHN_SCREEN_GROUP=3: expected 1, 2, 4, 8 or 16$"], \
        {"env": {"UHN_SCREEN_GROUP": "3"}}


CASES["screen_group_env"] = c_screen_group_env


def listing(d):
    out = set()
    for root, dirs, files in os.walk(d):
        for name in dirs + files:
            out.add(os.path.relpath(os.path.join(root, name), d))
    return out


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def check_message(name, rc, out, err, culprits, ranks):
    where = f"[{name}, {ranks} ranks]"
    check(rc != 0, f"{where} bad input accepted (exit 0)\nstdout:\n{out}\nstderr:\n{err}")
    check(rc == 2, f"{where} exit status {rc}, expected 2\nstderr:\n{err}")
    uhn_lines = [l for l in err.splitlines() if l.startswith("uhn:")]
    check(len(uhn_lines) == 1, f"{where} expected exactly one 'uhn:' line on stderr, got "
                               f"{len(uhn_lines)}:\n{err}")
    other = [l for l in program_stderr_lines(err) if not l.startswith("uhn:")]
    check(not other, f"{where} stderr holds more than the one 'uhn:' line (besides the launcher's "
                     f"banner):\n{err}")
    line = uhn_lines[0]
    ok = False
    for c in culprits:
        if c.startswith("re:"):
            ok = ok or re.search(c[3:], line) is not None
        else:
            ok = ok or c.lower() in line.lower()
    check(ok, f"{where} the message does not name the culprit (expected one of {culprits}): {line!r}")
    return line


def run_case(runner, name, ranks, workdir):
    rng = np.random.default_rng(1234)
    with tempfile.TemporaryDirectory(dir=workdir, prefix=f"err_{name}_np{ranks}_") as d:
        X, Q = base_inputs(d, rng)
        opts, culprits, *extra = CASES[name](d, X, Q)
        # a case naming its own --output may still ask for step 2 below
        keep_existing = bool(extra and extra[0].get("existing"))
        runner.env.update(extra[0].get("env", {}) if extra else {})
        target = opts.get("--output")
        explicit_output = (target is not None and not keep_existing) or name == "missing_output_option"

        # 1. the output does not exist beforehand
        if name != "missing_output_option" and target is None:
            target = os.path.join(d, "out.h5")
            opts["--output"] = target
        # an option that must lack its value goes last
        flag_last = [k for k, v in opts.items() if v is None]
        ordered = {k: v for k, v in opts.items() if v is not None}
        args = ["recall"] + argv(ordered) + flag_last
        if ranks == 1 or explicit_output:
            before = listing(d)
            rc, out, err = runner.run(ranks, args, cwd=d)
            line = check_message(name, rc, out, err, culprits, ranks)
            after = listing(d)
            check(after == before, f"[{name}, {ranks} ranks] files created by a failed run: "
                                   f"{sorted(after - before)}")
            if target is not None:
                check(not os.path.exists(target),
                      f"[{name}] output file {target} created by a failed run")

        # 2. an existing output is left byte-for-byte untouched
        if not explicit_output:
            with h5py.File(target, "w") as f:
                f.create_dataset("sentinel", data=np.arange(10.0))
                f.attrs["note"] = "must survive a failed run"
            digest, mtime = sha256(target), os.stat(target).st_mtime_ns
            before = listing(d)
            rc, out, err = runner.run(ranks, args, cwd=d)
            line = check_message(name, rc, out, err, culprits, ranks)
            check(sha256(target) == digest, f"[{name}, {ranks} ranks] a failed run changed the "
                                            f"existing output file {target}")
            check(os.stat(target).st_mtime_ns == mtime, f"[{name}] a failed run rewrote {target}")
            after = listing(d)
            check(after == before, f"[{name}, {ranks} ranks] files left behind by a failed run: "
                                   f"{sorted(after - before)}")
        print(f"{name} at {ranks} ranks: exit 2, {line}")


def main():
    if "--list" in sys.argv:
        print(";".join(CASES))
        return
    ap = common_args(__doc__)
    ap.add_argument("--ranks", type=int, required=True)
    ap.add_argument("--case", action="append", required=True,
                    help="case name (repeatable; 'all' runs every case)")
    args = ap.parse_args()
    runner = Runner(args)
    names = list(CASES) if "all" in args.case else args.case
    for n in names:
        if n not in CASES:
            raise TestFailure(f"unknown case {n!r}; known: {', '.join(CASES)}")
    for n in names:
        run_case(runner, n, args.ranks, args.workdir)


if __name__ == "__main__":
    if "--list" in sys.argv:
        main()
    else:
        main_wrapper(main)
