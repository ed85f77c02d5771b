/*
 * The encoder table and what every encoder shares: configuration checks, the
 * fit and row-by-row encode/decode dispatch, and shared numerics. The model
 * file is model.c's.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoders/encoder_impl.h"

/* ------------------------------------------------------------------------ */
/* The table                                                                */

static const uhn_encoder_ops *const table[] = {
    &uhn_encoder_identity, &uhn_encoder_centred, &uhn_encoder_pca,
    &uhn_encoder_random,   &uhn_encoder_vq,      &uhn_encoder_mlp,
};
enum { NENCODERS = sizeof table / sizeof table[0] };

int uhn_encoder_count(void) {
    return NENCODERS;
}
const char *uhn_encoder_name_at(int i) {
    return i >= 0 && i < NENCODERS ? table[i]->name : NULL;
}
const char *uhn_encoder_help_at(int i) {
    return i >= 0 && i < NENCODERS ? table[i]->help : NULL;
}

const uhn_encoder_ops *uhn_encoder_find(const char *name) {
    for (int i = 0; name && i < NENCODERS; ++i)
        if (!strcmp(table[i]->name, name)) return table[i];
    return NULL;
}

/* Patches per image, P = (H/p)(W/p), for a checked vq shape. */
static int64_t patches_of(const uhn_encoder_config *cfg) {
    return (cfg->height / cfg->patch) * (cfg->width / cfg->patch);
}

/* D for a checked configuration with a known shape. */
static int64_t code_length(const uhn_encoder_ops *ops, const uhn_encoder_config *cfg) {
    if (ops->flags & (ENC_USES_DIM | ENC_TRAINED_ELSEWHERE)) return cfg->dim;
    if (ops->flags & ENC_USES_PATCH) return patches_of(cfg) * cfg->codes;
    return cfg->height * cfg->width * cfg->channels;
}

/* The checks of patch and codes (vq) that need no image shape. */
static int check_patch(uhn_ctx *ctx, const uhn_encoder_ops *ops, const uhn_encoder_config *cfg) {
    const char *const names[2] = {"patch", "codes"};
    const int64_t v[2] = {cfg->patch, cfg->codes};
    for (int i = 0; i < 2; ++i) {
        if (!(ops->flags & ENC_USES_PATCH)) {
            if (v[i] != 0)
                return uhn_fail_param(ctx, UHN_EINPUT, names[i],
                                      "%s applies to encoder vq only (encoder is %s)", names[i],
                                      ops->name);
            continue;
        }
        if (v[i] == 0)
            return uhn_fail_param(ctx, UHN_EINPUT, names[i], "%s is required for encoder %s (%s)",
                                  names[i], ops->name,
                                  i ? "J, the codebook size" : "p, the side of the square patches");
        if (v[i] < 0)
            return uhn_fail_param(ctx, UHN_EINPUT, names[i], "%s must be >= 1 (got %lld)", names[i],
                                  (long long)v[i]);
    }
    return UHN_OK;
}

