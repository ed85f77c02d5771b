/*
 * The fast kernel. OpenMP threads take the tiles of the local bank
 * round-robin; per tile, the similarity block kernel scores all queries of the batch
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/kernel.h"
#include "core/simd_bf16.h"
#include "core/simd_exp.h"
#include "core/simd_load.h"
#include "core/simd_pool.h"

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

/* Pooling levels of the screened energy pass: groups of 1, 2, 4, 8 and 16
 * coordinates (simd_pool.h); rows are pooled UHN_POOL_ROWS at a time through
 * a small float32 staging buffer (a buffer of the whole tile cost more in
 * first touches of its pages than the pass saved). */
#define UHN_SCREEN_LEVELS 5
#define UHN_SCREEN_START  2 /* the adaptive levels start at groups of 4 */
#define UHN_POOL_ROWS     32

/* Rows of a tile that the queries of a sparse projection gather from before
 * moving on (400 KiB of Fashion-MNIST rows: L2-resident, so that a row that
 * several queries keep is read from L3 once; a whole tile per query measured
 * 1.5 % slower on W1 of `uhn bench` at 1 rank). */
#define UHN_GATHER_ROWS 128

/* One thread's buffers, allocated once per uhn_recall and reused every step
 * (fresh pages are slow to touch; see uhn_alloc). Each on cache lines of its
 * own: the counters a thread adds to per block (ppairs, pkept) shared a line
 * with the next thread's pointers, and W4's later steps at 1 rank x 2
 * threads spent 0.146 ms a step in the block loop, 0.122-0.127 ms apart. */
typedef struct work {
    _Alignas(64) float *St; /* Bmax x tn scores, then weights */
    uhn_scratch scr;        /* 3 buffers of tn * max(K, Bmax) floats */
    void *recs;             /* this thread's records (thread 0 uses the caller's) */
    double *rsum;           /* uhn score pass: this thread's sums of r */
    int64_t *nexact;        /* and counts of exact matches */
    int32_t *idx;           /* tn: rows of a sparse projection */
    int64_t *nzq;           /* Bmax: weights of the tile kept per query */
    int64_t *dq;            /* Bmax: the queries projected densely */
    int64_t *sq;            /* Bmax: and those that gather their rows */
    float *Gd, *Zd;         /* Bmax x tn and Bmax x O: their weights and products */
    uint16_t *xb;           /* screened energy pass: tn x pad(K) bf16 pooled keys (on first use) */
    float *xn;              /* and tn norms ||x|| */
    int32_t *cand;          /* and tn candidate rows */
    int64_t *act;           /* Bmax: the queries a tile's norm bound leaves active (tile_active) */
    float *qg, *qgn;        /* Bmax x K and 2 Bmax: their rows, norms and sums, gathered */
    uint16_t *qsub;         /* Bmax x pad(K) bf16: their pooled coordinates, gathered */
    int level;              /* its pooling level: groups of 1 << level coordinates */
    int64_t tiles;          /* tiles it screened in this step */
    int64_t pairs, kept;    /* (query, row) pairs screened at level 0, and candidates among them */
    /* The pooled bank's screen (few queries): per query a block's bounds (2
     * UHN_SMALL_BATCH x pb_rows), the exact scores of its candidates, their
     * rows, its rows' norms, the cuts; staging for pooling; the step's pairs
     * screened and candidates among them. */
    float *pS, *ph, *pxn, *pcut, *pstage;
    int32_t *pcand;
    int64_t ppairs, pkept;
} work;

struct uhn_kws {
    int nt;
    int64_t tn, Bmax;
    size_t rec_bytes;
    float thr, ln_thr; /* weights below thr of the running maximum are dropped */
    work *w;
    int screen;       /* the screened energy pass: 0 untried, 1 ready, -1 unavailable */
    void *screen_mem; /* its buffers below (and the threads'), one allocation */
    int force_level;  /* UHN_SCREEN_GROUP: the one pooling level to use, or -1 (adaptive) */
    /* Per pooling level: the queries' pooled coordinates in bf16 (Bmax x
     * pad(d)), their norms and residual norms (Bmax each). */
    uint16_t *qb[UHN_SCREEN_LEVELS];
    float *qpn[UHN_SCREEN_LEVELS], *qrn[UHN_SCREEN_LEVELS];
    int qready[UHN_SCREEN_LEVELS]; /* the level's queries are pooled for this step */
    float *qp;                     /* UHN_POOL_ROWS x pad16(K): staging of pooled queries */
    double *qn;                    /* Bmax: ||q|| */
    float *floor;                  /* Bmax: the probe's maxima (uhn_kernel_fast_probe) */
    /* A sorted bank's probe: tn rows spread evenly over the local rows; and
     * the local position of each local row (the inverse of gidx). */
    float *px, *pn2, *psum;
    int64_t *pos;
    int prescored; /* thread 0's St holds tile 0's scores from the probe */
    /* The pooled bank of a few-query recall (pooled_applies): 0 untried, 1
     * ready, -1 unavailable; groups of 1 << pb_level coordinates in bf16
     * rows of pb_Kp; blocks of pb_rows rows, each pooled the first time a
     * step screens it (pb_done); this step's queries pooled alike. */
    int pb, pb_level;
    int64_t pb_Kp, pb_rows;
    uint16_t *pb_x, *pb_q;
    float *pb_pn, *pb_rn, *pb_qpn, *pb_qrn;
    uint8_t *pb_done;
};

void uhn_kws_destroy(uhn_kws *ws) {
    if (!ws) return;
    for (int t = 0; ws->w && t < ws->nt; ++t) {
        work *w = &ws->w[t];
        uhn_free(w->St), uhn_free(w->scr.a), uhn_free(w->scr.b), uhn_free(w->scr.c);
        uhn_free(w->recs), uhn_free(w->rsum), uhn_free(w->nexact), uhn_free(w->idx);
        uhn_free(w->nzq), uhn_free(w->dq), uhn_free(w->sq), uhn_free(w->Gd), uhn_free(w->Zd);
        uhn_free(w->act);
        uhn_free(w->qg), uhn_free(w->qgn);
        uhn_free(w->pS), uhn_free(w->ph), uhn_free(w->pxn), uhn_free(w->pcut);
        uhn_free(w->pstage), uhn_free(w->pcand);
    }
    uhn_free(ws->pb_x), uhn_free(ws->pb_q); /* pb_pn, pb_rn: in pb_x's buffer */
    uhn_free(ws->pb_qpn), uhn_free(ws->pb_qrn);
    free(ws->pb_done);
    uhn_free(ws->screen_mem); /* every buffer of the screen (screen_layout) */
    uhn_free(ws->qp), uhn_free(ws->floor);
    uhn_free(ws->px), uhn_free(ws->pn2), uhn_free(ws->psum), uhn_free(ws->pos);
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
    ws->w = aligned_alloc(64, (size_t)ws->nt * sizeof *ws->w);
    if (ws->w) memset(ws->w, 0, (size_t)ws->nt * sizeof *ws->w);
    int ok = ws->w != NULL;
    const int64_t tn = ws->tn, K16 = uhn_pool_len(bk->K, 1), wide = K16 > Bmax ? K16 : Bmax;
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
        w->sq = uhn_alloc((size_t)Bmax * sizeof(int64_t));
        w->Gd = uhn_alloc((size_t)(Bmax * tn) * sizeof(float));
        w->Zd = uhn_alloc((size_t)(Bmax * bk->O) * sizeof(float));
        w->act = uhn_alloc((size_t)Bmax * sizeof(int64_t));
        if (bk->gidx) { /* tiles of like norms: the bound skips queries (tile_active) */
            w->qg = uhn_alloc((size_t)(Bmax * bk->K) * sizeof(float));
            w->qgn = uhn_alloc((size_t)(2 * Bmax) * sizeof(float));
        }
        ok = w->act && (!bk->gidx || (w->qg && w->qgn)) && w->St && w->scr.a && w->scr.b &&
             w->scr.c && (t == 0 || w->recs) && w->rsum && w->nexact && w->idx && w->nzq && w->dq &&
             w->sq && w->Gd && w->Zd;
    }
    ws->floor = ok ? uhn_alloc((size_t)Bmax * sizeof(float)) : NULL;
    ok = ok && ws->floor;
    if (ok && bk->gidx) {
        ws->px = uhn_alloc((size_t)(tn * bk->K) * sizeof(float));
        ws->pn2 = uhn_alloc((size_t)tn * sizeof(float));
        ws->psum = uhn_alloc((size_t)tn * sizeof(float));
        ws->pos = uhn_alloc((size_t)(bk->n_local > 0 ? bk->n_local : 1) * sizeof(int64_t));
        ok = ws->px && ws->pn2 && ws->psum && ws->pos;
        for (int64_t i = 0; ok && i < bk->n_local; ++i) ws->pos[bk->gidx[i] - bk->row0] = i;
    }
    if (!ok) {
        uhn_kws_destroy(ws);
        return uhn_fail(ctx, UHN_ENOMEM, "out of memory for the kernel workspace (%lld queries)",
                        (long long)Bmax);
    }
    ws->force_level = -1;
    const char *fg = getenv("UHN_SCREEN_GROUP");
    if (fg && *fg) {
        for (int l = 0; l < UHN_SCREEN_LEVELS; ++l) {
            char name[4];
            snprintf(name, sizeof name, "%d", 1 << l);
            if (!strcmp(fg, name)) ws->force_level = l;
        }
        if (ws->force_level < 0) {
            uhn_kws_destroy(ws);
            return uhn_fail(
                ctx, UHN_EINPUT,
                "environment variable UHN_SCREEN_GROUP=%.20s: expected 1, 2, 4, 8 or 16", fg);
        }
    }
    *out = ws;
    return UHN_OK;
}

