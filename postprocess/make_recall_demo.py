#!/usr/bin/python3
"""Writes the input of the recall demo from real Fashion-MNIST images.

memories  float32 [M][784]  the first M test images, pixels scaled to [0, 1]
queries   float32 [Q][784]  the first Q memories with the bottom half set to 0
clamp     uint8   [784]     1 on the top half: the known pixels of every query
truth     int64   [Q]       the memory each query was made from (0..Q-1)
labels    uint8   [M]       the Fashion-MNIST class of each memory

    make_recall_demo.py --out demo/demo_input.h5 [--memories 1000] [--queries 100]

The IDX files are read with gzip + numpy (no download: the Debian package
dataset-fashion-mnist installs them under /usr/share/datasets/fashion-mnist).
"""
import argparse
import os
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from uhnpy import idx as _idx  # noqa: E402

DEFAULT_DIR = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    """An IDX file (the MNIST format), through uhnpy.idx (the one IDX reader)."""
    return _idx.read_idx(path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="HDF5 file to write")
    ap.add_argument("--data-dir", default=DEFAULT_DIR, help="folder of the Fashion-MNIST .gz IDX files")
    ap.add_argument("--split", default="t10k", choices=["t10k", "train"])
    ap.add_argument("--memories", type=int, default=1000, help="number of stored images")
    ap.add_argument("--queries", type=int, default=100, help="number of half-masked queries")
    args = ap.parse_args()

    img = os.path.join(args.data_dir, f"{args.split}-images-idx3-ubyte.gz")
    lab = os.path.join(args.data_dir, f"{args.split}-labels-idx1-ubyte.gz")
    for p in (img, lab):
        if not os.path.exists(p):
            sys.exit(f"make_recall_demo: {p} not found (Debian: apt-get install dataset-fashion-mnist, "
                     f"or give --data-dir)")
    images = read_idx(img)
    labels = read_idx(lab)
    if not 1 <= args.queries <= args.memories <= images.shape[0]:
        sys.exit(f"make_recall_demo: need 1 <= queries <= memories <= {images.shape[0]}")
    rows, cols = images.shape[1:]
    K = rows * cols

    memories = images[:args.memories].reshape(args.memories, K).astype(np.float32) / np.float32(255)
    clamp = np.zeros((rows, cols), np.uint8)
    clamp[: rows // 2, :] = 1  # top half known
    clamp = clamp.reshape(K)
    queries = memories[:args.queries].copy()
    queries[:, clamp == 0] = 0.0  # bottom half unknown: zero-filled

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with h5py.File(args.out, "w") as f:
        f.attrs["description"] = ("Fashion-MNIST recall demo: memories are real images; each query is a "
                                  "memory with its bottom half zeroed; clamp marks the known top half")
        f.attrs["source"] = os.path.abspath(img)
        f.attrs["image_shape"] = np.array([rows, cols], np.int64)
        d = f.create_dataset("memories", data=memories)
        d.attrs["description"] = "stored images, row-major 28x28 flattened, pixel / 255"
        d.attrs["units"] = "pixel intensity in [0, 1]"
        d = f.create_dataset("queries", data=queries)
        d.attrs["description"] = "the first queries memories with the bottom half set to 0"
        d = f.create_dataset("clamp", data=clamp)
        d.attrs["description"] = "1 = pixel known (top half), held at the query value"
        d = f.create_dataset("truth", data=np.arange(args.queries, dtype=np.int64))
        d.attrs["description"] = "index of the memory each query was made from"
        f.create_dataset("labels", data=labels[:args.memories].astype(np.uint8))
    print(f"make_recall_demo: wrote {args.out}: {args.memories} memories, {args.queries} queries, "
          f"K = {K} ({rows}x{cols}), {int(clamp.sum())} known pixels per query")


if __name__ == "__main__":
    main()
