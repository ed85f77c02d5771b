/*
 * The fast kernel. OpenMP threads take contiguous ranges of tiles of the local
 * bank; per tile, the similarity block kernel scores all queries of the batch
 * (SGEMM for dot/cosine/euclidean), the scores become weights in place with an
 * online (running-maximum) softmax or the separation's rule, and the weights
 * are projected onto the tile's values with a second SGEMM that accumulates
 * straight into the records' z vectors. Each step reads the bank once, and the
 * N x B score matrix is never stored: only a B x tile block per thread.
 * Thread partials are merged in thread order, so results are deterministic.
 */
#include <cblas.h>
#include <float.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/kernel.h"

/* Rows per tile: for a few queries, small enough (32 KiB) that a tile read
 * from memory for scoring is still in L1 for its projection; for many, up to
 * 512 rows so that the two SGEMMs run at full speed. */
static int64_t tile_rows(int64_t K, int64_t O, int64_t B) {
    int64_t bytes = B <= 2 * UHN_SMALL_BATCH ? (32 << 10) : (1536 << 10);
    int64_t tn = bytes / (4 * (K + O));
    if (tn > 512) tn = 512;
    return tn < 4 ? 4 : tn;
}

/* One thread's buffers, allocated once per uhn_recall and reused every step
 * (fresh pages are slow to touch; see uhn_alloc). */
typedef struct work {
    float *St;       /* Bmax x tn scores, then weights */
    uhn_scratch scr; /* 3 buffers of tn * max(K, Bmax) floats */
    void *recs;      /* this thread's records (thread 0 uses the caller's) */
    double *rsum;    /* uhn score pass: this thread's sums of r */
    int64_t *nexact; /* and counts of exact matches */
} work;

struct uhn_kws {
    int nt;
    int64_t tn, Bmax;
    size_t rec_bytes;
    work *w;
};

void uhn_kws_destroy(uhn_kws *ws) {
    if (!ws) return;
    for (int t = 0; ws->w && t < ws->nt; ++t) {
        work *w = &ws->w[t];
        uhn_free(w->St), uhn_free(w->scr.a), uhn_free(w->scr.b), uhn_free(w->scr.c);
        uhn_free(w->recs), uhn_free(w->rsum), uhn_free(w->nexact);
    }
    free(ws->w);
    free(ws);
}

int uhn_kws_create(uhn_ctx *ctx, const uhn_bank *bk, int64_t Bmax, size_t rec_bytes,
                   uhn_kws **out) {
    *out = NULL;
    uhn_kws *ws = calloc(1, sizeof *ws);
    if (!ws) return uhn_fail(ctx, UHN_ENOMEM, "out of memory for the kernel workspace");
    ws->nt = ctx->nthreads;
    ws->Bmax = Bmax;
    ws->tn = tile_rows(bk->K, bk->O, Bmax);
    ws->rec_bytes = rec_bytes;
    ws->w = calloc((size_t)ws->nt, sizeof *ws->w);
    int ok = ws->w != NULL;
    const int64_t tn = ws->tn, wide = bk->K > Bmax ? bk->K : Bmax;
    for (int t = 0; ok && t < ws->nt; ++t) {
        work *w = &ws->w[t];
        w->St = uhn_alloc((size_t)(Bmax * tn) * sizeof(float));
        w->scr.a = uhn_alloc((size_t)(tn * wide) * sizeof(float));
        w->scr.b = uhn_alloc((size_t)(tn * wide) * sizeof(float));
        w->scr.c = uhn_alloc((size_t)(tn * wide) * sizeof(float));
        w->recs = t > 0 ? uhn_alloc((size_t)Bmax * rec_bytes) : NULL;
        w->rsum = uhn_alloc((size_t)Bmax * sizeof(double));
        w->nexact = uhn_alloc((size_t)Bmax * sizeof(int64_t));
        ok = w->St && w->scr.a && w->scr.b && w->scr.c && (t == 0 || w->recs) && w->rsum &&
             w->nexact;
    }
    if (!ok) {
        uhn_kws_destroy(ws);
        return uhn_fail(ctx, UHN_ENOMEM, "out of memory for the kernel workspace (%lld queries)",
                        (long long)Bmax);
    }
    *out = ws;
    return UHN_OK;
}

