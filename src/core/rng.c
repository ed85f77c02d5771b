/* Philox4x32-10 counter-based generator (Random123's constants). */
#if defined(__AVX512F__)
#include <immintrin.h>
#endif
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

/* ---- many counters at once ---------------------------------------------
 *
 * The same function on 16 consecutive counters per block, in vector registers.
 * One block is a chain of 10 dependent rounds (multiply, shift, blend, xor):
 * it waits on latency. NB blocks run their rounds side by side, so the core
 * has NB independent chains to issue from; NB is a constant in each copy. */

#define LANES UHN_PHILOX_LANES
#define BLOCK 16

#if defined(__AVX512F__)
/* The high and low words of the 32 x 32-bit products a * m, 16 lanes:
 * vpmuludq on the even and on the odd words (about 3x faster than the
 * compiler's widening of the lanes to 64 bits). */
static inline void mulhilo16(__m512i a, __m512i m, __m512i *hi, __m512i *lo) {
    __m512i even = _mm512_mul_epu32(a, m), odd = _mm512_mul_epu32(_mm512_srli_epi64(a, 32), m);
    *lo = _mm512_mask_blend_epi32(0xAAAA, even, _mm512_slli_epi64(odd, 32));
    *hi = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(even, 32), odd);
}

static inline __attribute__((always_inline)) void philox_blocks(uint64_t seed, uint32_t stream,
                                                                uint64_t index, uint32_t counter0,
                                                                int nb, uint32_t w[4][LANES]) {
    __m512i c0[LANES / BLOCK], c1[LANES / BLOCK], c2[LANES / BLOCK], c3[LANES / BLOCK];
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                  m0 = _mm512_set1_epi32((int)PHILOX_M0), m1 = _mm512_set1_epi32((int)PHILOX_M1);
    for (int b = 0; b < nb; ++b) {
        c0[b] = _mm512_add_epi32(_mm512_set1_epi32((int)(counter0 + (uint32_t)(BLOCK * b))), iota);
        c1[b] = _mm512_set1_epi32((int)stream);
        c2[b] = _mm512_set1_epi32((int)(uint32_t)index);
        c3[b] = _mm512_set1_epi32((int)(uint32_t)(index >> 32));
    }
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    for (int r = 0; r < 10; ++r) {
        const __m512i q0 = _mm512_set1_epi32((int)k0), q1 = _mm512_set1_epi32((int)k1);
        for (int b = 0; b < nb; ++b) {
            __m512i hi0, lo0, hi1, lo1;
            mulhilo16(c0[b], m0, &hi0, &lo0);
            mulhilo16(c2[b], m1, &hi1, &lo1);
            c0[b] = _mm512_ternarylogic_epi32(hi1, c1[b], q0, 0x96); /* hi1 ^ c1 ^ k0 */
            c2[b] = _mm512_ternarylogic_epi32(hi0, c3[b], q1, 0x96);
            c1[b] = lo1;
            c3[b] = lo0;
        }
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    for (int b = 0; b < nb; ++b) {
        _mm512_storeu_si512(&w[0][BLOCK * b], c0[b]);
        _mm512_storeu_si512(&w[1][BLOCK * b], c1[b]);
        _mm512_storeu_si512(&w[2][BLOCK * b], c2[b]);
        _mm512_storeu_si512(&w[3][BLOCK * b], c3[b]);
    }
}
#else
static inline __attribute__((always_inline)) void philox_blocks(uint64_t seed, uint32_t stream,
                                                                uint64_t index, uint32_t counter0,
                                                                int nb, uint32_t w[4][LANES]) {
    const uint32_t c2s = (uint32_t)index, c3s = (uint32_t)(index >> 32);
    const uint32_t k0s = (uint32_t)seed, k1s = (uint32_t)(seed >> 32);
#pragma omp simd
    for (int l = 0; l < BLOCK * nb; ++l) {
        uint32_t c0 = counter0 + (uint32_t)l, c1 = stream, c2 = c2s, c3 = c3s, q0 = k0s, q1 = k1s;
        for (int r = 0; r < 10; ++r) {
            uint64_t a = (uint64_t)PHILOX_M0 * c0, b = (uint64_t)PHILOX_M1 * c2;
            uint32_t n0 = (uint32_t)(b >> 32) ^ c1 ^ q0, n2 = (uint32_t)(a >> 32) ^ c3 ^ q1;
            c1 = (uint32_t)b;
            c3 = (uint32_t)a;
            c0 = n0;
            c2 = n2;
            q0 += PHILOX_W0;
            q1 += PHILOX_W1;
        }
        w[0][l] = c0, w[1][l] = c1, w[2][l] = c2, w[3][l] = c3;
    }
}
#endif

void uhn_philox4x32_lanes(uint64_t seed, uint32_t stream, uint64_t index, uint32_t counter0,
                          int lanes, uint32_t w[4][UHN_PHILOX_LANES]) {
    switch ((lanes + BLOCK - 1) / BLOCK) { /* a copy per block count */
    case 1:
        philox_blocks(seed, stream, index, counter0, 1, w);
        break;
    case 2:
        philox_blocks(seed, stream, index, counter0, 2, w);
        break;
    case 3:
        philox_blocks(seed, stream, index, counter0, 3, w);
        break;
    default:
        philox_blocks(seed, stream, index, counter0, 4, w);
        break;
    }
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
