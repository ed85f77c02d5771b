#!/usr/bin/python3
"""Train a dense (mlp) autoencoder with PyTorch and save it as a uhn encoder model.

    train_autoencoder.py --input FILE[:DATASET] | fashion-mnist[:SPLIT][@DIR]
                         --model OUT.h5 [--dim D] [--hidden 512[,256...]]
                         [--epochs E] [--batch B] [--lr LR] [--seed S] [--n N]
                         [--validation V] [--threads T]
                         [--masked [--mask top|pixels|both] [--mask-level L]]

The encoder maps an image x (K = H*W*C pixels in [0, 1], row-major H, W, C) to
a code of length D through dense layers a <- act(W a + b): K -> hidden... -> D,
hidden layers with --activation (relu), the code layer with --code-activation
(identity). The decoder mirrors it, D -> hidden reversed -> K, with a sigmoid
output layer so that decoded pixels lie in [0, 1]. The loss is the mean squared
error over pixels, minimised with Adam on CPU. `uhn encode apply`, `uhn recall`
and the studies load the result as the `mlp` encoder (spec §9, §14).

Input: an HDF5 image set in the uhn layout (dataset `images` unless named
after ':'; uint8 [n][H][W] or [n][H][W][C] scaled by 1/255, or float32/float64
in [0, 1]; a 2-D [n][K] dataset needs --shape H,W,C), as written by
make_image_set.py, or `fashion-mnist` (SPLIT train, the default, test or all)
read from the gzipped IDX files in /usr/share/datasets/fashion-mnist (or DIR).
--n N keeps the first N images. --validation V of them (default 10%, at most
5000), chosen at random with the seed, are held out: their reconstruction MSE
on clean inputs is printed after every epoch and stored in the model.

Masked autoencoder (--masked): each training input is occluded anew in every
epoch, at random from the seed; the target is always the full image.
  top     the top r rows are set to 0, r drawn uniformly from 0 ... round(L*H)
          (uhn's mask_top corruption at a fraction drawn up to L, so the model
          sees every amount of occlusion up to L, the clean image included)
  pixels  each pixel (all its channels) is set to 0 with probability p, p drawn
          uniformly from [0, L) for each image (uhn's random_pixels up to L)
  both    top or pixels, chosen with probability 1/2 for each image
With --masked the validation MSE is also reported on occluded inputs (one fixed
occlusion per held-out image).

The model file (written to a temporary file beside OUT, then renamed: never a
partial file; the input file is never overwritten):
  root attributes  uhn_model = "encoder", encoder = "mlp"; int64 dim,
                   input_length, height, width, channels, whiten (0), seed,
                   n_train (training rows), encoder_layers, decoder_layers,
                   epochs, masked (0/1), batch, validation_rows, threads;
                   float64 fit_seconds, mask_level, learning_rate, train_mse
                   (mean loss of the last epoch), validation_mse (clean held-out
                   rows; NaN with --validation 0), validation_masked_mse
                   (--masked only); float64 [epochs] epoch_train_mse and
                   epoch_validation_mse; strings mask ("none" unless masked),
                   hidden ("512", comma separated), activation,
                   code_activation, input, command, created, torch_version,
                   numpy_version, h5py_version, description
  layers/encoder/I and layers/decoder/I, I = 0, 1, ... in the order applied:
                   weight float32 [out][in], bias float32 [out] (nn.Linear's
                   convention: a <- act(weight @ a + bias)); string attribute
                   activation: identity, relu, tanh or sigmoid

Progress goes to stdout, one line per epoch (train MSE, validation MSE, time,
ETA) and a last line naming the model file. --threads sets torch's own
threads; OpenBLAS, which Debian's torch calls for the matrix products, follows
OPENBLAS_NUM_THREADS (all cores by default). Bad input (missing file or
dataset, wrong shape or type, pixels outside [0, 1], a bad flag value) is one
line on stderr and exit status 2, with no output file written or changed.

Examples:
  train_autoencoder.py --input fashion-mnist --model fmnist_mlp.h5
  train_autoencoder.py --input fashion-mnist --model fmnist_mae.h5 --masked --mask top
  train_autoencoder.py --input cifar10.h5 --model cifar_mlp.h5 --dim 256 --hidden 1024
"""
import argparse
import datetime
import math
import os
import shlex
import sys
import tempfile
import time

