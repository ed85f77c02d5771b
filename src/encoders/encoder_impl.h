/*
 * Inside the encoders: the model every encoder shares and the table entry each
 * encoder file defines. Adding an encoder is one file with one entry and one
 * line in encoder.c's table.
 *
 * What a model file stores beyond the common attributes is the entry's: its
 * fixed arrays (`arrays`, saved, read, shape-checked and broadcast by model.c)
 * and, for anything else (attributes of its own, a variable number of layers),
 * its save/load/bcast hooks, which use the model-file helpers below.
 */
#ifndef UHN_ENCODER_IMPL_H
#define UHN_ENCODER_IMPL_H

#include <stddef.h>

#include "uhn/encoder.h"

/* What an entry uses, beyond K. */
enum {
    ENC_USES_DIM = 1u << 0,         /* D = dim is a parameter, 1 ≤ D ≤ K (else D = K) */
    ENC_USES_WHITEN = 1u << 1,      /* whiten applies */
    ENC_USES_SEED = 1u << 2,        /* seed applies */
    ENC_USES_PATCH = 1u << 3,       /* patch and codes apply; D = P·J; attributes patch, codes */
    ENC_TRAINED_ELSEWHERE = 1u << 4 /* not fitted by uhn; D = dim is the model file's */
};

/* The extent of an array's axis, from the encoder's sizes. */
typedef enum {
    ENC_EXT_K,     /* K, the pixels per image */
    ENC_EXT_D,     /* D, the code length */
    ENC_EXT_CODES, /* J = cfg.codes, the codebook size */
    ENC_EXT_PATCH  /* p·p·C, the values per patch */
} enc_extent;

/* A fixed float64 array of a model: a dataset of the model group. */
typedef struct enc_array {
    const char *name; /* the dataset's name in the model group */
    size_t field;     /* offsetof(uhn_encoder, <a double * member>) */
    int rank;         /* 1 or 2 */
    enc_extent dims[2];
    const char *description, *units, *axes;
} enc_array;

/* The mean image, shared by centred and pca (one declaration, one text). */
#define ENC_ARRAY_MEAN                                                                             \
    {                                                                                              \
        "mean", offsetof(uhn_encoder, mean), 1, {ENC_EXT_K, ENC_EXT_K},                            \
            "the mean training image mu", "pixel value", "pixel"                                   \
    }

typedef struct uhn_encoder_ops uhn_encoder_ops;
typedef struct enc_mlp enc_mlp; /* mlp.c's layers */

struct uhn_encoder {
    const uhn_encoder_ops *ops;
    uhn_encoder_config cfg; /* cfg.name points at ops->name */
    int64_t K, D;
    int64_t n_train;
    double fit_seconds;
    int64_t work_len; /* float64 scratch values per row of encode/decode (K + D unless prepare
                         sets more) */
    /* Fitted or derived arrays (NULL when the encoder has none), float64, row-major. */
    double *mean;       /* [K] */
    double *components; /* [D][K]: V_D as rows */
    double *variances;  /* [D]: λ_d */
    double *scale;      /* [D]: σ_d when whitened, else NULL */
    double *proj;       /* [D][K]: random R */
    double *pinv;       /* [K][D]: random R⁺ */
    double *codebook;   /* [J][p·p·C]: vq entries e_j */
    double *codebook_t; /* [p·p·C][J]: vq entries transposed (derived) */
    int64_t *vq_seeds;  /* [J]: vq k-means++ picks, global patch indices (NULL when unknown) */
    int64_t vq_iterations, vq_converged; /* -1 when unknown (a model written elsewhere) */
    double vq_objective;                 /* NaN when unknown */
    enc_mlp *mlp;                        /* mlp's layers */
};

typedef struct enc_out enc_out; /* where a model is being written (model.c) */
typedef struct enc_in enc_in;   /* the model file being read on rank 0 (model.c) */

struct uhn_encoder_ops {
    const char *name;
    const char *help;
    unsigned flags;
    /* ENC_TRAINED_ELSEWHERE: what trains it (named when a fit is asked for). */
    const char *trained_by;
    /* The fixed arrays of the model file, in the order they are written. */
    const enc_array *arrays;
    int narrays;
    /* Fits e (K, D, cfg set; arrays NULL) on this rank's rows; collective, agreed. */
    int (*fit)(uhn_ctx *ctx, uhn_encoder *e, const float *x, int64_t n_local, int64_t n_total);
    /* Derives what is not stored (random: R and R⁺) after fit or load; collective, agreed.
     * NULL when nothing is derived. */
    int (*prepare)(uhn_ctx *ctx, uhn_encoder *e);
    /* One row: x [K] to c [D], and c [D] to x [K], with a scratch `work` of
     * e->work_len float64 values; not collective. */
    void (*encode)(const uhn_encoder *e, const float *x, float *c, double *work);
    void (*decode)(const uhn_encoder *e, const float *c, float *x, double *work);
    /* What the model file holds beyond the common attributes and `arrays` (NULL: nothing).
     * save: on the writer's rank, after the arrays; not collective.
     * load: rank 0, after the common attributes and the arrays; messages name the file
     *       and the object (enc_in_fail); not collective.
     * bcast: from rank 0 to the others (which allocate); collective, agreed.
     * destroy: frees what load or fit allocated beyond the double arrays. */
    int (*save)(const uhn_encoder *e, const enc_out *out);
    int (*load)(const enc_in *in, uhn_encoder *e);
    int (*bcast)(uhn_ctx *ctx, uhn_encoder *e);
    void (*destroy)(uhn_encoder *e);
    /* Its own parameters and fit record for a summary line, ", ..." (NULL: none). */
    void (*describe)(const uhn_encoder *e, char *buf, size_t len);
};

