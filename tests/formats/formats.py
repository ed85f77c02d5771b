#!/usr/bin/python3
"""Every HDF5 file uhn writes opens as a labelled xarray.Dataset (issue 11).

Each case runs real, small uhn commands into a scratch folder, then opens every
file they wrote with h5py and with xarray (engine "h5netcdf", the root group
and every subgroup) and asserts, group by group (check_file):

  - xarray opens the group with the default options (no phony_dims);
  - every h5py dataset of the group is an xarray variable and nothing else is;
  - every dimension of every dataset has a dimension scale attached, the HDF5
    label of the dimension is the scale's name, and xarray's dimension names
    are those names (h5netcdf takes the last scale attached);
  - each dimension's coordinate equals the values of its scale dataset (a
    scale in a parent group, as the sweep axes of a study's per_trial/, is a
    dimension without coordinate in the child: its values are checked with
    the parent group);
  - every variable's values equal h5py's exactly (same dtype for numbers,
    the same strings for variable- and fixed-length strings, NaN where NaN);
  - the group's attributes and each variable's description and units equal
    h5py's.

Cases (--case NAME; --list prints them):
  recall        uhn recall: one step, iterated with --save-steps (energy
                [query][step], trajectory [query][saved_step][coordinate]),
                hetero-associative --values (output [query][coordinate] of O
                columns), on banks written here with h5py
  encode        uhn encode fit (pca, vq, centred, random; an mlp model file
                written with h5py), apply and apply --decode, text pixel
                (digest strings) and ngram
  separability  uhn separability on codes
  bench         uhn bench --h5 (tiny sizes) and --limits-only --h5: also the
                table against the printed one and the attributes
  study         uhn run on a deck with an [encoder] section (identity, pca and
                the mlp file), trajectories and separability, a resumable
                OUT.partial (--max-points 1), the parts of --part I/2 and their
                `uhn merge`, and a [text] deck (ngram codes)
  scaling       postprocess/scaling.py run on a tiny problem (groups vs_n,
                vs_ranks, weak, allreduce, coords)

    formats.py --uhn build/uhn --mpiexec mpiexec --case recall --ranks 2
"""
import os
import re
import subprocess
import sys
import tempfile
import warnings

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "cli"))
sys.path.insert(0, os.path.join(HERE, "..", "encoders"))
from uhn_cli import Runner, TestFailure, check, common_args, main_wrapper  # noqa: E402
from encode_vq_mlp import mlp_model  # noqa: E402

import xarray as xr  # noqa: E402

CASES = ("recall", "encode", "separability", "bench", "study", "scaling")

# Groups of `uhn run` results files that must fail to open with xarray: none
# since src/experiments/study_io.c labels every dimension (own_axes). A group
# named here must still FAIL to open, so that this test notices a fix.
STUDY_UNLABELLED = {"enc": set(), "text": set()}


def text_of(v):
    """A string value as str, from h5py (bytes or str) or xarray."""
    return v.decode("utf-8") if isinstance(v, (bytes, np.bytes_)) else str(v)


def same_values(xv, hv, what):
    """xarray's array xv against h5py's hv, exactly."""
    xv, hv = np.asarray(xv), np.asarray(hv)
    check(xv.shape == hv.shape, f"{what}: xarray shape {xv.shape}, h5py {hv.shape}")
    if hv.dtype.kind in "OSU":
        xs = [text_of(v) for v in xv.ravel()]
        hs = [text_of(v) for v in hv.ravel()]
        check(xs == hs, f"{what}: strings differ: xarray {xs[:4]}..., h5py {hs[:4]}...")
        return
    check(xv.dtype == hv.dtype, f"{what}: xarray dtype {xv.dtype}, h5py {hv.dtype}")
    check(np.array_equal(xv, hv, equal_nan=hv.dtype.kind == "f"),
          f"{what}: values differ from h5py's")


def same_attr(xa, ha, what):
    if isinstance(ha, (bytes, str, np.bytes_, np.str_)):
        check(text_of(xa) == text_of(ha), f"{what}: xarray {xa!r}, h5py {ha!r}")
    else:
        same_values(np.asarray(xa), np.asarray(ha), what)


def is_scale(d):
    return text_of(d.attrs.get("CLASS", b"")) == "DIMENSION_SCALE"


def groups_of(f):
    names = ["/"]
    f.visititems(lambda n, o: names.append("/" + n) if isinstance(o, h5py.Group) else None)
    return names


