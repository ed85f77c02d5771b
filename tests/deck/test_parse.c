/*
 * Strict number parsing shared by the deck and `uhn recall` (serial, label
 * unit): 64-bit integers at and beyond their limits, the conversion of a
 * table's double bounds to exact integers, and doubles that overflow, underflow
 * to a subnormal or zero, or are NaN/Inf words, each with its exact message.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../unit/check.h"
#include "uhn/parse.h"

/* Expects uhn_parse_int64(s, lo, hi) to give status st, and value or message. */
static void int_case(const char *s, int64_t lo, int64_t hi, uhn_parse_status st, int64_t value,
                     const char *msg) {
    int64_t v = 12345;
    char why[256] = "";
    uhn_parse_status got = uhn_parse_int64(s, lo, hi, &v, why, sizeof why);
    CHECK_MSG(got == st, "int '%s': status %d, expected %d (%s)", s, (int)got, (int)st, why);
    if (st == UHN_PARSE_OK)
        CHECK_MSG(v == value, "int '%s': got %lld, expected %lld", s, (long long)v,
                  (long long)value);
    else {
        CHECK_MSG(v == 12345, "int '%s': *out written on failure", s);
        CHECK_MSG(!strcmp(why, msg), "int '%s': expected\n  \"%s\"\ngot\n  \"%s\"", s, msg, why);
    }
}

static void dbl_case(const char *s, uhn_parse_status st, double value, const char *msg) {
    double v = 12345;
    char why[256] = "";
    uhn_parse_status got = uhn_parse_double(s, &v, why, sizeof why);
    CHECK_MSG(got == st, "double '%s': status %d, expected %d (%s)", s, (int)got, (int)st, why);
    if (st == UHN_PARSE_OK)
        CHECK_MSG(v == value && signbit(v) == signbit(value), "double '%s': got %.17g", s, v);
    else {
        CHECK_MSG(v == 12345, "double '%s': *out written on failure", s);
        CHECK_MSG(!strcmp(why, msg), "double '%s': expected\n  \"%s\"\ngot\n  \"%s\"", s, msg, why);
    }
}

static void test_int64(void) {
    check_context("uhn_parse_int64");
    const char *full = "in [-9223372036854775808, 9223372036854775807]";
    char msg[256];
    int_case("9223372036854775807", INT64_MIN, INT64_MAX, UHN_PARSE_OK, INT64_MAX, NULL);
    int_case("-9223372036854775808", INT64_MIN, INT64_MAX, UHN_PARSE_OK, INT64_MIN, NULL);
    snprintf(msg, sizeof msg, "9223372036854775808 is out of range (must be %s)", full);
    int_case("9223372036854775808", INT64_MIN, INT64_MAX, UHN_PARSE_RANGE, 0, msg);
    snprintf(msg, sizeof msg, "-9223372036854775809 is out of range (must be %s)", full);
    int_case("-9223372036854775809", INT64_MIN, INT64_MAX, UHN_PARSE_RANGE, 0, msg);
    int_case("+7", 1, 10, UHN_PARSE_OK, 7, NULL);
    int_case("2147483647", 1, 2147483647, UHN_PARSE_OK, 2147483647, NULL);
    int_case("2147483648", 1, 2147483647, UHN_PARSE_RANGE, 0,
             "2147483648 is out of range (must be in [1, 2147483647])");
    int_case("4294967297", 1, 2147483647, UHN_PARSE_RANGE, 0,
             "4294967297 is out of range (must be in [1, 2147483647])");
    int_case("9223372036854775808", 1, INT64_MAX, UHN_PARSE_RANGE, 0,
             "9223372036854775808 is out of range (must be >= 1)");
    int_case("-9223372036854775809", INT64_MIN, 5, UHN_PARSE_RANGE, 0,
             "-9223372036854775809 is out of range (must be <= 5)");
    int_case("0", 1, INT64_MAX, UHN_PARSE_RANGE, 0, "0 is out of range (must be >= 1)");
    int_case("", 0, 9, UHN_PARSE_SYNTAX, 0, "'' is not an integer");
    int_case(" 5", 0, 9, UHN_PARSE_SYNTAX, 0, "' 5' is not an integer");
    int_case("5 ", 0, 9, UHN_PARSE_SYNTAX, 0, "'5 ' is not an integer");
    int_case("2.5", 0, 9, UHN_PARSE_SYNTAX, 0, "'2.5' is not an integer");
    int_case("1e3", 0, 9999, UHN_PARSE_SYNTAX, 0, "'1e3' is not an integer");
    int_case("-", 0, 9, UHN_PARSE_SYNTAX, 0, "'-' is not an integer");
    /* a NULL why is allowed */
    int64_t v = 0;
    CHECK_INT(UHN_PARSE_RANGE, uhn_parse_int64("10", 0, 9, &v, NULL, 0));
}

