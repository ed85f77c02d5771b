#!/usr/bin/env python3
"""Capacity studies against the engine at scale (issue 9): the whole of a
one-point `uhn run` beside the whole of a `uhn recall` of the same sizes, and
the peak memory of every rank against its shard of the bank.

    python3 postprocess/study_scale.py --uhn build/uhn --out study_scale.h5 \\
        [--banks 1e6x64,1e7x64,1e6x784] [--ranks 1,2] [--queries 100] \\
        [--repeat 3] [--workdir DIR] [--mpirun mpirun] [--mpirun-args ...]

For each bank N x K (K a square number of pixels, or any K as one row of
pixels) and rank count R, two programs, interleaved `--repeat` times, the
study first in even repeats and the recall first in odd ones:
- study: `uhn run` of a deck of one point on `synthetic:binary01` (N images of
  K pixels, all stored; `--queries` of them with the top half set to 0; dot,
  softmax, beta = 1, 1 trial). The bank is made in memory by the study itself.
- recall: `uhn recall --no-energy` (studies never compute the energy) of a bank
  of the same size and distribution (N x K uniform 0/1 pixels, uint8, made by
  numpy: the same statistics, not the same bits) and as many queries, the first
  rows with their first K/2 pixels set to 0, read from HDF5.

Each launch is timed whole (start of the launcher to its exit: start-up, the
bank, the recall, the write), so both programs pay for materialising the bank
(the first touch of its memory); the study's own stage timers (store, recall)
and the recall's phase timers (io, compute) say where the time went. While a
launch runs, the /proc status of its `uhn` processes is sampled every 10 ms:
VmHWM (peak resident set), and the largest RssAnon (private memory: the shard,
buffers, heaps) and RssFile (pages of the mapped libraries, shared by every
process that maps them) seen. The ranks sampled are this user's processes of
the uhn program that descend from the launcher or, under srun (whose tasks are
children of slurmstepd), started after it, on the node that runs this script. Ratios are to the rank's shard of the bank as
float32, ceil(N / R) x K x 4 bytes.

Exit status: 0 on success, 2 on bad input (one line on standard error), 1 when
a measurement fails.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from scaling import (InputError, banner, coord, dataset, int_list,  # noqa: E402
                     loadavg, mpi_cmd, provenance)

PROGRAMS = ("study", "recall")
SAMPLE_S = 0.01
CHUNK_ROWS = 1 << 20
STAGE_LINE_RE = re.compile(r"seconds per stage[^:]*:(.*)$", re.M)
STAGE_RE = re.compile(r"(\w+) [0-9.]+/[0-9.]+/([0-9.]+)")
TIMER_RE = re.compile(r"^\s*(compute|reduce|io)\s+\S+\s+\S+\s+(\S+)\s*$", re.M)


def parse_banks(text):
    """'1e6x64,1e7x64' -> [(1000000, 64), (10000000, 64)]."""
    out = []
    for tok in str(text).replace(" ", ",").split(","):
        if not tok:
            continue
        parts = tok.lower().split("x")
        if len(parts) != 2 or not all(parts):
            raise InputError(f"--banks: '{tok}' is not NxK (as 1e6x64)")
        n, k = (int_list(p, f"--banks: '{tok}'")[0] for p in parts)
        out.append((n, k))
    if not out:
        raise InputError("--banks: empty list")
    if len(set(out)) != len(out):
        raise InputError(f"--banks: repeated bank in '{text}'")
    return out


def image_shape(k):
    """(h, w) of a K-pixel image: square when K is, else one row."""
    h = int(round(k ** 0.5))
    return (h, h) if h * h == k else (1, k)


def write_inputs(bank, qfile, n, k, queries, seed=3):
    """The recall's bank (uint8 0/1) and queries (its first rows, top half 0)."""
    import h5py
    import numpy as np
    rng = np.random.default_rng(seed)
    with h5py.File(bank + ".part", "w") as f:
        d = f.create_dataset("memories", (n, k), dtype="u1")
        for r0 in range(0, n, CHUNK_ROWS):
            r1 = min(n, r0 + CHUNK_ROWS)
            rows = rng.integers(0, 2, (r1 - r0, k), dtype=np.uint8)
            d[r0:r1] = rows
            if r0 == 0:
                first = rows[:min(queries, n)].astype(np.float32)
    os.replace(bank + ".part", bank)
    h, w = image_shape(k)
    q = np.resize(first, (queries, k))
    q[:, : int(np.floor(0.5 * h + 0.5)) * w] = 0.0
    with h5py.File(qfile, "w") as f:
        f["queries"] = q


