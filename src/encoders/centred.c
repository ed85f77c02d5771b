/*
 * The centred encoder: c = x − μ, x = c + μ (D = K), μ the mean training
 * image. The ablation that tells how much of an encoder's gain is only the
 * removal of the mean.
 */
#include "encoders/encoder_impl.h"

static int fit(uhn_ctx *ctx, uhn_encoder *e, const float *x, int64_t n_local, int64_t n_total) {
    return uhn_encoder_fit_mean(ctx, e, x, n_local, n_total);
}

static void encode(const uhn_encoder *e, const float *x, float *c, double *work) {
    (void)work;
    for (int64_t k = 0; k < e->K; ++k) c[k] = (float)((double)x[k] - e->mean[k]);
}

static void decode(const uhn_encoder *e, const float *c, float *x, double *work) {
    (void)work;
    for (int64_t k = 0; k < e->K; ++k) x[k] = (float)((double)c[k] + e->mean[k]);
}

static const enc_array arrays[] = {ENC_ARRAY_MEAN};

const uhn_encoder_ops uhn_encoder_centred = {
    .name = "centred",
    .help = "c = x - mu (D = K): the mean image removed",
    .flags = 0,
    .arrays = arrays,
    .narrays = 1,
    .fit = fit,
    .prepare = NULL,
    .encode = encode,
    .decode = decode,
};
