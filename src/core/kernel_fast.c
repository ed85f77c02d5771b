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

/* Rows per tile. A few queries: 256 KiB, L2-resident for the projection of the
 * rows that keep weight (at 32 KiB, the per-tile overhead cost 5 % of a step of
 * one query). Many: about 6 MiB of keys and values (1000 rows of Fashion-MNIST),
 * so that the query block OpenBLAS packs for every tile's score product is
 * amortised over many rows (tiles of 250 rows ran the product 10 % slower);
 * the B x tn scores stay in L3. */
static int64_t tile_rows(int64_t K, int64_t O, int64_t B) {
    int64_t bytes = B <= 2 * UHN_SMALL_BATCH ? (256 << 10) : (6 << 20);
    int64_t tn = bytes / (4 * (K + O));
    if (tn > 2048) tn = 2048;
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
    int32_t *idx;    /* tn: rows of a sparse projection */
    int64_t *nzq;    /* Bmax: weights of the tile kept per query */
    int64_t *dq;     /* Bmax: the queries projected densely */
    float *Gd, *Zd;  /* Bmax x tn and Bmax x O: their weights and products */
} work;

struct uhn_kws {
    int nt;
    int64_t tn, Bmax;
    size_t rec_bytes;
    float thr, ln_thr; /* weights below thr of the running maximum are dropped */
    work *w;
};

