/*
 * The engine: one step over the sharded bank (query block set-up, the uhn
 * score mode's normalising pass, the kernel, one MPI_Allreduce of partial
 * records, the final weights) and the iterative dynamics of spec §5.
 */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/fault.h"
#include "core/kernel.h"

void uhn_params_default(uhn_params *p) {
    memset(p, 0, sizeof *p);
    p->sim = uhn_similarity_find("dot");
    p->sep = uhn_separation_find("softmax");
    p->beta = 1.0;
    p->param = NAN;
    p->score = UHN_SCORE_RAW;
    p->normalize = 1;
    p->steps = 1;
    p->step_size = 1.0;
    p->tol = 0.0;
    p->kernel = UHN_KERNEL_FAST;
    p->energy = 1;
    p->hold = 1;
}

static int sim_is(const uhn_params *p, const char *name) {
    return !strcmp(uhn_similarity_name(p->sim), name);
}

int uhn_params_has_energy(const uhn_params *p) {
    return p->energy && p->sep->rule == RULE_SOFTMAX &&
           (sim_is(p, "dot") || sim_is(p, "euclidean")) && p->score == UHN_SCORE_RAW &&
           p->normalize;
}

int uhn_params_sort_pays(const uhn_params *p, int64_t B) {
    return p->kernel == UHN_KERNEL_FAST && p->sep->rule == RULE_SOFTMAX &&
           (sim_is(p, "dot") || sim_is(p, "euclidean")) && p->score == UHN_SCORE_RAW &&
           !p->cue_only && B * (int64_t)p->steps >= UHN_SORT_MIN_QUERIES;
}

int uhn_params_check(uhn_ctx *ctx, const uhn_params *p, const uhn_bank *bank) {
    const char *why;
    if (!p->sim || !p->sep) return uhn_fail(ctx, UHN_EINPUT, "no similarity or separation given");
    if (!(p->beta > 0) || !isfinite(p->beta))
        return uhn_fail_param(ctx, UHN_EINPUT, "beta", "beta must be a finite number > 0 (got %g)",
                              p->beta);
    if ((why = uhn_separation_param_check(p->sep, p->param)))
        return uhn_fail_param(ctx, UHN_EINPUT, "param",
                              "param for separation '%s' must be %s (got %g)", p->sep->name, why,
                              p->param);
    if (p->steps < 1)
        return uhn_fail_param(ctx, UHN_EINPUT, "steps", "steps must be >= 1 (got %d)", p->steps);
    if (!(p->step_size > 0 && p->step_size <= 1))
        return uhn_fail_param(ctx, UHN_EINPUT, "step_size", "step_size must be in (0, 1] (got %g)",
                              p->step_size);
    if (!(p->tol >= 0) || !isfinite(p->tol))
        return uhn_fail_param(ctx, UHN_EINPUT, "tol", "tol must be a finite number >= 0 (got %g)",
                              p->tol);
    if (p->batch < 0)
        return uhn_fail_param(ctx, UHN_EINPUT, "batch", "batch must be >= 0 (got %lld)",
                              (long long)p->batch);
    if (p->score != UHN_SCORE_RAW && p->score != UHN_SCORE_UHN)
        return uhn_fail_param(ctx, UHN_EINPUT, "score", "score must be raw or uhn");
    if (bank->hetero && p->steps > 1)
        return uhn_fail_param(ctx, UHN_EINPUT, "steps",
                              "steps %d iterates the state, which needs auto-association, but the "
                              "bank is hetero-associative (separate values): use 1 step",
                              p->steps);
    if ((uhn_similarity_flags(p->sim) & UHN_SIM_NONNEG) && !bank->keys_nonneg)
        return uhn_fail(ctx, UHN_EINPUT,
                        "%s: row %lld column %lld is negative (%g), and similarity '%s' is "
                        "defined on non-negative data only",
                        bank->keys_name, (long long)bank->neg_row, (long long)bank->neg_col,
                        bank->neg_val, uhn_similarity_name(p->sim));
    if (p->score == UHN_SCORE_UHN && sim_is(p, "dot") && !bank->keys_nonneg)
        return uhn_fail(ctx, UHN_EINPUT,
                        "%s: row %lld column %lld is negative (%g), and score mode 'uhn' with "
                        "similarity 'dot' needs non-negative data",
                        bank->keys_name, (long long)bank->neg_row, (long long)bank->neg_col,
                        bank->neg_val);
    return UHN_OK;
}

