/* Private: the similarity table entry. */
#ifndef UHN_CORE_SIMILARITY_IMPL_H
#define UHN_CORE_SIMILARITY_IMPL_H

#include "core/tile.h"
#include "uhn/similarity.h"

/*
 * Fast block kernel: St[j * tn + i] = s(x_i, q_j) for the tn rows of the tile
 * and the B queries of the block (scores of one query are contiguous). Uses
 * the thread's scratch; not collective; single-threaded (the caller threads
 * over tiles).
 */
typedef void (*uhn_sim_block_fn)(const uhn_tile *t, const uhn_qblock *qb, float *St,
                                 uhn_scratch *scr);

struct uhn_similarity {
    const char *name;
    unsigned flags;
    double (*ref)(const float *x, const float *q, const uint8_t *mask, int64_t K);
    uhn_sim_block_fn block;
};

#endif
