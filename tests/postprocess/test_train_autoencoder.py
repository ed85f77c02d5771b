#!/usr/bin/python3
"""Test of postprocess/train_autoencoder.py on tiny synthetic image sets.

Checks, in well under a minute on 2 cores:

- the model file layout of an in-process run (200 images of 8x8, uint8):
  every root attribute with its type, the groups layers/encoder/I and
  layers/decoder/I and nothing else, float32 weight [out][in] and bias [out]
  chaining K -> hidden -> D -> hidden -> K, the activation strings;
- a numpy forward pass of the saved weights equals the torch model's codes and
  reconstructions to 1e-5;
- the reconstruction MSE (train and validation) falls from epoch 1 to the last
  on an easy (low-rank) set;
- a command-line run on float RGB images with --masked --mask both, two hidden
  layers and a tanh code layer, and one on fashion-mnist@DIR (IDX files made
  here), and one on a 2-D [n][K] dataset with --shape, write the layout they
  should, with the progress lines and last line;
- the occlusions of --masked: top hides 0 ... round(L*H) whole rows, pixels
  hides whole pixels (all channels), the target is untouched;
- the model file gets the mode of an ordinary new file (0666 less the umask);
- each bad input exits with status 2 and exactly the expected one line on
  stderr, creates no output and no temporary file, and leaves an existing
  output byte for byte intact; so does a failure while writing the model.

Exits 77 (CTest SKIP_RETURN_CODE) when torch cannot be imported.

    test_train_autoencoder.py --script postprocess/train_autoencoder.py --workdir DIR
"""
import argparse
import contextlib
import gzip
import importlib.util
import io
import os
import shutil
import subprocess
import sys

import h5py
import numpy as np

EXIT_SKIP = 77
PROG = "train_autoencoder.py"
TOL = 1e-5

# The root attributes of a model and their kinds: "s" string, "i" int64, "f" float64.
ROOT_ATTRS = {
    "uhn_model": "s", "encoder": "s", "dim": "i", "input_length": "i", "height": "i",
    "width": "i", "channels": "i", "whiten": "i", "seed": "i", "n_train": "i",
    "encoder_layers": "i", "decoder_layers": "i", "fit_seconds": "f", "masked": "i",
    "mask": "s", "mask_level": "f", "epochs": "i", "train_mse": "f", "validation_mse": "f",
    "hidden": "s", "torch_version": "s", "batch": "i", "validation_rows": "i", "threads": "i",
    "learning_rate": "f", "epoch_train_mse": "f[]", "epoch_validation_mse": "f[]",
    "activation": "s", "code_activation": "s", "input": "s", "command": "s", "created": "s",
    "numpy_version": "s", "h5py_version": "s", "description": "s",
}
MASKED_ATTRS = {"validation_masked_mse": "f"}
ACT = {"identity": lambda a: a, "relu": lambda a: np.maximum(a, 0), "tanh": np.tanh,
       "sigmoid": lambda a: 1 / (1 + np.exp(-a))}


