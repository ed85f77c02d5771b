/*
 * The encoder table and what every encoder shares: configuration checks, the
 * fit and row-by-row encode/decode dispatch, and the model file (spec §14).
 *
 * Model attributes are read here with HDF5 directly, on rank 0, because the
 * I/O module (h5io) has no attribute reader yet; datasets and the atomic writer
 * are h5io's. Everything rank 0 reads is broadcast, so every rank holds the
 * same bits.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <hdf5.h>

#include "encoders/encoder_impl.h"

/* ------------------------------------------------------------------------ */
/* The table                                                                */

static const uhn_encoder_ops *const table[] = {
    &uhn_encoder_identity,
    &uhn_encoder_centred,
    &uhn_encoder_pca,
    &uhn_encoder_random,
};
enum { NENCODERS = sizeof table / sizeof table[0] };

int uhn_encoder_count(void) {
    return NENCODERS;
}
const char *uhn_encoder_name_at(int i) {
    return i >= 0 && i < NENCODERS ? table[i]->name : NULL;
}
const char *uhn_encoder_help_at(int i) {
    return i >= 0 && i < NENCODERS ? table[i]->help : NULL;
}

static const uhn_encoder_ops *find(const char *name) {
    for (int i = 0; name && i < NENCODERS; ++i)
        if (!strcmp(table[i]->name, name)) return table[i];
    return NULL;
}

int uhn_encoder_check(uhn_ctx *ctx, const uhn_encoder_config *cfg) {
    /* Named in the spec, not built yet: say so rather than "unknown". */
    static const char *const planned[] = {"vq", "mlp"};
    const uhn_encoder_ops *ops = find(cfg->name);
    for (size_t i = 0; !ops && cfg->name && i < sizeof planned / sizeof planned[0]; ++i)
        if (!strcmp(cfg->name, planned[i]))
            return uhn_fail_param(ctx, UHN_EINPUT, "encoder",
                                  "encoder '%s' is not yet available in this uhn (available: "
                                  "identity, centred, pca, random)",
                                  cfg->name);
    if (!ops) {
        char list[256] = "";
        for (int i = 0; i < NENCODERS; ++i) {
            strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
            strncat(list, table[i]->name, sizeof list - strlen(list) - 1);
        }
        return uhn_fail_param(ctx, UHN_EINPUT, "encoder", "encoder '%s' is unknown (valid: %s)",
                              cfg->name ? cfg->name : "", list);
    }
    if (cfg->whiten && !(ops->flags & ENC_USES_WHITEN))
        return uhn_fail_param(ctx, UHN_EINPUT, "whiten",
                              "whiten applies to encoder pca only (encoder is %s)", ops->name);
    if ((ops->flags & ENC_USES_DIM) && cfg->dim == 0)
        return uhn_fail_param(ctx, UHN_EINPUT, "dim", "dim is required for encoder %s", ops->name);
    int64_t K = cfg->height * cfg->width * cfg->channels;
    if (!cfg->height && !cfg->width && !cfg->channels) return UHN_OK; /* shape not known yet */
    if (cfg->height < 1 || cfg->width < 1 || cfg->channels < 1)
        return uhn_fail(ctx, UHN_EINPUT, "image shape %lldx%lldx%lld is empty",
                        (long long)cfg->height, (long long)cfg->width, (long long)cfg->channels);
    if (ops->flags & ENC_USES_DIM) {
        if (cfg->dim == 0)
            return uhn_fail_param(ctx, UHN_EINPUT, "dim",
                                  "dim is required for encoder %s (1 <= D <= K = %lld)", ops->name,
                                  (long long)K);
        if (cfg->dim < 1 || cfg->dim > K)
            return uhn_fail_param(ctx, UHN_EINPUT, "dim",
                                  "dim must be from 1 to K = %lld, the pixels per image, for "
                                  "encoder %s (got %lld)",
                                  (long long)K, ops->name, (long long)cfg->dim);
    } else if (cfg->dim != 0 && cfg->dim != K) {
        return uhn_fail_param(ctx, UHN_EINPUT, "dim",
                              "dim is K = %lld for encoder %s, which keeps every pixel (got %lld)",
                              (long long)K, ops->name, (long long)cfg->dim);
    }
    return UHN_OK;
}