static int is_dot(const uhn_step *st) {
    return !strcmp(uhn_similarity_name(st->p->sim), "dot");
}

/* Sums over the cue of each row, per query (uhn dot score): M . X^T or row sums. */
static const float *cue_row_sums(const uhn_step *st, const uhn_tile *t, uhn_scratch *scr,
                                 int64_t *ld) {
    const uhn_qblock *qb = st->qb;
    if (!qb->mask) {
        *ld = 0;
        return t->sum;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)qb->B, (int)t->tn, (int)t->K, 1.0f,
                qb->mask, (int)t->K, t->x, (int)t->K, 0.0f, scr->c, (int)t->tn);
    *ld = t->tn;
    return scr->c;
}

/*
 * Scores of the tile for every query: s (raw; beta comes later) or r (uhn); in the
 * uhn mode, distances that round-off leaves near zero are recomputed with the
 * reference definition so that exact matches are exact.
 */
static void tile_scores(const uhn_step *st, const uhn_tile *t, float *St, uhn_scratch *scr) {
    const uhn_params *p = st->p;
    st->p->sim->block(t, st->qb, St, scr);
    if (p->score == UHN_SCORE_RAW) return; /* beta is applied by tile_weights */
    unsigned flags = uhn_similarity_flags(p->sim);
    int dot = is_dot(st);
    int64_t ld = 0;
    const float *sx = dot ? cue_row_sums(st, t, scr, &ld) : NULL;
    for (int64_t j = 0; j < st->B; ++j) {
        float *s = St + j * t->tn;
        for (int64_t i = 0; i < t->tn; ++i) {
            double si = s[i];
            /* A distance within round-off of 0 (relative to the size of the
             * terms it came from) is recomputed exactly: an exact match must be
             * exact. */
            double scale =
                1.0 + t->norm2[i] + st->qb->qnorm2[j] + fabs(t->sum[i]) + fabs(st->qb->qsum[j]);
            if ((flags & UHN_SIM_DISTANCE) && -si < 1e-5 * scale)
                si = uhn_similarity_ref(p->sim, t->x + i * t->K, st->v + j * st->K,
                                        uhn_step_cue(st, j), t->K);
            int zero;
            double r = uhn_r_of_s(flags, dot, si, dot ? sx[j * ld + i] : 0, st->qb->qsum[j], &zero);
            /* Exact matches are flagged with -1 (r itself is never negative). */
            s[i] = zero ? -1.0f : (float)r;
        }
    }
}

int uhn_kernel_fast_rsum(uhn_ctx *ctx, const uhn_step *st, double *rsum, int64_t *nexact) {
    (void)ctx;
    const uhn_bank *bk = st->bank;
    uhn_kws *ws = st->ws;
    if (bk->n_local == 0) return UHN_OK;
    const int64_t tn = ws->tn, ntiles = (bk->n_local + tn - 1) / tn;
#pragma omp parallel num_threads(ws->nt)
    {
        work *me = &ws->w[omp_get_thread_num()];
        memset(me->rsum, 0, (size_t)st->B * sizeof(double));
        memset(me->nexact, 0, (size_t)st->B * sizeof(int64_t));
#pragma omp for schedule(static)
        for (int64_t tile = 0; tile < ntiles; ++tile) {
            int64_t i0 = tile * tn;
            uhn_tile t = {bk->keys + i0 * bk->K, bk->key_norm2 + i0, bk->key_sum + i0,
                          (bk->n_local - i0 < tn ? bk->n_local - i0 : tn), bk->K};
            tile_scores(st, &t, me->St, &me->scr);
            for (int64_t j = 0; j < st->B; ++j)
                for (int64_t i = 0; i < t.tn; ++i) {
                    float r = me->St[j * t.tn + i];
                    if (r < 0) /* an exact match (see tile_scores) */
                        me->nexact[j] += 1;
                    else
                        me->rsum[j] += r;
                }
        }
    }
    for (int t = 0; t < ws->nt; ++t) /* thread order: deterministic sums */
        for (int64_t j = 0; j < st->B; ++j)
            rsum[j] += ws->w[t].rsum[j], nexact[j] += ws->w[t].nexact[j];
    return UHN_OK;
}

