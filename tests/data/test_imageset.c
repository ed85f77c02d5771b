/*
 * The hdf5 image-set source on small files written by make_test_sets.py
 * (h5py): uint8 scaling, float sets taken as is, the [0, 1] check, labels and
 * captions (variable- and fixed-length), rows read by each rank in its own
 * order, and every layout error. Usage: test_imageset DIR. Run at 1-3 ranks.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uhn/dataset.h"
#include "check.h"

static uhn_ctx *ctx;
static const char *dir;

/* Every rank must agree on `want`; a failure must carry `needle`. */
static void expect(const char *what, int got, int want, const char *needle) {
    check_status_mpi(ctx, what, got, want, needle);
}

static uhn_dataset *open_file(const char *file, int want, const char *needle) {
    char spec[1024];
    snprintf(spec, sizeof spec, "hdf5:%s/%s", dir, file);
    uhn_dataset *ds = NULL;
    expect(spec, uhn_dataset_open(ctx, spec, &ds), want, needle);
    if (want != UHN_OK) CHECK(ds == NULL);
    return ds;
}

static void test_u8(void) {
    uhn_dataset *ds = open_file("u8.h5", UHN_OK, NULL);
    if (!ds) return;
    CHECK_INT(5, uhn_dataset_n(ds));
    CHECK_INT(3, uhn_dataset_height(ds));
    CHECK_INT(2, uhn_dataset_width(ds));
    CHECK_INT(2, uhn_dataset_channels(ds));
    CHECK_INT(12, uhn_dataset_k(ds));
    CHECK(strcmp(uhn_dataset_source(ds), "hdf5") == 0);
    CHECK(uhn_dataset_has_labels(ds));
    for (int i = 0; i < 5; ++i) CHECK_INT(10 - i, uhn_dataset_label(ds, i));
    CHECK_INT(-1, uhn_dataset_label(ds, 5));
    static const char *caps[5] = {"a cat", "", "caf\xc3\xa9 au lait", "dog", NULL};
    for (int i = 0; i < 4; ++i) {
        const char *c = uhn_dataset_caption(ds, i);
        CHECK_MSG(c && strcmp(c, caps[i]) == 0, "caption %d: \"%s\"", i, c ? c : "(null)");
    }
    const char *c4 = uhn_dataset_caption(ds, 4);
    CHECK_INT(300, c4 ? (long long)strlen(c4) : -1);
    CHECK(uhn_dataset_caption(ds, 5) == NULL);
    /* Each rank asks for another order, with repeats and runs. */
    int64_t idx[7] = {4, 0, 1, 2, 4, 3, 0};
    for (int j = 0; j < 7; ++j) idx[j] = (idx[j] + ctx->rank) % 5;
    float x[7 * 12];
    expect("u8 rows", uhn_dataset_rows(ds, idx, 7, x), UHN_OK, NULL);
    for (int j = 0; j < 7; ++j)
        for (int p = 0; p < 12; ++p)
            CHECK_NEAR((float)((24 * idx[j] + 7 * p) % 256) / 255.0f, x[j * 12 + p], 0);
    double t_io = ctx->timers.io;
    expect("u8 empty", uhn_dataset_rows(ds, idx, 0, x), UHN_OK, NULL);
    CHECK(ctx->timers.io >= t_io);
    uhn_dataset_close(ds);
}

static void test_float(void) {
    uhn_dataset *ds = open_file("f32.h5", UHN_OK, NULL);
    if (ds) {
        CHECK_INT(4, uhn_dataset_n(ds));
        CHECK_INT(1, uhn_dataset_channels(ds));
        CHECK_INT(6, uhn_dataset_k(ds));
        CHECK(!uhn_dataset_has_labels(ds));
        CHECK_INT(-1, uhn_dataset_label(ds, 0));
        const char *c = uhn_dataset_caption(ds, 2);
        CHECK(c && strcmp(c, "three") == 0);
        c = uhn_dataset_caption(ds, 3);
        CHECK(c && strcmp(c, "four!!!!") == 0);
        int64_t idx[2] = {3, 1};
        float x[12];
        expect("f32 rows", uhn_dataset_rows(ds, idx, 2, x), UHN_OK, NULL);
        for (int j = 0; j < 2; ++j)
            for (int p = 0; p < 6; ++p)
                CHECK_NEAR((float)((idx[j] + 1) * p / 32.0), x[j * 6 + p], 0);
        uhn_dataset_close(ds);
    }
    ds = open_file("f64bad.h5", UHN_OK, NULL);
    if (ds) {
        int64_t good[2] = {0, 1}, bad[2] = {1, 2};
        float x[8];
        expect("f64 good rows", uhn_dataset_rows(ds, good, 2, x), UHN_OK, NULL);
        CHECK_NEAR(0.5, x[7], 0);
        char want[1024];
        snprintf(want, sizeof want, "'%s/f64bad.h5': images[2] pixel 3 is 1.5, outside [0, 1]",
                 dir);
        expect("f64 out of range", uhn_dataset_rows(ds, bad, 2, x), UHN_EINPUT, want);
        uhn_dataset_close(ds);
    }
}

