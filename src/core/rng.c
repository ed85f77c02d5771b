/* Philox4x32-10 counter-based generator (Random123's constants). */
#include <math.h>

#include "uhn/rng.h"

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

static inline void mulhilo(uint32_t a, uint32_t b, uint32_t *hi, uint32_t *lo) {
    uint64_t p = (uint64_t)a * b;
    *hi = (uint32_t)(p >> 32);
    *lo = (uint32_t)p;
}

void uhn_philox4x32(uint64_t seed, uint32_t stream, uint64_t index, uint32_t counter,
                    uint32_t out[4]) {
    /* Counter = (counter, stream, index lo, index hi); key = seed. */
    uint32_t c0 = counter, c1 = stream, c2 = (uint32_t)index, c3 = (uint32_t)(index >> 32);
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    for (int r = 0; r < 10; ++r) {
        uint32_t hi0, lo0, hi1, lo1;
        mulhilo(PHILOX_M0, c0, &hi0, &lo0);
        mulhilo(PHILOX_M1, c2, &hi1, &lo1);
        uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
        c0 = n0, c1 = n1, c2 = n2, c3 = n3;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    out[0] = c0, out[1] = c1, out[2] = c2, out[3] = c3;
}

uint64_t uhn_rng_u64(uint64_t seed, uint32_t stream, uint64_t index, uint32_t counter) {
    uint32_t w[4];
    uhn_philox4x32(seed, stream, index, counter, w);
    return ((uint64_t)w[0] << 32) | w[1];
}

double uhn_rng_uniform(uint64_t seed, uint32_t stream, uint64_t index, uint32_t counter) {
    return (double)(uhn_rng_u64(seed, stream, index, counter) >> 11) * 0x1.0p-53;
}

double uhn_rng_normal(uint64_t seed, uint32_t stream, uint64_t index, uint32_t counter) {
    uint32_t w[4];
    uhn_philox4x32(seed, stream, index, counter, w);
    uint64_t a = ((uint64_t)w[0] << 32) | w[1], b = ((uint64_t)w[2] << 32) | w[3];
    double u1 = ((double)(a >> 11) + 0.5) * 0x1.0p-53; /* (0, 1): log is finite */
    double u2 = (double)(b >> 11) * 0x1.0p-53;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}