/* Rows [i0, i0 + tn) of the local bank as a tile (tn clipped to the bank). */
static uhn_tile bank_tile(const uhn_bank *bk, int64_t i0, int64_t tn) {
    return (uhn_tile){bk->keys + i0 * bk->K,
                      bk->key_norm2 + i0,
                      bk->key_sum + i0,
                      bk->n_local - i0 < tn ? bk->n_local - i0 : tn,
                      bk->K,
                      bk->row0 + i0,
                      bk->gidx ? bk->gidx + i0 : NULL};
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
            uhn_tile t = bank_tile(bk, i0, tn);
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

/* The first index of the largest of h[0 .. tn): ties go to the lowest index. */
static int64_t first_max(const float *h, int64_t tn) {
    float hmax = h[0];
#pragma omp simd reduction(max : hmax)
    for (int64_t i = 1; i < tn; ++i) hmax = h[i] > hmax ? h[i] : hmax;
    int64_t i = 0;
#ifdef __AVX512F__
    const __m512 m = _mm512_set1_ps(hmax);
    for (; i + 16 <= tn; i += 16) {
        __mmask16 eq = _mm512_cmp_ps_mask(_mm512_loadu_ps(h + i), m, _CMP_EQ_OQ);
        if (eq) return i + __builtin_ctz(eq);
    }
#endif
    while (h[i] != hmax && i + 1 < tn) ++i;
    return i;
}

/* The position a of the largest h[a] (a < n) whose row idx[a] (a itself when
 * idx is NULL) of tile t has the lowest global index among the rows of that
 * score: the first one, unless the bank is sorted (rows out of index order). */
static int64_t argmax_gid(const float *h, int64_t n, const int32_t *idx, const uhn_tile *t) {
    int64_t a = first_max(h, n);
    if (!t->gid) return a;
    const float m = h[a];
    int64_t ga = t->gid[idx ? idx[a] : a], b = a + 1;
#ifdef __AVX512F__
    const __m512 vm = _mm512_set1_ps(m); /* the other rows of that score, 16 at a time */
    for (; b + 16 <= n; b += 16)
        for (__mmask16 eq = _mm512_cmp_ps_mask(_mm512_loadu_ps(h + b), vm, _CMP_EQ_OQ); eq;
             eq &= eq - 1) {
            const int64_t c = b + __builtin_ctz(eq), gc = t->gid[idx ? idx[c] : c];
            if (gc < ga) a = c, ga = gc;
        }
#endif
    for (; b < n; ++b)
        if (h[b] == m && t->gid[idx ? idx[b] : b] < ga) a = b, ga = t->gid[idx ? idx[b] : b];
    return a;
}

/*
 * Softmax weights of one query over a tile, in place: h[i] = exp(beta (h[i] -
 * smax)) where h[i] >= cutf and the exponent is at least ln_thr, else 0 (see
 * tile_weights). Returns the number of weights kept; *sum gets their sum. The
 * float comparison rejects most rows 16 at a time; the exponent is formed in
 * double, as the scalar form does, and its exponential is uhn_exp16.
 */
static int64_t lse_weights(float *h, int64_t tn, float cutf, double smax, double beta, float ln_thr,
                           double *sum) {
    int64_t nz = 0, i = 0;
    double s = 0;
#ifdef __AVX512F__
    const __m512 vcut = _mm512_set1_ps(cutf), vln = _mm512_set1_ps(ln_thr);
    const __m512d vs = _mm512_set1_pd(smax), vb = _mm512_set1_pd(beta);
    __m512d acc = _mm512_setzero_pd();
    for (; i < tn; i += 16) {
        const __mmask16 tm = tn - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (tn - i)) - 1);
        const __m512 hv = uhn_load16(h, i, tn); /* plain but in the last vector */
        __mmask16 keep = _mm512_mask_cmp_ps_mask(tm, hv, vcut, _CMP_GE_OQ);
        if (!keep) {
            _mm512_mask_storeu_ps(h + i, tm, _mm512_setzero_ps());
            continue;
        }
        const __m512d lo =
            _mm512_mul_pd(_mm512_sub_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(hv)), vs), vb);
        const __m512d hi = _mm512_mul_pd(
            _mm512_sub_pd(
                _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(hv), 1))),
                vs),
            vb);
        const __m512 x =
            _mm512_insertf32x8(_mm512_castps256_ps512(_mm512_cvtpd_ps(lo)), _mm512_cvtpd_ps(hi), 1);
        keep &= _mm512_cmp_ps_mask(x, vln, _CMP_GE_OQ);
        const __m512 e = _mm512_maskz_mov_ps(keep, uhn_exp16(x));
        _mm512_mask_storeu_ps(h + i, tm, e);
        acc = _mm512_add_pd(acc, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
        acc = _mm512_add_pd(
            acc, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(e), 1))));
        nz += __builtin_popcount(_mm512_cmp_ps_mask(e, _mm512_setzero_ps(), _CMP_NEQ_OQ));
    }
    s = _mm512_reduce_add_pd(acc);
#endif
    for (; i < tn; ++i) {
        float e = 0.0f;
        if (h[i] >= cutf) {
            float x = (float)(beta * (h[i] - smax));
            e = x >= ln_thr ? expf(x) : 0.0f;
        }
        h[i] = e;
        s += e;
        nz += e != 0.0f;
    }
    *sum = s;
    return nz;
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
static int64_t tile_weights(const uhn_step *st, int64_t j, float *h, const uhn_tile *t,
                            const float *Y, uhn_rec *r) {
    const int64_t tn = t->tn;
    const uhn_params *p = st->p;
    const int64_t O = st->bank->O;
    const double beta = p->beta;
    if (p->score == UHN_SCORE_UHN) {
        if (st->nexact[j] > 0) { /* spec §2: 1 on exact matches, separation skipped */
            for (int64_t i = 0; i < tn; ++i) {
                h[i] = h[i] < 0 ? 1.0f : 0.0f;
                r->acc += h[i];
                uhn_rec_linear_extremes(r, h[i], uhn_tile_gid(t, i));
            }
            return tn; /* few exact matches, but counted as dense: rare */
        }
        for (int64_t i = 0; i < tn; ++i) h[i] = (float)uhn_h_of_r(1.0, h[i], st->rsum[j]);
    }
    if (st->kind == UHN_RED_POW) /* h^p needs h >= 0: flag the first offender, weight 0 */
        for (int64_t i = 0; i < tn; ++i)
            if (h[i] < 0) uhn_rec_bad(r, uhn_tile_gid(t, i), beta * h[i]), h[i] = 0;
    const int64_t imax = argmax_gid(h, tn, NULL, t), gmax = uhn_tile_gid(t, imax);
    /* a new running maximum: a larger score, or an equal one of a lower index */
    const int up = r->idx < 0 || h[imax] > r->best || (h[imax] == r->best && gmax < r->idx);
    switch (st->kind) {
    case UHN_RED_LSE:
    case UHN_RED_POW: {
        if (up) {
            float scale = r->idx < 0 ? 0.0f : (float)uhn_rec_rel(r, r->best, h[imax]);
            r->acc *= scale;
            if (st->need_z) {
                float *z = uhn_rec_z(r);
                for (int64_t k = 0; k < O; ++k) z[k] *= scale;
            }
            r->best = h[imax], r->idx = gmax;
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
            /* Most scores lie below the cut smax + ln_thr / beta, smax raised
             * to the probe's bound on the global maximum when it is higher
             * (engine.c: probe_applies); rounded down to float, so that no
             * score it keeps is missed: a float comparison decides them; the
             * rest take the exact exponent. */
            const double top = st->floor && st->floor[j] > smax ? st->floor[j] : smax;
            double cut = top + (double)ln_thr / beta;
            float cutf = (float)cut;
            if ((double)cutf > cut) cutf = nextafterf(cutf, -INFINITY);
            nz = lse_weights(h, tn, cutf, smax, beta, ln_thr, &s);
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
            if (bad) uhn_rec_bad(r, uhn_tile_gid(t, i), beta * h[i]);
            h[i] = (float)gv;
            s += h[i];
            nz += h[i] != 0.0f;
            uhn_rec_linear_extremes(r, h[i], uhn_tile_gid(t, i));
        }
        r->acc += s;
        return nz;
    }
    case UHN_RED_MAX: /* the order of beta * s is the order of s */
        if (up) {
            r->best = h[imax], r->idx = gmax, r->acc = 1;
            if (st->need_z) memcpy(uhn_rec_z(r), Y + imax * O, (size_t)O * sizeof(float));
        }
        memset(h, 0, (size_t)tn * sizeof(float));
        return 0;
    case UHN_RED_TOPK: /* slots keep s; beta enters as exp(beta (s - s_1)) at the end */
        for (int64_t i = 0; i < tn; ++i) uhn_rec_topk_offer(r, h[i], uhn_tile_gid(t, i), Y + i * O);
        memset(h, 0, (size_t)tn * sizeof(float));
        return 0;
    }
    return 0;
}

/* The rows i with v[i] >= cut (or, when NZ, v[i] != 0), ascending, into idx;
 * returns their number. Compressed 16 at a time: a branch per row mispredicts
 * on weights that are not 0 one time in a few (as a scalar loop, listing a
 * sparse projection's rows cost 3 % of W1's one-step recall at 1 rank and 8 %
 * of W2's). */
