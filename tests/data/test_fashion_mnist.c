/*
 * The Fashion-MNIST source and its IDX reader: the real files of Debian's
 * dataset-fashion-mnist (shapes, labels, pixel values computed independently
 * with Python's gzip and numpy), and IDX files made broken on purpose, each
 * giving its exact one-line error on every rank. Run at 1 and 2 ranks.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "data/idx.h"
#include "uhn/dataset.h"
#include "check.h"

static uhn_ctx *ctx;
static char dir[256];

/* Every rank must agree on `want`; a failure must carry `needle`. */
static void expect(const char *what, int got, int want, const char *needle) {
    check_status_mpi(ctx, what, got, want, needle);
}

static void be32(unsigned char *b, uint32_t v) {
    b[0] = (unsigned char)(v >> 24), b[1] = (unsigned char)(v >> 16);
    b[2] = (unsigned char)(v >> 8), b[3] = (unsigned char)v;
}

/* Writes an IDX file (gzipped when gz): magic, dims, then `nbytes` bytes of
 * value `fill` (a negative nbytes cuts the header short). Rank 0 writes; everyone waits. */
static void write_idx(const char *name, int gz, uint32_t magic, int nd, const uint32_t *dims,
                      long nbytes, unsigned char fill) {
    if (ctx->rank == 0) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, name);
        unsigned char *buf = malloc((size_t)(8 + 4 * nd + (nbytes > 0 ? nbytes : 0)));
        be32(buf, magic);
        for (int d = 0; d < nd; ++d) be32(buf + 4 + 4 * d, dims[d]);
        if (nbytes > 0) memset(buf + 4 + 4 * nd, fill, (size_t)nbytes);
        size_t len = (size_t)(4 + 4 * nd + nbytes);
        if (gz) {
            gzFile f = gzopen(path, "wb");
            gzwrite(f, buf, (unsigned)len);
            gzclose(f);
        } else {
            FILE *f = fopen(path, "wb");
            fwrite(buf, 1, len, f);
            fclose(f);
        }
        free(buf);
    }
    MPI_Barrier(ctx->comm);
}

static void test_real(void) {
    static const struct {
        const char *spec;
        int64_t n, per_class;
    } sets[] = {{"fashion-mnist:train", 60000, 6000},
                {"fashion-mnist:test", 10000, 1000},
                {"fashion-mnist", 60000, 6000},
                {"fashion-mnist:all@/usr/share/datasets/fashion-mnist", 70000, 7000}};
    for (size_t s = 0; s < sizeof sets / sizeof sets[0]; ++s) {
        uhn_dataset *ds = NULL;
        expect(sets[s].spec, uhn_dataset_open(ctx, sets[s].spec, &ds), UHN_OK, NULL);
        if (!ds) continue;
        CHECK_INT(sets[s].n, uhn_dataset_n(ds));
        CHECK_INT(28, uhn_dataset_height(ds));
        CHECK_INT(28, uhn_dataset_width(ds));
        CHECK_INT(1, uhn_dataset_channels(ds));
        CHECK_INT(784, uhn_dataset_k(ds));
        CHECK(strcmp(uhn_dataset_source(ds), "fashion-mnist") == 0);
        CHECK(uhn_dataset_has_labels(ds));
        /* Captions from class name and index (fashion_mnist.c), unique: both
         * splits start with an ankle boot. */
        CHECK(uhn_dataset_caption(ds, 0) && !strcmp(uhn_dataset_caption(ds, 0), "Ankle boot 0"));
        CHECK(uhn_dataset_caption(ds, -1) == NULL && uhn_dataset_caption(ds, sets[s].n) == NULL);
        CHECK_INT(-1, uhn_dataset_label(ds, -1));
        CHECK_INT(-1, uhn_dataset_label(ds, sets[s].n));
        int64_t hist[10] = {0};
        for (int64_t i = 0; i < sets[s].n; ++i) {
            int64_t l = uhn_dataset_label(ds, i);
            if (l >= 0 && l < 10) ++hist[l];
        }
        for (int c = 0; c < 10; ++c) CHECK_INT(sets[s].per_class, hist[c]);
        CHECK_INT(9, uhn_dataset_label(ds, 0)); /* both splits start with an ankle boot */
        float lo = -5, hi = -5;
        uhn_dataset_range(ds, &lo, &hi);
        CHECK(lo == 0.0f && hi == 1.0f);
        uhn_dataset_close(ds);
    }
}

