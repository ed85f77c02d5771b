/*
 * The results file of `uhn run`, its checkpoints and resumption.
 *
 * Rank 0 rewrites the whole file after every point, under a temporary name
 * renamed onto "OUT.partial" (uhn_h5_writer), so a checkpoint is either the
 * previous one or the new one, never half of each. The complete file replaces
 * OUT at the end and OUT.partial is removed. The results are small (a few
 * numbers per point and trial, plus the optional saved images), so rewriting
 * costs milliseconds.
 *
 * Layout (README "Results file"): the sweep axes are HDF5 dimension scales
 * (n, similarity, separation, beta, param, cue_only, level, and trial); every
 * per-point dataset has the shape of the sweep and its dimensions attached to
 * those scales. The attribute effective_deck (one "[section] key = value" line
 * per key except output.file and output.quiet) decides whether a file belongs
 * to a deck.
 */
#define _GNU_SOURCE /* strptime, timegm */
#include <errno.h>
#include <hdf5.h>
#include <hdf5_hl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "experiments/study_impl.h"

/* The memory type of a field. */
/* Whether kernel is one of the ", "-separated names of list. */
static int kernel_listed(const char *list, const char *kernel) {
    size_t n = strlen(kernel);
    for (const char *p = list; p && *p;) {
        if (!strncmp(p, kernel, n) && (p[n] == '\0' || p[n] == ',')) return 1;
        p = strchr(p, ',');
        if (p) p += 2;
    }
    return 0;
}

/* The kernels that computed this file's points, this run's included. */
static const char *kernels_with_current(study *s) {
    const char *k = uhn_blas_kernel();
    if (!kernel_listed(s->blas_kernels, k)) {
        size_t n = strlen(s->blas_kernels);
        snprintf(s->blas_kernels + n, sizeof s->blas_kernels - n, "%s%s", n ? ", " : "", k);
    }
    return s->blas_kernels;
}

static hid_t mtype_of(uhn_h5_type t) {
    return (hid_t)uhn_h5_native_type(t);
}

/* Dimensions after the sweep axes, at most ([save][S][Hk][W][C]). */
#define MAX_EXTRA 5

/* Element i of a field's buffer as a double. */
static double value_at(const study_field *f, int64_t i) {
    if (f->type == UHN_H5_FLOAT64) return ((const double *)f->buf)[i];
    if (f->type == UHN_H5_FLOAT32) return ((const float *)f->buf)[i];
    if (f->type == UHN_H5_INT64) return (double)((const int64_t *)f->buf)[i];
    if (f->type == UHN_H5_INT32) return ((const int32_t *)f->buf)[i];
    return ((const uint8_t *)f->buf)[i];
}

/* Whether entry v of a finished point keeps its field's hold. */
static int holds(const study *s, study_hold h, double v) {
    switch (h) {
    case HOLD_NUMBER:
        return !isnan(v);
    case HOLD_FRACTION:
        return v >= 0 && v <= 1;
    case HOLD_SSIM:
        return !s->ssim_work || !isnan(v);
    case HOLD_COUNT:
    case HOLD_INDEX:
        return v >= 0;
    case HOLD_OUTCOME:
        return v >= 0 && v < UHN_OUTCOME_COUNT;
    default:
        return 1;
    }
}

/* 1 when finished point p holds the data that its `done` flag claims: every
 * field's hold (f, nf: result_fields), and outcome counts that sum to the
 * queries of every trial. Otherwise 0, and why in buf. Rank 0. */
static int point_holds(const study *s, const study_field *f, int nf, int64_t p, char *buf,
                       size_t len) {
    int64_t q = study_point_queries(s, p), nsaved = s->save < q ? s->save : q;
    for (int i = 0; i < nf; ++i) {
        if (f[i].hold == HOLD_ANY) continue;
        int64_t first = p, count = 1;
        if (f[i].shape == SHAPE_TRIAL) first = p * s->trials, count = s->trials;
        if (f[i].shape == SHAPE_QUERY) first = p * s->save, count = nsaved;
        if (f[i].shape == SHAPE_BINS) first = p * s->sep_bins, count = s->sep_bins;
        for (int64_t j = 0; j < count; ++j) {
            double v = value_at(&f[i], first + j);
            if (holds(s, f[i].hold, v)) continue;
            if (f[i].shape == SHAPE_POINT)
                snprintf(buf, len, "its %s is %g", f[i].name, v);
            else
                snprintf(buf, len, "its %s[%s %" PRId64 "] is %g", f[i].name,
                         f[i].shape == SHAPE_TRIAL ? "trial" : "query", j, v);
            return 0;
        }
    }
    int64_t sum = 0, csum = 0, P = s->npoints;
    for (int o = 0; o < UHN_OUTCOME_COUNT; ++o) sum += s->outcomes[o * P + p];
    for (int o = 0; o < UHN_OUTCOME_COUNT; ++o) csum += s->code_outcomes[o * P + p];
    if (sum != s->queries[p] || csum != s->queries[p] || s->queries[p] != s->trials * q) {
        snprintf(buf, len,
                 "its outcome counts sum to %" PRId64 " (in code space %" PRId64
                 ") and queries is %" PRId64 ", not the %" PRId64 " of %" PRId64
                 " trials x %" PRId64 " queries",
                 sum, csum, s->queries[p], s->trials * q, s->trials, q);
        return 0;
    }
    return 1;
}