static inline __attribute__((always_inline)) int64_t
rows_where(const float *v, int64_t tn, float cut, const int NZ, int32_t *idx) {
    int64_t n = 0, i = 0;
#ifdef __AVX512F__
    const __m512 vc = _mm512_set1_ps(cut);
    __m512i ids = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    for (; i + 16 <= tn; i += 16, ids = _mm512_add_epi32(ids, _mm512_set1_epi32(16))) {
        const __m512 x = _mm512_loadu_ps(v + i);
        const __mmask16 m = NZ ? _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_NEQ_UQ)
                               : _mm512_cmp_ps_mask(x, vc, _CMP_GE_OQ);
        if (!m) continue;
        const int c = __builtin_popcount(m); /* compress in a register: see simd_pool.c */
        _mm512_mask_storeu_epi32(idx + n, (__mmask16)((1u << c) - 1),
                                 _mm512_maskz_compress_epi32(m, ids));
        n += c;
    }
#endif
    for (; i < tn; ++i)
        if (NZ ? v[i] != 0.0f : v[i] >= cut) idx[n++] = (int32_t)i;
    return n;
}

static int64_t select_rows(const float *hi, int64_t tn, float cut, int32_t *idx) {
    return rows_where(hi, tn, cut, 0, idx);
}

/* z += sum g y_r over n rows r of the tile: rows idx[0 .. n) of the tile, or
 * rows 0 .. n when idx is NULL; four rows per pass over z. The weight of row
 * r = idx[a] is g[r], or g[a] when COMPACT. */
static inline __attribute__((always_inline)) void project_rows(const float *g, const int32_t *idx,
                                                               int64_t n, const float *Y, int64_t O,
                                                               float *z, const int COMPACT) {
#define ROW(a) (idx ? (int64_t)idx[a] : (a))
#define G(a)   (COMPACT ? g[a] : g[ROW(a)])
    int64_t a = 0;
    for (; a + 4 <= n; a += 4) {
        const int64_t r0 = ROW(a), r1 = ROW(a + 1), r2 = ROW(a + 2), r3 = ROW(a + 3);
        const float *y0 = Y + r0 * O, *y1 = Y + r1 * O, *y2 = Y + r2 * O, *y3 = Y + r3 * O;
        const float g0 = G(a), g1 = G(a + 1), g2 = G(a + 2), g3 = G(a + 3);
#pragma omp simd
        for (int64_t k = 0; k < O; ++k) z[k] += g0 * y0[k] + g1 * y1[k] + g2 * y2[k] + g3 * y3[k];
    }
    for (; a < n; ++a) {
        const float gi = G(a), *y = Y + ROW(a) * O;
#pragma omp simd
        for (int64_t k = 0; k < O; ++k) z[k] += gi * y[k];
    }
#undef G
#undef ROW
}

/* The same over the rows whose weight is not 0 (idx: scratch of tn). */
static void project_sparse(const float *g, int64_t tn, const float *Y, int64_t O, float *z,
                           int32_t *idx) {
    project_rows(g, idx, rows_where(g, tn, 0.0f, 1, idx), Y, O, z, 0);
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
static void tile_project(const uhn_step *st, const float *G, int64_t B, const int64_t *act,
                         int64_t tn, const float *Y, void *recs, const int64_t *nzq, work *w) {
    const int64_t O = st->bank->O;
#define REC(a) uhn_rec_at(recs, st->rec_bytes, act ? act[a] : (a)) /* row a of G's record */
    if (st->kind == UHN_RED_LSE || st->kind == UHN_RED_LINEAR || st->kind == UHN_RED_POW) {
        int64_t nd = 0, ns = 0; /* dense queries, listed in w->dq, and sparse ones, in w->sq */
        int64_t snz = 0, j0 = B, j1 = 0; /* the sparse ones' weights; rows [j0, j1) not empty */
        for (int64_t j = 0; j < B; ++j) {
            if (nzq[j] == 0) continue;
            j0 = j < j0 ? j : j0, j1 = j + 1;
            if (nzq[j] * UHN_SPARSE_RATIO <= tn)
                w->sq[ns++] = j, snz += nzq[j];
            else if (B <= UHN_SMALL_BATCH)
                project_rows(G + j * tn, NULL, tn, Y, O, uhn_rec_z(REC(j)), 0);
            else
                w->dq[nd++] = j;
        }
        if (nd == 0 && ns == 0) return;
        /* Mostly dense (a sorted bank's bright tiles): one SGEMM over the rows
         * [j0, j1) of G as they lie, the few sparse and empty rows among them
         * included, costs less than gathering and copying. */
        const int all = nd > 0 && (j1 - j0) * tn <= nd * tn + UHN_SPARSE_RATIO * snz;
        for (int64_t s0 = 0; !all && ns > 0 && s0 < tn; s0 += UHN_GATHER_ROWS) {
            /* The sparse queries gather their rows a slice of the tile at a time,
             * so that a row several of them keep is read from L2 after the first. */
            const int64_t sn = tn - s0 < UHN_GATHER_ROWS ? tn - s0 : UHN_GATHER_ROWS;
            for (int64_t a = 0; a < ns; ++a)
                project_sparse(G + w->sq[a] * tn + s0, sn, Y + s0 * O, O, uhn_rec_z(REC(w->sq[a])),
                               w->idx);
        }
        if (nd == 0) return;
        if (all && !act && j0 == 0 && j1 == B) { /* straight into the records */
            float *Z = uhn_rec_z(uhn_rec_at(recs, st->rec_bytes, 0));
            int ldz = (int)(st->rec_bytes / sizeof(float));
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)B, (int)O, (int)tn, 1.0f, G,
                        (int)tn, Y, (int)O, 1.0f, Z, ldz);
            return;
        }
        const float *A = G + j0 * tn;
        const int64_t m = all ? j1 - j0 : nd;
        if (!all) {
            for (int64_t a = 0; a < nd; ++a)
                memcpy(w->Gd + a * tn, G + w->dq[a] * tn, (size_t)tn * sizeof(float));
            A = w->Gd;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)O, (int)tn, 1.0f, A,
                    (int)tn, Y, (int)O, 0.0f, w->Zd, (int)O);
        for (int64_t a = 0; a < m; ++a) {
            const int64_t j = all ? j0 + a : w->dq[a];
            if (nzq[j] == 0) continue;
            float *z = uhn_rec_z(REC(j));
            const float *zd = w->Zd + a * O;
#pragma omp simd
            for (int64_t k = 0; k < O; ++k) z[k] += zd[k];
        }
        return;
    }
#undef REC
    /* MAX/TOPK batches: only exact-match queries of the uhn mode carry weights. */
    for (int64_t j = 0; j < B; ++j) {
        uhn_rec *r = uhn_rec_at(recs, st->rec_bytes, j);
        if (r->kind != UHN_RED_LINEAR) continue;
        for (int64_t i = 0; i < tn; ++i)
            if (G[j * tn + i] != 0)
                cblas_saxpy((int)O, G[j * tn + i], Y + i * O, 1, uhn_rec_z(r), 1);
    }
}

/* ---------- the energy of a final state, screened in bf16 ---------- */

/*
 * The energy of a state needs only its log-sum-exp (need_z = 0), and of that
 * only the rows within ln(thr) / beta of the maximum score: after one step of
 * a recall the state is near a few memories (a one-step recall of 1000
 * Fashion-MNIST queries at beta = 1 keeps ~50 of 60,000 rows per query for
 * E(v_T), against 10,500 for E(v_0)). So this pass first scores every row with
 * an approximate score whose error is bounded, and computes the exact float32
 * score only of the rows whose bound reaches the cut. A row it skips has
 * weight below thr of the maximum, as in tile_weights: the result is the same
 * to round-off.
 *
 * The approximate score is a dot product of pooled coordinates (simd_pool.h:
 * the sums of groups of g consecutive coordinates, so 1/g of the work) taken
 * in bf16 (simd_bf16.h, twice the float32 rate), and its bound adds the bf16
 * error to the product of the two residual norms. On images g = 16 keeps a
 * fraction of a percent of the rows; on data without neighbourhood structure
 * the residuals are large and g = 1 (the full bf16 product) keeps the fewest.
 * Each thread starts at g = 4 and, from its second tile on, moves one level
 * after a tile when the cost model below says the neighbouring level is
 * cheaper (UHN_SCREEN_GROUP fixes g instead, for tests and measurements).
 *
 * It applies to raw softmax scores of dot and euclidean (the two energies of
 * spec §5) without a cue (--cue-only keeps the float32 pass), for batches
 * (one query's pass is bound by reading the bank, not by arithmetic) of
 * states of at least UHN_SCREEN_MIN_K coordinates (below, the work per
 * (query, row) pair around the dot product outweighs what bf16 saves on it).
 * Where the scores are too close for the screen to reject rows (a small beta),
 * a thread that kept more than 1 / UHN_SCREEN_RATIO of its pairs at g = 1
 * scores its remaining tiles in float32.
 */
#define UHN_SCREEN_MIN_K 128
#define UHN_SCREEN_RATIO 8
/* Cost model of a level, per (query, row) pair, in units of one vdpbf16ps (32
 * products): the screen costs pad32(d) / 32 + 3 (the bound and the cut), and
 * a candidate's exact score UHN_SCREEN_EXACT_COST (a gathered row of K = 784
 * read from L3: measured on W1 and W2 of `uhn bench`, 40-60 ns against 0.16 ns
 * a unit). */