# torch's OpenMP threads and OpenBLAS's own threads take turns on the same
# cores; OpenMP's default busy wait between parallel regions starves the BLAS
# threads (an epoch took 2-3 times longer on 2 cores). Set before numpy and
# torch load their libraries; an explicit setting in the environment wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from uhnpy import idx as _idx  # noqa: E402

PROG = "train_autoencoder.py"
FMNIST_DIR = "/usr/share/datasets/fashion-mnist"
FMNIST_SPLITS = {"train": ["train"], "test": ["t10k"], "all": ["train", "t10k"]}
ACTIVATIONS = ("identity", "relu", "tanh", "sigmoid")
MASKS = ("top", "pixels", "both")
MAX_VALIDATION = 5000
EXIT_USAGE = 2


class UsageError(Exception):
    """Bad input: one line on stderr, exit status 2."""


class Parser(argparse.ArgumentParser):
    """argparse whose errors are one line (UsageError) instead of usage + error."""

    def error(self, message):
        raise UsageError(f"{message} (see --help)")


# ---------------------------------------------------------------------------
# Input


class Images:
    """Rows to train on: `data` [n][K] (uint8, scaled by 1/255 per batch, or
    float32 in [0, 1]) and the image shape."""

    def __init__(self, data, height, width, channels, label, path=None):
        self.data, self.label, self.path = data, label, path
        self.height, self.width, self.channels = height, width, channels
        self.n, self.k = data.shape


def read_idx(path, magic, what):
    """The rows [n][h*w] of an IDX file of images (uhnpy.idx: the one IDX reader)."""
    try:
        data = _idx.read_idx(path, magic)
    except _idx.IdxError as e:
        if e.kind == "magic":
            raise UsageError(f"--input: {path} is not an IDX file of {what}")
        raise UsageError(f"--input: {e}")
    n, h, w = data.shape
    return data.reshape(n, h * w), h, w


def read_fashion_mnist(spec):
    rest = spec[len("fashion-mnist"):]
    if rest and rest[0] not in ":@":
        raise UsageError(f"--input: unknown source '{spec}' (expected FILE[:DATASET] or "
                         f"fashion-mnist[:train|:test|:all][@DIR])")
    rest = rest.lstrip(":")
    split, _, folder = rest.partition("@")
    if "@" in rest and not folder:
        raise UsageError(f"--input '{spec}': empty directory after '@'")
    split = split or "train"
    if split not in FMNIST_SPLITS:
        raise UsageError(f"--input '{spec}': unknown split '{split}' (train, test or all)")
    folder = folder or FMNIST_DIR
    parts = []
    for part in FMNIST_SPLITS[split]:
        rows, h, w = read_idx(os.path.join(folder, f"{part}-images-idx3-ubyte.gz"), 0x803,
                              "images")
        parts.append(rows)
    data = parts[0] if len(parts) == 1 else np.concatenate(parts)
    return Images(data, h, w, 1, f"fashion-mnist:{split}")


def split_name(spec):
    """FILE[:DATASET] -> (file, dataset), preferring the longest existing file
    prefix as uhn does (uhn_h5_name_parse)."""
    if os.path.isfile(spec) or ":" not in spec:
        return spec, "images"
    for i in range(len(spec) - 1, 0, -1):
        if spec[i] == ":" and os.path.isfile(spec[:i]):
            return spec[:i], spec[i + 1:]
    i = spec.rindex(":")
    return spec[:i], spec[i + 1:]