int64_t uhn_encoder_fit_block(int64_t n_total, int ranks) {
    int64_t b = ranks > 0 ? (n_total + ranks - 1) / ranks : n_total;
    return b > 0 ? b : 1;
}

/* A new encoder for cfg with K and D set and no arrays. */
static int encoder_new(uhn_ctx *ctx, const uhn_encoder_ops *ops, const uhn_encoder_config *cfg,
                       uhn_encoder **out) {
    uhn_encoder *e = calloc(1, sizeof *e);
    if (!e) return uhn_fail(ctx, UHN_ENOMEM, "out of memory for an encoder");
    e->ops = ops;
    e->cfg = *cfg;
    e->cfg.name = ops->name;
    e->K = cfg->height * cfg->width * cfg->channels;
    e->D = (ops->flags & ENC_USES_DIM) ? cfg->dim : e->K;
    e->cfg.dim = e->D;
    if (!(ops->flags & ENC_USES_SEED)) e->cfg.seed = 0;
    *out = e;
    return UHN_OK;
}

int uhn_encoder_fit(uhn_ctx *ctx, const uhn_encoder_config *cfg, const float *x, int64_t n_local,
                    int64_t n_total, uhn_encoder **out) {
    *out = NULL;
    UHN_CALL(uhn_agree(ctx, uhn_encoder_check(ctx, cfg)));
    uhn_encoder *e = NULL;
    UHN_CALL(uhn_agree(ctx, encoder_new(ctx, find(cfg->name), cfg, &e)));
    double t0 = uhn_wtime();
    int st = UHN_OK;
    if (e->ops->fit) st = e->ops->fit(ctx, e, x, n_local, n_total);
    if (st == UHN_OK && e->ops->prepare) st = e->ops->prepare(ctx, e);
    st = uhn_agree(ctx, st);
    if (st != UHN_OK) {
        uhn_encoder_destroy(e);
        return st;
    }
    /* The fit time of rank 0, so that every rank's model is the same. */
    e->fit_seconds = uhn_wtime() - t0;
    ctx->timers.compute += e->fit_seconds;
    UHN_MPI(ctx, MPI_Bcast(&e->fit_seconds, 1, MPI_DOUBLE, 0, ctx->comm));
    e->n_train = n_total;
    *out = e;
    return UHN_OK;
}

/* One row's float64 scratch of K + D values, allocated once per call. */
static double *work_alloc(const uhn_encoder *e) {
    return malloc((size_t)(e->K + e->D) * sizeof(double));
}

int uhn_encoder_encode(uhn_ctx *ctx, const uhn_encoder *e, const float *x, int64_t n,
                       float *codes) {
    double *work = work_alloc(e);
    if (!work) return uhn_fail(ctx, UHN_ENOMEM, "out of memory for the encoder's scratch");
    for (int64_t i = 0; i < n; ++i)
        e->ops->encode(e, x + (size_t)(i * e->K), codes + (size_t)(i * e->D), work);
    free(work);
    return UHN_OK;
}

int uhn_encoder_decode(uhn_ctx *ctx, const uhn_encoder *e, const float *codes, int64_t n,
                       float *x) {
    double *work = work_alloc(e);
    if (!work) return uhn_fail(ctx, UHN_ENOMEM, "out of memory for the encoder's scratch");
    for (int64_t i = 0; i < n; ++i)
        e->ops->decode(e, codes + (size_t)(i * e->D), x + (size_t)(i * e->K), work);
    free(work);
    return UHN_OK;
}

