"""The uhnpy analysis package (postprocess/uhnpy) on small real files: a capacity
study (`uhn run` on a synthetic deck sweeping n, similarity, beta and the noise
level, with saved images), an encoded study (pca, trajectories, separability), a
`uhn recall` output, a `uhn separability` output and an encoder model. Every figure
and table is made and its plotted numbers are checked against the file (read here
with h5py); bad files give one clear message."""
import csv
import io
import os
import shutil
import subprocess
import sys

import h5py
import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
POST = os.path.normpath(os.path.join(HERE, "..", "..", "postprocess"))
sys.path.insert(0, POST)

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import uhnpy  # noqa: E402
from uhnpy import idx, outcome, plots, study as st, tables  # noqa: E402
from uhnpy.__main__ import main as cli  # noqa: E402

SWEEP_DECK = """\
[data]
source = synthetic:uniform?n=300&h=12&w=12&seed=3
[memory]
n = 10, 40
[network]
similarity = dot, euclidean
separation = softmax
beta = 1, 50
[query]
corruption = gaussian
level = 0.01, 0.2
count = 10
[experiment]
trials = 3
threshold = 1.5
seed = 5
[output]
file = {out}
save_images = 2
quiet = on
"""

ENCODED_DECK = """\
[data]
source = synthetic:uniform?n=200&h=6&w=6&seed=4
[memory]
n = 30
[encoder]
name = identity, pca
dim = 8
seed = 1
[network]
similarity = dot
separation = softmax
beta = 20
steps = 3
[query]
corruption = mask_top
level = 0.5
count = 6
[experiment]
trials = 1
seed = 2
[output]
file = {out}
save_images = 3
trajectory = 0, 1, 3
separability = on
quiet = on
"""


def run(cmd, cwd, timeout=120):
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMP_NUM_THREADS="1")
    p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert p.returncode == 0, f"{cmd} failed ({p.returncode}): {p.stderr}"
    return p


def uhn_run(opts, name, deck):
    work = opts["work"]
    out = os.path.join(work, name + ".h5")
    if os.path.exists(out):
        os.remove(out)
    with open(os.path.join(work, name + ".ini"), "w") as f:
        f.write(deck.format(out=name + ".h5"))
    run([opts["mpiexec"], "--oversubscribe", "-n", "2", opts["uhn"], "run", name + ".ini",
         "--fresh"], work)
    return out


@pytest.fixture(scope="session")
def sweep(opts):
    return uhn_run(opts, "sweep", SWEEP_DECK)


@pytest.fixture(scope="session")
def encoded(opts):
    return uhn_run(opts, "encoded", ENCODED_DECK)


@pytest.fixture(scope="session")
def tools(opts):
    """A bank written by h5py, its `uhn recall`, `uhn separability` and pca model."""
    work = opts["work"]
    rng = np.random.default_rng(7)
    mem = rng.random((25, 16)).astype("f4")
    with h5py.File(os.path.join(work, "bank.h5"), "w") as f:
        f["memories"] = mem
        f["queries"] = np.clip(mem[:6] + rng.normal(0, 0.05, (6, 16)), 0, 1).astype("f4")
        f["images"] = (mem.reshape(25, 4, 4) * 255).astype("u1")
    u = opts["uhn"]
    run([u, "recall", "--memories", "bank.h5", "--queries", "bank.h5", "--output", "rec.h5",
         "--beta", "30"], work)
    run([u, "separability", "--queries", "bank.h5:queries", "--memories", "bank.h5:memories",
         "--output", "sep.h5", "--bins", "20"], work)
    run([u, "encode", "fit", "--encoder", "pca", "--dim", "3", "--input", "bank.h5:images",
         "--model", "pca.h5"], work)
    return {k: os.path.join(work, k + ".h5") for k in ("bank", "rec", "sep", "pca")}


def axes_values(path, name="frac_correct"):
    """{axis: values} read independently of uhnpy (root datasets named by the labels)."""
    with h5py.File(path, "r") as f:
        d = f[name]
        labels = [d.dims[i].label for i in range(d.ndim)]
        return labels, {a: f[a][()] for a in labels}


def errorbar_lines(ax):
    """(x, y, yerr) of each errorbar container of an Axes."""
    out = []
    for c in ax.containers:
        line, _, bars = c
        x, y = line.get_data()
        yerr = None
        if bars:
            segs = bars[0].get_segments()
            yerr = np.array([(s[1][1] - s[0][1]) / 2 for s in segs])
        out.append((np.asarray(x, float), np.asarray(y, float), yerr, c.get_label()))
    return out


# ---------------------------------------------------------------------------
# reader


