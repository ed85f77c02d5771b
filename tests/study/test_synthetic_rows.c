/*
 * Synthetic rows, made a block of pixels at a time (src/data/synthetic.c),
 * against the pixel formulas of the reference written out here with the
 * public generator (uhn/rng.h): every kind, bit for bit, with row lengths that
 * are and are not a multiple of the block, rows beyond 2^32 and the last row
 * of a large set. A capacity study on a synthetic bank draws its memories
 * from these rows (tests/study/study_reuse.py compares whole studies).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "uhn/dataset.h"
#include "uhn/rng.h"

static uhn_ctx *ctx;

static float clip01(double x) {
    return (float)(x < 0.0 ? 0.0 : x > 1.0 ? 1.0 : x);
}

/* The reference pixel (row, p) of each kind. */
static float ref_pixel(const char *kind, uint64_t seed, int64_t row, int64_t p, int64_t k) {
    double u = uhn_rng_uniform(seed, UHN_STREAM_DATA_ROWS, (uint64_t)row, (uint32_t)p);
    double z = uhn_rng_normal(seed, UHN_STREAM_DATA_ROWS, (uint64_t)row, (uint32_t)p);
    if (!strcmp(kind, "binary")) return u < 0.5 ? -1.0f : 1.0f;
    if (!strcmp(kind, "binary01")) return u < 0.5 ? 0.0f : 1.0f;
    if (!strcmp(kind, "uniform")) return (float)u;
    if (!strcmp(kind, "gaussian")) return clip01(0.4 + 0.3 * z);
    /* correlated, 7 families, noise 0.2 */
    int64_t f = row % 7;
    (void)k;
    float proto = (float)uhn_rng_uniform(seed, UHN_STREAM_DATA_PROTO, (uint64_t)f, (uint32_t)p);
    return clip01(proto + 0.2 * z);
}

static void test_kinds(void) {
    static const char *kinds[] = {"binary", "binary01", "uniform", "gaussian", "correlated"};
    static const char *extra[] = {"", "", "", "&mean=0.4&sd=0.3", "&families=7&noise=0.2"};
    static const int64_t ks[] = {1, 15, 16, 17, 37, 48, 63, 64, 65, 100, 129, 784};
    int64_t rows[] = {
        0, 1, 2, 12345, ((int64_t)1 << 32) - 1, ((int64_t)1 << 32) + 5, 8999999999999999};
    enum { NR = sizeof rows / sizeof rows[0] };
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; ++i)
        for (size_t j = 0; j < sizeof ks / sizeof ks[0]; ++j) {
            char spec[256];
            snprintf(spec, sizeof spec, "synthetic:%s?n=9000000000000000&k=%lld&seed=77%s",
                     kinds[i], (long long)ks[j], extra[i]);
            check_context("%s", spec);
            uhn_dataset *ds = NULL;
            CHECK_INT(UHN_OK, uhn_dataset_open(ctx, spec, &ds));
            if (!ds) continue;
            int64_t k = ks[j];
            float *x = malloc((size_t)(NR * k) * sizeof *x);
            CHECK_INT(UHN_OK, uhn_dataset_rows(ds, rows, NR, x));
            int64_t bad = 0;
            for (int r = 0; r < NR; ++r)
                for (int64_t p = 0; p < k; ++p) {
                    float want = ref_pixel(kinds[i], 77, rows[r], p, k);
                    if (memcmp(&want, &x[r * k + p], sizeof want) && bad++ == 0)
                        CHECK_MSG(0, "row %lld pixel %lld: %.9g, the formula gives %.9g",
                                  (long long)rows[r], (long long)p, x[r * k + p], want);
                }
            CHECK_INT(0, bad);
            free(x);
            uhn_dataset_close(ds);
        }
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    if (uhn_ctx_create(MPI_COMM_WORLD, &ctx) != UHN_OK) MPI_Abort(MPI_COMM_WORLD, 1);
    test_kinds();
    int rc = check_finish_mpi(ctx->comm, "test_synthetic_rows");
    uhn_ctx_destroy(ctx);
    MPI_Finalize();
    return rc;
}
