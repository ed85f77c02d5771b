/*
 * The linear separations (identity, power, log, threshold), topk, max and the
 * softmax are exact for every finite score, beta and p (spec §3), on 1 and 3
 * ranks, in both kernels: the regression test of the overflows found by
 * probing (power with raw Fashion-MNIST-sized dot scores, up to ~200, and p =
 * 20 gave inf outputs and weights above 1e5; log with every score below 1 was
 * reported `empty`; beta = 1e308 gave energies of -inf).
 *
 * The brute force here is written from the spec in the log domain, a
 * formulation the kernels do not use: ln g_n = p (ln beta + ln s_n) for
 * identity and power, so w_n = exp(ln g_n - max ln g) / sum; g_n = ln beta +
 * ln s_n for log, w_n = g_n / sum g (any sign, empty only when the sum is 0);
 * softmax and topk as exp(beta (s_n - s_max)). Scores are dot products of
 * uniform [0, 1) rows of K = 784 (s up to ~260, the scale of raw Fashion-MNIST
 * images), queries are noisy copies of rows 7b. The score mode `uhn` gives
 * scores below 1 that sum to beta (log's case).
 *
 * Tolerances: a float32 score is good to ~1e-7 relative and g = h^p amplifies
 * that p times, so weights and outputs agree to 2e-6 * max(1, min(p, 1/δ))
 * (plus 1e-6), relative to max |y| = 1 for outputs.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "uhn/uhn.h"

#define N 50
#define K 784
#define B 4

static float keys[N * K], q[B * K];

/* The brute force of one query: z (K), n*, w*, empty; returns 0, or 1 when the
 * unnormalised weights leave float32 (then the engine must refuse). */
