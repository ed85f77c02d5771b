/* Strict parsing of numbers: one wording for every front end (see uhn/parse.h). */
#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "uhn/parse.h"

static void say(char *why, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *why, size_t n, const char *fmt, ...) {
    if (!why || !n) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, n, fmt, ap);
    va_end(ap);
}

uhn_parse_status uhn_parse_double(const char *s, double *out, char *why, size_t n) {
    char *end = NULL;
    /* strtod would skip leading blanks; a value that starts with one is junk */
    if (!s || !*s || isspace((unsigned char)*s))
        return say(why, n, "'%s' is not a number", s ? s : ""), UHN_PARSE_SYNTAX;
    errno = 0;
    double v = strtod(s, &end);
    int range = errno == ERANGE;
    if (end == s || *end) return say(why, n, "'%s' is not a number", s), UHN_PARSE_SYNTAX;
    if (isnan(v) || (isinf(v) && !range))
        return say(why, n, "'%s' is not a finite number", s), UHN_PARSE_NONFINITE;
    if (isinf(v))
        return say(why, n, "'%s' overflows double precision (largest 1.7976931348623157e308)", s),
               UHN_PARSE_OVERFLOW;
    /* ERANGE below DBL_MIN: rounded to a subnormal or to 0. A subnormal holds
     * fewer significant bits than the text asks for, so it is refused too
     * (also when written exactly, e.g. in hex, without ERANGE). */
    if ((range && fabs(v) < DBL_MIN) || (v != 0 && fabs(v) < DBL_MIN))
        return say(why, n,
                   "'%s' underflows double precision (nonzero and below the smallest normal "
                   "double, 2.2250738585072014e-308)",
                   s),
               UHN_PARSE_UNDERFLOW;
    *out = v;
    return UHN_PARSE_OK;
}

void uhn_parse_int_range_text(int64_t lo, int64_t hi, char *buf, size_t n) {
    if (lo != INT64_MIN && hi == INT64_MAX)
        snprintf(buf, n, ">= %" PRId64, lo);
    else if (lo == INT64_MIN && hi != INT64_MAX)
        snprintf(buf, n, "<= %" PRId64, hi);
    else
        snprintf(buf, n, "in [%" PRId64 ", %" PRId64 "]", lo, hi);
}

uhn_parse_status uhn_parse_int64(const char *s, int64_t lo, int64_t hi, int64_t *out, char *why,
                                 size_t n) {
    char *end = NULL, rng[96];
    if (!s || !*s || isspace((unsigned char)*s))
        return say(why, n, "'%s' is not an integer", s ? s : ""), UHN_PARSE_SYNTAX;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    int range = errno == ERANGE;
    if (end == s || *end) return say(why, n, "'%s' is not an integer", s), UHN_PARSE_SYNTAX;
    /* beyond 64 bits (strtoll saturated) or beyond the caller's bounds: the
     * comparison is in integers, so nothing near 2^63 is rounded */
    if (range || v < lo || v > hi) {
        uhn_parse_int_range_text(lo, hi, rng, sizeof rng);
        return say(why, n, "%s is out of range (must be %s)", s, rng), UHN_PARSE_RANGE;
    }
    *out = (int64_t)v;
    return UHN_PARSE_OK;
}

int uhn_parse_int_bounds(double min, int min_open, double max, int64_t *lo, int64_t *hi) {
    /* 2^63 is exact in double; every double in [-2^63, 2^63) converts to
     * int64_t exactly once it is integral. */
    const double two63 = 9223372036854775808.0;
    if (isnan(min) || isnan(max) || min >= two63 || max < -two63) return -1;
    if (min < -two63) {
        *lo = INT64_MIN;
    } else {
        double c = ceil(min);
        *lo = (int64_t)c;
        if (min_open && c == min) {
            if (*lo == INT64_MAX) return -1;
            ++*lo;
        }
    }
    *hi = max >= two63 ? INT64_MAX : (int64_t)floor(max);
    return *lo <= *hi ? 0 : -1;
}
