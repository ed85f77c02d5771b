#!/usr/bin/python3
"""Smoke test of postprocess/bench_peers.py on a tiny problem.

Runs the driver on the first 500 Fashion-MNIST training images (or, where the
data set is not installed, a synthetic bank of 500 x 64), one repeat, at
2 ranks x 1 thread and 1 rank x 2 threads, and checks what it printed, never
how fast anything was:

- the environment names OPENBLAS_CORETYPE, the OpenBLAS core numpy picked, the
  load average, the uhn configurations and the torch and FAISS versions (or
  why they are missing); the three measured limits and the nominal L1 rate;
- the table has every workload (W1, W2, W3, W4, W4 after its first step, KL,
  JS, and W1/W2 without the energy when `uhn recall --help` lists
  --no-energy, beside the same peers, which compute no energy and pool no
  copy) with a row for each uhn configuration and each peer of that workload
  (a time or a reason);
- in every row with a time, 'vs uhn' is that time over the first
  configuration's time of the workload, the rate is the workload's work over
  the time, and '% limit' the rate over the limit printed above, each to the
  printed precision; the CSV holds the same rows to full precision and the
  JSON's JS / KL ratios are the quotient of the CSV times;
- the summary's peer ratios (W1 numpy / uhn, W3 faiss / uhn, ...) are the
  table's;
- the checker itself rejects a table with one doctored ratio (so it can fail);
- a peer whose module cannot be imported is a row saying so, not a crash;
- a malformed --configs exits 2 with one message naming the option.

    test_bench_peers.py --script postprocess/bench_peers.py --uhn build/uhn
                        --mpirun mpiexec --workdir DIR
"""
import argparse
import csv
import json
import os
import re
import shutil
import subprocess
import sys

IMAGES = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"
MPI_ENV = {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
           "OMPI_MCA_rmaps_base_oversubscribe": "1"}
PEERS_OF = {"W1": ("numpy", "torch"), "W1-noE": ("numpy", "torch"),
            "W2": ("numpy", "torch"), "W2-noE": ("numpy", "torch"),
            "W3": ("torch", "faiss"), "W4": ("numpy", "torch"), "W4-later": ("numpy", "torch"),
            "KL": (), "JS": ()}
CONFIGS = ("uhn 2x1", "uhn 1x2")
# Work per timed unit, in units of 1e9, by workload: (N, K, B) -> work.
WORK = {"W1": lambda n, k, b: 4.0 * n * b * k, "W1-noE": lambda n, k, b: 4.0 * n * b * k,
        "W2": lambda n, k, b: 4.0 * n * b * k, "W2-noE": lambda n, k, b: 4.0 * n * b * k,
        "W3": lambda n, k, b: 1.0 * n * b * k, "W4": lambda n, k, b: 4.0 * n * k,
        "W4-later": lambda n, k, b: 4.0 * n * k,
        "KL": lambda n, k, b: 1.0 * n * b * k, "JS": lambda n, k, b: 1.0 * n * b * k}
LIMIT_OF = {"W1": "sgemm", "W1-noE": "sgemm", "W2": "sgemm", "W2-noE": "sgemm",
            "W3": "l1_rate", "W4": "read_bandwidth", "W4-later": "read_bandwidth"}

failures = []
quiet = [False]  # True while the checker is run on a doctored table


def check(cond, what):
    if not cond:
        failures.append(what)
        if not quiet[0]:
            print("FAIL: " + what, flush=True)
    return cond


def close(printed, exact, rel, absolute=0.0):
    return abs(printed - exact) <= absolute + rel * abs(exact)


def run_driver(a, extra, env=None):
    cmd = [sys.executable, a.script, "--uhn", a.uhn, "--mpirun", a.mpirun, "--bind", "none",
           "--cores", "2", "--repeat", "1"] + extra
    print("+ " + " ".join(cmd), flush=True)
    full_env = dict(os.environ, **MPI_ENV, PYTHONDONTWRITEBYTECODE="1")
    full_env.update(env or {})
    return subprocess.run(cmd, capture_output=True, text=True, timeout=a.timeout, env=full_env)


