/*
 * Private: the blocks the fast kernels work on. A tile is a run of consecutive
 * local bank rows; a query block is the batch of queries with everything
 * precomputed once per step (norms, masks, distributions).
 */
#ifndef UHN_CORE_TILE_H
#define UHN_CORE_TILE_H

#include <stdint.h>

/* Up to this many queries, the fast kernel scores and projects a tile with plain
 * SIMD loops instead of OpenBLAS: a GEMV call's overhead dominates on an
 * L1-sized tile (measured in `uhn bench`, iterated single query). */
#define UHN_SMALL_BATCH 4

/* Floats in one 64-byte cache line: the alignment of the first column the
 * dot products read (uhn_qblock.k0). */
#define UHN_ALIGN_FLOATS 16

/* Softmax and power weights below UHN_SPARSE_EPS / N of the running maximum
 * are dropped: together they move z by less than UHN_SPARSE_EPS max|y|, below
 * float32 resolution. A query's projection of a tile gathers the rows that
 * remain when they are at most 1 / UHN_SPARSE_RATIO of the tile's rows, and
 * joins the SGEMM of the tile's dense queries otherwise: a gathered row costs
 * about as much as UHN_SPARSE_RATIO rows of the dense product (on W1 and W2 of
 * `uhn bench`, where a third of the weights remain at beta = 1 and 77 % of
 * (query, tile) pairs keep more than 1/16 of the tile, a ratio of 16 ran the
 * one-step recall 10-15 % slower than 4; 2 and 3 were no faster). */
#define UHN_SPARSE_EPS   1e-7
#define UHN_SPARSE_RATIO 4

typedef struct uhn_tile {
    const float *x;     /* tn x K keys */
    const float *norm2; /* tn: ||x||^2 */
    const float *sum;   /* tn: sum x */
    int64_t tn, K;
    int64_t g0;         /* the global index of row 0 when gid is NULL */
    const int64_t *gid; /* tn global indices (a sorted bank, uhn_bank_sort), or NULL */
} uhn_tile;

/* The global index of row i of a tile. */
static inline int64_t uhn_tile_gid(const uhn_tile *t, int64_t i) {
    return t->gid ? t->gid[i] : t->g0 + i;
}

typedef struct uhn_qblock {
    int64_t B, K;
    const float *q;      /* B x K queries, already multiplied by the cue mask when cue-only */
    const float *mask;   /* B x K cue mask as 0/1 floats, or NULL (all coordinates) */
    const float *qnorm2; /* B: ||q_C||^2 */
    const float *qsum;   /* B: sum q_C */
    /* Divergences: q-hat over C (0 outside C), its log (0 outside C), and
     * sum_C qhat ln qhat. */
    const float *qhat, *lqhat;
    const double *qent;
    const float *ones; /* K ones: the mask of "all coordinates" for the divergence loops */
    /* Every q row is 0 outside columns [k0, k1) (a masked image, whose top rows
     * are 0 in every query): the dot products skip those columns. k0 is a
     * multiple of UHN_ALIGN_FLOATS, so that the skip keeps loads aligned. */
    int64_t k0, k1;
} uhn_qblock;

/* Scratch of one thread for one tile: at least 3 * tn * max(K, B) floats. */
typedef struct uhn_scratch {
    float *a, *b, *c;
} uhn_scratch;

#endif
