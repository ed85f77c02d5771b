/*
 * The model file of an encoder (spec §14): saving into a group of an open
 * writer, loading on rank 0 and broadcasting, so that every rank holds the
 * same bits.
 *
 * Every model has the common attributes (uhn_model, encoder, dim,
 * input_length, height, width, channels, whiten, seed, n_train, fit_seconds;
 * patch and codes where the entry uses them); the rest is the entry's: its
 * fixed arrays (ops->arrays, shapes from the encoder's sizes) and whatever its
 * save/load/bcast hooks store. Nothing here knows an encoder by name.
 *
 * Attributes are read here with HDF5 directly, on rank 0, because the I/O
 * module (h5io) has no attribute reader yet; datasets and the atomic writer
 * are h5io's.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <hdf5.h>

#include "encoders/encoder_impl.h"

/* ------------------------------------------------------------------------ */
/* Writing                                                                  */

void enc_out_path(const enc_out *o, const char *leaf, char *buf, size_t len) {
    int root = !strcmp(o->group, "/");
    if (!leaf || !leaf[0] || !strcmp(leaf, "/"))
        snprintf(buf, len, "%s", o->group);
    else
        snprintf(buf, len, "%s%s%s", root ? "" : o->group, root ? "" : "/", leaf);
}

int enc_out_dataset(const enc_out *o, const char *leaf, uhn_h5_type type, int rank,
                    const int64_t *dims, const void *data, const char *description,
                    const char *units, const char *axes) {
    char path[UHN_H5_PATH_MAX + 64];
    enc_out_path(o, leaf, path, sizeof path);
    uhn_h5_dataset d = {path, type, rank, {0}, data, description, units, axes};
    for (int i = 0; i < rank; ++i) d.dims[i] = dims[i];
    return uhn_h5_write_dataset(o->w, &d);
}

int enc_out_group(const enc_out *o, const char *leaf) {
    char path[UHN_H5_PATH_MAX + 64];
    enc_out_path(o, leaf, path, sizeof path);
    return uhn_h5_write_group(o->w, path);
}

int enc_out_attr_int(const enc_out *o, const char *leaf, const char *name, int64_t v) {
    char path[UHN_H5_PATH_MAX + 64];
    enc_out_path(o, leaf, path, sizeof path);
    return uhn_h5_attr_int64(o->w, path, name, v);
}

int enc_out_attr_double(const enc_out *o, const char *leaf, const char *name, double v) {
    char path[UHN_H5_PATH_MAX + 64];
    enc_out_path(o, leaf, path, sizeof path);
    return uhn_h5_attr_double(o->w, path, name, v);
}

int enc_out_attr_string(const enc_out *o, const char *leaf, const char *name, const char *v) {
    char path[UHN_H5_PATH_MAX + 64];
    enc_out_path(o, leaf, path, sizeof path);
    return uhn_h5_attr_string(o->w, path, name, v);
}

/* Creates group `path` and its missing parents in the writer's file. */
static int make_groups(uhn_h5_writer *w, const char *path) {
    hid_t fid = (hid_t)uhn_h5_writer_fid(w);
    char buf[UHN_H5_PATH_MAX];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *c = buf + 1;; ++c) {
        if (*c != '/' && *c != '\0') continue;
        char keep = *c;
        *c = '\0';
        if (H5Lexists(fid, buf, H5P_DEFAULT) <= 0) UHN_CALL(uhn_h5_write_group(w, buf));
        *c = keep;
        if (!keep) return UHN_OK;
    }
}

static double *const *array_slot(const uhn_encoder *e, const enc_array *a) {
    return (double *const *)((const char *)e + a->field);
}

