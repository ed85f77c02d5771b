/*
 * Similarity functions of spec §1, as a table: each entry has a reference
 * definition (double precision, plain loops) and a fast block kernel (SGEMM for
 * dot/cosine/euclidean, vectorised loops for manhattan and the divergences).
 */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "core/similarity_impl.h"

/* ---------- reference definitions (double, obviously correct) ---------- */

static inline int in_cue(const uint8_t *mask, int64_t k) {
    return !mask || mask[k];
}

static double dot_ref(const float *x, const float *q, const uint8_t *mask, int64_t K) {
    double s = 0;
    for (int64_t k = 0; k < K; ++k)
        if (in_cue(mask, k)) s += (double)x[k] * q[k];
    return s;
}

static double cosine_ref(const float *x, const float *q, const uint8_t *mask, int64_t K) {
    double s = 0, nx = 0, nq = 0;
    for (int64_t k = 0; k < K; ++k)
        if (in_cue(mask, k)) {
            s += (double)x[k] * q[k];
            nx += (double)x[k] * x[k];
            nq += (double)q[k] * q[k];
        }
    return (nx == 0 || nq == 0) ? 0.0 : s / (sqrt(nx) * sqrt(nq));
}

static double euclidean_ref(const float *x, const float *q, const uint8_t *mask, int64_t K) {
    double s = 0;
    for (int64_t k = 0; k < K; ++k)
        if (in_cue(mask, k)) s += ((double)x[k] - q[k]) * ((double)x[k] - q[k]);
    return -s;
}

static double manhattan_ref(const float *x, const float *q, const uint8_t *mask, int64_t K) {
    double s = 0;
    for (int64_t k = 0; k < K; ++k)
        if (in_cue(mask, k)) s += fabs((double)x[k] - q[k]);
    return -s;
}

/* Normalising constants of x and q as distributions over the cue. */
static int64_t dist_sums(const float *x, const float *q, const uint8_t *mask, int64_t K, double *sx,
                         double *sq) {
    int64_t n = 0;
    *sx = *sq = 0;
    for (int64_t k = 0; k < K; ++k)
        if (in_cue(mask, k)) {
            *sx += x[k] + UHN_DIV_EPS;
            *sq += q[k] + UHN_DIV_EPS;
            ++n;
        }
    return n;
}

/* KL(a || b) over the cue, a and b given unnormalised with their sums. */
static double kl_ref_(const float *a, double sa, const float *b, double sb, const uint8_t *mask,
                      int64_t K) {
    double d = 0;
    for (int64_t k = 0; k < K; ++k)
        if (in_cue(mask, k)) {
            double pa = (a[k] + UHN_DIV_EPS) / sa, pb = (b[k] + UHN_DIV_EPS) / sb;
            if (pa > 0) d += pa * log(pa / pb);
        }
    return d;
}

static double kl_ref(const float *x, const float *q, const uint8_t *mask, int64_t K) {
    double sx, sq;
    if (!dist_sums(x, q, mask, K, &sx, &sq)) return 0;
    return -kl_ref_(q, sq, x, sx, mask, K);
}

static double reverse_kl_ref(const float *x, const float *q, const uint8_t *mask, int64_t K) {
    double sx, sq;
    if (!dist_sums(x, q, mask, K, &sx, &sq)) return 0;
    return -kl_ref_(x, sx, q, sq, mask, K);
}

static double js_ref(const float *x, const float *q, const uint8_t *mask, int64_t K) {
    double sx, sq, js = 0;
    if (!dist_sums(x, q, mask, K, &sx, &sq)) return 0;
    for (int64_t k = 0; k < K; ++k)
        if (in_cue(mask, k)) {
            double px = (x[k] + UHN_DIV_EPS) / sx, pq = (q[k] + UHN_DIV_EPS) / sq;
            double m = 0.5 * (px + pq);
            if (px > 0) js += 0.5 * px * log(px / m);
            if (pq > 0) js += 0.5 * pq * log(pq / m);
        }
    return -js;
}

