/*
 * Strict parsing of numbers from text (deck values, command-line options).
 *
 * One parser serves every front end so that a bad number gets the same words
 * wherever it is written: the whole text must be the number (no leading
 * blanks, no trailing junk), a double must be finite and normal (NaN and Inf
 * words, overflow and underflow are refused, each with what is really wrong),
 * and an integer must lie in the caller's 64-bit range, compared in integers
 * so that no value near 2^63 is rounded. The `why` text names the value as
 * given; callers prefix it with where it came from ("DECK:LINE: [section] key"
 * or "--option").
 *
 * Not collective; no state, no allocation.
 */
#ifndef UHN_PARSE_H
#define UHN_PARSE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    UHN_PARSE_OK = 0,
    UHN_PARSE_SYNTAX,    /* not a number / not an integer (empty, blanks, junk) */
    UHN_PARSE_NONFINITE, /* a NaN or Inf word */
    UHN_PARSE_OVERFLOW,  /* beyond the largest finite double */
    UHN_PARSE_UNDERFLOW, /* nonzero but below the smallest normal double (rounds to a
                            subnormal or to 0 and loses precision) */
    UHN_PARSE_RANGE      /* an integer outside [lo, hi] (also beyond 64 bits) */
} uhn_parse_status;

/*
 * Parses all of `s` as a finite, normal (or zero) double into *out. On failure
 * *out is unchanged and `why` (size n, may be NULL when n is 0) holds e.g.
 *   '1.5s' is not a number
 *   'nan' is not a finite number
 *   '1e400' overflows double precision (largest 1.7976931348623157e308)
 *   '1e-320' underflows double precision (nonzero and below the smallest normal double,
 *   2.2250738585072014e-308)
 * Subnormal values are refused: they hold fewer significant digits than written.
 */
uhn_parse_status uhn_parse_double(const char *s, double *out, char *why, size_t n);

/*
 * Parses all of `s` as a decimal integer in [lo, hi] into *out. On failure
 * *out is unchanged and `why` holds e.g.
 *   '2.5' is not an integer
 *   4294967297 is out of range (must be in [1, 2147483647])
 *   9223372036854775808 is out of range (must be >= 0)
 */
uhn_parse_status uhn_parse_int64(const char *s, int64_t lo, int64_t hi, int64_t *out, char *why,
                                 size_t n);

/* The range [lo, hi] as the messages write it: ">= 1" (hi = INT64_MAX only),
 * "<= 5" (lo = INT64_MIN only), else "in [1, 2147483647]". */
void uhn_parse_int_range_text(int64_t lo, int64_t hi, char *buf, size_t n);

/*
 * The integer bounds of a range given as doubles (a table's min and max,
 * min excluded when min_open), converted exactly: a bound at or beyond 2^63
 * (or -2^63) or infinite saturates to INT64_MAX (INT64_MIN); a fractional
 * bound rounds inwards. Returns 0, or -1 when the range holds no integer.
 */
int uhn_parse_int_bounds(double min, int min_open, double max, int64_t *lo, int64_t *hi);

#ifdef __cplusplus
}
#endif
#endif