# Relative rounding of each printed limit (half a unit of its last digit): a
# slow limit (4.8 GB/s in a sanitizer build) prints 2 significant digits.
LIMIT_ROUNDING = {}


def parse_limits(out):
    limits = {}
    for key in ("sgemm", "read_bandwidth", "l1_rate", "l1_nominal"):
        m = re.search(r"^  %s\s+([0-9.]+) " % key, out, re.M)
        if check(m, "limit line '%s' printed" % key):
            text = m.group(1)
            limits[key] = float(text)
            decimals = len(text.split(".")[1]) if "." in text else 0
            LIMIT_ROUNDING[key] = 0.5 * 10.0 ** -decimals / max(float(text), 1e-30)
    return limits


def parse_table(out):
    """Rows of the printed table as dicts; the description carried down."""
    lines = out.splitlines()
    start = next((i for i, l in enumerate(lines) if l.startswith("workload ") and "| impl" in l),
                 None)
    if not check(start is not None, "table header printed"):
        return []
    rows, desc = [], None
    for line in lines[start + 2:]:
        if " | " not in line:
            break
        cells = [c.strip() for c in line.split("|")]
        desc = cells[0] or desc
        row = {"description": desc, "impl": cells[1]}
        if len(cells) == 3:
            row["note"] = cells[2]
        else:
            rate = cells[3].split()
            row.update(time_ms=float(cells[2]), rate=float(rate[0]), unit=rate[1],
                       pct=None if cells[4] == "-" else float(cells[4].rstrip("%")),
                       vs=None if cells[5] == "-" else float(cells[5]))
        rows.append(row)
    return rows


