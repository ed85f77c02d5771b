/*
 * The retrieval engine against brute force (spec §1-§6), on 1-4 ranks.
 *
 * Every case builds a bank from uhn_rng (each rank fills its own rows from
 * the global row index, so the data do not depend on the rank count), runs
 * uhn_recall with the fast kernel and with the reference kernel, and compares
 * both with a serial brute-force computation written here from the spec in
 * double precision over the whole bank (every rank computes it: the banks are
 * small). The brute force knows nothing of the decomposition, so agreement
 * on every rank count is rank-count independence as well. To keep the test
 * fast at any rank count, rank r brute-forces and checks queries b with
 * b % size == r, and every rank checks that its results are bitwise those of
 * rank 0 (the results are replicated).
 *
 * Tolerances (float32 data and float32 kernels against float64 maths):
 *   output  |got - exp| <= 1e-5 * max(max_o |z_o|, max_o sum_n w_n |y_no|, 1e-6)
 *   index   identical (exact ties: the lowest global index)
 *   weight  |got - exp| <= 1e-5 * max(1, |exp|)
 *   lse     |got - exp| <= 1e-6 * max(|exp|, beta * max_n A_n)
 *   energy  |got - exp| <= 1e-6 * max(|exp|, max_n A_n + |v|^2 / 2)
 *   empty, steps: equal.
 * Each is relative to the size of the terms the quantity is a sum of, which
 * is what float32 round-off scales with: A_n is the magnitude of the terms of
 * s(x_n, v) (sum |x_k v_k| for dot, |x|^2 + |v|^2 for euclidean, whose fast
 * form |x|^2 - 2 x.v + |v|^2 cancels, ...), and a cancelling weighted sum of
 * signed values keeps the absolute round-off of its terms. For non-negative
 * data these are just the largest |output| and |h|.
 *
 * The data are scaled so that beta * |s| stays moderate: a float32 score is
 * good to ~1e-7 relative, and the weights amplify that by beta * |s|. Cases
 * that need exact ties (max, topk, threshold, duplicated rows) use small
 * integers, for which every similarity below is exact in float32.
 */
#define _POSIX_C_SOURCE 200809L /* setenv */

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "uhn/uhn.h"

#define SEED          0x5eed2024ull
#define STREAM_KEYS   11u
#define STREAM_VALUES 12u
#define STREAM_QUERY  13u
#define STREAM_CLAMP  14u

#define TOL_OUT    1e-5
#define TOL_WEIGHT 1e-5
#define TOL_LSE    1e-6
#define TOL_ENERGY 1e-6

enum { DATA_UNIFORM, DATA_INTEGER, DATA_BLOCKS };
enum { Q_RANDOM, Q_MIXED, Q_ZERO };
enum { SIM_DOT, SIM_COSINE, SIM_EUCLIDEAN, SIM_MANHATTAN, SIM_KL, SIM_RKL, SIM_JS, SIM_COUNT };
enum { SEP_IDENTITY, SEP_POWER, SEP_LOG, SEP_SOFTMAX, SEP_MAX, SEP_TOPK, SEP_THRESHOLD, SEP_COUNT };

/* This process's share of the brute force: queries b with b % g_size == g_rank. */
static int g_rank = 0, g_size = 1;
static int g_sorted = 0; /* --sorted: every bank is sorted by norm (uhn_bank_sort) */

static const char *const sim_names[SIM_COUNT] = {"dot", "cosine",     "euclidean",     "manhattan",
                                                 "kl",  "reverse_kl", "jensen_shannon"};
static const char *const sep_names[SEP_COUNT] = {"identity", "power", "log",      "softmax",
                                                 "max",      "topk",  "threshold"};

typedef struct ecase {
    const char *label;
    int64_t N, K, B, O;
    int hetero; /* values are a separate N x O matrix in [-1, 1) */
    int data;   /* DATA_UNIFORM: keys in [lo, hi); DATA_INTEGER: keys in {0..levels-1};
                 * DATA_BLOCKS: keys in {0..levels-1} constant on runs of 8 coordinates,
                 * plus 1 on a tenth of them (neighbours alike, as in images) */
    double lo, hi;
    int levels;
    int queries; /* Q_RANDOM: like the keys; Q_MIXED: every third a copy of a row, every
                    third a copy of row 1; Q_ZERO: the last query is all zero */
    int dup;     /* row N-1 is a copy of row 1 (N >= 3) */
    int clamp;   /* 0: none; 1: one [K] mask; 2: a [B][K] mask */
    int sim, sep;
    double beta, param;
    int score_uhn, normalize, cue_only, steps;
    double alpha, tol;
    int64_t batch;
    int64_t key_zero;   /* coordinates [0, key_zero) are 0 in every key and query */
    int64_t query_tail; /* coordinates [K - query_tail, K) are 0 in every query (a mask) */
} ecase;

static ecase base_case(const char *label) {
    ecase c = {0};
    c.label = label;
    c.N = 50, c.K = 5, c.B = 7;
    c.data = DATA_UNIFORM, c.lo = 0.0, c.hi = 1.0, c.levels = 4;
    c.queries = Q_RANDOM;
    c.sim = SIM_DOT, c.sep = SEP_SOFTMAX;
    c.beta = 1.0, c.param = NAN;
    c.normalize = 1, c.steps = 1, c.alpha = 1.0;
    return c;
}

static int is_distance(int sim) {
    return sim != SIM_DOT && sim != SIM_COSINE;
}

/* ---- data ---------------------------------------------------------------- */

static float draw(const ecase *c, uint32_t stream, uint64_t index, uint32_t k) {
    double u = uhn_rng_uniform(SEED, stream, index, k);
    if (c->data == DATA_INTEGER) return (float)floor(u * c->levels);
    if (c->data == DATA_BLOCKS)
        return (float)floor(uhn_rng_uniform(SEED, stream, index, k / 8) * c->levels) +
               (u < 0.1 ? 1.0f : 0.0f);
    return (float)(c->lo + (c->hi - c->lo) * u);
}

static float key_at(const ecase *c, int64_t n, int64_t k) {
    int64_t src = (c->dup && c->N >= 3 && n == c->N - 1) ? 1 : n;
    if (k < c->key_zero) return 0.0f;
    return draw(c, STREAM_KEYS, (uint64_t)src, (uint32_t)k);
}

static float value_at(const ecase *c, int64_t n, int64_t o) {
    int64_t src = (c->dup && c->N >= 3 && n == c->N - 1) ? 1 : n;
    return (float)(2.0 * uhn_rng_uniform(SEED, STREAM_VALUES, (uint64_t)src, (uint32_t)o) - 1.0);
}

static void make_queries(const ecase *c, float *q) {
    for (int64_t b = 0; b < c->B; ++b) {
        float *qb = q + b * c->K;
        int64_t row = -1;
        if (c->queries == Q_MIXED && b % 3 == 0) row = (7 * b + 3) % c->N;
        if (c->queries == Q_MIXED && b % 3 == 1) row = c->N >= 2 ? 1 : 0;
        for (int64_t k = 0; k < c->K; ++k)
            qb[k] = row >= 0 ? key_at(c, row, k) : draw(c, STREAM_QUERY, (uint64_t)b, (uint32_t)k);
        if (c->queries == Q_ZERO && b == c->B - 1)
            for (int64_t k = 0; k < c->K; ++k) qb[k] = 0.0f;
        for (int64_t k = 0; k < c->K; ++k)
            if (k < c->key_zero || k >= c->K - c->query_tail) qb[k] = 0.0f;
    }
}