int uhn_encoder_check(uhn_ctx *ctx, const uhn_encoder_config *cfg) {
    const uhn_encoder_ops *ops = uhn_encoder_find(cfg->name);
    if (!ops) {
        char list[256] = "";
        for (int i = 0; i < NENCODERS; ++i) {
            strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
            strncat(list, table[i]->name, sizeof list - strlen(list) - 1);
        }
        return uhn_fail_param(ctx, UHN_EINPUT, "encoder", "encoder '%s' is unknown (valid: %s)",
                              cfg->name ? cfg->name : "", list);
    }
    if (cfg->whiten && !(ops->flags & ENC_USES_WHITEN))
        return uhn_fail_param(ctx, UHN_EINPUT, "whiten",
                              "whiten applies to encoder pca only (encoder is %s)", ops->name);
    UHN_CALL(check_patch(ctx, ops, cfg));
    if ((ops->flags & ENC_USES_DIM) && cfg->dim == 0)
        return uhn_fail_param(ctx, UHN_EINPUT, "dim", "dim is required for encoder %s", ops->name);
    if ((ops->flags & ENC_TRAINED_ELSEWHERE) && cfg->dim < 0)
        return uhn_fail_param(ctx, UHN_EINPUT, "dim", "dim must be >= 1 (got %lld)",
                              (long long)cfg->dim);
    int64_t K = cfg->height * cfg->width * cfg->channels;
    if (!cfg->height && !cfg->width && !cfg->channels) return UHN_OK; /* shape not known yet */
    if (cfg->height < 1 || cfg->width < 1 || cfg->channels < 1)
        return uhn_fail(ctx, UHN_EINPUT, "image shape %lldx%lldx%lld is empty",
                        (long long)cfg->height, (long long)cfg->width, (long long)cfg->channels);
    if (ops->flags & ENC_USES_DIM) {
        if (cfg->dim < 1 || cfg->dim > K)
            return uhn_fail_param(ctx, UHN_EINPUT, "dim",
                                  "dim must be from 1 to K = %lld, the pixels per image, for "
                                  "encoder %s (got %lld)",
                                  (long long)K, ops->name, (long long)cfg->dim);
    } else if (ops->flags & ENC_TRAINED_ELSEWHERE) {
        if (cfg->dim < 1)
            return uhn_fail_param(ctx, UHN_EINPUT, "dim", "dim must be >= 1 (got %lld)",
                                  (long long)cfg->dim);
    } else if (ops->flags & ENC_USES_PATCH) {
        int64_t p = cfg->patch;
        if (cfg->height % p || cfg->width % p)
            return uhn_fail_param(ctx, UHN_EINPUT, "patch",
                                  "patch %lld does not divide the %lldx%lldx%lld images (their "
                                  "height and width must be multiples of it)",
                                  (long long)p, (long long)cfg->height, (long long)cfg->width,
                                  (long long)cfg->channels);
        int64_t P = patches_of(cfg);
        if (cfg->codes > INT64_MAX / P || P * cfg->codes > ((int64_t)1 << 31))
            return uhn_fail_param(ctx, UHN_EINPUT, "codes",
                                  "codes %lld times %lld patches per image exceeds 2^31 code "
                                  "values",
                                  (long long)cfg->codes, (long long)P);
        if (cfg->dim != 0 && cfg->dim != P * cfg->codes)
            return uhn_fail_param(ctx, UHN_EINPUT, "dim",
                                  "dim is P*J = %lld for encoder %s (P = %lld patches of "
                                  "%lldx%lld, J = %lld codes; got %lld)",
                                  (long long)(P * cfg->codes), ops->name, (long long)P,
                                  (long long)p, (long long)p, (long long)cfg->codes,
                                  (long long)cfg->dim);
    } else if (cfg->dim != 0 && cfg->dim != K) {
        return uhn_fail_param(ctx, UHN_EINPUT, "dim",
                              "dim is K = %lld for encoder %s, which keeps every pixel (got %lld)",
                              (long long)K, ops->name, (long long)cfg->dim);
    }
    return UHN_OK;
}

int uhn_encoder_check_fit(uhn_ctx *ctx, const uhn_encoder_config *cfg) {
    /* An encoder trained elsewhere takes no fit parameters: say so first. */
    const uhn_encoder_ops *ops = uhn_encoder_find(cfg->name);
    if (!ops) return uhn_encoder_check(ctx, cfg);
    if (ops->flags & ENC_TRAINED_ELSEWHERE)
        return uhn_fail_param(ctx, UHN_EINPUT, "encoder",
                              "encoder %s is trained by %s, not fitted by uhn; use the model file "
                              "it writes",
                              ops->name, ops->trained_by);
    return uhn_encoder_check(ctx, cfg);
}

int64_t uhn_encoder_fit_block(int64_t n_total, int ranks) {
    int64_t b = ranks > 0 ? (n_total + ranks - 1) / ranks : n_total;
    return b > 0 ? b : 1;
}