const char *uhn_encoder_name(const uhn_encoder *e) {
    return e->ops->name;
}
int64_t uhn_encoder_dim(const uhn_encoder *e) {
    return e->D;
}
int64_t uhn_encoder_k(const uhn_encoder *e) {
    return e->K;
}
const uhn_encoder_config *uhn_encoder_config_of(const uhn_encoder *e) {
    return &e->cfg;
}
int64_t uhn_encoder_n_train(const uhn_encoder *e) {
    return e->n_train;
}
double uhn_encoder_fit_seconds(const uhn_encoder *e) {
    return e->fit_seconds;
}

const double *uhn_encoder_mean(const uhn_encoder *e) {
    return e->mean;
}
const double *uhn_encoder_components(const uhn_encoder *e) {
    return e->components;
}
const double *uhn_encoder_variances(const uhn_encoder *e) {
    return e->variances;
}

void uhn_encoder_destroy(uhn_encoder *e) {
    if (!e) return;
    free(e->mean);
    free(e->components);
    free(e->variances);
    free(e->scale);
    free(e->proj);
    free(e->pinv);
    free(e);
}

/* ------------------------------------------------------------------------ */
/* Shared numerics                                                          */

double uhn_encoder_dot(const double *a, const double *b, int64_t n) {
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int64_t k = 0;
    for (; k + 4 <= n; k += 4) {
        s0 += a[k] * b[k];
        s1 += a[k + 1] * b[k + 1];
        s2 += a[k + 2] * b[k + 2];
        s3 += a[k + 3] * b[k + 3];
    }
    for (; k < n; ++k) s0 += a[k] * b[k];
    return (s0 + s1) + (s2 + s3);
}

/* 2^32: a pixel in [0, 1] becomes at most 2^32 units, so 2^31 rows fit int64. */
#define MEAN_UNITS 4294967296.0

int uhn_encoder_fit_mean(uhn_ctx *ctx, uhn_encoder *e, const float *x, int64_t n_local,
                         int64_t n_total) {
    int64_t K = e->K;
    int st = UHN_OK;
    int64_t *local = calloc((size_t)K, sizeof *local), *sum = calloc((size_t)K, sizeof *sum);
    e->mean = malloc((size_t)K * sizeof *e->mean);
    if (!local || !sum || !e->mean) st = uhn_fail(ctx, UHN_ENOMEM, "out of memory for the mean");
    if (st == UHN_OK && n_total > ((int64_t)1 << 31))
        st = uhn_fail(ctx, UHN_EINPUT, "more than 2^31 training rows (%lld)", (long long)n_total);
    st = uhn_agree(ctx, st);
    if (st == UHN_OK) {
        /* Integer sums are associative: the same bits for any split of rows. */
        for (int64_t i = 0; i < n_local; ++i)
            for (int64_t k = 0; k < K; ++k)
                local[k] += (int64_t)llround((double)x[i * K + k] * MEAN_UNITS);
        if (MPI_Allreduce(local, sum, (int)K, MPI_INT64_T, MPI_SUM, ctx->comm) != MPI_SUCCESS)
            st = uhn_fail(ctx, UHN_EMPI, "MPI_Allreduce of the mean failed");
        for (int64_t k = 0; st == UHN_OK && k < K; ++k)
            e->mean[k] = ((double)sum[k] / MEAN_UNITS) / (double)n_total;
    }
    free(local);
    free(sum);
    return uhn_agree(ctx, st);
}

/* ------------------------------------------------------------------------ */
/* The model file                                                           */

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

