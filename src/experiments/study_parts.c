/*
 * A sweep split into parts (`uhn run DECK --part I/K`) and their merge
 * (`uhn merge OUT PART.h5...`).
 *
 * A part file is a study results file (study_io.c) whose done flags mark the
 * points of its share only, with the attributes part_index, part_count and
 * part_points. Every per-point dataset has the sweep axes as its leading
 * dimensions, so the merge needs no knowledge of what the stages store: it
 * copies the first part, and for every dataset whose leading dimensions are
 * those of `done`, the slab of each point from the part that computed it.
 * Datasets that do not depend on the point (the axes, the encoders' models,
 * histogram edges) must be equal in every part: parts of one sweep computed
 * them alike.
 */
#define _POSIX_C_SOURCE 200809L /* strdup */
#include <hdf5.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "experiments/study_impl.h"

int uhn_study_part_path(const char *out, int64_t i, int64_t k, char *buf, size_t len) {
    size_t n = strlen(out);
    if (n >= 3 && !strcmp(out + n - 3, ".h5")) n -= 3;
    int w = snprintf(buf, len, "%.*s.part%" PRId64 "of%" PRId64 ".h5", (int)n, out, i, k);
    return w < 0 || (size_t)w >= len ? -1 : 0;
}

/* Parts that consecutive points fill, each up to `cap` of work (a point
 * heavier than cap fills one alone). */
static int64_t parts_needed(int64_t n, const double *work, double cap) {
    int64_t parts = 1;
    double load = 0;
    for (int64_t p = 0; p < n; ++p) {
        if (load > 0 && load + work[p] > cap) ++parts, load = 0;
        load += work[p];
    }
    return parts;
}

void uhn_study_shares(int64_t n, const double *work, int64_t k, int64_t *share) {
    /* The smallest cap with which k runs hold every point (bisection). */
    double lo = 0, hi = 0;
    for (int64_t p = 0; p < n; ++p) {
        lo = work[p] > lo ? work[p] : lo;
        hi += work[p];
    }
    for (int it = 0; it < 100 && hi > lo * (1 + 1e-12); ++it) {
        double mid = 0.5 * (lo + hi);
        if (parts_needed(n, work, mid) <= k)
            hi = mid;
        else
            lo = mid;
    }
    /* Fill the runs up to that cap, and start the next run early where the
     * points left are only enough to give every later run one. */
    int64_t i = 0;
    double load = 0;
    for (int64_t p = 0; p < n; ++p) {
        int full = load > 0 && load + work[p] > hi * (1 + 1e-12);
        if (p > 0 && i < k - 1 && (full || n - p <= k - 1 - i)) ++i, load = 0;
        share[p] = i;
        load += work[p];
    }
}

/* ------------------------------------------------------------------------ */
/* Merge (rank 0)                                                           */

#define MAX_DSETS 256

typedef struct part {
    const char *path;
    hid_t fid;
    int64_t index, count;
    uint8_t *done;
} part;

typedef struct merge {
    uhn_ctx *ctx;
    int n;      /* parts */
    part *p;    /* [n] */
    int64_t P;  /* points */
    int *owner; /* [P]: the part that computed each point */
    hsize_t axes[STUDY_NAXES];
    int nd;
    char *dset[MAX_DSETS]; /* the datasets of the first part */
} merge;

/* Opens part i and checks that it is a complete part of the same sweep as
 * part 0 (its deck; rank 0 compares every later part with the first). */