def write_deck(path, n, k, queries, out):
    h, w = image_shape(k)
    with open(path, "w") as f:
        f.write(f"[data]\nsource = synthetic:binary01?n={n}&h={h}&w={w}&seed=3\n"
                f"[memory]\nn = {n}\n"
                "[network]\nsimilarity = dot\nseparation = softmax\nbeta = 1\n"
                f"[query]\ncorruption = mask_top\nlevel = 0.5\ncount = {queries}\n"
                "[experiment]\ntrials = 1\nseed = 1\n"
                f"[output]\nfile = {out}\n")


def uhn_pids(root, comm, after):
    """The pids of this user's processes named `comm` that descend from `root`,
    or with `after` that started after it: Slurm's srun starts its tasks from
    slurmstepd, not from itself (memory is sampled on this node only)."""
    parent, start, names = {}, {}, {}
    uid = os.getuid()
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                s = f.read()
            owner = os.stat(f"/proc/{d}").st_uid
        except OSError:
            continue
        name, rest = s[s.index("(") + 1:s.rindex(")")], s[s.rindex(")") + 2:].split()
        # fields 4 (ppid) and 22 (start time in clock ticks since boot) of proc(5)
        parent[int(d)], start[int(d)] = int(rest[1]), int(rest[19])
        if owner == uid:
            names[int(d)] = name
    out = []
    for p, name in names.items():
        if name != comm:
            continue
        q = p
        while q in parent and q != root and q > 1:
            q = parent[q]
        if q == root or (after and root in start and start[p] >= start[root]):
            out.append(p)
    return out


def read_status(pid):
    """{'VmHWM': kB, 'RssAnon': kB, 'RssFile': kB} of a live process, or None."""
    try:
        with open(f"/proc/{pid}/status") as f:
            v = {ln.split(":")[0]: int(ln.split()[1]) for ln in f
                 if ln.startswith(("VmHWM:", "RssAnon:", "RssFile:"))}
    except (OSError, ValueError, IndexError):
        return None
    return v if len(v) == 3 else None


def launch(cmd, uhn, ranks, timeout, after=False):
    """Runs cmd while sampling its `ranks` processes of the program `uhn`: (wall s,
    output, memory), memory the largest over ranks of each of peak_rss, peak_anon,
    peak_file in bytes. /proc is scanned for them (about 2 ms a scan, on the cores
    being measured) only until all have been seen."""
    comm = os.path.basename(uhn)[:15]  # the kernel's name of a process: 15 bytes
    peak, pids = {}, set()
    t0 = time.perf_counter()
    with tempfile.TemporaryFile("w+") as log:
        p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, text=True)
        while p.poll() is None:
            if time.perf_counter() - t0 > timeout:
                p.kill()
                p.wait()
                raise RuntimeError(f"{' '.join(cmd)}: no exit after {timeout:g} s")
            if len(pids) < ranks:
                pids.update(uhn_pids(p.pid, comm, after))
            for pid in pids:
                v = read_status(pid)
                if v:
                    old = peak.get(pid, (0, 0, 0))
                    peak[pid] = (max(old[0], v["VmHWM"]), max(old[1], v["RssAnon"]),
                                 max(old[2], v["RssFile"]))
            time.sleep(SAMPLE_S)
        wall = time.perf_counter() - t0
        log.seek(0)
        text = log.read()
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}):\n{text[-2000:]}")
    if not peak:
        raise RuntimeError(f"{' '.join(cmd)}: no process {comm} was seen to sample its memory")
    mem = [1024.0 * max(v[i] for v in peak.values()) for i in range(3)]
    return wall, text, mem