#define UHN_SCREEN_EXACT_COST 300.0
/* The growth of the share of candidates from one pooling level to the next
 * coarser one: measured 1.4-1.6 on W2 of `uhn bench` (euclidean) and 1.6-1.8
 * on W1 (dot), each level fixed with UHN_SCREEN_GROUP (a guess of 2 took W2's
 * threads to g = 1, whose screen costs twice that of g = 2 for 30 % fewer
 * candidates: the pass ran 15 % slower than at g = 2 or 4). */
#define UHN_SCREEN_GROWTH 1.6

static int screen_applies(const uhn_step *st) {
    if (st->need_z || st->kind != UHN_RED_LSE || st->p->score != UHN_SCORE_RAW || st->qb->mask ||
        st->B <= 2 * UHN_SMALL_BATCH || st->qb->k1 - st->qb->k0 < UHN_SCREEN_MIN_K ||
        st->ws->screen < 0)
        return 0;
    const char *name = uhn_similarity_name(st->p->sim);
    return !strcmp(name, "dot") || !strcmp(name, "euclidean");
}

/*
 * The screen's buffers, laid out from base (NULL: only their size). They are
 * one allocation, backed by huge pages: on W2 of `uhn bench` (K = 784, 1000
 * queries) they were a dozen of 4 KB to 1.6 MB in 4 KiB pages, 1,650 faults,
 * ~20 ms of the energy's 100 ms pass (a fault costs 6-14 us on this class of
 * machine); as separate buffers the larger ones would each round up to 2 MiB.
 * Returns the bytes.
 */
static size_t screen_layout(const uhn_bank *bk, uhn_kws *ws, char *base) {
    const int64_t K16 = uhn_pool_len(bk->K, 1), tn = ws->tn, B = ws->Bmax;
    size_t off = 0;
#define CARVE(ptr, n)                                                                              \
    do {                                                                                           \
        const size_t bytes_ = (size_t)(n) * sizeof *(ptr);                                         \
        (ptr) = base ? (void *)(base + off) : NULL;                                                \
        off += (bytes_ + 63) & ~(size_t)63;                                                        \
    } while (0)
    for (int l = 0; l < UHN_SCREEN_LEVELS; ++l) {
        CARVE(ws->qb[l], B * uhn_bf16_pad(uhn_pool_len(bk->K, 1 << l)));
        CARVE(ws->qpn[l], B);
        CARVE(ws->qrn[l], B);
    }
    CARVE(ws->qn, B);
    for (int t = 0; t < ws->nt; ++t) {
        work *w = &ws->w[t];
        CARVE(w->xb, tn * uhn_bf16_pad(K16));
        CARVE(w->xn, 3 * tn);
        CARVE(w->cand, tn);
        CARVE(w->qsub, B * uhn_bf16_pad(K16));
    }
#undef CARVE
    return off;
}

/* The screen's buffers, on first use; 0 when it cannot run (then it never does). */
static int screen_ready(const uhn_bank *bk, uhn_kws *ws) {
    if (ws->screen) return ws->screen > 0;
    int ok = uhn_bf16_available();
    if (ok) {
        ws->screen_mem = uhn_alloc(screen_layout(bk, ws, NULL));
        if (ws->screen_mem) screen_layout(bk, ws, ws->screen_mem);
        /* the pooled bank's staging, unless a few-query batch made it */
        if (!ws->qp)
            ws->qp = uhn_alloc((size_t)(UHN_POOL_ROWS * uhn_pool_len(bk->K, 1)) * sizeof(float));
        ok = ws->screen_mem && ws->qp;
    }
    ws->screen = ok ? 1 : -1; /* without the memory, the float32 pass does the same */
    return ok;
}

/* n rows x (kn coordinates, leading dimension ldx) pooled in groups of g into
 * bf16 rows of Kp (and their norms PN and residual norms R), UHN_POOL_ROWS at a
 * time through stage (UHN_POOL_ROWS x pad16(kn) floats). At g = 1 the rows are
 * converted directly, with PN = ||x|| and R = 0 (unless PN is NULL). */
static void pool_bf16(const float *x, int64_t n, int64_t kn, int64_t ldx, int g, float *stage,
                      uint16_t *out, int64_t Kp, float *PN, float *R) {
    const int64_t d = uhn_pool_len(kn, g);
    for (int64_t i0 = 0; i0 < n; i0 += UHN_POOL_ROWS) {
        const int64_t m = n - i0 < UHN_POOL_ROWS ? n - i0 : UHN_POOL_ROWS;
        if (g == 1) {
            uhn_bf16_rows(x + i0 * ldx, m, kn, ldx, out + i0 * Kp, Kp);
            continue;
        }
        uhn_pool_rows(x + i0 * ldx, m, kn, ldx, g, stage, d, PN + i0, R + i0);
        uhn_bf16_rows(stage, m, d, d, out + i0 * Kp, Kp);
    }
    if (g == 1 && PN) uhn_pool_norms(x, n, kn, ldx, PN, R);
}

/* The queries of this step at a pooling level, in bf16, the first time a
 * thread asks for that level in the step (the adaptive levels visit few). */
static void screen_queries(const uhn_step *st, uhn_kws *ws, int level) {
#pragma omp critical(uhn_screen_queries)
    if (!ws->qready[level]) {
        const uhn_qblock *qb = st->qb;
        const int64_t kn = qb->k1 - qb->k0, g = 1 << level;
        pool_bf16(qb->q + qb->k0, st->B, kn, qb->K, (int)g, ws->qp, ws->qb[level],
                  uhn_bf16_pad(g == 1 ? kn : uhn_pool_len(kn, (int)g)), ws->qpn[level],
                  ws->qrn[level]);
        ws->qready[level] = 1;
    }
}

/* The level for the next tile, from this tile's share f of candidate pairs. */
static int screen_next_level(int level, double f, int64_t kn) {
    double cost[UHN_SCREEN_LEVELS];
    for (int l = 0; l < UHN_SCREEN_LEVELS; ++l)
        cost[l] = (double)uhn_bf16_pad(uhn_pool_len(kn, 1 << l)) / 32 + 3;
    /* Candidates grow with g by about UHN_SCREEN_GROWTH a level: the
     * neighbours' estimated shares are f times it (coarser) and f over it (finer). */
    const double e = UHN_SCREEN_EXACT_COST * f;
    if (level > 0 && cost[level - 1] + e / UHN_SCREEN_GROWTH < cost[level] + e) return level - 1;
    if (level + 1 < UHN_SCREEN_LEVELS && cost[level + 1] + UHN_SCREEN_GROWTH * e < cost[level] + e)
        return level + 1;
    return level;
}

/* sum_k f(x_k, q_k) over k in [k0, k1) for four rows at once (one load of q
 * for four rows), f = x q, or (x - q)^2 when SQ. */
static inline __attribute__((always_inline)) void four_sums(const float *x0, const float *x1,
                                                            const float *x2, const float *x3,
                                                            const float *q, int64_t k0, int64_t k1,
                                                            const int SQ, float *out) {
#ifdef __AVX512F__
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (int64_t k = k0; k < k1; k += 16) {
        const __mmask16 m = k1 - k >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (k1 - k)) - 1);
        const __m512 qv = _mm512_maskz_loadu_ps(m, q + k);
#define TERM(acc, x)                                                                               \
    do {                                                                                           \
        const __m512 xv = _mm512_maskz_loadu_ps(m, (x) + k);                                       \
        const __m512 d = SQ ? _mm512_sub_ps(xv, qv) : xv;                                          \
        acc = _mm512_fmadd_ps(d, SQ ? d : qv, acc);                                                \
    } while (0)
        TERM(a0, x0);
        TERM(a1, x1);
        TERM(a2, x2);
        TERM(a3, x3);
#undef TERM
    }
    out[0] = _mm512_reduce_add_ps(a0), out[1] = _mm512_reduce_add_ps(a1);
    out[2] = _mm512_reduce_add_ps(a2), out[3] = _mm512_reduce_add_ps(a3);
#else
    const float *x[4] = {x0, x1, x2, x3};
    for (int r = 0; r < 4; ++r) {
        float s = 0;
        for (int64_t k = k0; k < k1; ++k)
            s += SQ ? (x[r][k] - q[k]) * (x[r][k] - q[k]) : x[r][k] * q[k];
        out[r] = s;
    }
#endif
}

/*
 * Exact float32 scores h[a] of rows idx[a] of the tile for query j: the dot
 * product over the query's nonzero columns, or minus the squared distance
 * summed directly (a state after a step is near its memories, where the
 * expansion ||x||^2 - 2 x.q + ||q||^2 cancels).
 */
static void exact_scores(const uhn_qblock *qb, int euclid, const uhn_tile *t, const int32_t *idx,
                         int64_t n, int64_t j, float *h) {
    const int64_t K = t->K, k0 = euclid ? 0 : qb->k0, k1 = euclid ? K : qb->k1;
    const float *q = qb->q + j * K;
    for (int64_t a = 0; a < n; a += 4) {
        /* a short last group repeats its last row */
        const int64_t i1 = idx[a + 1 < n ? a + 1 : n - 1], i2 = idx[a + 2 < n ? a + 2 : n - 1],
                      i3 = idx[a + 3 < n ? a + 3 : n - 1];
        const float *x0 = t->x + idx[a] * K, *x1 = t->x + i1 * K, *x2 = t->x + i2 * K,
                    *x3 = t->x + i3 * K;
        float s[4];
        if (euclid)
            four_sums(x0, x1, x2, x3, q, k0, k1, 1, s);
        else
            four_sums(x0, x1, x2, x3, q, k0, k1, 0, s);
        for (int r = 0; r < 4 && a + r < n; ++r) h[a + r] = euclid ? -s[r] : s[r];
    }
}

