/* The sharded memory bank: partition, storage, validation, row statistics. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

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

/* First non-finite entry of an n x m block, as a flat index, or -1. */
static int64_t first_nonfinite(const float *a, int64_t n, int64_t m) {
    for (int64_t e = 0; e < n * m; ++e)
        if (!isfinite(a[e])) return e;
    return -1;
}

int uhn_bank_commit(uhn_bank *b, const char *keys_name, const char *values_name) {
    uhn_ctx *ctx = b->ctx;
    int st = UHN_OK;
    int64_t e = first_nonfinite(b->keys, b->n_local, b->K);
    if (e >= 0)
        st = uhn_fail(ctx, UHN_EINPUT, "%s: row %lld column %lld is %s (memories must be finite)",
                      keys_name, (long long)(b->row0 + e / b->K), (long long)(e % b->K),
                      isnan(b->keys[e]) ? "NaN" : "Inf");
    if (st == UHN_OK && b->hetero && (e = first_nonfinite(b->values, b->n_local, b->O)) >= 0)
        st = uhn_fail(ctx, UHN_EINPUT, "%s: row %lld column %lld is %s (values must be finite)",
                      values_name, (long long)(b->row0 + e / b->O), (long long)(e % b->O),
                      isnan(b->values[e]) ? "NaN" : "Inf");
    /* The lowest failing rank holds the lowest failing row: its message wins. */
    UHN_CALL(uhn_agree(ctx, st));

    snprintf(b->keys_name, sizeof b->keys_name, "%s", keys_name ? keys_name : "memories");
    /* The first negative entry (global row, column, value) for messages. */
    int64_t neg_row = INT64_MAX, neg_col = -1;
    double neg_val = 0;
    for (int64_t i = 0; i < b->n_local; ++i) {
        const float *x = b->keys + i * b->K;
        double n2 = 0, s = 0;
        for (int64_t k = 0; k < b->K; ++k) {
            n2 += (double)x[k] * x[k];
            s += x[k];
            if (x[k] < 0 && neg_row == INT64_MAX)
                neg_row = b->row0 + i, neg_col = k, neg_val = x[k];
        }
        b->key_norm2[i] = (float)n2;
        b->key_sum[i] = (float)s;
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

void uhn_bank_destroy(uhn_bank *b) {
    if (!b) return;
    if (b->values != b->keys) uhn_free(b->values);
    uhn_free(b->keys);
    uhn_free(b->key_norm2);
    uhn_free(b->key_sum);
    free(b);
}