/* Pixel values from Python (gzip + numpy, raw bytes / 255):
 *   train[0][405] = 226, train[1][350] = 204, train[59999][500] = 180,
 *   train[12345][300] = 202, test[0][400] = 1; sums of raw bytes:
 *   train[0] 76247, train[59999] 16684, test[9999] 24390;
 *   labels train[59999] = 5, train[12345] = 8, test[9999] = 5. */
static void test_pixels(void) {
    uhn_dataset *ds = NULL;
    expect("all", uhn_dataset_open(ctx, "fashion-mnist:all", &ds), UHN_OK, NULL);
    if (!ds) return;
    int64_t idx[5] = {59999, 0, 12345, 60000 + 9999, 60000}; /* any order */
    float *x = malloc(5 * 784 * sizeof *x);
    expect("rows", uhn_dataset_rows(ds, idx, 5, x), UHN_OK, NULL);
    CHECK_NEAR(180.0 / 255.0, x[0 * 784 + 500], 1e-7);
    CHECK_NEAR(226.0 / 255.0, x[1 * 784 + 405], 1e-7);
    CHECK_NEAR(0.0, x[1 * 784 + 400], 0);
    CHECK_NEAR(202.0 / 255.0, x[2 * 784 + 300], 1e-7);
    CHECK_NEAR(1.0 / 255.0, x[4 * 784 + 400], 1e-7);
    double sums[3] = {0, 0, 0};
    int64_t rows[3] = {1, 0, 3};
    for (int r = 0; r < 3; ++r)
        for (int p = 0; p < 784; ++p) sums[r] += x[rows[r] * 784 + p];
    CHECK_NEAR(76247.0 / 255.0, sums[0], 1e-3);
    CHECK_NEAR(16684.0 / 255.0, sums[1], 1e-3);
    CHECK_NEAR(24390.0 / 255.0, sums[2], 1e-3);
    for (int i = 0; i < 5 * 784; ++i) CHECK_MSG(x[i] >= 0.0f && x[i] <= 1.0f, "pixel %d", i);
    CHECK_INT(5, uhn_dataset_label(ds, 59999));
    CHECK_INT(8, uhn_dataset_label(ds, 12345));
    CHECK_INT(5, uhn_dataset_label(ds, 69999));
    CHECK_INT(9, uhn_dataset_label(ds, 60000));
    /* Captions: the class name of the label and the index over all 70,000. */
    CHECK(!strcmp(uhn_dataset_caption(ds, 59999), "Sandal 59999"));
    CHECK(!strcmp(uhn_dataset_caption(ds, 12345), "Bag 12345"));
    CHECK(!strcmp(uhn_dataset_caption(ds, 60000), "Ankle boot 60000"));
    CHECK(!strcmp(uhn_dataset_caption(ds, 69999), "Sandal 69999"));
    int64_t bad = 70000;
    int rc = uhn_dataset_rows(ds, &bad, 1, x);
    expect("index out of range", rc, UHN_EINPUT,
           "data set 'fashion-mnist:all': image index 70000 is out of range [0, 70000)");
    bad = -1;
    expect("negative index", uhn_dataset_rows(ds, &bad, 1, x), UHN_EINPUT,
           "image index -1 is out of range");
    free(x);
    uhn_dataset_close(ds);
}

