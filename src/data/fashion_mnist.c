/*
 * The Fashion-MNIST source: the gzipped IDX files of Debian's
 * dataset-fashion-mnist, read by rank 0 and broadcast, kept as bytes (55 MB
 * for all 70,000 images) and scaled by 1/255 when rows are read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/dataset_impl.h"
#include "data/idx.h"

/* The file prefixes of each split, in the order their images are numbered. */
static const struct {
    const char *name;
    const char *parts[2];
} splits[] = {
    {"train", {"train", NULL}},
    {"test", {"t10k", NULL}},
    {"all", {"train", "t10k"}},
};

typedef struct {
    uint8_t *pixels; /* n x 784 */
} fmnist_state;

/* The class names of Fashion-MNIST's labels 0-9, as its authors give them. */
static const char *const class_names[10] = {"T-shirt/top", "Trouser",   "Pullover", "Dress",
                                            "Coat",        "Sandal",    "Shirt",    "Sneaker",
                                            "Bag",         "Ankle boot"};

/*
 * Fashion-MNIST has no captions; every image gets one from its class name and
 * its index in the data set ("Ankle boot 59999"), so that no two images of a
 * set share one (cross-stimulus memories, spec §13). With the split `all`
 * the index runs over the 70,000 images, test images from 60,000. Built on
 * every rank from the labels (2 MB for 70,000 images).
 */
static int make_captions(uhn_ctx *ctx, uhn_dataset *ds) {
    int64_t total = 0;
    char one[64];
    for (int64_t i = 0; i < ds->n; ++i)
        total += snprintf(one, sizeof one, "%s %lld", class_names[ds->labels[i]], (long long)i) + 1;
    ds->caption_off = malloc(((size_t)ds->n + 1) * sizeof *ds->caption_off);
    ds->caption_buf = malloc((size_t)total + 1);
    if (!ds->caption_off || !ds->caption_buf)
        return uhn_fail(ctx, UHN_ENOMEM, "fashion-mnist: out of memory for captions");
    int64_t off = 0;
    for (int64_t i = 0; i < ds->n; ++i) {
        ds->caption_off[i] = off;
        off += snprintf(ds->caption_buf + off, (size_t)(total + 1 - off), "%s %lld",
                        class_names[ds->labels[i]], (long long)i) +
               1;
    }
    ds->caption_off[ds->n] = off;
    return UHN_OK;
}

/* Reads one part (images and labels) and appends it to the state. */
static int read_part(uhn_ctx *ctx, const char *dir, const char *prefix, uhn_dataset *ds,
                     fmnist_state *s) {
    char ipath[4200], lpath[4200];
    snprintf(ipath, sizeof ipath, "%s/%s-images-idx3-ubyte.gz", dir, prefix);
    snprintf(lpath, sizeof lpath, "%s/%s-labels-idx1-ubyte.gz", dir, prefix);
    uhn_idx im, lb;
    UHN_CALL(uhn_idx_read(ctx, ipath, UHN_IDX_MAGIC_IMAGES, &im));
    int st = uhn_idx_read(ctx, lpath, UHN_IDX_MAGIC_LABELS, &lb);
    if (st == UHN_OK && (ds->n > 0 && (im.dims[1] != ds->h || im.dims[2] != ds->w)))
        st = uhn_fail(ctx, UHN_EINPUT, "'%s' holds %lldx%lld images, expected %lldx%lld", ipath,
                      (long long)im.dims[1], (long long)im.dims[2], (long long)ds->h,
                      (long long)ds->w);
    if (st == UHN_OK && lb.dims[0] != im.dims[0])
        st = uhn_fail(ctx, UHN_EINPUT, "'%s' holds %lld labels but '%s' holds %lld images", lpath,
                      (long long)lb.dims[0], ipath, (long long)im.dims[0]);
    for (int64_t i = 0; st == UHN_OK && i < lb.dims[0]; ++i)
        if (lb.data[i] > 9)
            st = uhn_fail(ctx, UHN_EINPUT, "'%s': label %lld is %d, expected 0-9", lpath,
                          (long long)i, lb.data[i]);
    int64_t n0 = ds->n, k = im.dims[1] * im.dims[2];
    if (st == UHN_OK && n0 == 0) { /* the first part's bytes as read: no copy of 47 MB */
        s->pixels = im.data, im.data = NULL;
    } else if (st == UHN_OK) {
        uint8_t *px = realloc(s->pixels, (size_t)((n0 + im.dims[0]) * k));
        if (px)
            s->pixels = px, memcpy(px + n0 * k, im.data, (size_t)(im.dims[0] * k));
        else
            st = uhn_fail(ctx, UHN_ENOMEM, "'%s': out of memory", ipath);
    }
    if (st == UHN_OK) {
        int32_t *labels = realloc(ds->labels, (size_t)(n0 + lb.dims[0]) * sizeof *labels);
        if (labels)
            ds->labels = labels;
        else
            st = uhn_fail(ctx, UHN_ENOMEM, "'%s': out of memory", lpath);
    }
    if (st == UHN_OK) {
        for (int64_t i = 0; i < lb.dims[0]; ++i) ds->labels[n0 + i] = lb.data[i];
        ds->n = n0 + im.dims[0];
        ds->h = im.dims[1];
        ds->w = im.dims[2];
    }
    uhn_idx_free(&im);
    uhn_idx_free(&lb);
    return st;
}