/* About 60% of coordinates known; coordinate b % K is always known so that
 * no cue set is empty. */
static void make_clamp(const ecase *c, uint8_t *mask, int64_t rows) {
    for (int64_t b = 0; b < rows; ++b)
        for (int64_t k = 0; k < c->K; ++k)
            mask[b * c->K + k] =
                (uint8_t)(k == b % c->K ||
                          uhn_rng_uniform(SEED, STREAM_CLAMP, (uint64_t)b, (uint32_t)k) < 0.6);
}

/* ---- brute force, from the spec ------------------------------------------ */

/* s(x, v) over the coordinates in m (all when m is NULL); *mag is the size
 * of the terms it sums (A_n above). */
static double bf_sim(int sim, const float *x, const double *v, const uint8_t *m, int64_t K,
                     double *mag) {
    const double eps = UHN_DIV_EPS;
    double a = 0, b = 0, c = 0, sx = 0, sv = 0;
    *mag = 0;
    switch (sim) {
    case SIM_DOT:
        for (int64_t k = 0; k < K; ++k)
            if (!m || m[k]) a += (double)x[k] * v[k], *mag += fabs((double)x[k] * v[k]);
        return a;
    case SIM_COSINE:
        for (int64_t k = 0; k < K; ++k)
            if (!m || m[k]) a += (double)x[k] * v[k], b += (double)x[k] * x[k], c += v[k] * v[k];
        *mag = 1.0;
        return (b == 0 || c == 0) ? 0.0 : a / (sqrt(b) * sqrt(c));
    case SIM_EUCLIDEAN:
        for (int64_t k = 0; k < K; ++k)
            if (!m || m[k])
                a += ((double)x[k] - v[k]) * ((double)x[k] - v[k]),
                    *mag += (double)x[k] * x[k] + v[k] * v[k];
        return -a;
    case SIM_MANHATTAN:
        for (int64_t k = 0; k < K; ++k)
            if (!m || m[k]) a += fabs((double)x[k] - v[k]), *mag += fabs((double)x[k]) + fabs(v[k]);
        return -a;
    default:
        break;
    }
    /* Divergences: p^ = (p + eps) / sum_C (p + eps). */
    for (int64_t k = 0; k < K; ++k)
        if (!m || m[k]) sx += (double)x[k] + eps, sv += v[k] + eps;
    for (int64_t k = 0; k < K; ++k) {
        if (m && !m[k]) continue;
        double xh = ((double)x[k] + eps) / sx, qh = (v[k] + eps) / sv, mh = 0.5 * (xh + qh);
        if (sim == SIM_KL) a += qh * log(xh / qh);
        if (sim == SIM_RKL) a -= xh * log(xh / qh);
        if (sim == SIM_JS) a -= 0.5 * xh * log(xh / mh) + 0.5 * qh * log(qh / mh);
        *mag += (xh + qh) * (fabs(log(xh)) + fabs(log(qh)));
    }
    return a;
}

/* The weights of one step at state v (spec §2, §3). Fills s, h, w (N each);
 * returns 1 when empty. *exact is set when the uhn score found an exact
 * match (separation skipped), *lse is NaN unless softmax. */
typedef struct bf_step {
    int empty, exact;
    int64_t index;
    double weight, lse, hscale; /* hscale: the size of the terms of the scores h */
} bf_step;

static bf_step bf_weights(const ecase *c, const float *keys, const double *v, const uint8_t *mask,
                          double *s, double *h, double *w) {
    const int64_t N = c->N, K = c->K;
    bf_step r = {0};
    r.index = -1;
    r.lse = NAN;
    const uint8_t *m = c->cue_only ? mask : NULL;
    double *mag = w; /* w is free until the separation */
    for (int64_t n = 0; n < N; ++n) s[n] = bf_sim(c->sim, keys + n * K, v, m, K, &mag[n]);
    if (c->score_uhn) {
        int64_t nexact = 0;
        if (is_distance(c->sim))
            for (int64_t n = 0; n < N; ++n) nexact += (s[n] == 0.0);
        if (nexact) {
            /* Exact matches share weight 1; separation is skipped. */
            r.exact = 1;
            for (int64_t n = 0; n < N; ++n) w[n] = s[n] == 0.0 ? 1.0 / (double)nexact : 0.0;
            for (int64_t n = 0; n < N; ++n)
                if (r.index < 0 || w[n] > w[r.index]) r.index = n;
            r.weight = w[r.index];
            return r;
        }
        double rsum = 0, vsum = 0;
        for (int64_t k = 0; k < K; ++k)
            if (!m || m[k]) vsum += v[k];
        for (int64_t n = 0; n < N; ++n) {
            if (is_distance(c->sim)) {
                h[n] = 1.0 / -s[n];
            } else if (c->sim == SIM_DOT) {
                double xsum = 0;
                for (int64_t k = 0; k < K; ++k)
                    if (!m || m[k]) xsum += keys[n * K + k];
                h[n] = s[n] / (xsum * vsum);
            } else {
                h[n] = fmax(s[n], 0.0);
            }
            rsum += h[n];
        }
        /* h_n = beta r_n / sum r carries the relative error of d_n, A_n / d_n. */
        for (int64_t n = 0; n < N; ++n) {
            h[n] = c->beta * h[n] / rsum;
            double rel = (is_distance(c->sim) && s[n] != 0) ? fmax(1.0, mag[n] / fabs(s[n])) : 1;
            r.hscale = fmax(r.hscale, fabs(h[n]) * rel);
        }
    } else {
        for (int64_t n = 0; n < N; ++n) {
            h[n] = c->beta * s[n];
            r.hscale = fmax(r.hscale, c->beta * fmax(mag[n], fabs(s[n])));
        }
    }
    double hmax = -INFINITY;
    for (int64_t n = 0; n < N; ++n) hmax = fmax(hmax, h[n]);
    const double p = isnan(c->param) ? 2.0 : c->param;
    double gsum = 0;
    for (int64_t n = 0; n < N; ++n) {
        double g = 0;
        switch (c->sep) {
        case SEP_IDENTITY:
            g = h[n];
            break;
        case SEP_POWER:
            g = pow(h[n], p);
            break;
        case SEP_LOG:
            g = log(h[n]);
            break;
        case SEP_SOFTMAX:
            g = exp(h[n] - hmax);
            break;
        case SEP_MAX: {
            int64_t first = 0;
            while (h[first] != hmax) ++first;
            g = n == first;
            break;
        }
        case SEP_TOPK: {
            /* Rank by (score descending, index ascending). */
            int64_t rank = 0;
            for (int64_t j = 0; j < N; ++j) rank += h[j] > h[n] || (h[j] == h[n] && j < n);
            g = rank < (int64_t)c->param ? exp(h[n] - hmax) : 0.0;
            break;
        }
        case SEP_THRESHOLD:
            g = h[n] >= c->param;
            break;
        }
        w[n] = g;
        gsum += g;
    }
    if (c->sep == SEP_SOFTMAX) {
        double e = 0;
        for (int64_t n = 0; n < N; ++n) e += exp(h[n] - hmax);
        r.lse = hmax + log(e);
    }
    if (gsum == 0.0) {
        r.empty = 1;
        for (int64_t n = 0; n < N; ++n) w[n] = 0.0;
        return r;
    }
    if (c->normalize)
        for (int64_t n = 0; n < N; ++n) w[n] /= gsum;
    for (int64_t n = 0; n < N; ++n)
        if (r.index < 0 || w[n] > w[r.index]) r.index = n;
    r.weight = w[r.index];
    return r;
}