extern const uhn_encoder_ops uhn_encoder_identity;
extern const uhn_encoder_ops uhn_encoder_centred;
extern const uhn_encoder_ops uhn_encoder_pca;
extern const uhn_encoder_ops uhn_encoder_random;
extern const uhn_encoder_ops uhn_encoder_vq;
extern const uhn_encoder_ops uhn_encoder_mlp;

/* Helpers shared by the entries (encoder.c). */

/* The entry of a name (NULL when unknown). Not collective. */
const uhn_encoder_ops *uhn_encoder_find(const char *name);

/* A new encoder of entry ops for cfg (checked): K, D and work_len set, no
 * arrays. Not collective. */
int uhn_encoder_new(uhn_ctx *ctx, const uhn_encoder_ops *ops, const uhn_encoder_config *cfg,
                    uhn_encoder **out);

/* The extent of an axis for e. Not collective. */
int64_t uhn_encoder_extent(const uhn_encoder *e, enc_extent x);

/* The mean image of all ranks' rows into e->mean (allocated here), summed in
 * 64-bit fixed point (2^-32 units) so that the result is the same bits at any
 * rank count and any split of the rows. Collective; agreed. */
int uhn_encoder_fit_mean(uhn_ctx *ctx, uhn_encoder *e, const float *x, int64_t n_local,
                         int64_t n_total);

/* y = Σ_k a_k b_k over n terms, float64, in one fixed order (four interleaved
 * partial sums), so that the same row gives the same bits anywhere. */
double uhn_encoder_dot(const double *a, const double *b, int64_t n);

/* Broadcasts n values of type t from rank 0 into *buf; other ranks allocate
 * *buf (n·size bytes) first. Collective; agreed. */
int uhn_encoder_bcast_new(uhn_ctx *ctx, void **buf, int64_t n, size_t size, MPI_Datatype t);

/* ------------------------------------------------------------------------ */
/* Model-file helpers for the entries' hooks (model.c)                     */

struct enc_out {
    uhn_h5_writer *w;
    const char *group; /* "/" or the model's group, for example "/encoders/vq" */
};

/* "<group>/<leaf>" (just the leaf under "/") into buf. */
void enc_out_path(const enc_out *o, const char *leaf, char *buf, size_t len);
/* A dataset, group or attribute under the model group (leaf "" or "/": the group itself). */
int enc_out_dataset(const enc_out *o, const char *leaf, uhn_h5_type type, int rank,
                    const int64_t *dims, const void *data, const char *description,
                    const char *units, const char *axes);
int enc_out_group(const enc_out *o, const char *leaf);
int enc_out_attr_int(const enc_out *o, const char *leaf, const char *name, int64_t v);
int enc_out_attr_double(const enc_out *o, const char *leaf, const char *name, double v);
int enc_out_attr_string(const enc_out *o, const char *leaf, const char *name, const char *v);

struct enc_in {
    uhn_ctx *ctx;
    int64_t fid; /* an hid_t, open read-only */
    const char *path, *role;
};

/* UHN_EINPUT "<role>: model file '<path>': <message>". Returns the status. */
int enc_in_fail(const enc_in *in, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* 1 when the object (dataset or group, a path from the file's root) exists. */
int enc_in_exists(const enc_in *in, const char *object);
/* 1 when `object` exists and is a group. */
int enc_in_is_group(const enc_in *in, const char *object);
/* Attributes of `object` ("/": the root group); -1 when absent or of the wrong
 * class (no message). */
int enc_in_attr_int(const enc_in *in, const char *object, const char *name, int64_t *v);
int enc_in_attr_double(const enc_in *in, const char *object, const char *name, double *v);
int enc_in_attr_string(const enc_in *in, const char *object, const char *name, char *buf,
                       size_t len);
/* The shape of dataset `name` (rank ≤ 2 into dims); a failure message names it.
 * *rank is the dataset's rank (may exceed 2: the caller refuses it). */
int enc_in_shape(const enc_in *in, const char *name, int *rank, int64_t dims[2]);
/* Dataset `name` of exactly rank × dims, into a new buffer of the memory type
 * (UHN_H5_FLOAT64: every value finite; or UHN_H5_INT64). */
int enc_in_array(const enc_in *in, const char *name, uhn_h5_type type, int rank,
                 const int64_t *dims, void **out);

#endif
