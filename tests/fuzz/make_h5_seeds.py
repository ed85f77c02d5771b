#!/usr/bin/python3
"""Writes the seed descriptions of fuzz_h5 (corpus/fuzz_h5/*): byte strings
that fuzz_h5.c's decoder turns into meaningful files (an image set, each
encoder's model file, a matrix of each element type, strings). The bytes
follow the decoder's order of reads (decode_plan and the plan_* functions);
change both together. Usage: make_h5_seeds.py [OUT_DIR]"""
import os
import sys

T = dict(i8=0, u8=1, i16=2, u16=3, i32=4, u32=5, i64=6, u64=7, f32=8, f64=9, f32be=10,
         f64be=11, i32be=12, bool=13, enum16=14, str_fixed=15, str_vlen=16, compound=17,
         array=18, opaque=19, bitfield=20, vlen_int=21, ldouble=22, f16=23)
V = dict(raw=0, zero=1, one=2, half=3, nan=4, inf=5, huge=6, ramp=7, neg=8)
NAMES = ["images", "labels", "captions", "x", "data", "codes", "mean", "components",
         "variances", "codebook", "seeds", "g/x", "a:b", "g", "layers", "sub/images",
         "layers/encoder/0/weight", "layers/encoder/0/bias", "queries", "memories"]
ENCODERS = ["identity", "centred", "pca", "random", "vq", "mlp", "none"]


def storage(layout=0, filters=0, values="ramp", write=True, fill=False, strsize=8, strpad=0,
            utf8=0, raw=b""):
    """plan_storage: layout, filters, values, write, fill, strsize, strpad, utf8, raw."""
    return bytes([layout, filters, V[values], 1 if write else 0, 0 if fill else 1,
                  strsize - 1, strpad, utf8, len(raw)]) + raw


HUGE = {1 << 16: 224, 1 << 31: 225, (1 << 32) + 1: 226, 1 << 40: 227, 1 << 62: 228,
        (1 << 63) - 1: 229, 1 << 63: 230, (1 << 64) - 2: 231}


def dataset(name, typ, dims, **kw):
    """plan_random_object for a dataset; extents below 9 or one of HUGE."""
    rank = len(dims)
    d = [x if x < 9 else HUGE[x] for x in dims] + [0] * (4 - rank)
    return bytes([NAMES.index(name), 0, T[typ], rank + 1] + d) + storage(**kw)


def generic(*objects, edits=0):
    return bytes([0, len(objects) - 1]) + b"".join(objects) + bytes([edits])


def imageset(n, h, w, c, rank4, pixel, labels=False, captions=None):
    b = bytes([1, n - 1, h - 1, w - 1, c - 1, 1 if rank4 else 0, ["u8", "f32", "f64"].index(pixel),
               1, 0, 0])  # values: ramp; contiguous, no filters
    opt = (1 if labels else 0) | (2 if captions else 0) | (64 if captions == "fixed" else 0)
    b += bytes([opt])
    if captions:
        b += storage(values="raw", strsize=12, raw=b"\x05hello\x03cat\x00\x07a caption")
    return b + bytes([0])


def attr_edit(index, value_index):
    """plan_edit case 0: root attribute `index` (in plan_model's order: uhn_model, encoder,
    dim, input_length, height, width, channels, whiten, seed, n_train, fit_seconds) set to
    the edit table's value `value_index` (13: 2^62), its type kept."""
    return bytes([0, index, 0, value_index]) + bytes(8) + bytes([1])


def model(enc, h, w, c, d=None, whiten=0, p=1, codes=2, layers=(1, 1), edits=b"", nedits=0):
    b = bytes([2, ENCODERS.index(enc), h - 1, w - 1, c - 1])
    K = h * w * c
    if enc in ("pca", "random"):
        b += bytes([(d - 1) % K])
    if enc == "pca":
        b += bytes([whiten])
    if enc == "mlp":
        b += bytes([d - 1])
    if enc == "vq":
        b += bytes([p - 1, codes - 1])
    b += bytes([1, 1, 7, 100, 0, 1])  # vlen strings, seed 7, n_train 100, ramp values
    if enc == "pca":
        b += bytes([1])  # variances all one
    if enc == "vq":
        b += bytes([0x0f])  # seeds, iterations, converged, objective
    if enc == "mlp":
        for s in range(2):
            b += bytes([layers[s] - 1])
            for i in range(layers[s]):
                if i < layers[s] - 1:
                    b += bytes([2])  # 3 outputs
                b += bytes([1, 1])  # activation relu
    return b + bytes([nedits]) + edits


