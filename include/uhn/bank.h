/*
 * The sharded memory bank.
 *
 * N rows are split over the ranks of ctx->comm in contiguous blocks of global
 * indices (rank r holds rows [row0, row0 + n_local)); any N >= 1 and any
 * number of ranks works, including ranks that hold no rows. Each row has a key
 * (length K) and, for hetero-association, a value (length O); for
 * auto-association values == keys and O == K.
 */
#ifndef UHN_BANK_H
#define UHN_BANK_H

#include <stdint.h>
#include "uhn/context.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct uhn_bank {
    uhn_ctx *ctx;      /* not owned */
    uhn_gidx n_global; /* N */
    uhn_gidx row0;     /* first global row held by this rank */
    int64_t n_local;   /* rows held by this rank (may be 0) */
    int64_t K;         /* key length */
    int64_t O;         /* value length (== K for auto-association) */
    int hetero;        /* 1 when values are a separate matrix */
    float *keys;       /* n_local x K, row-major, 64-byte aligned; owned */
    float *values;     /* n_local x O; == keys when !hetero; owned when hetero */
    /* Row statistics computed by uhn_bank_commit: */
    float *key_norm2;    /* ||x_n||^2 */
    float *key_sum;      /* sum_k x_n[k] */
    int keys_nonneg;     /* 1 when every key entry on every rank is >= 0 */
    uhn_gidx neg_row;    /* lowest global row with a negative key entry, -1 if none */
    int64_t neg_col;     /* its first negative column */
    double neg_val;      /* that entry */
    char keys_name[256]; /* the keys' name for messages ("mem.h5:memories") */
    int committed;
    /* After uhn_bank_sort: the global index of each local row (the rows are
     * then held in order of decreasing ||x||^2); NULL while local row i is
     * global row row0 + i. Use uhn_bank_gid. */
    uhn_gidx *gidx;
} uhn_bank;

/* The global index of local row i (0 <= i < n_local). */
static inline uhn_gidx uhn_bank_gid(const uhn_bank *b, int64_t i) {
    return b->gidx ? b->gidx[i] : b->row0 + i;
}

/* The contiguous block of rows of `rank` out of `size` for N rows: the first
 * N % size ranks hold one row more. Not collective. */
void uhn_bank_partition(uhn_gidx n_global, int size, int rank, uhn_gidx *row0, int64_t *n_local);

/* The rank that holds global row `g`. Not collective. */
int uhn_bank_owner(uhn_gidx n_global, int size, uhn_gidx g);

/*
 * Allocates this rank's share of a bank of n_global rows with keys of length K
 * and, when hetero is non-zero, values of length O (else O is ignored and set
 * to K). The caller fills keys (and values) then calls uhn_bank_commit.
 * Not collective (every rank computes its own share).
 */
int uhn_bank_create(uhn_ctx *ctx, uhn_gidx n_global, int64_t K, int hetero, int64_t O,
                    uhn_bank **out);

/*
 * Validates the local rows (every entry finite) and computes row statistics.
 * `keys_name` and `values_name` name the data in error messages (for example
 * "mem.h5:memories"). Collective: a NaN or Inf anywhere is reported with the
 * lowest offending global row and column on every rank (UHN_EINPUT).
 */
int uhn_bank_commit(uhn_bank *bank, const char *keys_name, const char *values_name);

/*
 * Reorders each rank's rows (keys, values and row statistics) by decreasing
 * ||x||^2, ties by global index, and records their global indices in gidx.
 * Every reported index stays global and every result stays the same to
 * float32 round-off (ties of the arg-max still go to the lowest global index);
 * what changes is that a tile of the fast kernel then holds rows of similar
 * norm, so that a norm bound can skip the tiles where a query's weights are
 * all below float32 resolution, and a query's weights gather in fewer tiles.
 * It costs one pass over the bank: worth it for batches of many queries
 * (uhn_params_sort_pays; the `uhn recall` command asks it).
 * Call after uhn_bank_commit, before any recall; a second call does nothing.
 * Collective (a rank out of memory fails every rank with UHN_ENOMEM).
 */
int uhn_bank_sort(uhn_bank *bank);

/* The batch size (queries x steps) from which a sorted bank pays. */
#define UHN_SORT_MIN_QUERIES 256

void uhn_bank_destroy(uhn_bank *bank);

#ifdef __cplusplus
}
#endif
#endif