int uhn_encoder_save(const uhn_encoder *e, uhn_h5_writer *w, const char *group) {
    const uhn_encoder_ops *ops = e->ops;
    int root = !group || !strcmp(group, "/") || !group[0];
    const enc_out out = {w, root ? "/" : group};
    if (!root) UHN_CALL(make_groups(w, out.group));
    UHN_CALL(enc_out_attr_string(&out, "", "uhn_model", UHN_MODEL_MARKER));
    UHN_CALL(enc_out_attr_string(&out, "", "encoder", ops->name));
    const struct {
        const char *name;
        int64_t value;
    } ints[] = {
        {"dim", e->D},
        {"input_length", e->K},
        {"height", e->cfg.height},
        {"width", e->cfg.width},
        {"channels", e->cfg.channels},
        {"whiten", e->cfg.whiten},
        {"seed", (int64_t)e->cfg.seed},
        {"n_train", e->n_train},
        {"patch", e->cfg.patch}, /* these two where the entry uses them */
        {"codes", e->cfg.codes},
    };
    size_t nints = sizeof ints / sizeof ints[0] - ((ops->flags & ENC_USES_PATCH) ? 0 : 2);
    for (size_t i = 0; i < nints; ++i)
        UHN_CALL(enc_out_attr_int(&out, "", ints[i].name, ints[i].value));
    UHN_CALL(enc_out_attr_double(&out, "", "fit_seconds", e->fit_seconds));
    for (int i = 0; i < ops->narrays; ++i) {
        const enc_array *a = &ops->arrays[i];
        int64_t dims[2] = {uhn_encoder_extent(e, a->dims[0]), uhn_encoder_extent(e, a->dims[1])};
        UHN_CALL(enc_out_dataset(&out, a->name, UHN_H5_FLOAT64, a->rank, dims, *array_slot(e, a),
                                 a->description, a->units, a->axes));
    }
    if (ops->save) UHN_CALL(ops->save(e, &out));
    /* Every array names its dimensions (`axes`): index scales label them for
     * xarray, in this group and its subgroups (mlp's layers). */
    static const uhn_h5_axis axes[] = {
        {"pixel", "index of the input pixel value, row-major H, W, C"},
        {"component", "index of the code component"},
        {"code", "index of the codebook entry"},
        {"patch_value", "index of the value in a p x p x C patch, row-major"},
        {"output", "index of the layer's output unit"},
        {"input", "index of the layer's input unit"},
    };
    return uhn_h5_label_axes(w, out.group, axes, sizeof axes / sizeof axes[0]);
}

/* ------------------------------------------------------------------------ */
/* Reading (rank 0)                                                         */