int uhn_queries_check(uhn_ctx *ctx, const uhn_params *p, const float *q, int64_t B, int64_t K,
                      const char *name) {
    int nonneg = (uhn_similarity_flags(p->sim) & UHN_SIM_NONNEG) ||
                 (p->score == UHN_SCORE_UHN && sim_is(p, "dot"));
    for (int64_t j = 0; j < B; ++j) {
        double sum = 0;
        for (int64_t k = 0; k < K; ++k) {
            float v = q[j * K + k];
            if (!isfinite(v))
                return uhn_fail(ctx, UHN_EINPUT,
                                "%s: row %lld column %lld is %s (queries must be "
                                "finite)",
                                name, (long long)j, (long long)k, isnan(v) ? "NaN" : "Inf");
            if (nonneg && v < 0)
                return uhn_fail(ctx, UHN_EINPUT,
                                "%s: row %lld column %lld is negative (%g), and %s needs "
                                "non-negative data",
                                name, (long long)j, (long long)k, v,
                                p->score == UHN_SCORE_UHN && sim_is(p, "dot")
                                    ? "score mode 'uhn' with 'dot'"
                                    : uhn_similarity_name(p->sim));
            sum += v;
        }
        if (p->score == UHN_SCORE_UHN && sim_is(p, "dot") && !(sum > 0))
            return uhn_fail(ctx, UHN_EINPUT,
                            "%s: row %lld sums to 0, and score mode 'uhn' with 'dot' normalises "
                            "each query by its sum",
                            name, (long long)j);
    }
    return UHN_OK;
}

/* bytes of zeros from uhn_alloc (one byte at least: NULL means out of memory) */
static void *zeroed(size_t bytes) {
    void *p = uhn_alloc(bytes > 0 ? bytes : 1);
    if (p) memset(p, 0, bytes);
    return p;
}

int uhn_result_create(uhn_ctx *ctx, int64_t B, int64_t O, int64_t T, int with_energy,
                      uhn_result **out) {
    uhn_result *r = calloc(1, sizeof *r);
    *out = NULL;
    if (!r) return uhn_fail(ctx, UHN_ENOMEM, "out of memory for the results");
    r->B = B, r->O = O, r->T = T;
    /* uhn_alloc: huge pages for large arrays (zeroed here, as calloc would) */
    r->output = zeroed((size_t)(B * O) * sizeof(float));
    r->index = calloc((size_t)B + 1, sizeof(int64_t));
    r->weight = calloc((size_t)B + 1, sizeof(float));
    r->lse = calloc((size_t)B + 1, sizeof(double));
    r->steps = calloc((size_t)B + 1, sizeof(int32_t));
    r->empty = calloc((size_t)B + 1, 1);
    r->energy = with_energy ? zeroed((size_t)(B * (T + 1)) * sizeof(double)) : NULL;
    if (!r->output || !r->index || !r->weight || !r->lse || !r->steps || !r->empty ||
        (with_energy && !r->energy)) {
        uhn_result_destroy(r);
        return uhn_fail(ctx, UHN_ENOMEM, "out of memory for the results of %lld queries",
                        (long long)B);
    }
    *out = r;
    return UHN_OK;
}

