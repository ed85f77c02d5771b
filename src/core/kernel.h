/*
 * Private: what one step asks of a kernel, and the two kernels that answer it.
 * A kernel turns this rank's rows and a batch of query states into partial
 * records (reduce.h); the engine merges them over ranks. Both kernels apply
 * the same definitions (spec §1-§4); the fast one in float32 with SGEMM
 * tiles, the reference in double with plain loops.
 */
#ifndef UHN_CORE_KERNEL_H
#define UHN_CORE_KERNEL_H

#include <math.h>

#include "core/reduce.h"
#include "core/separation_impl.h"
#include "core/similarity_impl.h"
#include "core/tile.h"
#include "uhn/engine.h"

/* Buffers of the fast kernel for a batch of at most Bmax queries, reused by
 * every step of a uhn_recall call. */
typedef struct uhn_kws uhn_kws;
int uhn_kws_create(uhn_ctx *ctx, const uhn_bank *bank, int64_t Bmax, size_t rec_bytes,
                   uhn_kws **out);
void uhn_kws_destroy(uhn_kws *ws);

typedef struct uhn_step {
    const uhn_bank *bank;
    const uhn_params *p;
    int64_t B, K;
    const float *v;     /* B x K query states */
    const uint8_t *cue; /* cue masks when p->cue_only, else NULL */
    int64_t cue_stride; /* 0: one [K] mask for all queries; K: one per query */
    uhn_rule rule;      /* the separation's rule */
    double param;       /* its parameter (default resolved) */
    uhn_red_kind kind;  /* the batch's record kind */
    int64_t nslot;      /* TOPK: k */
    size_t rec_bytes;
    const double *rsum;    /* uhn score mode, second pass: global sum of r per query */
    const int64_t *nexact; /* uhn score mode, second pass: global exact matches per query */
    int need_z;            /* 0: only the log-sum-exp is wanted (the energy of a final state) */
    const float *floor;    /* fast kernel, softmax: per query, a lower bound on its largest score
                              over the whole bank (the cut never falls below floor + ln(thr) /
                              beta), or NULL */
    const int64_t *hint;   /* per query, a global row likely to score near its maximum (the
                              previous step's arg-max), or -1; NULL: none (the probe scores it) */
    const uhn_qblock *qb;  /* fast kernel: precomputed query block */
    uhn_kws *ws;           /* fast kernel: its workspace */
} uhn_step;

static inline const uint8_t *uhn_step_cue(const uhn_step *st, int64_t j) {
    return st->cue ? st->cue + j * st->cue_stride : NULL;
}

/*
 * The uhn score mode's r_n (spec §2) from a similarity s. sx and sq are the
 * sums of x and q over the cue (used by dot only). Sets *zero when the
 * distance is exactly 0.
 */
static inline double uhn_r_of_s(unsigned flags, int is_dot, double s, double sx, double sq,
                                int *zero) {
    *zero = 0;
    if (flags & UHN_SIM_DISTANCE) {
        double d = -s;
        if (d <= 0) {
            *zero = 1;
            return 0;
        }
        return 1.0 / d;
    }
    if (is_dot) return (sx > 0 && sq > 0) ? s / (sx * sq) : 0.0;
    return s > 0 ? s : 0.0; /* cosine */
}

/* The score h of spec §2 (second pass of the uhn mode, or raw). */
static inline double uhn_h_of_r(double beta, double r, double R) {
    return R > 0 ? beta * r / R : 0.0;
}

/* Fast kernel: records (B x rec_bytes, initialised by the caller). */
int uhn_kernel_fast(uhn_ctx *ctx, const uhn_step *st, void *recs);
/* Fast kernel, softmax of raw scores: the largest score of each query over
 * this rank's first tile (-inf without rows), or over a tile of rows spread
 * evenly through a sorted bank (uhn_bank_sort: its first tile holds the
 * largest norms), and its hinted row where this rank holds it, in the
 * workspace's array of B, valid for this step; the step's uhn_kernel_fast
 * then reuses the first tile's scores. */
float *uhn_kernel_fast_probe(const uhn_step *st);
/* Whether the probe scores hinted rows for this step's similarity. */
int uhn_kernel_fast_hint_scored(const uhn_step *st);
/* Fast kernel, first pass of the uhn score mode: local sum of r and count of
 * exact matches per query (arrays of B, zeroed by the caller). */
int uhn_kernel_fast_rsum(uhn_ctx *ctx, const uhn_step *st, double *rsum, int64_t *nexact);

/* Reference kernel: the same outputs, plain double loops. */
int uhn_kernel_ref(uhn_ctx *ctx, const uhn_step *st, void *recs);
int uhn_kernel_ref_rsum(uhn_ctx *ctx, const uhn_step *st, double *rsum, int64_t *nexact);

#endif