SEEDS = {
    "matrix_f32": generic(dataset("x", "f32", (3, 4))),
    "matrix_f64_nan": generic(dataset("x", "f64", (2, 2), values="nan")),
    "matrix_f64_huge": generic(dataset("data", "f64", (2, 3), values="huge")),
    "matrix_u8_chunked": generic(dataset("codes", "u8", (4, 2), layout=1, filters=3)),
    "matrix_i32_be": generic(dataset("x", "i32be", (2, 5), values="neg")),
    "bool_enum": generic(dataset("x", "bool", (3, 2))),
    "f16": generic(dataset("x", "f16", (2, 2), values="half")),
    "strings_vlen": generic(dataset("captions", "str_vlen", (3,), values="raw",
                                    raw=b"\x03abc\x02\xc3\xa9\x00")),
    "strings_fixed": generic(dataset("captions", "str_fixed", (2,), values="raw", strsize=5,
                                     strpad=2, raw=b"ab   xyz\x00")),
    "compound": generic(dataset("x", "compound", (2, 2), values="raw", raw=b"\x01" * 24)),
    "scalar_and_null": generic(dataset("x", "f64", ()), dataset("data", "i32", (1,))),
    "nested_names": generic(dataset("g/x", "f32", (2, 2)), dataset("a:b", "f64", (1, 1))),
    "imageset_u8": imageset(3, 4, 4, 1, False, "u8", labels=True, captions="vlen"),
    "imageset_f32_rgb": imageset(2, 2, 3, 3, True, "f32", captions="fixed"),
    "imageset_f64": imageset(5, 1, 2, 1, False, "f64", labels=True),
    "model_identity": model("identity", 2, 3, 1),
    "model_centred": model("centred", 3, 3, 1),
    "model_pca": model("pca", 2, 2, 2, d=3),
    "model_pca_whiten": model("pca", 3, 2, 1, d=2, whiten=1),
    "model_random": model("random", 4, 4, 1, d=5),
    "model_vq": model("vq", 4, 4, 1, p=2, codes=3),
    "model_mlp": model("mlp", 2, 2, 1, d=2, layers=(2, 1)),
}

# Inputs that once broke uhn (regressions/fuzz_h5): see the README here.
REGRESSIONS = {
    # uhn_h5_info_count: 3 x (2^63 - 1) elements overflowed int64 (src/io/h5io.c)
    "info_count_overflow": generic(dataset("x", "f64", (3, (1 << 63) - 1))),
    # the model header: height 2^62 x width 2 overflowed int64 (src/encoders/model.c)
    "model_shape_overflow": model("identity", 1, 2, 1, edits=attr_edit(4, 13), nedits=1),
    # the image set: H x W = (2^63 - 1) x 2 overflowed int64 (src/data/imageset.c)
    "imageset_shape_overflow": generic(dataset("images", "u8", (1, (1 << 63) - 1, 2))),
    # uhn_rows_open of images [1][2^63 - 1][2]: K = H x W x C overflowed int64
    # (src/encoders/rows_input.c); the input as the fuzzer found it, the bytes after the
    # plan being the readers' choices (read_dataset: memory type, counts, images = 1)
    "rows_input_shape_overflow": bytes([0, 0, 0, 0, 1, 4, 1, 229, 2, 0, 0, 0, 7, 0, 0, 0, 0,
                                        0, 0, 1, 1, 7, 0, 1, 0, 0]),
}

if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "corpus", "fuzz_h5")
    for folder, files in ((out, SEEDS), (os.path.join(os.path.dirname(out), "..", "regressions",
                                                      "fuzz_h5"), REGRESSIONS)):
        os.makedirs(folder, exist_ok=True)
        for name, data in files.items():
            with open(os.path.join(folder, name), "wb") as f:
                f.write(data)
