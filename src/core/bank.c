/* The sharded memory bank: partition, storage, validation, row statistics. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fault.h"
#include "uhn/bank.h"

void uhn_bank_partition(uhn_gidx n_global, int size, int rank, uhn_gidx *row0, int64_t *n_local) {
    uhn_gidx base = n_global / size, extra = n_global % size;
    *n_local = base + (rank < extra ? 1 : 0);
    *row0 = rank * base + (rank < extra ? rank : extra);
}

int uhn_bank_owner(uhn_gidx n_global, int size, uhn_gidx g) {
    uhn_gidx base = n_global / size, extra = n_global % size;
    uhn_gidx cut = extra * (base + 1); /* rows held by the ranks with one extra */
    if (g < cut) return (int)(g / (base + 1));
    return (int)(extra + (g - cut) / base);
}

int uhn_bank_create(uhn_ctx *ctx, uhn_gidx n_global, int64_t K, int hetero, int64_t O,
                    uhn_bank **out) {
    *out = NULL;
    if (n_global < 1 || K < 1 || (hetero && O < 1))
        return uhn_fail(ctx, UHN_EINPUT,
                        "a memory bank needs N >= 1 and K, O >= 1 (got N=%lld, "
                        "K=%lld, O=%lld)",
                        (long long)n_global, (long long)K, (long long)O);
    uhn_bank *b = calloc(1, sizeof *b);
    if (!b) return uhn_fail(ctx, UHN_ENOMEM, "out of memory for the memory bank");
    b->ctx = ctx;
    b->n_global = n_global;
    b->K = K;
    b->hetero = hetero != 0;
    b->O = hetero ? O : K;
    uhn_bank_partition(n_global, ctx->size, ctx->rank, &b->row0, &b->n_local);
    size_t n = (size_t)b->n_local;
    int ok = 1;
    if (n) {
        b->keys = uhn_alloc(n * (size_t)K * sizeof(float));
        b->values = hetero ? uhn_alloc(n * (size_t)O * sizeof(float)) : b->keys;
        b->key_norm2 = uhn_alloc(n * sizeof(float));
        b->key_sum = uhn_alloc(n * sizeof(float));
        ok = b->keys && b->values && b->key_norm2 && b->key_sum &&
             !UHN_FAULT(ctx, UHN_FAULT_BANK_ALLOC);
    }
    if (!ok) {
        uhn_bank_destroy(b);
        const double mib = (double)n * (double)(K + (hetero ? O : 0) + 2) * 4 / (1u << 20);
        return uhn_fail(ctx, UHN_ENOMEM,
                        "out of memory for %lld rows of the memory bank (%lld x %lld floats: "
                        "%.1f %s on this rank)",
                        (long long)n, (long long)n, (long long)(hetero ? K + O : K),
                        mib >= 1024 ? mib / 1024 : mib, mib >= 1024 ? "GiB" : "MiB");
    }
    *out = b;
    return UHN_OK;
}

/* The first non-finite entry of row i of an n x m block, as a column (the
 * row is known to hold one). */
static int64_t first_nonfinite_col(const float *a, int64_t i, int64_t m) {
    int64_t k = 0;
    while (k < m - 1 && isfinite(a[i * m + k])) ++k;
    return k;
}

/* The first row of an n x m block holding a non-finite entry, or INT64_MAX:
 * x * 0 is 0 for a finite x and NaN otherwise, so a row's sum of them is NaN
 * exactly when the row holds Inf or NaN (a vector loop, where a test per
 * entry with an early exit is not). */
static int64_t first_nonfinite_row(const float *a, int64_t n, int64_t m) {
    int64_t first = INT64_MAX;
#pragma omp parallel for schedule(static) reduction(min : first)
    for (int64_t i = 0; i < n; ++i) {
        const float *x = a + i * m;
        float z = 0;
#pragma omp simd reduction(+ : z)
        for (int64_t k = 0; k < m; ++k) z += x[k] * 0.0f;
        if (z != 0 && i < first) first = i;
    }
    return first;
}