def check_group(path, f, gname):
    """Checks one group; returns the number of datasets checked."""
    g = f[gname]
    where = f"{os.path.basename(path)}:{gname.rstrip('/')}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ds = xr.open_dataset(path, engine="h5netcdf",
                                 group=None if gname == "/" else gname)
        except Exception as e:  # noqa: BLE001 - the message is the finding
            raise TestFailure(f"{where}: xarray cannot open it: {type(e).__name__}: {e}")
    with ds:
        dsets = {k: v for k, v in g.items() if isinstance(v, h5py.Dataset)}
        check(set(ds.variables) == set(dsets),
              f"{where}: xarray variables {sorted(ds.variables)} != h5py datasets {sorted(dsets)}")
        for name, d in dsets.items():
            what = f"{where}/{name}"
            want = []
            if is_scale(d):  # a scale is the coordinate of its own dimension
                check(d.ndim == 1, f"{what}: a dimension scale of rank {d.ndim}")
                check(text_of(d.attrs.get("NAME", b"")) == name,
                      f"{what}: scale named {d.attrs.get('NAME')!r}")
                want = [name]
            for i in range(d.ndim if not want else 0):
                scales = list(d.dims[i].values())
                check(scales, f"{what}: dimension {i} has no dimension scale")
                sname = scales[-1].name.split("/")[-1]
                check(d.dims[i].label == sname,
                      f"{what}: dimension {i} labelled {d.dims[i].label!r}, scale {sname!r}")
                want.append(sname)
                home = scales[-1].parent.name
                if home == g.name:  # a coordinate of this group
                    coord = ds[sname]
                    check(coord.dims == (sname,),
                          f"{what}: coordinate {sname} has dims {coord.dims}")
                    same_values(coord.values, scales[-1][()], f"{where} coordinate {sname}")
                else:  # a parent's: xarray shows the dimension, its values are the parent's
                    check(g.name.startswith(home.rstrip("/") + "/"),
                          f"{what}: scale {scales[-1].name} is not in this group or a parent")
                    check(sname not in ds.variables,
                          f"{what}: {sname} is a variable here and a parent's scale")
            var = ds.variables[name]
            check(var.dims == tuple(want), f"{what}: xarray dims {var.dims}, scales {tuple(want)}")
            same_values(var.values, d[()], what)
            for a in ("description", "units"):
                check(a in d.attrs, f"{what}: no {a} attribute")
                check(a in var.attrs, f"{what}: xarray lost the {a} attribute")
                same_attr(var.attrs[a], d.attrs[a], f"{what} attribute {a}")
        for a, v in g.attrs.items():
            check(a in ds.attrs, f"{where}: xarray lost the attribute {a}")
            same_attr(ds.attrs[a], v, f"{where} attribute {a}")
        return len(dsets)


def check_file(path, unlabelled=()):
    """All groups of one file; those in `unlabelled` must fail to open."""
    with h5py.File(path, "r") as f:
        groups = groups_of(f)
        count = 0
        for gname in groups:
            if gname.lstrip("/") in unlabelled:
                try:
                    check_group(path, f, gname)
                except TestFailure:
                    continue
                raise TestFailure(f"{path}:{gname} now opens labelled: remove it from "
                                  "STUDY_UNLABELLED in tests/formats/formats.py")
            count += check_group(path, f, gname)
    print(f"ok {os.path.basename(path)}: {len(groups)} groups, {count} datasets")
    return count


def dims_of(path, name):
    with h5py.File(path, "r") as f:
        return tuple(list(d.values())[-1].name.split("/")[-1] for d in f[name].dims)


def uhn_ok(runner, ranks, argv, cwd):
    rc, out, err = runner.run(ranks, argv, cwd=cwd)
    check(rc == 0, f"uhn {' '.join(map(str, argv))} failed (exit {rc}):\n{out}\n{err}")
    return out


# ------------------------------------------------------------------ cases

def images_file(path, n=30, side=8):
    rng = np.random.default_rng(3)
    with h5py.File(path, "w") as f:
        f["images"] = (rng.random((n, side, side)) * 255).astype(np.uint8)
        f["labels"] = np.arange(n) % 3
        f.create_dataset("captions", data=[f"item {i}, a small thing" for i in range(n)],
                         dtype=h5py.string_dtype())