class TestFailure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def load_script(path):
    spec = importlib.util.spec_from_file_location("train_autoencoder", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# ---------------------------------------------------------------------------
# Data


def easy_images(n, h, w, c, seed):
    """Low-rank images in [0, 1]: mixtures of 3 smooth patterns."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    basis = np.stack([np.sin(3 * xx + 1), np.cos(2 * yy), xx * yy])  # [3][h][w]
    coef = rng.uniform(0, 1, (n, 3))
    img = 0.5 + 0.25 * np.einsum("nb,bhw->nhw", coef, basis)
    img = np.repeat(img[..., None], c, axis=3)
    return np.clip(img, 0, 1)


def write_set(path, data, name="images"):
    with h5py.File(path, "w") as f:
        f.create_dataset(name, data=data)


def write_idx(folder, part, images):
    n, h, w = images.shape
    head = b"".join(int(v).to_bytes(4, "big") for v in (0x803, n, h, w))
    with gzip.open(os.path.join(folder, f"{part}-images-idx3-ubyte.gz"), "wb") as f:
        f.write(head + images.astype(np.uint8).tobytes())


# ---------------------------------------------------------------------------
# Layout and forward pass


def attr_kind(v):
    if isinstance(v, (str, bytes)):
        return "s"
    v = np.asarray(v)
    suffix = "[]" if v.ndim == 1 else ""
    if v.ndim > 1:
        return "?"
    return {"i": "i" if v.dtype == np.int64 else "?", "f": "f" if v.dtype == np.float64 else "?"
            }.get(v.dtype.kind, "?") + suffix


def read_layers(f, part, count):
    g = f["layers"][part]
    check(sorted(g.keys(), key=int) == [str(i) for i in range(count)],
          f"layers/{part} has groups {sorted(g.keys())}, expected 0..{count - 1}")
    out = []
    for i in range(count):
        li = g[str(i)]
        check(isinstance(li, h5py.Group), f"layers/{part}/{i} is not a group")
        check(sorted(li.keys()) == ["bias", "weight"],
              f"layers/{part}/{i} holds {sorted(li.keys())}, expected bias and weight")
        W, b = li["weight"], li["bias"]
        check(W.dtype == np.float32 and b.dtype == np.float32,
              f"layers/{part}/{i}: weight {W.dtype}, bias {b.dtype}; expected float32")
        check(W.ndim == 2 and b.shape == (W.shape[0],),
              f"layers/{part}/{i}: weight {W.shape}, bias {b.shape}; expected [out][in], [out]")
        act = li.attrs.get("activation")
        check(isinstance(act, str), f"layers/{part}/{i}: activation is not a string ({act!r})")
        out.append((W[()], b[()], act))
    return out


def check_layout(path, k, dim, hidden, enc_acts, dec_acts, shape, masked):
    """Checks the model file; returns (encoder layers, decoder layers)."""
    with h5py.File(path, "r") as f:
        want = dict(ROOT_ATTRS, **(MASKED_ATTRS if masked else {}))
        have = set(f.attrs.keys())
        check(have == set(want), f"{path}: root attributes differ: missing "
              f"{sorted(set(want) - have)}, unexpected {sorted(have - set(want))}")
        for name, kind in want.items():
            got = attr_kind(f.attrs[name])
            check(got == kind, f"{path}: attribute {name} is of kind {got}, expected {kind}")
        a = f.attrs
        check(a["uhn_model"] == "encoder" and a["encoder"] == "mlp",
              f"{path}: uhn_model/encoder = {a['uhn_model']}/{a['encoder']}")
        h, w, c = shape
        check((a["dim"], a["input_length"], a["height"], a["width"], a["channels"], a["whiten"])
              == (dim, k, h, w, c, 0), f"{path}: dim/input_length/shape/whiten attributes wrong")
        check(a["hidden"] == ",".join(map(str, hidden)), f"{path}: hidden = {a['hidden']!r}")
        check(list(f.keys()) == ["layers"], f"{path}: root holds {list(f.keys())}")
        check(sorted(f["layers"].keys()) == ["decoder", "encoder"],
              f"{path}: layers holds {sorted(f['layers'].keys())}")
        ne, nd = int(a["encoder_layers"]), int(a["decoder_layers"])
        check((ne, nd) == (len(enc_acts), len(dec_acts)),
              f"{path}: {ne} encoder and {nd} decoder layers, expected {len(enc_acts)} and "
              f"{len(dec_acts)}")
        enc, dec = read_layers(f, "encoder", ne), read_layers(f, "decoder", nd)
        epochs = int(a["epochs"])
        for name in ("epoch_train_mse", "epoch_validation_mse"):
            check(a[name].shape == (epochs,), f"{path}: {name} has shape {a[name].shape}")
        check(a["train_mse"] == a["epoch_train_mse"][-1], f"{path}: train_mse != last epoch")
        check(a["fit_seconds"] > 0, f"{path}: fit_seconds {a['fit_seconds']}")
    sizes = [k] + list(hidden) + [dim]
    for part, layers, chain, acts in (("encoder", enc, sizes, enc_acts),
                                      ("decoder", dec, sizes[::-1], dec_acts)):
        for i, (W, b, act) in enumerate(layers):
            check(W.shape == (chain[i + 1], chain[i]),
                  f"layers/{part}/{i}: weight {W.shape}, expected ({chain[i + 1]}, {chain[i]})")
            check(act == acts[i], f"layers/{part}/{i}: activation {act!r}, expected {acts[i]!r}")
    return enc, dec


def forward(layers, x):
    a = x.astype(np.float64)
    for W, b, act in layers:
        a = ACT[act](a @ W.astype(np.float64).T + b)
    return a


# ---------------------------------------------------------------------------
# Runs


class Env:
    def __init__(self, args):
        self.script = os.path.abspath(args.script)
        self.work = os.path.abspath(args.workdir)

    def path(self, name):
        return os.path.join(self.work, name)

    def run(self, *argv, timeout=120):
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
        p = subprocess.run([sys.executable, self.script] + list(argv), capture_output=True,
                           text=True, timeout=timeout, env=env, cwd=self.work)
        return p.returncode, p.stdout, p.stderr

    def temp_files(self):
        return sorted(n for n in os.listdir(self.work) if n.endswith(".tmp"))


def test_in_process(env, ta):
    """Layout, numpy forward pass, decreasing MSE."""
    data = (easy_images(200, 8, 8, 1, seed=1)[..., 0] * 255).round().astype(np.uint8)
    src, out = env.path("easy.h5"), env.path("easy_model.h5")
    write_set(src, data)
    log = io.StringIO()
    r = ta.run(["--input", src, "--model", out, "--dim", "6", "--hidden", "24", "--epochs", "6",
                "--batch", "16", "--lr", "0.01", "--seed", "7", "--validation", "40"], out=log)
    text = log.getvalue().splitlines()
    check(len(text) == 8 and text[-1].startswith(f"{PROG}: wrote {out}: "),
          "expected a header, 6 epoch lines and the last line, got:\n" + "\n".join(text))
    check(text[1].startswith("epoch 1/6  train mse ") and "validation mse" in text[1]
          and "ETA" in text[1], f"epoch line: {text[1]!r}")
    enc, dec = check_layout(out, 64, 6, [24], ["relu", "identity"], ["relu", "sigmoid"],
                            (8, 8, 1), masked=False)
    with h5py.File(out, "r") as f:
        a = f.attrs
        check((a["n_train"], a["validation_rows"], a["seed"], a["epochs"], a["masked"])
              == (160, 40, 7, 6, 0), "n_train/validation_rows/seed/epochs/masked wrong")
        check(a["mask"] == "none" and a["mask_level"] == 0.0, "mask attributes of a plain run")
        tr, va = a["epoch_train_mse"], a["epoch_validation_mse"]
    check(tr[-1] < tr[0] and va[-1] < va[0],
          f"MSE did not fall: train {tr[0]:.5f} -> {tr[-1]:.5f}, validation {va[0]:.5f} -> "
          f"{va[-1]:.5f}")
    check(va[-1] < 0.9 * va[0], f"validation MSE fell too little: {va[0]:.5f} -> {va[-1]:.5f}")

    import torch

    x = data.reshape(200, 64).astype(np.float32) / 255
    with torch.no_grad():
        t_code = r.model.encoder(torch.from_numpy(x)).numpy()
        t_rec = r.model(torch.from_numpy(x)).numpy()
    n_code, n_rec = forward(enc, x), forward(dec, forward(enc, x))
    dc, dr = np.abs(t_code - n_code).max(), np.abs(t_rec - n_rec).max()
    check(dc <= TOL and dr <= TOL, f"numpy forward differs from torch: codes {dc:.2e}, "
          f"reconstructions {dr:.2e} (tolerance {TOL})")
    # Validation MSE as stored equals the numpy reconstruction error of the held-out rows.
    order = np.random.default_rng(7).permutation(200)
    xv = x[np.sort(order[:40])]
    mse = float(np.mean((forward(dec, forward(enc, xv)) - xv) ** 2))
    check(abs(mse - va[-1]) <= 1e-6, f"validation_mse {va[-1]:.7f} != numpy {mse:.7f}")
    check(env.temp_files() == [], f"temporary files left: {env.temp_files()}")
    umask = os.umask(0)
    os.umask(umask)
    mode = os.stat(out).st_mode & 0o777
    check(mode == 0o666 & ~umask, f"{out} has mode {mode:o}, expected {0o666 & ~umask:o}")
    print(f"layout, numpy forward (codes {dc:.1e}, images {dr:.1e}) and falling MSE "
          f"({va[0]:.4f} -> {va[-1]:.4f}) ok")


def test_occluder(ta):
    import torch

    g = torch.Generator().manual_seed(3)
    h, w, c, L = 10, 4, 3, 0.45  # round(4.5) = 5 rows at most
    x = torch.ones(400, h * w * c)
    top = ta.Occluder(torch, "top", L, h, w, c)(x, g).view(400, h, w, c)
    rows = (top == 0).all(dim=3).all(dim=2)  # [400][h]: whole rows hidden
    counts = rows.sum(dim=1)
    check(bool(((top == 0) | (top == 1)).all()), "top: values other than 0 and 1")
    check(bool((rows == (torch.arange(h)[None, :] < counts[:, None])).all()),
          "top: the hidden rows are not a top block")
    check(int(counts.min()) == 0 and int(counts.max()) == 5,
          f"top: rows hidden range {int(counts.min())}..{int(counts.max())}, expected 0..5")
    check(bool((x == 1).all()), "the occluder changed its input (the target)")
    pix = ta.Occluder(torch, "pixels", L, h, w, c)(x, g).view(400, h, w, c)
    zero = pix == 0
    check(bool((zero.all(dim=3) == zero.any(dim=3)).all()), "pixels: a pixel partly hidden")
    frac = float(zero.all(dim=3).float().mean())
    check(abs(frac - L / 2) < 0.03, f"pixels: {frac:.3f} of the pixels hidden, expected ~{L / 2}")
    both = ta.Occluder(torch, "both", L, h, w, c)(x, g).view(400, h, w, c)
    check(0 < float((both == 0).float().mean()) < L, "both: implausible hidden fraction")
    print("occlusions ok")


def test_cli_masked(env):
    rgb = easy_images(120, 6, 5, 3, seed=2).astype(np.float32)
    src, out = env.path("rgb.h5"), env.path("rgb_model.h5")
    write_set(src, rgb, "pics")
    rc, so, se = env.run("--input", f"{src}:pics", "--output", out, "--dim", "5", "--hidden",
                         "20,10", "--code-activation", "tanh", "--epochs", "2", "--batch", "32",
                         "--masked", "--mask", "both", "--mask-level", "0.4", "--seed", "3",
                         "--threads", "1")
    check(rc == 0, f"masked run: exit {rc}: {se.strip()}")
    lines = so.splitlines()
    check(len(lines) == 4 and "masked (both, level 0.4)" in lines[0]
          and lines[-1].startswith(f"{PROG}: wrote {out}: ") and "(masked " in lines[-1],
          f"masked run output:\n{so}")
    check_layout(out, 90, 5, [20, 10], ["relu", "relu", "tanh"], ["relu", "relu", "sigmoid"],
                 (6, 5, 3), masked=True)
    with h5py.File(out, "r") as f:
        a = f.attrs
        check((a["masked"], a["mask"], a["mask_level"], a["n_train"], a["threads"])
              == (1, "both", 0.4, 108, 1), "masked run attributes")
        check(a["input"] == f"{src}:pics", f"input attribute {a['input']!r}")
    print("command line, masked, float RGB input ok")


def test_cli_fashion_mnist(env):
    folder = env.path("fmnist")
    os.makedirs(folder, exist_ok=True)
    imgs = (easy_images(150, 7, 7, 1, seed=4)[..., 0] * 255).astype(np.uint8)
    write_idx(folder, "train", imgs[:100])
    write_idx(folder, "t10k", imgs[100:])
    out = env.path("fm_model.h5")
    rc, so, se = env.run("--input", f"fashion-mnist:all@{folder}", "--model", out, "--n", "130",
                         "--dim", "4", "--hidden", "none", "--epochs", "1", "--quiet")
    check(rc == 0, f"fashion-mnist run: exit {rc}: {se.strip()}")
    check(len(so.splitlines()) == 1 and so.startswith(f"{PROG}: wrote {out}"),
          f"--quiet output: {so!r}")
    check_layout(out, 49, 4, [], ["identity"], ["sigmoid"], (7, 7, 1), masked=False)
    with h5py.File(out, "r") as f:
        check((f.attrs["n_train"], f.attrs["validation_rows"]) == (117, 13),
              "fashion-mnist: n_train/validation_rows")
        check(f.attrs["input"] == "fashion-mnist:all", f"input {f.attrs['input']!r}")
    print("fashion-mnist IDX input ok")


def test_flat_input(env, ta):
    """A 2-D [n][K] dataset with --shape H,W,C."""
    src, out = env.path("flat_ok.h5"), env.path("flat_model.h5")
    write_set(src, easy_images(60, 4, 3, 2, seed=5).reshape(60, 24), "rows")
    with contextlib.redirect_stdout(io.StringIO()):
        ta.run(["--input", f"{src}:rows", "--shape", "4,3,2", "--model", out, "--dim", "3",
                "--hidden", "8", "--epochs", "1", "--quiet"])
    check_layout(out, 24, 3, [8], ["relu", "identity"], ["relu", "sigmoid"], (4, 3, 2),
                 masked=False)
    print("2-D input with --shape ok")


def test_errors(env, ta):
    good = env.path("easy.h5")  # from test_in_process: uint8 [200][8][8]
    text = env.path("text.txt")
    with open(text, "w") as f:
        f.write("not hdf5\n")
    flat, ints, vec = env.path("flat.h5"), env.path("ints.h5"), env.path("vec.h5")
    bad, nan = env.path("bad.h5"), env.path("nan.h5")
    write_set(flat, np.zeros((10, 12), np.float32))
    write_set(ints, np.zeros((10, 4, 4), np.int32))
    write_set(vec, np.zeros(10, np.uint8))
    v = np.zeros((10, 4, 4), np.float32)
    v[3, 1, 1] = 1.5
    write_set(bad, v)
    v[3, 1, 1] = np.nan
    write_set(nan, v)
    P = PROG + ": "
    cases = [  # (argv without --model, expected line)
        (["--input", env.path("nope.h5")], f"{P}--input: no such file: {env.path('nope.h5')}"),
        (["--input", text], f"{P}--input: {text} is not an HDF5 file"),
        (["--input", good + ":nothere"], f"{P}--input: {good} has no dataset 'nothere'"),
        (["--input", vec], f"{P}--input: {vec}:images has shape [10]; expected [n][H][W] or "
                           f"[n][H][W][C] (or [n][K] with --shape)"),
        (["--input", flat], f"{P}--input: {flat}:images is 2-D [10][12]; give the image shape "
                            f"with --shape H,W,C"),
        (["--input", flat, "--shape", "2,2,2"],
         f"{P}--shape 2,2,2 gives K = 8 but {flat}:images has 12 values per row"),
        (["--input", ints], f"{P}--input: {ints}:images has type int32; expected uint8 (pixels "
                            f"scaled by 1/255) or float in [0, 1]"),
        (["--input", bad], f"{P}--input: {bad}:images image 3 pixel 5 is 1.5, outside [0, 1]"),
        (["--input", nan], f"{P}--input: {nan}:images image 3 pixel 5 is nan, outside [0, 1]"),
        (["--input", good, "--dim", "0"], f"{P}--dim 0: must be in [1, K = 64] for "
                                          f"{good}:images"),
        (["--input", good, "--dim", "65"], f"{P}--dim 65: must be in [1, K = 64] for "
                                           f"{good}:images"),
        (["--input", good, "--epochs", "0"], f"{P}--epochs 0: must be at least 1"),
        (["--input", good, "--epochs", "two"],
         f"{P}argument --epochs: invalid int value: 'two' (see --help)"),
        (["--input", good, "--batch", "0"], f"{P}--batch 0: must be at least 1"),
        (["--input", good, "--lr", "-1"], f"{P}--lr -1.0: must be a positive number"),
        (["--input", good, "--hidden", "32,x"],
         f"{P}--hidden '32,x': expected positive layer sizes separated by commas (or 'none')"),
        (["--input", good, "--n", "201"], f"{P}--n 201: {good}:images has only 200 images"),
        (["--input", good, "--validation", "200"],
         f"{P}--validation 200: leaves no training images out of the 200 of {good}:images"),
        (["--input", good, "--mask", "top"], f"{P}--mask needs --masked"),
        (["--input", good, "--masked", "--mask-level", "1.5"],
         f"{P}--mask-level 1.5: must be in (0, 1]"),
        (["--input", good, "--masked", "--mask", "left"],
         f"{P}argument --mask: invalid choice: 'left' (choose from 'top', 'pixels', 'both') "
         f"(see --help)"),
        (["--input", "fashion-mnist:dev"],
         f"{P}--input 'fashion-mnist:dev': unknown split 'dev' (train, test or all)"),
        (["--input", f"fashion-mnist@{env.work}"],
         f"{P}--input: no such file: {env.path('train-images-idx3-ubyte.gz')}"),
    ]
    existing = env.path("existing.h5")
    sentinel = b"an earlier model, not to be touched\n"
    n = 0
    for argv, want in cases:
        for out, keep in ((env.path("never.h5"), False), (existing, True)):
            if keep:
                with open(existing, "wb") as f:
                    f.write(sentinel)
            dim = [] if "--dim" in argv else ["--dim", "4"]  # the default 128 > K = 64
            rc, so, se = env.run(*argv, *dim, "--model", out)
            what = " ".join(argv)
            check(rc == 2, f"{what}: exit {rc}, expected 2 ({se.strip()})")
            check(se == want + "\n", f"{what}: stderr\n  {se!r}\nexpected\n  {want + chr(10)!r}")
            check(so == "", f"{what}: printed on stdout: {so!r}")
            if keep:
                with open(existing, "rb") as f:
                    check(f.read() == sentinel, f"{what}: the existing output was changed")
            else:
                check(not os.path.exists(out), f"{what}: an output file was left")
            check(env.temp_files() == [], f"{what}: temporary files left: {env.temp_files()}")
            n += 1
    # The output names: the input itself (also through another name), a missing folder.
    alias = env.path("alias.h5")
    if os.path.lexists(alias):
        os.unlink(alias)
    os.symlink(good, alias)
    before = open(good, "rb").read()
    for out in (good, alias):
        rc, _, se = env.run("--input", good, "--dim", "4", "--model", out)
        check(rc == 2 and se == f"{P}--model '{out}' is the input file; choose another name\n",
              f"--model = input ({out}): exit {rc}, {se!r}")
    check(open(good, "rb").read() == before, "the input file was changed")
    missing = env.path("no/such/dir/m.h5")
    rc, _, se = env.run("--input", good, "--dim", "4", "--model", missing)
    check(rc == 2 and se == f"{P}--model '{missing}': no such folder "
          f"'{os.path.dirname(missing)}'\n", f"missing folder: exit {rc}, {se!r}")
    rc, _, se = env.run("--input", good)
    check(rc == 2 and se == f"{P}the following arguments are required: --model/--output "
          f"(see --help)\n", f"no --model: exit {rc}, {se!r}")

    # A failure while writing: no temporary file left, the existing output intact.
    with open(existing, "wb") as f:
        f.write(sentinel)
    real = ta.write_model

    def broken(tmp, *rest):
        with open(tmp, "wb") as f:
            f.write(b"half a model")
        raise OSError("disk full (simulated)")

    ta.write_model = broken
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            ta.run(["--input", good, "--model", existing, "--epochs", "1", "--dim", "4",
                    "--hidden", "8", "--quiet"])
        raise TestFailure("the simulated write failure was not raised")
    except OSError:
        pass
    finally:
        ta.write_model = real
    with open(existing, "rb") as f:
        check(f.read() == sentinel, "a failed write changed the existing output")
    check(env.temp_files() == [], f"a failed write left {env.temp_files()}")
    print(f"errors ok ({n} bad-input runs, input overwrite, missing folder, failed write)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--script", required=True, help="postprocess/train_autoencoder.py")
    ap.add_argument("--workdir", required=True, help="scratch folder (emptied first)")
    args = ap.parse_args()
    try:
        import torch  # noqa: F401
    except ImportError as e:
        print(f"SKIP: torch is not importable ({e}); Debian: apt-get install python3-torch")
        return EXIT_SKIP
    env = Env(args)
    shutil.rmtree(env.work, ignore_errors=True)
    os.makedirs(env.work)
    ta = load_script(env.script)
    test_in_process(env, ta)
    test_occluder(ta)
    test_cli_masked(env)
    test_cli_fashion_mnist(env)
    test_flat_input(env, ta)
    test_errors(env, ta)
    print("PASS")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except TestFailure as e:
        print(f"FAIL: {e}", file=sys.stderr)
        sys.exit(1)