/* E of spec §5 at v (softmax with dot or euclidean), and the size of the
 * terms it is a sum of (max_n A_n + |v|^2 / 2). */
static double bf_energy(const ecase *c, const float *keys, const double *v, const uint8_t *mask,
                        double *s, double *scale) {
    const uint8_t *m = c->cue_only ? mask : NULL;
    double smax = -INFINITY, sabs = 0, v2 = 0, e = 0, mag;
    for (int64_t n = 0; n < c->N; ++n) {
        s[n] = bf_sim(c->sim, keys + n * c->K, v, m, c->K, &mag);
        smax = fmax(smax, s[n]);
        sabs = fmax(sabs, fmax(mag, fabs(s[n])));
    }
    for (int64_t n = 0; n < c->N; ++n) e += exp(c->beta * (s[n] - smax));
    double E = -(smax + log(e) / c->beta);
    if (c->sim == SIM_DOT) {
        for (int64_t k = 0; k < c->K; ++k) v2 += v[k] * v[k];
        E += 0.5 * v2;
    }
    *scale = sabs + 0.5 * v2;
    return E;
}

/* Expected results for every query. */
typedef struct expect {
    double *output; /* B x O */
    double *oscale; /* B: max_o max(|z_o|, sum_n w_n |y_no|) */
    int64_t *index;
    double *weight, *lse, *hscale;
    int *empty, *exact, *steps;
    double *energy, *escale; /* B x (T+1) */
} expect;

static void brute_force(const ecase *c, const float *keys, const float *vals, const float *q,
                        const uint8_t *clamp, expect *ex) {
    const int64_t N = c->N, K = c->K, O = c->O, T = c->steps;
    double *s = malloc(sizeof(double) * (size_t)N), *h = malloc(sizeof(double) * (size_t)N);
    double *w = malloc(sizeof(double) * (size_t)N);
    double *v = malloc(sizeof(double) * (size_t)K), *z = malloc(sizeof(double) * (size_t)O);
    double *za = malloc(sizeof(double) * (size_t)O);
    const int energy = c->sep == SEP_SOFTMAX && (c->sim == SIM_DOT || c->sim == SIM_EUCLIDEAN);
    for (int64_t b = g_rank; b < c->B; b += g_size) {
        const uint8_t *mask = clamp ? clamp + (c->clamp == 2 ? b : 0) * K : NULL;
        for (int64_t k = 0; k < K; ++k) v[k] = q[b * K + k];
        if (energy && !c->hetero)
            ex->energy[b * (T + 1)] = bf_energy(c, keys, v, mask, s, &ex->escale[b * (T + 1)]);
        int64_t t = 0;
        while (t < T) {
            bf_step st = bf_weights(c, keys, v, mask, s, h, w);
            ex->index[b] = st.index, ex->weight[b] = st.weight, ex->lse[b] = st.lse;
            ex->hscale[b] = st.hscale, ex->empty[b] = st.empty, ex->exact[b] = st.exact;
            for (int64_t o = 0; o < O; ++o) z[o] = za[o] = 0.0;
            for (int64_t n = 0; n < N; ++n)
                if (w[n] != 0.0)
                    for (int64_t o = 0; o < O; ++o)
                        z[o] += w[n] * vals[n * O + o], za[o] += fabs(w[n] * vals[n * O + o]);
            ex->oscale[b] = 0;
            for (int64_t o = 0; o < O; ++o) ex->oscale[b] = fmax(ex->oscale[b], za[o]);
            ++t;
            if (c->hetero) {
                for (int64_t o = 0; o < O; ++o) ex->output[b * O + o] = z[o];
                break;
            }
            /* v <- v + alpha (z - v), then the clamp set keeps the query. */
            double diff = 0;
            for (int64_t k = 0; k < K; ++k) {
                double vn = v[k] + c->alpha * (z[k] - v[k]);
                if (mask && mask[k]) vn = q[b * K + k];
                diff = fmax(diff, fabs(vn - v[k]));
                v[k] = vn;
            }
            if (energy)
                ex->energy[b * (T + 1) + t] =
                    bf_energy(c, keys, v, mask, s, &ex->escale[b * (T + 1) + t]);
            if (c->tol > 0 && diff < c->tol) break;
        }
        ex->steps[b] = (int)t;
        if (!c->hetero)
            for (int64_t k = 0; k < K; ++k) ex->output[b * O + k] = v[k];
    }
    free(s), free(h), free(w), free(v), free(z), free(za);
}

/* ---- the engine ----------------------------------------------------------- */

