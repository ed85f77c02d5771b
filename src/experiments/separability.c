/*
 * Separability of codes (spec §12): the distributed cosine matrix, binned
 * tile by tile, and the serial reference beside it. See uhn/separability.h for
 * the contract and the choice of float64.
 *
 * Data flow of uhn_separability:
 *   1. each rank normalises its own rows (contiguous blocks of ceil(n / P)
 *      rows) into float64; a row-major block of rows is, column-major, a
 *      D x rows block of the transposed matrix, so on a 1 x P BLACS grid with
 *      column blocks of ceil(n / P) it is already a ScaLAPACK distribution;
 *   2. pdgemr2d moves both transposed matrices (D x B and D x N) onto the
 *      near-square 2-D grid with square blocks;
 *   3. for every tile of T x T cosines, pdgemm writes C = Q^T M into a tile
 *      matrix distributed like that part of the full matrix, and each rank
 *      bins its own entries: self values are kept per query, cross values go
 *      to the histogram, the sums and the per-query largest cross value;
 *   4. one MPI_Allreduce each merges the per-query self and largest cross
 *      values (MAX), the cross histogram and the sums (SUM).
 * Self statistics come from the merged per-query self values (B of them, the
 * same on every rank), so only the cross sums are reduced.
 */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/fault.h"
#include "linalg/blacs_grid.h"
#include "linalg/scalapack.h"
#include "uhn/separability.h"

void uhn_sep_params_default(uhn_sep_params *p) {
    p->bins = UHN_SEP_BINS_DEFAULT;
    p->block = UHN_SEP_BLOCK_DEFAULT;
    p->tile = UHN_SEP_TILE_DEFAULT;
}

int uhn_sep_result_init(uhn_ctx *ctx, int64_t bins, uhn_sep_result *res) {
    memset(res, 0, sizeof *res);
    if (bins < 1 || bins > UHN_SEP_BINS_MAX)
        return uhn_fail_param(ctx, UHN_EINPUT, "bins", "bins must be from 1 to %d (got %lld)",
                              UHN_SEP_BINS_MAX, (long long)bins);
    res->bins = bins;
    res->self_hist = calloc((size_t)bins, sizeof *res->self_hist);
    res->cross_hist = calloc((size_t)bins, sizeof *res->cross_hist);
    res->bin_edges = malloc((size_t)(bins + 1) * sizeof *res->bin_edges);
    if (!res->self_hist || !res->cross_hist || !res->bin_edges) {
        uhn_sep_result_free(res);
        return uhn_fail(ctx, UHN_ENOMEM, "out of memory for %lld histogram bins", (long long)bins);
    }
    for (int64_t k = 0; k <= bins; ++k) res->bin_edges[k] = -1.0 + 2.0 * (double)k / (double)bins;
    return UHN_OK;
}

void uhn_sep_result_free(uhn_sep_result *res) {
    free(res->self_hist);
    free(res->cross_hist);
    free(res->bin_edges);
    res->self_hist = res->cross_hist = NULL;
    res->bin_edges = NULL;
}

void uhn_sep_rows(const uhn_ctx *ctx, int64_t n, int64_t *row0, int64_t *nrows) {
    int64_t per = (n + ctx->size - 1) / ctx->size;
    int64_t a = per * ctx->rank, b = a + per;
    if (a > n) a = n;
    if (b > n) b = n;
    *row0 = a;
    *nrows = b - a;
}

/* ------------------------------------------------------------------------ */
/* Shared by the distributed path and the reference                         */

double uhn_sep_tie_tolerance(int64_t D) {
    /* A float64 dot product of two unit vectors of length D is off by at most
     * about D * 2^-53 (plus a few ulps from the normalisation). */
    double t = 4.0 * (double)(D + 4) * 0x1p-53;
    return t > 1e-12 ? t : 1e-12;
}

static double clamp_cos(double c) {
    return c > 1.0 ? 1.0 : c < -1.0 ? -1.0 : c;
}

/* The bin of a clamped cosine; the same arithmetic as the tests' numpy. */
static int64_t bin_of(double c, int64_t bins) {
    int64_t k = (int64_t)((c + 1.0) * (0.5 * (double)bins));
    return k < 0 ? 0 : k >= bins ? bins - 1 : k;
}