int uhn_result_want_trajectory(uhn_ctx *ctx, uhn_result *res, int64_t K, int64_t nsave,
                               const int64_t *steps) {
    for (int64_t i = 0; i < nsave; ++i) {
        if (steps[i] < 0 || steps[i] > res->T)
            return uhn_fail_param(
                ctx, UHN_EINPUT, "trajectory",
                "trajectory step %lld is %lld, outside [0, %lld] (0 to the number of steps)",
                (long long)i, (long long)steps[i], (long long)res->T);
        if (i > 0 && steps[i] <= steps[i - 1])
            return uhn_fail_param(ctx, UHN_EINPUT, "trajectory",
                                  "trajectory steps must increase: step %lld (%lld) follows %lld",
                                  (long long)i, (long long)steps[i], (long long)steps[i - 1]);
    }
    free(res->save_steps), free(res->trajectory);
    res->save_steps = NULL, res->trajectory = NULL, res->nsave = 0;
    if (nsave == 0) return UHN_OK;
    res->save_steps = malloc((size_t)nsave * sizeof(int32_t));
    res->trajectory = uhn_alloc((size_t)(res->B * nsave * K) * sizeof(float) + 1);
    if (!res->save_steps || !res->trajectory) {
        free(res->save_steps), free(res->trajectory);
        res->save_steps = NULL, res->trajectory = NULL;
        return uhn_fail(ctx, UHN_ENOMEM, "out of memory for the trajectories of %lld queries",
                        (long long)res->B);
    }
    for (int64_t i = 0; i < nsave; ++i) res->save_steps[i] = (int32_t)steps[i];
    res->nsave = nsave;
    res->K = K;
    return UHN_OK;
}

void uhn_result_destroy(uhn_result *r) {
    if (!r) return;
    free(r->save_steps), free(r->trajectory);
    free(r->output), free(r->index), free(r->weight), free(r->lse);
    free(r->energy), free(r->steps), free(r->empty);
    free(r);
}

/* ---------- one step ---------- */

/* Buffers of one query block, owned by the step. */
typedef struct qbuf {
    uhn_qblock qb;
    float *q, *mask, *qnorm2, *qsum, *qhat, *lqhat, *ones;
    double *qent;
} qbuf;

static void qbuf_free(qbuf *b) {
    uhn_free(b->q), uhn_free(b->mask), uhn_free(b->qnorm2), uhn_free(b->qsum);
    uhn_free(b->qhat), uhn_free(b->lqhat), uhn_free(b->ones), uhn_free(b->qent);
}

/* Everything about the queries that every tile needs, computed once per step. */
static int qbuf_make(uhn_ctx *ctx, const uhn_step *st, qbuf *b) {
    const int64_t B = st->B, K = st->K;
    const size_t bk = (size_t)(B * K) * sizeof(float);
    memset(b, 0, sizeof *b);
    int div = (uhn_similarity_flags(st->p->sim) & UHN_SIM_NONNEG) != 0;
    b->q = uhn_alloc(bk);
    b->qnorm2 = uhn_alloc((size_t)B * sizeof(float));
    b->qsum = uhn_alloc((size_t)B * sizeof(float));
    b->ones = uhn_alloc((size_t)K * sizeof(float));
    if (st->cue) b->mask = uhn_alloc(bk);
    if (div) {
        b->qhat = uhn_alloc(bk);
        b->lqhat = uhn_alloc(bk);
        b->qent = uhn_alloc((size_t)B * sizeof(double));
    }
    if (!b->q || !b->qnorm2 || !b->qsum || !b->ones || (st->cue && !b->mask) ||
        (div && (!b->qhat || !b->lqhat || !b->qent))) {
        qbuf_free(b);
        memset(b, 0, sizeof *b);
        return uhn_fail(ctx, UHN_ENOMEM, "out of memory for a block of %lld queries", (long long)B);
    }
    for (int64_t k = 0; k < K; ++k) b->ones[k] = 1.0f;
    for (int64_t j = 0; j < B; ++j) {
        const uint8_t *cue = uhn_step_cue(st, j);
        const float *v = st->v + j * K;
        float *q = b->q + j * K;
        double n2 = 0, s = 0, sq = 0, ent = 0;
        for (int64_t k = 0; k < K; ++k) {
            float m = (!cue || cue[k]) ? 1.0f : 0.0f;
            if (b->mask) b->mask[j * K + k] = m;
            q[k] = m * v[k];
            n2 += (double)q[k] * q[k];
            s += q[k];
            sq += m * (v[k] + UHN_DIV_EPS);
        }
        b->qnorm2[j] = (float)n2;
        b->qsum[j] = (float)s;
        if (!div) continue;
        for (int64_t k = 0; k < K; ++k) {
            int in = !cue || cue[k];
            double qh = in && sq > 0 ? (v[k] + UHN_DIV_EPS) / sq : 0.0;
            b->qhat[j * K + k] = (float)qh;
            b->lqhat[j * K + k] = qh > 0 ? (float)log(qh) : 0.0f;
            if (qh > 0) ent += qh * log(qh);
        }
        b->qent[j] = ent;
    }
    int64_t k0 = K, k1 = 0; /* the columns where some query is not 0 */
    for (int64_t j = 0; j < B; ++j) {
        const float *q = b->q + j * K;
        int64_t a = 0, e = K;
        while (a < k0 && q[a] == 0.0f) ++a;
        while (e > k1 && e > a && q[e - 1] == 0.0f) --e;
        if (a < e) k0 = a < k0 ? a : k0, k1 = e > k1 ? e : k1;
    }
    if (k0 >= k1) k0 = k1 = 0;
    /* Down to a multiple of 16 floats (the extra columns are 0 in every query,
     * so they add exact zeros): where a row's start is 64-byte aligned (bank
     * rows are when 4 K is a multiple of 64), so is every vector load of the
     * dot products. From a state whose first nonzero pixel was 2, every load
     * split across two cache lines: one iterated query's step took 5.6 ms,
     * 5.3 ms aligned, at 1 rank on Fashion-MNIST. */
    k0 = k0 / UHN_ALIGN_FLOATS * UHN_ALIGN_FLOATS;
    b->qb = (uhn_qblock){B,       K,        b->q,    b->mask, b->qnorm2, b->qsum,
                         b->qhat, b->lqhat, b->qent, b->ones, k0,        k1};
    return UHN_OK;
}

