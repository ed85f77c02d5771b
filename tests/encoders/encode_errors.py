#!/usr/bin/python3
"""Bad input to `uhn encode fit|apply|text` (spec §8, §14): one CTest test per case and rank count.

A case is one bad command, run under `mpiexec -n R` twice:
  1. with the output (--model for fit, --output for apply) absent: exit status
     2, exactly one line on stderr besides the launcher's banners, starting
     'uhn:' and naming the culprit; no output file and no other new file in
     the folder;
  2. with the output present: the same, and the file byte-for-byte untouched
     (skipped where the output is itself the culprit).
At more than 1 rank only run 2, where the case has one: what the ranks add is
that every rank exits with the error and none hangs, which run 2 checks as
well as run 1 (the suite's time is mostly launches).
A run that does not exit within --timeout seconds is killed and fails.

    encode_errors.py --list
    encode_errors.py --uhn ./uhn --mpiexec mpiexec --ranks 3 --case dim_too_large
"""
import concurrent.futures
import hashlib
import os
import re
import shutil
import sys
import tempfile
import time

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cli"))
from uhn_cli import (Runner, TestFailure, check, common_args, main_wrapper,  # noqa: E402
                     program_stderr_lines)

N, H, W = 20, 4, 5
K, D = H * W, 3


def setup(d):
    """Good inputs: train.h5 (uint8 [N][H][W]), model.h5 (a pca model written
    with h5py, as another tool would), codes.h5 (codes [N][D])."""
    rng = np.random.default_rng(1)
    with h5py.File(os.path.join(d, "train.h5"), "w") as f:
        f["images"] = rng.integers(0, 256, (N, H, W), dtype=np.uint8)
    with h5py.File(os.path.join(d, "flat.h5"), "w") as f:
        f["images"] = rng.integers(0, 256, (N, K), dtype=np.uint8)
    write_model(os.path.join(d, "model.h5"))
    with h5py.File(os.path.join(d, "codes.h5"), "w") as f:
        f["output"] = rng.standard_normal((N, D)).astype(np.float32)
    with h5py.File(os.path.join(d, "captions.h5"), "w") as f:
        f["captions"] = np.array(["a cat", "Dog", "café"], dtype=h5py.string_dtype())
        f["numbers"] = np.arange(3.0)
        f["table"] = np.array([["a", "b"], ["c", "d"]], dtype=h5py.string_dtype())
        f["none"] = np.array([], dtype=h5py.string_dtype())
        f.create_dataset("latin1", data=np.array([b"fine", b"caf\xe9"], dtype=object),
                         dtype=h5py.string_dtype("utf-8"))
        f["fixed_bad"] = np.array([b"ok", b"ok", b"ok", b"\xc3\x28"], dtype="S4")


def write_model(path, **change):
    attrs = dict(uhn_model="encoder", encoder="pca", dim=D, input_length=K, height=H, width=W,
                 channels=1, whiten=0, seed=0, n_train=N)
    q, _ = np.linalg.qr(np.random.default_rng(2).standard_normal((K, D)))
    data = dict(mean=np.full(K, 0.5), components=q.T.copy(), variances=np.array([3.0, 2.0, 1.0]))
    with h5py.File(path, "w") as f:
        for k, v in attrs.items():
            if change.get(k, 0) is not None:
                f.attrs[k] = change.get(k, v)
        for k, v in data.items():
            if change.get(k, 0) is not None:
                f[k] = change.get(k, v)


# A good mlp model: K -> 6 (tanh) -> D (identity); D -> K (sigmoid).
MLP_ENC = [(K, 6, "tanh"), (6, D, "identity")]
MLP_DEC = [(D, K, "sigmoid")]