/* Compensated (Kahan-Babuska) running sum. */
typedef struct ksum {
    double s, c;
} ksum;

static void ksum_add(ksum *k, double x) {
    double t = k->s + x;
    k->c += fabs(k->s) >= fabs(x) ? (k->s - t) + x : (x - t) + k->s;
    k->s = t;
}

/* The cross values of one stretch of entries, summed plainly (a tile holds
 * few enough values that float64 round-off stays near 1e-13), then added to
 * the compensated totals. */
typedef struct cross_acc {
    int64_t *hist;
    ksum sum, sumsq;
    int64_t count;
} cross_acc;

/* Everything after the cosines: self statistics from the per-query self
 * values, cross statistics from the merged sums, the histograms' overlap and
 * top1. self[B], maxcross[B] and cross_hist are complete here. */
static void finish(const double *self, const double *maxcross, int64_t B, int64_t D,
                   double cross_sum, double cross_sumsq, int64_t n_cross, uhn_sep_result *res) {
    const double tie = uhn_sep_tie_tolerance(D);
    double s = 0, ss = 0;
    int64_t top = 0;
    memset(res->self_hist, 0, (size_t)res->bins * sizeof *res->self_hist);
    for (int64_t i = 0; i < B; ++i) {
        s += self[i];
        res->self_hist[bin_of(self[i], res->bins)]++;
        top += self[i] > maxcross[i] + tie;
    }
    double mean = s / (double)B;
    for (int64_t i = 0; i < B; ++i) ss += (self[i] - mean) * (self[i] - mean);
    res->n_self = B;
    res->n_cross = n_cross;
    res->n_top1 = top;
    res->self_mean = mean;
    res->self_std = sqrt(ss / (double)B);
    res->cross_mean = cross_sum / (double)n_cross;
    double var = cross_sumsq / (double)n_cross - res->cross_mean * res->cross_mean;
    res->cross_std = sqrt(var > 0 ? var : 0); /* round-off may leave a tiny negative */
    double pooled = sqrt((res->self_std * res->self_std + res->cross_std * res->cross_std) / 2);
    res->dprime = (res->self_mean - res->cross_mean) / pooled; /* IEEE: +-Inf or NaN at 0 */
    double ov = 0;
    for (int64_t k = 0; k < res->bins; ++k) {
        double ps = (double)res->self_hist[k] / (double)B;
        double pc = (double)res->cross_hist[k] / (double)n_cross;
        ov += ps < pc ? ps : pc;
    }
    res->overlap = ov;
    res->top1 = (double)top / (double)B;
}

static int check_sizes(uhn_ctx *ctx, int64_t B, int64_t N, int64_t D, int64_t bins) {
    if (B < 1 || N < 2 || B > N || D < 1 || N > INT_MAX || D > INT_MAX)
        return uhn_fail(ctx, UHN_EINPUT,
                        "separability needs 1 <= B <= N, N >= 2 and N, D <= %d (got B = %lld, "
                        "N = %lld, D = %lld)",
                        INT_MAX, (long long)B, (long long)N, (long long)D);
    if (bins < 1 || bins > UHN_SEP_BINS_MAX)
        return uhn_fail(ctx, UHN_EINTERNAL, "separability result not initialised");
    return UHN_OK;
}

/* ------------------------------------------------------------------------ */
/* The reference                                                            */

static double norm_of(const float *x, int64_t D) {
    double s = 0;
    for (int64_t k = 0; k < D; ++k) s += (double)x[k] * (double)x[k];
    return sqrt(s);
}