static int parse_arg(uhn_ctx *ctx, const char *arg, int *split, char *dir, size_t dirlen) {
    const char *at = strchr(arg, '@');
    size_t len = at ? (size_t)(at - arg) : strlen(arg);
    snprintf(dir, dirlen, "%s", at ? at + 1 : UHN_FASHION_MNIST_DIR);
    if (at && !at[1])
        return uhn_fail(ctx, UHN_EINPUT, "data set 'fashion-mnist:%s': empty directory after '@'",
                        arg);
    if (len == 0) {
        *split = 0;
        return UHN_OK;
    }
    for (size_t i = 0; i < sizeof splits / sizeof splits[0]; ++i)
        if (strlen(splits[i].name) == len && strncmp(arg, splits[i].name, len) == 0) {
            *split = (int)i;
            return UHN_OK;
        }
    return uhn_fail(ctx, UHN_EINPUT,
                    "data set 'fashion-mnist:%s': unknown split '%.*s' (train, test or all)", arg,
                    (int)len, arg);
}

static int open_root(uhn_ctx *ctx, int split, const char *dir, uhn_dataset *ds, fmnist_state *s) {
    for (int p = 0; p < 2 && splits[split].parts[p]; ++p)
        UHN_CALL(read_part(ctx, dir, splits[split].parts[p], ds, s));
    return UHN_OK;
}

int uhn_fashion_mnist_open(uhn_ctx *ctx, const char *arg, uhn_dataset *ds) {
    int split = 0;
    char dir[4096];
    UHN_CALL(parse_arg(ctx, arg, &split, dir, sizeof dir));
    fmnist_state *s = calloc(1, sizeof *s);
    if (!s) return uhn_fail(ctx, UHN_ENOMEM, "fashion-mnist: out of memory");
    ds->state = s;
    int st = ctx->rank == 0 ? open_root(ctx, split, dir, ds, s) : UHN_OK;
    UHN_CALL(uhn_agree(ctx, st));
    int64_t shape[3] = {ds->n, ds->h, ds->w};
    UHN_CALL(uhn_data_bcast(ctx, shape, sizeof shape));
    ds->n = shape[0];
    ds->h = shape[1];
    ds->w = shape[2];
    ds->c = 1;
    ds->k = ds->h * ds->w;
    if (ctx->rank != 0) {
        s->pixels = uhn_alloc((size_t)(ds->n * ds->k)); /* huge pages, as rank 0's */
        ds->labels = malloc((size_t)ds->n * sizeof *ds->labels);
        st = s->pixels && ds->labels ? UHN_OK
                                     : uhn_fail(ctx, UHN_ENOMEM, "fashion-mnist: out of memory");
    }
    UHN_CALL(uhn_agree(ctx, st));
    UHN_CALL(uhn_data_bcast(ctx, s->pixels, ds->n * ds->k));
    UHN_CALL(uhn_data_bcast(ctx, ds->labels, ds->n * (int64_t)sizeof *ds->labels));
    return uhn_agree(ctx, make_captions(ctx, ds));
}

int uhn_fashion_mnist_rows(const uhn_dataset *ds, const int64_t *index, int64_t count, float *out) {
    const fmnist_state *s = ds->state;
    for (int64_t j = 0; j < count; ++j) {
        const uint8_t *src = s->pixels + index[j] * ds->k;
        for (int64_t p = 0; p < ds->k; ++p) out[j * ds->k + p] = (float)src[p] / 255.0f;
    }
    return UHN_OK;
}

void uhn_fashion_mnist_close(uhn_dataset *ds) {
    fmnist_state *s = ds->state;
    if (s) uhn_free(s->pixels);
    free(s);
    ds->state = NULL;
}
