/*
 * The reference kernel: for every local row and every query, the similarity
 * by its reference definition in double, the score, the separation rule and
 * the record update, one pair at a time. Slow and obviously correct; the tests
 * compare the fast kernel against it.
 */
#include <string.h>

#include "core/kernel.h"

static double cue_sum(const float *a, const uint8_t *cue, int64_t K) {
    double s = 0;
    for (int64_t k = 0; k < K; ++k)
        if (!cue || cue[k]) s += a[k];
    return s;
}

/* r_n of the uhn mode for row i and query j. */
static double ref_r(const uhn_step *st, const float *x, int64_t j, int *zero) {
    const uint8_t *cue = uhn_step_cue(st, j);
    const float *q = st->v + j * st->K;
    double s = uhn_similarity_ref(st->p->sim, x, q, cue, st->K);
    int is_dot = !strcmp(uhn_similarity_name(st->p->sim), "dot");
    double sx = is_dot ? cue_sum(x, cue, st->K) : 0, sq = is_dot ? cue_sum(q, cue, st->K) : 0;
    return uhn_r_of_s(uhn_similarity_flags(st->p->sim), is_dot, s, sx, sq, zero);
}

int uhn_kernel_ref_rsum(uhn_ctx *ctx, const uhn_step *st, double *rsum, int64_t *nexact) {
    (void)ctx;
    const uhn_bank *bk = st->bank;
    for (int64_t i = 0; i < bk->n_local; ++i)
        for (int64_t j = 0; j < st->B; ++j) {
            int zero;
            rsum[j] += ref_r(st, bk->keys + i * bk->K, j, &zero);
            nexact[j] += zero;
        }
    return UHN_OK;
}

int uhn_kernel_ref(uhn_ctx *ctx, const uhn_step *st, void *recs) {
    (void)ctx;
    const uhn_bank *bk = st->bank;
    const uhn_params *p = st->p;
    const int64_t K = bk->K, O = st->need_z ? bk->O : 0; /* records carry no z without need_z */
    for (int64_t j = 0; j < st->B; ++j) {
        uhn_rec *r = uhn_rec_at(recs, st->rec_bytes, j);
        float *z = uhn_rec_z(r);
        int exact_rule = p->score == UHN_SCORE_UHN && st->nexact[j] > 0;
        for (int64_t i = 0; i < bk->n_local; ++i) {
            const float *x = bk->keys + i * K, *y = bk->values + i * bk->O;
            const int64_t g = uhn_bank_gid(bk, i);
            double gval, sc; /* sc: the score s before beta */
            if (p->score == UHN_SCORE_UHN) {
                int zero;
                double rr = ref_r(st, x, j, &zero);
                if (exact_rule) { /* spec §2: weights 1 on exact matches, separation skipped */
                    gval = zero;
                    r->acc += gval;
                    uhn_rec_linear_extremes(r, gval, g);
                    for (int64_t k = 0; k < O; ++k) z[k] += (float)(gval * y[k]);
                    continue;
                }
                sc = uhn_h_of_r(1.0, rr, st->rsum[j]);
            } else {
                sc = uhn_similarity_ref(p->sim, x, st->v + j * K, uhn_step_cue(st, j), K);
            }
            switch (st->kind) {
            case UHN_RED_POW:
                if (sc < 0) { /* h^p needs h >= 0 */
                    uhn_rec_bad(r, g, p->beta * sc);
                    continue;
                }
                __attribute__((fallthrough)); /* the softmax's running-maximum update */
            case UHN_RED_LSE:
                /* a new maximum (ties to the lowest index): rescale what came before */
                if (r->idx < 0 || sc > r->best || (sc == r->best && g < r->idx)) {
                    double scale = r->idx < 0 ? 0.0 : uhn_rec_rel(r, r->best, sc);
                    r->acc *= scale;
                    for (int64_t k = 0; k < O; ++k) z[k] = (float)(z[k] * scale);
                    r->best = sc, r->idx = g;
                }
                /* exp(beta (s - s*)) or (s / s*)^p: exact for any finite beta and p */
                gval = uhn_rec_rel(r, sc, r->best);
                r->acc += gval;
                for (int64_t k = 0; k < O; ++k) z[k] += (float)(gval * y[k]);
                break;
            case UHN_RED_LINEAR: {
                int bad;
                gval = uhn_rule_g(st->rule, st->param, p->beta, sc, &bad);
                if (bad) uhn_rec_bad(r, g, p->beta * sc);
                r->acc += gval;
                for (int64_t k = 0; k < O; ++k) z[k] += (float)(gval * y[k]);
                uhn_rec_linear_extremes(r, gval, g);
                break;
            }
            case UHN_RED_MAX:
                if (r->idx < 0 || sc > r->best || (sc == r->best && g < r->idx)) {
                    r->best = sc, r->idx = g, r->acc = 1;
                    memcpy(z, y, (size_t)O * sizeof(float));
                }
                break;
            case UHN_RED_TOPK:
                uhn_rec_topk_offer(r, sc, g, y);
                break;
            }
        }
    }
    return UHN_OK;
}