/* Per-query outputs of one step. */
typedef struct step_out {
    float *z;         /* B x O */
    int64_t *index;   /* B */
    float *weight;    /* B */
    double *lse;      /* B */
    double *lse_beta; /* B: lse / beta, finite for any beta (the energy's term) */
    uint8_t *empty;   /* B */
} step_out;

/* k of topk as the number of slots: never more than the bank has rows, so k's
 * cost does not grow past N. */
static int64_t topk_slots(const uhn_bank *bank, double k) {
    return k < (double)bank->n_global ? (int64_t)k : (int64_t)bank->n_global;
}

/*
 * Softmax weights are kept above thr of the running maximum, which on each
 * rank is the maximum of its own rows so far: a rank whose rows hold none of
 * a query's best matches keeps many weights that the merge then scales to
 * nothing. In a capacity study the queries are corruptions of the first
 * stored images, all on rank 0, so rank 1 projected densely over its whole
 * shard and 2 ranks ran a study's recall slower than 1 (10^6 x 784 binary,
 * 100 queries: 0.56 s at 1 rank, 0.76 s at 2). The threads of one rank
 * start alike, each from its own records. So each rank first scores its
 * first tile (at any rank count, where a step projects; thread 0 reuses
 * those scores); the largest of those scores over all ranks
 * (one MPI_Allreduce of B floats) is a lower bound on each query's maximum,
 * below which no rank's cut falls. A weight it drops is below thr of that
 * bound, so below thr of the true maximum: the result is the same to
 * round-off, and the bound does not depend on timing. After a step, each
 * query's last arg-max (its hint) is scored too, with a margin for round-off
 * (hinted_score in kernel_fast.c): near its maximum, it raises the cut of
 * every tile on every rank count (the pooled screen of a single
 * iterated query at 1 rank kept its first blocks' rows without it: W4 of
 * `uhn bench` at 1 rank x 2 threads took 1.27x the time of 2 ranks x 1).
 */
static int probe_applies(const uhn_params *p, const uhn_step *st, int ref) {
    if (ref || st->kind != UHN_RED_LSE || p->score != UHN_SCORE_RAW) return 0;
    if (st->bank->gidx || st->need_z) return 1;
    if (!st->hint || !uhn_kernel_fast_hint_scored(st)) return 0; /* the energy's pass */
    for (int64_t j = 0; j < st->B; ++j)
        if (st->hint[j] >= 0) return 1;
    return 0;
}

/*
 * One step for B query states v (B x K). qids are the queries' indices in the
 * caller's numbering, for messages. Collective.
 */
