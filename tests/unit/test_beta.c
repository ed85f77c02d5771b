/*
 * Softmax is exact for any finite beta (spec §3): at beta = 1e6, 1e30 and
 * 1e300 the fast and reference kernels give, on 1-4 ranks, finite results
 * with all the weight on the memory with the largest score (the brute-force
 * arg-max in double), its value as output, and lse = beta * s_max. The same
 * for topk and max. Scores are made distinct: query b is a noisy copy of row
 * 7b, so the winner is unique by a wide margin. Softmax also iterated (3
 * steps): from step 2 on the state is that memory, and at several ranks (or a
 * sorted bank) the probe scores it as each query's hinted row in the
 * reference arithmetic, whose float can exceed the kernel's float32 score of
 * the same row: a cut above every score the kernel computes would leave the
 * log-sum-exp empty (energy not finite).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "uhn/uhn.h"

#define N 64
#define K 784
#define B 5

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    uhn_ctx *ctx;
    if (uhn_ctx_create(MPI_COMM_WORLD, &ctx)) return 1;
    check_rank_ = ctx->rank;
    static float keys[N * K], q[B * K];
    for (int64_t e = 0; e < N * K; ++e) keys[e] = (float)uhn_rng_uniform(5, 1, (uint64_t)e, 0);
    for (int b = 0; b < B; ++b)
        for (int k = 0; k < K; ++k)
            q[b * K + k] = keys[(7 * b) * K + k] + 0.05f * (float)uhn_rng_normal(5, 2, b, k);
    uhn_bank *bank;
    if (uhn_bank_create(ctx, N, K, 0, 0, &bank)) return 1;
    for (int64_t i = 0; i < bank->n_local * K; ++i) bank->keys[i] = keys[bank->row0 * K + i];
    if (uhn_bank_commit(bank, "keys", NULL)) return 1;

    const char *sims[] = {"dot", "euclidean", "manhattan", "cosine"};
    const char *seps[] = {"softmax", "topk", "max"};
    const double betas[] = {1e6, 1e30, 1e300};
    for (int si = 0; si < 4; ++si)
        for (int se = 0; se < 3; ++se)
            for (int bi = 0; bi < 3; ++bi)
                for (int kern = 0; kern < 2; ++kern)
                    for (int steps = 1; steps <= (se == 0 ? 3 : 1); steps += 2) {
                        uhn_params p;
                        uhn_params_default(&p);
                        p.sim = uhn_similarity_find(sims[si]);
                        p.sep = uhn_separation_find(seps[se]);
                        p.beta = betas[bi];
                        p.kernel = kern ? UHN_KERNEL_REF : UHN_KERNEL_FAST;
                        if (se == 1) p.param = 3;
                        p.steps = steps;
                        check_context("%s %s beta=%g %s steps=%d", sims[si], seps[se], p.beta,
                                      kern ? "ref" : "fast", steps);
                        uhn_result *res;
                        if (uhn_result_create(ctx, B, K, steps, uhn_params_has_energy(&p), &res))
                            return 1;
                        CHECK_MSG(uhn_recall(bank, &p, q, B, NULL, 0, res) == UHN_OK,
                                  "recall: %s (%s)", ctx->msg, ctx->where);
                        for (int b = 0; b < B; ++b) {
                            /* brute force: the arg-max of s in double */
                            int best = 0;
                            double sbest = -INFINITY;
                            for (int n = 0; n < N; ++n) {
                                double s =
                                    uhn_similarity_ref(p.sim, keys + n * K, q + b * K, NULL, K);
                                if (s > sbest) sbest = s, best = n;
                            }
                            CHECK_INT(7 * b, best); /* the data are built for this */
                            CHECK_INT(best, res->index[b]);
                            CHECK_MSG(res->weight[b] == 1.0f, "query %d: weight %.9g, expected 1",
                                      b, res->weight[b]);
                            int exact = 1;
                            for (int k = 0; k < K; ++k)
                                exact &= res->output[b * K + k] == keys[best * K + k];
                            CHECK_MSG(exact, "query %d: output is not memory %d", b, best);
                            if (se == 0) {
                                /* the last step's state: the query, or after a step the memory */
                                const float *v = steps == 1 ? q + b * K : keys + best * K;
                                sbest = uhn_similarity_ref(p.sim, keys + best * K, v, NULL, K);
                                CHECK_MSG(isfinite(res->lse[b]), "query %d: lse %g", b,
                                          res->lse[b]);
                                /* float32 round-off of the terms the fast kernel sums
                                 * (euclidean: ||x||^2 - 2 x.q + ||q||^2); double for ref */
                                double want = p.beta * sbest, terms = fabs(sbest);
                                for (int k = 0; k < K; ++k)
                                    terms += (double)keys[best * K + k] * keys[best * K + k] +
                                             (double)v[k] * v[k];
                                double tol = kern ? 1e-12 * fabs(want) : 1e-6 * p.beta * terms;
                                CHECK_MSG(fabs(res->lse[b] - want) <= tol,
                                          "query %d: lse %.17g, expected beta * s_max = %.17g", b,
                                          res->lse[b], want);
                            }
                            if (res->energy)
                                CHECK_MSG(isfinite(res->energy[b * 2]) &&
                                              isfinite(res->energy[b * 2 + 1]),
                                          "query %d: energy not finite", b);
                        }
                        uhn_result_destroy(res);
                    }
    uhn_bank_destroy(bank);
    int rc = check_finish_mpi(ctx->comm, "test_beta");
    uhn_ctx_destroy(ctx);
    MPI_Finalize();
    return rc;
}
