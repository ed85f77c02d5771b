/*
 * Encoders of Hopfield Encoding Networks (spec §9): maps from an image vector
 * x (K = H·W·C pixels in [0, 1], row-major H, W, C) to a code c of length D,
 * and back.
 *
 * The encoders are one table (src/encoders/encoder.c), looked up by name:
 *
 *   identity      c = x                                  D = K
 *   centred       c = x − μ                              D = K
 *   pca           c = V_Dᵀ(x − μ) [/ σ_d when whitened]  D ≤ K, fitted by ScaLAPACK
 *   random        c = R x, R_dk ~ N(0, 1/D)              D ≤ K, decoded by R⁺
 *   vq            one-hot nearest codebook entry of each  D = P·J (P patches of p×p,
 *                 patch; decoded by Σ_j c_ij e_j           J entries by k-means)
 *   mlp           a ← act(W a + b), layer by layer       D from the model file, trained
 *                                                         by postprocess/train_autoencoder.py
 *
 * A model is fitted once (collective: each rank passes its own training rows),
 * saved to an HDF5 model file (spec §14) and reloaded. Encoding and decoding
 * are row by row in float64 with a fixed summation order, so that a model
 * gives bit-identical codes whatever the rank count or the number of rows a
 * rank holds.
 *
 * Messages about a parameter are made with uhn_fail_param and name the
 * parameter (`dim`, `whiten`, `seed`, `patch`, `codes`, `encoder`); a front
 * end relabels them with its own flag (uhn_relabel).
 */
#ifndef UHN_ENCODER_H
#define UHN_ENCODER_H

#include <stddef.h>
#include <stdint.h>
#include "uhn/context.h"
#include "uhn/h5io.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The Philox stream of the random projection: R_dk from (seed, stream, d·K + k, 0). */
#define UHN_STREAM_ENCODER_RANDOM 0x454E4331u /* "ENC1" */
/* The Philox stream of vq's k-means++ seeding: centre t from (seed, stream, t, 0). */
#define UHN_STREAM_ENCODER_VQ 0x454E4332u /* "ENC2" */

/* The marker attribute `uhn_model` of a model file and its value. */
#define UHN_MODEL_MARKER "encoder"

/* What an encoder is asked to be: the name and parameters of a fit. */
typedef struct uhn_encoder_config {
    const char *name; /* a table name; not owned */
    int64_t dim;      /* D; 0 = K for identity and centred, P·J for vq (required for pca,
                         random; the model file's for mlp) */
    int whiten;       /* pca only */
    uint64_t seed;    /* random and vq only (default 0) */
    int64_t height, width, channels; /* image shape, K = height * width * channels */
    int64_t patch;                   /* vq: patch side p (0: not given) */
    int64_t codes;                   /* vq: codebook size J (0: not given) */
} uhn_encoder_config;

typedef struct uhn_encoder uhn_encoder; /* opaque; owned by the caller of fit or load */

/* The table: count, names and one-line descriptions of the encoders built in.
 * Not collective. name_at returns NULL out of range. */
int uhn_encoder_count(void);
const char *uhn_encoder_name_at(int i);
const char *uhn_encoder_help_at(int i);

/*
 * Checks a configuration against the table before any data is read: a known
 * name, 1 ≤ dim ≤ K where the encoder has a dimension (dim must equal K or be
 * 0 for identity and centred), whiten only for pca; patch and codes only for
 * vq, where both are required and ≥ 1, p must divide the height and the width
 * and dim must be 0 or P·J; dim ≥ 1 for mlp. A shape of 0 × 0 × 0 checks all
 * but what needs the shape (before the data is opened). Errors are UHN_EINPUT
 * about the parameter (uhn_fail_param: "encoder", "dim", "whiten", "patch",
 * "codes"). Not collective (every rank sees the same config; agree the status).
 */
int uhn_encoder_check(uhn_ctx *ctx, const uhn_encoder_config *cfg);

/* uhn_encoder_check, and refuses an encoder that is trained elsewhere (mlp:
 * postprocess/train_autoencoder.py), about "encoder". Not collective. */
int uhn_encoder_check_fit(uhn_ctx *ctx, const uhn_encoder_config *cfg);

/*
 * Fits an encoder on the training set: x holds this rank's n_local rows
 * (n_local × K floats, row-major; owned by the caller and only read), n_total
 * the rows of all ranks together, and row0 the global index of this rank's
 * first row. Ranks must hold consecutive blocks in rank order, of
 * uhn_encoder_fit_block() rows each (the last may hold fewer, a rank may hold
 * none): pca reads them in place as the row blocks of a ScaLAPACK matrix.
 * vq needs more training patches than codes (UHN_EINPUT about "codes"); mlp is
 * refused (uhn_encoder_check_fit).
 * On success *out is a new encoder (free with uhn_encoder_destroy) that is
 * identical on every rank. Collective over ctx->comm; the status is agreed.
 */
int uhn_encoder_fit(uhn_ctx *ctx, const uhn_encoder_config *cfg, const float *x, int64_t n_local,
                    int64_t n_total, uhn_encoder **out);

/* Rows per rank of the training blocks that uhn_encoder_fit expects:
 * ceil(n_total / ranks), at least 1. Not collective. */
int64_t uhn_encoder_fit_block(int64_t n_total, int ranks);