int uhn_encoder_new(uhn_ctx *ctx, const uhn_encoder_ops *ops, const uhn_encoder_config *cfg,
                    uhn_encoder **out) {
    *out = NULL;
    uhn_encoder *e = calloc(1, sizeof *e);
    if (!e) return uhn_fail(ctx, UHN_ENOMEM, "out of memory for an encoder");
    e->ops = ops;
    e->cfg = *cfg;
    e->cfg.name = ops->name;
    e->K = cfg->height * cfg->width * cfg->channels;
    e->D = code_length(ops, cfg);
    e->cfg.dim = e->D;
    e->work_len = e->K + e->D;
    e->vq_iterations = e->vq_converged = -1;
    e->vq_objective = NAN;
    if (!(ops->flags & ENC_USES_SEED)) e->cfg.seed = 0;
    *out = e;
    return UHN_OK;
}

int64_t uhn_encoder_extent(const uhn_encoder *e, enc_extent x) {
    switch (x) {
    case ENC_EXT_K:
        return e->K;
    case ENC_EXT_D:
        return e->D;
    case ENC_EXT_CODES:
        return e->cfg.codes;
    case ENC_EXT_PATCH:
        return e->cfg.patch * e->cfg.patch * e->cfg.channels;
    }
    return 0;
}

int uhn_encoder_fit(uhn_ctx *ctx, const uhn_encoder_config *cfg, const float *x, int64_t n_local,
                    int64_t n_total, uhn_encoder **out) {
    *out = NULL;
    UHN_CALL(uhn_agree(ctx, uhn_encoder_check_fit(ctx, cfg)));
    uhn_encoder *e = NULL;
    UHN_CALL(uhn_agree(ctx, uhn_encoder_new(ctx, uhn_encoder_find(cfg->name), cfg, &e)));
    double t0 = uhn_wtime();
    int st = UHN_OK;
    if (e->ops->fit) st = e->ops->fit(ctx, e, x, n_local, n_total);
    if (st == UHN_OK && e->ops->prepare) st = e->ops->prepare(ctx, e);
    st = uhn_agree(ctx, st);
    if (st != UHN_OK) {
        uhn_encoder_destroy(e);
        return st;
    }
    /* The fit time of rank 0, so that every rank's model is the same. */
    e->fit_seconds = uhn_wtime() - t0;
    ctx->timers.compute += e->fit_seconds;
    UHN_MPI(ctx, MPI_Bcast(&e->fit_seconds, 1, MPI_DOUBLE, 0, ctx->comm));
    e->n_train = n_total;
    *out = e;
    return UHN_OK;
}

/* One row's float64 scratch, allocated once per call. */
static double *work_alloc(const uhn_encoder *e) {
    return malloc((size_t)(e->work_len > 0 ? e->work_len : 1) * sizeof(double));
}

int uhn_encoder_encode(uhn_ctx *ctx, const uhn_encoder *e, const float *x, int64_t n,
                       float *codes) {
    double *work = work_alloc(e);
    if (!work) return uhn_fail(ctx, UHN_ENOMEM, "out of memory for the encoder's scratch");
    for (int64_t i = 0; i < n; ++i)
        e->ops->encode(e, x + (size_t)(i * e->K), codes + (size_t)(i * e->D), work);
    free(work);
    return UHN_OK;
}

int uhn_encoder_decode(uhn_ctx *ctx, const uhn_encoder *e, const float *codes, int64_t n,
                       float *x) {
    double *work = work_alloc(e);
    if (!work) return uhn_fail(ctx, UHN_ENOMEM, "out of memory for the encoder's scratch");
    for (int64_t i = 0; i < n; ++i)
        e->ops->decode(e, codes + (size_t)(i * e->D), x + (size_t)(i * e->K), work);
    free(work);
    return UHN_OK;
}

const char *uhn_encoder_name(const uhn_encoder *e) {
    return e->ops->name;
}
int64_t uhn_encoder_dim(const uhn_encoder *e) {
    return e->D;
}
int64_t uhn_encoder_k(const uhn_encoder *e) {
    return e->K;
}
const uhn_encoder_config *uhn_encoder_config_of(const uhn_encoder *e) {
    return &e->cfg;
}
int64_t uhn_encoder_n_train(const uhn_encoder *e) {
    return e->n_train;
}
double uhn_encoder_fit_seconds(const uhn_encoder *e) {
    return e->fit_seconds;
}