/* The dimensions of a field (the sweep axes, then its own); returns the rank. */
static int field_dims(const study *s, const study_field *f, hsize_t dims[STUDY_NAXES + MAX_EXTRA]) {
    for (int a = 0; a < STUDY_NAXES; ++a) dims[a] = (hsize_t)s->dims[a];
    hsize_t *t = dims + STUDY_NAXES;
    switch (f->shape) {
    case SHAPE_POINT:
        return STUDY_NAXES;
    case SHAPE_TRIAL:
        t[0] = (hsize_t)s->trials;
        return STUDY_NAXES + 1;
    case SHAPE_QUERY:
        t[0] = (hsize_t)s->save;
        return STUDY_NAXES + 1;
    case SHAPE_BINS:
        t[0] = (hsize_t)s->sep_bins;
        return STUDY_NAXES + 1;
    case SHAPE_TRAJECTORY_CODE:
        t[0] = (hsize_t)s->save;
        t[1] = (hsize_t)s->ntraj;
        t[2] = (hsize_t)s->Dmax;
        return STUDY_NAXES + 3;
    case SHAPE_TRAJECTORY:
        t[0] = (hsize_t)s->save;
        t[1] = (hsize_t)s->ntraj;
        t[2] = (hsize_t)s->Hk;
        t[3] = (hsize_t)s->W;
        t[4] = (hsize_t)s->C;
        return STUDY_NAXES + 5;
    default:
        t[0] = (hsize_t)s->save;
        t[1] = (hsize_t)(f->shape == SHAPE_KEY_IMAGE ? s->Hk : s->Ho);
        t[2] = (hsize_t)s->W;
        t[3] = (hsize_t)s->C;
        return STUDY_NAXES + 4;
    }
}

/* ------------------------------------------------------------------------ */
/* Memory                                                                   */

static int alloc_results(study *s) {
    int64_t P = s->npoints, S = s->save;
    int ok = 1;
#define ALLOC(field, n)                                                                            \
    do {                                                                                           \
        s->field = calloc((size_t)(n) > 0 ? (size_t)(n) : 1, sizeof *s->field);                    \
        ok = ok && s->field;                                                                       \
    } while (0)
    ALLOC(stat, NSTAT * P);
    ALLOC(outcomes, UHN_OUTCOME_COUNT * P);
    ALLOC(code_outcomes, UHN_OUTCOME_COUNT * P);
    if (s->separability) {
        ALLOC(sep_hist, 2 * P * s->sep_bins);
        ALLOC(sep_stat, NSEP * P);
    }
    ALLOC(queries, P);
    ALLOC(seconds, P);
    ALLOC(done, P);
    ALLOC(trial, NTRIAL * P * s->trials);
    if (s->text) {
        ALLOC(text_scale, P * s->trials);
        ALLOC(tcount, 4 * UHN_OUTCOME_COUNT * P);
        ALLOC(tqueries, P);
        ALLOC(tmse, 2 * P);
    }
    if (s->ctx->rank == 0 && S > 0) {
        ALLOC(img_retrieved, P * S * s->Ko);
        ALLOC(img_query, P * S * s->Kk);
        ALLOC(img_truth, P * S * s->Ko);
        ALLOC(img_index, P * S);
        ALLOC(img_recalled, P * S);
        ALLOC(img_weight, P * S);
        ALLOC(img_sq, P * S);
        ALLOC(img_dssim, P * S);
        ALLOC(img_outcome, P * S);
        ALLOC(img_code_outcome, P * S);
        if (s->text) {
            ALLOC(img_shared, P * S);
            ALLOC(img_partner, P * S);
        }
        if (s->ntraj > 0) ALLOC(img_traj, P * S * s->ntraj * s->Kk);
        if (s->ntraj > 0 && study_has_codes(s)) ALLOC(img_traj_code, P * S * s->ntraj * s->Dmax);
    }
#undef ALLOC
    if (!ok) return UHN_ENOMEM;
    for (int64_t i = 0; i < NSTAT * P; ++i) s->stat[i] = NAN;
    for (int64_t i = 0; s->sep_stat && i < NSEP * P; ++i) s->sep_stat[i] = NAN;
    for (int64_t i = 0; s->sep_hist && i < 2 * P * s->sep_bins; ++i) s->sep_hist[i] = -1;
    for (int64_t i = 0; i < NTRIAL * P * s->trials; ++i) s->trial[i] = NAN;
    for (int64_t i = 0; s->text_scale && i < P * s->trials; ++i) s->text_scale[i] = NAN;
    for (int64_t i = 0; s->tmse && i < 2 * P; ++i) s->tmse[i] = NAN;
    for (int64_t i = 0; s->img_shared && i < P * S; ++i)
        s->img_shared[i] = -1, s->img_partner[i] = -1;
    for (int64_t i = 0; s->img_outcome && i < P * S; ++i) {
        s->img_index[i] = s->img_recalled[i] = -1;
        s->img_outcome[i] = s->img_code_outcome[i] = -1;
        s->img_weight[i] = NAN;
        s->img_sq[i] = s->img_dssim[i] = NAN;
    }
    for (int64_t i = 0; s->img_retrieved && i < P * S * s->Ko; ++i)
        s->img_retrieved[i] = s->img_truth[i] = NAN;
    for (int64_t i = 0; s->img_query && i < P * S * s->Kk; ++i) s->img_query[i] = NAN;
    for (int64_t i = 0; s->img_traj && i < P * S * s->ntraj * s->Kk; ++i) s->img_traj[i] = NAN;
    for (int64_t i = 0; s->img_traj_code && i < P * S * s->ntraj * s->Dmax; ++i)
        s->img_traj_code[i] = NAN;
    return UHN_OK;
}

