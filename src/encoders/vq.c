/*
 * The vq encoder (spec §9): an image is cut into P = (H/p)(W/p)
 * non-overlapping p×p patches (all channels; patches in row-major order of the
 * patch grid, a patch's L = p·p·C values row-major with channels last); patch
 * i becomes the one-hot row of its nearest codebook entry e_j (squared L2,
 * ties to the lowest index), so c is P×J one-hot, row-major (D = P·J); the
 * decode is linear, patch i = Σ_j c_ij e_j.
 *
 * The codebook is fitted by k-means over every patch of the training set, at
 * any rank count with the same bits:
 *   - patches are numbered globally, g = (image row)·P + i, and each rank
 *     handles the patches of its own rows;
 *   - k-means++ seeding, distributed and exact: the weight of a patch is its
 *     squared distance to the nearest centre chosen so far in 64-bit fixed
 *     point (units of 2^-24, so a patch that duplicates a centre weighs 0);
 *     centre t is the patch where a target T in [0, W) falls in the global
 *     prefix sums of the weights (W their total, the rank offsets from
 *     MPI_Exscan), with T = ⌊u·W / 2^64⌋ and u = uhn_rng_u64(seed,
 *     UHN_STREAM_ENCODER_VQ, t, 0); centre 0, and any centre when W = 0 (every
 *     patch equals a centre), is patch ⌊u·N / 2^64⌋ of the N patches. The
 *     owner sends the patch to all (MPI_Allreduce of zeros and one copy, exact);
 *   - Lloyd iterations: each rank assigns its patches (the same distance
 *     kernel as encode) and sums them per entry in 64-bit fixed point
 *     (2^-32 units, as the mean image); sums, counts, the number of changed
 *     assignments and the objective (2^-24 units) are merged with one
 *     MPI_Allreduce of integers, which is exact in any order. Entry j becomes
 *     its sum over its count; an entry that no patch chose keeps its previous
 *     value. The loop stops when no assignment changes or after
 *     VQ_MAX_ITERATIONS updates;
 *   - the model records the iterations (updates made), whether it converged,
 *     the objective Σ min_j ‖x − e_j‖² of the final codebook (over all
 *     training patches) and the seeds' global patch indices.
 * The distance kernel sums (x_l − e_jl)² over l in order, for every entry at
 * once (the codebook transposed, so the loop over j vectorises); one patch's
 * result does not depend on the others, hence not on the rank count.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>

#include "encoders/encoder_impl.h"
#include "uhn/rng.h"

enum { VQ_MAX_ITERATIONS = 100 };
#define VQ_SUM_UNITS 4294967296.0 /* 2^32: patch sums, as the mean image's */
#define VQ_OBJ_UNITS 16777216.0   /* 2^24: squared distances (objective, seeding weights) */

/* The sizes of a vq encoder. */
typedef struct vq_dims {
    int64_t p, C, W, gw, P, L, J;
} vq_dims;

static vq_dims dims_of(const uhn_encoder *e) {
    vq_dims d;
    d.p = e->cfg.patch;
    d.C = e->cfg.channels;
    d.W = e->cfg.width;
    d.gw = e->cfg.width / d.p;
    d.P = (e->cfg.height / d.p) * d.gw;
    d.L = d.p * d.p * d.C;
    d.J = e->cfg.codes;
    return d;
}

/* Patch i of image x (K floats) into out (L float64). */
static void gather_patch(const vq_dims *d, const float *x, int64_t i, double *out) {
    int64_t gi = i / d->gw, gj = i % d->gw, row = d->p * d->C;
    for (int64_t r = 0; r < d->p; ++r) {
        const float *src = x + ((gi * d->p + r) * d->W + gj * d->p) * d->C;
        for (int64_t k = 0; k < row; ++k) out[r * row + k] = (double)src[k];
    }
}

/* The nearest entry of a patch (ties: the lowest index) and its squared
 * distance: dist[j] = Σ_l (x_l − e_jl)², l in order, from the transposed
 * codebook ct [L][J] (the loop over j vectorises); dist is J values of
 * scratch. */
static int64_t nearest(const double *restrict ct, int64_t J, int64_t L, const double *restrict x,
                       double *restrict dist, double *best_out) {
    for (int64_t j = 0; j < J; ++j) dist[j] = 0.0;
    for (int64_t l = 0; l < L; ++l) {
        const double xl = x[l], *c = ct + l * J;
        for (int64_t j = 0; j < J; ++j) {
            double t = xl - c[j];
            dist[j] += t * t;
        }
    }
    int64_t best = 0;
    for (int64_t j = 1; j < J; ++j)
        if (dist[j] < dist[best]) best = j;
    *best_out = dist[best];
    return best;
}

