#!/usr/bin/python3
"""Whether two `uhn run` results files hold the same results.

    same_results.py GOT.h5 REF.h5 [--what TEXT]

Same set of datasets; every dataset but the timings (`seconds`, and any
dataset named `*seconds*` or `*_time*`) equal in dtype, shape and value (NaN
where the other has NaN; strings as strings); the root attributes and the
`parameters` group's attributes equal but those a part file or a merge adds
(`part_*`). The `provenance` group (times, host, command line, ranks,
resumes) is not compared. Exit 0 when they agree, else 1 with one line per
difference (at most 20) on stderr.
"""
import argparse
import sys

import h5py
import numpy as np


def timing(name):
    leaf = name.rsplit("/", 1)[-1]
    return "seconds" in leaf or leaf.endswith("_time") or leaf == "time"


def as_str(v):
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.ndarray) and v.dtype.kind in "OS":
        return np.array([as_str(x) for x in v.ravel()], dtype=object).reshape(v.shape)
    return v


def datasets(f):
    out = {}

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset) and not name.startswith("provenance"):
            out[name] = obj[...]
    f.visititems(visit)
    return out


def equal(a, b):
    a, b = as_str(np.asarray(a)), as_str(np.asarray(b))
    if a.shape != b.shape:
        return False
    if a.dtype.kind == "O" or b.dtype.kind == "O":
        return a.dtype.kind == b.dtype.kind and all(x == y for x, y in zip(a.ravel(), b.ravel()))
    if a.dtype != b.dtype:
        return False
    if a.dtype.kind in "fc":
        return bool(np.array_equal(a, b, equal_nan=True))
    return bool(np.array_equal(a, b))


def compare(got_path, ref_path):
    diffs = []
    with h5py.File(got_path, "r") as g, h5py.File(ref_path, "r") as r:
        gd, rd = datasets(g), datasets(r)
        if sorted(gd) != sorted(rd):
            diffs.append(f"datasets differ: only in got {sorted(set(gd) - set(rd))}, "
                         f"only in ref {sorted(set(rd) - set(gd))}")
        for name in sorted(set(gd) & set(rd)):
            if not timing(name) and not equal(gd[name], rd[name]):
                diffs.append(f"dataset '{name}' differs")
        for group in ("/", "parameters"):
            if group not in g or group not in r:
                diffs.append(f"group '{group}' missing")
                continue
            ga = {k: v for k, v in g[group].attrs.items() if not k.startswith("part_")}
            ra = {k: v for k, v in r[group].attrs.items() if not k.startswith("part_")}
            if ga.keys() != ra.keys():
                diffs.append(f"attributes of '{group}' differ: {sorted(ga)} vs {sorted(ra)}")
            for k in sorted(ga.keys() & ra.keys()):
                if not equal(ga[k], ra[k]):
                    diffs.append(f"attribute '{group}' {k}: {ga[k]!r} != {ra[k]!r}")
    return diffs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("got")
    ap.add_argument("ref")
    ap.add_argument("--what", default="")
    a = ap.parse_args()
    what = f"{a.what}: " if a.what else ""
    try:
        diffs = compare(a.got, a.ref)
    except OSError as e:
        print(f"same_results.py: {what}{e}", file=sys.stderr)
        return 1
    for d in diffs[:20]:
        print(f"same_results.py: {what}{a.got} vs {a.ref}: {d}", file=sys.stderr)
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