/* (s / s*)^p for a ratio in [0, 1]: the common exponents without a call. */
static inline double pow_ratio(double x, double p) {
    return p == 1 ? x : p == 2 ? x * x : pow(x, p);
}

/*
 * Weights of one query over one tile, in place in h[0..tn) (which holds the
 * scores before beta); updates its record. No weight is formed from beta * s
 * or h^p: the softmax exponent is beta * (s - s*) and the power weight
 * (s / s*)^p, relative to the running maximum s* (r->best), so both are exact
 * for any finite beta and p; log is ln beta + ln s.
 */
static void tile_weights(const uhn_step *st, int64_t j, float *h, int64_t tn, int64_t g0,
                         const float *Y, uhn_rec *r) {
    const uhn_params *p = st->p;
    const int64_t O = st->bank->O;
    const double beta = p->beta;
    if (p->score == UHN_SCORE_UHN) {
        if (st->nexact[j] > 0) { /* spec §2: 1 on exact matches, separation skipped */
            for (int64_t i = 0; i < tn; ++i) {
                h[i] = h[i] < 0 ? 1.0f : 0.0f;
                r->acc += h[i];
                uhn_rec_linear_extremes(r, h[i], g0 + i);
            }
            return;
        }
        for (int64_t i = 0; i < tn; ++i) h[i] = (float)uhn_h_of_r(1.0, h[i], st->rsum[j]);
    }
    if (st->kind == UHN_RED_POW) /* h^p needs h >= 0: flag the first offender, weight 0 */
        for (int64_t i = 0; i < tn; ++i)
            if (h[i] < 0) uhn_rec_bad(r, g0 + i, beta * h[i]), h[i] = 0;
    int64_t imax = 0;
    for (int64_t i = 1; i < tn; ++i)
        if (h[i] > h[imax]) imax = i;
    switch (st->kind) {
    case UHN_RED_LSE:
    case UHN_RED_POW: {
        if (r->idx < 0 || h[imax] > r->best) { /* a new running maximum */
            float scale = r->idx < 0 ? 0.0f : (float)uhn_rec_rel(r, r->best, h[imax]);
            float *z = uhn_rec_z(r);
            r->acc *= scale;
            for (int64_t k = 0; k < O; ++k) z[k] *= scale;
            r->best = h[imax], r->idx = g0 + imax;
        }
        const double smax = r->best;
        double s = 0;
        if (st->kind == UHN_RED_LSE) {
#pragma omp simd reduction(+ : s)
            for (int64_t i = 0; i < tn; ++i) {
                h[i] = expf((float)(beta * (h[i] - smax)));
                s += h[i];
            }
        } else {
            const double pw = r->p;
            for (int64_t i = 0; i < tn; ++i) {
                h[i] = (float)pow_ratio(smax > 0 ? h[i] / smax : 0.0, pw);
                s += h[i];
            }
        }
        r->acc += s;
        break;
    }
    case UHN_RED_LINEAR: {
        double s = 0;
        for (int64_t i = 0; i < tn; ++i) {
            int bad;
            double gv = uhn_rule_g(st->rule, st->param, beta, h[i], &bad);
            if (bad) uhn_rec_bad(r, g0 + i, beta * h[i]);
            h[i] = (float)gv;
            s += h[i];
            uhn_rec_linear_extremes(r, h[i], g0 + i);
        }
        r->acc += s;
        break;
    }
    case UHN_RED_MAX: /* the order of beta * s is the order of s */
        if (r->idx < 0 || h[imax] > r->best) {
            r->best = h[imax], r->idx = g0 + imax, r->acc = 1;
            memcpy(uhn_rec_z(r), Y + imax * O, (size_t)O * sizeof(float));
        }
        memset(h, 0, (size_t)tn * sizeof(float));
        break;
    case UHN_RED_TOPK: /* slots keep s; beta enters as exp(beta (s - s_1)) at the end */
        for (int64_t i = 0; i < tn; ++i) uhn_rec_topk_offer(r, h[i], g0 + i, Y + i * O);
        memset(h, 0, (size_t)tn * sizeof(float));
        break;
    }
}