def test_reader_labels_from_scales(sweep):
    labels, values = axes_values(sweep)
    with uhnpy.open_file(sweep) as f:
        assert f.kind == "study"
        a = f.read("frac_correct")
        assert list(a.dims) == labels
        for lab in labels:
            want = values[lab]
            got = a.coords[lab]
            if want.dtype.kind in "OS":
                assert list(got) == [w.decode() if isinstance(w, bytes) else w for w in want]
            else:
                np.testing.assert_array_equal(got, want)
        with h5py.File(sweep, "r") as h:
            np.testing.assert_array_equal(a.values, h["frac_correct"][()])
        assert list(a.coords["similarity"]) == ["dot", "euclidean"]
        np.testing.assert_array_equal(a.coords["n"], [10, 40])
        np.testing.assert_array_equal(a.coords["level"], [0.01, 0.2])
        sub = a.sel(similarity="euclidean", n=40)
        assert "similarity" not in sub.dims and "n" not in sub.dims
        with h5py.File(sweep, "r") as h:
            np.testing.assert_array_equal(sub.values, h["frac_correct"][1, :, 1])
        pt = f.read("per_trial/frac_correct")
        assert pt.dims[-1] == "trial" and pt.shape[-1] == 3
        assert [a for a, _ in f.sweep_axes()] == labels


def test_reader_dims_without_scales(tmp_path):
    p = str(tmp_path / "noscale.h5")
    with h5py.File(p, "w") as f:
        f["output"] = np.zeros((3, 4), "f4")
        f["output"].attrs["axes"] = "query,coordinate"
        f["index"] = np.arange(3)
        f["weight"] = np.ones(3, "f4")
        f.attrs["command"] = "recall"
    with uhnpy.open_file(p) as f:
        assert f.kind == "recall"
        assert f.read("output").dims == ("query", "coordinate")
        assert f.read("index").dims == ("dim_0",)
        np.testing.assert_array_equal(f.read("index").coords["dim_0"], [0, 1, 2])


def test_reader_kinds(sweep, encoded, tools, opts):
    kinds = {sweep: "study", encoded: "study", tools["rec"]: "recall",
             tools["sep"]: "separability", tools["pca"]: "encoder_model"}
    for path, kind in kinds.items():
        with uhnpy.open_file(path) as f:
            assert f.kind == kind, path
    # a checkpoint: complete = 0
    part = os.path.join(opts["work"], "ck.h5.partial")
    shutil.copy(sweep, part)
    with h5py.File(part, "r+") as f:
        f.attrs["complete"] = 0
    with uhnpy.open_file(part) as f:
        assert f.kind == "checkpoint"
    from uhnpy.summary import summary

    assert summary(part)[0] == f"{part}: capacity study checkpoint (uhn run, not finished)"
    # a file of another uhn kind where a study is needed names both kinds
    with pytest.raises(uhnpy.UhnError, match=r"is a recall output \(uhn recall\) file, not "
                       r"capacity study results"):
        uhnpy.open_file(tools["rec"], kinds=("study",))


def test_to_xarray(sweep, capsys):
    ds = uhnpy.to_xarray(sweep)
    with h5py.File(sweep, "r") as h:
        np.testing.assert_array_equal(ds["frac_correct"].values, h["frac_correct"][()])
        assert ds["frac_correct"].dims == tuple(
            h["frac_correct"].dims[i].label for i in range(h["frac_correct"].ndim))
    assert list(ds["similarity"].values) == ["dot", "euclidean"]
    pt = uhnpy.to_xarray(sweep, group="per_trial")
    assert pt["frac_correct"].shape[-1] == 3
    with h5py.File(sweep, "r") as h:
        np.testing.assert_array_equal(pt["frac_correct"].values, h["per_trial/frac_correct"][()])
    np.testing.assert_array_equal(pt["trial"].values, [0, 1, 2])
    # the group's dimensions get the root's scales: select by value, as in the root
    assert list(pt["similarity"].values) == ["dot", "euclidean"]
    with h5py.File(sweep, "r") as h:
        np.testing.assert_array_equal(pt["level"].values, h["level"][()])
        lv = float(h["level"][1])
        want = h["per_trial/frac_correct"][0, 0, 1, 0, 1, 0, 0, 1, 0, 0, 0, :]
    got = pt["frac_correct"].sel(n=10, similarity="euclidean", level=lv, beta=50.0).squeeze(
        drop=True)
    np.testing.assert_array_equal(got.values, want)
    assert cli(["xarray", sweep]) == 0
    out = capsys.readouterr().out
    assert out.startswith("<xarray.Dataset>") and "title:                uhn capacity study" in out
    with pytest.raises(uhnpy.UhnError, match="xarray cannot read group nogroup"):
        uhnpy.to_xarray(sweep, group="nogroup")