void study_io_free(study *s) {
    free(s->stat), free(s->outcomes), free(s->code_outcomes), free(s->queries), free(s->seconds);
    free(s->text_scale), free(s->tcount), free(s->tqueries), free(s->tmse);
    free(s->img_shared), free(s->img_partner);
    free(s->done), free(s->img_traj_code), free(s->img_code_outcome);
    free(s->sep_hist), free(s->sep_stat), free(s->sep_edges), free(s->sep_subset);
    free(s->trial), free(s->img_retrieved), free(s->img_query), free(s->img_truth);
    free(s->img_index), free(s->img_recalled), free(s->img_weight), free(s->img_sq);
    free(s->img_dssim), free(s->img_outcome), free(s->effective);
    free(s->img_traj), free(s->traj_steps);
}

/* The deck's identity: every effective key but output.file and output.quiet. */
static int build_effective(study *s) {
    size_t len = 1;
    for (int i = 0; i < UHN_KEY_COUNT; ++i) {
        uhn_deck_entry e;
        uhn_deck_entry_at(s->d, i, &e);
        len += strlen(e.section) + strlen(e.key) + strlen(e.value) + 8;
    }
    char *t = malloc(len), *at = t;
    if (!t) return UHN_ENOMEM;
    *at = '\0';
    for (int i = 0; i < UHN_KEY_COUNT; ++i) {
        if (i == UHN_KEY_OUTPUT_FILE || i == UHN_KEY_OUTPUT_QUIET) continue;
        uhn_deck_entry e;
        uhn_deck_entry_at(s->d, i, &e);
        at += sprintf(at, "[%s] %s = %s\n", e.section, e.key, e.value);
    }
    s->effective = t;
    return UHN_OK;
}

/* ------------------------------------------------------------------------ */
/* Writing (rank 0)                                                         */

typedef struct wctx {
    study *s;
    uhn_h5_writer *w;
    hid_t fid;
    hid_t scale[STUDY_NAXES + 1];       /* the axes, then trial */
    const char *label[STUDY_NAXES + 1]; /* their names */
} wctx;

/* H5Ewalk2 callback: the errno a failed system call left in HDF5's error
 * stack ("..., errno = 28, error message = ..."). */
static herr_t find_errno(unsigned n, const H5E_error2_t *e, void *data) {
    (void)n;
    const char *at = e->desc ? strstr(e->desc, "errno = ") : NULL;
    if (at) *(int *)data = atoi(at + 8);
    return 0;
}

/* The errno behind the HDF5 call that just failed (0: none). Call it before
 * any other HDF5 call, which would clear the error stack. */
static int h5_errno(void) {
    int err = 0;
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, find_errno, &err);
    return err;
}

static int h5fail(study *s, const char *what, const char *name, int err) {
    return uhn_fail(s->ctx, UHN_EIO, "cannot write %s '%s' to the results of '%s'%s%s", what, name,
                    s->out, err > 0 ? ": " : "", err > 0 ? strerror(err) : "");
}

/* The names of a field's own dimensions after the sweep axes (and trial), for
 * its `axes` attribute: uhn_h5_label_axes gives them index scales at the end
 * of write_contents, so that xarray opens images/ and separability/. Key
 * images (the query, the trajectory) have Hk rows, value images Ho. */