int uhn_encoder_save(const uhn_encoder *e, uhn_h5_writer *w, const char *group) {
    unsigned f = e->ops->flags;
    int root = !group || !strcmp(group, "/") || !group[0];
    const char *g = root ? "/" : group;
    if (!root) UHN_CALL(make_groups(w, g));
    char names[3][UHN_H5_PATH_MAX + 16];
    const char *const leaf[3] = {"mean", "components", "variances"};
    for (int i = 0; i < 3; ++i)
        snprintf(names[i], sizeof names[i], "%s%s%s", root ? "" : g, root ? "" : "/", leaf[i]);
    UHN_CALL(uhn_h5_attr_string(w, g, "uhn_model", UHN_MODEL_MARKER));
    UHN_CALL(uhn_h5_attr_string(w, g, "encoder", e->ops->name));
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
    };
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; ++i)
        UHN_CALL(uhn_h5_attr_int64(w, g, ints[i].name, ints[i].value));
    UHN_CALL(uhn_h5_attr_double(w, g, "fit_seconds", e->fit_seconds));
    const uhn_h5_dataset dsets[] = {
        {names[0],
         UHN_H5_FLOAT64,
         1,
         {e->K},
         e->mean,
         "the mean training image mu",
         "pixel value",
         "pixel"},
        {names[1],
         UHN_H5_FLOAT64,
         2,
         {e->D, e->K},
         e->components,
         "the D leading eigenvectors of the training covariance, one per row, largest eigenvalue "
         "first; each one's entry of largest magnitude is positive",
         "1",
         "component,pixel"},
        {names[2],
         UHN_H5_FLOAT64,
         1,
         {e->D},
         e->variances,
         "eigenvalues lambda_d of the covariance (1/n) sum (x - mu)(x - mu)^T, largest first",
         "pixel value^2",
         "component"},
    };
    if (f & (ENC_HAS_MEAN | ENC_HAS_PCA)) UHN_CALL(uhn_h5_write_dataset(w, &dsets[0]));
    if (f & ENC_HAS_PCA) {
        UHN_CALL(uhn_h5_write_dataset(w, &dsets[1]));
        UHN_CALL(uhn_h5_write_dataset(w, &dsets[2]));
    }
    return UHN_OK;
}

/* What rank 0 reads and broadcasts. */
typedef struct model_head {
    char name[64];
    int64_t dim, k, height, width, channels, whiten, seed, n_train;
    double fit_seconds;
} model_head;

static int read_attr_int(hid_t fid, const char *name, int64_t *v) {
    hid_t a = H5Aopen(fid, name, H5P_DEFAULT);
    if (a < 0) return -1;
    herr_t rc = H5Aread(a, H5T_NATIVE_INT64, v);
    H5Aclose(a);
    return rc < 0 ? -1 : 0;
}

static int read_attr_double(hid_t fid, const char *name, double *v) {
    hid_t a = H5Aopen(fid, name, H5P_DEFAULT);
    if (a < 0) return -1;
    herr_t rc = H5Aread(a, H5T_NATIVE_DOUBLE, v);
    H5Aclose(a);
    return rc < 0 ? -1 : 0;
}