static int step(const uhn_bank *bank, const uhn_params *p, uhn_kws *ws, int64_t B, const float *v,
                const uint8_t *cue, int64_t cue_stride, const int64_t *qids, const int64_t *hint,
                int need_z, step_out *out) {
    uhn_ctx *ctx = bank->ctx;
    uhn_step st = {0};
    st.bank = bank, st.p = p, st.B = B, st.K = bank->K, st.v = v;
    st.cue = p->cue_only ? cue : NULL;
    st.cue_stride = cue_stride;
    st.rule = p->sep->rule;
    st.param = isnan(p->param) ? p->sep->param_default : p->param;
    st.kind = p->sep->kind;
    st.nslot = st.kind == UHN_RED_TOPK ? topk_slots(bank, st.param) : 0;
    /* A pass for the energy alone (need_z = 0) carries records without z:
     * the reduction then moves B small headers instead of B x O floats. */
    const int64_t Oz = need_z ? bank->O : 0;
    st.rec_bytes = uhn_rec_bytes(st.kind, Oz, st.nslot);
    st.ws = ws;
    st.need_z = need_z;
    st.hint = hint;
    int ref = p->kernel == UHN_KERNEL_REF;

    qbuf qb;
    int rc = qbuf_make(ctx, &st, &qb);
    st.qb = &qb.qb;
    double *rsum = calloc((size_t)B + 1, sizeof *rsum);
    int64_t *nexact = calloc((size_t)B + 1, sizeof *nexact);
    void *recs = uhn_alloc((size_t)B * st.rec_bytes);
    if (rc == UHN_OK && (!rsum || !nexact || !recs || UHN_FAULT(ctx, UHN_FAULT_STEP_ALLOC)))
        rc = uhn_fail(ctx, UHN_ENOMEM, "out of memory for %lld records", (long long)B);
    MPI_Datatype type = MPI_DATATYPE_NULL;
    MPI_Op op = MPI_OP_NULL;
    double t0 = uhn_wtime();

    /* Allocations and kernels fail only on memory, and a rank short of it
     * takes no part in the reductions: each is preceded by an agreement. */
    if (p->score == UHN_SCORE_UHN) { /* the normalising pass, spec §2 */
        if (rc == UHN_OK)
            rc = ref ? uhn_kernel_ref_rsum(ctx, &st, rsum, nexact)
                     : uhn_kernel_fast_rsum(ctx, &st, rsum, nexact);
        double t1 = uhn_wtime();
        ctx->timers.compute += t1 - t0;
        rc = uhn_agree(ctx, rc);
        if (rc == UHN_OK &&
            (MPI_Allreduce(MPI_IN_PLACE, rsum, (int)B, MPI_DOUBLE, MPI_SUM, ctx->comm) ||
             MPI_Allreduce(MPI_IN_PLACE, nexact, (int)B, MPI_INT64_T, MPI_SUM, ctx->comm)))
            rc = uhn_fail(ctx, UHN_EMPI, "MPI_Allreduce of the uhn score sums failed");
        t0 = uhn_wtime();
        ctx->timers.reduce += t0 - t1;
        st.rsum = rsum, st.nexact = nexact;
    }
    if (probe_applies(p, &st, ref)) { /* every rank, or none */
        rc = uhn_agree(ctx, rc);
        if (rc == UHN_OK) {
            float *floor = uhn_kernel_fast_probe(&st);
            double t2 = uhn_wtime();
            if (MPI_Allreduce(MPI_IN_PLACE, floor, (int)B, MPI_FLOAT, MPI_MAX, ctx->comm))
                rc = uhn_fail(ctx, UHN_EMPI, "MPI_Allreduce of the probe's maxima failed");
            double t3 = uhn_wtime();
            ctx->timers.reduce += t3 - t2;
            t0 += t3 - t2; /* compute is the rest */
            st.floor = floor;
        }
    }
    if (rc == UHN_OK) {
        for (int64_t j = 0; j < B; ++j) {
            int exact = p->score == UHN_SCORE_UHN && nexact[j] > 0;
            uhn_rec_init(uhn_rec_at(recs, st.rec_bytes, j), exact ? UHN_RED_LINEAR : st.kind, Oz,
                         st.nslot, p->beta, st.param);
        }
        rc = ref ? uhn_kernel_ref(ctx, &st, recs) : uhn_kernel_fast(ctx, &st, recs);
    }
    double t1 = uhn_wtime();
    ctx->timers.compute += t1 - t0;
    rc = uhn_agree(ctx, rc);
    if (rc == UHN_OK) rc = uhn_rec_mpi_create(ctx, st.rec_bytes, &type, &op);
    if (rc == UHN_OK && MPI_Allreduce(MPI_IN_PLACE, recs, (int)B, type, op, ctx->comm))
        rc = uhn_fail(ctx, UHN_EMPI, "MPI_Allreduce of the partial records failed");
    ctx->timers.reduce += uhn_wtime() - t1;
    if (type != MPI_DATATYPE_NULL) uhn_rec_mpi_free(&type, &op);

    for (int64_t j = 0; rc == UHN_OK && j < B; ++j) {
        uhn_rec *r = uhn_rec_at(recs, st.rec_bytes, j);
        uhn_rec_result f;
        if (r->bad >= 0) { /* identical on every rank after the reduction */
            rc = uhn_fail_param(ctx, UHN_EINPUT, "separation",
                                "separation '%s' needs %s scores, but memory %lld scores %g for "
                                "query %lld (use softmax, a non-negative similarity, or score "
                                "mode 'uhn')",
                                p->sep->name, st.rule == RULE_LOG ? "positive" : "non-negative",
                                (long long)r->bad, r->badval, (long long)qids[j]);
            break;
        }
        uhn_rec_finish(r, p->normalize, out->z + j * bank->O, &f);
        if (f.overflow) {
            rc = uhn_fail_param(
                ctx, UHN_EINPUT, p->normalize ? "separation" : "normalize",
                p->normalize
                    ? "separation '%s': the weights of query %lld sum to %g, and w = g / sum g "
                      "leaves float32 (ln h of scores near 1 cancel)"
                    : "normalize is off, and with separation '%s' the output of query %lld "
                      "(weights up to %g) leaves float32 (normalise, or lower beta or the "
                      "power)",
                p->sep->name, (long long)qids[j],
                p->normalize ? r->acc : exp(r->p * (log(r->beta) + log(r->best))));
            break;
        }
        out->index[j] = f.index;
        out->weight[j] = f.weight;
        out->lse[j] = f.lse;
        out->lse_beta[j] = f.lse_beta;
        out->empty[j] = f.empty;
    }
    uhn_free(recs);
    free(rsum), free(nexact);
    qbuf_free(&qb);
    return rc;
}

