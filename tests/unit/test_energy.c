/*
 * The energy of spec §5, on 1-4 ranks: for softmax with dot and with
 * euclidean, E(v_t) as reported in uhn_result.energy never increases for step
 * sizes 0 < alpha <= 1 (clamped or not), E(v_0) equals the spec's formula at
 * the query, and the whole trajectory follows a float64 brute force. With a
 * tolerance, queries stop early (steps <= T) exactly where the brute force
 * does.
 *
 * Tolerances:
 *   monotonicity  E(v_{t+1}) <= E(v_t) + slack, where slack is
 *                 1e-9 * max(|E(v_t)|, |E(v_{t+1})|) for the reference kernel (double) and
 *                 8 FLT_EPSILON * (max_n |s_n| + |v|^2 / 2) for the fast kernel, whose
 *                 float32 scores carry that round-off (spec: "beyond float32 round-off").
 *   E(v_0)        1e-6 * max(|E|, max_n |s_n| + |v|^2 / 2)   (float32 scores)
 *   E(v_t), v_T   1e-5 of the same scales: the float32 state rounds each step.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "uhn/uhn.h"

#define SEED         0xe4e7ull
#define STREAM_KEYS  21u
#define STREAM_QUERY 22u
#define STREAM_NOISE 23u
#define STREAM_CLAMP 24u

#define N    40
#define K    10
#define B    6
#define TMAX 20

#define TOL_MONO     1e-9
#define TOL_MONO_F32 (8 * FLT_EPSILON)
#define TOL_E0       1e-6
#define TOL_TRAJ     1e-5

typedef struct ecase {
    int euclid; /* 0: dot, 1: euclidean */
    int ref;    /* UHN_KERNEL_REF instead of the fast kernel */
    double alpha, beta, tol;
    int clamp; /* one [K] mask */
    int T;
} ecase;

static float key_at(int64_t n, int64_t k) {
    return (float)uhn_rng_uniform(SEED, STREAM_KEYS, (uint64_t)n, (uint32_t)k);
}

/* Queries 0-3: stored rows 5b+2 plus uniform noise of width 0.6 (the dynamics
 * have somewhere to go); queries 4-5: uniform random. */
static float query_at(int64_t b, int64_t k) {
    if (b < 4)
        return key_at(5 * b + 2, k) +
               (float)(0.6 * (uhn_rng_uniform(SEED, STREAM_NOISE, (uint64_t)b, (uint32_t)k) - 0.5));
    return (float)uhn_rng_uniform(SEED, STREAM_QUERY, (uint64_t)b, (uint32_t)k);
}

static double sim(int euclid, const float *x, const double *v) {
    double a = 0;
    for (int k = 0; k < K; ++k)
        a += euclid ? -((double)x[k] - v[k]) * ((double)x[k] - v[k]) : (double)x[k] * v[k];
    return a;
}

/* E(v) = -(1/beta) log sum_n exp(beta s_n) (+ |v|^2/2 for dot); *scale is
 * max_n |s_n| + |v|^2/2, the size of the terms E is a sum of. */
static double energy(const ecase *c, const float *keys, const double *v, double *scale) {
    double s[N], smax = -INFINITY, sabs = 0, e = 0, v2 = 0;
    for (int n = 0; n < N; ++n) {
        s[n] = sim(c->euclid, keys + n * K, v);
        smax = fmax(smax, s[n]);
        sabs = fmax(sabs, fabs(s[n]));
    }
    for (int n = 0; n < N; ++n) e += exp(c->beta * (s[n] - smax));
    if (!c->euclid)
        for (int k = 0; k < K; ++k) v2 += v[k] * v[k];
    *scale = sabs + 0.5 * v2;
    return -(smax + log(e) / c->beta) + (c->euclid ? 0.0 : 0.5 * v2);
}

