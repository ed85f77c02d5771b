/*
 * The block partition of the bank (spec §6): for every N and rank count the
 * blocks are contiguous and in rank order, cover [0, N) exactly, differ in
 * size by at most one with the larger blocks first (bank.h: "the first
 * N % size ranks hold one row more"), and uhn_bank_owner agrees with them.
 */
#include <stdint.h>

#include "check.h"
#include "uhn/bank.h"

static void check_partition(uhn_gidx n, int size) {
    check_context("N=%lld size=%d", (long long)n, size);
    uhn_gidx next = 0;
    int64_t min_len = INT64_MAX, max_len = -1;
    for (int r = 0; r < size; ++r) {
        uhn_gidx row0 = -1;
        int64_t len = -1;
        uhn_bank_partition(n, size, r, &row0, &len);
        /* An empty block may sit anywhere in [0, N]; a non-empty one continues the last. */
        if (len != 0)
            CHECK_MSG(row0 == next, "rank %d: row0 %lld, expected %lld (contiguous, in rank order)",
                      r, (long long)row0, (long long)next);
        else
            CHECK_MSG(row0 >= 0 && row0 <= n, "rank %d: empty block at row0 %lld outside [0, %lld]",
                      r, (long long)row0, (long long)n);
        CHECK_MSG(len >= 0, "rank %d: n_local %lld < 0", r, (long long)len);
        /* The first N % size ranks hold one row more. */
        int64_t want = n / size + (r < n % size ? 1 : 0);
        CHECK_MSG(len == want, "rank %d: n_local %lld, expected %lld", r, (long long)len,
                  (long long)want);
        if (len < min_len) min_len = len;
        if (len > max_len) max_len = len;
        /* Every row of a small bank; the ends and middle of a large one's blocks. */
        for (uhn_gidx g = row0; g < row0 + len; g += (len > 1000 ? len / 2 - 1 : 1)) {
            int owner = uhn_bank_owner(n, size, g);
            CHECK_MSG(owner == r, "uhn_bank_owner(%lld) = %d, expected %d", (long long)g, owner, r);
        }
        if (len > 0) {
            int owner = uhn_bank_owner(n, size, row0 + len - 1);
            CHECK_MSG(owner == r, "uhn_bank_owner(%lld) = %d, expected %d",
                      (long long)(row0 + len - 1), owner, r);
        }
        next = row0 + (len > 0 ? len : 0);
    }
    CHECK_MSG(next == n, "blocks cover [0, %lld), expected [0, %lld)", (long long)next,
              (long long)n);
    CHECK_MSG(max_len - min_len <= 1, "block sizes from %lld to %lld", (long long)min_len,
              (long long)max_len);
}

int main(void) {
    const uhn_gidx ns[] = {1, 2, 3, 7, 100};
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; ++i)
        for (int size = 1; size <= 6; ++size) check_partition(ns[i], size);
    /* A bank beyond 32-bit row indices: no narrowing on the way. */
    check_partition((uhn_gidx)5000000000LL, 3);
    check_partition((uhn_gidx)5000000001LL, 4);
    return check_finish("test_partition");
}