/* ---------- the dynamics ---------- */

/* E(v) of spec §5 from lse / beta of v's scores (cue-only: over the cue); lse /
 * beta is computed without forming beta * s, so E is finite for any beta. */
static double energy(const uhn_params *p, double lse_beta, const float *v, const uint8_t *cue,
                     int64_t K) {
    double e = -lse_beta;
    if (sim_is(p, "dot")) {
        double n2 = 0;
        for (int64_t k = 0; k < K; ++k)
            if (!p->cue_only || !cue || cue[k]) n2 += (double)v[k] * v[k];
        e += 0.5 * n2;
    }
    return e;
}

enum { Q_ACTIVE = 0, Q_FINAL = 1, Q_DONE = 2 };

/* Trajectory entry i of queries [c0, c0 + Bc) from their states v (Bc x K). */
static void save_states(uhn_result *res, int64_t i, int64_t c0, int64_t Bc, int64_t K,
                        const float *v) {
    for (int64_t j = 0; j < Bc; ++j)
        memcpy(res->trajectory + ((c0 + j) * res->nsave + i) * K, v + j * K,
               (size_t)K * sizeof(float));
}

/* Query g's energy E(v_t) held for steps t + 1 ... T. */
static void hold_energy(uhn_result *res, int64_t g, int64_t t) {
    double *e = res->energy + g * (res->T + 1);
    for (int64_t u = t + 1; u <= res->T; ++u) e[u] = e[t];
}