def srun(args):
    return os.path.basename(args.mpirun) == "srun"


def run_study(args, ranks, deck):
    cmd = mpi_cmd(args, ranks) + [args.uhn, "run", deck, "--fresh"]
    wall, text, mem = launch(cmd, args.uhn, ranks, args.timeout, srun(args))
    m = STAGE_LINE_RE.search(text)
    if not m:
        raise RuntimeError("uhn run printed no stage timers:\n" + text[-2000:])
    # uhn run leaves out the stages under 5 ms
    stage = {name: float(v) for name, v in STAGE_RE.findall(m.group(1))}
    return {"wall": wall, "stage_a": stage.get("store", 0.0), "stage_b": stage.get("recall", 0.0),
            "mem": mem}


def run_recall(args, ranks, bank, queries, out):
    cmd = mpi_cmd(args, ranks) + [
        args.uhn, "recall", "--memories", bank, "--queries", queries, "--output", out,
        "--similarity", "dot", "--separation", "softmax", "--beta", "1", "--no-energy",
        "--verbose"]
    wall, text, mem = launch(cmd, args.uhn, ranks, args.timeout, srun(args))
    t = dict(TIMER_RE.findall(text))
    if "io" not in t or "compute" not in t:
        raise RuntimeError("uhn recall printed no phase timers:\n" + text[-2000:])
    return {"wall": wall, "stage_a": float(t["io"]), "stage_b": float(t["compute"]), "mem": mem}


def check_args(args):
    args.banks = parse_banks(args.banks)
    args.ranks = int_list(args.ranks, "--ranks")
    for name in ("queries", "repeat"):
        if getattr(args, name) < 1:
            raise InputError(f"--{name} must be >= 1 (got {getattr(args, name)})")
    if not (os.path.isfile(args.uhn) and os.access(args.uhn, os.X_OK)):
        raise InputError(f"--uhn: {args.uhn} is not an executable program")
    small = [n for n, _ in args.banks if n < max(args.ranks)]
    if small:
        raise InputError(f"--banks: N = {small[0]} has fewer rows than ranks")
    if not os.path.isdir(os.path.dirname(os.path.abspath(args.out))):
        raise InputError(f"--out: the directory of {args.out} does not exist")