static int open_part(merge *m, int i) {
    uhn_ctx *ctx = m->ctx;
    part *q = &m->p[i];
    struct stat sb;
    if (stat(q->path, &sb) != 0) return uhn_fail(ctx, UHN_EINPUT, "'%s' does not exist", q->path);
    hid_t fapl = (hid_t)uhn_h5_serial_fapl();
    q->fid = fapl >= 0 ? H5Fopen(q->path, H5F_ACC_RDONLY, fapl) : H5I_INVALID_HID;
    H5Pclose(fapl);
    if (q->fid < 0) return uhn_fail(ctx, UHN_EINPUT, "'%s' is not an HDF5 file", q->path);
    char *title = NULL, *eff = NULL;
    study_attr_string(q->fid, "title", &title);
    study_attr_string(q->fid, "effective_deck", &eff);
    int64_t format = 0, complete = 0, pdone = 0, ppoints = 0;
    int st = UHN_OK;
    if (!title || strcmp(title, "uhn capacity study") || !eff ||
        study_attr_int64(q->fid, "format", &format) != 0)
        st = uhn_fail(ctx, UHN_EINPUT, "'%s' is not the results of a uhn run", q->path);
    else if (format != STUDY_FORMAT)
        st = uhn_fail(ctx, UHN_EINPUT,
                      "'%s' holds results format %" PRId64 "; this uhn merges format %d", q->path,
                      format, STUDY_FORMAT);
    else if (study_attr_int64(q->fid, "part_count", &q->count) != 0 ||
             study_attr_int64(q->fid, "part_index", &q->index) != 0)
        st = uhn_fail(ctx, UHN_EINPUT,
                      "'%s' holds a whole study, not a part of a sweep (uhn run --part I/K): it "
                      "needs no merge",
                      q->path);
    else if (study_attr_int64(q->fid, "complete", &complete) != 0 || complete != 1)
        st = uhn_fail(ctx, UHN_EINPUT,
                      "'%s': part %" PRId64 " of %" PRId64 " is not complete (%" PRId64
                      " of its %" PRId64 " points done); run its uhn run --part again to finish it",
                      q->path, q->index, q->count,
                      study_attr_int64(q->fid, "points_done", &pdone) == 0 ? pdone : 0,
                      study_attr_int64(q->fid, "part_points", &ppoints) == 0 ? ppoints : 0);
    if (st == UHN_OK && i > 0) {
        char *eff0 = NULL;
        study_attr_string(m->p[0].fid, "effective_deck", &eff0);
        char diff[512];
        if (eff0 && strcmp(eff0, eff)) {
            study_first_difference(eff0, eff, " against ", "", diff, sizeof diff);
            st = uhn_fail(ctx, UHN_EINPUT, "'%s' and '%s' are parts of different decks (%s)",
                          m->p[0].path, q->path, diff);
        } else if (q->count != m->p[0].count)
            st = uhn_fail(ctx, UHN_EINPUT,
                          "'%s' is part %" PRId64 " of %" PRId64 " but '%s' is part %" PRId64
                          " of %" PRId64 ": parts of different splits",
                          m->p[0].path, m->p[0].index, m->p[0].count, q->path, q->index, q->count);
        free(eff0);
    }
    free(title), free(eff);
    return st;
}

/* Reads part i's done flags, which have the sweep's shape (part 0 sets it). */
static int read_done(merge *m, int i) {
    part *q = &m->p[i];
    hid_t d = H5Lexists(q->fid, "done", H5P_DEFAULT) > 0 ? H5Dopen2(q->fid, "done", H5P_DEFAULT)
                                                         : H5I_INVALID_HID;
    hid_t sp = d >= 0 ? H5Dget_space(d) : H5I_INVALID_HID;
    hsize_t dims[STUDY_NAXES + 1];
    int rank = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
    int ok = rank == STUDY_NAXES && H5Sget_simple_extent_dims(sp, dims, NULL) == rank;
    if (ok && i == 0) {
        memcpy(m->axes, dims, sizeof m->axes);
        m->P = 1;
        for (int a = 0; a < STUDY_NAXES; ++a) m->P *= (int64_t)dims[a];
    }
    for (int a = 0; ok && a < STUDY_NAXES; ++a) ok = dims[a] == m->axes[a];
    if (ok) ok = (q->done = malloc((size_t)m->P)) != NULL;
    if (ok) ok = H5Dread(d, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, q->done) >= 0;
    if (sp >= 0) H5Sclose(sp);
    if (d >= 0) H5Dclose(d);
    if (!ok)
        return uhn_fail(m->ctx, UHN_EINPUT,
                        "'%s': dataset 'done' is missing or not the shape of the sweep; the file "
                        "is damaged",
                        q->path);
    return UHN_OK;
}