/* Runs the dynamics for queries [c0, c0 + Bc) of the caller's batch. */
static int recall_chunk(const uhn_bank *bank, const uhn_params *p, uhn_kws *ws,
                        const float *queries, int64_t c0, int64_t Bc, const uint8_t *clamp,
                        int64_t clamp_rows, int with_energy, uhn_result *res) {
    uhn_ctx *ctx = bank->ctx;
    const int64_t K = bank->K, O = bank->O, T = p->steps;
    const float *q0 = queries + c0 * K;
    /* the chunk's states and outputs: huge pages where large (uhn_alloc) */
    float *v = uhn_alloc((size_t)(Bc * K) * sizeof(float) + 1);
    float *vs = uhn_alloc((size_t)(Bc * K) * sizeof(float) + 1);
    uint8_t *cs = clamp_rows > 1 ? uhn_alloc((size_t)(Bc * K) + 1) : NULL;
    int64_t *act = malloc((size_t)Bc * sizeof(int64_t) + 1), *qid = malloc((size_t)Bc * 8 + 8);
    /* each query's last arg-max (its row's score bounds the next maximum from below) */
    int64_t *last = malloc((size_t)Bc * 8 + 8), *hint = malloc((size_t)Bc * 8 + 8);
    uint8_t *state = calloc((size_t)Bc + 1, 1);
    step_out o = {uhn_alloc((size_t)(Bc * O) * sizeof(float) + 1),
                  malloc((size_t)Bc * 8 + 8),
                  malloc((size_t)Bc * 4 + 4),
                  malloc((size_t)Bc * 8 + 8),
                  malloc((size_t)Bc * 8 + 8),
                  malloc((size_t)Bc + 1)};
    int rc = UHN_OK;
    if (!v || !vs || (clamp_rows > 1 && !cs) || !act || !qid || !last || !hint || !state || !o.z ||
        !o.index || !o.weight || !o.lse || !o.lse_beta || !o.empty)
        rc = uhn_fail(ctx, UHN_ENOMEM, "out of memory for a batch of %lld queries", (long long)Bc);
    rc = uhn_agree(ctx, rc);
    if (rc == UHN_OK) memcpy(v, q0, (size_t)(Bc * K) * sizeof(float));
    for (int64_t j = 0; rc == UHN_OK && j < Bc; ++j) last[j] = -1;

    int64_t next_save = 0; /* the next entry of res->save_steps to record */
    for (int64_t t = 0; rc == UHN_OK && t <= T; ++t) {
        /* v holds v_t of the active queries and the final state of finished
         * ones (spec §11: they repeat it) */
        if (next_save < res->nsave && res->save_steps[next_save] == t)
            save_states(res, next_save++, c0, Bc, K, v);
        /* Gather the queries to score: active ones, and finished ones that
         * still need the energy of their final state. */
        int64_t na = 0, moving = 0;
        for (int64_t j = 0; j < Bc; ++j) {
            if (t == T && state[j] == Q_ACTIVE) state[j] = Q_FINAL;
            if (state[j] == Q_FINAL && !with_energy) state[j] = Q_DONE;
            if (state[j] != Q_DONE) act[na++] = j;
            moving += state[j] == Q_ACTIVE;
        }
        if (na == 0) break;
        for (int64_t a = 0; a < na; ++a) {
            int64_t j = act[a];
            memcpy(vs + a * K, v + j * K, (size_t)K * sizeof(float));
            if (cs) memcpy(cs + a * K, clamp + (c0 + j) * K, (size_t)K);
            qid[a] = c0 + j;
            hint[a] = last[j];
        }
        const uint8_t *cue = clamp_rows > 1 ? cs : clamp;
        /* Only final states left: their energy needs the scores, not z. */
        const double before = ctx->timers.compute + ctx->timers.reduce;
        rc = step(bank, p, ws, na, vs, cue, clamp_rows > 1 ? K : 0, qid, hint, moving > 0, &o);
        if (t == 0) ctx->timers.step1 += ctx->timers.compute + ctx->timers.reduce - before;
        for (int64_t a = 0; rc == UHN_OK && a < na; ++a) {
            int64_t j = act[a], g = c0 + j;
            float *vj = v + j * K;
            const uint8_t *cj = clamp ? clamp + (clamp_rows > 1 ? g * K : 0) : NULL;
            if (with_energy) res->energy[g * (T + 1) + t] = energy(p, o.lse_beta[a], vj, cj, K);
            if (state[j] == Q_FINAL) { /* energy of the final state, held to T */
                if (with_energy) hold_energy(res, g, t);
                state[j] = Q_DONE;
                continue;
            }
            const float *z = o.z + a * O;
            last[j] = o.index[a];
            res->index[g] = o.index[a];
            res->weight[g] = o.weight[a];
            res->lse[g] = o.lse[a];
            res->empty[g] = o.empty[a];
            res->steps[g] = (int32_t)(t + 1);
            if (bank->hetero) { /* the key-space state does not move: output z */
                memcpy(res->output + g * O, z, (size_t)O * sizeof(float));
                if (with_energy) hold_energy(res, g, t);
                state[j] = Q_DONE;
                continue;
            }
            float delta = 0;
            const float alpha = (float)p->step_size;
            const int hold = cj && p->hold;
            for (int64_t k = 0; k < K; ++k) {
                float nv = p->step_size == 1.0 ? z[k] : vj[k] + alpha * (z[k] - vj[k]);
                if (hold && cj[k]) nv = q0[j * K + k]; /* clamped: held at the cue */
                float d = fabsf(nv - vj[k]);
                delta = d > delta ? d : delta;
                vj[k] = nv;
            }
            if (t + 1 == T || (p->tol > 0 && delta < p->tol)) {
                state[j] = Q_FINAL;
                /* A final state equal to v_t (a fixed point: delta is 0 only
                 * when every coordinate is) has v_t's energy, just computed:
                 * no pass over the bank for it. */
                if (delta == 0.0f && with_energy) {
                    hold_energy(res, g, t);
                    state[j] = Q_DONE;
                }
            }
        }
    }
    while (rc == UHN_OK && next_save < res->nsave) /* every query stopped before S_i */
        save_states(res, next_save++, c0, Bc, K, v);
    if (rc == UHN_OK && !bank->hetero)
        memcpy(res->output + c0 * O, v, (size_t)(Bc * K) * sizeof(float));
    free(v), free(vs), free(cs), free(act), free(qid), free(last), free(hint), free(state);
    free(o.z), free(o.index), free(o.weight), free(o.lse), free(o.lse_beta), free(o.empty);
    return rc;
}