/* The float64 trajectory of one query: E(v_0..v_steps), v_steps, steps, and
 * the smallest distance of a step's max |v_{t+1} - v_t| from tol (to know
 * whether the stopping step is robust to float32 round-off). */
static int trajectory(const ecase *c, const float *keys, const float *q, const uint8_t *mask,
                      double *E, double *Escale, double *v, double *tol_margin) {
    double s[N], w[N];
    for (int k = 0; k < K; ++k) v[k] = q[k];
    E[0] = energy(c, keys, v, &Escale[0]);
    *tol_margin = INFINITY;
    int t = 0;
    while (t < c->T) {
        double smax = -INFINITY, sum = 0;
        for (int n = 0; n < N; ++n) {
            s[n] = c->beta * sim(c->euclid, keys + n * K, v);
            smax = fmax(smax, s[n]);
        }
        for (int n = 0; n < N; ++n) sum += (w[n] = exp(s[n] - smax));
        double diff = 0;
        double vn[K];
        for (int k = 0; k < K; ++k) {
            double z = 0;
            for (int n = 0; n < N; ++n) z += w[n] / sum * keys[n * K + k];
            vn[k] = (mask && mask[k]) ? q[k] : v[k] + c->alpha * (z - v[k]);
            diff = fmax(diff, fabs(vn[k] - v[k]));
        }
        memcpy(v, vn, sizeof vn);
        ++t;
        E[t] = energy(c, keys, v, &Escale[t]);
        if (c->tol > 0) {
            *tol_margin = fmin(*tol_margin, fabs(diff - c->tol) / c->tol);
            if (diff < c->tol) break;
        }
    }
    return t;
}

/* Queries whose v_T equals v_{T-1}, over the fixed-point cases. */
static int fixed_points;