/* A non-negative value to the nearest integer (halves up): llround for
 * v ≥ 0 without the library call, exact for v < 2^52. */
static inline int64_t fix_round(double v) {
    return (int64_t)(v + 0.5);
}

/* The transposed codebook ct [L][J] from cb [J][L]. */
static void transpose(const double *cb, int64_t J, int64_t L, double *ct) {
    for (int64_t j = 0; j < J; ++j)
        for (int64_t l = 0; l < L; ++l) ct[l * J + j] = cb[j * L + l];
}

/* ⌊u·n / 2^64⌋: a uniform index in [0, n) from a 64-bit word. */
static int64_t scale_u64(uint64_t u, int64_t n) {
    return (int64_t)(((unsigned __int128)u * (uint64_t)n) >> 64);
}

/* The k-means state of one rank. */
typedef struct vq_fit {
    vq_dims d;
    float *pt;         /* the local patches [nl][L], gathered once (exact copies) */
    int64_t nl, g0, N; /* local patches, the global index of the first, all patches */
    double *cb, *ct, *patch, *dist;
    int64_t *w;      /* seeding: local weights (fixed point) */
    int32_t *assign; /* Lloyd: local assignments */
    int64_t *acc;    /* Lloyd: sums [J][L], counts [J], changes, objective */
} vq_fit;

static void vq_fit_free(vq_fit *f) {
    free(f->pt);
    free(f->dist);
    free(f->ct);
    free(f->patch);
    free(f->w);
    free(f->assign);
    free(f->acc);
}

/* Local patch i as float64 into f->patch. */
static const double *local_patch(vq_fit *f, int64_t i) {
    const float *src = f->pt + i * f->d.L;
    for (int64_t l = 0; l < f->d.L; ++l) f->patch[l] = (double)src[l];
    return f->patch;
}

/* Global patch g becomes entry t (and seeds[t] = g): the owner's copy to all. */
static int pick(uhn_ctx *ctx, vq_fit *f, int64_t g, int64_t t, int64_t *seeds) {
    const int64_t L = f->d.L;
    double *c = f->cb + t * L;
    memset(c, 0, (size_t)L * sizeof *c);
    if (g >= f->g0 && g < f->g0 + f->nl)
        memcpy(c, local_patch(f, g - f->g0), (size_t)L * sizeof *c);
    UHN_MPI(ctx, MPI_Allreduce(MPI_IN_PLACE, c, (int)L, MPI_DOUBLE, MPI_SUM, ctx->comm));
    seeds[t] = g;
    return UHN_OK;
}

/* Lowers the local weights with the distances to entry t. */
static void lower_weights(vq_fit *f, int64_t t) {
    const int64_t L = f->d.L;
    const double *c = f->cb + t * L;
    for (int64_t i = 0; i < f->nl; ++i) {
        const float *x = f->pt + i * L;
        double s = 0.0;
        for (int64_t l = 0; l < L; ++l) {
            double u = (double)x[l] - c[l];
            s += u * u;
        }
        int64_t q = fix_round(s * VQ_OBJ_UNITS);
        if (q < f->w[i]) f->w[i] = q;
    }
}

/* k-means++ seeding (see the file's comment). Collective. */
static int seed_entries(uhn_ctx *ctx, vq_fit *f, uint64_t seed, int64_t *seeds) {
    const int64_t J = f->d.J;
    for (int64_t i = 0; i < f->nl; ++i) f->w[i] = INT64_MAX;
    for (int64_t t = 0; t < J; ++t) {
        uint64_t u = uhn_rng_u64(seed, UHN_STREAM_ENCODER_VQ, (uint64_t)t, 0);
        int64_t mine = 0, before = 0, total = 0, g = -1;
        if (t > 0) {
            for (int64_t i = 0; i < f->nl; ++i) mine += f->w[i];
            UHN_MPI(ctx, MPI_Exscan(&mine, &before, 1, MPI_INT64_T, MPI_SUM, ctx->comm));
            if (ctx->rank == 0) before = 0; /* MPI_Exscan leaves rank 0's undefined */
            UHN_MPI(ctx, MPI_Allreduce(&mine, &total, 1, MPI_INT64_T, MPI_SUM, ctx->comm));
        }
        if (total == 0) {
            g = scale_u64(u, f->N);
        } else {
            int64_t target = scale_u64(u, total), found = -1;
            if (target >= before && target < before + mine) {
                int64_t run = before;
                for (int64_t i = 0; i < f->nl; ++i) {
                    if (target < run + f->w[i]) {
                        found = f->g0 + i;
                        break;
                    }
                    run += f->w[i];
                }
            }
            UHN_MPI(ctx, MPI_Allreduce(&found, &g, 1, MPI_INT64_T, MPI_MAX, ctx->comm));
            UHN_ASSERT(ctx, g >= 0 && g < f->N);
        }
        UHN_CALL(pick(ctx, f, g, t, seeds));
        lower_weights(f, t);
    }
    return UHN_OK;
}