/* ---------- fast block kernels ---------- */

/* St (B x tn) = Qc . X^T: the cue-masked dot products. */
static void gemm_dot(const uhn_tile *t, const uhn_qblock *qb, float *St) {
    if (qb->B <= UHN_SMALL_BATCH) {
        const int64_t K = t->K, tn = t->tn;
        for (int64_t j = 0; j < qb->B; ++j) {
            const float *q = qb->q + j * K;
            float *out = St + j * tn;
            /* One row at a time: the bank is read as one sequential stream, which
             * the hardware prefetcher follows best (four interleaved rows were
             * measured 20% slower). */
            int64_t i = 0;
            for (; i < tn; ++i) {
                const float *x = t->x + i * K;
                float s = 0;
#pragma omp simd reduction(+ : s)
                for (int64_t k = 0; k < K; ++k) s += x[k] * q[k];
                out[i] = s;
            }
        }
        return;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)qb->B, (int)t->tn, (int)t->K, 1.0f,
                qb->q, (int)t->K, t->x, (int)t->K, 0.0f, St, (int)t->tn);
}

/*
 * ||x_C||^2 for every (query, row) pair: with a cue mask this is M . (X o X)^T
 * (one more SGEMM); without one it is the row statistic, broadcast.
 */
static const float *cue_norm2(const uhn_tile *t, const uhn_qblock *qb, uhn_scratch *scr,
                              int64_t *ld) {
    if (!qb->mask) {
        *ld = 0;
        return t->norm2;
    }
    int64_t n = t->tn * t->K;
    for (int64_t e = 0; e < n; ++e) scr->a[e] = t->x[e] * t->x[e];
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)qb->B, (int)t->tn, (int)t->K, 1.0f,
                qb->mask, (int)t->K, scr->a, (int)t->K, 0.0f, scr->b, (int)t->tn);
    *ld = t->tn;
    return scr->b;
}

/* sum over the cue of (x - q)^2, summed directly (q is already cue-masked). */
static float direct_sqdist(const float *x, const uhn_qblock *qb, int64_t j) {
    const int64_t K = qb->K;
    const float *q = qb->q + j * K, *m = qb->mask ? qb->mask + j * K : qb->ones;
    float d = 0;
#pragma omp simd reduction(+ : d)
    for (int64_t k = 0; k < K; ++k) d += m[k] * (x[k] - q[k]) * (x[k] - q[k]);
    return d;
}

static void dot_block(const uhn_tile *t, const uhn_qblock *qb, float *St, uhn_scratch *scr) {
    (void)scr;
    gemm_dot(t, qb, St);
}

static void cosine_block(const uhn_tile *t, const uhn_qblock *qb, float *St, uhn_scratch *scr) {
    gemm_dot(t, qb, St);
    int64_t ld;
    const float *xn2 = cue_norm2(t, qb, scr, &ld);
    for (int64_t j = 0; j < qb->B; ++j) {
        const float *xn = xn2 + j * ld;
        float *s = St + j * t->tn, qn = qb->qnorm2[j];
#pragma omp simd
        for (int64_t i = 0; i < t->tn; ++i) {
            float den = sqrtf(xn[i] * qn);
            s[i] = den > 0 ? s[i] / den : 0.0f;
        }
    }
}

static void euclidean_block(const uhn_tile *t, const uhn_qblock *qb, float *St, uhn_scratch *scr) {
    gemm_dot(t, qb, St);
    int64_t ld;
    const float *xn2 = cue_norm2(t, qb, scr, &ld);
    for (int64_t j = 0; j < qb->B; ++j) {
        const float *xn = xn2 + j * ld;
        float *s = St + j * t->tn, qn = qb->qnorm2[j];
        for (int64_t i = 0; i < t->tn; ++i) {
            float d = xn[i] - 2.0f * s[i] + qn;
            /* The expansion cancels when x is close to q (a recalled memory, a
             * converged state): there the distance is summed directly. */
            if (d < 1e-3f * (xn[i] + qn)) d = direct_sqdist(t->x + i * t->K, qb, j);
            s[i] = -d;
        }
    }
}