def write_mlp(path, attrs=None, drop=(), layers=None, acts=None, weights=None, extra=()):
    """An mlp model as postprocess/train_autoencoder.py writes it, with one
    change: attrs (None deletes), drop (objects not written), layers (stack ->
    [(in, out)]), acts (group -> activation), weights (dataset -> array),
    extra (groups added)."""
    a = dict(uhn_model="encoder", encoder="mlp", dim=D, input_length=K, height=H, width=W,
             channels=1, whiten=0, seed=0, n_train=N, fit_seconds=1.0, encoder_layers=2,
             decoder_layers=1)
    a.update(attrs or {})
    rng = np.random.default_rng(3)
    with h5py.File(path, "w") as f:
        for k, v in a.items():
            if v is not None:
                f.attrs[k] = v
        for stack, spec in (("encoder", MLP_ENC), ("decoder", MLP_DEC)):
            for i, (nin, nout, act) in enumerate((layers or {}).get(stack, spec)):
                g = f"layers/{stack}/{i}"
                if g in drop:
                    continue
                grp = f.create_group(g)
                data = {"weight": rng.standard_normal((nout, nin)).astype(np.float32),
                        "bias": np.zeros(nout)}
                for k, v in data.items():
                    if f"{g}/{k}" not in drop:
                        grp[k] = (weights or {}).get(f"{g}/{k}", v)
                if f"{g}/activation" not in drop:
                    grp.attrs["activation"] = (acts or {}).get(g, act)
        for g in extra:
            f.create_group(g)


def mlp_case(**change):
    def f(d):
        write_mlp(os.path.join(d, "bad_mlp.h5"), **change)
        return apply(d, os.path.join(d, "bad_mlp.h5"))
    return f


def write_vq(path, **change):
    a = dict(uhn_model="encoder", encoder="vq", dim=K * 4, input_length=K, height=H, width=W,
             channels=1, whiten=0, seed=0, n_train=N, patch=1, codes=4)
    data = dict(codebook=np.linspace(0, 1, 4)[:, None].copy())
    with h5py.File(path, "w") as f:
        for k, v in a.items():
            if change.get(k, 0) is not None:
                f.attrs[k] = change.get(k, v)
        for k, v in data.items():
            if change.get(k, 0) is not None:
                f[k] = change.get(k, v)


def vq_case(**change):
    def f(d):
        write_vq(os.path.join(d, "bad_vq.h5"), **change)
        return apply(d, os.path.join(d, "bad_vq.h5"))
    return f


def h5(d, name, **datasets):
    path = os.path.join(d, name)
    with h5py.File(path, "w") as f:
        for k, v in datasets.items():
            f[k] = v
    return path


def text(d, name):
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write("not an HDF5 file\n")
    return path


def fit(d, *extra):
    return ["encode", "fit", "--encoder", "pca", "--dim", "2", "--input",
            os.path.join(d, "train.h5"), "--model", os.path.join(d, "out.h5")] + list(extra)


def fit_with(d, enc, *extra):
    return ["encode", "fit", "--encoder", enc, "--input", os.path.join(d, "train.h5"),
            "--model", os.path.join(d, "out.h5")] + list(extra)


def fit_input(d, inp, *extra):
    return ["encode", "fit", "--encoder", "centred", "--input", inp,
            "--model", os.path.join(d, "out.h5")] + list(extra)


def apply(d, model=None, inp=None, *extra):
    return ["encode", "apply", "--model", model or os.path.join(d, "model.h5"),
            "--input", inp or os.path.join(d, "train.h5"),
            "--output", os.path.join(d, "out.h5")] + list(extra)


def text_cmd(d, method="ngram", dset=None, *extra):
    inp = os.path.join(d, "captions.h5") + (f":{dset}" if dset else "")
    return ["encode", "text", "--method", method, "--input", inp,
            "--output", os.path.join(d, "out.h5")] + list(extra)


def text_pixel(d, *extra):
    return text_cmd(d, "pixel", None, *extra)


def text_ngram(d, *extra):
    return text_cmd(d, "ngram", None, *extra)


def model_case(**change):
    def f(d):
        write_model(os.path.join(d, "bad_model.h5"), **change)
        return apply(d, os.path.join(d, "bad_model.h5"))
    return f