/* Encodes n rows of x (n × K) into codes (n × D); decodes n codes (n × D) into
 * x (n × K). Buffers are the caller's. Row by row: the result of a row does
 * not depend on n or on the other rows. A scratch allocation that fails is UHN_ENOMEM. Not
 * collective. */
int uhn_encoder_encode(uhn_ctx *ctx, const uhn_encoder *e, const float *x, int64_t n, float *codes);
int uhn_encoder_decode(uhn_ctx *ctx, const uhn_encoder *e, const float *codes, int64_t n, float *x);

/* Accessors. Not collective. */
const char *uhn_encoder_name(const uhn_encoder *e);
int64_t uhn_encoder_dim(const uhn_encoder *e);                         /* D */
int64_t uhn_encoder_k(const uhn_encoder *e);                           /* K */
const uhn_encoder_config *uhn_encoder_config_of(const uhn_encoder *e); /* name owned by e */
int64_t uhn_encoder_n_train(const uhn_encoder *e);    /* rows fitted on (0 when none) */
double uhn_encoder_fit_seconds(const uhn_encoder *e); /* wall-clock time of the fit */
/* The encoder's own parameters and fit record for a summary line, as text
 * starting ", " (for vq ", p = 4, J = 64; k-means: 37 iterations, converged,
 * objective 123.4"), or "" when it has none; into buf. Not collective. */
const char *uhn_encoder_describe(const uhn_encoder *e, char *buf, size_t len);
/* The fitted arrays (owned by e; NULL when the encoder has none): mean [K],
 * components [D][K] and variances [D] (pca), codebook [J][p·p·C] (vq),
 * float64, row-major. Not collective. */
const double *uhn_encoder_mean(const uhn_encoder *e);
const double *uhn_encoder_components(const uhn_encoder *e);
const double *uhn_encoder_variances(const uhn_encoder *e);
const double *uhn_encoder_codebook(const uhn_encoder *e);

/*
 * Writes the model (spec §14) into group `group` of an open writer ("/": the
 * root group, as a model file has it; another path is created, its parents
 * first, so that a results file can hold the model of each encoder): attributes
 * uhn_model = "encoder", encoder, dim, input_length, height, width, channels,
 * whiten, seed, n_train, fit_seconds (and patch, codes for vq); then the
 * encoder's own: datasets `mean` [K] (centred, pca), `components` [D][K] and
 * `variances` [D] (pca); `codebook` [J][p·p·C], `seeds` [J] (int64) and
 * attributes iterations, converged, objective (vq); attributes
 * encoder_layers, decoder_layers and groups layers/{encoder,decoder}/<i> with
 * `weight` [out][in], `bias` [out] and attribute activation (mlp); float64.
 * random keeps only its seed: R is regenerated. Called on the writer's one
 * rank; not collective. The writer stays the caller's.
 */
int uhn_encoder_save(const uhn_encoder *e, uhn_h5_writer *w, const char *group);

/*
 * Loads a model file written by uhn_encoder_save (or, for mlp, by the
 * trainer). A file that is not HDF5, lacks the uhn_model marker, names an
 * unknown encoder, lacks an object or holds one of the wrong shape or kind is
 * UHN_EINPUT naming `role` (for example "--model"), the file and the object. Rank 0 reads the file;
 * everything is broadcast, so the encoder is bit-identical on every rank. Collective; agreed.
 */
int uhn_encoder_load(uhn_ctx *ctx, const char *path, const char *role, uhn_encoder **out);

/* Frees an encoder. Not collective. NULL is allowed. */
void uhn_encoder_destroy(uhn_encoder *e);

/* ------------------------------------------------------------------------ */
/* Image and code input of the encoders                                     */

/*
 * A dataset of rows: images ([n][K], [n][H][W] or [n][H][W][C]; uint8 scaled
 * by 1/255 — as float32, (float)u / 255.0f — or float32/float64 in [0, 1]) or
 * codes ([n][D], any numeric type, finite). Filled by uhn_rows_open.
 */
typedef struct uhn_rows_input {
    uhn_h5_name name;
    int images;                      /* 1: image rules; 0: code rules */
    int rank;                        /* dimensions of the dataset */
    int64_t n, k;                    /* rows and values per row */
    int64_t height, width, channels; /* 2-D images: 1 × k × 1 */
    int is_u8;                       /* stored as uint8 (images: scaled by 1/255) */
    char type[32];
} uhn_rows_input;

/* Opens a dataset's shape and checks it (non-empty, 2-D to 4-D for images, 2-D
 * for codes, an allowed type). UHN_EINPUT naming name->role and the dataset.
 * Collective; agreed. */
int uhn_rows_open(uhn_ctx *ctx, const uhn_h5_name *name, int images, uhn_rows_input *in);

/*
 * Reads rows [row0, row0 + nrows) into out (nrows × k floats, the caller's)
 * with collective MPI-IO; a rank may read none. Image values outside [0, 1]
 * and non-finite or float32-overflowing values are UHN_EINPUT naming the row
 * and column. Collective; agreed.
 */
int uhn_rows_read(uhn_ctx *ctx, const uhn_rows_input *in, int64_t row0, int64_t nrows, float *out);

#ifdef __cplusplus
}
#endif
#endif
