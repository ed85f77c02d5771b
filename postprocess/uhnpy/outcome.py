"""The one correctness rule of a retrieval (spec §7, and the code-space outcome of §10).

- correct: sum of squared errors against the true image below the threshold theta
  (50 by default: the UHN paper's, for 28x28 and larger images);
- wrong: not correct, and the state settled on another memory (largest weight
  >= 0.99 and n* not the true index);
- metastable: neither.
The code-space outcome (§10): correct when n* = m and w >= 0.99, wrong when n* != m
and w >= 0.99, metastable otherwise.
"""
import numpy as np

THETA = 50.0      # spec §7's default threshold on the sum of squared errors
SETTLED = 0.99    # a weight at or above this means the state settled on one memory
CORRECT, WRONG, METASTABLE = 0, 1, 2
NAMES = {CORRECT: "correct", WRONG: "wrong", METASTABLE: "metastable"}


def sq_error(retrieved, truth):
    """Sum of squared errors per query over every other axis ([B][...] -> [B])."""
    z = np.asarray(retrieved, dtype=np.float64)
    y = np.asarray(truth, dtype=np.float64)
    return ((z - y) ** 2).reshape(z.shape[0], -1).sum(axis=1)


def is_correct(sse, theta=THETA):
    """True where the retrieval is correct by spec §7 (sse < theta)."""
    return np.asarray(sse) < theta


def classify(sse, index, weight, true_index, theta=THETA):
    """The outcome of spec §7 per query: CORRECT, WRONG or METASTABLE (int array)."""
    sse, index = np.asarray(sse), np.asarray(index)
    weight, true_index = np.asarray(weight), np.asarray(true_index)
    out = np.full(sse.shape, METASTABLE, dtype=np.int32)
    out[(weight >= SETTLED) & (index != true_index)] = WRONG
    out[sse < theta] = CORRECT
    return out


def classify_code(index, weight, true_index):
    """The code-space outcome of spec §10 per query."""
    index, weight, true_index = map(np.asarray, (index, weight, true_index))
    out = np.full(index.shape, METASTABLE, dtype=np.int32)
    settled = weight >= SETTLED
    out[settled & (index == true_index)] = CORRECT
    out[settled & (index != true_index)] = WRONG
    return out