const char *uhn_encoder_describe(const uhn_encoder *e, char *buf, size_t len) {
    if (len) buf[0] = '\0';
    if (e->ops->describe && len) e->ops->describe(e, buf, len);
    return buf;
}

const double *uhn_encoder_mean(const uhn_encoder *e) {
    return e->mean;
}
const double *uhn_encoder_components(const uhn_encoder *e) {
    return e->components;
}
const double *uhn_encoder_variances(const uhn_encoder *e) {
    return e->variances;
}
const double *uhn_encoder_codebook(const uhn_encoder *e) {
    return e->codebook;
}

void uhn_encoder_destroy(uhn_encoder *e) {
    if (!e) return;
    free(e->mean);
    free(e->components);
    free(e->variances);
    free(e->scale);
    free(e->proj);
    free(e->pinv);
    free(e->codebook);
    free(e->codebook_t);
    free(e->vq_seeds);
    if (e->ops && e->ops->destroy) e->ops->destroy(e);
    free(e);
}

/* ------------------------------------------------------------------------ */
/* Shared numerics                                                          */

double uhn_encoder_dot(const double *a, const double *b, int64_t n) {
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int64_t k = 0;
    for (; k + 4 <= n; k += 4) {
        s0 += a[k] * b[k];
        s1 += a[k + 1] * b[k + 1];
        s2 += a[k + 2] * b[k + 2];
        s3 += a[k + 3] * b[k + 3];
    }
    for (; k < n; ++k) s0 += a[k] * b[k];
    return (s0 + s1) + (s2 + s3);
}

/* 2^32: a pixel in [0, 1] becomes at most 2^32 units, so 2^31 rows fit int64. */
#define MEAN_UNITS 4294967296.0

int uhn_encoder_fit_mean(uhn_ctx *ctx, uhn_encoder *e, const float *x, int64_t n_local,
                         int64_t n_total) {
    int64_t K = e->K;
    int st = UHN_OK;
    int64_t *local = calloc((size_t)K, sizeof *local), *sum = calloc((size_t)K, sizeof *sum);
    e->mean = malloc((size_t)K * sizeof *e->mean);
    if (!local || !sum || !e->mean) st = uhn_fail(ctx, UHN_ENOMEM, "out of memory for the mean");
    if (st == UHN_OK && n_total > ((int64_t)1 << 31))
        st = uhn_fail(ctx, UHN_EINPUT, "more than 2^31 training rows (%lld)", (long long)n_total);
    st = uhn_agree(ctx, st);
    if (st == UHN_OK) {
        /* Integer sums are associative: the same bits for any split of rows. */
        for (int64_t i = 0; i < n_local; ++i)
            for (int64_t k = 0; k < K; ++k)
                local[k] += (int64_t)llround((double)x[i * K + k] * MEAN_UNITS);
        if (MPI_Allreduce(local, sum, (int)K, MPI_INT64_T, MPI_SUM, ctx->comm) != MPI_SUCCESS)
            st = uhn_fail(ctx, UHN_EMPI, "MPI_Allreduce of the mean failed");
        for (int64_t k = 0; st == UHN_OK && k < K; ++k)
            e->mean[k] = ((double)sum[k] / MEAN_UNITS) / (double)n_total;
    }
    free(local);
    free(sum);
    return uhn_agree(ctx, st);
}

int uhn_encoder_bcast_new(uhn_ctx *ctx, void **buf, int64_t n, size_t size, MPI_Datatype t) {
    int st = UHN_OK;
    if (n < 0 || n > INT32_MAX)
        st = uhn_fail(ctx, UHN_EINTERNAL, "a model array of %lld values is too long to broadcast",
                      (long long)n);
    else if (ctx->rank != 0 && !(*buf = malloc((size_t)(n > 0 ? n : 1) * size)))
        st = uhn_fail(ctx, UHN_ENOMEM, "out of memory for a model array");
    UHN_CALL(uhn_agree(ctx, st));
    if (n > 0) UHN_MPI(ctx, MPI_Bcast(*buf, (int)n, t, 0, ctx->comm));
    return UHN_OK;
}