/* Folds n exact scores h of rows idx (ascending) of the tile into an LSE
 * record, as tile_weights does for a whole tile, and with the tile's value
 * rows Y (need_z) projects their weights into its z; h and idx are scratch. */
static void lse_fold(const uhn_step *st, uhn_rec *r, float *h, int32_t *idx, int64_t n,
                     const uhn_tile *t, const float *Y) {
    const int64_t a = argmax_gid(h, n, idx, t), ga = uhn_tile_gid(t, idx[a]), O = st->bank->O;
    if (r->idx < 0 || h[a] > r->best || (h[a] == r->best && ga < r->idx)) {
        const double rel = r->idx < 0 ? 0.0 : uhn_rec_rel(r, r->best, h[a]);
        r->acc *= rel;
        if (Y) {
            float *z = uhn_rec_z(r);
            const float scale = (float)rel;
            for (int64_t k = 0; k < O; ++k) z[k] *= scale;
        }
        r->best = h[a], r->idx = ga;
    }
    const double beta = st->p->beta, cut = r->best + (double)st->ws->ln_thr / beta;
    float cutf = (float)cut;
    if ((double)cutf > cut) cutf = nextafterf(cutf, -INFINITY);
    double s;
    lse_weights(h, n, cutf, r->best, beta, st->ws->ln_thr, &s);
    r->acc += s;
    if (!Y) return;
    int64_t m = 0; /* the rows that keep a weight, in place */
    for (int64_t b = 0; b < n; ++b)
        if (h[b] != 0.0f) h[m] = h[b], idx[m++] = idx[b];
    project_rows(h, idx, m, Y, O, uhn_rec_z(r), 1);
}

/* a_i + e_i of one query over a tile (tile_screened) into hi: with
 * e_i = two (cp pn_i + cr rn_i + cn xn_i + eabs) + slack (norm2_i + qn2) and
 * a_i the bf16 score d_i (dot) or 2 d_i - norm2_i - qn2 (euclidean). Returns
 * the largest a_i - e_i, and in *best a row of the largest a_i. */
static float screen_bounds(int64_t tn, const float *d, const float *pn, const float *rn,
                           const float *xn, const float *norm2, int euclid, float cp, float cr,
                           float cn, float eabs, float qn2, float *hi, int32_t *best) {
    const float two = euclid ? 2.0f : 1.0f, slack = euclid ? 1e-4f : 0.0f;
    float lower = -INFINITY, amax = -INFINITY;
    int64_t i = 0;
    *best = 0;
#ifdef __AVX512F__
    __m512 vlow = _mm512_set1_ps(-INFINITY), vamax = vlow;
    __m512i vbest = _mm512_setzero_si512(),
            ids = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512 vcp = _mm512_set1_ps(cp), vcr = _mm512_set1_ps(cr), vcn = _mm512_set1_ps(cn);
    const __m512 vabs = _mm512_set1_ps(eabs), vtwo = _mm512_set1_ps(two);
    const __m512 vsl = _mm512_set1_ps(slack), vq2 = _mm512_set1_ps(qn2);
    for (; i < tn; i += 16) {
        const __mmask16 m = tn - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (tn - i)) - 1);
        /* plain loads but in the last vector (simd_load.h) */
        const __m512 n2 = uhn_load16(norm2, i, tn), dv = uhn_load16(d, i, tn);
        __m512 e = _mm512_fmadd_ps(vcp, uhn_load16(pn, i, tn), vabs);
        e = _mm512_fmadd_ps(vcr, uhn_load16(rn, i, tn), e);
        e = _mm512_fmadd_ps(vcn, uhn_load16(xn, i, tn), e);
        e = _mm512_fmadd_ps(vsl, _mm512_add_ps(n2, vq2), _mm512_mul_ps(vtwo, e));
        const __m512 av =
            euclid ? _mm512_sub_ps(_mm512_sub_ps(_mm512_add_ps(dv, dv), n2), vq2) : dv;
        _mm512_mask_storeu_ps(hi + i, m, _mm512_add_ps(av, e));
        vlow = _mm512_mask_max_ps(vlow, m, vlow, _mm512_sub_ps(av, e));
        const __mmask16 up = _mm512_mask_cmp_ps_mask(m, av, vamax, _CMP_GT_OQ);
        vamax = _mm512_mask_mov_ps(vamax, up, av);
        vbest = _mm512_mask_mov_epi32(vbest, up, ids);
        ids = _mm512_add_epi32(ids, _mm512_set1_epi32(16));
    }
    lower = _mm512_reduce_max_ps(vlow);
    amax = _mm512_reduce_max_ps(vamax);
    if (amax > -INFINITY) {
        const __mmask16 at = _mm512_cmp_ps_mask(vamax, _mm512_set1_ps(amax), _CMP_EQ_OQ);
        *best = _mm512_mask_reduce_min_epi32(at, vbest);
    }
#endif
    for (; i < tn; ++i) {
        const float e =
            two * (cp * pn[i] + cr * rn[i] + cn * xn[i] + eabs) + slack * (norm2[i] + qn2);
        const float a = euclid ? 2 * d[i] - norm2[i] - qn2 : d[i];
        hi[i] = a + e;
        lower = a - e > lower ? a - e : lower;
        if (a > amax) amax = a, *best = (int32_t)i;
    }
    return lower;
}

/*
 * The queries of a tile that its rows' norms leave active: query j is skipped
 * when no row can score above its cut, the larger of its running maximum and
 * the probe's bound, plus ln(thr) / beta, so that every weight of the tile is
 * one that tile_weights or the screen would drop. With ||x|| in [xmin, xmax]
 * over the tile, s = x.q <= ||q|| xmax (dot) and s = -||x - q||^2 <= -(the
 * distance from ||q|| to [xmin, xmax])^2 (euclidean), widened by m = 2e-7 K +
 * 1e-5 of ||q|| xmax (dot) or of xmax^2 + ||q||^2 (euclidean), more than the
 * float32 sums' error (K 2^-24 of the sums of absolute terms) and norms'. A
 * sorted bank (uhn_bank_sort) puts rows of like norm in a tile: on W1 of
 * `uhn bench` the bound skips 96 % of the (query, tile) pairs of the energy's
 * pass, on W2 half. Returns the number of active queries, listed in act.
 */
static int64_t tile_active(const uhn_step *st, const uhn_tile *t, const void *recs, int euclid,
                           int64_t *act) {
    const int64_t tn = t->tn, B = st->B;
    float n2min = t->norm2[0], n2max = t->norm2[0];
    for (int64_t i = 1; i < tn; ++i) {
        n2min = t->norm2[i] < n2min ? t->norm2[i] : n2min;
        n2max = t->norm2[i] > n2max ? t->norm2[i] : n2max;
    }
    const double xmin = sqrt((double)n2min), xmax = sqrt((double)n2max);
    const double m = 2e-7 * (double)t->K + 1e-5, lnt = (double)st->ws->ln_thr / st->p->beta;
    int64_t n = 0;
    for (int64_t j = 0; j < B; ++j) {
        const uhn_rec *r = uhn_rec_get(recs, st->rec_bytes, j);
        double top = r->idx >= 0 ? r->best : -INFINITY;
        if (st->floor && st->floor[j] > top) top = st->floor[j];
        const double qn = sqrt((double)st->qb->qnorm2[j]);
        double ub;
        if (euclid) { /* the float32 sums err by at most m (||x||^2 + ||q||^2) */
            const double gap = xmin > qn ? xmin - qn : qn > xmax ? qn - xmax : 0.0;
            ub = -gap * gap + m * (xmax * xmax + qn * qn);
        } else {
            ub = qn * xmax * (1 + m);
        }
        if (!(ub < top + lnt)) act[n++] = j;
    }
    return n;
}

/* Approximate score a_i with |a_i - s_i| <= e_i (screen_bounds). For dot,
 * with p and r the pooled coordinates and residuals of x and q (s = p(x).p(q)
 * + r(x).r(q)): the bf16 bound on the pooled product, plus ||r(x)|| ||r(q)||,
 * with the allowance eta of simd_pool.h for the computed norms and
 * coordinates (7 eta ||x|| ||q|| covers its cross terms) and room for the
 * float arithmetic here. Euclidean, s = -(||x||^2 - 2 x.q + ||q||^2): twice
 * that, plus a relative 1e-4 of the float32 norms. At g = 1, pn is the
 * computed ||x|| (a relative 1e-4 off at most, within grow). The constants,
 * for rows of kn coordinates whose bf16 products have len terms. */
typedef struct {
    float c1, r1, cx, eabs; /* of ||p(q)|| ||p(x)||, ||r(q)|| ||r(x)||, ||q|| ||x||, 1 */
} screen_coef;

static screen_coef screen_coefs(int64_t kn, int64_t len) {
    const double eta = uhn_pool_slack(kn), grow = (1 + eta) * (1 + eta) * (1 + 1e-4);
    const screen_coef c = {(float)(uhn_bf16_bound(len) * grow), (float)grow,
                           (float)(7 * eta + 1e-6), (float)UHN_BF16_ABS};
    return c;
}

