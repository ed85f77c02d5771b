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

#include <stddef.h>
#include <stdint.h>

#include "uhn/context.h"

typedef enum {
    UHN_RED_LSE = 0,    /* softmax: running max m, s = sum exp(h - m), z = sum exp(h - m) y */
    UHN_RED_LINEAR = 1, /* s = sum g, z = sum g y (identity, power, log, threshold, exact) */
    UHN_RED_MAX = 2,    /* z = y of the arg-max */
    UHN_RED_TOPK = 3    /* the k best (h, index, y), merged as sorted lists */
} uhn_red_kind;

typedef struct uhn_rec {
    double m;    /* LSE: running maximum of h = beta * s, in double (-inf when no row seen) */
    double s;    /* LSE: sum exp(h - m); LINEAR: sum g; MAX: 1 once a row is seen */
    double best; /* key of the arg-max: the score s before beta (LSE, MAX), h (TOPK), g (LINEAR) */
    int64_t idx; /* global index of the arg-max, -1 when none */
    int64_t bad; /* lowest global index whose score breaks the rule's domain, -1 none */
    double badval; /* that score */
    int32_t kind;  /* uhn_red_kind */
    int32_t nslot; /* TOPK: k; the number filled is in `used` */
    int32_t O;     /* value length */
    int32_t used;  /* TOPK: slots filled */
    /* followed by: float z[O] (LSE, LINEAR, MAX), or for TOPK nslot x
     * {double h; int64_t idx} then nslot x float y[O] */
} uhn_rec;

typedef struct uhn_slot {
    double h;
    int64_t idx;
} uhn_slot;

/* Bytes of one record (a multiple of 64, so z vectors stay aligned). */
size_t uhn_rec_bytes(uhn_red_kind kind, int64_t O, int64_t nslot);

static inline uhn_rec *uhn_rec_at(void *recs, size_t bytes, int64_t j) {
    return (uhn_rec *)((char *)recs + (size_t)j * bytes);
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

/* An empty record (no rows seen). */
void uhn_rec_init(uhn_rec *r, uhn_red_kind kind, int64_t O, int64_t nslot);

/* inout <- merge(in, inout). Commutative up to float round-off; ties of the
 * arg-max go to the lowest global index. */
void uhn_rec_merge(const uhn_rec *in, uhn_rec *inout);

/* Offers row `g` with score h (and g-value for LINEAR) to a TOPK record. */
void uhn_rec_topk_offer(uhn_rec *r, double h, int64_t g, const float *y);

/* Marks a domain violation at global index g with score h (keeps the lowest). */
static inline void uhn_rec_bad(uhn_rec *r, int64_t g, double h) {
    if (r->bad < 0 || g < r->bad) r->bad = g, r->badval = h;
}

/* The MPI datatype (committed) and commutative MPI_Op of records of `bytes`. */
int uhn_rec_mpi_create(uhn_ctx *ctx, size_t bytes, MPI_Datatype *type, MPI_Op *op);
void uhn_rec_mpi_free(MPI_Datatype *type, MPI_Op *op);

/*
 * Final values of a merged record: z (O floats), the arg-max index and its
 * weight, the log-sum-exp (LSE only, else NaN) and whether the weights summed
 * to zero.
 */
void uhn_rec_finish(uhn_rec *r, int normalize, float *z, int64_t *index, float *weight, double *lse,
                    uint8_t *empty);

#endif