/* Every part once, every point done in exactly one part. */
static int check_cover(merge *m) {
    uhn_ctx *ctx = m->ctx;
    int64_t K = m->p[0].count;
    int *seen = malloc((size_t)K * sizeof *seen);
    m->owner = malloc((size_t)m->P * sizeof *m->owner);
    if (!seen || !m->owner) {
        free(seen);
        return uhn_fail(ctx, UHN_ENOMEM, "out of memory");
    }
    for (int64_t k = 0; k < K; ++k) seen[k] = -1;
    int st = UHN_OK;
    for (int i = 0; st == UHN_OK && i < m->n; ++i) {
        part *q = &m->p[i];
        if (q->index < 0 || q->index >= K)
            st = uhn_fail(ctx, UHN_EINPUT,
                          "'%s': its part_index %" PRId64 " is not in [0, %" PRId64
                          "); the file is damaged",
                          q->path, q->index, K);
        else if (seen[q->index] >= 0)
            st = uhn_fail(ctx, UHN_EINPUT, "'%s' and '%s' are both part %" PRId64 " of %" PRId64,
                          m->p[seen[q->index]].path, q->path, q->index, K);
        else
            seen[q->index] = i;
    }
    for (int64_t k = 0; st == UHN_OK && k < K; ++k)
        if (seen[k] < 0)
            st = uhn_fail(ctx, UHN_EINPUT,
                          "part %" PRId64 " of %" PRId64 " is missing (uhn merge needs all %" PRId64
                          " parts of the sweep)",
                          k, K, K);
    free(seen);
    for (int64_t p = 0; st == UHN_OK && p < m->P; ++p) {
        m->owner[p] = -1;
        for (int i = 0; st == UHN_OK && i < m->n; ++i) {
            if (!m->p[i].done[p]) continue;
            if (m->owner[p] >= 0)
                st = uhn_fail(ctx, UHN_EINPUT, "point %" PRId64 " is done in both '%s' and '%s'", p,
                              m->p[m->owner[p]].path, m->p[i].path);
            m->owner[p] = i;
        }
        if (st == UHN_OK && m->owner[p] < 0)
            st = uhn_fail(ctx, UHN_EINPUT, "point %" PRId64 " is done in none of the parts", p);
    }
    return st;
}

static herr_t list_dataset(hid_t obj, const char *name, const H5O_info_t *info, void *data) {
    (void)obj;
    merge *m = data;
    if (info->type != H5O_TYPE_DATASET) return 0;
    if (m->nd == MAX_DSETS) return -1;
    return (m->dset[m->nd++] = strdup(name)) ? 0 : -1;
}

/* The shape of dataset `name` of file fid; per_point: its leading dimensions
 * are the sweep's. Returns the element count (-1: no such dataset). */
static int64_t shape_of(merge *m, hid_t fid, const char *name, int *rank, hsize_t *dims,
                        int *per_point) {
    hid_t d = H5Dopen2(fid, name, H5P_DEFAULT);
    hid_t sp = d >= 0 ? H5Dget_space(d) : H5I_INVALID_HID;
    *rank = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
    int64_t count = -1;
    if (*rank >= 0 && *rank <= H5S_MAX_RANK && H5Sget_simple_extent_dims(sp, dims, NULL) >= 0) {
        count = 1;
        for (int a = 0; a < *rank; ++a) count *= (int64_t)dims[a];
    }
    *per_point = *rank >= STUDY_NAXES;
    for (int a = 0; *per_point && a < STUDY_NAXES; ++a) *per_point = dims[a] == m->axes[a];
    if (sp >= 0) H5Sclose(sp);
    if (d >= 0) H5Dclose(d);
    return count;
}