/* Runs one case; returns the number of queries that stopped before T. */
static int run_case(uhn_ctx *ctx, const ecase *c) {
    check_context("%s alpha=%g beta=%g tol=%g T=%d%s, %s kernel", c->euclid ? "euclidean" : "dot",
                  c->alpha, c->beta, c->tol, c->T, c->clamp ? " clamp [K]" : "",
                  c->ref ? "ref" : "fast");
    float keys[N * K], q[B * K];
    uint8_t mask[K];
    for (int n = 0; n < N; ++n)
        for (int k = 0; k < K; ++k) keys[n * K + k] = key_at(n, k);
    for (int b = 0; b < B; ++b)
        for (int k = 0; k < K; ++k) q[b * K + k] = query_at(b, k);
    for (int k = 0; k < K; ++k)
        mask[k] = (uint8_t)(k == 0 || uhn_rng_uniform(SEED, STREAM_CLAMP, 0, (uint32_t)k) < 0.4);

    uhn_bank *bank = NULL;
    int rc = uhn_bank_create(ctx, N, K, 0, 0, &bank);
    CHECK_MSG(rc == UHN_OK, "uhn_bank_create: %d (%s)", rc, ctx->msg);
    if (rc != UHN_OK) return 0;
    for (int64_t i = 0; i < bank->n_local; ++i)
        memcpy(bank->keys + i * K, keys + (bank->row0 + i) * K, sizeof(float) * K);
    rc = uhn_bank_commit(bank, "test:keys", "test:values");
    CHECK_MSG(rc == UHN_OK, "uhn_bank_commit: %d (%s)", rc, ctx->msg);

    uhn_params p;
    uhn_params_default(&p);
    p.sim = uhn_similarity_find(c->euclid ? "euclidean" : "dot");
    p.sep = uhn_separation_find("softmax");
    p.beta = c->beta, p.step_size = c->alpha, p.steps = c->T, p.tol = c->tol;
    p.kernel = c->ref ? UHN_KERNEL_REF : UHN_KERNEL_FAST;
    CHECK(p.sim && p.sep);
    CHECK_INT(1, uhn_params_has_energy(&p));
    if (rc == UHN_OK) {
        rc = uhn_params_check(ctx, &p, bank);
        CHECK_MSG(rc == UHN_OK, "uhn_params_check: %d (%s)", rc, ctx->msg);
    }
    uhn_result *res = NULL;
    if (rc == UHN_OK) {
        rc = uhn_result_create(ctx, B, K, c->T, 1, &res);
        CHECK_MSG(rc == UHN_OK, "uhn_result_create: %d", rc);
    }
    if (rc == UHN_OK) {
        if (c->beta >= 100) { /* the fixed-point cases: v_{T-1} and v_T */
            const int64_t save[2] = {c->T - 1, c->T};
            rc = uhn_result_want_trajectory(ctx, res, K, 2, save);
            CHECK_MSG(rc == UHN_OK, "uhn_result_want_trajectory: %d (%s)", rc, ctx->msg);
        }
        if (rc == UHN_OK)
            rc = uhn_recall(bank, &p, q, B, c->clamp ? mask : NULL, c->clamp ? 1 : 0, res);
        CHECK_MSG(rc == UHN_OK, "uhn_recall: %d (%s)", rc, ctx->msg);
    }
    int early = 0;
    if (rc == UHN_OK) CHECK(res->energy != NULL);
    if (rc == UHN_OK && res->energy) {
        const int T1 = c->T + 1;
        for (int b = 0; b < B; ++b) {
            double E[TMAX + 1], Es[TMAX + 1], v[K], margin;
            int steps = trajectory(c, keys, q + b * K, c->clamp ? mask : NULL, E, Es, v, &margin);
            const double *got = res->energy + (int64_t)b * T1;
            const int gs = res->steps[b];
            CHECK_MSG(gs >= 1 && gs <= c->T, "query %d: steps %d outside [1, %d]", b, gs, c->T);
            if (c->tol == 0)
                CHECK_MSG(gs == c->T, "query %d: steps %d, expected T = %d (no tol)", b, gs, c->T);
            else if (margin > 0.05)
                CHECK_MSG(gs == steps, "query %d: steps %d, expected %d", b, gs, steps);
            if (gs < c->T) ++early;
            /* A final state equal to the one before it has that state's
             * energy, bit for bit (the engine reports it without a pass). */
            if (res->trajectory &&
                !memcmp(res->trajectory + (int64_t)b * 2 * K,
                        res->trajectory + ((int64_t)b * 2 + 1) * K, K * sizeof(float))) {
                ++fixed_points;
                CHECK_MSG(got[c->T] == got[c->T - 1], "query %d: v_T = v_T-1, E %.17g != %.17g", b,
                          got[c->T], got[c->T - 1]);
            }
            if (gs < 1 || gs > c->T) continue;
            /* E(v_0) from the spec's formula at the query. */
            CHECK_MSG(fabs(got[0] - E[0]) <= TOL_E0 * fmax(fabs(E[0]), Es[0]),
                      "query %d: E(v_0) expected %.17g, got %.17g", b, E[0], got[0]);
            for (int t = 0; t < gs; ++t) {
                CHECK_MSG(isfinite(got[t + 1]), "query %d: E(v_%d) = %g", b, t + 1, got[t + 1]);
                int te = t + 1 < steps ? t + 1 : steps; /* brute-force scale nearest */
                double slack = c->ref ? TOL_MONO * fmax(fabs(got[t]), fabs(got[t + 1]))
                                      : TOL_MONO_F32 * fmax(Es[t < steps ? t : steps], Es[te]);
                CHECK_MSG(got[t + 1] <= got[t] + slack,
                          "query %d: energy rises at step %d: E(v_%d) = %.17g -> E(v_%d) = "
                          "%.17g (+%.3g)",
                          b, t + 1, t, got[t], t + 1, got[t + 1], got[t + 1] - got[t]);
            }
            if (gs != steps) continue;
            for (int t = 1; t <= gs; ++t)
                CHECK_MSG(fabs(got[t] - E[t]) <= TOL_TRAJ * fmax(fabs(E[t]), Es[t]),
                          "query %d: E(v_%d) expected %.17g, got %.17g", b, t, E[t], got[t]);
            double vscale = 1e-6, worst = 0;
            int at = 0;
            for (int k = 0; k < K; ++k) vscale = fmax(vscale, fabs(v[k]));
            for (int k = 0; k < K; ++k) {
                double d = fabs(res->output[b * K + k] - v[k]);
                if (!(d <= worst)) worst = d, at = k;
            }
            CHECK_MSG(worst <= TOL_TRAJ * vscale, "query %d: v_T[%d] expected %.9g, got %.9g", b,
                      at, v[at], (double)res->output[b * K + at]);
            if (c->clamp)
                for (int k = 0; k < K; ++k)
                    if (mask[k])
                        CHECK_MSG(res->output[b * K + k] == q[b * K + k],
                                  "query %d: clamped v_T[%d] = %.9g, query %.9g", b, k,
                                  (double)res->output[b * K + k], (double)q[b * K + k]);
        }
    }
    uhn_result_destroy(res);
    uhn_bank_destroy(bank);
    return early;
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    uhn_ctx *ctx = NULL;
    if (uhn_ctx_create(MPI_COMM_WORLD, &ctx) != UHN_OK) MPI_Abort(MPI_COMM_WORLD, 1);
    check_rank_ = ctx->rank;
    ctx->verbose = 0;

    /* Monotone descent: both pairs, three step sizes, two betas, clamped or
     * not, with either kernel. */
    const double alphas[3] = {0.1, 0.5, 1.0}, betas[2] = {1.0, 8.0};
    for (int ref = 0; ref < 2; ++ref)
        for (int euclid = 0; euclid < 2; ++euclid)
            for (int i = 0; i < 3; ++i)
                for (int j = 0; j < 2; ++j)
                    for (int clamp = 0; clamp < 2; ++clamp) {
                        ecase c = {euclid, ref, alphas[i], betas[j], 0.0, clamp, TMAX};
                        run_case(ctx, &c);
                    }

    /* Early stopping with a tolerance: steps <= T, and some queries stop. */
    for (int ref = 0; ref < 2; ++ref)
        for (int euclid = 0; euclid < 2; ++euclid)
            for (int clamp = 0; clamp < 2; ++clamp) {
                ecase c = {euclid, ref, 1.0, 8.0, 1e-4, clamp, TMAX};
                int early = run_case(ctx, &c);
                CHECK_MSG(early > 0, "no query stopped before T = %d with tol = %g", c.T, c.tol);
                ecase h = {euclid, ref, 0.5, 8.0, 1e-3, clamp, TMAX};
                early = run_case(ctx, &h);
                CHECK_MSG(early > 0, "no query stopped before T = %d with tol = %g", h.T, h.tol);
            }

    /* Fixed points: at beta = 200 most queries settle on one memory (held
     * coordinates aside) and stay there, v_T == v_{T-1} bit for bit; the
     * engine then reports E(v_{T-1}) as E(v_T) without a pass over the bank,
     * and the trajectory checks hold it to the brute force's E(v_T). */
    for (int ref = 0; ref < 2; ++ref)
        for (int euclid = 0; euclid < 2; ++euclid)
            for (int clamp = 0; clamp < 2; ++clamp) {
                ecase f = {euclid, ref, 1.0, 200.0, 0.0, clamp, 8};
                fixed_points = 0;
                run_case(ctx, &f);
                CHECK_MSG(fixed_points >= B / 2, "%s beta = 200: %d of %d queries at a fixed point",
                          euclid ? "euclidean" : "dot", fixed_points, B);
            }

    int code = check_finish_mpi(ctx->comm, "test_energy");
    uhn_ctx_destroy(ctx);
    MPI_Finalize();
    return code;
}