int uhn_bank_commit(uhn_bank *b, const char *keys_name, const char *values_name) {
    uhn_ctx *ctx = b->ctx;
    const int64_t n = b->n_local, K = b->K;
    /* One pass over the keys: ||x||^2 and sum x of every row (in double,
     * rounded once to float; with Inf or NaN in a row, ||x||^2 is not finite,
     * which squares of finite floats never reach in double), and the first
     * rows with a non-finite and with a negative entry. A vector loop over
     * lanes of doubles: summed one entry after another, this pass cost 50 ms a
     * 60,000-image bank (0.9 s at 10^6) on one core. */
    int64_t bad = INT64_MAX, neg = INT64_MAX;
#pragma omp parallel for schedule(static) reduction(min : bad, neg)
    for (int64_t i = 0; i < n; ++i) {
        const float *x = b->keys + i * K;
        double n2 = 0, s = 0;
        float lo = 0;
#pragma omp simd reduction(+ : n2, s) reduction(min : lo)
        for (int64_t k = 0; k < K; ++k) {
            const double v = x[k];
            n2 += v * v;
            s += v;
            lo = x[k] < lo ? x[k] : lo;
        }
        b->key_norm2[i] = (float)n2;
        b->key_sum[i] = (float)s;
        if (!isfinite(n2) && i < bad) bad = i;
        if (lo < 0 && i < neg) neg = i;
    }
    int st = UHN_OK;
    if (bad < INT64_MAX) {
        const int64_t k = first_nonfinite_col(b->keys, bad, K);
        st = uhn_fail(ctx, UHN_EINPUT, "%s: row %lld column %lld is %s (memories must be finite)",
                      keys_name, (long long)(b->row0 + bad), (long long)k,
                      isnan(b->keys[bad * K + k]) ? "NaN" : "Inf");
    }
    if (st == UHN_OK && b->hetero && (bad = first_nonfinite_row(b->values, n, b->O)) < INT64_MAX) {
        const int64_t k = first_nonfinite_col(b->values, bad, b->O);
        st = uhn_fail(ctx, UHN_EINPUT, "%s: row %lld column %lld is %s (values must be finite)",
                      values_name, (long long)(b->row0 + bad), (long long)k,
                      isnan(b->values[bad * b->O + k]) ? "NaN" : "Inf");
    }
    /* The lowest failing rank holds the lowest failing row: its message wins. */
    UHN_CALL(uhn_agree(ctx, st));

    snprintf(b->keys_name, sizeof b->keys_name, "%s", keys_name ? keys_name : "memories");
    /* The first negative entry (global row, column, value) for messages. */
    int64_t neg_row = INT64_MAX, neg_col = -1;
    double neg_val = 0;
    if (neg < INT64_MAX) {
        const float *x = b->keys + neg * K;
        neg_col = 0;
        while (!(x[neg_col] < 0)) ++neg_col;
        neg_row = b->row0 + neg, neg_val = x[neg_col];
    }
    int64_t first = neg_row;
    UHN_MPI(ctx, MPI_Allreduce(&neg_row, &first, 1, MPI_INT64_T, MPI_MIN, ctx->comm));
    b->keys_nonneg = first == INT64_MAX;
    b->neg_row = -1, b->neg_col = -1, b->neg_val = 0;
    if (!b->keys_nonneg) { /* the owner of that row tells everyone its column and value */
        double cv[2] = {(double)neg_col, neg_val};
        UHN_MPI(ctx, MPI_Bcast(cv, 2, MPI_DOUBLE, uhn_bank_owner(b->n_global, ctx->size, first),
                               ctx->comm));
        b->neg_row = first, b->neg_col = (int64_t)cv[0], b->neg_val = cv[1];
    }
    b->committed = 1;
    return UHN_OK;
}

/*
 * The order of the rows, as 64-bit keys: the bits of ||x||^2 inverted in the
 * high word (a non-negative float's bits rise with its value, so the keys
 * ascend as the norms fall) and the local row in the low one. Sorted by a
 * stable radix sort of the high word (four passes of 8 bits over rows in
 * index order), ties keep the lower row first. It replaced qsort, whose
 * 60,000 comparisons per rank on one thread were most of what 1 rank x 2
 * threads paid over 2 ranks x 1 for a sort (17-19 ms against 6-8 ms a rank).
 */
#define ORD_ROW(key) ((int64_t)((key)&0xffffffffu))

