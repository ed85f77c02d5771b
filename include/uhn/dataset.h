/*
 * Image sets: where the patterns of a capacity study come from.
 *
 * A data set is opened from a one-string spec (what a deck's `data` key or a
 * command-line option holds); the part before the first ':' picks a source
 * from a table:
 *
 *   fashion-mnist[:SPLIT][@DIR]  the 70,000 Fashion-MNIST images (28x28x1),
 *                                SPLIT = train (60,000, the default), test
 *                                (10,000) or all (train then test: 70,000);
 *                                DIR defaults to /usr/share/datasets/fashion-mnist.
 *                                The gzipped IDX files are read with zlib;
 *                                pixels are stored as bytes, scaled by 1/255 on
 *                                read; labels 0-9 are kept. Captions are made
 *                                from class name and index, "Ankle boot 0".
 *   hdf5:FILE                    a user image set in the uhn layout:
 *                                  images   [N][H][W][C] (or [N][H][W], C = 1)
 *                                           uint8 (scaled by 1/255) or float32/
 *                                           float64 (taken as is; every pixel
 *                                           read must lie in [0, 1])
 *                                  labels   optional, integer [N]
 *                                  captions optional, strings [N] (variable or
 *                                           fixed length)
 *                                postprocess/make_image_set.py builds such a
 *                                file from a folder of PNG/JPEG images. Pixels
 *                                stay in the file: each rank reads only the
 *                                rows it asks for. Labels and captions are read
 *                                by rank 0 and broadcast.
 *   synthetic:KIND?KEY=VALUE&... random patterns, generated on demand: row i
 *                                is a pure function of (seed, i), the same on
 *                                every rank and for any rank count, so a bank
 *                                of 10^7 rows needs no file. KIND is
 *                                  binary     +1/-1 with probability 1/2 each
 *                                  binary01   0/1 with probability 1/2 each
 *                                  uniform    U[0, 1)
 *                                  gaussian   mean + sd * N(0, 1), clipped to [0, 1]
 *                                  correlated `families` prototypes, each
 *                                             U[0, 1)^K; row i belongs to
 *                                             family i mod families (its
 *                                             label) and is its prototype plus
 *                                             noise * N(0, 1) per pixel,
 *                                             clipped to [0, 1]
 *                                Keys: n (required), k or h and w [and c]
 *                                (k alone gives the shape 1 x k x 1; when both
 *                                are given k must equal h*w*c), seed (default
 *                                0), mean and sd (gaussian; defaults 0.5,
 *                                0.2), families and noise (correlated;
 *                                defaults 10, 0.1). Unknown or repeated keys
 *                                are errors. Example:
 *                                  synthetic:correlated?n=10000000&h=28&w=28&families=20&noise=0.05&seed=3
 *
 * Random numbers of synthetic sets come from uhn_philox4x32 keyed by (seed,
 * UHN_STREAM_DATA_ROWS, row, pixel); the prototypes of correlated sets by
 * (seed, UHN_STREAM_DATA_PROTO, family, pixel).
 *
 * Errors are one line naming the spec, file, dataset, key or image index.
 */
#ifndef UHN_DATASET_H
#define UHN_DATASET_H

#include <stdint.h>
#include "uhn/context.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The Philox streams of synthetic data (other modules use other streams). */
#define UHN_STREAM_DATA_ROWS  0x44415431u /* "DAT1" */
#define UHN_STREAM_DATA_PROTO 0x44415432u /* "DAT2" */

#define UHN_DATASET_DEFAULT   "fashion-mnist:train"
#define UHN_FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"

typedef struct uhn_dataset uhn_dataset; /* opaque; owned by the caller of open */

/*
 * Opens the data set named by `spec` (see above; not owned). On success *out
 * is a new data set that keeps a pointer to ctx (which must outlive it).
 * Every input error (unknown source, bad key or number, missing, truncated or
 * malformed file) is UHN_EINPUT with one line in ctx->msg. Collective over
 * ctx->comm; the status is agreed on every rank.
 */
int uhn_dataset_open(uhn_ctx *ctx, const char *spec, uhn_dataset **out);

/* Frees a data set and closes its file. Not collective. NULL is allowed. */
void uhn_dataset_close(uhn_dataset *ds);

/* Shape accessors. Not collective. K = height * width * channels. */
int64_t uhn_dataset_n(const uhn_dataset *ds);
int64_t uhn_dataset_height(const uhn_dataset *ds);
int64_t uhn_dataset_width(const uhn_dataset *ds);
int64_t uhn_dataset_channels(const uhn_dataset *ds);
int64_t uhn_dataset_k(const uhn_dataset *ds);

/* The source name of the table ("fashion-mnist", "hdf5", "synthetic") and the
 * spec the set was opened with (owned by ds). Not collective. */
const char *uhn_dataset_source(const uhn_dataset *ds);
const char *uhn_dataset_spec(const uhn_dataset *ds);

/* Lowest and highest value a pixel can take: [0, 1], or [-1, 1] for
 * synthetic:binary. Not collective. */
void uhn_dataset_range(const uhn_dataset *ds, float *lo, float *hi);

/* 1 when the set has labels (Fashion-MNIST, hdf5 with `labels`, correlated
 * synthetic sets). Not collective. */
int uhn_dataset_has_labels(const uhn_dataset *ds);

/* Label of image i, or -1 when the set has none or i is out of range. Not
 * collective. */
int64_t uhn_dataset_label(const uhn_dataset *ds, int64_t i);

/* Caption of image i (owned by ds), or NULL when the set has none or i is
 * out of range. Not collective. */
const char *uhn_dataset_caption(const uhn_dataset *ds, int64_t i);

/*
 * Fills out[j*K .. j*K + K) with image index[j], for j < count, pixels in
 * row-major (H, W, C) order as floats (in uhn_dataset_range). Indices are
 * global image indices in [0, n), in any order, repeats allowed. `index` and
 * `out` are owned by the caller. An index out of range, an HDF5 read error or
 * a float pixel outside [0, 1] is an error naming the index (UHN_EINPUT).
 * Not collective, for every source: each rank asks for its own rows (hdf5
 * sets read them with their own selection); callers that need agreement call
 * uhn_agree on the status.
 */
int uhn_dataset_rows(const uhn_dataset *ds, const int64_t *index, int64_t count, float *out);

#ifdef __cplusplus
}
#endif
#endif