static void test_bounds(void) {
    check_context("uhn_parse_int_bounds");
    int64_t lo = 0, hi = 0;
    CHECK_INT(0, uhn_parse_int_bounds(1, 0, HUGE_VAL, &lo, &hi));
    CHECK(lo == 1 && hi == INT64_MAX);
    CHECK_INT(0, uhn_parse_int_bounds(-HUGE_VAL, 0, HUGE_VAL, &lo, &hi));
    CHECK(lo == INT64_MIN && hi == INT64_MAX);
    /* the bounds of the deck's keys are exact */
    CHECK_INT(0, uhn_parse_int_bounds(1, 0, 2147483647.0, &lo, &hi));
    CHECK(lo == 1 && hi == 2147483647);
    CHECK_INT(0, uhn_parse_int_bounds(0, 0, 4294967295.0, &lo, &hi));
    CHECK(lo == 0 && hi == 4294967295LL);
    /* 2^63 saturates; the largest double below it converts exactly */
    CHECK_INT(0, uhn_parse_int_bounds(0, 0, 9223372036854775808.0, &lo, &hi));
    CHECK(hi == INT64_MAX);
    CHECK_INT(0, uhn_parse_int_bounds(0, 0, nextafter(9223372036854775808.0, 0), &lo, &hi));
    CHECK(hi == 9223372036854774784LL);
    CHECK_INT(0, uhn_parse_int_bounds(-9223372036854775808.0, 1, 0, &lo, &hi));
    CHECK(lo == INT64_MIN + 1 && hi == 0);
    /* open and fractional bounds round inwards */
    CHECK_INT(0, uhn_parse_int_bounds(0, 1, 1, &lo, &hi));
    CHECK(lo == 1 && hi == 1);
    CHECK_INT(0, uhn_parse_int_bounds(0.5, 0, 2.5, &lo, &hi));
    CHECK(lo == 1 && hi == 2);
    CHECK_INT(-1, uhn_parse_int_bounds(3, 0, 2, &lo, &hi));
    CHECK_INT(-1, uhn_parse_int_bounds(0.2, 0, 0.8, &lo, &hi));
    CHECK_INT(-1, uhn_parse_int_bounds(9223372036854775808.0, 0, HUGE_VAL, &lo, &hi));
    CHECK_INT(-1, uhn_parse_int_bounds(NAN, 0, 1, &lo, &hi));
    char buf[96];
    uhn_parse_int_range_text(1, 2147483647, buf, sizeof buf);
    CHECK(!strcmp(buf, "in [1, 2147483647]"));
    uhn_parse_int_range_text(0, INT64_MAX, buf, sizeof buf);
    CHECK(!strcmp(buf, ">= 0"));
}

static void test_double(void) {
    check_context("uhn_parse_double");
    const char *under = "underflows double precision (nonzero and below the smallest normal "
                        "double, 2.2250738585072014e-308)";
    char msg[256];
    dbl_case("0", UHN_PARSE_OK, 0, NULL);
    dbl_case("-0", UHN_PARSE_OK, -0.0, NULL);
    dbl_case("2.5", UHN_PARSE_OK, 2.5, NULL);
    dbl_case("1e308", UHN_PARSE_OK, 1e308, NULL);
    dbl_case("1.7976931348623157e308", UHN_PARSE_OK, DBL_MAX, NULL);
    dbl_case("2.2250738585072014e-308", UHN_PARSE_OK, DBL_MIN, NULL);
    dbl_case("-2.2250738585072014e-308", UHN_PARSE_OK, -DBL_MIN, NULL);
    const char *subnormal[] = {"1e-320", "-1e-320", "4.9e-324", "1e-400", "2.2e-308", "0x1p-1070"};
    for (int i = 0; i < 6; ++i) {
        snprintf(msg, sizeof msg, "'%s' %s", subnormal[i], under);
        dbl_case(subnormal[i], UHN_PARSE_UNDERFLOW, 0, msg);
    }
    const char *huge[] = {"1e400", "-1e400", "1.8e308"};
    for (int i = 0; i < 3; ++i) {
        snprintf(msg, sizeof msg,
                 "'%s' overflows double precision (largest 1.7976931348623157e308)", huge[i]);
        dbl_case(huge[i], UHN_PARSE_OVERFLOW, 0, msg);
    }
    const char *words[] = {"nan", "NAN(123)", "-nan", "inf", "-Infinity"};
    for (int i = 0; i < 5; ++i) {
        snprintf(msg, sizeof msg, "'%s' is not a finite number", words[i]);
        dbl_case(words[i], UHN_PARSE_NONFINITE, 0, msg);
    }
    const char *junk[] = {"", " 1", "1 ", "1.5s", "0x", "abc", "1e", "--1"};
    for (int i = 0; i < 8; ++i) {
        snprintf(msg, sizeof msg, "'%s' is not a number", junk[i]);
        dbl_case(junk[i], UHN_PARSE_SYNTAX, 0, msg);
    }
}

int main(void) {
    test_int64();
    test_bounds();
    test_double();
    return check_finish("test_parse");
}