static float ord_norm2(uint64_t key) {
    uint32_t bits = ~(uint32_t)(key >> 32);
    float n2;
    memcpy(&n2, &bits, sizeof n2);
    return n2;
}

static void sort_keys(uint64_t *a, uint64_t *tmp, int64_t n) {
    for (int pass = 0; pass < 4; ++pass) {
        const int shift = 32 + 8 * pass;
        int64_t count[257] = {0};
        for (int64_t i = 0; i < n; ++i) ++count[((a[i] >> shift) & 0xff) + 1];
        for (int d = 0; d < 256; ++d) count[d + 1] += count[d];
        for (int64_t i = 0; i < n; ++i) tmp[count[(a[i] >> shift) & 0xff]++] = a[i];
        uint64_t *t = a;
        a = tmp, tmp = t; /* four passes: the result ends where it began */
    }
}

/* A move list entry: local row q, flagged when it starts a cycle. */
#define SEQ_START(q)    (-(q)-1)
#define SEQ_IS_START(v) ((v) < 0)
#define SEQ_ROW(v)      ((v) < 0 ? -(v)-1 : (v))

/*
 * Row p of an n x m block takes row ORD_ROW(ord[p]), for every p, in place,
 * with nt threads. seq (M entries) lists the moves cycle by cycle: a cycle
 * q0 -> q1 -> ... -> q(L-1), where ORD_ROW(ord[q_i]) = q_(i+1), moves row q_(i+1)
 * into q_i and the saved row q0 into q(L-1). The list is cut into nt equal
 * runs, one per thread (a random permutation has one cycle of about 0.6 n
 * rows, which one thread would otherwise walk alone). A run reads each row
 * before the run's next move overwrites it, except two: the row where the
 * next run starts, and the first row of a cycle that began in an earlier run
 * (cs0[t]: the start of the cycle holding run t's first move). Both are
 * copied out before any row moves (save: 3 nt rows of m floats).
 */
static void permute_rows(float *x, int64_t m, const int64_t *seq, int64_t M, const int64_t *cs0,
                         int nt, float *save) {
    const int64_t per = (M + nt - 1) / nt;
    const size_t row = (size_t)m * sizeof(float);
    /* Runs are loop iterations, so that every run is done however many
     * threads the runtime grants; the first loop's end is the barrier. */
#pragma omp parallel num_threads(nt)
    {
#pragma omp for schedule(static, 1)
        for (int t = 0; t < nt; ++t) { /* the rows other runs need from this one */
            const int64_t a = t * per < M ? t * per : M, e = a + per < M ? a + per : M;
            if (a == e) continue;
            memcpy(save + (size_t)t * m, x + SEQ_ROW(seq[a]) * m, row);
            int64_t ls = e - 1;
            while (ls > a && !SEQ_IS_START(seq[ls])) --ls;
            if (SEQ_IS_START(seq[ls]) && e < M && !SEQ_IS_START(seq[e])) /* goes on past e */
                memcpy(save + (size_t)(nt + t) * m, x + SEQ_ROW(seq[ls]) * m, row);
        }
#pragma omp for schedule(static, 1)
        for (int t = 0; t < nt; ++t) {
            const int64_t a = t * per < M ? t * per : M, e = a + per < M ? a + per : M;
            float *tmp = save + (size_t)(2 * nt + t) * m;
            const float *first = a < e && cs0[t] < a ? save + (size_t)(nt + cs0[t] / per) * m : tmp;
            for (int64_t i = a; i < e; ++i) {
                const int64_t q = SEQ_ROW(seq[i]);
                if (SEQ_IS_START(seq[i])) memcpy(tmp, x + q * m, row), first = tmp;
                const float *src;
                if (i + 1 == M || SEQ_IS_START(seq[i + 1]))
                    src = first; /* the cycle's last move */
                else if (i + 1 == e)
                    src = save + (size_t)(t + 1) * m; /* the next run's first row, saved */
                else
                    src = x + SEQ_ROW(seq[i + 1]) * m;
                memcpy(x + q * m, src, row);
            }
        }
    }
}