/* A dataset that does not depend on the point is the same in part i as in
 * part 0 (strings compared as text, numbers bit for bit). */
static int check_same(merge *m, int i, const char *name) {
    hid_t d0 = H5Dopen2(m->p[0].fid, name, H5P_DEFAULT);
    hid_t di = H5Lexists(m->p[i].fid, name, H5P_DEFAULT) > 0
                   ? H5Dopen2(m->p[i].fid, name, H5P_DEFAULT)
                   : H5I_INVALID_HID;
    hid_t t0 = d0 >= 0 ? H5Dget_type(d0) : H5I_INVALID_HID;
    hid_t mt = t0 >= 0 ? H5Tget_native_type(t0, H5T_DIR_ASCEND) : H5I_INVALID_HID;
    int vlen = mt >= 0 && H5Tis_variable_str(mt) > 0;
    int r0, ri, pp;
    hsize_t dims0[H5S_MAX_RANK], dimsi[H5S_MAX_RANK];
    int64_t c0 = shape_of(m, m->p[0].fid, name, &r0, dims0, &pp);
    int64_t ci = di >= 0 ? shape_of(m, m->p[i].fid, name, &ri, dimsi, &pp) : -2;
    size_t size = mt >= 0 ? H5Tget_size(mt) : 0;
    int same = c0 >= 0 && ci == c0 && ri == r0 && !memcmp(dims0, dimsi, (size_t)r0 * sizeof *dims0);
    char *b0 = NULL, *bi = NULL;
    if (same && c0 > 0) {
        b0 = calloc((size_t)c0, size);
        bi = calloc((size_t)c0, size);
        same = b0 && bi && H5Dread(d0, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, b0) >= 0 &&
               H5Dread(di, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, bi) >= 0;
        if (same && vlen) {
            for (int64_t j = 0; same && j < c0; ++j) {
                const char *x = ((char **)b0)[j], *y = ((char **)bi)[j];
                same = x && y && !strcmp(x, y);
            }
            hid_t sp = H5Dget_space(d0);
            H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, b0);
            H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, bi);
            H5Sclose(sp);
        } else if (same)
            same = !memcmp(b0, bi, (size_t)c0 * size);
    }
    free(b0), free(bi);
    if (mt >= 0) H5Tclose(mt);
    if (t0 >= 0) H5Tclose(t0);
    if (di >= 0) H5Dclose(di);
    if (d0 >= 0) H5Dclose(d0);
    if (same) return UHN_OK;
    return uhn_fail(m->ctx, UHN_EINPUT,
                    "'%s' and '%s' differ in '%s', which is the same for every point of a sweep: "
                    "they are not parts of one run",
                    m->p[0].path, m->p[i].path, name);
}

/* Copies every point's slab of per-point dataset `name` that part i computed
 * into the merged file. */