int uhn_separability_ref(uhn_ctx *ctx, const float *queries, int64_t B, const float *memories,
                         int64_t N, int64_t D, uhn_sep_result *res) {
    UHN_CALL(check_sizes(ctx, B, N, D, res->bins));
    double *self = malloc((size_t)B * sizeof *self), *maxc = malloc((size_t)B * sizeof *maxc);
    double *mnorm = malloc((size_t)N * sizeof *mnorm);
    if (!self || !maxc || !mnorm) {
        free(self), free(maxc), free(mnorm);
        return uhn_fail(ctx, UHN_ENOMEM, "out of memory in the separability reference");
    }
    for (int64_t j = 0; j < N; ++j) mnorm[j] = norm_of(memories + j * D, D);
    memset(res->cross_hist, 0, (size_t)res->bins * sizeof *res->cross_hist);
    ksum sum = {0, 0}, sumsq = {0, 0};
    for (int64_t i = 0; i < B; ++i) {
        const float *q = queries + i * D;
        double qn = norm_of(q, D);
        maxc[i] = -INFINITY;
        for (int64_t j = 0; j < N; ++j) {
            double dot = 0;
            for (int64_t k = 0; k < D; ++k) dot += (double)q[k] * (double)memories[j * D + k];
            double c = qn > 0 && mnorm[j] > 0 ? clamp_cos(dot / (qn * mnorm[j])) : 0.0;
            if (j == i) {
                self[i] = c;
                continue;
            }
            res->cross_hist[bin_of(c, res->bins)]++;
            ksum_add(&sum, c);
            ksum_add(&sumsq, c * c);
            if (c > maxc[i]) maxc[i] = c;
        }
    }
    finish(self, maxc, B, D, sum.s + sum.c, sumsq.s + sumsq.c, B * N - B, res);
    free(self), free(maxc), free(mnorm);
    return UHN_OK;
}

/* ------------------------------------------------------------------------ */
/* The distributed path                                                     */

typedef struct sep_work {
    uhn_ctx *ctx;
    int64_t B, N, D, bins;
    int blk, tile;
    uhn_blacs_grid g2; /* the 2-D grid of the product */
    int g1_ictxt;      /* the 1 x P grid of the rows as read */
    int have_g1, have_g2;
    double *qt, *mt; /* Q^T (D x B) and M^T (D x N) on g2, column-major; owned */
    int desc_q[9], desc_m[9];
    double *c;           /* one tile of C on g2; owned */
    double *self, *maxc; /* [B] */
    cross_acc acc;
} sep_work;

/* Global index of local index l of a block-cyclic dimension. */
static int64_t global_of(int64_t l, int nb, int p, int src, int np) {
    return ((l / nb) * np + (p - src + np) % np) * (int64_t)nb + l % nb;
}

static int local_count(int n, int nb, int p, int src, int np) {
    return numroc_(&n, &nb, &p, &src, &np);
}

/* Rows of x (nrows x D, row-major float32) divided by their norms, as float64.
 * A zero row stays zero, so its cosines are 0. */
static void normalise_rows(const float *x, int64_t nrows, int64_t D, double *out) {
    for (int64_t r = 0; r < nrows; ++r) {
        double n = norm_of(x + r * D, D), inv = n > 0 ? 1.0 / n : 0.0;
        for (int64_t k = 0; k < D; ++k) out[r * D + k] = (double)x[r * D + k] * inv;
    }
}

/* Normalises this rank's rows of an n x D matrix and moves the transposed
 * matrix (D x n) from the 1 x P grid onto g2 with block blk. */
static int distribute(sep_work *w, const float *rows, int64_t n, double **out, int *desc) {
    uhn_ctx *ctx = w->ctx;
    int64_t row0, nrows;
    uhn_sep_rows(ctx, n, &row0, &nrows);
    const int D = (int)w->D, ni = (int)n, zero = 0, one = 1;
    const int per = (int)((n + ctx->size - 1) / ctx->size);
    int lr = local_count(D, w->blk, w->g2.myrow, 0, w->g2.nprow);
    int lc = local_count(ni, w->blk, w->g2.mycol, 0, w->g2.npcol);
    int lld = lr > 1 ? lr : 1, info1 = 0, info2 = 0, desc1[9];
    double *src = malloc((size_t)D * (size_t)(nrows > 0 ? nrows : 1) * sizeof *src);
    *out = malloc((size_t)lld * (size_t)(lc > 0 ? lc : 1) * sizeof **out);
    int st = src && *out ? UHN_OK
                         : uhn_fail(ctx, UHN_ENOMEM, "out of memory distributing %lld x %lld codes",
                                    (long long)n, (long long)D);
    if (st == UHN_OK) {
        normalise_rows(rows, nrows, w->D, src);
        descinit_(desc1, &D, &ni, &D, &per, &zero, &zero, &w->g1_ictxt, &D, &info1);
        descinit_(desc, &D, &ni, &w->blk, &w->blk, &zero, &zero, &w->g2.ictxt, &lld, &info2);
        if (info1 || info2)
            st = uhn_fail(ctx, UHN_EINTERNAL, "descinit failed (%d, %d) for %d x %d", info1, info2,
                          D, ni);
    }
    st = uhn_agree(ctx, st);
    if (st == UHN_OK)
        pdgemr2d_(&D, &ni, src, &one, &one, desc1, *out, &one, &one, desc, &w->g1_ictxt);
    free(src);
    return st;
}