static void compare(const ecase *c, const expect *ex, const uhn_result *res, int has_energy) {
    const int64_t O = c->O, T = c->steps;
    for (int64_t b = g_rank; b < c->B; b += g_size) {
        /* Output: the worst coordinate of the row, relative to the row's scale. */
        double scale = fmax(1e-6, ex->oscale[b]), worst = -1;
        int64_t at = 0;
        for (int64_t o = 0; o < O; ++o) scale = fmax(scale, fabs(ex->output[b * O + o]));
        for (int64_t o = 0; o < O; ++o) {
            double d = fabs((double)res->output[b * O + o] - ex->output[b * O + o]);
            if (isnan(res->output[b * O + o])) d = INFINITY;
            if (d > worst) worst = d, at = o;
        }
        CHECK_MSG(worst <= TOL_OUT * scale,
                  "query %lld: output[%lld] expected %.9g, got %.9g (|diff| %.3g > %.3g)",
                  (long long)b, (long long)at, ex->output[b * O + at],
                  (double)res->output[b * O + at], worst, TOL_OUT * scale);
        CHECK_MSG(res->empty[b] == ex->empty[b], "query %lld: empty expected %d, got %d",
                  (long long)b, ex->empty[b], (int)res->empty[b]);
        CHECK_MSG(res->steps[b] == ex->steps[b], "query %lld: steps expected %d, got %d",
                  (long long)b, ex->steps[b], (int)res->steps[b]);
        if (ex->empty[b]) {
            CHECK_MSG(res->index[b] == -1, "query %lld (empty): index expected -1, got %lld",
                      (long long)b, (long long)res->index[b]);
        } else {
            CHECK_MSG(res->index[b] == ex->index[b],
                      "query %lld: index expected %lld (w %.9g), got %lld (w %.9g)", (long long)b,
                      (long long)ex->index[b], ex->weight[b], (long long)res->index[b],
                      (double)res->weight[b]);
            double tw = TOL_WEIGHT * fmax(1.0, fabs(ex->weight[b]));
            CHECK_MSG(fabs((double)res->weight[b] - ex->weight[b]) <= tw,
                      "query %lld: weight expected %.9g, got %.9g", (long long)b, ex->weight[b],
                      (double)res->weight[b]);
        }
        /* lse: softmax only (else NaN); for one-step recalls, where "the scores"
         * are unambiguous, and not where an exact uhn match skipped separation. */
        if (c->sep == SEP_SOFTMAX && T == 1 && !ex->exact[b]) {
            double tl = TOL_LSE * fmax(fabs(ex->lse[b]), ex->hscale[b]);
            CHECK_MSG(fabs(res->lse[b] - ex->lse[b]) <= tl,
                      "query %lld: lse expected %.17g, got %.17g (|diff| %.3g > %.3g)",
                      (long long)b, ex->lse[b], res->lse[b], fabs(res->lse[b] - ex->lse[b]), tl);
        } else if (c->sep != SEP_SOFTMAX && c->sep != SEP_TOPK) {
            CHECK_MSG(isnan(res->lse[b]), "query %lld: lse expected NaN (not softmax), got %g",
                      (long long)b, res->lse[b]);
        }
        /* Energy: raw scores only (spec §5's E is the raw-score energy), and not for
         * cue-only dot, where the spec leaves open whether |v|^2 / 2 runs over the cue. */
        if (has_energy && !c->hetero && !c->score_uhn && !(c->cue_only && c->sim == SIM_DOT)) {
            for (int64_t t = 0; t <= ex->steps[b]; ++t) {
                double e = ex->energy[b * (T + 1) + t], g = res->energy[b * (T + 1) + t];
                double te = TOL_ENERGY * fmax(fabs(e), ex->escale[b * (T + 1) + t]);
                CHECK_MSG(fabs(g - e) <= te,
                          "query %lld: energy[%lld] expected %.17g, got %.17g (|diff| %.3g > %.3g)",
                          (long long)b, (long long)t, e, g, fabs(g - e), te);
            }
        }
    }
}

/* Every rank holds rank 0's results, bit for bit. */
static void check_replicated(uhn_ctx *ctx, const uhn_result *res) {
    const int64_t B = res->B, O = res->O, T1 = res->T + 1;
    const size_t nbytes =
        sizeof(float) * (size_t)(B * O) +
        (sizeof(int64_t) + sizeof(float) + sizeof(double) + sizeof(int32_t) + sizeof(uint8_t)) *
            (size_t)B +
        (res->energy ? sizeof(double) * (size_t)(B * T1) : 0);
    unsigned char *mine = malloc(nbytes), *root = malloc(nbytes), *p = mine;
#define PACK(ptr, bytes) (memcpy(p, (ptr), (bytes)), p += (bytes))
    PACK(res->output, sizeof(float) * (size_t)(B * O));
    PACK(res->index, sizeof(int64_t) * (size_t)B);
    PACK(res->weight, sizeof(float) * (size_t)B);
    PACK(res->lse, sizeof(double) * (size_t)B);
    PACK(res->steps, sizeof(int32_t) * (size_t)B);
    PACK(res->empty, sizeof(uint8_t) * (size_t)B);
    if (res->energy) PACK(res->energy, sizeof(double) * (size_t)(B * T1));
#undef PACK
    memcpy(root, mine, nbytes);
    MPI_Bcast(root, (int)nbytes, MPI_BYTE, 0, ctx->comm);
    CHECK_MSG(memcmp(root, mine, nbytes) == 0, "results on rank %d differ from rank 0's",
              ctx->rank);
    free(mine), free(root);
}