/*
 * Query j's bounds over the rows of tile t, from their bf16 scores in hi
 * (replaced by a_i + e_i, screen_bounds), and its cut: the largest a_i - e_i,
 * raised to the exact score of the row of its largest a_i (a close lower
 * bound on the maximum when the residuals are wide), to its running maximum
 * and to the probe's floor; plus ln(thr) / beta, rounded down, so that hi >=
 * cut keeps every row within ln(thr) / beta of the maximum. qp, qr: the
 * query's pooled and residual norms; pn, rn, xn the rows'.
 */
static float query_cut(const uhn_step *st, const void *recs, const uhn_tile *t, int64_t j,
                       int euclid, screen_coef c, float qp, float qr, const float *pn,
                       const float *rn, const float *xn, float *hi) {
    const float qn2 = st->qb->qnorm2[j], qn = (float)sqrt((double)qn2);
    int32_t ib;
    float lower = screen_bounds(t->tn, hi, pn, rn, xn, t->norm2, euclid, c.c1 * qp, c.r1 * qr,
                                c.cx * qn, c.eabs, qn2, hi, &ib); /* some row reaches it */
    float hb;
    exact_scores(st->qb, euclid, t, &ib, 1, j, &hb);
    if (hb > lower) lower = hb;
    const uhn_rec *r = uhn_rec_get(recs, st->rec_bytes, j);
    if (r->idx >= 0 && r->best > lower) lower = (float)r->best;
    if (st->floor && st->floor[j] > lower) lower = st->floor[j]; /* the probe's bound */
    const double cutd = (double)lower + (double)st->ws->ln_thr / st->p->beta;
    float cut = (float)cutd;
    if ((double)cut > cutd) cut = nextafterf(cut, -INFINITY);
    return cut;
}

/* One tile of the screened pass for every query of the batch, at the thread's
 * pooling level; returns the candidates it kept, or -1, without a change to
 * the records, when more than half the pairs are candidates. (Chunks of the tile that fit
 * in L2 were measured slower: the exact score of each query's best row and the
 * bounds per chunk cost more than the candidates' reads from L3 saved.) */
static int64_t tile_candidates(const uhn_step *st, const uhn_tile *t, void *recs, work *w,
                               int64_t *pairs) {
    const uhn_qblock *qb = st->qb;
    const uhn_kws *ws = st->ws;
    const int level = w->level, g = 1 << level;
    const int64_t tn = t->tn, kn = qb->k1 - qb->k0, d = uhn_pool_len(kn, g);
    const int64_t Kp = uhn_bf16_pad(g == 1 ? kn : d);
    const int euclid = !is_dot(st);
    const int64_t nact = tile_active(st, t, recs, euclid, w->act);
    *pairs = nact * tn;
    if (nact == 0) return 0;
    float *pn = w->xn + tn, *rn = w->xn + 2 * tn; /* pooled and residual norms of the rows */
    for (int64_t i = 0; i < tn; ++i) w->xn[i] = sqrtf(t->norm2[i]);
    screen_queries(st, (uhn_kws *)ws, level);
    pool_bf16(t->x + qb->k0, tn, kn, t->K, g, w->scr.a, w->xb, Kp, g == 1 ? NULL : pn, rn);
    if (g == 1) /* ||x|| over all K bounds the norm over the columns screened */
        for (int64_t i = 0; i < tn; ++i) pn[i] = w->xn[i], rn[i] = 0.0f;
    const uint16_t *Q = ws->qb[level];
    if (nact < st->B) { /* the active queries' pooled rows, gathered */
        for (int64_t a = 0; a < nact; ++a)
            memcpy(w->qsub + a * Kp, Q + w->act[a] * Kp, (size_t)Kp * sizeof(uint16_t));
        Q = w->qsub;
    }
    uhn_bf16_dots(w->xb, tn, Q, nact, Kp, w->St, tn); /* row a of St: query act[a] */
    /* First every query's bound (a_i + e_i, in place of its bf16 scores) and
     * cut, and the number of candidates; then their exact scores. */
    const screen_coef c = screen_coefs(kn, g == 1 ? kn : d);
    float *h = w->Gd, *cuts = w->Gd + tn; /* exact scores of the candidates; cut per query */
    int64_t kept = 0;
    for (int64_t a = 0; a < nact; ++a) {
        const int64_t j = w->act[a];
        float *hi = w->St + a * tn;
        cuts[a] = query_cut(st, recs, t, j, euclid, c, ws->qpn[level][j], ws->qrn[level][j], pn, rn,
                            w->xn, hi);
        kept += select_rows(hi, tn, cuts[a], w->cand);
    }
    /* Most pairs candidates (a small beta): the float32 pass is cheaper. */
    if (ws->force_level < 0 && 2 * kept > nact * tn) return -1;
    for (int64_t a = 0; a < nact; ++a) {
        const int64_t j = w->act[a], n = select_rows(w->St + a * tn, tn, cuts[a], w->cand);
        if (n == 0) continue;
        exact_scores(qb, euclid, t, w->cand, n, j, h);
        lse_fold(st, uhn_rec_at(recs, st->rec_bytes, j), h, w->cand, n, t, NULL);
    }
    return kept;
}

/* One tile of the screened pass; then the level for the next tile. Returns 0
 * when the tile is left to the float32 pass (and so are the thread's next). */
static int tile_screened(const uhn_step *st, const uhn_tile *t, void *recs, work *w) {
    const int level = w->level;
    int64_t pairs;
    const int64_t kept = tile_candidates(st, t, recs, w, &pairs);
    if (kept < 0) { /* the scores are too close for a screen to reject many rows */
        w->level = 0, w->pairs = 1, w->kept = 1;
        return 0;
    }
    if (level == 0) w->pairs += pairs, w->kept += kept;
    if (st->ws->force_level >= 0) return 1;
    /* The first tile's cut comes from its own rows only (no maximum so far):
     * its share of candidates says little about the next tiles'. */
    if (pairs > 0 && w->tiles++ > 0)
        w->level = screen_next_level(level, (double)kept / (double)pairs, st->qb->k1 - st->qb->k0);
    if (w->level != level) w->pairs = w->kept = 0;
    return 1;
}

/* ---------- few queries: the screen over a pooled copy of the bank ---------- */

/*
 * A recall of a few queries (a batch of at most 2 UHN_SMALL_BATCH) does a
 * few dot products for every 4 K bytes of the bank it reads: each step is
 * bound by reading the whole bank (W4 of `uhn bench`: one query, iterated).
 * At the betas of real studies its softmax keeps a few rows, as the energy's
 * screen above finds for batches, but pooling the rows at every step would
 * read the bank anyway. So the bank is pooled once, into a persistent bf16
 * copy in groups of g = 16 coordinates where that copy costs at most 1 /
 * UHN_POOLED_SHARE of the bank (136 bytes a row against 3,136 for
 * Fashion-MNIST), block by block as the first step reads each block's
 * float32 rows. Every step then reads that copy and, of the float32 rows,
 * only the candidates': the bound and the cut are those of tile_candidates,
 * and the candidates' exact scores, weights and projection fold into the
 * records as tile_weights does (lse_fold). A block where most rows are
 * candidates (a small beta, a state far from every memory) goes to the
 * float32 pass; a thread that keeps more than 1 / UHN_SCREEN_RATIO of its
 * pairs over its first four blocks of a step scores the rest of that step in
 * float32 without pooling (at beta = 1 / K, where every row keeps a weight,
 * `uhn bench`'s iterated query ran within the noise of the float32 pass).
 * Softmax of raw dot or euclidean scores without a cue, K >= UHN_SCREEN_MIN_K.
 * (Groups of 8, a copy twice the size, ran W4 at beta = 1 no faster: 13.6-16.9
 * against 9.3-13.0 ms for 20 steps at 2 ranks.)
 */
#define UHN_POOLED_SHARE 10
/* The first step pools the bank and touches the copy's fresh pages: one
 * query at beta = 1 on 2 ranks, about 3.5 float32 steps on W4's 60,000 rows
 * and 6 on 10^6 x 784 (where this VM's first touch of 68 MB a rank is slow);
 * each later step a tenth of one or less. So the copy serves recalls of at
 * least this many steps. */
#define UHN_POOLED_MIN_STEPS 6
#define UHN_POOLED_LEVEL     4   /* groups of 16 coordinates */
#define UHN_POOLED_ROWS      128 /* rows of a block, rounded up to whole tiles */

static int pooled_applies(const uhn_step *st) {
    /* UHN_SCREEN_GROUP (tests, measurements) makes it serve any recall */
    if ((st->p->steps < UHN_POOLED_MIN_STEPS && st->ws->force_level < 0) ||
        st->kind != UHN_RED_LSE || st->p->score != UHN_SCORE_RAW || st->qb->mask ||
        st->ws->Bmax > 2 * UHN_SMALL_BATCH || st->K < UHN_SCREEN_MIN_K || st->ws->pb < 0)
        return 0;
    const char *name = uhn_similarity_name(st->p->sim);
    return !strcmp(name, "dot") || !strcmp(name, "euclidean");
}

/* bf16 row length of rows of K coordinates pooled in groups of 1 << level. */
static int64_t pooled_kp(int64_t K, int level) {
    return uhn_bf16_pad(uhn_pool_len(K, 1 << level));
}