int uhn_recall(const uhn_bank *bank, const uhn_params *p, const float *queries, int64_t B,
               const uint8_t *clamp, int64_t clamp_rows, uhn_result *res) {
    uhn_ctx *ctx = bank->ctx;
    if (!clamp) clamp_rows = 0;
    if (clamp && clamp_rows != 1 && clamp_rows != B)
        return uhn_fail(ctx, UHN_EINPUT, "the clamp mask has %lld rows; it needs 1 or %lld",
                        (long long)clamp_rows, (long long)B);
    if (p->cue_only && !clamp)
        return uhn_fail_param(ctx, UHN_EINPUT, "cue_only",
                              "cue_only needs a clamp mask (the cue's known coordinates)");
    int with_energy = uhn_params_has_energy(p);
    if (res->B != B || res->O != bank->O || res->T != p->steps || (with_energy && !res->energy) ||
        (res->nsave > 0 && res->K != bank->K))
        return uhn_fail(ctx, UHN_EINTERNAL, "uhn_recall: the result was made for other shapes");
    if (!bank->committed)
        return uhn_fail(ctx, UHN_EINTERNAL, "uhn_recall: the bank was not committed");
    /* uhn threads over tiles itself; each SGEMM runs on one thread. */
    openblas_set_num_threads(1);
    for (int64_t j = 0; j < B; ++j) res->lse[j] = NAN;
    if (B == 0) return UHN_OK;
    int64_t bs = p->batch > 0 ? p->batch : 1024;
    if (bs > B) bs = B;
    uhn_kws *ws = NULL;
    int rc = UHN_OK;
    if (p->kernel == UHN_KERNEL_FAST) {
        double param = isnan(p->param) ? p->sep->param_default : p->param;
        int64_t nslot = p->sep->kind == UHN_RED_TOPK ? topk_slots(bank, param) : 0;
        rc = uhn_kws_create(ctx, bank, bs, uhn_rec_bytes(p->sep->kind, bank->O, nslot), &ws);
    }
    UHN_CALL(uhn_agree(ctx, rc));
    for (int64_t c0 = 0; rc == UHN_OK && c0 < B; c0 += bs)
        rc = recall_chunk(bank, p, ws, queries, c0, B - c0 < bs ? B - c0 : bs, clamp, clamp_rows,
                          with_energy, res);
    uhn_kws_destroy(ws);
    return rc;
}