static void run_case(uhn_ctx *ctx, ecase c) {
    if (!c.hetero) c.O = c.K;
    const int64_t N = c.N, K = c.K, O = c.O, B = c.B, T = c.steps;
    check_context("%s [%s/%s beta=%g N=%lld K=%lld B=%lld]", c.label, sim_names[c.sim],
                  sep_names[c.sep], c.beta, (long long)N, (long long)K, (long long)B);
    const uhn_similarity *sim = uhn_similarity_find(sim_names[c.sim]);
    const uhn_separation *sep = uhn_separation_find(sep_names[c.sep]);
    CHECK(sim != NULL && sep != NULL);
    if (!sim || !sep) return;

    /* Whole bank and queries, on every rank, for the brute force. */
    float *keys = malloc(sizeof(float) * (size_t)(N * K));
    float *vals = c.hetero ? malloc(sizeof(float) * (size_t)(N * O)) : keys;
    float *q = malloc(sizeof(float) * (size_t)(B * K));
    const int64_t clamp_rows = c.clamp == 2 ? B : 1;
    uint8_t *clamp = c.clamp ? malloc((size_t)(clamp_rows * K)) : NULL;
    /* Each rank draws a share of the rows, then gathers them all: drawn on
     * every rank, the rows took a quarter of the test's time at 4 ranks. */
    {
        int *cnt = malloc(sizeof(int) * (size_t)(2 * g_size)), *off = cnt + g_size;
        int64_t lo = N * g_rank / g_size, hi = N * (g_rank + 1) / g_size;
        for (int64_t n = lo; n < hi; ++n) {
            for (int64_t k = 0; k < K; ++k) keys[n * K + k] = key_at(&c, n, k);
            if (c.hetero)
                for (int64_t o = 0; o < O; ++o) vals[n * O + o] = value_at(&c, n, o);
        }
        for (int pass = 0; pass < (c.hetero ? 2 : 1); ++pass) {
            const int64_t w = pass ? O : K;
            float *a = pass ? vals : keys;
            for (int r = 0; r < g_size; ++r)
                off[r] = (int)(N * r / g_size * w),
                cnt[r] = (int)(N * (r + 1) / g_size * w) - off[r];
            MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, a, cnt, off, MPI_FLOAT, ctx->comm);
        }
        free(cnt);
    }
    make_queries(&c, q);
    if (clamp) make_clamp(&c, clamp, clamp_rows);

    expect ex = {0};
    ex.output = malloc(sizeof(double) * (size_t)(B * O));
    ex.oscale = malloc(sizeof(double) * (size_t)B);
    ex.index = malloc(sizeof(int64_t) * (size_t)B);
    ex.weight = malloc(sizeof(double) * (size_t)B);
    ex.lse = malloc(sizeof(double) * (size_t)B);
    ex.hscale = malloc(sizeof(double) * (size_t)B);
    ex.empty = malloc(sizeof(int) * (size_t)B);
    ex.exact = malloc(sizeof(int) * (size_t)B);
    ex.steps = malloc(sizeof(int) * (size_t)B);
    ex.energy = calloc((size_t)(B * (T + 1)), sizeof(double));
    ex.escale = calloc((size_t)(B * (T + 1)), sizeof(double));
    brute_force(&c, keys, vals, q, clamp, &ex);

    /* The bank: each rank fills its own rows from their global indices. */
    uhn_bank *bank = NULL;
    int rc = uhn_bank_create(ctx, N, K, c.hetero, O, &bank);
    CHECK_MSG(rc == UHN_OK, "uhn_bank_create: %d (%s)", rc, ctx->msg);
    if (rc == UHN_OK) {
        CHECK_INT(N, bank->n_global);
        CHECK_INT(O, bank->O);
        for (int64_t i = 0; i < bank->n_local; ++i) {
            memcpy(bank->keys + i * K, keys + (bank->row0 + i) * K, sizeof(float) * (size_t)K);
            if (c.hetero)
                memcpy(bank->values + i * O, vals + (bank->row0 + i) * O,
                       sizeof(float) * (size_t)O);
        }
        rc = uhn_bank_commit(bank, "test:keys", "test:values");
        CHECK_MSG(rc == UHN_OK, "uhn_bank_commit: %d (%s)", rc, ctx->msg);
    }
    if (rc == UHN_OK && g_sorted) { /* rows by decreasing norm, global indices kept */
        rc = uhn_bank_sort(bank);
        CHECK_MSG(rc == UHN_OK, "uhn_bank_sort: %d (%s)", rc, ctx->msg);
        for (int64_t i = 0; rc == UHN_OK && i < bank->n_local; ++i) {
            const int64_t g = uhn_bank_gid(bank, i);
            CHECK(g >= bank->row0 && g < bank->row0 + bank->n_local);
            CHECK(memcmp(bank->keys + i * K, keys + g * K, sizeof(float) * (size_t)K) == 0);
            if (i > 0) CHECK(bank->key_norm2[i] <= bank->key_norm2[i - 1]);
        }
    }

    for (int kernel = 0; kernel < 2 && rc == UHN_OK; ++kernel) {
        check_context("%s [%s/%s beta=%g N=%lld K=%lld B=%lld] %s kernel", c.label,
                      sim_names[c.sim], sep_names[c.sep], c.beta, (long long)N, (long long)K,
                      (long long)B, kernel == 0 ? "fast" : "ref");
        uhn_params p;
        uhn_params_default(&p);
        p.sim = sim, p.sep = sep;
        p.beta = c.beta, p.param = c.param;
        p.score = c.score_uhn ? UHN_SCORE_UHN : UHN_SCORE_RAW;
        p.normalize = c.normalize, p.cue_only = c.cue_only;
        p.steps = c.steps, p.step_size = c.alpha, p.tol = c.tol;
        p.kernel = kernel == 0 ? UHN_KERNEL_FAST : UHN_KERNEL_REF;
        p.batch = c.batch;
        int prc = uhn_params_check(ctx, &p, bank);
        CHECK_MSG(prc == UHN_OK, "uhn_params_check: %d (%s)", prc, ctx->msg);
        prc = uhn_queries_check(ctx, &p, q, B, K, "test:queries");
        CHECK_MSG(prc == UHN_OK, "uhn_queries_check: %d (%s)", prc, ctx->msg);
        const int has_energy = uhn_params_has_energy(&p);
        /* E is the energy of the raw, normalised softmax dynamics of spec §5:
         * none with the uhn score or --no-normalize. */
        const int want_energy = c.sep == SEP_SOFTMAX && !c.score_uhn && c.normalize &&
                                (c.sim == SIM_DOT || c.sim == SIM_EUCLIDEAN);
        CHECK_INT(want_energy, has_energy);

        uhn_result *res = NULL;
        int rrc = uhn_result_create(ctx, B, O, T, has_energy, &res);
        CHECK_MSG(rrc == UHN_OK, "uhn_result_create: %d", rrc);
        if (rrc != UHN_OK) break;
        rrc = uhn_recall(bank, &p, q, B, clamp, c.clamp ? clamp_rows : 0, res);
        CHECK_MSG(rrc == UHN_OK, "uhn_recall: %d (%s)", rrc, ctx->msg);
        if (rrc == UHN_OK) {
            compare(&c, &ex, res, has_energy);
            check_replicated(ctx, res);
        }
        uhn_result_destroy(res);
    }
    uhn_bank_destroy(bank);
    free(ex.output), free(ex.oscale), free(ex.index), free(ex.weight), free(ex.lse),
        free(ex.hscale);
    free(ex.empty), free(ex.exact), free(ex.steps), free(ex.energy), free(ex.escale);
    if (c.hetero) free(vals);
    free(keys), free(q), free(clamp);
}

/* ---- the cases ------------------------------------------------------------ */

/* Every similarity with softmax at beta 1, 10 and 1e6, on a small bank, and
 * with beta 1 on a bank of 1000 rows of 784 coordinates. */
static void similarity_cases(uhn_ctx *ctx) {
    const double betas[3] = {1.0, 10.0, 1e6};
    for (int sim = 0; sim < SIM_COUNT; ++sim) {
        for (int i = 0; i < 3; ++i) {
            ecase c = base_case("similarity sweep");
            c.sim = sim, c.beta = betas[i];
            if (betas[i] > 100) c.queries = Q_MIXED;
            run_case(ctx, c);
        }
        ecase c = base_case("similarity sweep, large");
        c.sim = sim, c.N = 1000, c.K = 784, c.hi = 2.0 / sqrt(784.0);
        run_case(ctx, c);
    }
}

/* dot with every separation. identity/power/log need non-negative scores:
 * [0, 1] data ([0.5, 1] for log, so that every h > 1 and ln h > 0). max, topk
 * and threshold use small integers so that ties are exact. */
static void separation_cases(uhn_ctx *ctx) {
    ecase c;
    for (int norm = 1; norm >= 0; --norm) {
        c = base_case(norm ? "identity" : "identity --no-normalize");
        c.sep = SEP_IDENTITY, c.normalize = norm, c.queries = Q_ZERO;
        run_case(ctx, c);
        c = base_case(norm ? "softmax" : "softmax --no-normalize");
        c.normalize = norm, c.beta = 3.0;
        run_case(ctx, c);
        c = base_case(norm ? "max" : "max --no-normalize");
        c.sep = SEP_MAX, c.normalize = norm, c.data = DATA_INTEGER, c.dup = 1, c.queries = Q_MIXED;
        run_case(ctx, c);
        c = base_case(norm ? "threshold" : "threshold --no-normalize");
        c.sep = SEP_THRESHOLD, c.param = 8.0, c.normalize = norm, c.data = DATA_INTEGER;
        c.queries = Q_ZERO;
        run_case(ctx, c);
        c = base_case(norm ? "power p=3" : "power p=3 --no-normalize");
        c.sep = SEP_POWER, c.param = 3.0, c.normalize = norm;
        run_case(ctx, c);
        c = base_case(norm ? "topk k=2" : "topk k=2 --no-normalize");
        c.sep = SEP_TOPK, c.param = 2.0, c.normalize = norm, c.data = DATA_INTEGER, c.dup = 1;
        c.queries = Q_MIXED;
        run_case(ctx, c);
    }
    c = base_case("power p=2");
    c.sep = SEP_POWER, c.param = 2.0;
    run_case(ctx, c);
    c = base_case("power, default p");
    c.sep = SEP_POWER;
    run_case(ctx, c);
    c = base_case("log");
    c.sep = SEP_LOG, c.lo = 0.5;
    run_case(ctx, c);
    c = base_case("topk k=5, float data");
    c.sep = SEP_TOPK, c.param = 5.0, c.beta = 4.0;
    run_case(ctx, c);
    c = base_case("topk k > N");
    c.sep = SEP_TOPK, c.param = 80.0, c.data = DATA_INTEGER;
    run_case(ctx, c);
    c = base_case("threshold, every query empty");
    c.sep = SEP_THRESHOLD, c.param = 1000.0, c.data = DATA_INTEGER;
    run_case(ctx, c);
    c = base_case("softmax, exact ties of duplicated rows");
    c.beta = 1e6, c.data = DATA_INTEGER, c.dup = 1, c.queries = Q_MIXED;
    run_case(ctx, c);
    c = base_case("max with euclidean, exact ties");
    c.sim = SIM_EUCLIDEAN, c.sep = SEP_MAX, c.data = DATA_INTEGER, c.dup = 1, c.queries = Q_MIXED;
    run_case(ctx, c);
    c = base_case("topk with manhattan, exact ties");
    c.sim = SIM_MANHATTAN, c.sep = SEP_TOPK, c.param = 3.0, c.data = DATA_INTEGER;
    run_case(ctx, c);
    c = base_case("threshold, large bank");
    c.sep = SEP_THRESHOLD, c.param = 30.0, c.data = DATA_INTEGER, c.N = 1000, c.K = 20;
    c.B = 64, c.queries = Q_ZERO;
    run_case(ctx, c);
}