/* Queries are handled in groups small enough to stay in L1/L2 with a bank row. */
#define QGROUP 16

static void manhattan_block(const uhn_tile *t, const uhn_qblock *qb, float *St, uhn_scratch *scr) {
    (void)scr;
    const int64_t K = t->K;
    for (int64_t j0 = 0; j0 < qb->B; j0 += QGROUP) {
        int64_t j1 = j0 + QGROUP < qb->B ? j0 + QGROUP : qb->B;
        for (int64_t i = 0; i < t->tn; ++i) {
            const float *x = t->x + i * K;
            for (int64_t j = j0; j < j1; ++j) {
                const float *q = qb->q + j * K;
                float s = 0;
                if (qb->mask) {
                    const float *m = qb->mask + j * K;
#pragma omp simd reduction(+ : s)
                    for (int64_t k = 0; k < K; ++k) s += m[k] * fabsf(x[k] - q[k]);
                } else {
#pragma omp simd reduction(+ : s)
                    for (int64_t k = 0; k < K; ++k) s += fabsf(x[k] - q[k]);
                }
                St[j * t->tn + i] = -s;
            }
        }
    }
}

/* L = ln(x + eps) for the whole tile, into scratch a. */
static const float *tile_log(const uhn_tile *t, uhn_scratch *scr) {
    int64_t n = t->tn * t->K;
    const float eps = (float)UHN_DIV_EPS;
#pragma omp simd
    for (int64_t e = 0; e < n; ++e) scr->a[e] = logf(t->x[e] + eps);
    return scr->a;
}

/* Sums over the cue of (x + eps) and of (x + eps) * (L - c), c = lqhat or 0. */
static inline void div_sums(const float *x, const float *L, const float *m, const float *lq,
                            int64_t K, double *sx, double *sxl) {
    const float eps = (float)UHN_DIV_EPS;
    double a = 0, b = 0;
#pragma omp simd reduction(+ : a, b)
    for (int64_t k = 0; k < K; ++k) {
        float w = m[k] * (x[k] + eps);
        a += w;
        b += w * (L[k] - (lq ? lq[k] : 0.0f));
    }
    *sx = a, *sxl = b;
}

static void kl_block(const uhn_tile *t, const uhn_qblock *qb, float *St, uhn_scratch *scr) {
    const int64_t K = t->K;
    const float *L = tile_log(t, scr), eps = (float)UHN_DIV_EPS;
    for (int64_t j0 = 0; j0 < qb->B; j0 += QGROUP) {
        int64_t j1 = j0 + QGROUP < qb->B ? j0 + QGROUP : qb->B;
        for (int64_t i = 0; i < t->tn; ++i)
            for (int64_t j = j0; j < j1; ++j) {
                const float *x = t->x + i * K, *Li = L + i * K, *qh = qb->qhat + j * K;
                const float *m = qb->mask ? qb->mask + j * K : NULL;
                double a = 0, sx = 0;
                if (m) {
#pragma omp simd reduction(+ : a, sx)
                    for (int64_t k = 0; k < K; ++k) {
                        a += qh[k] * Li[k];
                        sx += m[k] * (x[k] + eps);
                    }
                } else {
                    sx = t->sum[i] + K * UHN_DIV_EPS;
#pragma omp simd reduction(+ : a)
                    for (int64_t k = 0; k < K; ++k) a += qh[k] * Li[k];
                }
                St[j * t->tn + i] = sx > 0 ? (float)(a - qb->qent[j] - log(sx)) : 0.0f;
            }
    }
}