def case_recall(runner, ranks, d):
    rng = np.random.default_rng(1)
    with h5py.File(os.path.join(d, "bank.h5"), "w") as f:
        f["memories"] = rng.random((20, 16)).astype(np.float32)
        f["queries"] = (f["memories"][:5] + 0.01).astype(np.float64)
        f["values"] = rng.random((20, 3)).astype(np.float32)
    uhn_ok(runner, ranks, ["recall", "--memories", "bank.h5", "--queries", "bank.h5",
                           "--output", "one.h5", "--quiet"], d)
    uhn_ok(runner, ranks, ["recall", "--memories", "bank.h5", "--queries", "bank.h5",
                           "--output", "iter.h5", "--steps", "3", "--save-steps", "0,2,3",
                           "--beta", "5", "--quiet"], d)
    uhn_ok(runner, ranks, ["recall", "--memories", "bank.h5", "--queries", "bank.h5",
                           "--values", "bank.h5", "--output", "hetero.h5", "--quiet"], d)
    for name in ("one.h5", "iter.h5", "hetero.h5"):
        check_file(os.path.join(d, name))
    it = os.path.join(d, "iter.h5")
    check(dims_of(it, "energy") == ("query", "step"), "energy dims")
    check(dims_of(it, "trajectory") == ("query", "saved_step", "coordinate"), "trajectory dims")
    check(dims_of(os.path.join(d, "hetero.h5"), "output") == ("query", "coordinate"), "output")
    with xr.open_dataset(it, engine="h5netcdf") as ds:
        check(ds.sizes == {"query": 5, "step": 4, "coordinate": 16, "saved_step": 3},
              f"iter.h5 sizes {dict(ds.sizes)}")
        check(list(ds["step"].values) == [0, 1, 2, 3], "step coordinate is not 0..T")
    with xr.open_dataset(os.path.join(d, "hetero.h5"), engine="h5netcdf") as ds:
        check(ds.sizes["coordinate"] == 3, "hetero output has O = 3 coordinates")


def case_encode(runner, ranks, d):
    images_file(os.path.join(d, "imgs.h5"))
    mlp_model(os.path.join(d, "mlp.h5"), 64, 6, (8, 8, 1))
    fits = {"pca": ["--dim", "8"], "vq": ["--patch", "4", "--codes", "4"], "centred": [],
            "random": ["--dim", "5"]}
    for enc, extra in fits.items():
        uhn_ok(runner, ranks, ["encode", "fit", "--encoder", enc, "--input", "imgs.h5",
                               "--model", f"{enc}.h5", "--quiet"] + extra, d)
        check_file(os.path.join(d, f"{enc}.h5"))
    check(dims_of(os.path.join(d, "pca.h5"), "components") == ("component", "pixel"), "pca")
    check(dims_of(os.path.join(d, "vq.h5"), "codebook") == ("code", "patch_value"), "vq")
    for model in ("pca", "vq", "mlp"):
        uhn_ok(runner, ranks, ["encode", "apply", "--model", f"{model}.h5", "--input", "imgs.h5",
                               "--output", f"codes_{model}.h5", "--quiet"], d)
        uhn_ok(runner, ranks, ["encode", "apply", "--model", f"{model}.h5", "--input",
                               f"codes_{model}.h5", "--output", f"dec_{model}.h5", "--decode",
                               "--quiet"], d)
        check_file(os.path.join(d, f"codes_{model}.h5"))
        check_file(os.path.join(d, f"dec_{model}.h5"))
        check(dims_of(os.path.join(d, f"codes_{model}.h5"), "output") == ("image", "component"),
              "codes dims")
        check(dims_of(os.path.join(d, f"dec_{model}.h5"), "output") == ("image", "pixel"),
              "decoded dims")
    uhn_ok(runner, ranks, ["encode", "text", "--method", "pixel", "--input", "imgs.h5",
                           "--output", "tpix.h5", "--shape", "8,8,1", "--quiet"], d)
    uhn_ok(runner, ranks, ["encode", "text", "--method", "ngram", "--input", "imgs.h5",
                           "--output", "tngram.h5", "--dim", "32", "--quiet"], d)
    for name in ("tpix.h5", "tngram.h5"):
        check_file(os.path.join(d, name))
    check(dims_of(os.path.join(d, "tpix.h5"), "digest") == ("caption",), "digest dims")
    with xr.open_dataset(os.path.join(d, "tpix.h5"), engine="h5netcdf") as ds:
        dig = [str(v) for v in ds["digest"].values]
        check(len(dig) == 30 and all(re.fullmatch("[0-9a-f]{64}", v) for v in dig),
              "digest strings through xarray are not 64 hex characters")