/* A string attribute (variable or fixed length) into buf; -1 when absent or not a string. */
static int read_attr_string(hid_t fid, const char *name, char *buf, size_t len) {
    if (H5Aexists(fid, name) <= 0) return -1;
    hid_t a = H5Aopen(fid, name, H5P_DEFAULT), ft = a >= 0 ? H5Aget_type(a) : -1;
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

/* Reads dataset `name` of exactly the given shape as float64 into a new buffer. */
static int read_array(uhn_ctx *ctx, hid_t fid, const char *role, const char *path, const char *name,
                      int rank, const int64_t *dims, double **out) {
    if (H5Lexists(fid, name, H5P_DEFAULT) <= 0)
        return uhn_fail(ctx, UHN_EINPUT, "%s: model file '%s' lacks the dataset '%s'", role, path,
                        name);
    hid_t d = H5Dopen2(fid, name, H5P_DEFAULT), sp = d >= 0 ? H5Dget_space(d) : -1;
    hsize_t got[8] = {0};
    int r = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
    int ok = r == rank && r <= 8 && H5Sget_simple_extent_dims(sp, got, NULL) == r;
    for (int i = 0; ok && i < rank; ++i) ok = (int64_t)got[i] == dims[i];
    int st = UHN_OK;
    if (!ok) {
        char want[64];
        if (rank == 2)
            snprintf(want, sizeof want, "[%lld][%lld]", (long long)dims[0], (long long)dims[1]);
        else
            snprintf(want, sizeof want, "[%lld]", (long long)dims[0]);
        st = uhn_fail(ctx, UHN_EINPUT,
                      "%s: model file '%s': dataset '%s' does not have the shape %s that its "
                      "attributes give",
                      role, path, name, want);
    } else {
        size_t count = 1;
        for (int i = 0; i < rank; ++i) count *= (size_t)dims[i];
        *out = malloc(count * sizeof **out);
        if (!*out)
            st = uhn_fail(ctx, UHN_ENOMEM, "out of memory reading '%s'", path);
        else if (H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, *out) < 0)
            st = uhn_fail(ctx, UHN_EINPUT,
                          "%s: model file '%s': dataset '%s' cannot be read as "
                          "numbers",
                          role, path, name);
        for (size_t i = 0; st == UHN_OK && i < count; ++i)
            if (!isfinite((*out)[i]))
                st = uhn_fail(ctx, UHN_EINPUT,
                              "%s: model file '%s': dataset '%s' has a "
                              "non-finite value at element %zu",
                              role, path, name, i);
    }
    if (sp >= 0) H5Sclose(sp);
    if (d >= 0) H5Dclose(d);
    return st;
}

/* Rank 0: the head and arrays of a model file. */
static int load_local(uhn_ctx *ctx, const char *path, const char *role, model_head *h,
                      uhn_encoder *e) {
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
    char marker[64] = "";
    int st = UHN_OK;
    if (read_attr_string(fid, "uhn_model", marker, sizeof marker) != 0 ||
        strcmp(marker, UHN_MODEL_MARKER) != 0)
        st = uhn_fail(ctx, UHN_EINPUT,
                      "%s: '%s' is not a uhn encoder model (no attribute uhn_model = \"%s\"; make "
                      "one with uhn encode fit)",
                      role, path, UHN_MODEL_MARKER);
    if (st == UHN_OK && read_attr_string(fid, "encoder", h->name, sizeof h->name) != 0)
        st = uhn_fail(ctx, UHN_EINPUT, "%s: model file '%s' lacks the attribute 'encoder'", role,
                      path);
    const struct {
        const char *name;
        int64_t *v;
    } ints[] = {{"dim", &h->dim},     {"input_length", &h->k},    {"height", &h->height},
                {"width", &h->width}, {"channels", &h->channels}, {"whiten", &h->whiten},
                {"seed", &h->seed},   {"n_train", &h->n_train}};
    for (size_t i = 0; st == UHN_OK && i < sizeof ints / sizeof ints[0]; ++i)
        if (read_attr_int(fid, ints[i].name, ints[i].v) != 0)
            st = uhn_fail(ctx, UHN_EINPUT, "%s: model file '%s' lacks the integer attribute '%s'",
                          role, path, ints[i].name);
    if (st == UHN_OK && read_attr_double(fid, "fit_seconds", &h->fit_seconds) != 0)
        h->fit_seconds = 0;
    const uhn_encoder_ops *ops = st == UHN_OK ? find(h->name) : NULL;
    if (st == UHN_OK && !ops)
        st = uhn_fail(ctx, UHN_EINPUT,
                      "%s: model file '%s' names encoder '%s', which this uhn does "
                      "not have",
                      role, path, h->name);
    if (st == UHN_OK) {
        uhn_encoder_config cfg = {ops->name,         h->dim,    (int)h->whiten,
                                  (uint64_t)h->seed, h->height, h->width,
                                  h->channels,       0,         0};
        if (h->height * h->width * h->channels != h->k || uhn_encoder_check(ctx, &cfg) != UHN_OK ||
            (h->whiten != 0 && h->whiten != 1))
            st = uhn_fail(ctx, UHN_EINPUT,
                          "%s: model file '%s' has inconsistent attributes (encoder %s, dim %lld, "
                          "input_length %lld, shape %lldx%lldx%lld, whiten %lld)",
                          role, path, h->name, (long long)h->dim, (long long)h->k,
                          (long long)h->height, (long long)h->width, (long long)h->channels,
                          (long long)h->whiten);
    }
    if (st == UHN_OK && (ops->flags & (ENC_HAS_MEAN | ENC_HAS_PCA)))
        st = read_array(ctx, fid, role, path, "mean", 1, &h->k, &e->mean);
    if (st == UHN_OK && (ops->flags & ENC_HAS_PCA)) {
        int64_t dk[2] = {h->dim, h->k};
        st = read_array(ctx, fid, role, path, "components", 2, dk, &e->components);
        if (st == UHN_OK)
            st = read_array(ctx, fid, role, path, "variances", 1, &h->dim, &e->variances);
    }
    if (H5Fclose(fid) < 0 && st == UHN_OK)
        st = uhn_fail(ctx, UHN_EIO, "%s: closing '%s' failed", role, path);
    return st;
}