/* Bins this rank's entries of the tile of C at global (i0, j0), bm x bn. */
static void bin_tile(sep_work *w, int64_t i0, int64_t j0, int rsrc, int csrc, int lr, int lc,
                     int lld) {
    const uhn_blacs_grid *g = &w->g2;
    const int64_t bins = w->bins;
    double s = 0, ss = 0;
    for (int lj = 0; lj < lc; ++lj) {
        int64_t m = j0 + global_of(lj, w->blk, g->mycol, csrc, g->npcol);
        const double *col = w->c + (size_t)lj * (size_t)lld;
        for (int li = 0; li < lr; ++li) {
            int64_t q = i0 + global_of(li, w->blk, g->myrow, rsrc, g->nprow);
            double c = clamp_cos(col[li]);
            if (q == m) {
                w->self[q] = c;
                continue;
            }
            w->acc.hist[bin_of(c, bins)]++;
            s += c;
            ss += c * c;
            if (c > w->maxc[q]) w->maxc[q] = c;
        }
    }
    ksum_add(&w->acc.sum, s);
    ksum_add(&w->acc.sumsq, ss);
}

static int product(sep_work *w) {
    uhn_ctx *ctx = w->ctx;
    const uhn_blacs_grid *g = &w->g2;
    const int D = (int)w->D, one = 1;
    const double alpha = 1.0, beta = 0.0;
    for (int64_t i0 = 0; i0 < w->B; i0 += w->tile)
        for (int64_t j0 = 0; j0 < w->N; j0 += w->tile) {
            int bm = (int)(w->B - i0 < w->tile ? w->B - i0 : w->tile);
            int bn = (int)(w->N - j0 < w->tile ? w->N - j0 : w->tile);
            /* The tile starts on a block boundary; its source process is the
             * one holding that block of the full matrix, so A, B and C align. */
            int rsrc = (int)((i0 / w->blk) % g->nprow), csrc = (int)((j0 / w->blk) % g->npcol);
            int lr = local_count(bm, w->blk, g->myrow, rsrc, g->nprow);
            int lc = local_count(bn, w->blk, g->mycol, csrc, g->npcol);
            int lld = lr > 1 ? lr : 1, info = 0, desc_c[9];
            descinit_(desc_c, &bm, &bn, &w->blk, &w->blk, &rsrc, &csrc, &g->ictxt, &lld, &info);
            if (info)
                return uhn_fail(ctx, UHN_EINTERNAL, "descinit failed (%d) for a %d x %d tile", info,
                                bm, bn);
            int ja = (int)i0 + 1, jb = (int)j0 + 1;
            double t0 = uhn_wtime();
            pdgemm_("T", "N", &bm, &bn, &D, &alpha, w->qt, &one, &ja, w->desc_q, w->mt, &one, &jb,
                    w->desc_m, &beta, w->c, &one, &one, desc_c);
            bin_tile(w, i0, j0, rsrc, csrc, lr, lc, lld);
            ctx->timers.compute += uhn_wtime() - t0;
        }
    return UHN_OK;
}

