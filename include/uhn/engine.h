/*
 * The retrieval engine: one step z = P . sep(score(sim(M, q))) over a sharded
 * bank for a batch of queries, and the iterative dynamics of spec §5.
 *
 * Each rank scores its own rows; per query it produces a partial record
 * (running maximum, sum of exponentials relative to it, arg-max and its key,
 * weighted sum of its values) and one MPI_Allreduce with a user-defined MPI_Op
 * merges them into the global update. Queries are replicated on every rank.
 */
#ifndef UHN_ENGINE_H
#define UHN_ENGINE_H

#include <stdint.h>
#include "uhn/context.h"
#include "uhn/bank.h"
#include "uhn/similarity.h"
#include "uhn/separation.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { UHN_SCORE_RAW = 0, UHN_SCORE_UHN = 1 } uhn_score_mode;

/* Which kernel computes the local partial records. */
typedef enum {
    UHN_KERNEL_FAST = 0, /* SGEMM tiles with fused online softmax and projection */
    UHN_KERNEL_REF = 1   /* plain double-precision loops: the reference */
} uhn_kernel;

typedef struct uhn_params {
    const uhn_similarity *sim; /* default: dot */
    const uhn_separation *sep; /* default: softmax */
    double beta;               /* > 0, finite; default 1 */
    double param;              /* p (power), k (topk), t (threshold); NaN = the default */
    uhn_score_mode score;      /* default raw */
    int normalize;             /* 1 (default): w = g / sum g; 0: w = g */
    int cue_only;              /* similarities over the clamp set only */
    int steps;                 /* T >= 1; default 1 */
    double step_size;          /* alpha in (0, 1]; default 1 */
    double tol;                /* >= 0; 0 = run all T steps */
    uhn_kernel kernel;         /* default fast */
    int64_t batch;             /* queries per internal batch; 0 = automatic */
    int energy;                /* 1 (default): report E for the pairs of spec §5, which
                                * costs one more scoring pass at the final state v_T;
                                * 0: skip it (capacity studies, benchmarks) */
    int hold;                  /* 1 (default, spec §5): known (clamp) coordinates are held at
                                * the query value after every step; 0: the clamp mask is only
                                * the cue set of cue_only and every coordinate moves (the UHN
                                * paper compares the raw output z; E may then rise) */
} uhn_params;

/* Fills the defaults of spec §8. Not collective. */
void uhn_params_default(uhn_params *p);

/*
 * Checks parameters against the bank: ranges, hetero-association with T > 1,
 * negative keys for divergences or the uhn dot score. Returns UHN_EINPUT with a
 * message naming the option. Collective (uses the bank's global flags only, so
 * every rank gives the same answer).
 */
int uhn_params_check(uhn_ctx *ctx, const uhn_params *p, const uhn_bank *bank);

/* 1 when E is defined for these parameters (softmax with dot or euclidean, raw
 * score, normalised) and p->energy asks for it. */
int uhn_params_has_energy(const uhn_params *p);

/* 1 when a bank sorted by norm (uhn_bank_sort) pays for its pass over the
 * bank in a recall of B queries with these parameters: the fast kernel, the
 * softmax of raw dot or euclidean scores without --cue-only (where the tile
 * bounds apply), and B x steps >= UHN_SORT_MIN_QUERIES. */
int uhn_params_sort_pays(const uhn_params *p, int64_t B);

/* Results for B queries; every array is owned by the struct. */
typedef struct uhn_result {
    int64_t B, O, T;
    float *output;  /* B x O: z after the last step */
    int64_t *index; /* B: n*, global index of the largest weight (-1 when empty) */
    float *weight;  /* B: w at n* */
    double *lse;    /* B: log-sum-exp of the scores (softmax only; else NaN) */
    double *energy; /* B x (T+1), or NULL when !uhn_params_has_energy */
    int32_t *steps; /* B: steps taken */
    uint8_t *empty; /* B: 1 where the weights summed to 0 */
    /* Trajectory (spec §11), when asked for with uhn_result_want_trajectory:
     * the state v_{S_i} of query b, in the state's space (K coordinates) */
    int64_t nsave;       /* |S|, 0: none */
    int32_t *save_steps; /* nsave: S, strictly increasing, in [0, T] */
    float *trajectory;   /* B x nsave x K */
    int64_t K;           /* the state length (set by uhn_recall) */
} uhn_result;

int uhn_result_create(uhn_ctx *ctx, int64_t B, int64_t O, int64_t T, int with_energy,
                      uhn_result **out);
void uhn_result_destroy(uhn_result *res);

/*
 * Asks uhn_recall to record the state of every query at the steps S (nsave
 * values, strictly increasing, each in [0, T]; 0 = the query itself) into
 * res->trajectory [B][nsave][K]. A query that stops early (tol) repeats its
 * final state at later steps. Copies `steps`. UHN_EINPUT (naming the entry)
 * when S is not such a set. Not collective.
 */
int uhn_result_want_trajectory(uhn_ctx *ctx, uhn_result *res, int64_t K, int64_t nsave,
                               const int64_t *steps);

/*
 * Recalls B queries (B x K, replicated on every rank; not modified).
 * clamp: NULL, or a mask of known coordinates (non-zero = known) with
 * clamp_rows == 1 (one [K] mask for every query) or clamp_rows == B ([B][K]).
 * Known coordinates are held at the query value after every step and form the
 * cue set of p->cue_only. Runs p->steps steps (early stop per query with
 * p->tol) and fills res. Collective over bank->ctx->comm. Returns UHN_EINPUT
 * (agreed on every rank) when the data violate a rule's domain, e.g. negative
 * scores for identity/power/log, with the offending memory and query named.
 */
int uhn_recall(const uhn_bank *bank, const uhn_params *p, const float *queries, int64_t B,
               const uint8_t *clamp, int64_t clamp_rows, uhn_result *res);

/*
 * Queries need checks of their own (finite; non-negative for divergences and
 * the uhn dot score). `name` names them in messages. Not collective: every
 * rank holds the same queries and reaches the same answer.
 */
int uhn_queries_check(uhn_ctx *ctx, const uhn_params *p, const float *queries, int64_t B, int64_t K,
                      const char *name);

#ifdef __cplusplus
}
#endif
#endif