static const char *own_axes(const study_field *f) {
    switch (f->shape) {
    case SHAPE_QUERY:
        return "saved";
    case SHAPE_BINS:
        return "bin";
    case SHAPE_TRAJECTORY_CODE:
        return "saved,trajectory_step,code_component";
    case SHAPE_TRAJECTORY:
        return "saved,trajectory_step,key_row,column,channel";
    case SHAPE_KEY_IMAGE:
        return "saved,key_row,column,channel";
    case SHAPE_VALUE_IMAGE:
        return "saved,row,column,channel";
    default:
        return NULL;
    }
}

/* What the index scales of own_axes mean. */
static const uhn_h5_axis study_own_axes[] = {
    {"saved", "index of the saved query (output.save_images of trial 0)"},
    {"bin", "index b of the histogram bin [bin_edges[b], bin_edges[b + 1])"},
    {"edge", "index of the bin edge (separability_bins + 1 of them)"},
    {"trajectory_step", "index into the attribute output.trajectory: the steps saved"},
    {"code_component", "index of the code component (up to the largest code length)"},
    {"key_row", "image row of a key image (the query, the trajectory)"},
    {"row", "image row of a value image"},
    {"column", "image column"},
    {"channel", "image channel"},
};

/* A result dataset: its sweep dimensions attached to the axis scales (and the
 * next one to trial for per-trial data), with description and units. */