/* The uhn score mode for every similarity; every third query is a copy of a
 * stored row (an exact match for the distances: weight 1 there), every third a
 * copy of row 1, which row N-1 duplicates (weight 1/2 on each, index 1). */
static void uhn_score_cases(uhn_ctx *ctx) {
    for (int sim = 0; sim < SIM_COUNT; ++sim) {
        const double betas[2] = {1.0, 10.0};
        for (int i = 0; i < 2; ++i) {
            ecase c = base_case("uhn score");
            c.sim = sim, c.beta = betas[i], c.score_uhn = 1, c.queries = Q_MIXED, c.dup = 1;
            run_case(ctx, c);
        }
        ecase c = base_case("uhn score, large");
        c.sim = sim, c.score_uhn = 1, c.queries = Q_MIXED, c.dup = 1, c.N = 400, c.K = 784;
        c.beta = 10.0;
        run_case(ctx, c);
    }
    /* Large keys: |x|^2 ~ 2.6e4, so a fast |x|^2 - 2 x.q + |q|^2 form leaves
     * round-off of ~1e-3 where an exact match has distance 0. */
    const int big[3] = {SIM_EUCLIDEAN, SIM_MANHATTAN, SIM_KL};
    for (int i = 0; i < 3; ++i) {
        ecase c = base_case("uhn score, exact matches of large keys");
        c.sim = big[i], c.score_uhn = 1, c.queries = Q_MIXED, c.dup = 1, c.K = 784, c.hi = 10.0;
        c.beta = 10.0;
        run_case(ctx, c);
    }
    ecase c = base_case("uhn score, identity separation");
    c.score_uhn = 1, c.sep = SEP_IDENTITY, c.sim = SIM_EUCLIDEAN, c.queries = Q_MIXED;
    run_case(ctx, c);
    c = base_case("uhn score, one row (N < ranks)");
    c.score_uhn = 1, c.sim = SIM_EUCLIDEAN, c.queries = Q_MIXED, c.N = 1;
    run_case(ctx, c);
}

/* N, K, B over {1,2,3,50,1000} x {1,5,784} x {1,7,64} for dot and euclidean
 * (N < ranks included). K = 1 uses small integers (a single float coordinate
 * would put many rows within round-off of each other); larger K uses
 * [0, 2/sqrt(K)) so that |s| ~ 1. */
static void size_cases(uhn_ctx *ctx) {
    const int64_t Ns[5] = {1, 2, 3, 50, 1000}, Ks[3] = {1, 5, 784}, Bs[3] = {1, 7, 64};
    const int sims[2] = {SIM_DOT, SIM_EUCLIDEAN};
    for (int si = 0; si < 2; ++si)
        for (int i = 0; i < 5; ++i)
            for (int j = 0; j < 3; ++j)
                for (int l = 0; l < 3; ++l) {
                    ecase c = base_case("sizes");
                    c.sim = sims[si], c.N = Ns[i], c.K = Ks[j], c.B = Bs[l], c.beta = 10.0;
                    if (c.K == 1)
                        c.data = DATA_INTEGER, c.levels = 8, c.beta = 1.0;
                    else
                        c.hi = fmin(1.0, 2.0 / sqrt((double)c.K));
                    run_case(ctx, c);
                }
}

/* The sparse projection (tile_project): at these betas a query keeps from
 * every row (dense SGEMM) down to a handful of rows (gathered), and tiles of
 * one batch may take either path; the power separation drops the same way.
 * Small integers make every score exact in float32, so that large beta * s
 * measures the dropping alone, not the rounding of s. */
static void sparse_cases(uhn_ctx *ctx) {
    const double betas[4] = {0.3, 1.0, 3.0, 30.0};
    const int64_t Bs[3] = {1, 5, 64};
    const int sims[2] = {SIM_DOT, SIM_EUCLIDEAN};
    for (int si = 0; si < 2; ++si)
        for (int i = 0; i < 4; ++i)
            for (int l = 0; l < 3; ++l) {
                ecase c = base_case("sparse projection");
                c.sim = sims[si], c.N = 3000, c.K = 64, c.B = Bs[l], c.beta = betas[i];
                c.data = DATA_INTEGER, c.levels = 4;
                run_case(ctx, c);
            }
    /* Queries that copy rows, a third of them row 1: with several ranks the
     * best match sits in rank 0's first tile, whose scores bound every rank's
     * cut (engine.c: probe_applies), so the other ranks drop rows they would
     * otherwise project. */
    for (int si = 0; si < 2; ++si)
        for (int i = 0; i < 4; ++i) {
            ecase c = base_case("sparse projection, queries copying rows");
            c.sim = sims[si], c.N = 3000, c.K = 64, c.B = 64, c.beta = betas[i];
            c.data = DATA_INTEGER, c.levels = 4, c.queries = Q_MIXED;
            run_case(ctx, c);
        }
    const double pws[2] = {40.0, 100.0};
    for (int i = 0; i < 2; ++i) {
        ecase c = base_case("sparse projection, power");
        c.sep = SEP_POWER, c.param = pws[i], c.N = 3000, c.K = 64, c.B = 7;
        c.data = DATA_INTEGER, c.levels = 4;
        run_case(ctx, c);
    }
}

/*
 * The energy of a final state, screened in bf16 (kernel_fast.c: tile_screened;
 * batches of more than 8 queries, dot and euclidean): from beta = 0.3, where
 * most rows are candidates, to beta = 30, where a few are; queries that copy
 * rows and random ones. And the columns that every query has 0 (gemm_dot
 * skips them): keys and queries with 0 in their first 16 coordinates (the
 * final states too), and queries masked in their last 20 (the states after a
 * step are not). Small integers, as in sparse_cases.
 */