# case: name -> (f(d) -> argv, [culprit substrings, any one; 're:' = regex], test existing output)
CASES = {
    "no_subcommand": (lambda d: ["encode"], ["fit, apply or text"], False),
    "unknown_subcommand": (lambda d: ["encode", "fitt"], ["fitt"], False),
    "text_bad_method": (lambda d: text_cmd(d, "words", None, "--dim", "8"),
                        ["re:--method 'words' is not a text encoder"], True),
    "text_missing_method": (lambda d: text_ngram(d, "--dim", "8")[:2] + text_ngram(
        d, "--dim", "8")[4:], ["--method"], True),
    "text_numeric_dataset": (lambda d: text_cmd(d, "ngram", "numbers", "--dim", "8"),
                             ["re:captions.h5:numbers has type float64"], True),
    "text_2d_dataset": (lambda d: text_cmd(d, "pixel", "table", "--shape", "28,28,1"),
                        ["re:captions.h5:table has 2 dimensions"], True),
    "text_empty_dataset": (lambda d: text_cmd(d, "ngram", "none", "--dim", "8"),
                           ["re:captions.h5:none holds 0 strings"], True),
    "text_missing_dataset": (lambda d: text_cmd(d, "ngram", "titles", "--dim", "8"),
                             ["re:no dataset 'titles' in '.*captions.h5'"], True),
    "text_missing_file": (lambda d: ["encode", "text", "--method", "ngram", "--dim", "8",
                                     "--input", os.path.join(d, "nope.h5"), "--output",
                                     os.path.join(d, "out.h5")], ["nope.h5"], True),
    "text_invalid_utf8": (lambda d: text_cmd(d, "ngram", "latin1", "--dim", "8"),
                          ["re:captions.h5:latin1: caption 1 is not valid UTF-8"], True),
    "text_invalid_utf8_pixel": (lambda d: text_cmd(d, "pixel", "fixed_bad", "--shape", "5,3,1"),
                                ["re:captions.h5:fixed_bad: caption 3 is not valid UTF-8"], True),
    "text_dim_zero": (lambda d: text_ngram(d, "--dim", "0"), ["--dim"], True),
    "text_dim_missing": (lambda d: text_ngram(d), ["re:--dim D .* is required for method ngram"],
                         True),
    "text_n_zero": (lambda d: text_ngram(d, "--dim", "8", "--n", "0"), ["--n"], True),
    "text_n_with_pixel": (lambda d: text_pixel(d, "--shape", "28,28,1", "--n", "2"),
                          ["re:--n applies only to method ngram"], True),
    "text_shape_too_small": (lambda d: text_pixel(d, "--shape", "4,28,1"),
                             ["re:--shape 4,28,1 holds no character"], True),
    "text_shape_too_narrow": (lambda d: text_pixel(d, "--shape", "28,2,1"),
                              ["re:--shape 28,2,1 holds no character"], True),
    "text_shape_junk": (lambda d: text_pixel(d, "--shape", "28,28"), ["re:--shape: '28,28'"],
                        True),
    "text_shape_zero": (lambda d: text_pixel(d, "--shape", "28,0,1"), ["re:--shape 28,0,1"],
                        True),
    "text_shape_missing": (lambda d: text_pixel(d), ["re:--shape H,W,C is required"], True),
    "text_shape_with_ngram": (lambda d: text_ngram(d, "--dim", "8", "--shape", "28,28,1"),
                              ["re:--shape applies only to method pixel"], True),
    "text_dim_not_hwc": (lambda d: text_pixel(d, "--shape", "28,28,1", "--dim", "100"),
                         ["re:--dim 100 must be H\\*W\\*C = 784"], True),
    "text_option_of_fit": (lambda d: text_ngram(d, "--dim", "8", "--encoder", "pca"),
                           ["--encoder"], True),
    "text_output_is_input": (lambda d: text_ngram(d)[:-1] + [os.path.join(d, "captions.h5"),
                                                              "--dim", "8"], ["--output"], False),
    "unknown_encoder": (lambda d: fit_with(d, "foo", "--dim", "2"), ["--encoder 'foo'"], True),
    "vq_patch_not_dividing": (lambda d: fit_with(d, "vq", "--patch", "3", "--codes", "4"),
                              ["re:--patch 3 does not divide the 4x5x1 images"], True),
    "vq_patch_flat_input": (lambda d: fit_input(d, os.path.join(d, "flat.h5"))[:2] + [
        "--encoder", "vq", "--patch", "2", "--codes", "2"] + fit_input(
        d, os.path.join(d, "flat.h5"))[4:], ["re:--patch 2 does not divide the 1x20x1"], True),
    "vq_patch_missing": (lambda d: fit_with(d, "vq", "--codes", "4"),
                         ["re:--patch is required for encoder vq"], True),
    "vq_codes_missing": (lambda d: fit_with(d, "vq", "--patch", "1"),
                         ["re:--codes is required for encoder vq"], True),
    "vq_codes_zero": (lambda d: fit_with(d, "vq", "--patch", "1", "--codes", "0"), ["--codes"],
                      True),
    "vq_patch_zero": (lambda d: fit_with(d, "vq", "--patch", "0", "--codes", "2"), ["--patch"],
                      True),
    "vq_codes_too_large": (lambda d: fit_with(d, "vq", "--patch", "1", "--codes", str(N * K + 1)),
                           [f"re:--codes J = {N * K + 1} exceeds the {N * K} patches"], True),
    "vq_dim_mismatch": (lambda d: fit_with(d, "vq", "--patch", "1", "--codes", "2", "--dim", "7"),
                        ["re:--dim is P\\*J = 40 for encoder vq"], True),
    "vq_whiten": (lambda d: fit_with(d, "vq", "--patch", "1", "--codes", "2", "--whiten"),
                  ["--whiten"], True),
    "patch_with_pca": (lambda d: fit(d, "--patch", "2"),
                       ["re:--patch applies to encoder vq only \\(encoder is pca\\)"], True),
    "codes_with_random": (lambda d: fit_with(d, "random", "--dim", "3", "--codes", "2"),
                          ["re:--codes applies to encoder vq only \\(encoder is random\\)"], True),
    "patch_in_apply": (lambda d: apply(d, None, None, "--patch", "2"), ["--patch"], True),
    "fit_mlp": (lambda d: fit_with(d, "mlp"),
                ["re:--encoder mlp is trained by postprocess/train_autoencoder.py"], True),
    "fit_mlp_dim": (lambda d: fit_with(d, "mlp", "--dim", "3"),
                    ["re:--encoder mlp is trained by postprocess/train_autoencoder.py"], True),
    "missing_encoder": (lambda d: fit(d)[:2] + fit(d)[6:], ["--encoder"], True),
    "dim_too_large": (lambda d: fit_with(d, "pca", "--dim", str(K + 1)), ["--dim", "21"], True),
    "dim_zero": (lambda d: fit_with(d, "pca", "--dim", "0"), ["--dim"], True),
    "dim_negative": (lambda d: fit_with(d, "random", "--dim", "-3"), ["--dim"], True),
    "dim_junk": (lambda d: fit_with(d, "pca", "--dim", "3x"), ["--dim"], True),
    "dim_missing": (lambda d: fit_with(d, "random"), ["--dim"], True),
    "dim_identity": (lambda d: fit_with(d, "identity", "--dim", "5"), ["--dim"], True),
    "whiten_random": (lambda d: fit_with(d, "random", "--dim", "3", "--whiten"), ["--whiten"],
                      True),
    "whiten_zero_variance": (lambda d: fit_with(d, "pca", "--dim", str(K), "--whiten"),
                             ["--whiten"], True),
    "seed_negative": (lambda d: fit_with(d, "random", "--dim", "3", "--seed", "-1"), ["--seed"],
                      True),
    "unknown_option": (lambda d: fit(d, "--beta", "1"), ["--beta"], True),
    "apply_option_in_fit": (lambda d: fit(d, "--decode"), ["--decode"], True),
    "fit_option_in_apply": (lambda d: apply(d, None, None, "--dim", "3"), ["--dim"], True),
    "repeated_option": (lambda d: fit(d, "--dim", "3"), ["--dim"], True),
    "missing_input": (lambda d: fit(d)[:6] + fit(d)[8:], ["--input"], True),
    "input_missing_file": (lambda d: fit_input(d, os.path.join(d, "nope.h5")), ["nope.h5"], True),
    "input_missing_dataset": (lambda d: fit_input(d, os.path.join(d, "train.h5") + ":pixels"),
                              ["pixels"], True),
    "input_not_hdf5": (lambda d: fit_input(d, text(d, "plain.txt")), ["plain.txt"], True),
    "input_1d": (lambda d: fit_input(d, h5(d, "one.h5", images=np.zeros(K, np.uint8))),
                 ["one.h5"], True),
    "input_5d": (lambda d: fit_input(d, h5(d, "five.h5", images=np.zeros((2, 2, 2, 2, 2)))),
                 ["five.h5"], True),
    "input_empty": (lambda d: fit_input(d, h5(d, "empty.h5", images=np.zeros((0, K)))),
                    ["empty"], True),
    "input_int16": (lambda d: fit_input(d, h5(d, "i16.h5", images=np.zeros((4, K), np.int16))),
                    ["int16"], True),
    "input_above_one": (lambda d: fit_input(d, h5(d, "big.h5", images=np.where(
        np.arange(N * K).reshape(N, K) == 7 * K + 3, 1.5, 0.25))), ["row 7"], True),
    "input_negative": (lambda d: fit_input(d, h5(d, "neg.h5", images=np.where(
        np.arange(N * K).reshape(N, K) == 13 * K, -0.1, 0.25).astype(np.float32))),
        ["row 13"], True),
    "input_nan": (lambda d: fit_input(d, h5(d, "nan.h5", images=np.where(
        np.arange(N * K).reshape(N, K) == 19 * K + 1, np.nan, 0.25))), ["row 19"], True),
    "model_is_input": (lambda d: ["encode", "fit", "--encoder", "centred", "--input",
                                  os.path.join(d, "train.h5"), "--model",
                                  os.path.join(d, "train.h5")], ["--model"], False),
    "model_dir_missing": (lambda d: ["encode", "fit", "--encoder", "centred", "--input",
                                     os.path.join(d, "train.h5"), "--model",
                                     os.path.join(d, "no_dir", "m.h5")], ["no_dir"], False),
    "apply_model_missing": (lambda d: apply(d, os.path.join(d, "no_model.h5")), ["no_model.h5"],
                            True),
    "apply_model_not_hdf5": (lambda d: apply(d, text(d, "model.txt")), ["model.txt"], True),
    "apply_model_foreign": (lambda d: apply(d, h5(d, "foreign.h5", mean=np.zeros(K))),
                            ["not a uhn"], True),
    "apply_model_unknown_encoder": (model_case(encoder="foo"), ["'foo'"], True),
    "vq_model_no_codebook": (vq_case(codebook=None), ["re:bad_vq.h5' lacks the dataset 'codebook'"],
                             True),
    "vq_model_codebook_shape": (vq_case(codebook=np.zeros((4, 2))),
                                ["re:'codebook' does not have the shape \\[4\\]\\[1\\]"], True),
    "vq_model_no_patch": (vq_case(patch=None), ["re:lacks the integer attribute 'patch'"], True),
    "vq_model_patch_not_dividing": (vq_case(patch=3), ["re:bad_vq.h5' has inconsistent"], True),
    "vq_model_codebook_nan": (vq_case(codebook=np.array([[0.0], [np.nan], [1.0], [0.5]])),
                              ["re:'codebook' has a non-finite value at element 1"], True),
    "mlp_no_encoder_layers": (mlp_case(attrs={"encoder_layers": None}),
                              ["re:bad_mlp.h5': lacks the integer attribute 'encoder_layers'"],
                              True),
    "mlp_zero_layers": (mlp_case(attrs={"decoder_layers": 0}),
                        ["re:bad_mlp.h5': attribute 'decoder_layers' is 0"], True),
    "mlp_no_dim": (mlp_case(attrs={"dim": None}),
                   ["re:bad_mlp.h5' lacks the integer attribute 'dim'"], True),
    "mlp_missing_group": (mlp_case(drop=("layers/encoder/1",)),
                          ["re:bad_mlp.h5': lacks the group 'layers/encoder/1'"], True),
    "mlp_count_mismatch": (mlp_case(attrs={"encoder_layers": 3}),
                           ["re:bad_mlp.h5': lacks the group 'layers/encoder/2'"], True),
    "mlp_extra_layer": (mlp_case(extra=("layers/decoder/1",)),
                        ["re:bad_mlp.h5': holds 'layers/decoder/1' beyond its decoder_layers = 1"],
                        True),
    "mlp_missing_weight": (mlp_case(drop=("layers/decoder/0/weight",)),
                           ["re:lacks the dataset 'layers/decoder/0/weight'"], True),
    "mlp_missing_bias": (mlp_case(drop=("layers/encoder/0/bias",)),
                         ["re:lacks the dataset 'layers/encoder/0/bias'"], True),
    "mlp_missing_activation": (mlp_case(drop=("layers/encoder/1/activation",)),
                               ["re:group 'layers/encoder/1' lacks the string attribute "
                                "'activation'"], True),
    "mlp_unknown_activation": (mlp_case(acts={"layers/decoder/0": "softmax"}),
                               ["re:group 'layers/decoder/0' has the activation 'softmax'"], True),
    "mlp_chain_broken": (mlp_case(layers={"encoder": [(K, 6, "tanh"), (5, D, "identity")]}),
                         ["re:'layers/encoder/1/weight' is \\[3\\]\\[5\\] but its layer's "
                          "input has 6 values"], True),
    "mlp_first_not_k": (mlp_case(layers={"encoder": [(K + 1, 6, "tanh"), (6, D, "identity")]}),
                        ["re:'layers/encoder/0/weight' is \\[6\\]\\[21\\]"], True),
    "mlp_last_not_d": (mlp_case(layers={"encoder": [(K, 6, "tanh"), (6, D + 1, "identity")]}),
                       ["re:the last encoder layer 'layers/encoder/1' has 4 outputs, not D = 3"],
                       True),
    "mlp_decoder_not_k": (mlp_case(layers={"decoder": [(D, K - 1, "sigmoid")]}),
                          ["re:the last decoder layer 'layers/decoder/0' has 19 outputs, not K"],
                          True),
    "mlp_weight_1d": (mlp_case(weights={"layers/encoder/0/weight": np.zeros(6 * K)}),
                      ["re:'layers/encoder/0/weight' is not a non-empty matrix"], True),
    "mlp_bias_shape": (mlp_case(weights={"layers/encoder/0/bias": np.zeros(7)}),
                       ["re:'layers/encoder/0/bias' does not have the shape \\[6\\]"], True),
    "mlp_weight_nan": (mlp_case(weights={"layers/encoder/1/weight": np.where(
        np.arange(D * 6).reshape(D, 6) == 4, np.inf, 0.5)}),
        ["re:'layers/encoder/1/weight' has a non-finite value at element 4"], True),
    "mlp_weight_strings": (mlp_case(weights={"layers/decoder/0/bias": np.array(
        ["a"] * K, dtype=object)}), ["re:'layers/decoder/0/bias' cannot be read as numbers"],
        True),
    "apply_model_no_dim": (model_case(dim=None), ["dim"], True),
    "apply_model_bad_components": (model_case(components=np.zeros((D, K + 1))),
                                   ["re:'components' does not have the shape \\[3\\]\\[20\\]"],
                                   True),
    "apply_model_no_mean": (model_case(mean=None), ["mean"], True),
    "apply_model_inconsistent": (model_case(input_length=K + 1), ["inconsistent"], True),
    "apply_pixels_mismatch": (lambda d: apply(d, None, h5(d, "k30.h5", images=np.zeros(
        (3, 30), np.uint8))), ["k30.h5"], True),
    "apply_shape_mismatch": (lambda d: apply(d, None, h5(d, "t54.h5", images=np.zeros(
        (3, W, H), np.uint8))), ["5x4x1"], True),
    "apply_codes_mismatch": (lambda d: apply(d, None, h5(d, "c4.h5", output=np.zeros(
        (3, D + 1), np.float32)), "--decode"), ["c4.h5"], True),
    "apply_codes_3d": (lambda d: apply(d, None, h5(d, "c3d.h5", output=np.zeros(
        (3, D, 1), np.float32)), "--decode"), ["c3d.h5"], True),
    "apply_codes_nan": (lambda d: apply(d, None, h5(d, "cnan.h5", output=np.where(
        np.arange(6 * D).reshape(6, D) == 4 * D + 2, np.nan, 0.0)), "--decode"), ["row 4"], True),
    "apply_codes_overflow": (lambda d: apply(d, None, h5(d, "cbig.h5", output=np.where(
        np.arange(6 * D).reshape(6, D) == 5 * D, 1e300, 0.0)), "--decode"), ["row 5"], True),
    "apply_missing_output": (lambda d: apply(d)[:6], ["--output"], False),
    "apply_output_is_model": (lambda d: ["encode", "apply", "--model", os.path.join(d, "model.h5"),
                                         "--input", os.path.join(d, "train.h5"), "--output",
                                         os.path.join(d, "model.h5")], ["--output"], False),
    "apply_output_is_input": (lambda d: ["encode", "apply", "--model", os.path.join(d, "model.h5"),
                                         "--input", os.path.join(d, "train.h5"), "--output",
                                         os.path.join(d, "train.h5")], ["--output"], False),
    "apply_output_is_dir": (lambda d: ["encode", "apply", "--model", os.path.join(d, "model.h5"),
                                       "--input", os.path.join(d, "train.h5"), "--output", d],
                            ["--output"], False),
}