/* Broadcasts a float64 array of n values from rank 0, allocating it elsewhere. */
static int bcast_array(uhn_ctx *ctx, double **a, int64_t n) {
    int st = UHN_OK;
    if (ctx->rank != 0 && !(*a = malloc((size_t)n * sizeof **a)))
        st = uhn_fail(ctx, UHN_ENOMEM, "out of memory for a model array");
    UHN_CALL(uhn_agree(ctx, st));
    UHN_MPI(ctx, MPI_Bcast(*a, (int)n, MPI_DOUBLE, 0, ctx->comm));
    return UHN_OK;
}

int uhn_encoder_load(uhn_ctx *ctx, const char *path, const char *role, uhn_encoder **out) {
    *out = NULL;
    model_head h;
    memset(&h, 0, sizeof h);
    uhn_encoder scratch;
    memset(&scratch, 0, sizeof scratch);
    double t0 = uhn_wtime();
    int st = ctx->rank == 0 ? load_local(ctx, path, role, &h, &scratch) : UHN_OK;
    st = uhn_agree(ctx, st);
    ctx->timers.io += uhn_wtime() - t0;
    uhn_encoder *e = NULL;
    if (st == UHN_OK && MPI_Bcast(&h, (int)sizeof h, MPI_BYTE, 0, ctx->comm) != MPI_SUCCESS)
        st = uhn_fail(ctx, UHN_EMPI, "MPI_Bcast of the model failed");
    if (st == UHN_OK) {
        const uhn_encoder_ops *ops = find(h.name);
        uhn_encoder_config cfg = {
            ops->name, h.dim, (int)h.whiten, (uint64_t)h.seed, h.height, h.width, h.channels, 0, 0};
        st = uhn_agree(ctx, encoder_new(ctx, ops, &cfg, &e));
    }
    if (st == UHN_OK) {
        e->mean = scratch.mean, e->components = scratch.components,
        e->variances = scratch.variances;
        scratch.mean = scratch.components = scratch.variances = NULL;
        e->n_train = h.n_train;
        e->fit_seconds = h.fit_seconds;
        if (e->ops->flags & (ENC_HAS_MEAN | ENC_HAS_PCA)) st = bcast_array(ctx, &e->mean, e->K);
        if (st == UHN_OK && (e->ops->flags & ENC_HAS_PCA))
            st = bcast_array(ctx, &e->components, e->D * e->K);
        if (st == UHN_OK && (e->ops->flags & ENC_HAS_PCA))
            st = bcast_array(ctx, &e->variances, e->D);
        if (st == UHN_OK && e->ops->prepare) st = e->ops->prepare(ctx, e);
        st = uhn_agree(ctx, st);
    }
    free(scratch.mean);
    free(scratch.components);
    free(scratch.variances);
    if (st != UHN_OK) {
        uhn_encoder_destroy(e);
        return st;
    }
    *out = e;
    return UHN_OK;
}
