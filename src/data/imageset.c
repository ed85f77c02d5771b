/*
 * The hdf5 source: a user's image set in the uhn layout (see uhn/dataset.h).
 * Shape, labels and captions are read by rank 0 and broadcast; the pixels stay
 * in the file, which every rank keeps open read-only, and each rank reads the
 * rows it asks for with one hyperslab selection (runs of consecutive indices
 * merged into blocks).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hdf5.h>

#include "data/dataset_impl.h"
#include "uhn/h5io.h"

/* How pixels are read: uint8 (scaled by 1/255) or floats, read in their own
 * precision so that the range check sees the stored value (a float64 1e300 is
 * reported as such, not as the Inf that float32 would make of it). */
typedef enum { PIX_U8, PIX_F32, PIX_F64 } pixel_kind;

typedef struct {
    char file[UHN_H5_PATH_MAX];
    pixel_kind kind;
    size_t esize; /* bytes of one pixel as read */
    hid_t fid, did;
} imageset_state;

/* Pixel types of `images` the layout allows (uhn_h5_info names). */
static const struct {
    const char *type;
    pixel_kind kind;
    size_t size; /* bytes of one pixel in memory */
} pixel_types[] = {{"uint8", PIX_U8, sizeof(uint8_t)},
                   {"float32", PIX_F32, sizeof(float)},
                   {"float64", PIX_F64, sizeof(double)}};

/* Opens the file read-only with h5io's one-rank file access list. */
static hid_t open_ro(const char *file) {
    hid_t fapl = (hid_t)uhn_h5_serial_fapl();
    hid_t fid = fapl < 0 ? H5I_INVALID_HID : H5Fopen(file, H5F_ACC_RDONLY, fapl);
    if (fapl >= 0) H5Pclose(fapl);
    return fid;
}

static void make_name(uhn_h5_name *n, const char *file, const char *dset) {
    memset(n, 0, sizeof *n);
    snprintf(n->file, sizeof n->file, "%s", file);
    snprintf(n->dataset, sizeof n->dataset, "%s", dset);
    snprintf(n->label, sizeof n->label, "%s:%s", file, dset);
}

/* Which optional datasets exist (rank 0). */
static int probe(uhn_ctx *ctx, const char *file, int have[2]) {
    static const char *names[2] = {"labels", "captions"};
    hid_t fid = open_ro(file);
    if (fid < 0) return uhn_fail(ctx, UHN_EINPUT, "cannot open '%s' as HDF5", file);
    for (int i = 0; i < 2; ++i) have[i] = H5Lexists(fid, names[i], H5P_DEFAULT) > 0;
    if (H5Fclose(fid) < 0) return uhn_fail(ctx, UHN_EIO, "closing '%s' failed", file);
    return UHN_OK;
}

static int read_labels(uhn_ctx *ctx, const char *file, uhn_dataset *ds) {
    uhn_h5_name n;
    uhn_h5_info info;
    make_name(&n, file, "labels");
    UHN_CALL(uhn_h5_info_get(ctx, &n, &info));
    if (info.rank != 1 || info.dims[0] != ds->n)
        return uhn_fail(ctx, UHN_EINPUT, "'%s': labels must have shape [%lld] (one per image)",
                        file, (long long)ds->n);
    if (strncmp(info.type, "int", 3) != 0 && strncmp(info.type, "uint", 4) != 0)
        return uhn_fail(ctx, UHN_EINPUT, "'%s': labels have type %s; an integer type is required",
                        file, info.type);
    ds->labels = malloc((size_t)ds->n * sizeof *ds->labels);
    int st = ds->labels ? UHN_OK : uhn_fail(ctx, UHN_ENOMEM, "'%s': out of memory", file);
    UHN_CALL(uhn_agree(ctx, st));
    return uhn_h5_read_all(ctx, &n, UHN_H5_INT32, ds->n, ds->labels);
}

/* Rank 0: reads the captions (variable- or fixed-length strings) into
 * ds->caption_off/caption_buf. */