def parse_shape(text):
    try:
        dims = [int(t) for t in text.split(",")]
    except ValueError:
        dims = []
    if len(dims) != 3 or min(dims) < 1:
        raise UsageError(f"--shape '{text}': expected H,W,C with positive integers")
    return dims


def read_hdf5(spec, n_max, shape):
    import h5py

    path, dset = split_name(spec)
    if not path:
        raise UsageError(f"--input '{spec}': no file name (expected FILE[:DATASET])")
    if not dset:
        raise UsageError(f"--input '{spec}': no dataset name after ':'")
    label = f"{path}:{dset}"
    if not os.path.exists(path):
        raise UsageError(f"--input: no such file: {path}")
    try:
        f = h5py.File(path, "r")
    except OSError:
        raise UsageError(f"--input: {path} is not an HDF5 file")
    with f:
        if dset not in f or not isinstance(f[dset], h5py.Dataset):
            raise UsageError(f"--input: {path} has no dataset '{dset}'")
        d = f[dset]
        if d.dtype != np.uint8 and d.dtype.kind != "f":
            raise UsageError(f"--input: {label} has type {d.dtype}; expected uint8 (pixels "
                             f"scaled by 1/255) or float in [0, 1]")
        if d.ndim == 2:
            if shape is None:
                raise UsageError(f"--input: {label} is 2-D [{d.shape[0]}][{d.shape[1]}]; give "
                                 f"the image shape with --shape H,W,C")
            h, w, c = shape
            if h * w * c != d.shape[1]:
                raise UsageError(f"--shape {h},{w},{c} gives K = {h * w * c} but {label} has "
                                 f"{d.shape[1]} values per row")
        elif d.ndim in (3, 4):
            h, w = d.shape[1], d.shape[2]
            c = d.shape[3] if d.ndim == 4 else 1
            if shape is not None and list(shape) != [h, w, c]:
                raise UsageError(f"--shape {','.join(map(str, shape))} does not match {label} "
                                 f"of images {h}x{w}x{c}")
        else:
            raise UsageError(f"--input: {label} has shape {list(d.shape)}; expected [n][H][W] or "
                             f"[n][H][W][C] (or [n][K] with --shape)")
        n = d.shape[0]
        if n < 1 or h * w * c < 1:
            raise UsageError(f"--input: {label} is empty (shape {list(d.shape)})")
        if n_max is not None and n_max > n:
            raise UsageError(f"--n {n_max}: {label} has only {n} images")
        rows = n if n_max is None else n_max
        data = d[:rows].reshape(rows, h * w * c)
    if data.dtype != np.uint8:
        data = np.ascontiguousarray(data, dtype=np.float32)
        bad = ~((data >= 0.0) & (data <= 1.0))  # NaN is bad too
        if bad.any():
            i, k = np.argwhere(bad)[0]
            raise UsageError(f"--input: {label} image {i} pixel {k} is {float(data[i, k])!r}, "
                             f"outside [0, 1]")
    return Images(data, h, w, c, label, path)


def read_input(spec, n_max, shape):
    if spec.startswith("fashion-mnist") and not os.path.exists(spec.split(":")[0]):
        im = read_fashion_mnist(spec)
        if shape is not None:
            raise UsageError("--shape applies to 2-D HDF5 inputs only, not fashion-mnist")
        if n_max is not None:
            if n_max > im.n:
                raise UsageError(f"--n {n_max}: {im.label} has only {im.n} images")
            im = Images(im.data[:n_max], im.height, im.width, 1, im.label)
        return im
    return read_hdf5(spec, n_max, shape)


# ---------------------------------------------------------------------------
# Flags


def parse_hidden(text):
    if text.strip() in ("", "none"):
        return []
    try:
        sizes = [int(t) for t in text.split(",")]
    except ValueError:
        sizes = [0]
    if min(sizes) < 1:
        raise UsageError(f"--hidden '{text}': expected positive layer sizes separated by "
                         f"commas (or 'none')")
    return sizes