int uhn_bank_sort(uhn_bank *b) {
    uhn_ctx *ctx = b->ctx;
    if (b->gidx) return UHN_OK;
    if (!b->committed) return uhn_fail(ctx, UHN_EINPUT, "uhn_bank_sort before uhn_bank_commit");
    const int64_t n = b->n_local, m = b->K > b->O ? b->K : b->O;
    const int nt = ctx->nthreads > 0 ? ctx->nthreads : 1;
    /* Row numbers fit the low word of a key on every rank, or no rank sorts
     * (the sort is an optimisation: an unsorted bank gives the same results). */
    int fits = n <= (int64_t)UINT32_MAX;
    UHN_MPI(ctx, MPI_Allreduce(MPI_IN_PLACE, &fits, 1, MPI_INT, MPI_MIN, ctx->comm));
    if (!fits) return UHN_OK;
    /* keys, moves and marks in one uhn_alloc buffer, huge pages from 256 KiB
     * on (as three buffers of malloc's 4 KiB pages they took 116 faults at
     * 30,000 rows, a fault 6-14 us on a virtual machine) */
    uint64_t *ord = n ? uhn_alloc((size_t)n * (2 * sizeof(uint64_t) + 1)) : NULL;
    int64_t *seq = ord ? (int64_t *)(ord + n) : NULL;
    int64_t *cs0 = malloc((size_t)nt * sizeof *cs0);
    uint8_t *seen = ord ? (uint8_t *)(ord + 2 * n) : NULL;
    if (seen) memset(seen, 0, (size_t)n);
    float *save = n ? malloc((size_t)(3 * nt * m) * sizeof(float)) : NULL;
    uhn_gidx *gidx = uhn_alloc((size_t)(n > 0 ? n : 1) * sizeof *gidx);
    int st = (n == 0 || (ord && seq && seen && save)) && cs0 && gidx
                 ? UHN_OK
                 : uhn_fail(ctx, UHN_ENOMEM, "out of memory sorting %lld rows of the memory bank",
                            (long long)n);
    st = uhn_agree(ctx, st); /* before any row moves: all ranks sort, or none */
    if (st != UHN_OK) {
        uhn_free(ord), free(cs0), free(save), uhn_free(gidx);
        return st;
    }
    if (n > 0) {
        for (int64_t i = 0; i < n; ++i) {
            uint32_t bits;
            const float n2 = b->key_norm2[i] == 0 ? 0.0f : b->key_norm2[i]; /* -0 as +0 */
            memcpy(&bits, &n2, sizeof bits);
            ord[i] = (uint64_t)~bits << 32 | (uint64_t)i;
        }
        sort_keys(ord, (uint64_t *)seq, n); /* seq is free until the moves are listed */
        /* The moves, cycle by cycle (fixed points move nothing), and for each
         * thread's run the start of the cycle holding its first move. */
        int64_t M = 0;
        for (int64_t p = 0; p < n; ++p) {
            if (seen[p] || ORD_ROW(ord[p]) == p) continue;
            int64_t q = p;
            do {
                seen[q] = 1;
                seq[M++] = q == p ? SEQ_START(q) : q;
                q = ORD_ROW(ord[q]);
            } while (q != p);
        }
        const int64_t per = (M + nt - 1) / nt;
        for (int t = 0; t < nt; ++t) {
            int64_t i = t * per < M ? t * per : 0;
            while (i > 0 && !SEQ_IS_START(seq[i])) --i;
            cs0[t] = i;
        }
        if (M > 0) {
            permute_rows(b->keys, b->K, seq, M, cs0, nt, save);
            if (b->hetero) permute_rows(b->values, b->O, seq, M, cs0, nt, save);
        }
        for (int64_t p = 0; p < n; ++p)
            gidx[p] = b->row0 + ORD_ROW(ord[p]), b->key_norm2[p] = ord_norm2(ord[p]);
        float *sums = (float *)ord; /* ord is no longer read */
        for (int64_t p = 0; p < n; ++p) sums[p] = b->key_sum[gidx[p] - b->row0];
        memcpy(b->key_sum, sums, (size_t)n * sizeof(float));
    }
    uhn_free(ord), free(cs0), free(save);
    b->gidx = gidx;
    return UHN_OK;
}

void uhn_bank_destroy(uhn_bank *b) {
    if (!b) return;
    uhn_free(b->gidx);
    if (b->values != b->keys) uhn_free(b->values);
    uhn_free(b->keys);
    uhn_free(b->key_norm2);
    uhn_free(b->key_sum);
    free(b);
}