def case_separability(runner, ranks, d):
    rng = np.random.default_rng(2)
    with h5py.File(os.path.join(d, "codes.h5"), "w") as f:
        f["memories"] = rng.standard_normal((12, 6)).astype(np.float32)
        f["queries"] = (f["memories"][()] + 0.3 * rng.standard_normal((12, 6))).astype(np.float32)
    uhn_ok(runner, ranks, ["separability", "--queries", "codes.h5:queries", "--memories",
                           "codes.h5:memories", "--output", "sep.h5", "--bins", "10",
                           "--quiet"], d)
    path = os.path.join(d, "sep.h5")
    check_file(path)
    check(dims_of(path, "self_hist") == ("bin",) and dims_of(path, "bin_edges") == ("edge",),
          "separability dims")
    with xr.open_dataset(path, engine="h5netcdf") as ds:
        check(ds.sizes == {"bin": 10, "edge": 11}, f"sizes {dict(ds.sizes)}")
        check(int(ds["self_hist"].sum()) == 12 and int(ds["cross_hist"].sum()) == 12 * 11,
              "histogram counts")


def case_bench(runner, ranks, d):
    tiny = ["bench", "--n", "300", "--k", "16", "--batch", "8", "--steps", "2", "--repeat", "1",
            "--warmup", "0", "--ref-batch", "2", "--quiet"]
    out = uhn_ok(runner, ranks, tiny + ["--h5", "bench.h5", "--csv", "bench.csv"], d)
    uhn_ok(runner, ranks, tiny + ["--limits-only", "--h5", "limits.h5"], d)
    path = os.path.join(d, "bench.h5")
    check_file(path)
    check_file(os.path.join(d, "limits.h5"))
    cases = ["iterate dot, 1 query", "batch dot", "batch euclidean", "batch manhattan",
             "batch dot, fast kernel", "batch dot, REF kernel"]
    with xr.open_dataset(path, engine="h5netcdf") as ds:
        check([str(c) for c in ds["case"].values] == cases, f"cases {list(ds['case'].values)}")
        check(all(v.dims == ("case",) for k, v in ds.data_vars.items()), "a column not along case")
        check(list(ds["queries"].values) == [1, 8, 8, 8, 2, 2], "queries column")
        check(list(ds["steps"].values) == [2, 1, 1, 1, 1, 1], "steps column")
        check(ds.attrs["ranks"] == ranks and ds.attrs["n"] == 300 and ds.attrs["k"] == 16,
              "problem attributes")
        for a in ("read_bandwidth_GBps", "sgemm_GFLOPps", "l1_rate_Gelemps"):
            check(ds.attrs[a] > 0, f"limit {a} = {ds.attrs[a]}")
        check(ds["best"].attrs["units"] == "s", "best units")
        # The same numbers as the printed table (best[s] column, %.5f) and the CSV.
        table = {}
        for line in out.splitlines():
            for c in cases:
                if line.startswith(c + " ") and len(line.split()) > 4:
                    rest = line[len(c):].split()
                    if c not in table and re.fullmatch(r"\d+", rest[0]):
                        table[c] = float(rest[2])
        for i, c in enumerate(cases):
            check(c in table and abs(table[c] - float(ds["best"].values[i])) <= 5e-6,
                  f"{c}: best {ds['best'].values[i]} against the printed {table.get(c)}")
        csv = [ln for ln in open(os.path.join(d, "bench.csv")) if ln.startswith('"')]
        check(len(csv) == len(cases), "CSV rows")
        for i, ln in enumerate(csv):
            best = float(ln.split('",')[1].split(",")[6])
            check(abs(best - float(ds["best"].values[i])) <= 1e-5 * best, f"CSV best of {cases[i]}")
    with xr.open_dataset(os.path.join(d, "limits.h5"), engine="h5netcdf") as ds:
        check(ds.sizes["case"] == 0 and ds.attrs["limits_only"] == "on", "limits-only file")
    # A bad --h5 is refused before any timing, with one line.
    rc, out, err = runner.run(ranks, tiny + ["--h5", os.path.join(d, "no", "such", "b.h5")], cwd=d)
    lines = [ln for ln in err.splitlines() if ln.startswith("uhn:")]
    check(rc == 2 and len(lines) == 1 and "--h5" in lines[0] and "uhn bench\n" not in out,
          f"bad --h5: exit {rc}, stderr {err!r}")


STUDY_DECK = """\
[data]
source = hdf5:imgs.h5
[memory]
n = 10, 20
[encoder]
name = identity, pca, file:mlp.h5
dim = 6
[network]
similarity = dot
separation = softmax
beta = 10
steps = 3
[query]
corruption = mask_top
level = 0.5
count = 4
[experiment]
trials = 2
seed = 1
[output]
file = {out}
save_images = 3
trajectory = 0, 1, 3
separability = on
separability_bins = 10
quiet = on
"""

TEXT_DECK = """\
[data]
source = hdf5:imgs.h5
[memory]
n = 30
[network]
similarity = dot
separation = softmax
beta = 1000
[query]
corruption = none
count = 30
[text]
method = ngram
dim = 64
scale = auto
known = on
shared = 0, 0.5
[experiment]
trials = 1
seed = 1
[output]
file = text.h5
save_images = 5
quiet = on
"""


