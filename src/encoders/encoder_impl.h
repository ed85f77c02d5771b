/*
 * Inside the encoders: the model every encoder shares and the table entry each
 * encoder file defines. Adding an encoder is one file with one entry and one
 * line in encoder.c's table.
 */
#ifndef UHN_ENCODER_IMPL_H
#define UHN_ENCODER_IMPL_H

#include "uhn/encoder.h"

/* What an entry uses, beyond K. */
enum {
    ENC_USES_DIM = 1u << 0,    /* D is a parameter (else D = K) */
    ENC_USES_WHITEN = 1u << 1, /* --whiten applies */
    ENC_USES_SEED = 1u << 2,   /* --seed applies */
    ENC_HAS_MEAN = 1u << 3,    /* the model file holds `mean` */
    ENC_HAS_PCA = 1u << 4      /* the model file holds `components` and `variances` */
};

typedef struct uhn_encoder_ops uhn_encoder_ops;

struct uhn_encoder {
    const uhn_encoder_ops *ops;
    uhn_encoder_config cfg; /* cfg.name points at ops->name */
    int64_t K, D;
    int64_t n_train;
    double fit_seconds;
    /* Fitted or derived arrays (NULL when the encoder has none), float64, row-major. */
    double *mean;       /* [K] */
    double *components; /* [D][K]: V_D as rows */
    double *variances;  /* [D]: λ_d */
    double *scale;      /* [D]: σ_d when whitened, else NULL */
    double *proj;       /* [D][K]: random R */
    double *pinv;       /* [K][D]: random R⁺ */
};

struct uhn_encoder_ops {
    const char *name;
    const char *help;
    unsigned flags;
    /* Fits e (K, D, cfg set; arrays NULL) on this rank's rows; collective, agreed. */
    int (*fit)(uhn_ctx *ctx, uhn_encoder *e, const float *x, int64_t n_local, int64_t n_total);
    /* Derives what is not stored (random: R and R⁺) after fit or load; collective, agreed.
     * NULL when nothing is derived. */
    int (*prepare)(uhn_ctx *ctx, uhn_encoder *e);
    /* One row: x [K] to c [D], and c [D] to x [K], with a scratch `work` of
     * K + D float64 values; not collective. */
    void (*encode)(const uhn_encoder *e, const float *x, float *c, double *work);
    void (*decode)(const uhn_encoder *e, const float *c, float *x, double *work);
};

extern const uhn_encoder_ops uhn_encoder_identity;
extern const uhn_encoder_ops uhn_encoder_centred;
extern const uhn_encoder_ops uhn_encoder_pca;
extern const uhn_encoder_ops uhn_encoder_random;

/* Helpers shared by the entries (encoder.c). */

/* The mean image of all ranks' rows into e->mean (allocated here), summed in
 * 64-bit fixed point (2^-32 units) so that the result is the same bits at any
 * rank count and any split of the rows. Collective; agreed. */
int uhn_encoder_fit_mean(uhn_ctx *ctx, uhn_encoder *e, const float *x, int64_t n_local,
                         int64_t n_total);

/* y = Σ_k a_k b_k over n terms, float64, in one fixed order (four interleaved
 * partial sums), so that the same row gives the same bits anywhere. */
double uhn_encoder_dot(const double *a, const double *b, int64_t n);

#endif
