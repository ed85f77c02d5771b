#!/usr/bin/python3
"""postprocess/make_image_set.py on PNG/JPEG files made here, checked with h5py:
shapes, uint8 and float pixels of solid-colour images (resizing a solid image
keeps its colour), greyscale, centre cropping, labels, classes, captions, and
each error message. Usage: test_make_image_set.py TOOL."""
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np
from PIL import Image

TOOL = sys.argv[1]
failures = 0


def check(cond, what):
    global failures
    if not cond:
        failures += 1
        print(f"FAILED: {what}", file=sys.stderr)


def run(*args):
    p = subprocess.run([sys.executable, TOOL, *args], capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


with tempfile.TemporaryDirectory() as tmp:
    src = os.path.join(tmp, "src")
    os.makedirs(os.path.join(src, "cat"))
    os.makedirs(os.path.join(src, "dog"))
    Image.new("RGB", (10, 8), (200, 100, 50)).save(os.path.join(src, "cat", "a.png"))
    Image.new("RGB", (7, 9), (10, 20, 30)).save(os.path.join(src, "cat", "b.jpg"), quality=95)
    Image.new("RGBA", (5, 5), (0, 255, 128, 255)).save(os.path.join(src, "dog", "c.png"))
    with open(os.path.join(src, "cat", "notes.txt"), "w") as f:
        f.write("not an image\n")
    with open(os.path.join(src, "captions.txt"), "w", encoding="utf-8") as f:
        f.write("cat/a.png\tan orange cat\nc.png\ta green dog \u00e9\nc.png\tsitting\n")

    out = os.path.join(tmp, "set.h5")
    rc, so, se = run(src, out, "--size", "4x6")
    check(rc == 0, f"plain run: rc {rc}, {se}")
    check("3 images of 4x6x3, 2 classes" in so, f"summary line: {so!r}")
    check("1 of 3 images have no caption" in se, f"missing-caption note: {se!r}")
    with h5py.File(out) as f:
        x = f["images"][...]
        check(x.shape == (3, 4, 6, 3) and x.dtype == np.uint8, f"shape {x.shape} {x.dtype}")
        check((x[0] == [200, 100, 50]).all(), "solid PNG keeps its colour")
        check(np.abs(x[1].astype(int) - [10, 20, 30]).max() <= 3, "JPEG near its colour")
        check((x[2] == [0, 255, 128]).all(), "RGBA PNG converted to RGB")
        check(list(f["labels"][...]) == [0, 0, 1], f"labels {f['labels'][...]}")
        check(f["labels"].dtype == np.int32, "labels are int32")
        check([c.decode() for c in f["classes"][...]] == ["cat", "dog"], "classes")
        caps = [c.decode() for c in f["captions"][...]]
        # the two lines of c.png joined, in file order
        check(caps == ["an orange cat", "", "a green dog \u00e9 sitting"], f"captions {caps}")
        files = [c.decode() for c in f["files"][...]]
        check(files == ["cat/a.png", "cat/b.jpg", "dog/c.png"], f"files {files}")
        check(f["images"].attrs["units"] == "1/255", "units attribute")
    check(not os.path.exists(out + ".tmp"), "no temporary file left")

    rc, so, se = run(src, out, "--size", "3", "--gray", "--float")
    check(rc == 0, f"gray float run: rc {rc}, {se}")
    with h5py.File(out) as f:
        x = f["images"][...]
        check(x.shape == (3, 3, 3, 1) and x.dtype == np.float32, f"gray shape {x.shape}")
        # PIL's L = (19595 R + 38470 G + 7471 B + 2^15) >> 16 = 124 for (200, 100, 50)
        check(np.allclose(x[0], np.float32(124) / np.float32(255)), f"gray value {x[0, 0, 0]}")
        check(0.0 <= x.min() and x.max() <= 1.0, "float pixels in [0, 1]")

    # Centre crop: a 30x10 image red | green | blue crops to its green square.
    flat = os.path.join(tmp, "flat")
    os.makedirs(flat)
    im = np.zeros((10, 30, 3), np.uint8)
    im[:, :10] = [255, 0, 0]
    im[:, 10:20] = [0, 255, 0]
    im[:, 20:] = [0, 0, 255]
    Image.fromarray(im).save(os.path.join(flat, "stripes.png"))
    rc, so, se = run(flat, out, "--size", "2", "--fit", "crop")
    check(rc == 0, f"crop run: {se}")
    with h5py.File(out) as f:
        check((f["images"][0] == [0, 255, 0]).all(), f"crop gives green: {f['images'][0]}")
        check("labels" not in f and "captions" not in f, "no labels or captions without folders")
    rc, so, se = run(flat, out, "--size", "1x3")
    with h5py.File(out) as f:
        px = f["images"][0, 0]
        check(px[0][0] > 200 and px[2][2] > 200, f"stretch keeps the stripes: {px}")

    # Errors: exit status 2 and one line.
    empty = os.path.join(tmp, "empty")
    os.makedirs(empty)
    badcap = os.path.join(tmp, "bad.txt")
    with open(badcap, "w") as f:
        f.write("a.png an orange cat\n")
    cases = [
        ((empty, out, "--size", "4"), f"make_image_set: no PNG or JPEG images in '{empty}'"),
        ((src, out, "--size", "4y"), "make_image_set: --size '4y' is not N or HxW"),
        ((src, out, "--size", "0x4"), "make_image_set: --size '0x4' is not N or HxW with positive"),
        ((os.path.join(tmp, "nope"), out, "--size", "4"), "is not a folder"),
        ((src, out, "--size", "4", "--captions", badcap),
         f"make_image_set: '{badcap}' line 1: expected FILENAME<TAB>CAPTION"),
    ]
    for args, msg in cases:
        rc, so, se = run(*args)
        check(rc == 2, f"{args}: rc {rc}")
        check(msg in se and se.count("\n") == 1, f"{args}: stderr {se!r}")

    rc, so, se = run("--help")
    check(rc == 0 and "labels" in so and "captions.txt" in so, "--help describes the layout")

print("test_make_image_set:", "FAILED" if failures else "all checks passed")
sys.exit(1 if failures else 0)
