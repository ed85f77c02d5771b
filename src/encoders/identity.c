/* The identity encoder: c = x, x = c (D = K). The raw network's baseline. */
#include <string.h>

#include "encoders/encoder_impl.h"

static void encode(const uhn_encoder *e, const float *x, float *c, double *work) {
    (void)work;
    memcpy(c, x, (size_t)e->K * sizeof *c);
}

static void decode(const uhn_encoder *e, const float *c, float *x, double *work) {
    (void)work;
    memcpy(x, c, (size_t)e->K * sizeof *x);
}

const uhn_encoder_ops uhn_encoder_identity = {
    .name = "identity",
    .help = "c = x (D = K): the raw network",
    .flags = 0,
    .fit = NULL,
    .prepare = NULL,
    .encode = encode,
    .decode = decode,
};