/* The pooled bank's buffers, on first use; 0 when it cannot run (then it never does). */
static int pooled_ready(const uhn_bank *bk, uhn_kws *ws) {
    if (ws->pb) return ws->pb > 0;
    int level = ws->force_level; /* UHN_SCREEN_GROUP, else g = 16 where its copy fits the share */
    if (level < 0 &&
        (2 * pooled_kp(bk->K, UHN_POOLED_LEVEL) + 2 * 4) * UHN_POOLED_SHARE <= 4 * bk->K)
        level = UHN_POOLED_LEVEL;
    int ok = level >= 0 && uhn_bf16_available();
    if (ok) {
        const int64_t n = bk->n_local, Kp = pooled_kp(bk->K, level), tn = ws->tn;
        const int64_t rows = tn * ((UHN_POOLED_ROWS + tn - 1) / tn), nq = 2 * UHN_SMALL_BATCH;
        const int64_t K16 = uhn_pool_len(bk->K, 1);
        ws->pb_level = level, ws->pb_Kp = Kp, ws->pb_rows = rows;
        /* the copy and its rows' two norms in one buffer: as buffers of their
         * own, the norms (240 KB each at 60,000 rows) took 4 KiB pages, 120
         * faults (~2 ms) in W4's second step at 1 rank, 55 a rank at 2 */
        const size_t xbytes = ((size_t)(n * Kp) * sizeof(uint16_t) + 63) & ~(size_t)63;
        ws->pb_x = uhn_alloc(xbytes + (size_t)(2 * n) * sizeof(float));
        ws->pb_pn = ws->pb_x ? (float *)((char *)ws->pb_x + xbytes) : NULL;
        ws->pb_rn = ws->pb_pn ? ws->pb_pn + n : NULL;
        ws->pb_done = calloc((size_t)((n + rows - 1) / rows), 1);
        ws->pb_q = uhn_alloc((size_t)(nq * Kp) * sizeof(uint16_t));
        ws->pb_qpn = uhn_alloc((size_t)nq * sizeof(float));
        ws->pb_qrn = uhn_alloc((size_t)nq * sizeof(float));
        if (!ws->qp) ws->qp = uhn_alloc((size_t)(UHN_POOL_ROWS * K16) * sizeof(float));
        ok = ws->pb_x && ws->pb_pn && ws->pb_rn && ws->pb_done && ws->pb_q && ws->pb_qpn &&
             ws->pb_qrn && ws->qp;
        /* The copy's fresh pages, touched by the threads in parallel (the
         * blocks of one page belong to both threads: left to the first
         * block's writes, one thread's fault waits for the other's). */
        if (ok) {
            const int64_t bytes = n * Kp * (int64_t)sizeof(uint16_t), page = 2 << 20;
#pragma omp parallel for num_threads(ws->nt) schedule(static)
            for (int64_t off = 0; off < bytes; off += page) ((volatile char *)ws->pb_x)[off] = 0;
        }
        for (int t = 0; ok && t < ws->nt; ++t) {
            work *w = &ws->w[t];
            w->pS = uhn_alloc((size_t)(nq * rows) * sizeof(float));
            w->ph = uhn_alloc((size_t)rows * sizeof(float));
            w->pxn = uhn_alloc((size_t)rows * sizeof(float));
            w->pcut = uhn_alloc((size_t)nq * sizeof(float));
            w->pstage = uhn_alloc((size_t)(UHN_POOL_ROWS * K16) * sizeof(float));
            w->pcand = uhn_alloc((size_t)rows * sizeof(int32_t));
            ok = w->pS && w->ph && w->pxn && w->pcut && w->pstage && w->pcand;
        }
    }
    ws->pb = ok ? 1 : -1; /* without the memory, the float32 pass does the same */
    return ok;
}

/* Rows [i0, i0 + n) of the local bank (a block of the pooled copy) pooled
 * into the copy, unless a step has pooled them already. Only ever the thread
 * that takes the block. */
static void pool_block(const uhn_step *st, int64_t i0, int64_t n, work *w) {
    uhn_kws *ws = st->ws;
    uint8_t *done = &ws->pb_done[i0 / ws->pb_rows];
    if (*done) return;
    const uhn_tile t = bank_tile(st->bank, i0, n);
    pool_bf16(t.x, n, st->bank->K, st->bank->K, 1 << ws->pb_level, w->pstage,
              ws->pb_x + i0 * ws->pb_Kp, ws->pb_Kp, ws->pb_pn + i0, ws->pb_rn + i0);
    *done = 1;
}

/*
 * One block of the pooled screen: rows [i0, i0 + n) of the local bank for
 * every query of the step, pooled first if no step has pooled them yet.
 * Returns 1 when it folded the block into the records, 0 (records unchanged)
 * when more than half its (query, row) pairs are candidates.
 */
static int block_pooled(const uhn_step *st, int64_t i0, int64_t n, void *recs, work *w) {
    const uhn_bank *bk = st->bank;
    uhn_kws *ws = st->ws;
    const uhn_qblock *qb = st->qb;
    const int g = 1 << ws->pb_level, euclid = !is_dot(st);
    const int64_t K = bk->K, Kp = ws->pb_Kp, B = st->B, ld = ws->pb_rows;
    uint16_t *xb = ws->pb_x + i0 * Kp;
    float *pn = ws->pb_pn + i0, *rn = ws->pb_rn + i0;
    const uhn_tile t = bank_tile(bk, i0, n);
    pool_block(st, i0, n, w);
    for (int64_t i = 0; i < n; ++i) w->pxn[i] = sqrtf(t.norm2[i]);
    uhn_bf16_dots(xb, n, ws->pb_q, B, Kp, w->pS, ld);
    /* The bound of tile_candidates, over all K coordinates (a query is 0
     * outside [k0, k1), so its pooled product is the same). */
    const screen_coef c = screen_coefs(K, uhn_pool_len(K, g));
    int64_t kept = 0;
    for (int64_t j = 0; j < B; ++j) {
        float *hi = w->pS + j * ld;
        w->pcut[j] =
            query_cut(st, recs, &t, j, euclid, c, ws->pb_qpn[j], ws->pb_qrn[j], pn, rn, w->pxn, hi);
        kept += select_rows(hi, n, w->pcut[j], w->pcand);
    }
    w->ppairs += B * n, w->pkept += kept;
    if (ws->force_level < 0 && 2 * kept > B * n) return 0;
    const float *Y = st->need_z ? bk->values + i0 * bk->O : NULL;
    for (int64_t j = 0; j < B; ++j) {
        const int64_t nc = select_rows(w->pS + j * ld, n, w->pcut[j], w->pcand);
        if (nc == 0) continue;
        exact_scores(qb, euclid, &t, w->pcand, nc, j, w->ph);
        lse_fold(st, uhn_rec_at(recs, st->rec_bytes, j), w->ph, w->pcand, nc, &t, Y);
    }
    return 1;
}

/*
 * One tile in float32 for the queries of the step: scores, weights and their
 * projection into the thread's records. With skip (a sorted bank), the
 * queries that the tile's norms leave no weight (tile_active) are left out.
 * prescored: me->St already holds the tile's scores (the probe's tile 0).
 */
static void tile_float32(const uhn_step *st, const uhn_tile *t, work *me, int skip, int prescored) {
    const uhn_bank *bk = st->bank;
    const float *Y = bk->values + (t->g0 - bk->row0) * bk->O; /* the tile's value rows */
    /* the queries the tile's norms leave active (all, or a subset gathered) */
    int64_t nb = st->B;
    const int64_t *act = NULL;
    const uhn_step *ss = st;
    uhn_step sub;
    uhn_qblock sqb;
    if (skip) {
        nb = tile_active(st, t, me->recs, !is_dot(st), me->act);
        if (nb == 0) return;
        if (nb < st->B) {
            act = me->act;
            sub = *st, sqb = *st->qb, sub.B = sqb.B = nb, sub.qb = &sqb;
            sqb.q = me->qg, sqb.qnorm2 = me->qgn, sqb.qsum = me->qgn + nb;
            /* Whole rows: euclidean_block sums a near match's distance
             * over all K columns (direct_sqdist), not only [k0, k1). */
            for (int64_t a = 0; a < nb; ++a) {
                const int64_t j = act[a];
                memcpy(me->qg + a * st->K, st->qb->q + j * st->K, (size_t)st->K * sizeof(float));
                me->qgn[a] = st->qb->qnorm2[j], me->qgn[nb + a] = st->qb->qsum[j];
            }
            ss = &sub;
        }
    }
    if (!prescored) tile_scores(ss, t, me->St, &me->scr);
    for (int64_t a = 0; a < nb; ++a) {
        const int64_t j = act ? act[a] : a;
        me->nzq[a] =
            tile_weights(st, j, me->St + a * t->tn, t, Y, uhn_rec_at(me->recs, st->rec_bytes, j));
    }
    if (st->need_z) tile_project(st, me->St, nb, act, t->tn, Y, me->recs, me->nzq, me);
}

/*
 * The similarities whose hinted rows the probe scores, with the scale of
 * their sums' round-off (hinted_score): ||x|| ||q|| (dot), 1 (cosine),
 * ||x||^2 + ||q||^2 (euclidean), |s| (manhattan: a sum of non-negative
 * terms). The similarities of logarithms, whose round-off has no such scale,
 * take no hint.
 */
typedef enum { HINT_NONE, HINT_NORMS, HINT_ONE, HINT_NORM2_SUM, HINT_SCORE } hint_scale;
static const struct {
    const char *sim;
    hint_scale scale;
} hint_scales[] = {{"dot", HINT_NORMS},
                   {"cosine", HINT_ONE},
                   {"euclidean", HINT_NORM2_SUM},
                   {"manhattan", HINT_SCORE}};