def check_flags(a):
    if a.epochs < 1:
        raise UsageError(f"--epochs {a.epochs}: must be at least 1")
    if a.batch < 1:
        raise UsageError(f"--batch {a.batch}: must be at least 1")
    if not (a.lr > 0 and math.isfinite(a.lr)):
        raise UsageError(f"--lr {a.lr}: must be a positive number")
    if a.threads < 1:
        raise UsageError(f"--threads {a.threads}: must be at least 1")
    if not 0 <= a.seed < 2 ** 63:
        raise UsageError(f"--seed {a.seed}: must be in [0, 2^63)")
    if a.n is not None and a.n < 1:
        raise UsageError(f"--n {a.n}: must be at least 1")
    if a.validation is not None and a.validation < 0:
        raise UsageError(f"--validation {a.validation}: must be at least 0")
    if not a.masked and (a.mask is not None or a.mask_level is not None):
        raise UsageError(f"{'--mask' if a.mask is not None else '--mask-level'} needs --masked")
    a.mask = a.mask or "top"
    a.mask_level = 0.5 if a.mask_level is None else a.mask_level
    if a.masked and not 0 < a.mask_level <= 1:
        raise UsageError(f"--mask-level {a.mask_level}: must be in (0, 1]")
    a.hidden_sizes = parse_hidden(a.hidden)
    a.shape_dims = parse_shape(a.shape) if a.shape is not None else None


def check_output(a):
    """Checks --model before any work; returns the temporary file to write."""
    out = a.model
    folder = os.path.dirname(os.path.abspath(out))
    if os.path.isdir(out):
        raise UsageError(f"--model '{out}' is a folder")
    if not os.path.isdir(folder):
        raise UsageError(f"--model '{out}': no such folder '{folder}'")
    if os.path.exists(out) and a.input_path and os.path.exists(a.input_path) \
            and os.path.samefile(out, a.input_path):
        raise UsageError(f"--model '{out}' is the input file; choose another name")
    try:
        fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(out) + ".", suffix=".tmp",
                                   dir=folder)
    except OSError as e:
        raise UsageError(f"--model '{out}': cannot write in '{folder}' ({e.strerror})")
    os.close(fd)
    return tmp


# ---------------------------------------------------------------------------
# The model (torch is imported only once the input is known to be good)


def act_module(nn, name):
    return {"identity": nn.Identity, "relu": nn.ReLU, "tanh": nn.Tanh,
            "sigmoid": nn.Sigmoid}[name]()


def chain(k, hidden, dim, activation, code_activation):
    """The layers as (in, out, activation): encoder then decoder."""
    sizes = [k] + hidden + [dim]
    enc = [(sizes[i], sizes[i + 1], activation if i + 2 < len(sizes) else code_activation)
           for i in range(len(sizes) - 1)]
    back = sizes[::-1]
    dec = [(back[i], back[i + 1], activation if i + 2 < len(back) else "sigmoid")
           for i in range(len(back) - 1)]
    return enc, dec


def build(torch, spec):
    nn = torch.nn

    def stack(layers):
        mods = []
        for fan_in, fan_out, act in layers:
            mods += [nn.Linear(fan_in, fan_out), act_module(nn, act)]
        return nn.Sequential(*mods)

    class Autoencoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = spec
            self.encoder = stack(spec[0])
            self.decoder = stack(spec[1])

        def forward(self, x):
            return self.decoder(self.encoder(x))

    return Autoencoder()