static int brute(const uhn_params *p, const char *sep, double param, const float *v, double *z,
                 int64_t *nstar, double *wstar, int *empty) {
    double s[N], lg[N], w[N], sum = 0, rs = 0;
    int is_uhn = p->score == UHN_SCORE_UHN;
    int dot = !strcmp(uhn_similarity_name(p->sim), "dot");
    double sq = 0;
    for (int k = 0; k < K; ++k) sq += v[k];
    for (int n = 0; n < N; ++n) {
        s[n] = uhn_similarity_ref(p->sim, keys + n * K, v, NULL, K);
        if (!is_uhn) continue;
        if (dot) { /* r_n = (x / sum x) . (q / sum q) */
            double sx = 0;
            for (int k = 0; k < K; ++k) sx += keys[n * K + k];
            s[n] /= sx * sq;
        } else { /* cosine: r_n = s clipped at 0 */
            s[n] = s[n] > 0 ? s[n] : 0;
        }
        rs += s[n];
    }
    if (is_uhn) /* the score before beta: r_n / sum r */
        for (int n = 0; n < N; ++n) s[n] /= rs;
    int power = !strcmp(sep, "identity") || !strcmp(sep, "power") || !strcmp(sep, "square");
    double pw = !strcmp(sep, "identity") ? 1 : !strcmp(sep, "square") ? 2 : param;
    double mx = -INFINITY;
    for (int n = 0; n < N; ++n) {
        if (power)
            lg[n] = s[n] > 0 ? pw * (log(p->beta) + log(s[n])) : -INFINITY;
        else if (!strcmp(sep, "log"))
            lg[n] = log(p->beta) + log(s[n]);
        else if (!strcmp(sep, "threshold"))
            lg[n] = p->beta * s[n] >= param ? 1 : 0;
        else /* softmax, topk, max: the exponent beta (s - s_max) comes below */
            lg[n] = s[n];
        if (lg[n] > mx) mx = lg[n];
    }
    for (int n = 0; n < N; ++n) {
        if (power)
            w[n] = p->normalize ? (isfinite(mx) ? exp(lg[n] - mx) : 0) : exp(lg[n]);
        else if (!strcmp(sep, "log") || !strcmp(sep, "threshold"))
            w[n] = lg[n];
        else if (!strcmp(sep, "max"))
            w[n] = 0;
        else
            w[n] = exp(p->beta * (s[n] - mx));
    }
    if (!strcmp(sep, "max") || !strcmp(sep, "topk")) {
        int64_t k = !strcmp(sep, "max") ? 1 : (int64_t)param, taken = 0;
        char used[N] = {0};
        for (; taken < k && taken < N; ++taken) {
            int pick = -1;
            for (int n = 0; n < N; ++n)
                if (!used[n] && (pick < 0 || s[n] > s[pick])) pick = n;
            used[pick] = 1;
        }
        for (int n = 0; n < N; ++n)
            if (!used[n])
                w[n] = 0;
            else if (!strcmp(sep, "max"))
                w[n] = 1;
    }
    int all_zero = 1;
    for (int n = 0; n < N; ++n) {
        sum += w[n];
        /* unnormalised power weights may underflow double; they are not 0 */
        if (power ? lg[n] > -INFINITY : w[n] != 0) all_zero = 0;
    }
    /* empty: normalised, the weights sum to 0; unnormalised, every weight is 0 */
    *empty = p->normalize ? sum == 0 : all_zero;
    int64_t best = -1;
    double wb = 0, kb = 0;
    for (int n = 0; n < N; ++n) { /* n*: the largest weight, ties to the lowest index */
        double wn = p->normalize && sum != 0 ? w[n] / sum : w[n];
        double key = power ? lg[n] : wn;
        if (best < 0 || key > kb) best = n, wb = wn, kb = key;
    }
    *nstar = *empty ? -1 : best;
    *wstar = *empty ? 0 : wb;
    int over = !(fabs(wb) <= FLT_MAX);
    for (int k = 0; k < K; ++k) {
        double acc = 0;
        for (int n = 0; n < N; ++n) acc += w[n] * keys[n * K + k];
        z[k] = *empty ? 0 : p->normalize ? acc / sum : acc;
        if (!(fabs(z[k]) <= FLT_MAX)) over = 1;
    }
    return over;
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    uhn_ctx *ctx;
    if (uhn_ctx_create(MPI_COMM_WORLD, &ctx)) return 1;
    check_rank_ = ctx->rank;
    for (int64_t e = 0; e < N * K; ++e) keys[e] = (float)uhn_rng_uniform(9, 1, (uint64_t)e, 0);
    for (int b = 0; b < B; ++b)
        for (int k = 0; k < K; ++k) {
            float x = keys[(7 * b) * K + k] + 0.2f * (float)uhn_rng_normal(9, 2, b, k);
            q[b * K + k] = x < 0 ? 0 : x;
        }
    uhn_bank *bank;
    if (uhn_bank_create(ctx, N, K, 0, 0, &bank)) return 1;
    for (int64_t i = 0; i < bank->n_local * K; ++i) bank->keys[i] = keys[bank->row0 * K + i];
    if (uhn_bank_commit(bank, "keys", NULL)) return 1;

    typedef struct {
        const char *sep;
        double param;
    } sep_case;
    const sep_case seps[] = {{"identity", NAN},  {"square", NAN},  {"power", 1},   {"power", 3},
                             {"power", 20},      {"power", 50},    {"power", 1e9}, {"log", NAN},
                             {"threshold", 150}, {"softmax", NAN}, {"topk", 3},    {"topk", 1e9},
                             {"max", NAN}};
    const double betas[] = {1e-3, 1, 1e3, 1e300, 1e308};
    const char *sims[] = {"dot", "cosine"};
    double *zb = malloc(sizeof(double) * K);
    int nsep = (int)(sizeof seps / sizeof seps[0]);
    for (int si = 0; si < 2; ++si)
        for (int score = 0; score < 2; ++score)
            for (int se = 0; se < nsep; ++se)
                for (int bi = 0; bi < 5; ++bi)
                    for (int norm = 1; norm >= 0; --norm)
                        for (int kern = 0; kern < 2; ++kern) {
                            const sep_case *c = &seps[se];
                            if (!norm && (!strcmp(c->sep, "softmax") || !strcmp(c->sep, "topk") ||
                                          !strcmp(c->sep, "max") || !strcmp(c->sep, "log")))
                                continue; /* covered by test_engine at moderate beta */
                            uhn_params p;
                            uhn_params_default(&p);
                            p.sim = uhn_similarity_find(sims[si]);
                            p.sep = uhn_separation_find(c->sep);
                            p.score = score ? UHN_SCORE_UHN : UHN_SCORE_RAW;
                            p.beta = betas[bi];
                            p.param = c->param;
                            p.normalize = norm;
                            p.kernel = kern ? UHN_KERNEL_REF : UHN_KERNEL_FAST;
                            check_context("%s %s score=%s %s p=%g beta=%g %s", sims[si], c->sep,
                                          score ? "uhn" : "raw", norm ? "norm" : "no-norm",
                                          c->param, p.beta, kern ? "ref" : "fast");
                            double pw =
                                isnan(c->param) ? (!strcmp(c->sep, "square") ? 2 : 1) : c->param;
                            int power = !strcmp(c->sep, "power") || !strcmp(c->sep, "square") ||
                                        !strcmp(c->sep, "identity");
                            double amp = power ? fmin(pw, 1e3) : 1;
                            uhn_result *res;
                            if (uhn_result_create(ctx, B, K, 1, uhn_params_has_energy(&p), &res))
                                return 1;
                            int st = uhn_recall(bank, &p, q, B, NULL, 0, res);
                            int any_over = 0;
                            for (int b = 0; b < B; ++b) {
                                int64_t nb;
                                double wb;
                                int emp;
                                any_over |=
                                    brute(&p, c->sep, c->param, q + b * K, zb, &nb, &wb, &emp);
                            }
                            if (any_over) { /* unnormalised weights beyond float32 */
                                CHECK_INT(UHN_EINPUT, st);
                                CHECK_MSG(strstr(ctx->msg, "leaves float32") != NULL,
                                          "message '%s'", ctx->msg);
                                CHECK_MSG(!strncmp(ctx->msg, "normalize is off", 16) &&
                                              !strcmp(ctx->param, "normalize"),
                                          "message '%s' is not about normalize", ctx->msg);
                                uhn_result_destroy(res);
                                continue;
                            }
                            CHECK_INT(UHN_OK, st);
                            if (st != UHN_OK) {
                                if (ctx->rank == 0) fprintf(stderr, "  %s\n", ctx->msg);
                                uhn_result_destroy(res);
                                continue;
                            }
                            for (int b = 0; b < B; ++b) {
                                int64_t nb;
                                double wb;
                                int emp;
                                brute(&p, c->sep, c->param, q + b * K, zb, &nb, &wb, &emp);
                                CHECK_INT(emp, res->empty[b]);
                                CHECK_INT(nb, res->index[b]);
                                double tol = (2e-6 * amp + 1e-6) * fmax(1, fabs(wb));
                                CHECK_MSG(fabs(res->weight[b] - wb) <= tol,
                                          "query %d: weight %.9g, brute force %.9g", b,
                                          res->weight[b], wb);
                                double zmax = 0, err = 0;
                                for (int k = 0; k < K; ++k) {
                                    zmax = fmax(zmax, fabs(zb[k]));
                                    double e = fabs(res->output[b * K + k] - zb[k]);
                                    if (!(e <= err)) err = e; /* NaN sticks */
                                }
                                CHECK_MSG(err <= (2e-6 * amp + 1e-6) * fmax(1, zmax),
                                          "query %d: output off by %g (max |z| %g)", b, err, zmax);
                                if (res->energy) { /* E = -lse/beta + |v|^2/2, finite for all beta
                                                    */
                                    double smax = -INFINITY, acc = 0, n2 = 0;
                                    for (int n = 0; n < N; ++n)
                                        smax = fmax(smax, uhn_similarity_ref(p.sim, keys + n * K,
                                                                             q + b * K, NULL, K));
                                    for (int n = 0; n < N; ++n)
                                        acc +=
                                            exp(p.beta * (uhn_similarity_ref(p.sim, keys + n * K,
                                                                             q + b * K, NULL, K) -
                                                          smax));
                                    for (int k = 0; k < K; ++k)
                                        n2 += (double)q[b * K + k] * q[b * K + k];
                                    double e0 = -(smax + log(acc) / p.beta) + 0.5 * n2;
                                    CHECK_MSG(isfinite(res->energy[b * 2]) &&
                                                  fabs(res->energy[b * 2] - e0) <=
                                                      1e-5 * fmax(1, fabs(smax) + 0.5 * n2),
                                              "query %d: E(v_0) %.17g, expected %.17g", b,
                                              res->energy[b * 2], e0);
                                    CHECK_MSG(isfinite(res->energy[b * 2 + 1]),
                                              "query %d: E(v_1) %g", b, res->energy[b * 2 + 1]);
                                }
                            }
                            uhn_result_destroy(res);
                        }
    free(zb);
    uhn_bank_destroy(bank);
    int rc = check_finish_mpi(ctx->comm, "test_separation_range");
    uhn_ctx_destroy(ctx);
    MPI_Finalize();
    return rc;
}