/* One assignment pass over the local patches against f->cb, its sums merged
 * over all ranks into f->acc. Collective. */
static int assign_pass(uhn_ctx *ctx, vq_fit *f) {
    const int64_t J = f->d.J, L = f->d.L, n_acc = J * L + J + 2;
    int64_t *sums = f->acc, *counts = f->acc + J * L, *changes = counts + J, *obj = changes + 1;
    memset(f->acc, 0, (size_t)n_acc * sizeof *f->acc);
    transpose(f->cb, J, L, f->ct);
    for (int64_t i = 0; i < f->nl; ++i) {
        local_patch(f, i);
        double best = 0;
        int64_t j = nearest(f->ct, J, L, f->patch, f->dist, &best);
        *changes += f->assign[i] != (int32_t)j;
        f->assign[i] = (int32_t)j;
        *obj += fix_round(best * VQ_OBJ_UNITS);
        counts[j] += 1;
        int64_t *s = sums + j * L;
        for (int64_t l = 0; l < L; ++l) s[l] += fix_round(f->patch[l] * VQ_SUM_UNITS);
    }
    double t0 = uhn_wtime();
    UHN_MPI(ctx, MPI_Allreduce(MPI_IN_PLACE, f->acc, (int)n_acc, MPI_INT64_T, MPI_SUM, ctx->comm));
    ctx->timers.reduce += uhn_wtime() - t0;
    return UHN_OK;
}

/* Entry j = its merged sum / count; an empty entry keeps its value. */
static void update_entries(vq_fit *f) {
    const int64_t J = f->d.J, L = f->d.L;
    const int64_t *sums = f->acc, *counts = f->acc + J * L;
    for (int64_t j = 0; j < J; ++j)
        if (counts[j] > 0)
            for (int64_t l = 0; l < L; ++l)
                f->cb[j * L + l] = ((double)sums[j * L + l] / VQ_SUM_UNITS) / (double)counts[j];
}