static void reverse_kl_block(const uhn_tile *t, const uhn_qblock *qb, float *St, uhn_scratch *scr) {
    const int64_t K = t->K;
    const float *L = tile_log(t, scr);
    for (int64_t j0 = 0; j0 < qb->B; j0 += QGROUP) {
        int64_t j1 = j0 + QGROUP < qb->B ? j0 + QGROUP : qb->B;
        for (int64_t i = 0; i < t->tn; ++i)
            for (int64_t j = j0; j < j1; ++j) {
                const float *m = qb->mask ? qb->mask + j * K : qb->ones;
                double sx, b;
                div_sums(t->x + i * K, L + i * K, m, qb->lqhat + j * K, K, &sx, &b);
                St[j * t->tn + i] = sx > 0 ? (float)(-b / sx + log(sx)) : 0.0f;
            }
    }
}

static void js_block(const uhn_tile *t, const uhn_qblock *qb, float *St, uhn_scratch *scr) {
    const int64_t K = t->K;
    const float *L = tile_log(t, scr), eps = (float)UHN_DIV_EPS;
    for (int64_t j0 = 0; j0 < qb->B; j0 += QGROUP) {
        int64_t j1 = j0 + QGROUP < qb->B ? j0 + QGROUP : qb->B;
        for (int64_t i = 0; i < t->tn; ++i)
            for (int64_t j = j0; j < j1; ++j) {
                const float *x = t->x + i * K, *qh = qb->qhat + j * K;
                const float *m = qb->mask ? qb->mask + j * K : qb->ones;
                double sx, hx, mm = 0;
                div_sums(x, L + i * K, m, NULL, K, &sx, &hx);
                if (!(sx > 0)) {
                    St[j * t->tn + i] = 0.0f;
                    continue;
                }
                const float rs = (float)(1.0 / sx);
#pragma omp simd reduction(+ : mm)
                for (int64_t k = 0; k < K; ++k) {
                    float mid = 0.5f * (m[k] * (x[k] + eps) * rs + qh[k]);
                    mm += mid > 0 ? mid * logf(mid) : 0.0f;
                }
                double negent_x = hx / sx - log(sx); /* sum_C xhat ln xhat */
                St[j * t->tn + i] = (float)-(0.5 * negent_x + 0.5 * qb->qent[j] - mm);
            }
    }
}

/* ---------- the table ---------- */

static const uhn_similarity table[] = {
    {"dot", UHN_SIM_GEMM, dot_ref, dot_block},
    {"cosine", UHN_SIM_GEMM, cosine_ref, cosine_block},
    {"euclidean", UHN_SIM_GEMM | UHN_SIM_DISTANCE, euclidean_ref, euclidean_block},
    {"manhattan", UHN_SIM_DISTANCE, manhattan_ref, manhattan_block},
    {"kl", UHN_SIM_DISTANCE | UHN_SIM_NONNEG, kl_ref, kl_block},
    {"reverse_kl", UHN_SIM_DISTANCE | UHN_SIM_NONNEG, reverse_kl_ref, reverse_kl_block},
    {"jensen_shannon", UHN_SIM_DISTANCE | UHN_SIM_NONNEG, js_ref, js_block},
};
enum { NSIM = sizeof table / sizeof table[0] };

const uhn_similarity *uhn_similarity_find(const char *name) {
    for (int i = 0; name && i < NSIM; ++i)
        if (!strcmp(table[i].name, name)) return &table[i];
    return NULL;
}

int uhn_similarity_count(void) {
    return NSIM;
}

const uhn_similarity *uhn_similarity_at(int i) {
    return i >= 0 && i < NSIM ? &table[i] : NULL;
}

const char *uhn_similarity_name(const uhn_similarity *sim) {
    return sim->name;
}

unsigned uhn_similarity_flags(const uhn_similarity *sim) {
    return sim->flags;
}

double uhn_similarity_ref(const uhn_similarity *sim, const float *x, const float *q,
                          const uint8_t *mask, int64_t K) {
    return sim->ref(x, q, mask, K);
}