static int put(wctx *c, const study_field *f) {
    study *s = c->s;
    hsize_t dims[STUDY_NAXES + MAX_EXTRA];
    int rank = field_dims(s, f, dims);
    hid_t sp = H5Screate_simple(rank, dims, NULL);
    hid_t mt = mtype_of(f->type);
    hid_t id =
        sp < 0 ? -1 : H5Dcreate2(c->fid, f->name, mt, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int ok = id >= 0 && H5Dwrite(id, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, f->buf) >= 0;
    int nscales = f->shape == SHAPE_TRIAL ? STUDY_NAXES + 1 : STUDY_NAXES;
    for (int a = 0; ok && a < nscales; ++a)
        ok = H5DSattach_scale(id, c->scale[a], (unsigned)a) >= 0 &&
             H5DSset_label(id, (unsigned)a, c->label[a]) >= 0;
    int err = ok ? 0 : h5_errno();
    if (id >= 0) H5Dclose(id);
    if (sp >= 0) H5Sclose(sp);
    if (!ok) return h5fail(s, "dataset", f->name, err);
    const char *own = own_axes(f);
    if (own) {
        char axes[1024] = "";
        size_t at = 0;
        for (int a = 0; a < nscales && at < sizeof axes; ++a)
            at += (size_t)snprintf(axes + at, sizeof axes - at, "%s,", c->label[a]);
        if (at < sizeof axes) snprintf(axes + at, sizeof axes - at, "%s", own);
        UHN_CALL(uhn_h5_attr_string(c->w, f->name, "axes", axes));
    }
    UHN_CALL(uhn_h5_attr_string(c->w, f->name, "description", f->desc));
    return uhn_h5_attr_string(c->w, f->name, "units", f->units);
}

/* The scale of axis a (or trial, a == STUDY_NAXES). */
static int put_scale(wctx *c, int a) {
    study *s = c->s;
    const uhn_deck *d = s->d;
    const char *name = "trial", *desc = "trial (a random subset of memories each)", *units = "-";
    hsize_t n = (hsize_t)s->trials;
    void *buf = NULL;
    hid_t mt = H5T_NATIVE_INT64, st = -1;
    /* Everything about an axis comes from its deck key (src/io/deck_keys.c):
     * name, value type, description, units and how plots draw it. */
    uhn_deck_key_id k = UHN_KEY_COUNT;
    uhn_deck_type type = UHN_DECK_INT;
    char descbuf[512];
    if (a < STUDY_NAXES) {
        k = uhn_deck_axis(a);
        uhn_deck_entry e;
        uhn_deck_entry_at(d, (int)k, &e);
        name = uhn_deck_axis_name(k);
        type = uhn_deck_key_type(k);
        snprintf(descbuf, sizeof descbuf, "%s%s", uhn_deck_key_desc(k),
                 type == UHN_DECK_BOOL     ? " (1 = on)"
                 : type == UHN_DECK_DOUBLE ? " (NaN = the default)"
                                           : "");
        desc = descbuf;
        units = e.units;
        n = (hsize_t)s->dims[a];
    }
    int64_t *iv = NULL;
    double *dv = NULL;
    const char **sv = NULL;
    if (type == UHN_DECK_NAME || type == UHN_DECK_STRING) {
        sv = malloc(n * sizeof *sv);
        for (hsize_t j = 0; sv && j < n; ++j) sv[j] = uhn_deck_str(d, k, (int)j);
        st = H5Tcopy(H5T_C_S1);
        H5Tset_size(st, H5T_VARIABLE);
        H5Tset_cset(st, H5T_CSET_UTF8);
        mt = st;
        buf = sv;
    } else if (type == UHN_DECK_DOUBLE) {
        dv = malloc(n * sizeof *dv);
        for (hsize_t j = 0; dv && j < n; ++j) dv[j] = uhn_deck_double(d, k, (int)j);
        mt = H5T_NATIVE_DOUBLE;
        buf = dv;
    } else {
        iv = malloc(n * sizeof *iv);
        for (hsize_t j = 0; iv && j < n; ++j)
            iv[j] = k == UHN_KEY_COUNT        ? (int64_t)j
                    : type == UHN_DECK_BOOL   ? uhn_deck_bool(d, k, (int)j)
                    : type == UHN_DECK_UINT64 ? (int64_t)uhn_deck_u64(d, k, (int)j)
                                              : uhn_deck_int(d, k, (int)j);
        buf = iv;
    }
    int ok = buf != NULL;
    hid_t sp = H5Screate_simple(1, &n, NULL);
    hid_t id = ok ? H5Dcreate2(c->fid, name, mt, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT) : -1;
    ok = id >= 0 && H5Dwrite(id, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0 &&
         H5DSset_scale(id, name) >= 0;
    int err = ok ? 0 : h5_errno();
    if (ok) {
        c->scale[a] = id;
        c->label[a] = name;
    } else if (id >= 0)
        H5Dclose(id);
    if (sp >= 0) H5Sclose(sp);
    if (st >= 0) H5Tclose(st);
    free(iv), free(dv), free(sv);
    if (!ok) return h5fail(s, "axis", name, err);
    UHN_CALL(uhn_h5_attr_string(c->w, name, "description", desc));
    if (k != UHN_KEY_COUNT) /* how plots draw it: read back by postprocess/plot_study.py */
        UHN_CALL(uhn_h5_attr_string(c->w, name, "axis_scale",
                                    uhn_axis_scale_name(uhn_deck_key_scale(k))));
    return uhn_h5_attr_string(c->w, name, "units", units);
}

static int write_contents(wctx *c, int complete) {
    study *s = c->s;
    uhn_h5_writer *w = c->w;
    const uhn_deck *d = s->d;
    int64_t P = s->npoints, ndone = 0;
    for (int64_t p = 0; p < P; ++p) ndone += s->done[p];

    /* Identity and parameters. */
    UHN_CALL(uhn_h5_attr_string(w, "/", "title", "uhn capacity study"));
    UHN_CALL(uhn_h5_attr_int64(w, "/", "format", STUDY_FORMAT));
    UHN_CALL(uhn_h5_attr_string(w, "/", "deck", uhn_deck_text(d)));
    UHN_CALL(uhn_h5_attr_string(w, "/", "deck_name", uhn_deck_name(d)));
    UHN_CALL(uhn_h5_attr_string(w, "/", "effective_deck", s->effective));
    UHN_CALL(uhn_h5_attr_int64(w, "/", "complete", complete));
    UHN_CALL(uhn_h5_attr_int64(w, "/", "points_total", P));
    UHN_CALL(uhn_h5_attr_int64(w, "/", "points_done", ndone));
    if (s->o->part_count > 0) { /* uhn run --part: `uhn merge` combines the parts */
        UHN_CALL(uhn_h5_attr_int64(w, "/", "part_index", s->o->part_index));
        UHN_CALL(uhn_h5_attr_int64(w, "/", "part_count", s->o->part_count));
        UHN_CALL(uhn_h5_attr_int64(w, "/", "part_points", s->share));
    }
    UHN_CALL(uhn_h5_attr_string(w, "/", "data_source", uhn_dataset_spec(s->ds)));
    UHN_CALL(uhn_h5_attr_int64(w, "/", "data_images", uhn_dataset_n(s->ds)));
    UHN_CALL(uhn_h5_attr_int64(w, "/", "image_height", s->H));
    UHN_CALL(uhn_h5_attr_int64(w, "/", "image_width", s->W));
    UHN_CALL(uhn_h5_attr_int64(w, "/", "image_channels", s->C));
    UHN_CALL(uhn_h5_attr_int64(w, "/", "key_length", s->Kk));
    UHN_CALL(uhn_h5_attr_int64(w, "/", "value_length", s->Ko));
    UHN_CALL(uhn_h5_attr_double(w, "/", "threshold_effective", s->threshold));
    UHN_CALL(uhn_h5_attr_int64(w, "/", "trials", s->trials));
    UHN_CALL(uhn_h5_write_group(w, "parameters"));
    for (int i = 0; i < UHN_KEY_COUNT; ++i) {
        uhn_deck_entry e;
        uhn_deck_entry_at(d, i, &e);
        char an[128];
        snprintf(an, sizeof an, "%s.%s", e.section, e.key);
        UHN_CALL(uhn_h5_attr_string(w, "parameters", an, e.value));
    }
    UHN_CALL(uhn_h5_write_provenance(w, "provenance", s->first_start, s->o->argc, s->o->argv));
    UHN_CALL(uhn_h5_attr_int64(w, "provenance", "resumes", s->resumes));
    UHN_CALL(uhn_h5_attr_string(w, "provenance", "blas_kernels", kernels_with_current(s)));

    /* Axes and results. */
    for (int a = 0; a <= STUDY_NAXES; ++a) UHN_CALL(put_scale(c, a));
    UHN_CALL(uhn_h5_write_group(w, "per_trial"));
    if (s->save > 0) UHN_CALL(uhn_h5_write_group(w, "images"));
    if (s->separability) UHN_CALL(uhn_h5_write_group(w, "separability"));
    if (s->text) UHN_CALL(uhn_h5_write_group(w, "text"));
    study_field f[STUDY_MAX_FIELDS];
    int nf = study_fields(s, f);
    for (int i = 0; i < nf; ++i) UHN_CALL(put(c, &f[i]));
    UHN_CALL(study_write_extra(s, w));
    return uhn_h5_label_axes(w, "/", study_own_axes,
                             sizeof study_own_axes / sizeof study_own_axes[0]);
}

static int write_file(study *s, const char *path, int complete) {
    wctx c;
    memset(&c, 0, sizeof c);
    c.s = s;
    for (int a = 0; a <= STUDY_NAXES; ++a) c.scale[a] = -1;
    /* The output was checked writable before any work (study_setup): a
     * failure now is the system's (a directory turned read-only, a full
     * disk), not bad input: exit 1. */
    int wst = uhn_h5_writer_create(s->ctx, path, &c.w);
    if (wst == UHN_EINPUT) wst = s->ctx->status = UHN_EIO;
    UHN_CALL(wst);
    c.fid = (hid_t)uhn_h5_writer_fid(c.w);
    int st = write_contents(&c, complete);
    for (int a = 0; a <= STUDY_NAXES; ++a)
        if (c.scale[a] >= 0) H5Dclose(c.scale[a]);
    if (st != UHN_OK) {
        uhn_h5_writer_abort(c.w);
        return st;
    }
    return uhn_h5_writer_commit(c.w);
}

int study_io_checkpoint(study *s, int complete) {
    int st = UHN_OK;
    if (s->loaded_complete) return UHN_OK;
    if (s->ctx->rank == 0) {
        st = write_file(s, complete ? s->out : s->partial, complete);
        if (st == UHN_OK && complete && unlink(s->partial) != 0 && errno != ENOENT)
            st = uhn_fail(s->ctx, UHN_EIO, "cannot remove the checkpoint '%s'", s->partial);
    }
    return uhn_agree(s->ctx, st);
}

/* ------------------------------------------------------------------------ */
/* Reading (rank 0)                                                         */

int study_attr_string(int64_t obj, const char *name, char **out) {
    *out = NULL;
    if (H5Aexists((hid_t)obj, name) <= 0) return -1;
    hid_t a = H5Aopen((hid_t)obj, name, H5P_DEFAULT);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    char *v = NULL;
    int ok = a >= 0 && H5Aread(a, t, &v) >= 0 && v;
    if (ok) *out = strdup(v);
    if (v) H5free_memory(v);
    H5Tclose(t);
    if (a >= 0) H5Aclose(a);
    return ok && *out ? 0 : -1;
}

int study_attr_int64(int64_t obj, const char *name, int64_t *v) {
    if (H5Aexists((hid_t)obj, name) <= 0) return -1;
    hid_t a = H5Aopen((hid_t)obj, name, H5P_DEFAULT);
    int ok = a >= 0 && H5Aread(a, H5T_NATIVE_INT64, v) >= 0;
    if (a >= 0) H5Aclose(a);
    return ok ? 0 : -1;
}

void study_first_difference(const char *a, const char *b, const char *sep, const char *end,
                            char *buf, size_t len) {
    while (*a || *b) {
        size_t la = strcspn(a, "\n"), lb = strcspn(b, "\n");
        if (la != lb || strncmp(a, b, la)) {
            snprintf(buf, len, "'%.*s'%s'%.*s'%s", (int)(la < 200 ? la : 200), a, sep,
                     (int)(lb < 200 ? lb : 200), b, end);
            return;
        }
        a += la + (a[la] == '\n');
        b += lb + (b[lb] == '\n');
    }
    snprintf(buf, len, "(no difference)");
}

/* Reads dataset `name` of exactly n elements into buf. */
static int get(study *s, hid_t fid, const char *path, const char *name, hid_t mtype, int64_t n,
               void *buf) {
    hid_t id = H5Lexists(fid, name, H5P_DEFAULT) > 0 ? H5Dopen2(fid, name, H5P_DEFAULT) : -1;
    hid_t sp = id >= 0 ? H5Dget_space(id) : -1;
    int64_t have = sp >= 0 ? (int64_t)H5Sget_simple_extent_npoints(sp) : -1;
    int ok = id >= 0 && have == n && H5Dread(id, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0;
    if (sp >= 0) H5Sclose(sp);
    if (id >= 0) H5Dclose(id);
    if (ok) return UHN_OK;
    return uhn_fail(s->ctx, UHN_EINPUT,
                    "'%s': dataset '%s' is %s; the file is damaged: remove it or run with --fresh",
                    path, name, id < 0 ? "missing" : "not the shape this deck needs");
}

/* The end of every message about a file whose contents contradict themselves.
 * --fresh is safe to suggest: output.file and its checkpoint are not inputs
 * of the run (study.c refused those before anything was read). */
#define DAMAGED "the file is damaged: remove it or run with --fresh"

/* The claims of a loaded file hold: `done` is 0 or 1, every point it marks
 * done is of this run's share and holds its data (point_holds), `complete` is
 * 1 exactly when every point of the share is done, and points_done counts the
 * done points. Rank 0. */
static int check_claims(study *s, hid_t fid, const char *path, const study_field *f, int nf,
                        int64_t complete) {
    char why[256], label[512];
    int64_t ndone = 0, undone = -1, points_done = 0;
    for (int64_t p = 0; p < s->npoints; ++p) {
        int ok = s->done[p] <= 1;
        if (!ok) snprintf(why, sizeof why, "its done flag is %d, not 0 or 1", s->done[p]);
        if (ok && s->done[p] && !s->mine[p]) {
            ok = 0;
            snprintf(why, sizeof why, "it is not a point of part %" PRId64 " of %" PRId64,
                     s->o->part_index, s->o->part_count);
        }
        if (ok && s->done[p]) ok = point_holds(s, f, nf, p, why, sizeof why);
        if (!ok) {
            study_point_label(s, p, label, sizeof label);
            return uhn_fail(s->ctx, UHN_EINPUT,
                            "'%s': point %" PRId64 " (%s) is marked done but %s; " DAMAGED, path, p,
                            label, why);
        }
        ndone += s->done[p];
        if (!s->done[p] && s->mine[p] && undone < 0) undone = p;
    }
    if (complete != 0 && complete != 1)
        return uhn_fail(s->ctx, UHN_EINPUT,
                        "'%s': its complete attribute is %" PRId64 ", not 0 or 1; " DAMAGED, path,
                        complete);
    if (complete && undone >= 0) {
        study_point_label(s, undone, label, sizeof label);
        return uhn_fail(s->ctx, UHN_EINPUT,
                        "'%s' is marked complete but point %" PRId64 " (%s) is not done; " DAMAGED,
                        path, undone, label);
    }
    if (study_attr_int64(fid, "points_done", &points_done) != 0 || points_done != ndone)
        return uhn_fail(s->ctx, UHN_EINPUT,
                        "'%s': its points_done attribute is not the %" PRId64
                        " points marked done; " DAMAGED,
                        path, ndone);
    return UHN_OK;
}

/* A loaded file is of this run's part (its part_index and part_count
 * attributes), or a whole study when this run is. Rank 0. */
static int check_part(study *s, hid_t fid, const char *path) {
    int64_t i = -1, k = 0;
    int part = study_attr_int64(fid, "part_count", &k) == 0 &&
               study_attr_int64(fid, "part_index", &i) == 0;
    const uhn_study_opts *o = s->o;
    if (part && (k != o->part_count || i != o->part_index)) {
        if (o->part_count == 0)
            return uhn_fail(s->ctx, UHN_EINPUT,
                            "'%s' holds part %" PRId64 " of %" PRId64
                            " of a sweep, not a whole study: combine the parts with uhn merge, or "
                            "run with --fresh",
                            path, i, k);
        return uhn_fail(s->ctx, UHN_EINPUT,
                        "'%s' holds part %" PRId64 " of %" PRId64 ", not part %" PRId64
                        " of %" PRId64 "; " DAMAGED,
                        path, i, k, o->part_index, o->part_count);
    }
    if (!part && o->part_count > 0)
        return uhn_fail(s->ctx, UHN_EINPUT,
                        "'%s' holds a whole study, not part %" PRId64 " of %" PRId64 "; " DAMAGED,
                        path, o->part_index, o->part_count);
    return UHN_OK;
}

/* Reads OUT or its checkpoint OUT.partial (is_partial) into s, after checking
 * that it belongs to this deck and that its claims hold. Rank 0. */
static int load_file(study *s, const char *path, int is_partial) {
    uhn_ctx *ctx = s->ctx;
    hid_t fapl = (hid_t)uhn_h5_serial_fapl();
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* this module reports its own errors */
    hid_t fid = fapl >= 0 ? H5Fopen(path, H5F_ACC_RDONLY, fapl) : -1;
    H5Pclose(fapl);
    if (fid < 0)
        return uhn_fail(ctx, UHN_EINPUT,
                        "'%s' exists but is not an HDF5 file; remove it or run with --fresh", path);
    char *eff = NULL;
    int64_t complete = 0, resumes = 0;
    int st = UHN_OK;
    if (study_attr_string(fid, "effective_deck", &eff) != 0 ||
        study_attr_int64(fid, "complete", &complete) != 0)
        st = uhn_fail(ctx, UHN_EINPUT,
                      "'%s' is not the results of a uhn run (no effective_deck attribute); "
                      "remove it, set output.file, or run with --fresh",
                      path);
    else if (strcmp(eff, s->effective)) {
        char diff[512];
        study_first_difference(eff, s->effective, " there, ", " here", diff, sizeof diff);
        st = uhn_fail(ctx, UHN_EINPUT,
                      "'%s' holds results of another deck (%s); run with --fresh to replace it, or "
                      "set output.file",
                      path, diff);
    }
    free(eff);
    if (st == UHN_OK) st = check_part(s, fid, path);
    study_field f[STUDY_MAX_FIELDS];
    int nf = study_fields(s, f);
    for (int i = 0; st == UHN_OK && i < nf; ++i) {
        hsize_t dims[STUDY_NAXES + MAX_EXTRA];
        int rank = field_dims(s, &f[i], dims);
        int64_t count = 1;
        for (int a = 0; a < rank; ++a) count *= (int64_t)dims[a];
        st = get(s, fid, path, f[i].name, mtype_of(f[i].type), count, f[i].buf);
    }
    if (st == UHN_OK) st = check_claims(s, fid, path, f, nf, complete);
    if (st == UHN_OK) {
        hid_t g = H5Gopen2(fid, "provenance", H5P_DEFAULT);
        char *start = NULL;
        if (g >= 0) {
            study_attr_int64(g, "resumes", &resumes);
            char *kernels = NULL;
            if (study_attr_string(g, "blas_kernels", &kernels) == 0 ||
                study_attr_string(g, "blas_kernel", &kernels) == 0)
                snprintf(s->blas_kernels, sizeof s->blas_kernels, "%s", kernels);
            free(kernels);
            const char *now = uhn_blas_kernel();
            if (s->blas_kernels[0] && !kernel_listed(s->blas_kernels, now) &&
                !(complete && !is_partial))
                fprintf(stderr,
                        "uhn: warning: '%s' was computed with the BLAS kernel %s and this run "
                        "uses %s: its points and the ones computed now may differ in the last "
                        "bits from an uninterrupted run (OPENBLAS_CORETYPE picks the kernel)\n",
                        path, s->blas_kernels, now);
            if (study_attr_string(g, "start_time", &start) == 0) {
                struct tm tm;
                memset(&tm, 0, sizeof tm);
                if (strptime(start, "%Y-%m-%dT%H:%M:%SZ", &tm)) s->first_start = timegm(&tm);
            }
            free(start);
            H5Gclose(g);
        }
        /* A checkpoint whose points are all done still makes OUT: only a
         * complete OUT means there is nothing to do. */
        s->loaded_complete = complete && !is_partial;
        s->resumes = s->loaded_complete ? resumes : resumes + 1; /* this run resumes */
    }
    H5Fclose(fid);
    return st;
}

int study_io_init(study *s) {
    uhn_ctx *ctx = s->ctx;
    int st = build_effective(s);
    if (st == UHN_OK) st = alloc_results(s);
    if (st != UHN_OK) st = uhn_fail(ctx, UHN_ENOMEM, "out of memory for the results");
    UHN_CALL(uhn_agree(ctx, st));
    s->first_start = s->start;
    if (ctx->rank == 0 && !s->o->fresh) {
        struct stat sb;
        if (stat(s->partial, &sb) == 0)
            st = load_file(s, s->partial, 1);
        else if (stat(s->out, &sb) == 0)
            st = load_file(s, s->out, 0);
        else if (s->o->resume)
            st = uhn_fail(ctx, UHN_EINPUT,
                          "--resume: there is nothing to resume: neither '%s' "
                          "nor '%s' exists",
                          s->partial, s->out);
    }
    UHN_CALL(uhn_agree(ctx, st));
    int64_t flags[2] = {s->loaded_complete, s->resumes};
    UHN_MPI(ctx, MPI_Bcast(flags, 2, MPI_INT64_T, 0, ctx->comm));
    UHN_MPI(ctx, MPI_Bcast(s->done, (int)s->npoints, MPI_UINT8_T, 0, ctx->comm));
    s->loaded_complete = (int)flags[0];
    s->resumes = flags[1];
    if (ctx->rank == 0 && !s->quiet && s->loaded_complete)
        printf("uhn run: '%s' already holds the complete results of this deck (run with --fresh "
               "to compute them again)\n",
               s->out);
    return UHN_OK;
}