static int fit(uhn_ctx *ctx, uhn_encoder *e, const float *x, int64_t n_local, int64_t n_total) {
    vq_fit f;
    memset(&f, 0, sizeof f);
    f.d = dims_of(e);
    const int64_t J = f.d.J, L = f.d.L, P = f.d.P;
    int st = UHN_OK;
    if (n_total > INT64_MAX / P || n_total * P >= ((int64_t)1 << 31) ||
        n_total * P * L > ((int64_t)1 << 38))
        st = uhn_fail(ctx, UHN_EINPUT,
                      "vq: %lld images of %lld patches of %lld values exceed the fixed-point "
                      "sums of the k-means (fewer than 2^31 patches and 2^38 patch values)",
                      (long long)n_total, (long long)P, (long long)L);
    else if (J > n_total * P)
        st = uhn_fail_param(ctx, UHN_EINPUT, "codes",
                            "codes J = %lld exceeds the %lld patches of the training set (%lld "
                            "images of %lld patches)",
                            (long long)J, (long long)(n_total * P), (long long)n_total,
                            (long long)P);
    UHN_CALL(uhn_agree(ctx, st));
    f.nl = n_local * P;
    f.N = n_total * P;
    int64_t first_row = 0;
    UHN_MPI(ctx, MPI_Exscan(&n_local, &first_row, 1, MPI_INT64_T, MPI_SUM, ctx->comm));
    if (ctx->rank == 0) first_row = 0;
    f.g0 = first_row * P;
    size_t nl = (size_t)(f.nl > 0 ? f.nl : 1);
    e->codebook = f.cb = calloc((size_t)(J * L), sizeof *f.cb);
    e->vq_seeds = malloc((size_t)J * sizeof *e->vq_seeds);
    f.ct = malloc((size_t)(J * L) * sizeof *f.ct);
    f.patch = malloc((size_t)L * sizeof *f.patch);
    f.w = malloc(nl * sizeof *f.w);
    f.assign = malloc(nl * sizeof *f.assign);
    f.acc = malloc((size_t)(J * L + J + 2) * sizeof *f.acc);
    f.dist = malloc((size_t)J * sizeof *f.dist);
    f.pt = malloc(nl * (size_t)L * sizeof *f.pt);
    if (!f.cb || !e->vq_seeds || !f.ct || !f.patch || !f.w || !f.assign || !f.acc || !f.pt ||
        !f.dist)
        st = uhn_fail(ctx, UHN_ENOMEM, "vq: out of memory for the k-means of %lld patches",
                      (long long)f.nl);
    st = uhn_agree(ctx, st);
    for (int64_t i = 0; st == UHN_OK && i < f.nl; ++i) {
        gather_patch(&f.d, x + (i / P) * P * L, i % P, f.patch);
        for (int64_t l = 0; l < L; ++l) f.pt[i * L + l] = (float)f.patch[l];
    }
    double t0 = uhn_wtime();
    if (st == UHN_OK) st = uhn_agree(ctx, seed_entries(ctx, &f, e->cfg.seed, e->vq_seeds));
    if (st == UHN_OK && ctx->verbose >= 2 && ctx->rank == 0)
        fprintf(stderr, "vq: k-means++ seeding of %lld entries over %lld patches: %.2f s\n",
                (long long)J, (long long)f.N, uhn_wtime() - t0);
    t0 = uhn_wtime();
    for (int64_t i = 0; i < f.nl; ++i) f.assign[i] = -1;
    int64_t it = 0, *changes = f.acc + J * L + J;
    if (st == UHN_OK) st = uhn_agree(ctx, assign_pass(ctx, &f));
    while (st == UHN_OK && *changes > 0 && it < VQ_MAX_ITERATIONS) {
        update_entries(&f);
        ++it;
        st = uhn_agree(ctx, assign_pass(ctx, &f));
        if (st == UHN_OK && ctx->verbose >= 2 && ctx->rank == 0)
            fprintf(stderr,
                    "vq: iteration %lld: %lld of %lld assignments changed, objective %.6f "
                    "(%.2f s per iteration)\n",
                    (long long)it, (long long)*changes, (long long)f.N,
                    (double)changes[1] / VQ_OBJ_UNITS, (uhn_wtime() - t0) / (double)it);
    }
    if (st == UHN_OK) {
        e->vq_iterations = it;
        e->vq_converged = *changes == 0;
        e->vq_objective = (double)changes[1] / VQ_OBJ_UNITS;
    }
    vq_fit_free(&f);
    return st;
}

/* The transposed codebook of encode (derived, as random's R). */
static int prepare(uhn_ctx *ctx, uhn_encoder *e) {
    vq_dims d = dims_of(e);
    free(e->codebook_t);
    e->codebook_t = malloc((size_t)(d.J * d.L) * sizeof *e->codebook_t);
    UHN_CALL(uhn_agree(ctx, e->codebook_t
                                ? UHN_OK
                                : uhn_fail(ctx, UHN_ENOMEM, "vq: out of memory for the codebook")));
    transpose(e->codebook, d.J, d.L, e->codebook_t);
    e->work_len = d.L + d.J; /* a patch and its distances */
    return UHN_OK;
}

static void encode(const uhn_encoder *e, const float *x, float *c, double *work) {
    vq_dims d = dims_of(e);
    memset(c, 0, (size_t)e->D * sizeof *c);
    for (int64_t i = 0; i < d.P; ++i) {
        double best;
        gather_patch(&d, x, i, work);
        c[i * d.J + nearest(e->codebook_t, d.J, d.L, work, work + d.L, &best)] = 1.0f;
    }
}

static void decode(const uhn_encoder *e, const float *c, float *x, double *work) {
    vq_dims d = dims_of(e);
    int64_t row = d.p * d.C;
    for (int64_t i = 0; i < d.P; ++i) {
        for (int64_t l = 0; l < d.L; ++l) work[l] = 0.0;
        for (int64_t j = 0; j < d.J; ++j) {
            double a = (double)c[i * d.J + j];
            const double *ej = e->codebook + j * d.L;
            for (int64_t l = 0; l < d.L; ++l) work[l] += a * ej[l];
        }
        int64_t gi = i / d.gw, gj = i % d.gw;
        for (int64_t r = 0; r < d.p; ++r) {
            float *dst = x + ((gi * d.p + r) * d.W + gj * d.p) * d.C;
            for (int64_t k = 0; k < row; ++k) dst[k] = (float)work[r * row + k];
        }
    }
}