class Occluder:
    """Random occlusion of a batch (see --masked), drawn from a torch.Generator."""

    def __init__(self, torch, kind, level, height, width, channels):
        self.torch, self.kind, self.level = torch, kind, level
        self.h, self.w, self.c = height, width, channels
        self.top_max = int(math.floor(level * height + 0.5))

    def __call__(self, x, gen):
        torch = self.torch
        b = x.shape[0]
        pix = x.view(b, self.h, self.w, self.c)
        keep = torch.ones(b, self.h, self.w, dtype=torch.bool)
        use_top = torch.full((b,), self.kind == "top", dtype=torch.bool)
        if self.kind == "both":  # each image gets one of the two, chosen at random
            use_top = torch.rand(b, generator=gen) < 0.5
        if self.kind in ("top", "both"):
            rows = torch.randint(0, self.top_max + 1, (b,), generator=gen)
            hidden = torch.arange(self.h)[None, :] < rows[:, None]
            hidden &= use_top[:, None]
            keep &= ~hidden[:, :, None]
        if self.kind in ("pixels", "both"):
            p = torch.rand(b, generator=gen) * self.level
            drop = torch.rand(b, self.h, self.w, generator=gen) < p[:, None, None]
            drop &= ~use_top[:, None, None]
            keep &= ~drop
        return (pix * keep[..., None]).view(b, -1)


def batch_of(torch, data, index):
    x = data[index]
    if x.dtype == torch.uint8:
        return x.to(torch.float32) / 255.0
    return x


def evaluate(torch, model, data, batch, occlude=None, seed=0):
    """Mean squared error of the reconstructions of `data` (fixed occlusion
    from `seed` when `occlude` is given)."""
    if data.shape[0] == 0:
        return float("nan")
    gen = torch.Generator().manual_seed(seed)
    total = 0.0
    with torch.no_grad():
        for s in range(0, data.shape[0], batch):
            x = batch_of(torch, data, slice(s, s + batch))
            inp = occlude(x, gen) if occlude else x
            total += float(torch.nn.functional.mse_loss(model(inp), x, reduction="sum"))
    return total / data.numel()


def fmt_time(s):
    s = int(round(s))
    return f"{s // 60} m {s % 60:02d} s" if s >= 60 else f"{s} s"


def fmt_mse(v):
    return "-" if math.isnan(v) else f"{v:.6f}"


class Result:
    """What a run leaves: the trained torch model (in eval mode), the per-epoch
    history and the model file's path."""


def train(a, im, say):
    import torch

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    n_val = a.n_val
    order = np.random.default_rng(a.seed).permutation(im.n)
    data = torch.from_numpy(np.ascontiguousarray(im.data[np.sort(order[n_val:])]))
    val = torch.from_numpy(np.ascontiguousarray(im.data[np.sort(order[:n_val])]))
    n_train = data.shape[0]

    spec = chain(im.k, a.hidden_sizes, a.dim, a.activation, a.code_activation)
    model = build(torch, spec)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    gen = torch.Generator().manual_seed(a.seed)
    occlude = (Occluder(torch, a.mask, a.mask_level, im.height, im.width, im.channels)
               if a.masked else None)
    sizes = "-".join(str(s) for s in [im.k] + a.hidden_sizes + [a.dim] + a.hidden_sizes[::-1]
                     + [im.k])
    say(f"{PROG}: mlp {sizes} on {n_train} images of {im.label} ({im.height}x{im.width}x"
        f"{im.channels}), {n_val} held out; {a.epochs} epochs, batch {a.batch}, lr {a.lr:g}, "
        f"{a.threads} thread{'s' if a.threads != 1 else ''}"
        + (f"; masked ({a.mask}, level {a.mask_level:g})" if a.masked else ""))

    r = Result()
    r.train_mse, r.val_mse = [], []
    t0 = time.perf_counter()
    for epoch in range(1, a.epochs + 1):
        te = time.perf_counter()
        model.train()
        perm = torch.randperm(n_train, generator=gen)
        total = 0.0
        for s in range(0, n_train, a.batch):
            x = batch_of(torch, data, perm[s:s + a.batch])
            inp = occlude(x, gen) if occlude else x
            loss = torch.nn.functional.mse_loss(model(inp), x)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss) * x.shape[0]
        mse = total / n_train
        if not math.isfinite(mse):
            raise RuntimeError(f"training diverged (loss {mse} in epoch {epoch}); "
                               f"try a smaller --lr")
        model.eval()
        v = evaluate(torch, model, val, 1024)
        r.train_mse.append(mse)
        r.val_mse.append(v)
        now = time.perf_counter()
        eta = (now - t0) / epoch * (a.epochs - epoch)
        say(f"epoch {epoch:{len(str(a.epochs))}d}/{a.epochs}  train mse {mse:.6f}  "
            f"validation mse {fmt_mse(v)}  {now - te:.1f} s  ETA {fmt_time(eta)}")
    r.fit_seconds = time.perf_counter() - t0
    r.val_masked_mse = (evaluate(torch, model, val, 1024, occlude, a.seed + 1)
                        if occlude else None)
    r.model, r.spec, r.n_train, r.n_val = model, spec, n_train, n_val
    r.torch_version = str(torch.__version__)
    return r