static int captions_local(uhn_ctx *ctx, const char *file, uhn_dataset *ds) {
    int st = UHN_OK;
    hid_t fid = open_ro(file);
    hid_t did = fid < 0 ? -1 : H5Dopen2(fid, "captions", H5P_DEFAULT);
    hid_t ftype = did < 0 ? -1 : H5Dget_type(did), space = did < 0 ? -1 : H5Dget_space(did);
    hsize_t dims[2] = {0, 0};
    if (space < 0 || ftype < 0)
        st = uhn_fail(ctx, UHN_EINPUT, "'%s': cannot open dataset captions", file);
    else if (H5Tget_class(ftype) != H5T_STRING)
        st = uhn_fail(ctx, UHN_EINPUT, "'%s': captions must be strings", file);
    else if (H5Sget_simple_extent_ndims(space) != 1 ||
             H5Sget_simple_extent_dims(space, dims, NULL) < 0 || (int64_t)dims[0] != ds->n)
        st = uhn_fail(ctx, UHN_EINPUT, "'%s': captions must have shape [%lld] (one per image)",
                      file, (long long)ds->n);
    int vlen = st == UHN_OK && H5Tis_variable_str(ftype) > 0;
    size_t fsize = st == UHN_OK && !vlen ? H5Tget_size(ftype) + 1 : sizeof(char *);
    hid_t mtype = st == UHN_OK ? H5Tcopy(H5T_C_S1) : -1;
    char *raw = st == UHN_OK ? calloc((size_t)ds->n + 1, fsize) : NULL;
    if (st == UHN_OK && (mtype < 0 || !raw || H5Tset_size(mtype, vlen ? H5T_VARIABLE : fsize) < 0 ||
                         H5Tset_cset(mtype, H5Tget_cset(ftype)) < 0 ||
                         H5Dread(did, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw) < 0))
        st = uhn_fail(ctx, UHN_EINPUT, "'%s': cannot read captions", file);
    if (st == UHN_OK) {
        ds->caption_off = malloc(((size_t)ds->n + 1) * sizeof *ds->caption_off);
        int64_t total = 0;
        for (int64_t i = 0; i < ds->n; ++i) {
            const char *c = vlen ? ((char **)raw)[i] : raw + i * fsize;
            total += (int64_t)strlen(c ? c : "") + 1;
        }
        ds->caption_buf = malloc((size_t)total);
        if (!ds->caption_off || !ds->caption_buf)
            st = uhn_fail(ctx, UHN_ENOMEM, "'%s': out of memory for captions", file);
        for (int64_t i = 0, off = 0; st == UHN_OK && i < ds->n; ++i) {
            const char *c = vlen ? ((char **)raw)[i] : raw + i * fsize;
            ds->caption_off[i] = off;
            strcpy(ds->caption_buf + off, c ? c : "");
            off += (int64_t)strlen(c ? c : "") + 1;
            ds->caption_off[ds->n] = off;
        }
        if (vlen) H5Dvlen_reclaim(mtype, space, H5P_DEFAULT, raw);
    }
    free(raw);
    if (mtype >= 0) H5Tclose(mtype);
    if (ftype >= 0) H5Tclose(ftype);
    if (space >= 0) H5Sclose(space);
    if (did >= 0) H5Dclose(did);
    if (fid >= 0) H5Fclose(fid);
    return st;
}

static int read_captions(uhn_ctx *ctx, const char *file, uhn_dataset *ds) {
    int st = ctx->rank == 0 ? captions_local(ctx, file, ds) : UHN_OK;
    UHN_CALL(uhn_agree(ctx, st));
    int64_t total = ctx->rank == 0 ? ds->caption_off[ds->n] : 0;
    UHN_CALL(uhn_data_bcast(ctx, &total, sizeof total));
    if (ctx->rank != 0) {
        ds->caption_off = malloc(((size_t)ds->n + 1) * sizeof *ds->caption_off);
        ds->caption_buf = malloc((size_t)total);
        if (!ds->caption_off || !ds->caption_buf)
            st = uhn_fail(ctx, UHN_ENOMEM, "'%s': out of memory for captions", file);
    }
    UHN_CALL(uhn_agree(ctx, st));
    UHN_CALL(uhn_data_bcast(ctx, ds->caption_off, (ds->n + 1) * (int64_t)sizeof(int64_t)));
    return uhn_data_bcast(ctx, ds->caption_buf, total);
}