static int merge(sep_work *w, uhn_sep_result *res) {
    uhn_ctx *ctx = w->ctx;
    double t0 = uhn_wtime();
    double sums[2] = {w->acc.sum.s + w->acc.sum.c, w->acc.sumsq.s + w->acc.sumsq.c}, tot[2];
    UHN_MPI(ctx, MPI_Allreduce(MPI_IN_PLACE, w->self, (int)w->B, MPI_DOUBLE, MPI_MAX, ctx->comm));
    UHN_MPI(ctx, MPI_Allreduce(MPI_IN_PLACE, w->maxc, (int)w->B, MPI_DOUBLE, MPI_MAX, ctx->comm));
    UHN_MPI(ctx, MPI_Allreduce(w->acc.hist, res->cross_hist, (int)w->bins, MPI_INT64_T, MPI_SUM,
                               ctx->comm));
    UHN_MPI(ctx, MPI_Allreduce(sums, tot, 2, MPI_DOUBLE, MPI_SUM, ctx->comm));
    ctx->timers.reduce += uhn_wtime() - t0;
    finish(w->self, w->maxc, w->B, w->D, tot[0], tot[1], w->B * w->N - w->B, res);
    return UHN_OK;
}

static int setup(sep_work *w) {
    uhn_ctx *ctx = w->ctx;
    UHN_CALL(uhn_agree(ctx, uhn_blacs_grid_create(ctx, &w->g2)));
    w->have_g2 = 1;
    /* BLACS keeps one system handle per communicator: the 1 x P grid shares
     * g2's, which uhn_blacs_grid_destroy frees once. */
    w->g1_ictxt = w->g2.sys_handle;
    Cblacs_gridinit(&w->g1_ictxt, "Row", 1, ctx->size);
    w->have_g1 = 1;
    const uhn_blacs_grid *g = &w->g2;
    int cap_r = (int)(((w->tile / w->blk + g->nprow - 1) / g->nprow) * w->blk);
    int cap_c = (int)(((w->tile / w->blk + g->npcol - 1) / g->npcol) * w->blk);
    w->c = malloc((size_t)cap_r * (size_t)cap_c * sizeof *w->c);
    w->self = malloc((size_t)w->B * sizeof *w->self);
    w->maxc = malloc((size_t)w->B * sizeof *w->maxc);
    w->acc.hist = calloc((size_t)w->bins, sizeof *w->acc.hist);
    int st = UHN_OK;
    if (!w->c || !w->self || !w->maxc || !w->acc.hist || UHN_FAULT(ctx, UHN_FAULT_SEP_TILE))
        st = uhn_fail(ctx, UHN_ENOMEM, "out of memory for a %d x %d tile of cosines", w->tile,
                      w->tile);
    else
        for (int64_t i = 0; i < w->B; ++i) w->self[i] = w->maxc[i] = -INFINITY;
    return uhn_agree(ctx, st);
}

int uhn_separability(uhn_ctx *ctx, const float *queries, int64_t B, const float *memories,
                     int64_t N, int64_t D, const uhn_sep_params *p, uhn_sep_result *res) {
    int st = check_sizes(ctx, B, N, D, res->bins);
    if (st == UHN_OK && (p->bins != res->bins || p->block < 1 || p->tile < 1))
        st = uhn_fail(ctx, UHN_EINTERNAL, "separability parameters do not match the result");
    UHN_CALL(uhn_agree(ctx, st));
    sep_work w;
    memset(&w, 0, sizeof w);
    w.ctx = ctx;
    w.B = B, w.N = N, w.D = D, w.bins = p->bins;
    w.blk = p->block;
    /* A tile is whole blocks and fits an int, and need not exceed N. */
    int64_t tile = p->tile < N ? p->tile : N;
    tile = (tile + w.blk - 1) / w.blk * w.blk;
    w.tile = (int)(tile < INT_MAX / 2 ? tile : INT_MAX / 2 / w.blk * w.blk);

    st = setup(&w);
    if (st == UHN_OK) st = distribute(&w, queries, B, &w.qt, w.desc_q);
    if (st == UHN_OK) st = distribute(&w, memories, N, &w.mt, w.desc_m);
    if (st == UHN_OK) st = uhn_agree(ctx, product(&w));
    if (st == UHN_OK) st = uhn_agree(ctx, merge(&w, res));

    free(w.qt), free(w.mt), free(w.c), free(w.self), free(w.maxc), free(w.acc.hist);
    if (w.have_g1) Cblacs_gridexit(w.g1_ictxt);
    if (w.have_g2) uhn_blacs_grid_destroy(&w.g2);
    return st;
}