/* made.h5, written by postprocess/make_image_set.py from solid PNGs. */
static void test_made(void) {
    uhn_dataset *ds = open_file("made.h5", UHN_OK, NULL);
    if (!ds) return;
    CHECK_INT(3, uhn_dataset_n(ds));
    CHECK_INT(4, uhn_dataset_height(ds));
    CHECK_INT(6, uhn_dataset_width(ds));
    CHECK_INT(3, uhn_dataset_channels(ds));
    CHECK_INT(0, uhn_dataset_label(ds, 1));
    CHECK_INT(1, uhn_dataset_label(ds, 2));
    const char *c = uhn_dataset_caption(ds, 0);
    CHECK(c && strcmp(c, "an orange cat") == 0);
    c = uhn_dataset_caption(ds, 1);
    CHECK(c && c[0] == '\0');
    static const int colour[3][3] = {{200, 100, 50}, {10, 20, 30}, {0, 255, 128}};
    int64_t idx[3] = {2, 0, 1};
    float x[3 * 72];
    expect("made rows", uhn_dataset_rows(ds, idx, 3, x), UHN_OK, NULL);
    for (int j = 0; j < 3; ++j)
        for (int p = 0; p < 72; ++p)
            CHECK_NEAR((float)colour[idx[j]][p % 3] / 255.0f, x[j * 72 + p], 0);
    uhn_dataset_close(ds);
}

static void test_errors(void) {
    static const struct {
        const char *file, *msg; /* msg follows "'<dir>/<file>'" */
    } bad[] = {
        {"int16.h5", ": images have type int16; uint8, float32 or float64 is required"},
        {"rank2.h5", ": images must have shape [N][H][W][C] or [N][H][W], not 2 dimensions"},
        {"nlabels.h5", ": labels must have shape [5] (one per image)"},
        {"flabels.h5", ": labels have type float64; an integer type is required"},
        {"icaptions.h5", ": captions must be strings"},
        {"ncaptions.h5", ": captions must have shape [5] (one per image)"},
    };
    char want[1024];
    for (size_t b = 0; b < sizeof bad / sizeof bad[0]; ++b) {
        snprintf(want, sizeof want, "'%s/%s'%s", dir, bad[b].file, bad[b].msg);
        open_file(bad[b].file, UHN_EINPUT, want);
    }
    snprintf(want, sizeof want, "no dataset 'images' in '%s/noimages.h5' (its root holds: pixels)",
             dir);
    open_file("noimages.h5", UHN_EINPUT, want);
    snprintf(want, sizeof want, "'%s/text.h5' is not an HDF5 file", dir);
    open_file("text.h5", UHN_EINPUT, want);
    snprintf(want, sizeof want, "cannot open '%s/none.h5': No such file or directory", dir);
    open_file("none.h5", UHN_EINPUT, want);
    uhn_dataset *ds = NULL;
    expect("no file", uhn_dataset_open(ctx, "hdf5:", &ds), UHN_EINPUT,
           "data set 'hdf5:': no file named");
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    if (argc != 2 || uhn_ctx_create(MPI_COMM_WORLD, &ctx) != UHN_OK) {
        fprintf(stderr, "usage: test_imageset DIR\n");
        MPI_Finalize();
        return 1;
    }
    dir = argv[1];
    check_rank_ = ctx->rank;
    test_u8();
    test_float();
    test_made();
    test_errors();
    int rc = check_finish_mpi(ctx->comm, "test_imageset");
    uhn_ctx_destroy(ctx);
    MPI_Finalize();
    return rc;
}