def snapshot(d):
    out = {}
    for root, _, files in os.walk(d):
        for f in files:
            p = os.path.join(root, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, d)] = hashlib.sha256(fh.read()).hexdigest()
    return out


def matches(line, culprits):
    for c in culprits:
        if c.startswith("re:"):
            if re.search(c[3:], line, re.I):
                return True
        elif c.lower() in line.lower():
            return True
    return False


def run_once(runner, ranks, d, name, existing):
    make, culprits, _ = CASES[name]
    argv = make(d)
    out = os.path.join(d, "out.h5")
    if existing:
        with open(out, "wb") as f:
            f.write(b"precious results\n")
    before = snapshot(d)
    rc, so, se = runner.run(ranks, argv)
    lines = program_stderr_lines(se)
    what = f"case {name} ({'existing' if existing else 'no'} output) at {ranks} ranks"
    check(rc == 2, f"{what}: exit {rc}, expected 2\nstdout:\n{so}\nstderr:\n{se}")
    check(len(lines) == 1, f"{what}: {len(lines)} stderr lines, expected 1:\n{se}")
    check(lines[0].startswith("uhn: "), f"{what}: stderr line does not start 'uhn: ': {lines[0]}")
    check(matches(lines[0], culprits), f"{what}: '{lines[0]}' names none of {culprits}")
    after = snapshot(d)
    check(after == before, f"{what}: files changed: "
                           f"{sorted(set(after.items()) ^ set(before.items()))}")
    if existing:
        os.remove(out)
    print(f"ok {what}: {lines[0]}")


