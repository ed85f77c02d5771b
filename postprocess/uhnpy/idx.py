"""The one IDX reader (the MNIST / Fashion-MNIST format), gzipped or not.

An IDX file is a big-endian magic number 0x0000TTDD (TT the element type, 0x08 =
unsigned byte; DD the number of dimensions), DD big-endian uint32 sizes, then the
elements row-major. Images are magic 0x803 ([n][rows][cols]), labels 0x801 ([n]).
"""
import gzip
import os

import numpy as np

IMAGES = 0x803
LABELS = 0x801


class IdxError(ValueError):
    """A missing, unreadable, foreign or truncated IDX file. `kind` is one of
    missing, unreadable, magic, truncated, count; str(e) is one line."""

    def __init__(self, kind, message, held=None):
        super().__init__(message)
        self.kind, self.held = kind, held


def _open(path):
    return gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")


def _what(magic):
    return {IMAGES: "images", LABELS: "labels"}.get(magic, f"magic {magic:#x}")


def read_idx(path, magic=None, count=None):
    """The array of an IDX file (uint8, shape = the file's dims). magic: the expected
    magic number (None: any unsigned-byte IDX file); count: read only the first count
    items (rows of the first dimension), without reading the rest of the file; the file
    must then hold at least count of them. A whole read needs the file's exact size."""
    if not os.path.exists(path):
        raise IdxError("missing", f"no such file: {path}")
    try:
        with _open(path) as f:
            head = f.read(4)
            m = int.from_bytes(head, "big") if len(head) == 4 else -1
            ndim = m & 0xFF if m >= 0 else 0
            ok = (m >= 0 and m >> 8 == 0x08 and ndim > 0) if magic is None else m == magic
            if not ok:
                want = "an unsigned-byte IDX file" if magic is None else \
                    f"an IDX file of {_what(magic)}"
                raise IdxError("magic", f"{path} is not {want}")
            raw_dims = f.read(4 * ndim)
            if len(raw_dims) != 4 * ndim:
                raise IdxError("truncated", f"{path} is truncated ({4 + len(raw_dims)} bytes, "
                               f"expected at least {4 + 4 * ndim})")
            dims = [int.from_bytes(raw_dims[4 * i:4 * i + 4], "big") for i in range(ndim)]
            head_len = 4 + 4 * ndim
            if count is not None:
                if count > dims[0]:
                    raise IdxError("count", f"{path} holds {dims[0]} {_what(m)}, "
                                   f"not {count}", held=dims[0])
                dims[0] = count
                want = int(np.prod(dims))
                raw = f.read(want)
                if len(raw) != want:
                    raise IdxError("truncated", f"{path} is truncated ({head_len + len(raw)} "
                                   f"bytes, expected at least {head_len + want})")
            else:
                raw = f.read()
                want = int(np.prod(dims))
                if len(raw) != want:
                    raise IdxError("truncated", f"{path} is truncated ({head_len + len(raw)} "
                                   f"bytes, expected {head_len + want})")
    except (OSError, EOFError) as e:
        raise IdxError("unreadable", f"{path} is not a gzipped IDX file ({e})"
                       if path.endswith(".gz") else f"cannot read {path} ({e})")
    return np.frombuffer(raw, np.uint8).reshape(dims)


def fashion_mnist_dir():
    """The folder of Debian's dataset-fashion-mnist."""
    return "/usr/share/datasets/fashion-mnist"