def shard_bytes(n, k, ranks):
    return -(-n // ranks) * k * 4


def write_h5(path, args, prov, res, load0, load1):
    """res[program][bank index][ranks index][repeat] = the run's dict."""
    import h5py
    import numpy as np
    tmp = path + ".part"
    nb, nr = len(args.banks), len(args.ranks)
    with h5py.File(tmp, "w") as f:
        for k, v in prov.items():
            f.attrs[k] = v
        f.attrs["load_average_start"], f.attrs["load_average_end"] = load0, load1
        f.attrs["description"] = (
            "uhn capacity study against the engine: a one-point uhn run (synthetic binary01, "
            "mask_top 0.5, dot, softmax, beta = 1, 1 trial) and uhn recall --no-energy of a bank "
            "of the same size (uint8 0/1 from HDF5), each launch timed whole, with the peak "
            "memory of its ranks")
        f.attrs["queries"], f.attrs["repeat"] = args.queries, args.repeat
        bank = coord(f, "bank", np.arange(nb, dtype="i8"), "1", "index of the bank")
        ranks = coord(f, "ranks", np.array(args.ranks, "i8"), "MPI ranks",
                      "ranks (more than the cores: oversubscribed)")
        rep = coord(f, "repeat", np.arange(args.repeat, dtype="i8"), "1", "run, in order")
        dataset(f, "n_memories", np.array([n for n, _ in args.banks], "i8"), "rows",
                "memories N of the bank", (bank,))
        dataset(f, "k", np.array([k for _, k in args.banks], "i8"), "pixels", "key length K",
                (bank,))
        dataset(f, "shard_bytes",
                np.array([[shard_bytes(n, k, r) for r in args.ranks] for n, k in args.banks], "i8"),
                "bytes", "the largest rank's shard of the bank as float32, ceil(N / R) K 4",
                (bank, ranks))
        stages = {"study": (("store_s", "the study's store stage (bank built), slowest rank"),
                            ("recall_stage_s", "the study's recall stage, slowest rank")),
                  "recall": (("io_s", "uhn recall's I/O timer (bank and queries read, result "
                                      "written), slowest rank"),
                             ("compute_s", "uhn recall's compute timer, slowest rank"))}
        for prog in PROGRAMS:
            g = f.create_group(prog)
            dims = (bank, ranks, rep)

            def arr(fn):
                return np.array([[[fn(res[prog][b][r][i]) for i in range(args.repeat)]
                                  for r in range(nr)] for b in range(nb)])
            dataset(g, "wall_s", arr(lambda x: x["wall"]), "s",
                    "the launch timed whole (launcher start to exit)", dims)
            for key, (name, desc) in zip(("stage_a", "stage_b"), stages[prog]):
                dataset(g, name, arr(lambda x, key=key: x[key]), "s", desc, dims)
            for i, (name, desc) in enumerate(
                    (("peak_rss_bytes", "VmHWM, the largest over ranks"),
                     ("peak_anon_bytes", "largest RssAnon sampled (private memory), the largest "
                                         "over ranks"),
                     ("peak_file_bytes", "largest RssFile sampled (mapped library pages, shared "
                                         "between processes), the largest over ranks"))):
                dataset(g, name, arr(lambda x, i=i: x["mem"][i]), "bytes", desc, dims)
    os.replace(tmp, path)


def summary_rows(args, res):
    """One row per (bank, ranks): best walls and stages, memory ratios."""
    rows = []
    for b, (n, k) in enumerate(args.banks):
        for r, ranks in enumerate(args.ranks):
            s = min(res["study"][b][r], key=lambda x: x["wall"])
            e = min(res["recall"][b][r], key=lambda x: x["wall"])
            shard = shard_bytes(n, k, ranks)
            mem = [max(x["mem"][i] for x in res[p][b][r]) / shard
                   for p in PROGRAMS for i in range(3)]
            rows.append((n, k, ranks, s, e, mem))
    return rows


def power10(n):
    """10^6 for 1000000, else the number."""
    e = len(str(n)) - 1
    return f"10^{e}" if n == 10 ** e and e > 2 else str(n)


def ratio(a, b, fmt):
    return format(a / b, fmt) if b > 0 else "n/a"


def print_table(args, rows, out=sys.stdout):
    print("| bank | ranks | uhn run | store + recall stage | uhn recall | io + compute "
          "| run ÷ recall | run ÷ its recall stage | run: peak RSS ÷ shard | private (anon) "
          "| library pages | recall: peak RSS ÷ shard |", file=out)
    print("|---" * 12 + "|", file=out)
    for n, k, ranks, s, e, mem in rows:
        print(f"| {power10(n)} × {k} | {ranks} | {s['wall']:.2f} s | {s['stage_a']:.2f} + "
              f"{s['stage_b']:.2f} s | {e['wall']:.2f} s | {e['stage_a']:.2f} + "
              f"{e['stage_b']:.2f} s | {ratio(s['wall'], e['wall'], '.2f')} | "
              f"{ratio(s['wall'], s['stage_b'], '.1f')} | {mem[0]:.2f} | {mem[1]:.2f} | "
              f"{mem[2]:.2f} | {mem[3]:.2f} |", file=out)


def measure(args, res, b, r, i, deck, bank, queries, study_out, recall_out):
    """One launch of each program for bank b at ranks index r, repeat i, with its
    line. The order alternates with i: how long the first touch of fresh memory
    takes on a virtual machine depends on what ran just before."""
    (n, k), ranks = args.banks[b], args.ranks[r]
    for prog in PROGRAMS if i % 2 == 0 else PROGRAMS[::-1]:
        res[prog][b][r].append(run_study(args, ranks, deck) if prog == "study" else
                               run_recall(args, ranks, bank, queries, recall_out))
    s, e = res["study"][b][r][-1], res["recall"][b][r][-1]
    print(f"study_scale.py: N = {n}, K = {k}, {ranks} rank(s): uhn run {s['wall']:.3f} s "
          f"(store {s['stage_a']:.3f}, recall {s['stage_b']:.3f}), uhn recall {e['wall']:.3f} s "
          f"(io {e['stage_a']:.3f}, compute {e['stage_b']:.3f}); peak RSS per rank "
          f"{s['mem'][0] / 1e6:.0f} / {e['mem'][0] / 1e6:.0f} MB", flush=True)


def main(argv):
    ap = argparse.ArgumentParser(prog="study_scale.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("--uhn", required=True, help="the uhn program")
    ap.add_argument("--out", required=True, help="HDF5 file to write (a .md table beside it)")
    ap.add_argument("--banks", default="1e6x64,1e7x64,1e6x784", help="banks NxK")
    ap.add_argument("--ranks", default="1,2", help="rank counts (default 1,2)")
    ap.add_argument("--queries", type=int, default=100, help="queries (default 100)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each, interleaved (default 3)")
    ap.add_argument("--workdir", default=None, help="for the banks (default: --out's dir)")
    ap.add_argument("--mpirun", default="mpirun", help="the launcher (default mpirun)")
    ap.add_argument("--mpirun-args", default="", help="extra launcher options")
    ap.add_argument("--timeout", type=float, default=600, help="seconds per launch (default 600)")
    try:
        args = ap.parse_args(argv)
        check_args(args)
        workdir = args.workdir or os.path.dirname(os.path.abspath(args.out))
        os.makedirs(workdir, exist_ok=True)
        prov = provenance(args)
        load0 = loadavg()
        print(banner("study_scale.py", prov, load0), flush=True)
        res = {p: [[[] for _ in args.ranks] for _ in args.banks] for p in PROGRAMS}
        deck = os.path.join(workdir, "study_scale.ini")
        study_out = os.path.join(workdir, "study_scale_run.h5")
        recall_out = os.path.join(workdir, "study_scale_recall.h5")
        for b, (n, k) in enumerate(args.banks):
            bank = os.path.join(workdir, f"study_scale_bank_{n}_{k}.h5")
            queries = os.path.join(workdir, f"study_scale_q_{n}_{k}.h5")
            paths = [deck, study_out, recall_out, bank, queries]
            try:
                write_inputs(bank, queries, n, k, args.queries)
                write_deck(deck, n, k, args.queries, study_out)
                for i in range(args.repeat):
                    for r in range(len(args.ranks)):
                        measure(args, res, b, r, i, deck, bank, queries, study_out, recall_out)
            finally:
                for path in paths + [p + ".part" for p in paths]:
                    if os.path.exists(path):
                        os.remove(path)
        load1 = loadavg()
        write_h5(args.out, args, prov, res, load0, load1)
        rows = summary_rows(args, res)
        table = os.path.splitext(args.out)[0] + ".md"
        with open(table + ".part", "w") as f:
            print(f"Best of {args.repeat} launches, timed whole; memory: the largest over "
                  f"ranks and runs; load average {load0} -> {load1}.\n", file=f)
            print_table(args, rows, f)
        os.replace(table + ".part", table)
        print()
        print_table(args, rows)
        print(f"\nload average at start {load0}, at end {load1} on {prov['cores']} cores")
        print(f"wrote {args.out} and {table}")
        return 0
    except InputError as e:
        print(f"study_scale.py: {e}", file=sys.stderr)
        return 2
    except (RuntimeError, OSError) as e:
        print(f"study_scale.py: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