void uhn_kws_destroy(uhn_kws *ws) {
    if (!ws) return;
    for (int t = 0; ws->w && t < ws->nt; ++t) {
        work *w = &ws->w[t];
        uhn_free(w->St), uhn_free(w->scr.a), uhn_free(w->scr.b), uhn_free(w->scr.c);
        uhn_free(w->recs), uhn_free(w->rsum), uhn_free(w->nexact), uhn_free(w->idx);
        uhn_free(w->nzq), uhn_free(w->dq), uhn_free(w->Gd), uhn_free(w->Zd);
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
    ws->thr = (float)(UHN_SPARSE_EPS / (double)bk->n_global);
    ws->ln_thr = logf(ws->thr);
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
        w->idx = uhn_alloc((size_t)tn * sizeof(int32_t));
        w->nzq = uhn_alloc((size_t)Bmax * sizeof(int64_t));
        w->dq = uhn_alloc((size_t)Bmax * sizeof(int64_t));
        w->Gd = uhn_alloc((size_t)(Bmax * tn) * sizeof(float));
        w->Zd = uhn_alloc((size_t)(Bmax * bk->O) * sizeof(float));
        ok = w->St && w->scr.a && w->scr.b && w->scr.c && (t == 0 || w->recs) && w->rsum &&
             w->nexact && w->idx && w->nzq && w->dq && w->Gd && w->Zd;
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
static int64_t tile_weights(const uhn_step *st, int64_t j, float *h, int64_t tn, int64_t g0,
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
            return tn; /* few exact matches, but counted as dense: rare */
        }
        for (int64_t i = 0; i < tn; ++i) h[i] = (float)uhn_h_of_r(1.0, h[i], st->rsum[j]);
    }
    if (st->kind == UHN_RED_POW) /* h^p needs h >= 0: flag the first offender, weight 0 */
        for (int64_t i = 0; i < tn; ++i)
            if (h[i] < 0) uhn_rec_bad(r, g0 + i, beta * h[i]), h[i] = 0;
    float hmax = h[0];
#pragma omp simd reduction(max : hmax)
    for (int64_t i = 1; i < tn; ++i) hmax = h[i] > hmax ? h[i] : hmax;
    int64_t imax = 0; /* the first row at the maximum: ties go to the lowest index */
    while (h[imax] != hmax && imax + 1 < tn) ++imax;
    switch (st->kind) {
    case UHN_RED_LSE:
    case UHN_RED_POW: {
        if (r->idx < 0 || h[imax] > r->best) { /* a new running maximum */
            float scale = r->idx < 0 ? 0.0f : (float)uhn_rec_rel(r, r->best, h[imax]);
            r->acc *= scale;
            if (st->need_z) {
                float *z = uhn_rec_z(r);
                for (int64_t k = 0; k < O; ++k) z[k] *= scale;
            }
            r->best = h[imax], r->idx = g0 + imax;
        }
        /* Weights relative to the running maximum below thr (ln_thr) are
         * dropped: relative to the final maximum they are smaller still, and
         * all of them together move z by less than UHN_SPARSE_EPS max|y|
         * (see tile_project). */
        const double smax = r->best;
        const float thr = st->ws->thr, ln_thr = st->ws->ln_thr;
        double s = 0;
        int64_t nz = 0;
        if (st->kind == UHN_RED_LSE) {
            /* Most scores lie below the cut smax + ln_thr / beta (rounded
             * down to float, so that no score it keeps is missed): a float
             * comparison decides them; the rest take the exact exponent. */
            double cut = smax + (double)ln_thr / beta;
            float cutf = (float)cut;
            if ((double)cutf > cut) cutf = nextafterf(cutf, -INFINITY);
            int64_t near = 0;
#pragma omp simd reduction(+ : near)
            for (int64_t i = 0; i < tn; ++i) near += h[i] >= cutf;
            if (near == 0) {
                memset(h, 0, (size_t)tn * sizeof(float));
                return 0;
            }
            for (int64_t i = 0; i < tn; ++i) {
                float e = 0.0f;
                if (h[i] >= cutf) {
                    float x = (float)(beta * (h[i] - smax));
                    e = x >= ln_thr ? expf(x) : 0.0f;
                }
                h[i] = e;
                s += e;
                nz += e != 0.0f;
            }
        } else {
            const double pw = r->p;
            for (int64_t i = 0; i < tn; ++i) {
                float e = (float)pow_ratio(smax > 0 ? h[i] / smax : 0.0, pw);
                s += e;
                h[i] = e >= thr ? e : 0.0f;
                nz += h[i] != 0.0f;
            }
        }
        r->acc += s;
        return nz;
    }
    case UHN_RED_LINEAR: {
        double s = 0;
        int64_t nz = 0;
        for (int64_t i = 0; i < tn; ++i) {
            int bad;
            double gv = uhn_rule_g(st->rule, st->param, beta, h[i], &bad);
            if (bad) uhn_rec_bad(r, g0 + i, beta * h[i]);
            h[i] = (float)gv;
            s += h[i];
            nz += h[i] != 0.0f;
            uhn_rec_linear_extremes(r, h[i], g0 + i);
        }
        r->acc += s;
        return nz;
    }
    case UHN_RED_MAX: /* the order of beta * s is the order of s */
        if (r->idx < 0 || h[imax] > r->best) {
            r->best = h[imax], r->idx = g0 + imax, r->acc = 1;
            if (st->need_z) memcpy(uhn_rec_z(r), Y + imax * O, (size_t)O * sizeof(float));
        }
        memset(h, 0, (size_t)tn * sizeof(float));
        return 0;
    case UHN_RED_TOPK: /* slots keep s; beta enters as exp(beta (s - s_1)) at the end */
        for (int64_t i = 0; i < tn; ++i) uhn_rec_topk_offer(r, h[i], g0 + i, Y + i * O);
        memset(h, 0, (size_t)tn * sizeof(float));
        return 0;
    }
    return 0;
}

/* z += sum g[r] y_r over n rows r of the tile: rows idx[0 .. n) of the tile,
 * or rows 0 .. n when idx is NULL; four rows per pass over z. */