int uhn_imageset_open(uhn_ctx *ctx, const char *arg, uhn_dataset *ds) {
    if (!*arg) return uhn_fail(ctx, UHN_EINPUT, "data set 'hdf5:': no file named");
    imageset_state *s = calloc(1, sizeof *s);
    if (!s) return uhn_fail(ctx, UHN_ENOMEM, "data set '%s': out of memory", ds->spec);
    s->fid = s->did = H5I_INVALID_HID;
    ds->state = s;
    snprintf(s->file, sizeof s->file, "%s", arg);
    if (H5Eset_auto2(H5E_DEFAULT, NULL, NULL) < 0)
        return uhn_fail(ctx, UHN_EIO, "could not initialise the HDF5 library");
    uhn_h5_name n;
    uhn_h5_info info;
    make_name(&n, arg, "images");
    UHN_CALL(uhn_h5_info_get(ctx, &n, &info));
    if (info.rank != 3 && info.rank != 4)
        return uhn_fail(ctx, UHN_EINPUT,
                        "'%s': images must have shape [N][H][W][C] or [N][H][W], "
                        "not %d dimensions",
                        arg, info.rank);
    size_t t = 0, nt = sizeof pixel_types / sizeof pixel_types[0];
    while (t < nt && strcmp(pixel_types[t].type, info.type) != 0) ++t;
    if (t == nt)
        return uhn_fail(ctx, UHN_EINPUT,
                        "'%s': images have type %s; uint8, float32 or float64 "
                        "is required",
                        arg, info.type);
    s->kind = pixel_types[t].kind;
    s->esize = pixel_types[t].size;
    ds->n = info.dims[0];
    ds->h = info.dims[1];
    ds->w = info.dims[2];
    ds->c = info.rank == 4 ? info.dims[3] : 1;
    /* K = H·W·C without overflow (a chunked dataset may declare any extents),
     * at most the synthetic sets' 4e9, so that rows of K floats can be sized */
    int64_t hw = 0;
    if (__builtin_mul_overflow(ds->h, ds->w, &hw) || __builtin_mul_overflow(hw, ds->c, &ds->k) ||
        ds->k > 4000000000)
        return uhn_fail(ctx, UHN_EINPUT, "'%s': images of %lldx%lldx%lld pixels are too large", arg,
                        (long long)ds->h, (long long)ds->w, (long long)ds->c);
    if (ds->n == 0 || ds->k == 0) return uhn_fail(ctx, UHN_EINPUT, "'%s': images is empty", arg);
    int have[2] = {0, 0};
    int st = ctx->rank == 0 ? probe(ctx, arg, have) : UHN_OK;
    UHN_CALL(uhn_agree(ctx, st));
    UHN_MPI(ctx, MPI_Bcast(have, 2, MPI_INT, 0, ctx->comm));
    if (have[0]) UHN_CALL(read_labels(ctx, arg, ds));
    if (have[1]) UHN_CALL(read_captions(ctx, arg, ds));
    s->fid = open_ro(arg);
    s->did = s->fid < 0 ? H5I_INVALID_HID : H5Dopen2(s->fid, "images", H5P_DEFAULT);
    if (s->did < 0) st = uhn_fail(ctx, UHN_EINPUT, "'%s': cannot open images", arg);
    return uhn_agree(ctx, st);
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Reads the sorted distinct rows uniq[0..nu) into buf (nu x K, memory type mt). */
static int read_sorted(const uhn_dataset *ds, const imageset_state *s, const int64_t *uniq,
                       int64_t nu, hid_t mt, void *buf) {
    hid_t fs = H5Dget_space(s->did);
    hsize_t mdims[2] = {(hsize_t)nu, (hsize_t)ds->k};
    hid_t ms = H5Screate_simple(2, mdims, NULL);
    herr_t rc = fs < 0 || ms < 0 ? -1 : 0;
    for (int64_t a = 0; rc >= 0 && a < nu;) {
        int64_t b = a + 1;
        while (b < nu && uniq[b] == uniq[b - 1] + 1) ++b;
        hsize_t start[4] = {(hsize_t)uniq[a], 0, 0, 0};
        hsize_t count[4] = {(hsize_t)(b - a), (hsize_t)ds->h, (hsize_t)ds->w, (hsize_t)ds->c};
        rc = H5Sselect_hyperslab(fs, a == 0 ? H5S_SELECT_SET : H5S_SELECT_OR, start, NULL, count,
                                 NULL);
        a = b;
    }
    if (rc >= 0) rc = H5Dread(s->did, mt, ms, fs, H5P_DEFAULT, buf);
    if (fs >= 0) H5Sclose(fs);
    if (ms >= 0) H5Sclose(ms);
    if (rc < 0)
        return uhn_fail(ds->ctx, UHN_EIO, "'%s': reading %lld rows of images failed", s->file,
                        (long long)nu);
    return UHN_OK;
}

static int fill(const uhn_dataset *ds, const imageset_state *s, const int64_t *index, int64_t count,
                const int64_t *uniq, int64_t nu, const void *buf, float *out) {
    const int64_t k = ds->k;
    for (int64_t j = 0; j < count; ++j) {
        const int64_t *hit = bsearch(&index[j], uniq, (size_t)nu, sizeof *uniq, cmp_i64);
        int64_t u = hit - uniq;
        for (int64_t p = 0; p < k; ++p) {
            int64_t e = u * k + p;
            double v = s->kind == PIX_U8    ? (double)((float)((const uint8_t *)buf)[e] / 255.0f)
                       : s->kind == PIX_F32 ? (double)((const float *)buf)[e]
                                            : ((const double *)buf)[e];
            if (!(v >= 0.0 && v <= 1.0))
                return uhn_fail(ds->ctx, UHN_EINPUT,
                                "'%s': images[%lld] pixel %lld is %g, outside [0, 1]", s->file,
                                (long long)index[j], (long long)p, v);
            out[j * k + p] = (float)v;
        }
    }
    return UHN_OK;
}

int uhn_imageset_rows(const uhn_dataset *ds, const int64_t *index, int64_t count, float *out) {
    const imageset_state *s = ds->state;
    double t0 = uhn_wtime();
    int64_t *uniq = malloc((size_t)count * sizeof *uniq);
    if (!uniq) return uhn_fail(ds->ctx, UHN_ENOMEM, "'%s': out of memory", s->file);
    memcpy(uniq, index, (size_t)count * sizeof *uniq);
    qsort(uniq, (size_t)count, sizeof *uniq, cmp_i64);
    int64_t nu = 0;
    for (int64_t j = 0; j < count; ++j)
        if (nu == 0 || uniq[j] != uniq[nu - 1]) uniq[nu++] = uniq[j];
    size_t esize = s->esize;
    void *buf = malloc((size_t)(nu * ds->k) * esize);
    int st = buf ? UHN_OK : uhn_fail(ds->ctx, UHN_ENOMEM, "'%s': out of memory", s->file);
    if (st == UHN_OK)
        st = read_sorted(ds, s, uniq, nu,
                         s->kind == PIX_U8    ? H5T_NATIVE_UINT8
                         : s->kind == PIX_F32 ? H5T_NATIVE_FLOAT
                                              : H5T_NATIVE_DOUBLE,
                         buf);
    if (st == UHN_OK) st = fill(ds, s, index, count, uniq, nu, buf, out);
    free(buf);
    free(uniq);
    ds->ctx->timers.io += uhn_wtime() - t0;
    return st;
}

void uhn_imageset_close(uhn_dataset *ds) {
    imageset_state *s = ds->state;
    if (s && s->did >= 0) H5Dclose(s->did);
    if (s && s->fid >= 0) H5Fclose(s->fid);
    free(s);
    ds->state = NULL;
}