def case_study(runner, ranks, d):
    images_file(os.path.join(d, "imgs.h5"))
    mlp_model(os.path.join(d, "mlp.h5"), 64, 6, (8, 8, 1))
    for name, text in (("enc.ini", STUDY_DECK.format(out="enc.h5")),
                       ("part.ini", STUDY_DECK.format(out="part.h5")), ("text.ini", TEXT_DECK)):
        with open(os.path.join(d, name), "w") as f:
            f.write(text)
    uhn_ok(runner, ranks, ["run", "enc.ini"], d)
    rc, out, err = runner.run(ranks, ["run", "part.ini", "--max-points", "1"], cwd=d)
    check(rc == 3 and os.path.exists(os.path.join(d, "part.h5.partial")),
          f"--max-points 1: exit {rc}, no part.h5.partial\n{err}")
    uhn_ok(runner, ranks, ["run", "text.ini"], d)
    for i in (0, 1):  # a split sweep and its merge
        uhn_ok(runner, ranks, ["run", "enc.ini", "--part", f"{i}/2"], d)
    uhn_ok(runner, 1, ["merge", "merged.h5", "enc.part0of2.h5", "enc.part1of2.h5"], d)
    for name in ("enc.h5", "part.h5.partial", "enc.part0of2.h5", "merged.h5"):
        check_file(os.path.join(d, name), STUDY_UNLABELLED["enc"])
    check_file(os.path.join(d, "text.h5"), STUDY_UNLABELLED["text"])
    enc = os.path.join(d, "enc.h5")
    check(dims_of(enc, "encoders/1/components") == ("component", "pixel"), "pca in the study")
    check(dims_of(enc, "encoders/2/layers/encoder/0/weight") == ("output", "input"),
          "mlp layers in the study")
    with xr.open_dataset(enc, engine="h5netcdf") as ds:
        check(list(ds["encoder"].values) == ["identity", "pca", "file:mlp.h5"],
              f"encoder axis {list(ds['encoder'].values)}")
    with xr.open_dataset(enc, engine="h5netcdf", group="per_trial") as ds:
        check(ds["mse"].dims[-1] == "trial" and ds.sizes["n"] == 2, "per_trial dims")


def case_scaling(runner, ranks, d, script):
    out = os.path.join(d, "scaling.h5")
    cmd = [sys.executable, script, "run", "--uhn", runner.uhn, "--out", out, "--n", "500",
           "--n-ranks", "1", "--ranks", "1,2", "--ranks-n", "500", "--batch", "1,4",
           "--weak-ranks", "1,2", "--weak-n-per-rank", "300",
           "--steps", "2", "--repeat", "1", "--workdir", os.path.join(d, "work")]
    p = subprocess.run(cmd, capture_output=True, text=True, env=runner.env, timeout=runner.timeout)
    check(p.returncode == 0, f"scaling.py failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    check_file(out)
    with h5py.File(out, "r") as f:  # the shared scales stay first (plot_scaling.py, h5py users)
        check(f["vs_n/time"].dims[0][0].name == "/coords/batch", "coords/batch not first")
    check(dims_of(out, "vs_n/time") == ("batch", "n_memories", "phase", "rank_stat"), "vs_n")
    check(dims_of(out, "vs_ranks/time") == ("batch", "ranks", "phase", "rank_stat"), "vs_ranks")
    check(dims_of(out, "weak/time") == ("batch", "ranks", "phase", "rank_stat"), "weak")
    check(dims_of(out, "weak/n_memories") == ("ranks",), "weak/n_memories")


def main():
    ap = common_args(__doc__.split("\n\n")[0])
    ap.add_argument("--case", choices=CASES)
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--scaling", default=os.path.join(HERE, "..", "..", "postprocess",
                                                      "scaling.py"))
    ap.add_argument("--list", action="store_true")
    if "--list" in sys.argv:
        print("\n".join(CASES))
        return
    args = ap.parse_args()
    runner = Runner(args)
    with tempfile.TemporaryDirectory(prefix=f"formats_{args.case}_") as tmp:
        d = args.workdir or tmp
        if args.workdir:
            os.makedirs(d, exist_ok=True)
        if args.case == "scaling":
            case_scaling(runner, args.ranks, d, args.scaling)
        else:
            globals()[f"case_{args.case}"](runner, args.ranks, d)


if __name__ == "__main__":
    if "--list" in sys.argv:
        main()
        sys.exit(0)
    main_wrapper(main)
