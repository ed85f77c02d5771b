"""An independent reference of the text encoders (spec §13, conventions of
include/uhn/text.h), written with hashlib and numpy only.

pixel: SHA-256 hex of the caption's bytes drawn with the 3x5 font below in 4x6
cells, cols = (W + 1) // 4, rows = (H + 1) // 6, the first min(64, cols*rows)
characters left to right, top to bottom; glyph pixels 1.0 in every channel.
ngram: ASCII A-Z lower-cased, ' ' added at each end, grams of n code points
(the whole padded string when it has fewer than n); bucket = first 8 digest
bytes big-endian mod D, sign -1 when digest byte 8 is odd; L2-normalised.
"""
import hashlib

import numpy as np

# The font as pictures ('#' = glyph pixel), one 3x5 glyph per hex digit.
FONT_ROWS = [
    "### .#. ### ### #.# ### ### ### ### ### ... #.. ... ..# .#. ..#",
    "#.# ##. ..# ..# #.# #.. #.. ..# #.# #.# .## ##. .## .## #.# .#.",
    "#.# .#. ### ### ### ### ### ..# ### ### #.# #.# #.. #.# ### ###",
    "#.# .#. #.. ..# ..# ..# #.# ..# #.# ..# #.# #.# #.. #.# #.. .#.",
    "### ### ### ### ..# ### ### ..# ### ### .## ##. .## .## .## .#.",
]
FONT = {ch: np.array([[c == "#" for c in row.split()[i]] for row in FONT_ROWS], dtype=np.float32)
        for i, ch in enumerate("0123456789abcdef")}


def sha256_hex(b):
    return hashlib.sha256(b).hexdigest()


def pixel(caption_bytes, h, w, c):
    """(image [h*w*c] float32, hex digest)."""
    hexd = sha256_hex(caption_bytes)
    img = np.zeros((h, w, c), np.float32)
    cols, rows = (w + 1) // 4, (h + 1) // 6
    for k, ch in enumerate(hexd[:min(64, cols * rows)]):
        top, left = 6 * (k // cols), 4 * (k % cols)
        img[top:top + 5, left:left + 3, :] = np.maximum(img[top:top + 5, left:left + 3, :],
                                                        FONT[ch][:, :, None])
    return img.reshape(-1), hexd


def ngram(caption_bytes, dim, n=3):
    text = caption_bytes.decode("utf-8")  # strict: raises on invalid UTF-8
    text = " " + "".join(chr(ord(ch) + 32) if "A" <= ch <= "Z" else ch for ch in text) + " "
    grams = [text] if len(text) < n else [text[i:i + n] for i in range(len(text) - n + 1)]
    v = np.zeros(dim, np.float64)
    for g in grams:
        d = hashlib.sha256(g.encode("utf-8")).digest()
        v[int.from_bytes(d[:8], "big") % dim] += -1.0 if d[8] & 1 else 1.0
    norm = np.sqrt(np.sum(v * v))
    return (v / norm if norm > 0 else v).astype(np.float32)


if __name__ == "__main__":  # prints the bitmap literal of test_text.c
    img, hexd = pixel(b"a cat sat on the mat", 28, 28, 1)
    print(f"/* {hexd} */")
    for r in img.reshape(28, 28):
        print('    "' + "".join("1" if v else "0" for v in r) + '",')