def main():
    if "--list" in sys.argv:
        print(";".join(CASES))
        return
    ap = common_args(__doc__)
    ap.add_argument("--ranks", type=int, required=True)
    ap.add_argument("--case", action="append", required=True, help="case name or 'all'")
    ap.add_argument("--jobs", type=int, default=1,
                    help="cases run at once (a failing mpirun idles ~2 s in the launcher)")
    args = ap.parse_args()
    runner = Runner(args)
    names = list(CASES) if "all" in args.case else args.case
    for n in names:
        if n not in CASES:
            raise TestFailure(f"unknown case {n!r}")

    def one(n):
        t0 = time.time()
        try:
            with tempfile.TemporaryDirectory(dir=args.workdir) as d:
                for f in os.listdir(good):  # a copy of the good inputs, written once
                    shutil.copyfile(os.path.join(good, f), os.path.join(d, f))
                if args.ranks == 1 or not CASES[n][2]:
                    run_once(runner, args.ranks, d, n, False)
                if CASES[n][2]:
                    run_once(runner, args.ranks, d, n, True)
        except TestFailure as e:
            return n, str(e), time.time() - t0
        return n, None, time.time() - t0

    with tempfile.TemporaryDirectory(dir=args.workdir) as good, \
            concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        setup(good)
        results = list(pool.map(one, names))
    failed = [n for n, err, _ in results if err]
    for n, err, dt in results:
        if err:
            print(f"FAIL case {n} at {args.ranks} ranks ({dt:.1f} s): {err}")
    check(not failed, f"{len(failed)} of {len(names)} cases failed: {', '.join(failed)}")
    print(f"all {len(names)} cases passed at {args.ranks} ranks")


if __name__ == "__main__":
    if "--list" in sys.argv:
        main()
    else:
        main_wrapper(main)