static void test_idx_errors(void) {
    char path[512], want[768];
    uhn_idx idx;
    uint32_t d3[3] = {3, 2, 2}, d1[1] = {3};

    write_idx("good.gz", 1, UHN_IDX_MAGIC_IMAGES, 3, d3, 12, 7);
    snprintf(path, sizeof path, "%s/good.gz", dir);
    expect("good", uhn_idx_read(ctx, path, UHN_IDX_MAGIC_IMAGES, &idx), UHN_OK, NULL);
    CHECK_INT(3, idx.ndims);
    CHECK_INT(3, idx.dims[0]);
    CHECK_INT(2, idx.dims[2]);
    CHECK_INT(7, idx.data ? idx.data[11] : -1);
    uhn_idx_free(&idx);

    write_idx("plain", 0, UHN_IDX_MAGIC_LABELS, 1, d1, 3, 4);
    snprintf(path, sizeof path, "%s/plain", dir);
    expect("plain IDX", uhn_idx_read(ctx, path, UHN_IDX_MAGIC_LABELS, &idx), UHN_OK, NULL);
    CHECK_INT(4, idx.data ? idx.data[2] : -1);
    uhn_idx_free(&idx);

    static const struct {
        const char *file;
        int gz;
        uint32_t magic;
        int nd;
        long nbytes;
        const char *msg; /* after "'<dir>/<file>' " */
    } bad[] = {
        {"magic.gz", 1, 0x00000804u, 3, 12, "has magic number 0x00000804, expected 0x00000803"},
        {"short.gz", 1, UHN_IDX_MAGIC_IMAGES, 3, 10,
         "is truncated: 10 of 12 data bytes (header count 3)"},
        {"long.gz", 1, UHN_IDX_MAGIC_IMAGES, 3, 13,
         "has data after its 12 bytes (header count 3 too small)"},
        {"header.gz", 1, UHN_IDX_MAGIC_IMAGES, 0, 2,
         "is truncated: its header ends in dimension 0"},
        {"empty.gz", 1, UHN_IDX_MAGIC_IMAGES, 0, -4, "is truncated: no IDX header"},
    };
    for (size_t b = 0; b < sizeof bad / sizeof bad[0]; ++b) {
        write_idx(bad[b].file, bad[b].gz, bad[b].magic, bad[b].nd, d3, bad[b].nbytes, 1);
        snprintf(path, sizeof path, "%s/%s", dir, bad[b].file);
        snprintf(want, sizeof want, "'%s' %s", path, bad[b].msg);
        expect(bad[b].file, uhn_idx_read(ctx, path, UHN_IDX_MAGIC_IMAGES, &idx), UHN_EINPUT, want);
        CHECK(idx.data == NULL);
    }

    uint32_t zero[3] = {3, 0, 2};
    write_idx("zero.gz", 1, UHN_IDX_MAGIC_IMAGES, 3, zero, 0, 0);
    snprintf(path, sizeof path, "%s/zero.gz", dir);
    snprintf(want, sizeof want, "'%s' has an empty dimension 1", path);
    expect("zero dim", uhn_idx_read(ctx, path, UHN_IDX_MAGIC_IMAGES, &idx), UHN_EINPUT, want);

    snprintf(path, sizeof path, "%s/missing.gz", dir);
    snprintf(want, sizeof want, "cannot open '%s': No such file or directory", path);
    expect("missing", uhn_idx_read(ctx, path, UHN_IDX_MAGIC_IMAGES, &idx), UHN_EINPUT, want);

    /* A gzip stream cut in the middle of its data: truncated as well. */
    if (ctx->rank == 0) {
        snprintf(path, sizeof path, "%s/cut.gz", dir);
        gzFile f = gzopen(path, "wb");
        unsigned char h[16];
        be32(h, UHN_IDX_MAGIC_IMAGES), be32(h + 4, 100), be32(h + 8, 10), be32(h + 12, 10);
        gzwrite(f, h, 16);
        uint32_t lcg = 12345; /* incompressible bytes, so the cut falls in the data */
        for (int i = 0; i < 10000; ++i) {
            lcg = lcg * 1664525u + 1013904223u;
            unsigned char v = (unsigned char)(lcg >> 24);
            gzwrite(f, &v, 1);
        }
        gzclose(f);
        CHECK(truncate(path, 600) == 0);
    }
    MPI_Barrier(ctx->comm);
    snprintf(path, sizeof path, "%s/cut.gz", dir);
    snprintf(want, sizeof want, "'%s' is truncated: ", path);
    expect("cut gzip", uhn_idx_read(ctx, path, UHN_IDX_MAGIC_IMAGES, &idx), UHN_EINPUT, want);
}

/* A directory of small fake Fashion-MNIST files, broken one way at a time,
 * opened through uhn_dataset_open (collective; the message reaches every rank). */