/* ------------------------------------------------------------------------ */
/* The model file: codebook (the arrays table), the fit's record (hooks)     */

static int save(const uhn_encoder *e, const enc_out *out) {
    if (e->vq_iterations >= 0) {
        UHN_CALL(enc_out_attr_int(out, "", "iterations", e->vq_iterations));
        UHN_CALL(enc_out_attr_int(out, "", "converged", e->vq_converged));
    }
    if (!isnan(e->vq_objective))
        UHN_CALL(enc_out_attr_double(out, "", "objective", e->vq_objective));
    if (e->vq_seeds) {
        int64_t J = e->cfg.codes;
        UHN_CALL(enc_out_dataset(out, "seeds", UHN_H5_INT64, 1, &J, e->vq_seeds,
                                 "the k-means++ seeds: global indices g = image * P + patch of "
                                 "the training patches that started each entry",
                                 "1", "code"));
    }
    return UHN_OK;
}

/* The fit's record is optional (a codebook made elsewhere has none), but
 * when present it must be well formed. */
static int load(const enc_in *in, uhn_encoder *e) {
    int64_t v = 0;
    double o = 0;
    if (enc_in_attr_int(in, "/", "iterations", &v) == 0) e->vq_iterations = v;
    if (enc_in_attr_int(in, "/", "converged", &v) == 0) e->vq_converged = v;
    if (enc_in_attr_double(in, "/", "objective", &o) == 0) e->vq_objective = o;
    if (enc_in_exists(in, "seeds")) {
        int64_t J = e->cfg.codes;
        void *buf = NULL;
        UHN_CALL(enc_in_array(in, "seeds", UHN_H5_INT64, 1, &J, &buf));
        e->vq_seeds = buf;
    }
    return UHN_OK;
}

static int bcast(uhn_ctx *ctx, uhn_encoder *e) {
    struct {
        int64_t iterations, converged, has_seeds;
        double objective;
    } rec = {e->vq_iterations, e->vq_converged, e->vq_seeds != NULL, e->vq_objective};
    UHN_MPI(ctx, MPI_Bcast(&rec, (int)sizeof rec, MPI_BYTE, 0, ctx->comm));
    e->vq_iterations = rec.iterations;
    e->vq_converged = rec.converged;
    e->vq_objective = rec.objective;
    if (rec.has_seeds)
        UHN_CALL(uhn_encoder_bcast_new(ctx, (void **)&e->vq_seeds, e->cfg.codes,
                                       sizeof *e->vq_seeds, MPI_INT64_T));
    return UHN_OK;
}

static void describe(const uhn_encoder *e, char *buf, size_t len) {
    int n = snprintf(buf, len, ", p = %lld, J = %lld", (long long)e->cfg.patch,
                     (long long)e->cfg.codes);
    if (e->vq_iterations >= 0 && n >= 0 && (size_t)n < len)
        snprintf(buf + n, len - (size_t)n, "; k-means: %lld iterations, %s, objective %.6g",
                 (long long)e->vq_iterations, e->vq_converged ? "converged" : "not converged",
                 e->vq_objective);
}

static const enc_array arrays[] = {
    {"codebook",
     offsetof(uhn_encoder, codebook),
     2,
     {ENC_EXT_CODES, ENC_EXT_PATCH},
     "the J codebook entries e_j by k-means, one per row; an entry is a p x p patch, row-major "
     "with channels last",
     "pixel value",
     "code,patch_value"},
};

const uhn_encoder_ops uhn_encoder_vq = {
    .name = "vq",
    .help = "c = one-hot nearest codebook entry of each p x p patch (D = P J, P = HW/p^2); "
            "codebook by k-means over every training patch (k-means++ from --seed)",
    .flags = ENC_USES_PATCH | ENC_USES_SEED,
    .arrays = arrays,
    .narrays = 1,
    .fit = fit,
    .prepare = prepare,
    .encode = encode,
    .decode = decode,
    .save = save,
    .load = load,
    .bcast = bcast,
    .describe = describe,
};
