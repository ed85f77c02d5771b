#!/usr/bin/python3
"""Writes the small HDF5 image sets read by test_imageset into DIR.

u8.h5:  images uint8 [5][3][2][2], pixel (i, p) = (24 i + 7 p) % 256 with p the
        flat (h, w, c) index; labels int64 [5] = 10 - i; captions variable-length
        UTF-8 strings.
f32.h5: images float32 [4][2][3] (no channel axis), pixel (i, p) = (i + 1) * p / 32;
        captions fixed-length bytes; no labels.
made.h5: built by postprocess/make_image_set.py (TOOL) from three solid PNGs,
        cat/a.png (200, 100, 50), cat/b.png (10, 20, 30), dog/c.png (0, 255, 128),
        at 4x6, with a caption for cat/a.png only.
The others are broken one way each (see test_imageset.c).
Usage: make_test_sets.py DIR TOOL
"""
import os
import subprocess
import sys

import h5py
import numpy as np
from PIL import Image

d = sys.argv[1]
os.makedirs(d, exist_ok=True)


def u8_images(n=5):
    i = np.arange(n)[:, None]
    p = np.arange(12)[None, :]
    return ((24 * i + 7 * p) % 256).astype(np.uint8).reshape(n, 3, 2, 2)


with h5py.File(os.path.join(d, "u8.h5"), "w") as f:
    f["images"] = u8_images()
    f["labels"] = np.array([10 - i for i in range(5)], dtype=np.int64)
    f.create_dataset("captions", data=["a cat", "", "caf\u00e9 au lait", "dog", "x" * 300],
                     dtype=h5py.string_dtype())

with h5py.File(os.path.join(d, "f32.h5"), "w") as f:
    i = np.arange(4)[:, None]
    p = np.arange(6)[None, :]
    f["images"] = ((i + 1) * p / 32.0).astype(np.float32).reshape(4, 2, 3)
    f["captions"] = np.array([b"one", b"two", b"three", b"four!!!!"], dtype="S8")

x = np.full((3, 2, 2, 1), 0.5)
x[2].flat[3] = 1.5
with h5py.File(os.path.join(d, "f64bad.h5"), "w") as f:
    f["images"] = x

broken = {
    "int16.h5": {"images": np.zeros((2, 2, 2, 1), np.int16)},
    "rank2.h5": {"images": np.zeros((4, 5), np.uint8)},
    "nlabels.h5": {"images": u8_images(), "labels": np.arange(4)},
    "flabels.h5": {"images": u8_images(), "labels": np.zeros(5)},
    "icaptions.h5": {"images": u8_images(), "captions": np.arange(5)},
    "ncaptions.h5": {"images": u8_images(), "captions": np.array([b"a", b"b"])},
    "noimages.h5": {"pixels": u8_images()},
}
for name, sets in broken.items():
    with h5py.File(os.path.join(d, name), "w") as f:
        for k, v in sets.items():
            f[k] = v
with open(os.path.join(d, "text.h5"), "w") as f:
    f.write("not HDF5\n")

src = os.path.join(d, "made_src")
for cls, name, colour in (("cat", "a.png", (200, 100, 50)), ("cat", "b.png", (10, 20, 30)),
                          ("dog", "c.png", (0, 255, 128))):
    os.makedirs(os.path.join(src, cls), exist_ok=True)
    Image.new("RGB", (9, 7), colour).save(os.path.join(src, cls, name))
with open(os.path.join(src, "captions.txt"), "w") as f:
    f.write("cat/a.png\tan orange cat\n")
subprocess.run([sys.executable, sys.argv[2], src, os.path.join(d, "made.h5"), "--size", "4x6"],
               check=True)