int enc_in_fail(const enc_in *in, const char *fmt, ...) {
    char what[UHN_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return uhn_fail(in->ctx, UHN_EINPUT, "%s: model file '%s': %s", in->role, in->path, what);
}

/* 1 when every link of `object`'s path exists (H5Lexists needs the parents). */
int enc_in_exists(const enc_in *in, const char *object) {
    char buf[UHN_H5_PATH_MAX];
    snprintf(buf, sizeof buf, "%s", object);
    for (char *c = buf + 1;; ++c) {
        if (*c != '/' && *c != '\0') continue;
        char keep = *c;
        *c = '\0';
        if (H5Lexists((hid_t)in->fid, buf, H5P_DEFAULT) <= 0) return 0;
        *c = keep;
        if (!keep) return H5Oexists_by_name((hid_t)in->fid, buf, H5P_DEFAULT) > 0;
    }
}

int enc_in_is_group(const enc_in *in, const char *object) {
    if (!enc_in_exists(in, object)) return 0;
    hid_t o = H5Oopen((hid_t)in->fid, object, H5P_DEFAULT);
    if (o < 0) return 0;
    int group = H5Iget_type(o) == H5I_GROUP;
    H5Oclose(o);
    return group;
}

/* An attribute of `object`, opened (or -1 when absent). */
static hid_t attr_open(const enc_in *in, const char *object, const char *name) {
    if (strcmp(object, "/") && !enc_in_exists(in, object)) return -1;
    if (H5Aexists_by_name((hid_t)in->fid, object, name, H5P_DEFAULT) <= 0) return -1;
    return H5Aopen_by_name((hid_t)in->fid, object, name, H5P_DEFAULT, H5P_DEFAULT);
}

/* A scalar numeric attribute of one element as the memory type. */
static int attr_read_number(const enc_in *in, const char *object, const char *name, hid_t mt,
                            void *v) {
    hid_t a = attr_open(in, object, name);
    if (a < 0) return -1;
    hid_t ft = H5Aget_type(a), sp = H5Aget_space(a);
    H5T_class_t c = ft >= 0 ? H5Tget_class(ft) : H5T_NO_CLASS;
    int ok = (c == H5T_INTEGER || c == H5T_FLOAT) && sp >= 0 &&
             H5Sget_simple_extent_npoints(sp) == 1 && H5Aread(a, mt, v) >= 0;
    if (sp >= 0) H5Sclose(sp);
    if (ft >= 0) H5Tclose(ft);
    H5Aclose(a);
    return ok ? 0 : -1;
}

int enc_in_attr_int(const enc_in *in, const char *object, const char *name, int64_t *v) {
    return attr_read_number(in, object, name, H5T_NATIVE_INT64, v);
}

int enc_in_attr_double(const enc_in *in, const char *object, const char *name, double *v) {
    return attr_read_number(in, object, name, H5T_NATIVE_DOUBLE, v);
}

int enc_in_attr_string(const enc_in *in, const char *object, const char *name, char *buf,
                       size_t len) {
    hid_t a = attr_open(in, object, name), ft = a >= 0 ? H5Aget_type(a) : -1;
    int rc = -1;
    if (ft >= 0 && H5Tget_class(ft) == H5T_STRING) {
        if (H5Tis_variable_str(ft) > 0) {
            hid_t mt = H5Tcopy(H5T_C_S1);
            char *s = NULL;
            H5Tset_size(mt, H5T_VARIABLE);
            H5Tset_cset(mt, H5Tget_cset(ft));
            if (H5Aread(a, mt, &s) >= 0 && s) {
                snprintf(buf, len, "%s", s);
                H5free_memory(s);
                rc = 0;
            }
            H5Tclose(mt);
        } else {
            size_t n = H5Tget_size(ft);
            char *s = calloc(n + 1, 1);
            hid_t mt = H5Tcopy(H5T_C_S1);
            H5Tset_size(mt, n + 1);
            if (s && H5Aread(a, mt, s) >= 0) {
                snprintf(buf, len, "%s", s);
                rc = 0;
            }
            free(s);
            H5Tclose(mt);
        }
    }
    if (ft >= 0) H5Tclose(ft);
    if (a >= 0) H5Aclose(a);
    return rc;
}

int enc_in_shape(const enc_in *in, const char *name, int *rank, int64_t dims[2]) {
    if (!enc_in_exists(in, name))
        return uhn_fail(in->ctx, UHN_EINPUT, "%s: model file '%s' lacks the dataset '%s'", in->role,
                        in->path, name);
    hid_t d = H5Dopen2((hid_t)in->fid, name, H5P_DEFAULT), sp = d >= 0 ? H5Dget_space(d) : -1;
    hsize_t got[H5S_MAX_RANK] = {0};
    int r = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
    if (r >= 0) H5Sget_simple_extent_dims(sp, got, NULL);
    if (sp >= 0) H5Sclose(sp);
    if (d >= 0) H5Dclose(d);
    if (r < 0) return enc_in_fail(in, "'%s' is not a readable dataset", name);
    *rank = r;
    dims[0] = r > 0 ? (int64_t)got[0] : 1;
    dims[1] = r > 1 ? (int64_t)got[1] : 1;
    return UHN_OK;
}

int enc_in_array(const enc_in *in, const char *name, uhn_h5_type type, int rank,
                 const int64_t *dims, void **out) {
    int r = 0;
    int64_t got[2];
    UHN_CALL(enc_in_shape(in, name, &r, got));
    int ok = r == rank;
    for (int i = 0; ok && i < rank; ++i) ok = got[i] == dims[i];
    if (!ok) {
        char want[64];
        if (rank == 2)
            snprintf(want, sizeof want, "[%lld][%lld]", (long long)dims[0], (long long)dims[1]);
        else
            snprintf(want, sizeof want, "[%lld]", (long long)dims[0]);
        return enc_in_fail(in, "dataset '%s' does not have the shape %s that its attributes give",
                           name, want);
    }
    size_t count = 1;
    for (int i = 0; i < rank; ++i) count *= (size_t)dims[i];
    int is_int = type == UHN_H5_INT64;
    void *buf = malloc((count ? count : 1) * (is_int ? sizeof(int64_t) : sizeof(double)));
    if (!buf) return uhn_fail(in->ctx, UHN_ENOMEM, "out of memory reading '%s'", in->path);
    hid_t d = H5Dopen2((hid_t)in->fid, name, H5P_DEFAULT), ft = d >= 0 ? H5Dget_type(d) : -1;
    H5T_class_t c = ft >= 0 ? H5Tget_class(ft) : H5T_NO_CLASS;
    int st = UHN_OK;
    if ((c != H5T_INTEGER && c != H5T_FLOAT) || (is_int && c != H5T_INTEGER) ||
        H5Dread(d, is_int ? H5T_NATIVE_INT64 : H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                buf) < 0)
        st = enc_in_fail(in, "dataset '%s' cannot be read as %s", name,
                         is_int ? "integers" : "numbers");
    for (size_t i = 0; st == UHN_OK && !is_int && i < count; ++i)
        if (!isfinite(((double *)buf)[i]))
            st = enc_in_fail(in, "dataset '%s' has a non-finite value at element %zu", name, i);
    if (ft >= 0) H5Tclose(ft);
    if (d >= 0) H5Dclose(d);
    if (st != UHN_OK) {
        free(buf);
        return st;
    }
    *out = buf;
    return UHN_OK;
}

/* What rank 0 reads and broadcasts. */
typedef struct model_head {
    char name[64];
    int64_t dim, k, height, width, channels, whiten, seed, n_train, patch, codes;
    double fit_seconds;
} model_head;

/* The configuration a head gives. */
static uhn_encoder_config head_config(const uhn_encoder_ops *ops, const model_head *h) {
    uhn_encoder_config cfg = {ops->name, h->dim,      (int)h->whiten, (uint64_t)h->seed, h->height,
                              h->width,  h->channels, h->patch,       h->codes};
    return cfg;
}

/* Rank 0: the common attributes of an open model file, checked, into h. */
static int read_head(const enc_in *in, model_head *h, const uhn_encoder_ops **ops_out) {
    uhn_ctx *ctx = in->ctx;
    char marker[64] = "";
    if (enc_in_attr_string(in, "/", "uhn_model", marker, sizeof marker) != 0 ||
        strcmp(marker, UHN_MODEL_MARKER) != 0)
        return uhn_fail(ctx, UHN_EINPUT,
                        "%s: '%s' is not a uhn encoder model (no attribute uhn_model = \"%s\"; "
                        "make one with uhn encode fit)",
                        in->role, in->path, UHN_MODEL_MARKER);
    if (enc_in_attr_string(in, "/", "encoder", h->name, sizeof h->name) != 0)
        return uhn_fail(ctx, UHN_EINPUT, "%s: model file '%s' lacks the attribute 'encoder'",
                        in->role, in->path);
    const uhn_encoder_ops *ops = uhn_encoder_find(h->name);
    if (!ops)
        return uhn_fail(ctx, UHN_EINPUT,
                        "%s: model file '%s' names encoder '%s', which this uhn does not have",
                        in->role, in->path, h->name);
    const struct {
        const char *name;
        int64_t *v;
    } ints[] = {{"dim", &h->dim},     {"input_length", &h->k},    {"height", &h->height},
                {"width", &h->width}, {"channels", &h->channels}, {"whiten", &h->whiten},
                {"seed", &h->seed},   {"n_train", &h->n_train},   {"patch", &h->patch},
                {"codes", &h->codes}};
    size_t nints = sizeof ints / sizeof ints[0] - ((ops->flags & ENC_USES_PATCH) ? 0 : 2);
    for (size_t i = 0; i < nints; ++i)
        if (enc_in_attr_int(in, "/", ints[i].name, ints[i].v) != 0)
            return uhn_fail(ctx, UHN_EINPUT, "%s: model file '%s' lacks the integer attribute '%s'",
                            in->role, in->path, ints[i].name);
    if (enc_in_attr_double(in, "/", "fit_seconds", &h->fit_seconds) != 0) h->fit_seconds = 0;
    uhn_encoder_config cfg = head_config(ops, h);
    /* H·W·C without overflow: the attributes are the file's, of any value */
    int64_t hw = 0, hwc = 0;
    int shape_bad = __builtin_mul_overflow(h->height, h->width, &hw) ||
                    __builtin_mul_overflow(hw, h->channels, &hwc) || hwc != h->k;
    if (shape_bad || uhn_encoder_check(ctx, &cfg) != UHN_OK || (h->whiten != 0 && h->whiten != 1)) {
        char extra[96] = "";
        if (ops->flags & ENC_USES_PATCH)
            snprintf(extra, sizeof extra, ", patch %lld, codes %lld", (long long)h->patch,
                     (long long)h->codes);
        return uhn_fail(ctx, UHN_EINPUT,
                        "%s: model file '%s' has inconsistent attributes (encoder %s, dim %lld, "
                        "input_length %lld, shape %lldx%lldx%lld, whiten %lld%s)",
                        in->role, in->path, h->name, (long long)h->dim, (long long)h->k,
                        (long long)h->height, (long long)h->width, (long long)h->channels,
                        (long long)h->whiten, extra);
    }
    *ops_out = ops;
    return UHN_OK;
}

/* Rank 0: the model file into h and a new encoder *out. */
static int load_local(uhn_ctx *ctx, const char *path, const char *role, model_head *h,
                      uhn_encoder **out) {
    struct stat sb;
    if (stat(path, &sb) != 0)
        return uhn_fail(ctx, UHN_EINPUT, "%s: cannot open '%s': %s", role, path, strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return uhn_fail(ctx, UHN_EINPUT, "%s: '%s' is not a regular file", role, path);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t fapl = (hid_t)uhn_h5_serial_fapl();
    hid_t fid = fapl >= 0 ? H5Fopen(path, H5F_ACC_RDONLY, fapl) : -1;
    if (fapl >= 0) H5Pclose(fapl);
    if (fid < 0)
        return uhn_fail(ctx, UHN_EINPUT, "%s: '%s' is not an HDF5 file (or cannot be read)", role,
                        path);
    const enc_in in = {ctx, (int64_t)fid, path, role};
    const uhn_encoder_ops *ops = NULL;
    uhn_encoder *e = NULL;
    int st = read_head(&in, h, &ops);
    if (st == UHN_OK) {
        uhn_encoder_config cfg = head_config(ops, h);
        st = uhn_encoder_new(ctx, ops, &cfg, &e);
    }
    for (int i = 0; st == UHN_OK && i < ops->narrays; ++i) {
        const enc_array *a = &ops->arrays[i];
        int64_t dims[2] = {uhn_encoder_extent(e, a->dims[0]), uhn_encoder_extent(e, a->dims[1])};
        void *buf = NULL;
        st = enc_in_array(&in, a->name, UHN_H5_FLOAT64, a->rank, dims, &buf);
        if (st == UHN_OK) *(double **)((char *)e + a->field) = buf;
    }
    if (st == UHN_OK && ops->load) st = ops->load(&in, e);
    if (H5Fclose(fid) < 0 && st == UHN_OK)
        st = uhn_fail(ctx, UHN_EIO, "%s: closing '%s' failed", role, path);
    if (st != UHN_OK) {
        uhn_encoder_destroy(e);
        return st;
    }
    *out = e;
    return UHN_OK;
}

int uhn_encoder_load(uhn_ctx *ctx, const char *path, const char *role, uhn_encoder **out) {
    *out = NULL;
    model_head h;
    memset(&h, 0, sizeof h);
    uhn_encoder *e = NULL;
    double t0 = uhn_wtime();
    int st = ctx->rank == 0 ? load_local(ctx, path, role, &h, &e) : UHN_OK;
    st = uhn_agree(ctx, st);
    ctx->timers.io += uhn_wtime() - t0;
    if (st == UHN_OK && MPI_Bcast(&h, (int)sizeof h, MPI_BYTE, 0, ctx->comm) != MPI_SUCCESS)
        st = uhn_fail(ctx, UHN_EMPI, "MPI_Bcast of the model failed");
    st = uhn_agree(ctx, st);
    if (st == UHN_OK && ctx->rank != 0) {
        const uhn_encoder_ops *ops = uhn_encoder_find(h.name);
        uhn_encoder_config cfg = head_config(ops, &h);
        st = uhn_encoder_new(ctx, ops, &cfg, &e);
    }
    st = uhn_agree(ctx, st);
    if (st == UHN_OK) {
        e->n_train = h.n_train;
        e->fit_seconds = h.fit_seconds;
        for (int i = 0; st == UHN_OK && i < e->ops->narrays; ++i) {
            const enc_array *a = &e->ops->arrays[i];
            int64_t n = uhn_encoder_extent(e, a->dims[0]) *
                        (a->rank == 2 ? uhn_encoder_extent(e, a->dims[1]) : 1);
            st = uhn_encoder_bcast_new(ctx, (void **)((char *)e + a->field), n, sizeof(double),
                                       MPI_DOUBLE);
        }
        if (st == UHN_OK && e->ops->bcast) st = e->ops->bcast(ctx, e);
        if (st == UHN_OK && e->ops->prepare) st = e->ops->prepare(ctx, e);
        st = uhn_agree(ctx, st);
    }
    if (st != UHN_OK) {
        uhn_encoder_destroy(e);
        return st;
    }
    *out = e;
    return UHN_OK;
}