/* z_j += sum_i G[j][i] y_i for the tile: one SGEMM into the strided records. */
static void tile_project(const uhn_step *st, const float *G, int64_t tn, const float *Y,
                         void *recs) {
    const int64_t O = st->bank->O, B = st->B;
    if (st->kind == UHN_RED_LSE || st->kind == UHN_RED_LINEAR || st->kind == UHN_RED_POW) {
        float *Z = uhn_rec_z(uhn_rec_at(recs, st->rec_bytes, 0));
        int ldz = (int)(st->rec_bytes / sizeof(float));
        if (B <= UHN_SMALL_BATCH) {
            for (int64_t j = 0; j < B; ++j) {
                float *z = uhn_rec_z(uhn_rec_at(recs, st->rec_bytes, j));
                const float *g = G + j * tn;
                int64_t i = 0;
                for (; i + 4 <= tn; i += 4) { /* z is loaded and stored once per 4 rows */
                    const float *y0 = Y + i * O, *y1 = y0 + O, *y2 = y1 + O, *y3 = y2 + O;
                    const float g0 = g[i], g1 = g[i + 1], g2 = g[i + 2], g3 = g[i + 3];
#pragma omp simd
                    for (int64_t k = 0; k < O; ++k)
                        z[k] += g0 * y0[k] + g1 * y1[k] + g2 * y2[k] + g3 * y3[k];
                }
                for (; i < tn; ++i) {
                    const float gi = g[i], *y = Y + i * O;
#pragma omp simd
                    for (int64_t k = 0; k < O; ++k) z[k] += gi * y[k];
                }
            }
        } else
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)B, (int)O, (int)tn, 1.0f, G,
                        (int)tn, Y, (int)O, 1.0f, Z, ldz);
        return;
    }
    /* MAX/TOPK batches: only exact-match queries of the uhn mode carry weights. */
    for (int64_t j = 0; j < B; ++j) {
        uhn_rec *r = uhn_rec_at(recs, st->rec_bytes, j);
        if (r->kind != UHN_RED_LINEAR) continue;
        for (int64_t i = 0; i < tn; ++i)
            if (G[j * tn + i] != 0)
                cblas_saxpy((int)O, G[j * tn + i], Y + i * O, 1, uhn_rec_z(r), 1);
    }
}

int uhn_kernel_fast(uhn_ctx *ctx, const uhn_step *st, void *recs) {
    (void)ctx;
    const uhn_bank *bk = st->bank;
    uhn_kws *ws = st->ws;
    if (bk->n_local == 0) return UHN_OK;
    const int64_t tn = ws->tn, ntiles = (bk->n_local + tn - 1) / tn;
    ws->w[0].recs = recs;
    for (int t = 1; t < ws->nt; ++t) memcpy(ws->w[t].recs, recs, (size_t)st->B * st->rec_bytes);
#pragma omp parallel num_threads(ws->nt)
    {
        work *me = &ws->w[omp_get_thread_num()];
#pragma omp for schedule(static)
        for (int64_t tile = 0; tile < ntiles; ++tile) {
            int64_t i0 = tile * tn;
            uhn_tile t = {bk->keys + i0 * bk->K, bk->key_norm2 + i0, bk->key_sum + i0,
                          (bk->n_local - i0 < tn ? bk->n_local - i0 : tn), bk->K};
            const float *Y = bk->values + i0 * bk->O;
            tile_scores(st, &t, me->St, &me->scr);
            for (int64_t j = 0; j < st->B; ++j)
                tile_weights(st, j, me->St + j * t.tn, t.tn, bk->row0 + i0, Y,
                             uhn_rec_at(me->recs, st->rec_bytes, j));
            tile_project(st, me->St, t.tn, Y, me->recs);
        }
    }
    for (int t = 1; t < ws->nt; ++t)
        for (int64_t j = 0; j < st->B; ++j)
            uhn_rec_merge(uhn_rec_at(ws->w[t].recs, st->rec_bytes, j),
                          uhn_rec_at(recs, st->rec_bytes, j));
    ws->w[0].recs = NULL;
    return UHN_OK;
}
