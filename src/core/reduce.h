/*
 * Private: the partial record of one query and its merge.
 *
 * Every rank (and every thread inside it) summarises its rows for one query in
 * a record; merging two records gives the record of the union of their rows.
 * The same merge combines thread partials and, as a user-defined MPI_Op, the
 * rank partials in one MPI_Allreduce per step. Records of one batch have the
 * same size and lie back to back, so the z vectors form a strided matrix that
 * SGEMM can accumulate into directly.
 */
#ifndef UHN_CORE_REDUCE_H
#define UHN_CORE_REDUCE_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "uhn/context.h"

typedef enum {
    UHN_RED_LSE = 0,    /* softmax: running max s* of the scores s (before beta),
                           acc = sum exp(beta (s - s*)), z = sum exp(beta (s - s*)) y */
    UHN_RED_LINEAR = 1, /* acc = sum g, z = sum g y (log, threshold, the uhn mode's exact rule) */
    UHN_RED_MAX = 2,    /* z = y of the arg-max */
    UHN_RED_TOPK = 3,   /* the k best (s, index, y), merged as sorted lists */
    UHN_RED_POW = 4     /* identity, power: g = (beta s)^p kept relative to the running max s*:
                           acc = sum (s / s*)^p, z = sum (s / s*)^p y; exact for any finite
                           beta, p and score (the ratios never exceed 1) */
} uhn_red_kind;

/*
 * The weights of the LSE, POW and TOPK kinds are kept relative to the largest
 * score seen, so no weight is ever formed from beta * s or h^p: beta = 1e308 or
 * p = 1e9 cost and round like beta = 1 and p = 1. The 64-byte alignment keeps
 * the z vectors that follow a record aligned.
 */
typedef struct uhn_rec {
    double acc;      /* LSE, POW: sum of the weights relative to the max; LINEAR: sum g;
                        MAX: 1 once a row is seen */
    double best;     /* key of the arg-max: the score s before beta (LSE, MAX, POW, TOPK), g
                        (LINEAR) */
    int64_t idx;     /* global index of the arg-max, -1 when none */
    double low;      /* LINEAR: the smallest g (log: the largest weight when sum g < 0) */
    int64_t low_idx; /* its global index */
    int64_t bad;     /* lowest global index whose score breaks the rule's domain, -1 none */
    double badval;   /* that score h */
    double beta;     /* LSE, POW, TOPK: beta */
    double p;        /* POW: the exponent (1 for identity) */
    int32_t kind;    /* uhn_red_kind */
    int32_t nslot;   /* TOPK: k; the number filled is in `used` */
    int32_t O;       /* value length */
    int32_t used;    /* TOPK: slots filled */
    /* followed by: float z[O] (LSE, LINEAR, MAX, POW), or for TOPK nslot x
     * {double s; int64_t idx} then nslot x float y[O] */
} __attribute__((aligned(64))) uhn_rec;

typedef struct uhn_slot {
    double h;
    int64_t idx;
} uhn_slot;

/* Bytes of one record (a multiple of 64, so z vectors stay aligned). */
size_t uhn_rec_bytes(uhn_red_kind kind, int64_t O, int64_t nslot);

static inline uhn_rec *uhn_rec_at(void *recs, size_t bytes, int64_t j) {
    return (uhn_rec *)((char *)recs + (size_t)j * bytes);
}
static inline const uhn_rec *uhn_rec_get(const void *recs, size_t bytes, int64_t j) {
    return (const uhn_rec *)((const char *)recs + (size_t)j * bytes);
}
static inline float *uhn_rec_z(uhn_rec *r) {
    return (float *)(r + 1);
}
static inline uhn_slot *uhn_rec_slots(uhn_rec *r) {
    return (uhn_slot *)(r + 1);
}
static inline float *uhn_rec_slot_y(uhn_rec *r, int64_t i) {
    return (float *)((char *)(r + 1) + (size_t)r->nslot * sizeof(uhn_slot)) + i * r->O;
}

/* An empty record (no rows seen); beta and p as above (ignored where unused). */
void uhn_rec_init(uhn_rec *r, uhn_red_kind kind, int64_t O, int64_t nslot, double beta, double p);

/*
 * The weight of a row with score `key` relative to one with the larger score
 * `ref` (key <= ref), for the LSE, TOPK and POW kinds: exp(beta (key - ref)),
 * or (key / ref)^p (0 when ref = 0: every weight is then 0). In [0, 1].
 */
static inline double uhn_rec_rel(const uhn_rec *r, double key, double ref) {
    if (r->kind == UHN_RED_POW) return ref > 0 ? pow(key / ref, r->p) : 0.0;
    return key == ref ? 1.0 : exp(r->beta * (key - ref));
}

/* A LINEAR record takes g of row `g_idx` as a candidate for its max and min. */
static inline void uhn_rec_linear_extremes(uhn_rec *r, double g, int64_t g_idx) {
    if (r->idx < 0 || g > r->best || (g == r->best && g_idx < r->idx)) r->best = g, r->idx = g_idx;
    if (r->low_idx < 0 || g < r->low || (g == r->low && g_idx < r->low_idx))
        r->low = g, r->low_idx = g_idx;
}

/* inout <- merge(in, inout). Commutative up to float round-off; ties of the
 * arg-max go to the lowest global index. */
void uhn_rec_merge(const uhn_rec *in, uhn_rec *inout);

/* Offers row `g` with score s (before beta) to a TOPK record. */
void uhn_rec_topk_offer(uhn_rec *r, double s, int64_t g, const float *y);

/* Marks a domain violation at global index g with score h (keeps the lowest). */
static inline void uhn_rec_bad(uhn_rec *r, int64_t g, double h) {
    if (r->bad < 0 || g < r->bad) r->bad = g, r->badval = h;
}

/* The MPI datatype (committed) and commutative MPI_Op of records of `bytes`. */
int uhn_rec_mpi_create(uhn_ctx *ctx, size_t bytes, MPI_Datatype *type, MPI_Op *op);
void uhn_rec_mpi_free(MPI_Datatype *type, MPI_Op *op);

/* Final values of one query, from its merged record. */
typedef struct uhn_rec_result {
    int64_t index;    /* n*, -1 when every weight is 0 */
    float weight;     /* w at n* */
    double lse;       /* softmax: log sum exp(beta s) (may be +-inf where beta s overflows
                         double), else NaN */
    double lse_beta;  /* softmax: lse / beta, computed without forming beta s (finite) */
    uint8_t empty;    /* normalised: the weights summed to 0; else: every weight is 0 */
    uint8_t overflow; /* unnormalised weights (identity, power) beyond float32 */
} uhn_rec_result;

/* Writes z (O floats) and the final values of a merged record. */
void uhn_rec_finish(uhn_rec *r, int normalize, float *z, uhn_rec_result *out);

#endif