static void test_open_errors(void) {
    char spec[512], want[1024];
    uint32_t d3[3] = {3, 2, 2}, d1[1] = {3}, d2[1] = {2};
    write_idx("train-images-idx3-ubyte.gz", 1, UHN_IDX_MAGIC_IMAGES, 3, d3, 12, 255);
    write_idx("train-labels-idx1-ubyte.gz", 1, UHN_IDX_MAGIC_LABELS, 1, d1, 3, 4);
    snprintf(spec, sizeof spec, "fashion-mnist:train@%s", dir);
    uhn_dataset *ds = NULL;
    expect("small set", uhn_dataset_open(ctx, spec, &ds), UHN_OK, NULL);
    if (ds) {
        CHECK_INT(3, uhn_dataset_n(ds));
        CHECK_INT(4, uhn_dataset_k(ds));
        CHECK_INT(4, uhn_dataset_label(ds, 2));
        float x[4];
        int64_t i = 1;
        CHECK_INT(UHN_OK, uhn_dataset_rows(ds, &i, 1, x));
        CHECK_NEAR(1.0, x[3], 0);
        uhn_dataset_close(ds);
    }

    write_idx("train-labels-idx1-ubyte.gz", 1, UHN_IDX_MAGIC_LABELS, 1, d2, 2, 4);
    snprintf(want, sizeof want,
             "'%s/train-labels-idx1-ubyte.gz' holds 2 labels but "
             "'%s/train-images-idx3-ubyte.gz' holds 3 images",
             dir, dir);
    expect("label count", uhn_dataset_open(ctx, spec, &ds), UHN_EINPUT, want);
    CHECK(ds == NULL);

    write_idx("train-labels-idx1-ubyte.gz", 1, UHN_IDX_MAGIC_LABELS, 1, d1, 3, 10);
    snprintf(want, sizeof want, "'%s/train-labels-idx1-ubyte.gz': label 0 is 10, expected 0-9",
             dir);
    expect("label value", uhn_dataset_open(ctx, spec, &ds), UHN_EINPUT, want);

    write_idx("train-labels-idx1-ubyte.gz", 1, UHN_IDX_MAGIC_IMAGES, 3, d3, 12, 0);
    snprintf(want, sizeof want,
             "'%s/train-labels-idx1-ubyte.gz' has magic number 0x00000803, expected 0x00000801",
             dir);
    expect("labels magic", uhn_dataset_open(ctx, spec, &ds), UHN_EINPUT, want);

    snprintf(spec, sizeof spec, "fashion-mnist:test@%s", dir);
    snprintf(want, sizeof want, "cannot open '%s/t10k-images-idx3-ubyte.gz'", dir);
    expect("missing split", uhn_dataset_open(ctx, spec, &ds), UHN_EINPUT, want);

    expect("bad split", uhn_dataset_open(ctx, "fashion-mnist:valid", &ds), UHN_EINPUT,
           "data set 'fashion-mnist:valid': unknown split 'valid' (train, test or all)");
    expect("empty dir", uhn_dataset_open(ctx, "fashion-mnist:train@", &ds), UHN_EINPUT,
           "data set 'fashion-mnist:train@': empty directory after '@'");
    expect("bad source", uhn_dataset_open(ctx, "mnist:train", &ds), UHN_EINPUT,
           "data set 'mnist:train': unknown source 'mnist' (known: fashion-mnist, hdf5, "
           "synthetic)");
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    if (uhn_ctx_create(MPI_COMM_WORLD, &ctx) != UHN_OK) return 1;
    check_rank_ = ctx->rank;
    if (ctx->rank == 0) {
        snprintf(dir, sizeof dir, "/tmp/uhn_test_fmnist_XXXXXX");
        if (!mkdtemp(dir)) dir[0] = '\0';
    }
    MPI_Bcast(dir, sizeof dir, MPI_CHAR, 0, ctx->comm);
    test_real();
    test_pixels();
    test_idx_errors();
    test_open_errors();
    MPI_Barrier(ctx->comm);
    if (ctx->rank == 0) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    }
    int rc = check_finish_mpi(ctx->comm, "test_fashion_mnist");
    uhn_ctx_destroy(ctx);
    MPI_Finalize();
    return rc;
}