# ---------------------------------------------------------------------------
# figures and tables against the file


def check_sweep_lines(path, ax, metric, x):
    """Each line of ax equals the file's metric (and its std as error bars) along x,
    the other axes at the line's values or their first value."""
    with h5py.File(path, "r") as h:
        d = h[metric]
        labels = [d.dims[i].label for i in range(d.ndim)]
        mean, std = d[()], h[metric + "_std"][()]
        vals = {a: [v.decode() if isinstance(v, bytes) else v for v in h[a][()].tolist()]
                for a in labels}
    lines = errorbar_lines(ax)
    others = [a for a in labels if a != x and len(vals[a]) > 1]
    combos = list(np.ndindex(*[len(vals[a]) for a in others]))
    assert len(lines) == len(combos)
    xi = labels.index(x)
    for (lx, ly, lerr, label), combo in zip(lines, combos):
        at = [0] * len(labels)
        for a, i in zip(others, combo):
            at[labels.index(a)] = i
        sel = [slice(None) if k == xi else at[k] for k in range(len(labels))]
        np.testing.assert_allclose(lx, np.asarray(vals[x], float))
        np.testing.assert_allclose(ly, mean[tuple(sel)], rtol=1e-12)
        np.testing.assert_allclose(lerr, std[tuple(sel)], rtol=1e-9, atol=1e-12)
        for a, i in zip(others, combo):
            v = vals[a][i]
            assert (v if isinstance(v, str) else f"{a}=") in label
    return len(lines)


def test_capacity_figure(sweep, tmp_path):
    fig, info = plots.sweep_figure(sweep, "frac_correct", "n")
    assert info["x"] == "n"
    # a line per similarity x beta x level
    assert check_sweep_lines(sweep, fig.axes[0], "frac_correct", "n") == 8
    out = str(tmp_path / "cap.png")
    assert cli(["capacity", sweep, "--out", out]) == 0 and os.path.getsize(out) > 1000


def test_noise_figure(sweep, tmp_path):
    fig, info = plots.sweep_figure(sweep, "mse", "level", need="corruption level")
    assert check_sweep_lines(sweep, fig.axes[0], "mse", "level") == 8
    fig, _ = plots.sweep_figure(sweep, "frac_correct", "level", where=["similarity=dot"])
    assert check_sweep_lines_where(sweep, fig.axes[0])
    out = str(tmp_path / "noise.png")
    assert cli(["noise", sweep, "--out", out, "--y", "mse"]) == 0 and os.path.exists(out)


def check_sweep_lines_where(path, ax):
    lines = errorbar_lines(ax)
    assert len(lines) == 4  # n x beta, similarity fixed to dot
    assert all("dot" not in lab and "euclidean" not in lab for *_, lab in lines)
    with h5py.File(path, "r") as h:
        fc = h["frac_correct"][()]
    first = lines[0]  # n = 10, beta = 1
    np.testing.assert_allclose(first[1], fc[0, 0, 0, 0, 0, 0, 0, :].ravel())
    return True


def test_beta_figure(sweep, tmp_path):
    fig, info = plots.beta_figure(sweep)
    mse_ax, dssim_ax = fig.axes
    check_sweep_lines(sweep, mse_ax, "mse", "beta")
    check_sweep_lines(sweep, dssim_ax, "dssim", "beta")
    assert "1 − SSIM" in dssim_ax.get_ylabel()
    out = str(tmp_path / "beta.png")
    assert cli(["beta", sweep, "--out", out]) == 0 and os.path.exists(out)


