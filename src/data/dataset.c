/*
 * Data sets: the table of sources, the spec parser, the accessors and the
 * checked row reader shared by every source.
 */
#include <stdlib.h>
#include <string.h>

#include "core/fault.h"
#include "data/dataset_impl.h"

static const uhn_data_source sources[] = {
    {"fashion-mnist", uhn_fashion_mnist_open, uhn_fashion_mnist_rows, NULL,
     uhn_fashion_mnist_close},
    {"hdf5", uhn_imageset_open, uhn_imageset_rows, NULL, uhn_imageset_close},
    {"synthetic", uhn_synthetic_open, uhn_synthetic_rows, uhn_synthetic_label, uhn_synthetic_close},
};
#define NSOURCES (sizeof sources / sizeof sources[0])

int uhn_data_bcast(uhn_ctx *ctx, void *buf, int64_t bytes) {
    const int64_t piece = (int64_t)1 << 30;
    for (int64_t off = 0; off < bytes; off += piece) {
        int64_t len = bytes - off < piece ? bytes - off : piece;
        UHN_MPI(ctx, MPI_Bcast((char *)buf + off, (int)len, MPI_BYTE, 0, ctx->comm));
    }
    return UHN_OK;
}

/* Splits "name[:arg]" and finds the source; the spec is the same on every
 * rank, so this needs no agreement. */
static int find_source(uhn_ctx *ctx, const char *spec, const uhn_data_source **src,
                       const char **arg) {
    size_t len = strcspn(spec, ":");
    for (size_t i = 0; i < NSOURCES; ++i)
        if (strlen(sources[i].name) == len && strncmp(spec, sources[i].name, len) == 0) {
            *src = &sources[i];
            *arg = spec[len] == ':' ? spec + len + 1 : "";
            return UHN_OK;
        }
    return uhn_fail(ctx, UHN_EINPUT,
                    "data set '%s': unknown source '%.*s' (known: fashion-mnist, hdf5, synthetic)",
                    spec, (int)len, spec);
}

static int open_local(uhn_ctx *ctx, const char *spec, uhn_dataset *ds) {
    const char *arg = NULL;
    UHN_CALL(find_source(ctx, spec, &ds->src, &arg));
    ds->lo = 0.0f;
    ds->hi = 1.0f;
    return ds->src->open(ctx, arg, ds);
}

int uhn_dataset_open(uhn_ctx *ctx, const char *spec, uhn_dataset **out) {
    *out = NULL;
    uhn_dataset *ds = calloc(1, sizeof *ds);
    int st = UHN_OK;
    size_t len = strlen(spec) + 1;
    if (ds) ds->spec = malloc(len);
    if (ds && ds->spec) memcpy(ds->spec, spec, len);
    if (!ds || !ds->spec)
        st = uhn_fail(ctx, UHN_ENOMEM, "data set '%s': out of memory", spec);
    else
        ds->ctx = ctx;
    if (st == UHN_OK) st = open_local(ctx, spec, ds);
    st = uhn_agree(ctx, st);
    if (st != UHN_OK) {
        uhn_dataset_close(ds);
        return st;
    }
    *out = ds;
    return UHN_OK;
}

void uhn_dataset_close(uhn_dataset *ds) {
    if (!ds) return;
    if (ds->src && ds->src->close) ds->src->close(ds);
    free(ds->labels);
    free(ds->caption_off);
    free(ds->caption_buf);
    free(ds->spec);
    free(ds);
}

int64_t uhn_dataset_n(const uhn_dataset *ds) {
    return ds->n;
}
int64_t uhn_dataset_height(const uhn_dataset *ds) {
    return ds->h;
}
int64_t uhn_dataset_width(const uhn_dataset *ds) {
    return ds->w;
}
int64_t uhn_dataset_channels(const uhn_dataset *ds) {
    return ds->c;
}
int64_t uhn_dataset_k(const uhn_dataset *ds) {
    return ds->k;
}
const char *uhn_dataset_source(const uhn_dataset *ds) {
    return ds->src->name;
}
const char *uhn_dataset_spec(const uhn_dataset *ds) {
    return ds->spec;
}
void uhn_dataset_range(const uhn_dataset *ds, float *lo, float *hi) {
    *lo = ds->lo;
    *hi = ds->hi;
}

int uhn_dataset_has_labels(const uhn_dataset *ds) {
    return ds->labels != NULL || (ds->src->label && ds->src->label(ds, 0) >= 0);
}

int64_t uhn_dataset_label(const uhn_dataset *ds, int64_t i) {
    if (i < 0 || i >= ds->n) return -1;
    if (ds->labels) return ds->labels[i];
    return ds->src->label ? ds->src->label(ds, i) : -1;
}

const char *uhn_dataset_caption(const uhn_dataset *ds, int64_t i) {
    if (i < 0 || i >= ds->n || !ds->caption_off) return NULL;
    return ds->caption_buf + ds->caption_off[i];
}

int uhn_dataset_rows(const uhn_dataset *ds, const int64_t *index, int64_t count, float *out) {
    if (count < 0)
        return uhn_fail(ds->ctx, UHN_EINPUT, "data set '%s': negative row count %lld", ds->spec,
                        (long long)count);
    for (int64_t j = 0; j < count; ++j)
        if (index[j] < 0 || index[j] >= ds->n)
            return uhn_fail(ds->ctx, UHN_EINPUT,
                            "data set '%s': image index %lld is out of range [0, %lld)", ds->spec,
                            (long long)index[j], (long long)ds->n);
    if (count == 0) return UHN_OK;
    if (UHN_FAULT(ds->ctx, UHN_FAULT_DATA_ROWS))
        return uhn_fail(ds->ctx, UHN_EIO, "data set '%s': reading %lld rows failed", ds->spec,
                        (long long)count);
    return ds->src->rows(ds, index, count, out);
}
