/*
 * bf16 screening dot products (simd_bf16.h). Both operands are row-major
 * along K ("NT"), so the conversion is a plain row loop and one vdpbf16ps
 * takes 32 coordinates of one (row, query) pair into the 16 float32 lanes of
 * that pair's accumulator; the lanes are summed once at the end by a shuffle
 * tree over eight accumulators at once (3 operations a sum, not the 8 of one
 * reduction per accumulator; at Kp = 128 it took 64% to 73% of the peak).
 *
 * A register block of R rows x Q queries (R Q accumulators, R + 1 more
 * registers for the operands, <= 31 of the 32 zmm) loads R + Q vectors per
 * R Q vdpbf16ps. Q = 6, R = 4 is the main shape (24 accumulators, 10 loads
 * per 12 cycles); one or two queries get 8 rows so that there stay >= 8
 * independent accumulators for the latency of the instruction. The Q queries
 * of a block stay in L1 while the rows of an L2-sized chunk stream under them:
 * the streamed operand is the one with fewer loads per step (R = 4 < Q = 6).
 * Measured on Zen 5, one core, n = 2048, Kp = 800: 90% of the vdpbf16ps peak
 * at B = 1000, 87-95% at B = 4 and 16.
 */
#include "core/simd_bf16.h"
#include "core/simd_load.h"

#include <string.h>

int64_t uhn_bf16_pad(int64_t K) {
    return (K + 31) / 32 * 32;
}

/* See the derivation in simd_bf16.h: c = 2u + u^2 + (1+u)^2 gamma_{K+8}. */
double uhn_bf16_bound(int64_t K) {
    const double u = 0x1p-8, v = 0x1p-24, m = (double)K + 8;
    const double gamma = m * v / (1 - m * v);
    /* The few double roundings here are far below the 2^-40 margin. */
    return (2 * u + u * u + (1 + u) * (1 + u) * gamma) * (1 + 0x1p-40);
}

#ifdef __AVX512BF16__
#include <immintrin.h>

enum { QB = 6, RMAX = 8 };

int uhn_bf16_available(void) {
    return 1;
}

/* ---------- conversion ---------- */