static int copy_points(merge *m, hid_t out, int i, const char *name) {
    int rank, pp;
    hsize_t dims[H5S_MAX_RANK];
    shape_of(m, m->p[i].fid, name, &rank, dims, &pp);
    hid_t src = H5Dopen2(m->p[i].fid, name, H5P_DEFAULT);
    hid_t dst = H5Dopen2(out, name, H5P_DEFAULT);
    hid_t ft = src >= 0 ? H5Dget_type(src) : H5I_INVALID_HID;
    hid_t mt = ft >= 0 ? H5Tget_native_type(ft, H5T_DIR_ASCEND) : H5I_INVALID_HID;
    hid_t fs = src >= 0 ? H5Dget_space(src) : H5I_INVALID_HID;
    hid_t ds = dst >= 0 ? H5Dget_space(dst) : H5I_INVALID_HID;
    hsize_t start[H5S_MAX_RANK], count[H5S_MAX_RANK], slab = 1;
    for (int a = 0; a < rank; ++a) {
        start[a] = 0;
        count[a] = a < STUDY_NAXES ? 1 : dims[a];
        if (a >= STUDY_NAXES) slab *= dims[a];
    }
    hid_t ms = H5Screate_simple(rank, count, NULL);
    void *buf = mt >= 0 ? malloc((size_t)(slab ? slab : 1) * H5Tget_size(mt)) : NULL;
    int ok = src >= 0 && dst >= 0 && mt >= 0 && fs >= 0 && ds >= 0 && ms >= 0 && buf;
    for (int64_t p = 0; ok && p < m->P; ++p) {
        if (m->owner[p] != i) continue;
        for (int64_t a = STUDY_NAXES - 1, r = p; a >= 0; --a) { /* unravel p */
            start[a] = (hsize_t)r % m->axes[a];
            r /= (int64_t)m->axes[a];
        }
        ok = H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) >= 0 &&
             H5Sselect_hyperslab(ds, H5S_SELECT_SET, start, NULL, count, NULL) >= 0 &&
             H5Dread(src, mt, ms, fs, H5P_DEFAULT, buf) >= 0 &&
             H5Dwrite(dst, mt, ms, ds, H5P_DEFAULT, buf) >= 0;
    }
    free(buf);
    if (ms >= 0) H5Sclose(ms);
    if (ds >= 0) H5Sclose(ds);
    if (fs >= 0) H5Sclose(fs);
    if (mt >= 0) H5Tclose(mt);
    if (ft >= 0) H5Tclose(ft);
    if (dst >= 0) H5Dclose(dst);
    if (src >= 0) H5Dclose(src);
    if (ok) return UHN_OK;
    return uhn_fail(m->ctx, UHN_EIO, "cannot copy dataset '%s' of '%s' into the merged file", name,
                    m->p[i].path);
}

/* The whole of file `path`, malloc'ed. */
static int read_image(uhn_ctx *ctx, const char *path, char **image, size_t *size) {
    FILE *f = fopen(path, "rb");
    long n = -1;
    if (f && fseek(f, 0, SEEK_END) == 0) n = ftell(f);
    *image = n > 0 ? malloc((size_t)n) : NULL;
    int ok = *image && fseek(f, 0, SEEK_SET) == 0 && fread(*image, 1, (size_t)n, f) == (size_t)n;
    if (f) fclose(f);
    *size = ok ? (size_t)n : 0;
    if (ok) return UHN_OK;
    free(*image), *image = NULL;
    return uhn_fail(ctx, UHN_EIO, "cannot read '%s'", path);
}

/* The merged file: part 0 with every other part's points, marked complete
 * and whole (no part attributes), the parts named in its provenance. */
static int write_merged(merge *m, const char *out, int argc, char **argv) {
    uhn_ctx *ctx = m->ctx;
    char *image = NULL;
    size_t size = 0;
    UHN_CALL(read_image(ctx, m->p[0].path, &image, &size));
    uhn_h5_writer *w = NULL;
    int st = uhn_h5_writer_from_image(ctx, out, image, size, &w);
    free(image);
    UHN_CALL(st);
    hid_t fid = (hid_t)uhn_h5_writer_fid(w);
    for (int d = 0; st == UHN_OK && d < m->nd; ++d) {
        int rank, pp;
        hsize_t dims[H5S_MAX_RANK];
        shape_of(m, fid, m->dset[d], &rank, dims, &pp);
        for (int i = 1; st == UHN_OK && pp && i < m->n; ++i)
            st = copy_points(m, fid, i, m->dset[d]);
    }
    const char *drop[] = {"part_index", "part_count", "part_points"};
    for (int a = 0; st == UHN_OK && a < 3; ++a)
        if (H5Adelete(fid, drop[a]) < 0)
            st = uhn_fail(ctx, UHN_EIO, "cannot remove attribute '%s' in '%s'", drop[a], out);
    if (st == UHN_OK) st = uhn_h5_attr_int64(w, "/", "points_done", m->P);
    if (st == UHN_OK) st = uhn_h5_attr_int64(w, "/", "complete", 1);
    /* Provenance: the parts, and this command. */
    size_t len = 1;
    for (int i = 0; i < m->n; ++i) len += strlen(m->p[i].path) + 1;
    for (int i = 0; i < argc; ++i) len += strlen(argv[i]) + 1;
    char *from = malloc(len), *cmd = malloc(len);
    if (st == UHN_OK && (!from || !cmd)) st = uhn_fail(ctx, UHN_ENOMEM, "out of memory");
    if (st == UHN_OK && from && cmd) {
        from[0] = cmd[0] = '\0';
        size_t at = 0;
        for (int i = 0; i < m->n; ++i)
            at += (size_t)snprintf(from + at, len - at, "%s%s", i ? "\n" : "", m->p[i].path);
        at = 0;
        for (int i = 0; i < argc; ++i)
            at += (size_t)snprintf(cmd + at, len - at, "%s%s", i ? " " : "", argv[i]);
        char when[32];
        time_t now = time(NULL);
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
        st = uhn_h5_attr_string(w, "provenance", "merged_from", from);
        if (st == UHN_OK) st = uhn_h5_attr_string(w, "provenance", "merge_command", cmd);
        if (st == UHN_OK) st = uhn_h5_attr_string(w, "provenance", "merge_time", when);
    }
    free(from), free(cmd);
    if (st != UHN_OK) {
        uhn_h5_writer_abort(w);
        return st;
    }
    return uhn_h5_writer_commit(w);
}