# ---------------------------------------------------------------------------
# Output


def write_model(tmp, a, im, r, argv):
    import h5py

    model = r.model
    with h5py.File(tmp, "w") as f:
        at = f.attrs
        at["uhn_model"] = "encoder"
        at["encoder"] = "mlp"
        ints = {"dim": a.dim, "input_length": im.k, "height": im.height, "width": im.width,
                "channels": im.channels, "whiten": 0, "seed": a.seed, "n_train": r.n_train,
                "encoder_layers": len(r.spec[0]), "decoder_layers": len(r.spec[1]),
                "epochs": a.epochs, "masked": int(a.masked), "batch": a.batch,
                "validation_rows": r.n_val, "threads": a.threads}
        for k, v in ints.items():
            at[k] = np.int64(v)
        floats = {"fit_seconds": r.fit_seconds, "mask_level": a.mask_level if a.masked else 0.0,
                  "learning_rate": a.lr, "train_mse": r.train_mse[-1],
                  "validation_mse": r.val_mse[-1]}
        if a.masked:
            floats["validation_masked_mse"] = r.val_masked_mse
        for k, v in floats.items():
            at[k] = np.float64(v)
        at["epoch_train_mse"] = np.asarray(r.train_mse, np.float64)
        at["epoch_validation_mse"] = np.asarray(r.val_mse, np.float64)
        at["mask"] = a.mask if a.masked else "none"
        at["hidden"] = ",".join(str(s) for s in a.hidden_sizes)
        at["activation"] = a.activation
        at["code_activation"] = a.code_activation
        at["input"] = im.label
        at["command"] = " ".join(shlex.quote(s) for s in [PROG] + list(argv))
        at["created"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        at["torch_version"] = str(r.torch_version)
        at["numpy_version"] = np.__version__
        at["h5py_version"] = h5py.__version__
        at["description"] = ("dense autoencoder trained by postprocess/train_autoencoder.py: "
                             "layer i computes a <- act(weight a + bias)")
        for part, seq in (("encoder", model.encoder), ("decoder", model.decoder)):
            linears = [m for m in seq if hasattr(m, "weight")]
            specs = r.spec[part == "decoder"]
            for i, (lin, (fan_in, fan_out, act)) in enumerate(zip(linears, specs)):
                g = f.create_group(f"layers/{part}/{i}")
                g.attrs["activation"] = act
                w = g.create_dataset("weight", data=lin.weight.detach().numpy().astype(np.float32))
                w.attrs["description"] = f"weight [out = {fan_out}][in = {fan_in}]"
                b = g.create_dataset("bias", data=lin.bias.detach().numpy().astype(np.float32))
                b.attrs["description"] = f"bias [out = {fan_out}]"


def run(argv=None, out=sys.stdout):
    """Parses argv, trains and writes the model; returns a Result (with the
    torch model) or raises UsageError. For tests and scripts; main() wraps it."""
    ap = Parser(prog=PROG, description=__doc__.split("\n\n")[0],
                epilog=__doc__.split("\n", 1)[1],
                formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", required=True,
                    help="FILE[:DATASET] (dataset images by default) or fashion-mnist[:SPLIT]")
    ap.add_argument("--model", "--output", dest="model", required=True,
                    help="the model file (HDF5) to write")
    ap.add_argument("--dim", type=int, default=128, help="code length D (default 128)")
    ap.add_argument("--hidden", default="512",
                    help="hidden layer sizes of the encoder, comma separated, or none "
                         "(default 512; the decoder mirrors them)")
    ap.add_argument("--activation", choices=ACTIVATIONS[1:], default="relu",
                    help="activation of the hidden layers (default relu)")
    ap.add_argument("--code-activation", choices=ACTIVATIONS, default="identity",
                    help="activation of the code layer (default identity)")
    ap.add_argument("--epochs", type=int, default=20, help="passes over the data (default 20)")
    ap.add_argument("--batch", type=int, default=256, help="batch size (default 256)")
    ap.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default 1e-3)")
    ap.add_argument("--seed", type=int, default=0,
                    help="seed of the initial weights, split, shuffles and masks (default 0)")
    ap.add_argument("--n", type=int, default=None, help="use the first N images only")
    ap.add_argument("--validation", type=int, default=None, metavar="V",
                    help=f"images held out for validation (default 10%%, at most "
                         f"{MAX_VALIDATION}; 0 for none)")
    ap.add_argument("--shape", default=None, metavar="H,W,C",
                    help="image shape of a 2-D [n][K] input dataset")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    ap.add_argument("--masked", action="store_true",
                    help="train a masked autoencoder (occluded inputs, full targets)")
    ap.add_argument("--mask", choices=MASKS, default=None,
                    help="occlusion of --masked: top, pixels or both (default top)")
    ap.add_argument("--mask-level", type=float, default=None, metavar="L",
                    help="the largest occlusion of --masked, in (0, 1] (default 0.5)")
    ap.add_argument("--quiet", action="store_true", help="print only the last line")
    argv = sys.argv[1:] if argv is None else list(argv)
    a = ap.parse_args(argv)

    def say(line):
        if not a.quiet:
            print(line, file=out, flush=True)

    check_flags(a)
    im = read_input(a.input, a.n, a.shape_dims)
    if not 1 <= a.dim <= im.k:
        raise UsageError(f"--dim {a.dim}: must be in [1, K = {im.k}] for {im.label}")
    a.n_val = a.validation if a.validation is not None else min(MAX_VALIDATION, im.n // 10)
    if a.n_val >= im.n:
        raise UsageError(f"--validation {a.n_val}: leaves no training images out of the {im.n} "
                         f"of {im.label}")
    a.input_path = im.path
    tmp = check_output(a)
    try:
        try:
            import torch  # noqa: F401
        except ImportError as e:
            raise RuntimeError(f"needs PyTorch (Debian: apt-get install python3-torch): {e}")
        r = train(a, im, say)
        write_model(tmp, a, im, r, argv)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp made it private; a model is an ordinary file
        os.replace(tmp, a.model)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    r.path = a.model
    print(f"{PROG}: wrote {a.model}: train mse {r.train_mse[-1]:.6f}, validation mse "
          f"{fmt_mse(r.val_mse[-1])}"
          + (f" (masked {r.val_masked_mse:.6f})" if a.masked and r.n_val else "")
          + f", {r.n_train} images, {a.epochs} epochs in {r.fit_seconds:.1f} s",
          file=out, flush=True)
    return r


def main(argv=None):
    try:
        run(argv)
    except UsageError as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return EXIT_USAGE
    except RuntimeError as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 1
    except OSError as e:  # writing the model (disk full, ...): nothing was left behind
        print(f"{PROG}: {e.filename or 'writing the model'}: {e.strerror or e}; no model written",
              file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; no model written", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