static void screen_cases(uhn_ctx *ctx) {
    const double betas[3] = {0.3, 3.0, 30.0};
    const int sims[2] = {SIM_DOT, SIM_EUCLIDEAN};
    for (int si = 0; si < 2; ++si)
        for (int i = 0; i < 3; ++i)
            for (int z = 0; z < 2; ++z) {
                ecase c = base_case(z ? "screened energy, zero columns" : "screened energy");
                c.sim = sims[si], c.beta = betas[i], c.N = 2000, c.K = 160, c.B = 40;
                c.data = DATA_INTEGER, c.levels = 4, c.queries = z ? Q_MIXED : Q_RANDOM;
                /* More steps only where they converge to a memory: near a saddle
                 * (a query halfway between two rows) iterating amplifies round-off. */
                c.steps = z && i == 2 ? 3 : 1;
                if (z) c.key_zero = 16, c.query_tail = 20;
                run_case(ctx, c);
            }
    /* Every pooling level of the screen (UHN_SCREEN_GROUP) and the adaptive
     * choice, on keys whose neighbouring coordinates are alike, where groups of
     * 16 reject most rows, and K = 150 for groups across the zero padding. */
    const char *groups[6] = {NULL, "1", "2", "4", "8", "16"};
    for (int gi = 0; gi < 6; ++gi) {
        if (groups[gi]) setenv("UHN_SCREEN_GROUP", groups[gi], 1);
        for (int si = 0; si < 2; ++si)
            for (int i = 1; i < 3; ++i) {
                char label[64];
                snprintf(label, sizeof label, "screened energy, groups of %s",
                         groups[gi] ? groups[gi] : "any (adaptive)");
                ecase c = base_case(label);
                c.sim = sims[si], c.beta = betas[i], c.N = 1000, c.K = i == 1 ? 160 : 150, c.B = 12;
                c.data = DATA_BLOCKS, c.levels = 4, c.queries = Q_MIXED;
                run_case(ctx, c);
            }
        unsetenv("UHN_SCREEN_GROUP");
    }
    /* Five tiles of 2048 rows a thread: the adaptive level moves between tiles,
     * down to groups of 1 and then float32 on random integers, and stays at
     * groups of 16 where they reject most rows. */
    for (int blocks = 0; blocks < 2; ++blocks) {
        ecase c = base_case(blocks ? "screened energy, adaptive, alike neighbours"
                                   : "screened energy, adaptive, down to float32");
        c.sim = blocks ? SIM_EUCLIDEAN : SIM_DOT, c.beta = blocks ? 30.0 : 3.0, c.N = 10000;
        c.K = 160, c.B = 9, c.data = blocks ? DATA_BLOCKS : DATA_INTEGER, c.levels = 4;
        c.queries = Q_MIXED;
        run_case(ctx, c);
    }
}

/*
 * The pooled bank of few-query recalls (kernel_fast.c: block_pooled; a batch
 * of at most 8 queries, dot and euclidean): a persistent bf16 copy of the
 * bank in groups of g coordinates screens each step's rows, and the
 * candidates' exact scores are folded with their projection. By default
 * (g = 16) it serves recalls of 6 steps or more: those cases are at beta =
 * 30, where iterating settles on a memory (at a small beta, 6 steps from a
 * random query amplify round-off past the tolerances in the float32 pass
 * too). UHN_SCREEN_GROUP, which fixes g, also makes it serve recalls of any
 * length: one step from beta = 0.1 (most rows candidates: blocks go to
 * float32) to 3, random queries whose several kept rows show in z (a cut too
 * high would drop them), and every group size. With queries that copy rows
 * and random ones; zero columns; chunks of a larger B that share the copy
 * (their first step sends blocks to float32, which pools them there, and the
 * later steps screen with that copy).
 * K = 192 and 200: the smallest whose copy at g = 16 fits a tenth of the
 * bank. N = 1200 spreads blocks of 164 rows over every thread and
 * rank.
 */
static void pooled_cases(uhn_ctx *ctx) {
    const double betas[3] = {0.3, 3.0, 30.0};
    const int64_t Bs[3] = {1, 3, 8};
    const int sims[2] = {SIM_DOT, SIM_EUCLIDEAN};
    for (int si = 0; si < 2; ++si)
        for (int i = 0; i < 3; ++i)
            for (int l = 0; l < 3; ++l) {
                ecase c = base_case(l == 1 ? "pooled bank, zero columns" : "pooled bank");
                c.sim = sims[si], c.beta = betas[i], c.N = 1200, c.K = l == 1 ? 200 : 192;
                c.B = Bs[l];
                c.data = l == 2 ? DATA_BLOCKS : DATA_INTEGER, c.levels = 4;
                c.queries = l == 0 ? Q_RANDOM : Q_MIXED;
                if (l == 1) c.key_zero = 16, c.query_tail = 20;
                if (i == 2) { /* the default: 6 steps */
                    c.steps = 6;
                    run_case(ctx, c);
                } else { /* one step, the copy forced */
                    setenv("UHN_SCREEN_GROUP", "16", 1);
                    run_case(ctx, c);
                    unsetenv("UHN_SCREEN_GROUP");
                }
            }
    for (int si = 0; si < 2; ++si) {
        /* K = 160: a copy would take more than a tenth of the bank, so the
         * float32 pass runs; with zero columns and states at a memory, the
         * queries a sorted bank's tile leaves active are gathered whole
         * (a near match's distance is summed over every column). */
        ecase c = base_case("float32 pass, K = 160, zero columns, T=6");
        c.sim = sims[si], c.beta = 30.0, c.N = 1200, c.K = 160, c.B = 3, c.steps = 6;
        c.data = DATA_INTEGER, c.levels = 4, c.queries = Q_MIXED, c.key_zero = 16,
        c.query_tail = 20;
        run_case(ctx, c);
        c = base_case("pooled bank, chunks of 3 of 10 queries, T=6");
        c.sim = sims[si], c.beta = 30.0, c.N = 1200, c.K = 256, c.B = 10, c.batch = 3, c.steps = 6;
        c.data = DATA_BLOCKS, c.levels = 2, c.queries = Q_MIXED;
        run_case(ctx, c);
    }
    const double soft[3] = {0.1, 0.3, 1.0};
    setenv("UHN_SCREEN_GROUP", "16", 1);
    for (int si = 0; si < 2; ++si)
        for (int i = 0; i < 3; ++i)
            for (int l = 0; l < 2; ++l) {
                ecase c = base_case("pooled bank, random queries, alike neighbours");
                c.sim = sims[si], c.beta = soft[i] / (si ? 8 : 1), c.N = 1200, c.K = 192;
                c.B = l ? 5 : 1, c.data = DATA_BLOCKS, c.levels = 4;
                run_case(ctx, c);
            }
    const char *groups[5] = {"1", "2", "4", "8", "16"};
    for (int gi = 0; gi < 5; ++gi) {
        setenv("UHN_SCREEN_GROUP", groups[gi], 1);
        for (int si = 0; si < 2; ++si) {
            char label[64];
            snprintf(label, sizeof label, "pooled bank, groups of %s", groups[gi]);
            ecase c = base_case(label);
            c.sim = sims[si], c.beta = 3.0, c.N = 800, c.K = 150, c.B = 5;
            c.data = DATA_BLOCKS, c.levels = 4, c.queries = Q_MIXED;
            run_case(ctx, c);
        }
    }
    unsetenv("UHN_SCREEN_GROUP");
}