def check_table(rows, csv_rows, limits):
    """Every row with a time against the others; returns the number of errors."""
    before = len(failures)
    by_desc = {}
    for r in csv_rows:
        by_desc.setdefault(r["description"], r["workload"])
    for desc in by_desc:
        check(any(r["description"] == desc for r in rows), "table has workload '%s'" % desc)
    primary = {}
    for r in rows:
        if r["impl"] == CONFIGS[0] and "time_ms" in r:
            primary[r["description"]] = r["time_ms"]
    csv_by_key = {(c["description"], c["impl"]): c for c in csv_rows}
    for r in rows:
        key = (r["description"], r["impl"])
        c = csv_by_key.get(key)
        if not check(c is not None, "table row %s is in the CSV" % (key,)):
            continue
        w = by_desc.get(r["description"])
        if "time_ms" not in r:
            check(c["time_s"] == "", "row %s without a time has none in the CSV" % (key,))
            continue
        t = float(c["time_s"])
        check(close(r["time_ms"], 1e3 * t, 6e-4), "row %s: printed time %g ms is the CSV's %g s"
              % (key, r["time_ms"], t))
        n, k, b = int(c["N"]), int(c["K"]), int(c["B"])
        work = WORK[w](n, k, b) / 1e9
        check(close(r["rate"], work / t, 1.2e-3),
              "row %s: rate %g = work / time = %g" % (key, r["rate"], work / t))
        if w in LIMIT_OF:
            lim = limits.get(LIMIT_OF[w])
            rel = 2e-3 + LIMIT_ROUNDING.get(LIMIT_OF[w], 0.0)
            check(r["pct"] is not None and lim and close(r["pct"], 100.0 * r["rate"] / lim, rel,
                                                            0.06),
                  "row %s: %% limit %s = rate / %s limit" % (key, r["pct"], LIMIT_OF[w]))
        else:
            check(r["pct"] is None, "row %s: no limit for %s" % (key, w))
        ref = primary.get(r["description"])
        if ref is None:
            check(r["vs"] is None, "row %s: no ratio without the first configuration's time"
                  % (key,))
            continue
        exact = r["time_ms"] / ref
        check(r["vs"] is not None and close(r["vs"], exact, 1.2e-3, 6e-4),
              "row %s: vs uhn %s = time / %s time = %.5f" % (key, r["vs"], CONFIGS[0], exact))
        if c["vs_uhn"]:
            ref_c = float(csv_by_key[(r["description"], CONFIGS[0])]["time_s"])
            check(close(float(c["vs_uhn"]), t / ref_c, 1e-9), "CSV row %s: vs_uhn = time_s ratio"
                  % (key,))
    return len(failures) - before


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--script", required=True)
    p.add_argument("--uhn", required=True)
    p.add_argument("--mpirun", default="mpirun")
    p.add_argument("--workdir", required=True)
    p.add_argument("--timeout", type=float, default=240)
    a = p.parse_args()
    shutil.rmtree(a.workdir, ignore_errors=True)
    os.makedirs(a.workdir)
    data = ["--n", "500"] if os.path.exists(IMAGES) else ["--n", "500", "--synthetic", "64"]
    csv_path, json_path = (os.path.join(a.workdir, f) for f in ("peers.csv", "peers.json"))

    # 1. The full run.
    r = run_driver(a, data + ["--batch", "100", "--l1-batch", "50", "--kl-batch", "10",
                              "--steps", "20", "--configs", "2x1,1x2", "--workdir",
                              os.path.join(a.workdir, "scratch"), "--csv", csv_path,
                              "--json", json_path])
    print(r.stdout)
    if not check(r.returncode == 0, "driver exits 0 (got %d): %s" % (r.returncode, r.stderr)):
        return 1
    out = r.stdout
    for key in ("OPENBLAS_CORETYPE", "load_average", "idle_percent_1s", "uhn_configs",
                "peer_threads", "torch ", "faiss ", "numpy_openblas", "uhn openblas 2x1",
                "uhn openblas 1x2", "uhn --no-energy", "timing "):
        check(re.search(r"^  %s" % re.escape(key), out, re.M), "environment line '%s'" % key)
    check(re.search(r"numpy_openblas .*core \S+", out), "the OpenBLAS core numpy picked")
    check("2 rank(s) x 1 thread(s), 1 rank(s) x 2 thread(s)" in out, "both configurations")
    limits = parse_limits(out)
    rows = parse_table(out)
    with open(csv_path, newline="") as f:
        csv_rows = list(csv.DictReader(f))
    with open(json_path) as f:
        js = json.load(f)

    help_text = subprocess.run([a.uhn, "recall", "--help"], capture_output=True, text=True).stdout
    workloads = ["W1", "W2", "W3", "W4", "W4-later", "KL", "JS"]
    if "--no-energy" in help_text:
        workloads += ["W1-noE", "W2-noE"]
    check(sorted({c["workload"] for c in csv_rows}) == sorted(workloads),
          "CSV workloads %s are %s" % (sorted({c["workload"] for c in csv_rows}), workloads))
    for w in workloads:
        impls = [c["impl"] for c in csv_rows if c["workload"] == w]
        want = list(CONFIGS) + list(PEERS_OF[w])
        check(impls == want, "workload %s has rows %s (want %s)" % (w, impls, want))
        for c in csv_rows:
            if c["workload"] == w and c["impl"] in PEERS_OF[w]:
                check(c["time_s"] != "" or c["note"].startswith("skipped"),
                      "peer row %s %s has a time or says why not" % (w, c["impl"]))
    check(len(rows) == len(csv_rows), "the table has the CSV's %d rows (%d)"
          % (len(csv_rows), len(rows)))
    check(any("time_ms" in r and r["impl"].startswith("uhn") for r in rows),
          "at least one uhn time above the timers' resolution")
    check_table(rows, csv_rows, limits)

    # The JS / KL ratio of the JSON from the CSV times, and printed.
    times = {(c["workload"], c["impl"]): c["time_s"] for c in csv_rows}
    for cfg in CONFIGS:
        tag = cfg.split()[1]
        ratio = [x for x in js["ratios"] if x["name"] == "JS / KL time, uhn " + tag]
        if check(len(ratio) == 1, "JSON ratio JS / KL for %s" % tag):
            js_t, kl_t = times.get(("JS", cfg)), times.get(("KL", cfg))
            if js_t and kl_t:
                check(close(ratio[0]["value"], float(js_t) / float(kl_t), 1e-9),
                      "JS / KL ratio %s is the CSV's quotient" % tag)
            else:
                check(ratio[0]["value"] is None, "JS / KL null without both times")
        check(re.search(r"^  JS / KL time, uhn %s\s+\S+" % tag, out, re.M),
              "JS / KL ratio printed for %s" % tag)
    # W4-later: uhn's per step after the first (its step1 timer) is a time of
    # its own; a peer pools no copy, so its W4-later time is its W4 time.
    for c in csv_rows:
        if c["workload"] != "W4-later" or not c["time_s"]:
            continue
        w4 = times.get(("W4", c["impl"]))
        if c["impl"] in CONFIGS:
            check(float(c["time_s"]) > 0, "W4-later %s: a positive time" % c["impl"])
        elif w4:
            check(close(float(c["time_s"]), float(w4), 1e-12),
                  "W4-later %s is the peer's W4 time" % c["impl"])
    # The peer ratios of the summary are the table's.
    for w, peer in (("W1", "numpy"), ("W2", "numpy"), ("W3", "faiss"), ("W4", "numpy"),
                    ("W4-later", "numpy")):
        c = next((c for c in csv_rows if c["workload"] == w and c["impl"] == peer), None)
        name = "%s %s / %s time" % (w, peer, CONFIGS[0])
        ratio = [x for x in js["ratios"] if x["name"] == name]
        if c and c["vs_uhn"]:
            check(len(ratio) == 1 and close(ratio[0]["value"], float(c["vs_uhn"]), 1e-9),
                  "summary ratio '%s' is the table's vs uhn" % name)
    check(set(js["limits"]) == {"sgemm", "read_bandwidth", "l1_rate"}, "JSON limits")
    for key in js["limits"]:
        check(close(limits.get(key, -1), js["limits"][key], 0, 0.051),
              "printed limit %s is the JSON's" % key)

    # 2. The checker can fail: one ratio doctored.
    doctored = [dict(r) for r in rows]
    victim = next((r for r in doctored if r.get("vs") and r["impl"] != CONFIGS[0]), None)
    if check(victim is not None, "a row to doctor"):
        victim["vs"] *= 1.5
        saved = list(failures)
        quiet[0] = True
        errors = check_table(doctored, csv_rows, limits)
        quiet[0] = False
        failures[:] = saved
        check(errors >= 1, "the checker rejects a doctored ratio (%d errors)" % errors)

    # 3. A peer whose module cannot be imported: a row that says so.
    fake = os.path.join(a.workdir, "fake")
    os.makedirs(fake, exist_ok=True)
    with open(os.path.join(fake, "faiss.py"), "w") as f:
        f.write("raise ImportError('not installed here')\n")
    r = run_driver(a, data + ["--batch", "20", "--l1-batch", "10", "--kl-batch", "5",
                              "--steps", "2", "--configs", "1x1", "--peers", "faiss"],
                   env={"PYTHONPATH": fake})
    check(r.returncode == 0, "driver without faiss exits 0 (got %d): %s" % (r.returncode, r.stderr))
    check(re.search(r"^\s+\| faiss\s+\| skipped: cannot import faiss", r.stdout, re.M),
          "a skipped-faiss row in the table:\n" + r.stdout[-1500:])
    check("note: skipped: cannot import faiss" in r.stderr, "the skip noted on stderr")

    # 4. A malformed configuration list.
    r = run_driver(a, data + ["--configs", "2by1"])
    check(r.returncode == 2 and "--configs" in r.stderr and "2by1" in r.stderr,
          "--configs 2by1 exits 2 naming the option (%d: %s)" % (r.returncode, r.stderr))

    if failures:
        print("%d check(s) failed" % len(failures))
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