static void project_rows(const float *g, const int32_t *idx, int64_t n, const float *Y, int64_t O,
                         float *z) {
#define ROW(a) (idx ? (int64_t)idx[a] : (a))
    int64_t a = 0;
    for (; a + 4 <= n; a += 4) {
        const int64_t r0 = ROW(a), r1 = ROW(a + 1), r2 = ROW(a + 2), r3 = ROW(a + 3);
        const float *y0 = Y + r0 * O, *y1 = Y + r1 * O, *y2 = Y + r2 * O, *y3 = Y + r3 * O;
        const float g0 = g[r0], g1 = g[r1], g2 = g[r2], g3 = g[r3];
#pragma omp simd
        for (int64_t k = 0; k < O; ++k) z[k] += g0 * y0[k] + g1 * y1[k] + g2 * y2[k] + g3 * y3[k];
    }
    for (; a < n; ++a) {
        const float gi = g[ROW(a)], *y = Y + ROW(a) * O;
#pragma omp simd
        for (int64_t k = 0; k < O; ++k) z[k] += gi * y[k];
    }
#undef ROW
}

/* The same over the rows whose weight is not 0 (idx: scratch of tn). */
static void project_sparse(const float *g, int64_t tn, const float *Y, int64_t O, float *z,
                           int32_t *idx) {
    int64_t n = 0;
    for (int64_t i = 0; i < tn; ++i)
        if (g[i] != 0.0f) idx[n++] = (int32_t)i;
    project_rows(g, idx, n, Y, O, z);
}

/*
 * z_j += sum_i G[j][i] y_i for the tile. nzq[j] is the number of query j's
 * weights that are not 0: at the betas of real studies almost every softmax
 * weight is dropped (tile_weights), and gathering the few rows that remain
 * costs a fraction of the dense product. The queries that keep many rows (a
 * dark image scores every memory alike) share one SGEMM: directly into the
 * strided records when every query is dense, else on their gathered weights
 * into scratch, added to their records.
 */
static void tile_project(const uhn_step *st, const float *G, int64_t tn, const float *Y, void *recs,
                         const int64_t *nzq, work *w) {
    const int64_t O = st->bank->O, B = st->B;
    if (st->kind == UHN_RED_LSE || st->kind == UHN_RED_LINEAR || st->kind == UHN_RED_POW) {
        int64_t nd = 0; /* dense queries, listed in w->dq */
        for (int64_t j = 0; j < B; ++j) {
            float *z = uhn_rec_z(uhn_rec_at(recs, st->rec_bytes, j));
            if (nzq[j] * UHN_SPARSE_RATIO <= tn)
                project_sparse(G + j * tn, tn, Y, O, z, w->idx);
            else if (B <= UHN_SMALL_BATCH)
                project_rows(G + j * tn, NULL, tn, Y, O, z);
            else
                w->dq[nd++] = j;
        }
        if (nd == 0) return;
        if (nd == B) {
            float *Z = uhn_rec_z(uhn_rec_at(recs, st->rec_bytes, 0));
            int ldz = (int)(st->rec_bytes / sizeof(float));
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)B, (int)O, (int)tn, 1.0f, G,
                        (int)tn, Y, (int)O, 1.0f, Z, ldz);
            return;
        }
        for (int64_t a = 0; a < nd; ++a)
            memcpy(w->Gd + a * tn, G + w->dq[a] * tn, (size_t)tn * sizeof(float));
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nd, (int)O, (int)tn, 1.0f,
                    w->Gd, (int)tn, Y, (int)O, 0.0f, w->Zd, (int)O);
        for (int64_t a = 0; a < nd; ++a) {
            float *z = uhn_rec_z(uhn_rec_at(recs, st->rec_bytes, w->dq[a]));
            const float *zd = w->Zd + a * O;
#pragma omp simd
            for (int64_t k = 0; k < O; ++k) z[k] += zd[k];
        }
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
                me->nzq[j] = tile_weights(st, j, me->St + j * t.tn, t.tn, bk->row0 + i0, Y,
                                          uhn_rec_at(me->recs, st->rec_bytes, j));
            if (st->need_z) tile_project(st, me->St, t.tn, Y, me->recs, me->nzq, me);
        }
    }
    for (int t = 1; t < ws->nt; ++t)
        for (int64_t j = 0; j < st->B; ++j)
            uhn_rec_merge(uhn_rec_at(ws->w[t].recs, st->rec_bytes, j),
                          uhn_rec_at(recs, st->rec_bytes, j));
    ws->w[0].recs = NULL;
    return UHN_OK;
}