static hint_scale hint_scale_of(const uhn_step *st) {
    const char *name = uhn_similarity_name(st->p->sim);
    for (size_t i = 0; i < sizeof hint_scales / sizeof hint_scales[0]; ++i)
        if (!strcmp(name, hint_scales[i].sim)) return hint_scales[i].scale;
    return HINT_NONE;
}

int uhn_kernel_fast_hint_scored(const uhn_step *st) {
    return hint_scale_of(st) != HINT_NONE;
}

/*
 * A hinted row's score for the probe: its score in double
 * (uhn_similarity_ref), lowered by more than the float32 kernels' round-off
 * on the same row, m = 2e-7 K + 1e-5 (as tile_active) of the sum's scale
 * (hint_scales), and rounded down to float. The floor must not exceed the
 * kernel's own score of that row: at a large beta the cut is the floor
 * itself (ln(thr) / beta ~ -3e-29 at beta = 1e30), and a floor above every
 * score the kernel computed left the log-sum-exp empty (`test_beta`, 3 steps
 * at 2 ranks).
 */
static float hinted_score(const uhn_step *st, const float *x, const float *q, const uint8_t *cue) {
    const int64_t K = st->K;
    const hint_scale kind = hint_scale_of(st);
    const double m = 2e-7 * (double)K + 1e-5, s = uhn_similarity_ref(st->p->sim, x, q, cue, K);
    double xx = 0, qq = 0; /* over all K: at least the cue's */
    for (int64_t k = 0; (kind == HINT_NORMS || kind == HINT_NORM2_SUM) && k < K; ++k)
        xx += (double)x[k] * x[k], qq += (double)q[k] * q[k];
    const double scale = kind == HINT_NORMS       ? sqrt(xx * qq)
                         : kind == HINT_NORM2_SUM ? xx + qq
                         : kind == HINT_SCORE     ? fabs(s)
                                                  : 1.0;
    const double low = s - m * scale;
    float f = (float)low;
    if ((double)f > low) f = nextafterf(f, -INFINITY);
    return f;
}

float *uhn_kernel_fast_probe(const uhn_step *st) {
    const uhn_bank *bk = st->bank;
    uhn_kws *ws = st->ws;
    work *w = &ws->w[0];
    const int64_t tn = bk->n_local < ws->tn ? bk->n_local : ws->tn;
    float *mx = ws->floor;
    for (int64_t j = 0; j < st->B; ++j) mx[j] = -INFINITY;
    /* A tile's scores, unless the bank is sorted and every query has a hint
     * (a state after a step: its last arg-max's row bounds it well). */
    const int hints = st->hint && uhn_kernel_fast_hint_scored(st);
    int64_t hinted = 0;
    for (int64_t j = 0; hints && j < st->B; ++j) hinted += st->hint[j] >= 0;
    const int sample = !(bk->gidx && hinted == st->B);
    if (tn > 0 && sample) {
        uhn_tile t = bank_tile(bk, 0, tn);
        if (bk->gidx) { /* the first tile holds the largest norms: rows from every tile */
            for (int64_t a = 0; a < tn; ++a) {
                const int64_t i = a * bk->n_local / tn;
                memcpy(ws->px + a * bk->K, bk->keys + i * bk->K, (size_t)bk->K * sizeof(float));
                ws->pn2[a] = bk->key_norm2[i], ws->psum[a] = bk->key_sum[i];
            }
            t.x = ws->px, t.norm2 = ws->pn2, t.sum = ws->psum;
        }
        tile_scores(st, &t, w->St, &w->scr);
        for (int64_t j = 0; j < st->B; ++j) mx[j] = w->St[j * tn + first_max(w->St + j * tn, tn)];
    }
    for (int64_t j = 0; hints && j < st->B; ++j) { /* the hinted rows this rank holds */
        const int64_t g = st->hint[j] - bk->row0;
        if (st->hint[j] < 0 || g < 0 || g >= bk->n_local) continue;
        const int64_t i = bk->gidx ? ws->pos[g] : g;
        const float s =
            hinted_score(st, bk->keys + i * bk->K, st->v + j * bk->K, uhn_step_cue(st, j));
        if (s > mx[j]) mx[j] = s;
    }
    /* thread 0 takes tile 0 first (schedule(static, 1)): no second scoring */
    ws->prescored = tn > 0 && sample && !bk->gidx && st->need_z;
    return mx;
}

int uhn_kernel_fast(uhn_ctx *ctx, const uhn_step *st, void *recs) {
    (void)ctx;
    const uhn_bank *bk = st->bank;
    uhn_kws *ws = st->ws;
    if (bk->n_local == 0) return UHN_OK;
    const int64_t tn = ws->tn, ntiles = (bk->n_local + tn - 1) / tn;
    const int screen = screen_applies(st) && screen_ready(bk, ws);
    if (screen) { /* the queries' norms; their pooled levels on first use */
        for (int l = 0; l < UHN_SCREEN_LEVELS; ++l) ws->qready[l] = 0;
        for (int64_t j = 0; j < st->B; ++j) ws->qn[j] = sqrt((double)st->qb->qnorm2[j]);
    }
    const int pre = ws->prescored; /* this step's probe scored tile 0 */
    /* never with screen: the copy serves batches of at most 2 UHN_SMALL_BATCH, the screen larger */
    const int pooled = pooled_applies(st) && pooled_ready(bk, ws);
    if (pooled) /* this step's queries, pooled as the bank */
        pool_bf16(st->qb->q, st->B, bk->K, bk->K, 1 << ws->pb_level, ws->qp, ws->pb_q, ws->pb_Kp,
                  ws->pb_qpn, ws->pb_qrn);
    /* A sorted bank's tiles skip the queries whose weights there are all
     * dropped (tile_active); the float32 pass of softmax, dot or euclidean. */
    const int skip = bk->gidx && st->kind == UHN_RED_LSE && st->p->score == UHN_SCORE_RAW &&
                     !st->qb->mask &&
                     (is_dot(st) || !strcmp(uhn_similarity_name(st->p->sim), "euclidean"));
    ws->prescored = 0;
    ws->w[0].recs = recs;
    for (int t = 1; t < ws->nt; ++t) memcpy(ws->w[t].recs, recs, (size_t)st->B * st->rec_bytes);
#pragma omp parallel num_threads(ws->nt)
    {
        work *me = &ws->w[omp_get_thread_num()];
        me->pairs = me->kept = 0;
        me->level = ws->force_level >= 0 ? ws->force_level : UHN_SCREEN_START;
        me->tiles = 0;
        me->ppairs = me->pkept = 0;
        if (pooled) {
            /* Contiguous ranges of blocks, as ranks hold theirs: a block's
             * work is a bf16 screen of its rows and a few candidates', alike
             * for every block, and dealt round-robin each thread's reads
             * jumped every block (W4's later steps at 1 rank x 2 threads
             * 0.146-0.156 ms a step against 0.117-0.125 contiguous, 2 ranks
             * x 1 0.120-0.128). After its first four blocks a thread whose
             * screen keeps too many rows goes to float32. */
            const int64_t rows = ws->pb_rows, nblk = (bk->n_local + rows - 1) / rows;
#pragma omp for schedule(static)
            for (int64_t b = 0; b < nblk; ++b) {
                const int64_t i0 = b * rows, n = bk->n_local - i0 < rows ? bk->n_local - i0 : rows;
                const int tries =
                    me->ppairs < 4 * rows * st->B || me->pkept * UHN_SCREEN_RATIO <= me->ppairs;
                if (tries && block_pooled(st, i0, n, me->recs, me)) continue;
                /* In float32; pooled as well while its rows are in cache
                 * (a first step far from every memory keeps most rows:
                 * pooling each block in the next step re-read the bank, 3.5
                 * ms of W4's second step a rank at 2 ranks). */
                pool_block(st, i0, n, me);
                for (int64_t t0 = i0; t0 < i0 + n; t0 += tn) {
                    const uhn_tile t = bank_tile(bk, t0, i0 + n - t0 < tn ? i0 + n - t0 : tn);
                    tile_float32(st, &t, me, skip, 0);
                }
            }
        } else {
            /* Tiles dealt round-robin: a sorted bank's first tiles (the largest
             * norms) keep the most weights, and contiguous ranges left one thread
             * most of the work (1 rank x 2 threads ran W1 of `uhn bench` 1.37x
             * slower than 2 ranks x 1). Deterministic: thread t always takes
             * tiles t, t + nt, ... (thread 0 tile 0 first: see prescored). */
#pragma omp for schedule(static, 1)
            for (int64_t tile = 0; tile < ntiles; ++tile) {
                int64_t i0 = tile * tn;
                uhn_tile t = bank_tile(bk, i0, tn);
                if (screen && (me->level > 0 || me->kept * UHN_SCREEN_RATIO <= me->pairs) &&
                    tile_screened(st, &t, me->recs, me))
                    continue;
                tile_float32(st, &t, me, skip, pre && tile == 0 && me == &ws->w[0]);
            }
        }
    }
    for (int t = 1; t < ws->nt; ++t)
        for (int64_t j = 0; j < st->B; ++j)
            uhn_rec_merge(uhn_rec_at(ws->w[t].recs, st->rec_bytes, j),
                          uhn_rec_at(recs, st->rec_bytes, j));
    ws->w[0].recs = NULL;
    return UHN_OK;
}
