/*
 * Separability of codes (spec §12): how far the cosine of a query to its own
 * memory stands apart from its cosines to every other memory.
 *
 * Query i (i < B) belongs to memory i (B <= N). The B x N matrix of cosines is
 * the product of the row-normalised queries and memories, computed by
 * ScaLAPACK pdgemm on a 2-D block-cyclic distribution, one tile of the matrix
 * at a time so that it is never held whole; every rank bins the entries of its
 * own part of each tile, and the histograms, sums and per-query largest cross
 * values are merged with MPI_Allreduce.
 *
 * Precision: float64 throughout (pdgemm, not psgemm). The inputs are float32,
 * but a float32 product of unit vectors of length D carries round-off of order
 * sqrt(D) * 6e-8 (about 2e-6 at D = 784, up to D * 6e-8 = 5e-5 in the worst
 * case), which moves a value lying that close to a bin edge (bins are 0.01
 * wide by default) into the neighbouring bin, and the order of the sums, hence
 * the bin, changes with the rank count and the block size. In float64 the
 * round-off is about 1e-15: histograms and top1 equal those of the exact
 * cosines of the float32 inputs except for a value within ~1e-14 of a bin edge
 * (or a cross value within ~1e-14 of its query's self value), and they are the
 * same at every rank count and block size under the same condition; the
 * scalars agree with an exact computation to about 1e-12 relative. DGEMM costs
 * about twice SGEMM, which is accepted for reproducible counts.
 */
#ifndef UHN_SEPARABILITY_H
#define UHN_SEPARABILITY_H

#include <stdint.h>
#include "uhn/context.h"

#ifdef __cplusplus
extern "C" {
#endif

#define UHN_SEP_BINS_DEFAULT  200
#define UHN_SEP_BINS_MAX      1000000 /* histograms are replicated and merged on every rank */
#define UHN_SEP_BLOCK_DEFAULT 64      /* ScaLAPACK block size (rows = columns) */
#define UHN_SEP_TILE_DEFAULT  4096    /* rows and columns of one tile of the cosine matrix */

/* How to compute. bins >= 1; block >= 1; tile >= 1 (rounded up to a multiple
 * of block). block and tile change only the speed and the memory used (and
 * round-off at the 1e-15 level), never the counts: tests force tiny values. */
typedef struct uhn_sep_params {
    int64_t bins;
    int block;
    int64_t tile;
} uhn_sep_params;

/*
 * top1 counts query i when self_i > max_j cross_ij + uhn_sep_tie_tolerance(D):
 * a cross value equal to the self value up to float64 round-off is a tie, not
 * "strictly larger". Without it an exact tie (a memory duplicated in the bank,
 * a zero query) is broken either way by the order of the sums, which changes
 * with the rank count, the block size and BLAS's kernel for edge columns. The
 * tolerance, max(1e-12, 4 (D + 4) 2^-53), bounds the float64 error of a
 * cosine; cosines of float32 data that differ less are equal for any purpose.
 * Not collective.
 */
double uhn_sep_tie_tolerance(int64_t D);

/* Fills the defaults. Not collective. */
void uhn_sep_params_default(uhn_sep_params *p);

/* The statistics of spec §12. Histograms over `bins` equal bins on [-1, 1]:
 * value c (clamped to [-1, 1]) falls in bin floor((c + 1) * bins / 2), 1.0 in
 * the last. dprime is the formula evaluated in IEEE float64: +-Inf when both
 * variances are 0 and the means differ, NaN when they are equal too. */
typedef struct uhn_sep_result {
    int64_t bins;
    int64_t *self_hist;  /* [bins], sums to n_self; owned */
    int64_t *cross_hist; /* [bins], sums to n_cross; owned */
    double *bin_edges;   /* [bins + 1]: -1 + 2 k / bins; owned */
    int64_t n_self;      /* B */
    int64_t n_cross;     /* B * N - B */
    int64_t n_top1;      /* queries whose self value beats every cross value */
    double self_mean, self_std, cross_mean, cross_std; /* population std (divided by the count) */
    double dprime, overlap, top1;
} uhn_sep_result;

/* Allocates the arrays of `res` for `bins` bins and zeroes it. Not collective. */
int uhn_sep_result_init(uhn_ctx *ctx, int64_t bins, uhn_sep_result *res);
/* Frees the arrays (the struct itself belongs to the caller). */
void uhn_sep_result_free(uhn_sep_result *res);

/*
 * The rows of an n-row matrix that uhn_separability expects on this rank:
 * [row0, row0 + nrows), blocks of ceil(n / size) rows in rank order (the last
 * ranks may hold fewer or none). Not collective.
 */
void uhn_sep_rows(const uhn_ctx *ctx, int64_t n, int64_t *row0, int64_t *nrows);

/*
 * The separability of B queries against N memories of code length D.
 * `queries` holds this rank's rows of the queries as uhn_sep_rows(ctx, B)
 * gives them, `memories` its rows of the memories by uhn_sep_rows(ctx, N),
 * both float32 row-major with D columns, finite, not owned (NULL allowed for
 * no rows). Requires 1 <= B <= N, N >= 2 and B, N, D <= INT_MAX. `res` must
 * come from uhn_sep_result_init with p->bins bins; on return it holds the same
 * results on every rank. Collective over ctx->comm; the status is agreed.
 */
int uhn_separability(uhn_ctx *ctx, const float *queries, int64_t B, const float *memories,
                     int64_t N, int64_t D, const uhn_sep_params *p, uhn_sep_result *res);

/*
 * The reference: the same statistics from whole B x D and N x D arrays, one
 * cosine at a time in float64 with plain loops. For tests. Not collective.
 */
int uhn_separability_ref(uhn_ctx *ctx, const float *queries, int64_t B, const float *memories,
                         int64_t N, int64_t D, uhn_sep_result *res);

#ifdef __cplusplus
}
#endif
#endif
