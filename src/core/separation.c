/* Separation functions of spec §3, as a table, with the reference weights. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/separation_impl.h"

static const uhn_separation table[] = {
    {"softmax", RULE_SOFTMAX, UHN_RED_LSE, NULL, NAN, 0},
    {"identity", RULE_IDENTITY, UHN_RED_POW, NULL, 1, 0}, /* power with p = 1 */
    {"power", RULE_POWER, UHN_RED_POW, "p", 2, 1},
    {"square", RULE_POWER, UHN_RED_POW, NULL, 2, 0}, /* power with p = 2 */
    {"log", RULE_LOG, UHN_RED_LINEAR, NULL, NAN, 0},
    {"max", RULE_MAX, UHN_RED_MAX, NULL, NAN, 0},
    {"topk", RULE_TOPK, UHN_RED_TOPK, "k", 1, 1},
    {"threshold", RULE_THRESHOLD, UHN_RED_LINEAR, "t", 0, 0},
};
enum { NSEP = sizeof table / sizeof table[0] };

const uhn_separation *uhn_separation_find(const char *name) {
    for (int i = 0; name && i < NSEP; ++i)
        if (!strcmp(table[i].name, name)) return &table[i];
    return NULL;
}

int uhn_separation_count(void) {
    return NSEP;
}

const uhn_separation *uhn_separation_at(int i) {
    return i >= 0 && i < NSEP ? &table[i] : NULL;
}

const char *uhn_separation_name(const uhn_separation *sep) {
    return sep->name;
}

const char *uhn_separation_param_name(const uhn_separation *sep) {
    return sep->param_name;
}

double uhn_separation_param_default(const uhn_separation *sep) {
    return sep->param_default;
}

const char *uhn_separation_param_check(const uhn_separation *sep, double param) {
    if (isnan(param)) return NULL; /* the default */
    if (!sep->param_name) return "unset (it takes no parameter)";
    if (!isfinite(param)) return "a finite number";
    /* p and k cost the same at any size (POW records, k clamped to N); the bound
     * only keeps them exact integers in every type they pass through */
    if (sep->param_integer && (param < 1 || param != floor(param) || param > 1e9))
        return "an integer from 1 to 1000000000";
    return NULL;
}

int uhn_separation_ref(const uhn_separation *sep, double param, int normalize, const double *h,
                       int64_t n, double *w, int64_t *bad) {
    if (isnan(param)) param = sep->param_default;
    double sum = 0, hmax = -INFINITY;
    int64_t imax = -1;
    for (int64_t i = 0; i < n; ++i)
        if (h[i] > hmax) hmax = h[i], imax = i;
    for (int64_t i = 0; i < n; ++i) w[i] = 0;
    switch (sep->rule) {
    case RULE_SOFTMAX:
        for (int64_t i = 0; i < n; ++i) sum += (w[i] = exp(h[i] - hmax));
        break;
    case RULE_MAX:
        if (imax >= 0) w[imax] = 1, sum = 1;
        break;
    case RULE_TOPK: {
        /* k passes of "largest not yet taken, lowest index on ties": plain and
         * obviously right, O(n k), fine for a reference. */
        char *taken = n > 0 ? calloc((size_t)n, 1) : NULL;
        if (n > 0 && !taken) return -2;
        for (int64_t r = 0; r < n && r < (int64_t)param; ++r) {
            int64_t pick = -1;
            for (int64_t i = 0; i < n; ++i)
                if (!taken[i] && (pick < 0 || h[i] > h[pick])) pick = i;
            taken[pick] = 1;
            sum += (w[pick] = exp(h[pick] - hmax));
        }
        free(taken);
        break;
    }
    case RULE_IDENTITY:
    case RULE_POWER:
        /* g = h^p; normalised, w = (h / h_max)^p / sum: no power of h itself, so
         * w is exact whatever the size of h and p */
        for (int64_t i = 0; i < n; ++i)
            if (h[i] < 0) {
                *bad = i;
                return -1;
            }
        for (int64_t i = 0; i < n; ++i)
            sum += (w[i] = normalize ? (hmax > 0 ? pow(h[i] / hmax, param) : 0) : pow(h[i], param));
        break;
    default:
        for (int64_t i = 0; i < n; ++i) {
            int b;
            w[i] = uhn_rule_g(sep->rule, param, 1.0, h[i], &b);
            if (b) {
                *bad = i;
                return -1;
            }
            sum += w[i];
        }
    }
    if (sum == 0) { /* log may sum to any sign: empty means exactly 0 */
        for (int64_t i = 0; i < n; ++i) w[i] = 0;
        return 1;
    }
    if (normalize)
        for (int64_t i = 0; i < n; ++i) w[i] /= sum;
    return 0;
}