static int merge_rank0(uhn_ctx *ctx, const char *out, int nparts, char *const *parts, int argc,
                       char **argv) {
    merge m;
    memset(&m, 0, sizeof m);
    m.ctx = ctx;
    m.n = nparts;
    m.p = calloc((size_t)nparts, sizeof *m.p);
    if (!m.p) return uhn_fail(ctx, UHN_ENOMEM, "out of memory");
    for (int i = 0; i < nparts; ++i) m.p[i].fid = H5I_INVALID_HID, m.p[i].path = parts[i];
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* this module reports its own errors */
    int st = UHN_OK;
    for (int i = 0; st == UHN_OK && i < nparts; ++i)
        if (uhn_h5_same_file(out, parts[i]) == 1)
            st = uhn_fail(ctx, UHN_EINPUT, "the merged file '%s' is one of the parts", out);
    for (int i = 0; st == UHN_OK && i < nparts; ++i) st = open_part(&m, i);
    for (int i = 0; st == UHN_OK && i < nparts; ++i) st = read_done(&m, i);
    if (st == UHN_OK) st = check_cover(&m);
    if (st == UHN_OK &&
        H5Ovisit2(m.p[0].fid, H5_INDEX_NAME, H5_ITER_INC, list_dataset, &m, H5O_INFO_BASIC) < 0)
        st = uhn_fail(ctx, UHN_EINPUT, "'%s': cannot list its datasets (more than %d?)",
                      m.p[0].path, MAX_DSETS);
    for (int d = 0; st == UHN_OK && d < m.nd; ++d) {
        int rank, pp;
        hsize_t dims[H5S_MAX_RANK];
        shape_of(&m, m.p[0].fid, m.dset[d], &rank, dims, &pp);
        for (int i = 1; st == UHN_OK && !pp && i < nparts; ++i) st = check_same(&m, i, m.dset[d]);
    }
    if (st == UHN_OK) st = write_merged(&m, out, argc, argv);
    for (int i = 0; i < nparts; ++i) {
        if (m.p[i].fid >= 0) H5Fclose(m.p[i].fid);
        free(m.p[i].done);
    }
    for (int d = 0; d < m.nd; ++d) free(m.dset[d]);
    free(m.p), free(m.owner);
    return st;
}

int uhn_study_merge(uhn_ctx *ctx, const char *out, int nparts, char *const *parts, int argc,
                    char **argv) {
    UHN_CALL(uhn_h5_check_output(ctx, out, "the merged file"));
    int st = ctx->rank == 0 ? merge_rank0(ctx, out, nparts, parts, argc, argv) : UHN_OK;
    return uhn_agree(ctx, st);
}