/* Hetero-association: values with O != K. */
static void hetero_cases(uhn_ctx *ctx) {
    const int sims[4] = {SIM_DOT, SIM_EUCLIDEAN, SIM_MANHATTAN, SIM_KL};
    for (int i = 0; i < 4; ++i) {
        ecase c = base_case("hetero O=3");
        c.sim = sims[i], c.hetero = 1, c.O = 3, c.beta = 10.0;
        run_case(ctx, c);
    }
    ecase c = base_case("hetero O=784, N=1000");
    c.hetero = 1, c.O = 784, c.N = 1000, c.beta = 10.0, c.B = 64;
    run_case(ctx, c);
    c = base_case("hetero O=1, K=784");
    c.hetero = 1, c.O = 1, c.N = 1000, c.K = 784, c.hi = 2.0 / sqrt(784.0), c.beta = 10.0;
    run_case(ctx, c);
    c = base_case("hetero threshold with an empty query");
    c.hetero = 1, c.O = 4, c.sep = SEP_THRESHOLD, c.param = 8.0, c.data = DATA_INTEGER;
    c.queries = Q_ZERO;
    run_case(ctx, c);
    c = base_case("hetero, uhn score with exact matches");
    c.hetero = 1, c.O = 6, c.sim = SIM_MANHATTAN, c.score_uhn = 1, c.queries = Q_MIXED, c.dup = 1;
    run_case(ctx, c);
}

/* Clamp masks ([K] and [B][K]) and cue-only similarity. */
static void clamp_cases(uhn_ctx *ctx) {
    for (int mode = 1; mode <= 2; ++mode) {
        ecase c = base_case(mode == 1 ? "clamp [K]" : "clamp [B][K]");
        c.clamp = mode, c.beta = 10.0;
        run_case(ctx, c);
        c.sim = SIM_EUCLIDEAN;
        run_case(ctx, c);
    }
    for (int sim = 0; sim < SIM_COUNT; ++sim) {
        ecase c = base_case("cue-only, clamp [B][K]");
        c.sim = sim, c.clamp = 2, c.cue_only = 1, c.beta = 10.0;
        run_case(ctx, c);
    }
    const int sims[3] = {SIM_DOT, SIM_EUCLIDEAN, SIM_KL};
    for (int i = 0; i < 3; ++i) {
        ecase c = base_case("cue-only, clamp [K], large");
        c.sim = sims[i], c.clamp = 1, c.cue_only = 1, c.N = 1000, c.K = 784, c.B = 7;
        c.hi = 2.0 / sqrt(784.0), c.beta = 10.0;
        run_case(ctx, c);
    }
}

/* Iterated dynamics (spec §5) with T = 3, step sizes 1 and 0.5. */
static void dynamics_cases(uhn_ctx *ctx) {
    const int sims[4] = {SIM_DOT, SIM_EUCLIDEAN, SIM_MANHATTAN, SIM_COSINE};
    const double alphas[2] = {1.0, 0.5};
    for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 2; ++j) {
            ecase c = base_case("T=3");
            c.sim = sims[i], c.steps = 3, c.alpha = alphas[j], c.beta = 10.0;
            run_case(ctx, c);
        }
    ecase c = base_case("T=3 with clamp [B][K]");
    c.steps = 3, c.alpha = 0.5, c.beta = 10.0, c.clamp = 2;
    run_case(ctx, c);
    c = base_case("T=3, cue-only euclidean");
    c.sim = SIM_EUCLIDEAN, c.steps = 3, c.beta = 10.0, c.clamp = 2, c.cue_only = 1;
    run_case(ctx, c);
    c = base_case("T=4, max on integers");
    c.sep = SEP_MAX, c.steps = 4, c.data = DATA_INTEGER, c.sim = SIM_EUCLIDEAN;
    run_case(ctx, c);
}

/* Internal batches smaller than B. */
static void batch_cases(uhn_ctx *ctx) {
    const int64_t batches[3] = {1, 3, 5};
    for (int i = 0; i < 3; ++i) {
        ecase c = base_case("batch < B");
        c.batch = batches[i], c.beta = 10.0;
        run_case(ctx, c);
        c.B = 64, c.N = 1000, c.K = 64, c.hi = 2.0 / sqrt(64.0), c.sim = SIM_EUCLIDEAN;
        run_case(ctx, c);
    }
    ecase c = base_case("batch < B, T=3, clamp [B][K]");
    c.batch = 2, c.steps = 3, c.clamp = 2, c.beta = 10.0;
    run_case(ctx, c);
    c = base_case("batch < B, uhn score");
    c.batch = 2, c.score_uhn = 1, c.sim = SIM_KL, c.queries = Q_MIXED, c.dup = 1;
    run_case(ctx, c);
}

/* uhn_bank_sort's permutation with 1 to 4 threads (each takes a run of the
 * cycles' moves): random keys (one long cycle), integer keys (norms tied in
 * runs: many fixed points and short cycles), hetero values moved alike. */
static void sort_thread_cases(uhn_ctx *ctx) {
    const int nt0 = ctx->nthreads;
    for (int nt = 1; nt <= 4; ++nt) {
        ctx->nthreads = nt;
        for (int d = 0; d < 3; ++d) {
            ecase c = base_case("bank sorted by threads");
            c.N = d == 2 ? 7 : 3000, c.K = 16, c.B = 5, c.beta = 3.0;
            c.data = d == 1 ? DATA_INTEGER : DATA_UNIFORM;
            c.hetero = d == 2, c.O = 3;
            run_case(ctx, c);
        }
    }
    ctx->nthreads = nt0;
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    uhn_ctx *ctx = NULL;
    if (uhn_ctx_create(MPI_COMM_WORLD, &ctx) != UHN_OK) MPI_Abort(MPI_COMM_WORLD, 1);
    check_rank_ = g_rank = ctx->rank;
    g_size = ctx->size;
    ctx->verbose = 0;
    double t0 = MPI_Wtime();
    g_sorted = argc > 1 && !strcmp(argv[1], "--sorted");
    if (g_sorted) sort_thread_cases(ctx); /* then the cases where the order of the rows matters */
    if (!g_sorted) similarity_cases(ctx);
    separation_cases(ctx);
    if (!g_sorted) uhn_score_cases(ctx), size_cases(ctx);
    sparse_cases(ctx);
    screen_cases(ctx);
    pooled_cases(ctx);
    hetero_cases(ctx);
    if (!g_sorted) clamp_cases(ctx);
    dynamics_cases(ctx);
    if (!g_sorted) batch_cases(ctx);
    const char *name = g_sorted ? "test_engine --sorted" : "test_engine";
    if (ctx->rank == 0) printf("%s: %.2f s\n", name, MPI_Wtime() - t0);
    int code = check_finish_mpi(ctx->comm, name);
    uhn_ctx_destroy(ctx);
    MPI_Finalize();
    return code;
}
