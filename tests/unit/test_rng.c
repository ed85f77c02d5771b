/*
 * Philox4x32-10: the known-answer vectors of Random123 (kat_vectors,
 * "philox4x32 10"), and the statistics of the uniform and normal draws built
 * on it. rng.h maps Random123's counter words to (counter, stream, index low,
 * index high) and its key words to (seed low, seed high).
 */
#include <math.h>
#include <stdint.h>

#include "check.h"
#include "uhn/rng.h"

/* Runs one Random123 vector through uhn_philox4x32. */
static void kat(const uint32_t ctr[4], const uint32_t key[2], const uint32_t expect[4]) {
    uint64_t seed = (uint64_t)key[0] | ((uint64_t)key[1] << 32);
    uint64_t index = (uint64_t)ctr[2] | ((uint64_t)ctr[3] << 32);
    uint32_t out[4] = {0, 0, 0, 0};
    uhn_philox4x32(seed, ctr[1], index, ctr[0], out);
    check_context("philox ctr=(%08x %08x %08x %08x) key=(%08x %08x)", ctr[0], ctr[1], ctr[2],
                  ctr[3], key[0], key[1]);
    for (int i = 0; i < 4; ++i) CHECK_HEX32(expect[i], out[i]);
}

static void test_known_answers(void) {
    const uint32_t zero_c[4] = {0, 0, 0, 0}, zero_k[2] = {0, 0};
    const uint32_t zero_x[4] = {0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u};
    kat(zero_c, zero_k, zero_x);

    const uint32_t ones_c[4] = {0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu};
    const uint32_t ones_k[2] = {0xffffffffu, 0xffffffffu};
    const uint32_t ones_x[4] = {0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu};
    kat(ones_c, ones_k, ones_x);

    /* The digits of pi. */
    const uint32_t pi_c[4] = {0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u};
    const uint32_t pi_k[2] = {0xa4093822u, 0x299f31d0u};
    const uint32_t pi_x[4] = {0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u};
    kat(pi_c, pi_k, pi_x);
}

/* Each of seed, stream, index (both halves) and counter changes the output;
 * the same arguments give the same output. */
static void test_arguments(void) {
    check_context("argument sensitivity");
    const uint64_t base = uhn_rng_u64(42, 3, 7, 5);
    CHECK(uhn_rng_u64(42, 3, 7, 5) == base);
    CHECK(uhn_rng_u64(43, 3, 7, 5) != base);
    CHECK(uhn_rng_u64(42ull | (1ull << 32), 3, 7, 5) != base);
    CHECK(uhn_rng_u64(42, 4, 7, 5) != base);
    CHECK(uhn_rng_u64(42, 3, 8, 5) != base);
    CHECK(uhn_rng_u64(42, 3, 7ull | (1ull << 32), 5) != base);
    CHECK(uhn_rng_u64(42, 3, 7, 6) != base);
}

/* Uniform: in [0, 1), a multiple of 2^-53, mean 1/2 and variance 1/12 over
 * 1e5 draws. The draws are a fixed sequence, so the bounds (about 5 standard
 * errors: 0.0046 for the mean, 0.0012 for the variance) are deterministic. */
static void test_uniform(void) {
    check_context("uniform");
    const int n = 100000;
    double sum = 0, sum2 = 0;
    long out_of_range = 0, not_53_bits = 0, below_tenth = 0;
    for (int i = 0; i < n; ++i) {
        double u = uhn_rng_uniform(2024, 1, (uint64_t)i / 16, (uint32_t)(i % 16));
        if (!(u >= 0.0 && u < 1.0)) ++out_of_range;
        double m = ldexp(u, 53);
        if (m != floor(m)) ++not_53_bits;
        if (u < 0.1) ++below_tenth;
        sum += u;
        sum2 += u * u;
    }
    double mean = sum / n, var = sum2 / n - mean * mean;
    CHECK_INT(0, out_of_range);
    CHECK_INT(0, not_53_bits);
    CHECK_NEAR(0.5, mean, 0.0046);
    CHECK_NEAR(1.0 / 12.0, var, 0.0012);
    /* One bin of the histogram: 10% +- 5 standard errors (0.0047). */
    CHECK_NEAR(0.1, (double)below_tenth / n, 0.0047);
}

/* Normal: finite, mean 0 and variance 1 over 1e5 draws (5 standard errors:
 * 0.016 and 0.022), and 68.27% within one standard deviation (+- 0.0074). */
static void test_normal(void) {
    check_context("normal");
    const int n = 100000;
    double sum = 0, sum2 = 0, sum4 = 0;
    long not_finite = 0, within1 = 0;
    for (int i = 0; i < n; ++i) {
        double z = uhn_rng_normal(77, 2, (uint64_t)i, 0);
        if (!isfinite(z)) {
            ++not_finite;
            continue;
        }
        if (fabs(z) < 1.0) ++within1;
        sum += z;
        sum2 += z * z;
        sum4 += z * z * z * z;
    }
    double mean = sum / n, var = sum2 / n - mean * mean;
    CHECK_INT(0, not_finite);
    CHECK_NEAR(0.0, mean, 0.016);
    CHECK_NEAR(1.0, var, 0.022);
    /* Kurtosis 3 (+- 5 standard errors, sqrt(96/n)): catches a uniform
     * masquerading as a normal. */
    CHECK_NEAR(3.0, sum4 / n, 0.16);
    CHECK_NEAR(0.682689492, (double)within1 / n, 0.0074);
}

int main(void) {
    test_known_answers();
    test_arguments();
    test_uniform();
    test_normal();
    return check_finish("test_rng");
}
