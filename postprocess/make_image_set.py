#!/usr/bin/python3
"""Build a uhn image set (HDF5) from a folder of PNG/JPEG images.

The layout, read by `hdf5:FILE` data sets of uhn (see include/uhn/dataset.h):

  images    uint8 [N][H][W][C] (or float32 in [0, 1] with --float)
  labels    int32 [N], the index of each image's class (only when SRC has
            class subfolders); the class names are in `classes`
  classes   strings [number of classes], the subfolder names, sorted
  captions  variable-length UTF-8 strings [N] (only with a captions file)
  files     variable-length UTF-8 strings [N], each image's path under SRC

Images are taken from SRC's subfolders (one per class, sorted by name; labels
0, 1, ...) or, when SRC has none, from SRC itself (no labels), in sorted order
of their paths. Each is converted to RGB (C = 3) or greyscale (C = 1, --gray)
and resized to the chosen size: stretched (--fit stretch, the default) or
centre-cropped to the target's aspect ratio first (--fit crop).

Captions: a file of lines "FILENAME<TAB>CAPTION" (SRC/captions.txt by default
when present, or --captions FILE); FILENAME is the path under SRC or the bare
file name. Images without a caption get "". Several lines for one image (COCO
gives five captions per image) are joined into one caption, in file order,
separated by a space.

Examples:
  make_image_set.py cifar10/train cifar10.h5 --size 32
  make_image_set.py tiny-imagenet/train tin.h5 --size 64x64 --fit crop
  make_image_set.py coco/val2017 coco.h5 --size 96 --captions coco_captions.tsv
"""
import argparse
import os
import sys

EXTENSIONS = (".png", ".jpg", ".jpeg")


def fail(msg):
    print(f"make_image_set: {msg}", file=sys.stderr)
    sys.exit(2)


def parse_size(text):
    parts = text.lower().split("x")
    try:
        dims = [int(p) for p in parts]
    except ValueError:
        fail(f"--size '{text}' is not N or HxW")
    if len(dims) == 1:
        dims = dims * 2
    if len(dims) != 2 or min(dims) < 1:
        fail(f"--size '{text}' is not N or HxW with positive numbers")
    return dims  # height, width


def list_images(src):
    """Returns (classes, [(relative path, label or -1)])."""
    if not os.path.isdir(src):
        fail(f"'{src}' is not a folder")
    subdirs = sorted(d for d in os.listdir(src) if os.path.isdir(os.path.join(src, d)))
    items = []
    if subdirs:
        for label, d in enumerate(subdirs):
            for f in sorted(os.listdir(os.path.join(src, d))):
                if f.lower().endswith(EXTENSIONS):
                    items.append((os.path.join(d, f), label))
    else:
        items = [(f, -1) for f in sorted(os.listdir(src)) if f.lower().endswith(EXTENSIONS)]
    if not items:
        fail(f"no PNG or JPEG images in '{src}' or its subfolders")
    return subdirs, items


def read_captions(path):
    captions = {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line:
                continue
            if "\t" not in line:
                fail(f"'{path}' line {n}: expected FILENAME<TAB>CAPTION")
            name, caption = line.split("\t", 1)
            # several captions of one image (COCO has five) join into one, in file order
            captions[name] = f"{captions[name]} {caption}" if name in captions else caption
    return captions


def load(path, height, width, gray, fit):
    from PIL import Image

    try:
        im = Image.open(path)
        im = im.convert("L" if gray else "RGB")
    except OSError as e:
        fail(f"cannot read image '{path}': {e}")
    if fit == "crop":
        w, h = im.size
        target = width / height
        if w / h > target:  # too wide: crop the sides
            cw = max(1, round(h * target))
            left = (w - cw) // 2
            im = im.crop((left, 0, left + cw, h))
        else:
            ch = max(1, round(w / target))
            top = (h - ch) // 2
            im = im.crop((0, top, w, top + ch))
    if im.size != (width, height):
        im = im.resize((width, height), Image.BICUBIC)
    return im


def main(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("src", help="folder of images, or of class subfolders of images")
    p.add_argument("out", help="HDF5 file to write")
    p.add_argument("--size", required=True, help="N (square) or HxW, in pixels")
    p.add_argument("--gray", action="store_true", help="one greyscale channel instead of RGB")
    p.add_argument("--fit", choices=("stretch", "crop"), default="stretch",
                   help="resize by stretching, or centre-crop to the aspect ratio first")
    p.add_argument("--float", action="store_true",
                   help="store float32 pixels in [0, 1] instead of uint8")
    p.add_argument("--captions", help="FILENAME<TAB>CAPTION lines (default SRC/captions.txt)")
    a = p.parse_args(argv)

    import h5py
    import numpy as np

    height, width = parse_size(a.size)
    classes, items = list_images(a.src)
    cap_path = a.captions
    if cap_path is None and os.path.isfile(os.path.join(a.src, "captions.txt")):
        cap_path = os.path.join(a.src, "captions.txt")
    captions = read_captions(cap_path) if cap_path else None

    channels = 1 if a.gray else 3
    images = np.empty((len(items), height, width, channels), np.uint8)
    for i, (rel, _) in enumerate(items):
        im = load(os.path.join(a.src, rel), height, width, a.gray, a.fit)
        images[i] = np.asarray(im, np.uint8).reshape(height, width, channels)

    strings = h5py.string_dtype()
    tmp = a.out + ".tmp"
    with h5py.File(tmp, "w") as f:
        data = images.astype(np.float32) / 255.0 if a.float else images
        d = f.create_dataset("images", data=data, chunks=(1, height, width, channels))
        d.attrs["description"] = "images, row-major (image, height, width, channel)"
        d.attrs["units"] = "1" if a.float else "1/255"
        d = f.create_dataset("files", data=[rel for rel, _ in items], dtype=strings)
        d.attrs["description"] = "path of each image under the source folder"
        if classes:
            d = f.create_dataset("labels", data=np.array([l for _, l in items], np.int32))
            d.attrs["description"] = "class index of each image (into classes)"
            f.create_dataset("classes", data=classes, dtype=strings)
        if captions is not None:
            caps = [captions.get(rel, captions.get(os.path.basename(rel), "")) for rel, _ in items]
            missing = sum(1 for c in caps if c == "")
            if missing:
                print(f"make_image_set: {missing} of {len(caps)} images have no caption",
                      file=sys.stderr)
            d = f.create_dataset("captions", data=caps, dtype=strings)
            d.attrs["description"] = "caption of each image"
        f.attrs["source"] = os.path.abspath(a.src)
        f.attrs["layout"] = "uhn image set 1"
    os.replace(tmp, a.out)
    print(f"wrote {a.out}: {len(items)} images of {height}x{width}x{channels}"
          + (f", {len(classes)} classes" if classes else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