static inline void store32(uint16_t *out, __m512 lo, __m512 hi) {
    /* vcvtne2ps2bf16 puts its second operand in the low half */
    _mm512_storeu_si512(out, (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
}

void uhn_bf16_rows(const float *x, int64_t n, int64_t K, int64_t ldx, uint16_t *out, int64_t Kp) {
    for (int64_t i = 0; i < n; ++i) {
        const float *xi = x + i * ldx;
        uint16_t *oi = out + i * Kp;
        int64_t k = 0;
        for (; k + 32 <= K; k += 32)
            store32(oi + k, _mm512_loadu_ps(xi + k), _mm512_loadu_ps(xi + k + 16));
        /* zeros beyond K: they become the padding */
        for (; k < Kp; k += 32) store32(oi + k, uhn_load16(xi, k, K), uhn_load16(xi, k + 16, K));
    }
}

/* ---------- dot products ---------- */

/* v, held in a register: GCC would otherwise fold the load into every
 * vdpbf16ps that uses it (Q or R loads per vector instead of one). */
static inline __attribute__((always_inline)) __m512i pinned(__m512i v) {
    __asm__("" : "+v"(v));
    return v;
}

/*
 * The lane sums, as a tree over several accumulators at once (each level
 * halves every vector and packs two into one register), so that a sum costs
 * 3 operations, not the 8 of a reduction per accumulator. Four levels of
 * additions: the bound in simd_bf16.h counts them.
 */

/* [a0+a2, a1+a3 | b0+b2, b1+b3] in 128-bit lanes: the blend takes the place
 * of a second shuffle (it runs on any vector pipe). */
static inline __m512 halves(__m512 a, __m512 b) {
    return _mm512_add_ps(_mm512_mask_blend_ps(0xff00, a, b), _mm512_shuffle_f32x4(a, b, 0x4e));
}

/* t = [A0 A1 | B0 B1], u = [C0 C1 | D0 D1] -> [A | B | C | D], 4 floats each */
static inline __m512 quarters(__m512 t, __m512 u) {
    return _mm512_add_ps(_mm512_shuffle_f32x4(t, u, 0x88), _mm512_shuffle_f32x4(t, u, 0xdd));
}

/* [sum a, sum b, sum c, sum d] */
static inline __m128 hsum4(__m512 a, __m512 b, __m512 c, __m512 d) {
    __m512 t = quarters(halves(a, b), halves(c, d));
    t = _mm512_add_ps(t, _mm512_permute_ps(t, 0x4e));
    t = _mm512_add_ps(t, _mm512_permute_ps(t, 0xb1));
    const __m512i first = _mm512_setr_epi32(0, 4, 8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    return _mm512_castps512_ps128(_mm512_permutexvar_ps(first, t));
}

/* [sum v0, ..., sum v7]: two quartered registers summed within their lanes
 * together (lane l then holds sum v_l and sum v_l+4). */
static inline __attribute__((always_inline)) __m256
hsum8(__m512 v0, __m512 v1, __m512 v2, __m512 v3, __m512 v4, __m512 v5, __m512 v6, __m512 v7) {
    const __m512 w0 = quarters(halves(v0, v1), halves(v2, v3));
    const __m512 w1 = quarters(halves(v4, v5), halves(v6, v7));
    __m512 t = _mm512_add_ps(_mm512_unpacklo_ps(w0, w1), _mm512_unpackhi_ps(w0, w1));
    t = _mm512_add_ps(t, _mm512_permute_ps(t, 0x4e));
    const __m512i pairs = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 0, 0, 0, 0, 0, 0, 0, 0);
    return _mm512_castps512_ps256(_mm512_permutexvar_ps(pairs, t));
}

/* The sums of acc (R = 1, 4 or 8 rows, NQ queries) into S[j * lds + r]. */
static inline __attribute__((always_inline)) void
dot_store(const int R, const int NQ, __m512 acc[RMAX][QB], float *S, int64_t lds) {
    const __m512 z = _mm512_setzero_ps();
    if (R == 8) {
        for (int j = 0; j < NQ; ++j)
            _mm256_storeu_ps(S + j * lds, hsum8(acc[0][j], acc[1][j], acc[2][j], acc[3][j],
                                                acc[4][j], acc[5][j], acc[6][j], acc[7][j]));
    } else if (R == 4) { /* two queries per tree */
        int j = 0;
        for (; j + 2 <= NQ; j += 2) {
            const __m256 s = hsum8(acc[0][j], acc[1][j], acc[2][j], acc[3][j], acc[0][j + 1],
                                   acc[1][j + 1], acc[2][j + 1], acc[3][j + 1]);
            _mm_storeu_ps(S + j * lds, _mm256_castps256_ps128(s));
            _mm_storeu_ps(S + (j + 1) * lds, _mm256_extractf128_ps(s, 1));
        }
        if (j < NQ) _mm_storeu_ps(S + j * lds, hsum4(acc[0][j], acc[1][j], acc[2][j], acc[3][j]));
    } else { /* one row (the rare remainder): all its queries in one tree */
        float t[8];
        _mm256_storeu_ps(t, hsum8(acc[0][0], NQ > 1 ? acc[0][1] : z, NQ > 2 ? acc[0][2] : z,
                                  NQ > 3 ? acc[0][3] : z, NQ > 4 ? acc[0][4] : z,
                                  NQ > 5 ? acc[0][5] : z, z, z));
        for (int j = 0; j < NQ; ++j) S[j * lds] = t[j];
    }
}

/*
 * The R x NQ block at rows X (stride Kp) and queries Q (stride Kp): sums into
 * S[j * lds + r]. R and NQ are constants at every call, so the loops unroll
 * and acc stays in registers.
 */
static inline __attribute__((always_inline)) void dot_micro(const int R, const int NQ,
                                                            const uint16_t *X, const uint16_t *Q,
                                                            int64_t Kp, float *S, int64_t lds) {
    __m512 acc[RMAX][QB];
    for (int r = 0; r < R; ++r)
        for (int j = 0; j < NQ; ++j) acc[r][j] = _mm512_setzero_ps();
    for (int64_t k = 0; k < Kp; k += 32) {
        __m512i xv[RMAX];
        for (int r = 0; r < R; ++r) xv[r] = pinned(_mm512_loadu_si512(X + r * Kp + k));
        for (int j = 0; j < NQ; ++j) {
            const __m512bh qv = (__m512bh)pinned(_mm512_loadu_si512(Q + j * Kp + k));
            for (int r = 0; r < R; ++r)
                acc[r][j] = _mm512_dpbf16_ps(acc[r][j], (__m512bh)xv[r], qv);
        }
    }
    dot_store(R, NQ, acc, S, lds);
}

/* Rows i0..i1 against NQ queries: R-row blocks, then single rows. */
static inline __attribute__((always_inline)) void dot_strip(const int NQ, const uint16_t *X,
                                                            int64_t i0, int64_t i1,
                                                            const uint16_t *Q, int64_t Kp, float *S,
                                                            int64_t lds) {
    /* >= 8 accumulators for NQ < 3 (the latency of vdpbf16ps), otherwise 4
     * rows: 6 or 8 rows with 3 or 4 queries measured slower (the row pointers
     * no longer fit the integer registers). */
    const int R = NQ >= 3 ? 4 : 8;
    int64_t i = i0;
    for (; i + R <= i1; i += R) dot_micro(R, NQ, X + i * Kp, Q, Kp, S + i, lds);
    for (; i < i1; ++i) dot_micro(1, NQ, X + i * Kp, Q, Kp, S + i, lds);
}

static void dot_strip_tail(int nq, const uint16_t *X, int64_t i0, int64_t i1, const uint16_t *Q,
                           int64_t Kp, float *S, int64_t lds) {
    switch (nq) {
    case 1:
        dot_strip(1, X, i0, i1, Q, Kp, S, lds);
        break;
    case 2:
        dot_strip(2, X, i0, i1, Q, Kp, S, lds);
        break;
    case 3:
        dot_strip(3, X, i0, i1, Q, Kp, S, lds);
        break;
    case 4:
        dot_strip(4, X, i0, i1, Q, Kp, S, lds);
        break;
    case 5:
        dot_strip(5, X, i0, i1, Q, Kp, S, lds);
        break;
    default:
        break;
    }
}

void uhn_bf16_dots(const uint16_t *X, int64_t n, const uint16_t *Q, int64_t B, int64_t Kp, float *S,
                   int64_t lds) {
    /* Rows in chunks of about 192 KiB that stay in L2 while every query block
     * passes over them (a multiple of 24 rows: whole blocks for R = 4, 6, 8). */
    int64_t chunk = (96 * 1024 / (Kp > 0 ? Kp : 1)) / 24 * 24;
    if (chunk < 24) chunk = 24;
    for (int64_t i0 = 0; i0 < n; i0 += chunk) {
        const int64_t i1 = i0 + chunk < n ? i0 + chunk : n;
        int64_t j = 0;
        for (; j + QB <= B; j += QB) dot_strip(QB, X, i0, i1, Q + j * Kp, Kp, S + j * lds, lds);
        if (j < B) dot_strip_tail((int)(B - j), X, i0, i1, Q + j * Kp, Kp, S + j * lds, lds);
    }
}

#else /* no AVX512_BF16: the same quantities in plain C, for correctness only */

int uhn_bf16_available(void) {
    return 0;
}

/* vcvtne2ps2bf16 on one float: denormals to signed zero, NaN kept quiet,
 * otherwise round to nearest even on the upper 16 bits (integer add). */
static uint16_t bf16_round(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7f800000u) == 0) return (uint16_t)((u >> 16) & 0x8000u);
    if ((u & 0x7f800000u) == 0x7f800000u)
        return (uint16_t)((u >> 16) | ((u & 0x007fffffu) ? 0x40u : 0u));
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

static float bf16_float(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

void uhn_bf16_rows(const float *x, int64_t n, int64_t K, int64_t ldx, uint16_t *out, int64_t Kp) {
    for (int64_t i = 0; i < n; ++i)
        for (int64_t k = 0; k < Kp; ++k) out[i * Kp + k] = k < K ? bf16_round(x[i * ldx + k]) : 0;
}

void uhn_bf16_dots(const uint16_t *X, int64_t n, const uint16_t *Q, int64_t B, int64_t Kp, float *S,
                   int64_t lds) {
    for (int64_t j = 0; j < B; ++j)
        for (int64_t i = 0; i < n; ++i) {
            float s = 0; /* bf16 products are exact in float32 */
#pragma omp simd reduction(+ : s)
            for (int64_t k = 0; k < Kp; ++k)
                s += bf16_float(X[i * Kp + k]) * bf16_float(Q[j * Kp + k]);
            S[j * lds + i] = s;
        }
}

#endif