def test_tables(sweep, capsys):
    s = st.Study(sweep, "frac_correct")
    keep = st.selection(s, [])
    text = tables.study_table(s, keep, "n", "frac_correct", "csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    with h5py.File(sweep, "r") as h:
        fc, sd = h["frac_correct"][()], h["frac_correct_std"][()]
        ns = h["n"][()]
    assert len(rows) == fc.size
    for r in rows:
        i = [ns.tolist().index(int(r["n"])), 0, ["dot", "euclidean"].index(r["similarity"]),
             0, [1.0, 50.0].index(float(r["beta"].split("=")[-1])), 0, 0,
             [0.01, 0.2].index(float(r["level"]))]
        assert float(r["frac_correct"]) == fc[tuple(i)].ravel()[0]
        assert float(r["frac_correct_std"]) == sd[tuple(i)].ravel()[0]
    md = tables.study_table(s, keep, "n", "frac_correct", "md")
    assert md.splitlines()[0] == "| similarity | beta | level | n = 10 | n = 40 |"
    assert md.splitlines()[2].split(" | ")[3] == f"{fc[0, 0, 0, 0, 0, 0, 0, 0].item():.2f} ± " \
        f"{sd[0, 0, 0, 0, 0, 0, 0, 0].item():.2f}"
    assert cli(["table", sweep, "--format", "csv"]) == 0
    assert capsys.readouterr().out.strip() == text
    # plot_study.py --table prints the same markdown (one code for both)
    p = subprocess.run([sys.executable, os.path.join(POST, "plot_study.py"), sweep, "--table"],
                       capture_output=True, text=True)
    assert p.returncode == 0 and p.stdout.strip() == md


def test_images_grid(sweep, tmp_path):
    fig, info = plots.images_figure(sweep, points=2, queries=2)
    assert info == {"points": 2, "queries": 2}
    with h5py.File(sweep, "r") as h:
        truth = h["images/truth"][()]
        got = h["images/retrieved"][0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    imgs = [ax.get_images()[0].get_array() for ax in fig.axes if ax.get_images()]
    assert len(imgs) == 2 * 3 * 2  # points x rows x queries
    # the retrieved image of the first point's first query, as drawn (scaled to [0, 1])
    allt = np.concatenate([truth[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, :2].ravel(),
                           truth[0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, :2].ravel()])
    lo, hi = allt.min(), allt.max()
    np.testing.assert_allclose(imgs[2], np.clip((got[..., 0] - lo) / (hi - lo), 0, 1), atol=1e-6)
    out = str(tmp_path / "grid.png")
    assert cli(["images", sweep, "--out", out, "--points", "2"]) == 0 and os.path.exists(out)


def test_trajectory_strip(encoded, tmp_path):
    fig, _ = plots.images_figure(encoded, trajectory=True, query=1)
    with h5py.File(encoded, "r") as h:
        traj = h["images/trajectory"][()]
        truth = h["images/truth"][()]
    axes = [ax for ax in fig.axes if ax.get_images()]
    assert len(axes) == 2 * (3 + 2)  # 2 encoders x (query, 3 steps, truth)
    t = truth[:, :, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]  # [n][encoder][...] of query 1
    lo, hi = float(t.min()), float(t.max())
    pca_t3 = traj[0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, ..., 0]
    drawn = axes[5 + 3].get_images()[0].get_array()
    np.testing.assert_allclose(drawn, np.clip((pca_t3 - lo) / (hi - lo), 0, 1), atol=1e-6)
    assert [axes[c].get_title() for c in range(5)] == ["query", "t = 0", "t = 1", "t = 3",
                                                       "truth"]
    out = str(tmp_path / "traj.png")
    assert cli(["images", encoded, "--out", out, "--trajectory"]) == 0


def test_separability_histograms(encoded, tools, tmp_path):
    fig, info = plots.separability_figure(tools["sep"])
    with h5py.File(tools["sep"], "r") as h:
        edges, sh, ch = h["bin_edges"][()], h["self_hist"][()], h["cross_hist"][()]
        assert info["dprime"] == h["dprime"][()] and info["top1"] == h["top1"][()]
    ax = fig.axes[0]
    poly = {p.get_label().split(" ")[0]: p for p in ax.patches}
    for name, hist in (("self", sh), ("cross", ch)):
        assert poly[name].get_label() == f"{name} ({int(hist.sum())})"
        dens = hist / (hist.sum() * np.diff(edges))
        np.testing.assert_allclose(poly[name].get_data().values, dens)
        np.testing.assert_allclose(poly[name].get_data().edges, edges)
    fig, _ = plots.separability_figure(encoded)
    with h5py.File(encoded, "r") as h:
        dp = h["separability/dprime"][()].ravel()
    titles = [a.get_title() for a in fig.axes if a.get_visible()]
    assert len(titles) == 2
    assert f"d′ = {dp[1]:.3g}" in titles[1]
    for p in (tools["sep"], encoded):
        assert cli(["separability", p, "--out", str(tmp_path / "sep.png")]) == 0


def test_summary(sweep, tools, capsys):
    assert cli(["summary", sweep]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{sweep}: capacity study results (uhn run)"
    assert "16 of 16 points done; 3 trials" in out[1]
    assert out[2] == ("axes: n = 10, 40; similarity = dot, euclidean; beta = 1, 50; "
                      "level = 0.01, 0.2")
    assert any(ln.startswith("provenance: uhn_version = ") for ln in out)
    assert len(out) <= 8
    assert cli(["summary", tools["rec"]]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith("recall output (uhn recall)")
    assert "output[query,coordinate]" in out[2]


# ---------------------------------------------------------------------------
# one rule, one IDX reader


def test_outcome_rule(encoded, sweep):
    with h5py.File(sweep, "r") as h:
        g = h["images"]
        sse, oc = g["sq_error"][()], g["outcome"][()]
        idx_, w = g["recalled_index"][()], g["weight"][()]
        img = g["image_index"][()]
        theta = float(h.attrs["threshold_effective"])
    ok = img >= 0
    got = outcome.classify(sse[ok], idx_[ok], w[ok], img[ok], theta)
    np.testing.assert_array_equal(got, oc[ok])
    assert set(np.unique(oc[ok])) >= {0}
    np.testing.assert_array_equal(outcome.sq_error([[0, 1], [1, 1]], [[0, 0], [0, 0]]), [1, 2])
    # the code-space outcome of spec §10 against the file's images/code_outcome
    for path in (sweep, encoded):
        with h5py.File(path, "r") as h:
            g = h["images"]
            ok = g["image_index"][()] >= 0
            got = outcome.classify_code(g["recalled_index"][()][ok], g["weight"][()][ok],
                                        g["image_index"][()][ok])
            np.testing.assert_array_equal(got, g["code_outcome"][()][ok])


def test_idx_reader(tmp_path):
    data = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    head = (0x803).to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in data.shape)
    import gzip

    p = str(tmp_path / "x-idx3-ubyte.gz")
    with gzip.open(p, "wb") as f:
        f.write(head + data.tobytes())
    np.testing.assert_array_equal(idx.read_idx(p, idx.IMAGES), data)
    np.testing.assert_array_equal(idx.read_idx(p, count=1), data[:1])
    raw = str(tmp_path / "x-idx3-ubyte")
    with open(raw, "wb") as f:
        f.write(head + data.tobytes()[:-1])
    with pytest.raises(idx.IdxError, match=r"is truncated \(39 bytes, expected 40\)"):
        idx.read_idx(raw)
    with pytest.raises(idx.IdxError, match="is not an IDX file of labels"):
        idx.read_idx(p, idx.LABELS)
    with pytest.raises(idx.IdxError, match="holds 2 images, not 5") as e:
        idx.read_idx(p, count=5)
    assert e.value.held == 2
    fm = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz"
    if os.path.exists(fm):
        assert idx.read_idx(fm, idx.LABELS).shape == (10000,)


# ---------------------------------------------------------------------------
# bad files: one clear message


def bad_cases(sweep, tmp):
    missing = os.path.join(tmp, "missing_ds.h5")
    shutil.copy(sweep, missing)
    with h5py.File(missing, "r+") as f:
        del f["queries"]
    other = os.path.join(tmp, "other.h5")
    with h5py.File(other, "w") as f:
        f["temperature"] = np.arange(5.0)
    trunc = os.path.join(tmp, "trunc.h5.partial")
    with open(sweep, "rb") as f:
        blob = f.read()
    with open(trunc, "wb") as f:
        f.write(blob[:len(blob) // 3])
    text = os.path.join(tmp, "notes.h5")
    with open(text, "w") as f:
        f.write("not hdf5\n")
    return [
        (missing, f"{missing} is a damaged capacity study results (uhn run) file "
                  f"(no dataset queries)"),
        (other, f"{other} is not a uhn file (an HDF5 file of another tool: datasets "
                f"temperature)"),
        (trunc, f"{trunc} is a truncated or damaged HDF5 file"),
        (text, f"{text} is not a uhn file (not an HDF5 file)"),
        (os.path.join(tmp, "nothere.h5"), f"no such file: {os.path.join(tmp, 'nothere.h5')}"),
    ]


def test_bad_files(sweep, tmp_path):
    for path, message in bad_cases(sweep, str(tmp_path)):
        with pytest.raises(uhnpy.UhnError) as e:
            uhnpy.open_file(path)
        assert str(e.value).startswith(message), str(e.value)
        assert "\n" not in str(e.value)
        p = subprocess.run([sys.executable, "-m", "uhnpy", "summary", path],
                           env=dict(os.environ, PYTHONPATH=POST), capture_output=True, text=True)
        assert p.returncode == 2
        assert p.stdout == ""
        lines = p.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("uhnpy: error: " + message), p.stderr


def test_bad_arguments(sweep, encoded, tools, capsys):
    enc = sweep.replace("sweep.h5", "encoded.h5")
    assert cli(["noise", enc, "--out", "x.png"]) == 2
    assert capsys.readouterr().err == (f"uhnpy: error: {enc} sweeps no corruption level: "
                                       "level has one value (0.5)\n")
    assert cli(["capacity", sweep, "--out", "x.png", "--y", "nope"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "uhnpy: error: unknown metric 'nope' (metrics: " + ", ".join(st.METRICS) + ")"]
    assert cli(["separability", tools["rec"], "--out", "x.png"]) == 2
    err = capsys.readouterr().err
    assert err == (f"uhnpy: error: {tools['rec']} is a recall output (uhn recall) file, not "
                   "separability of encodings (uhn separability) or capacity study results "
                   "(uhn run) or capacity study checkpoint (uhn run, not finished)\n")
    for cmd in (["beta"], ["capacity"], ["noise"], ["images"], ["images", "--trajectory"],
                ["table"]):
        argv = cmd[:1] + [tools["sep"]] + cmd[1:] + (["--out", "x.png"] if cmd[0] != "table"
                                                     else [])
        assert cli(argv) == 2
        assert capsys.readouterr().err == (
            f"uhnpy: error: {tools['sep']} is a separability of encodings (uhn separability) "
            "file, not capacity study results (uhn run) or capacity study checkpoint (uhn run, "
            "not finished)\n")
    assert cli(["images", sweep.replace("sweep.h5", "encoded.h5"), "--out", "x.png",
                "--trajectory", "--query", "9"]) == 2
    assert capsys.readouterr().err == "uhnpy: error: --query 9: the file holds saved queries " \
        "0 to 2\n"
    assert cli(["beta", enc, "--out", "x.png"]) == 2
    assert capsys.readouterr().err == f"uhnpy: error: {enc} sweeps no beta (network.beta has " \
        "one value)\n"
    assert cli(["table", sweep, "--where", "n=11"]) == 2
    assert capsys.readouterr().err == "uhnpy: error: --where n=11: no such value (the file " \
        "has n = 10, 40)\n"
    assert cli([]) == 2
    assert capsys.readouterr().err.startswith("uhnpy: error: a command is required")


# ---------------------------------------------------------------------------
# scaling: postprocess/scaling.py's file, the `scaling` command (plot_scaling.py)


@pytest.fixture(scope="session")
def scaling_file(opts):
    out = os.path.join(opts["work"], "scaling.h5")
    if os.path.exists(out):
        os.remove(out)
    run([sys.executable, os.path.join(POST, "scaling.py"), "run", "--uhn", opts["uhn"],
         "--out", out, "--mpirun", opts["mpiexec"], "--mpirun-args=--oversubscribe",
         "--n", "1000,4000", "--n-ranks", "2", "--ranks", "1,2", "--ranks-n", "4000",
         "--weak-ranks", "1,2,3", "--weak-n-per-rank", "1500", "--k", "16", "--batch", "1,8", "--steps", "2", "--repeat", "1",
         "--allreduce-bytes", "8,64", "--allreduce-seconds", "0.01", "--timeout", "60"],
        opts["work"], timeout=240)
    return out


def test_scaling_bad_file(sweep, capsys):
    assert cli(["scaling", sweep]) == 2
    assert capsys.readouterr().err == (f"uhnpy: error: {sweep} is a capacity study results "
                                       "(uhn run) file, not scaling benchmark "
                                       "(postprocess/scaling.py)\n")


def test_bench_file(opts, capsys):
    """`uhn bench --h5` (where this build has it): kind, the `case` scale, summary."""
    help_text = subprocess.run([opts["uhn"], "bench", "--help"], capture_output=True,
                               text=True).stdout
    if "--h5" not in help_text:
        pytest.skip("this uhn has no bench --h5")
    out = os.path.join(opts["work"], "bench.h5")
    run([opts["uhn"], "bench", "--n", "2000", "--k", "16", "--batch", "8", "--ref-batch", "2",
         "--repeat", "1", "--warmup", "0", "--steps", "2", "--similarity", "dot", "--h5", out,
         "--quiet"], opts["work"])
    with uhnpy.open_file(out) as f:
        assert f.kind == "bench"
        best = f.read("best")
        assert best.dims == ("case",)
        with h5py.File(out, "r") as h:
            assert list(best.coords["case"]) == [c.decode() if isinstance(c, bytes) else c
                                                 for c in h["case"][()]]
            np.testing.assert_array_equal(best.values, h["best"][()])
    assert cli(["summary", out]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"{out}: benchmark (uhn bench --h5)"
    assert "best[case]" in lines[2]
    # `bench FILE`: the markdown table, a row per case, cells from the file
    assert cli(["bench", out]) == 0
    md = capsys.readouterr().out.splitlines()
    with h5py.File(out, "r") as h:
        cases = [c.decode() for c in h["case"][()]]
        at = dict(h.attrs)
        assert md[0].startswith(f"uhn bench: N = {at['n']}, K = {at['k']}, {at['ranks']} ranks")
        assert md[2].startswith("| case | B | T | best | median | step | rate |")
        rows = [r.split(" | ") for r in md[4:]]
        assert [r[0].lstrip("| ") for r in rows] == cases
        for i, r in enumerate(rows):
            assert r[1] == str(int(h["queries"][i])) and r[2] == str(int(h["steps"][i]))
            assert r[3] == tables.fmt_time(h["best"][i])
            assert r[6] == f"{h['rate'][i]:.3g}" and r[8] == h["unit"][i].decode()
    assert tables.fmt_time(0.0123) == "12.3 ms" and tables.fmt_time(4.2e-5) == "42 µs"
    assert tables.fmt_time(2.5) == "2.5 s"
    assert cli(["bench", out, "--format", "csv"]) == 0
    got = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert got[0][:4] == ["case", "queries", "steps", "best"]
    with h5py.File(out, "r") as h:
        for i, r in enumerate(got[1:]):
            assert r[0] == cases[i] and float(r[3]) == h["best"][i]
            assert float(r[12]) == h["reduce"][i]


def test_scaling_plots(scaling_file, tmp_path, monkeypatch, capsys):
    import matplotlib.figure

    drawn = {}
    save = matplotlib.figure.Figure.savefig

    def record(fig, name, *a, **k):
        drawn[os.path.basename(str(name))] = fig
        return save(fig, name, *a, **k)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", record)
    with uhnpy.open_file(scaling_file) as f:
        assert f.kind == "scaling"
        t = f.read("vs_n/time")
        assert t.dims[:2] == ("batch", "n_memories")
        np.testing.assert_array_equal(t.coords["n_memories"], [1000, 4000])
    out = str(tmp_path)
    assert cli(["scaling", scaling_file, "--outdir", out]) == 0
    text = capsys.readouterr().out
    assert sorted(drawn) == ["scaling_efficiency.png", "scaling_model.png", "scaling_vs_n.png",
                             "scaling_vs_ranks.png"]
    with h5py.File(scaling_file, "r") as h:
        steps = int(h.attrs["steps"])
        for png, g, axis in (("scaling_vs_n.png", "vs_n", "n_memories"),
                             ("scaling_vs_ranks.png", "vs_ranks", "ranks")):
            axes = drawn[png].axes
            assert len(axes) == 2  # one panel per batch
            for j, ax in enumerate(axes):
                lines = {ln.get_label(): ln for ln in ax.get_lines()}
                np.testing.assert_array_equal(lines["compute / step"].get_xdata(), h[g][axis][()])
                for key, label, div in (("compute_s_per_step", "compute / step", 1),
                                        ("reduce_s_per_step", "reduce / step", 1),
                                        ("io_s_per_recall", "I/O / step (per recall / T)", steps)):
                    want = h[g][key][j] / div
                    want = np.where(want > 0, want, np.nan)
                    np.testing.assert_allclose(lines[label].get_ydata(), want, rtol=1e-12)
        # parallel efficiency R0 T(R0) / (R T(R)), a line per batch and timer
        ranks = h["vs_ranks/ranks"][()].astype(float)
        batch = h["coords/batch"][()]
        eff_ax = drawn["scaling_efficiency.png"].axes[0]
        lines = {ln.get_label(): ln for ln in eff_ax.get_lines()}
        for key in ("total", "compute"):
            t = h[f"vs_ranks/{key}_s_per_step"][()]
            for j, b in enumerate(batch):
                ln = lines[f"{key}, B = {b}"]
                np.testing.assert_array_equal(ln.get_xdata(), ranks)
                np.testing.assert_allclose(ln.get_ydata(), ranks[0] * t[j, 0] / (ranks * t[j]),
                                           rtol=1e-12)
        # weak scaling (N = R x n_per_rank): T(R0) / T(R) in the second panel
        assert len(drawn["scaling_efficiency.png"].axes) == 2
        wranks = h["weak/ranks"][()]
        np.testing.assert_array_equal(wranks, [1, 2, 3])
        assert h["weak"].attrs["n_per_rank"] == 1500
        np.testing.assert_array_equal(h["weak/n_memories"][()], 1500 * wranks)
        lines = {ln.get_label(): ln for ln in drawn["scaling_efficiency.png"].axes[1].get_lines()}
        for key in ("total", "compute"):
            t = h[f"weak/{key}_s_per_step"][()]
            for j, b in enumerate(batch):
                ln = lines[f"{key}, B = {b}"]
                np.testing.assert_array_equal(ln.get_xdata(), wranks)
                np.testing.assert_allclose(ln.get_ydata(), t[j, 0] / t[j], rtol=1e-12)
    # the same tables as plot_scaling.py
    with open(os.path.join(out, "scaling_tables.md")) as f:
        tables_md = f.read()
    other = tmp_path / "plot_scaling"
    other.mkdir()
    p = subprocess.run([sys.executable, os.path.join(POST, "plot_scaling.py"), scaling_file,
                        "--outdir", str(other)], capture_output=True, text=True)
    assert p.returncode == 0
    assert p.stdout.startswith(tables_md)
    assert "| N | B | compute / step |" in text


# ---------------------------------------------------------------------------
# figures: labels, styles, dpi; the recall grid


def test_figure_labels_and_styles(sweep, tmp_path, capsys):
    """Lines of one figure never share colour and style; the level axis is named by
    the corruption; the title names the trials and leaves out default axes."""
    fig, _ = plots.sweep_figure(sweep, "frac_correct", "n")
    ax = fig.axes[0]
    looks = [(tuple(c[0].get_color()) if not isinstance(c[0].get_color(), str)
              else c[0].get_color(), c[0].get_linestyle()) for c in ax.containers]
    assert len(looks) == 8 and len(set(looks)) == 8
    # similarity x beta give the colour (4), level (2 values) the style
    assert len({c for c, _ in looks}) == 4 and {s for _, s in looks} == {"-", "--"}
    assert ax.get_xlabel() == "N, stored memories"
    title = ax.get_title()
    assert "(mean ± sd over 3 trials)" in title
    assert "nan" not in title and "param=" not in title and "known=" not in title
    fig, _ = plots.sweep_figure(sweep, "frac_correct", "level")
    assert fig.axes[0].get_xlabel() == "level: noise variance (gaussian)"
    fig, _ = plots.beta_figure(sweep)
    assert fig._suptitle.get_text().startswith("sweep: reconstruction error against β")
    out = str(tmp_path / "c.png")
    assert cli(["capacity", sweep, "--out", out, "--dpi", "50"]) == 0
    import matplotlib.image

    h, w = matplotlib.image.imread(out).shape[:2]
    assert (w, h) == (400, 225)  # 8 x 4.5 inches at 50 dpi
    capsys.readouterr()
    assert cli(["capacity", sweep, "--out", out, "--dpi", "5"]) == 2
    assert capsys.readouterr().err == "uhnpy: error: --dpi 5: expected an integer in [10, 600]\n"


def test_summary_cue_only(encoded, capsys):
    assert cli(["summary", encoded]) == 0
    fixed = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("fixed: ")]
    assert fixed and "cue_only = off" in fixed[0]


def test_recall_grid(tools, tmp_path, capsys, monkeypatch):
    """`recall FILE`: per query the query, the output and the stored row n*, read from
    the files the output names (relative to its folder, wherever we run from)."""
    monkeypatch.chdir(tmp_path)
    fig, info = plots.recall_figure(tools["rec"], queries=3)
    with h5py.File(tools["rec"], "r") as h:
        z, n, w = h["output"][()], h["index"][()], h["weight"][()]
    with h5py.File(tools["bank"], "r") as h:
        q, mem = h["queries"][()], h["memories"][()]
    axes = [ax for ax in fig.axes if ax.get_images()]
    assert len(axes) == 3 * 3
    for j in range(3):
        np.testing.assert_allclose(axes[j].get_images()[0].get_array(), q[j].reshape(4, 4),
                                   rtol=1e-6)
        np.testing.assert_allclose(axes[3 + j].get_images()[0].get_array(),
                                   z[j].reshape(4, 4), rtol=1e-6)
        np.testing.assert_allclose(axes[6 + j].get_images()[0].get_array(),
                                   mem[n[j]].reshape(4, 4), rtol=1e-6)
        assert axes[6 + j].get_title() == f"n* = {n[j]}, w = {w[j]:.2f}"
    np.testing.assert_array_equal(info["index"], n[:3])
    out = str(tmp_path / "r.png")
    assert cli(["recall", tools["rec"], "--out", out, "--shape", "2x8"]) == 0
    assert os.path.getsize(out) > 1000
    capsys.readouterr()
    assert cli(["recall", tools["rec"], "--out", out, "--shape", "3x5"]) == 2
    assert capsys.readouterr().err == ("uhnpy: error: --shape 3x5: 3 x 5 is not the 16 values "
                                       "of a query\n")
    assert cli(["recall", tools["sep"], "--out", out]) == 2
    assert capsys.readouterr().err == (f"uhnpy: error: {tools['sep']} is a separability of "
                                       "encodings (uhn separability) file, not recall output "
                                       "(uhn recall)\n")
    # the output moved away from its inputs: the bank cannot be found
    moved = str(tmp_path / "rec.h5")
    shutil.copy(tools["rec"], moved)
    assert cli(["recall", moved, "--out", out]) == 2
    assert capsys.readouterr().err == (f"uhnpy: error: cannot find bank.h5, the queries file of "
                                       f"{moved} (looked in the current folder and next to "
                                       f"{moved})\n")
