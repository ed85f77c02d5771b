/*
 * Private: the L1 (Manhattan) distance block, register-blocked with AVX-512
 * where the build has it (a plain loop otherwise). Used by the manhattan block
 * kernel of similarity.c.
 */
#ifndef UHN_CORE_SIMD_L1_H
#define UHN_CORE_SIMD_L1_H

#include <stdint.h>

/*
 * D[j * ldd + i] = sum_k |x_ik m_jk - q_jk| for the n rows x_i (n x K,
 * row-major) and the B queries q_j (B x K), with m the B x K cue mask as 0/1
 * floats, or NULL for all coordinates (then |x_ik - q_jk|). q must already be
 * zero outside its cue. A distance of 0 (x = q on the cue) comes out exactly
 * 0. Not collective; single-threaded.
 */
void uhn_l1_block(const float *x, int64_t n, const float *q, const float *m, int64_t B, int64_t K,
                  float *D, int64_t ldd);

#endif
