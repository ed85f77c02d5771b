/*
 * HDF5 I/O of uhn (see uhn/h5io.h): dataset names and shapes, collective
 * MPI-IO reads of row blocks, replicated reads of small datasets, and the
 * atomic writer of result files.
 *
 * Collective reads follow one pattern: every step that could fail on one rank
 * only (argument checks, opening objects, building selections) is agreed with
 * uhn_agree before the next collective HDF5 call, so a failure never leaves a
 * rank waiting inside MPI-IO.
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <cblas.h>
#include <hdf5.h>
#include <hdf5_hl.h>

#include "core/fault.h"
#include "uhn/h5io.h"
#include "uhn/version.h"

/* Bytes moved by one collective read round or one broadcast: well below the
 * 2 GiB limit of MPI counts and of some MPI-IO implementations. */
#ifndef IO_ROUND_BYTES /* overridable to test the rounds on tiny data */
#define IO_ROUND_BYTES ((size_t)1 << 30)
#endif

/* Expands to the "role: " prefix of a message. */
#define ROLE(n) (n)->role, ((n)->role[0] ? ": " : "")

static const struct {
    const char *name;
    size_t size;
} type_table[UHN_H5_NTYPES] = {
    [UHN_H5_FLOAT32] = {"float32", 4}, [UHN_H5_FLOAT64] = {"float64", 8},
    [UHN_H5_INT32] = {"int32", 4},     [UHN_H5_INT64] = {"int64", 8},
    [UHN_H5_UINT8] = {"uint8", 1},
};

size_t uhn_h5_type_size(uhn_h5_type t) {
    return (t >= 0 && t < UHN_H5_NTYPES) ? type_table[t].size : 0;
}

/* The HDF5 ids of a memory type (native) and its file type (little-endian
 * standard, so files are the same on every machine). H5T_NATIVE_* are run-time
 * values, hence a switch rather than a static table. */
static hid_t native_type(uhn_h5_type t) {
    switch (t) {
    case UHN_H5_FLOAT32:
        return H5T_NATIVE_FLOAT;
    case UHN_H5_FLOAT64:
        return H5T_NATIVE_DOUBLE;
    case UHN_H5_INT32:
        return H5T_NATIVE_INT32;
    case UHN_H5_INT64:
        return H5T_NATIVE_INT64;
    case UHN_H5_UINT8:
        return H5T_NATIVE_UINT8;
    default:
        return H5I_INVALID_HID;
    }
}

static hid_t file_type(uhn_h5_type t) {
    switch (t) {
    case UHN_H5_FLOAT32:
        return H5T_IEEE_F32LE;
    case UHN_H5_FLOAT64:
        return H5T_IEEE_F64LE;
    case UHN_H5_INT32:
        return H5T_STD_I32LE;
    case UHN_H5_INT64:
        return H5T_STD_I64LE;
    case UHN_H5_UINT8:
        return H5T_STD_U8LE;
    default:
        return H5I_INVALID_HID;
    }
}

/* Switches off HDF5's printing of its error stack: uhn reports one line. */
static int h5_quiet(uhn_ctx *ctx) {
    if (H5Eset_auto2(H5E_DEFAULT, NULL, NULL) < 0)
        return uhn_fail(ctx, UHN_EIO, "could not initialise the HDF5 library");
    return UHN_OK;
}

/* File access for one-rank opens: HDF5's file locks are kept, but a file
 * system with locking disabled (common for parallel file systems) is not an
 * error. MPI-IO access does not lock. */
int64_t uhn_h5_serial_fapl(void) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
#if H5_VERSION_GE(1, 10, 7)
    if (fapl >= 0 && H5Pset_file_locking(fapl, 1, 1) < 0) {
        H5Pclose(fapl);
        return H5I_INVALID_HID;
    }
#endif
    return fapl;
}

/* How to close each kind of HDF5 id. */
static const struct {
    H5I_type_t type;
    herr_t (*close)(hid_t);
} closers[] = {
    {H5I_FILE, H5Fclose},        {H5I_GROUP, H5Gclose},    {H5I_DATASET, H5Dclose},
    {H5I_DATASPACE, H5Sclose},   {H5I_DATATYPE, H5Tclose}, {H5I_ATTR, H5Aclose},
    {H5I_GENPROP_LST, H5Pclose},
};

/* Closes *id if it is open and marks it closed. Returns st, or UHN_EIO when st
 * was UHN_OK and the close failed (a failed close can lose written data). */
static int h5_close(uhn_ctx *ctx, hid_t *id, int st) {
    if (*id < 0) return st;
    H5I_type_t t = H5Iget_type(*id);
    herr_t rc = -1;
    for (size_t i = 0; i < sizeof closers / sizeof closers[0]; ++i)
        if (closers[i].type == t) rc = closers[i].close(*id);
    *id = H5I_INVALID_HID;
    if (rc < 0 && st == UHN_OK) return uhn_fail(ctx, UHN_EIO, "closing an HDF5 object failed");
    return st;
}

/* ------------------------------------------------------------------------ */
/* Names                                                                    */

static int is_file(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && !S_ISDIR(sb.st_mode);
}

int uhn_h5_name_parse(uhn_ctx *ctx, const char *arg, const char *default_dataset, const char *role,
                      uhn_h5_name *out) {
    memset(out, 0, sizeof *out);
    snprintf(out->role, sizeof out->role, "%s", role ? role : "");
    size_t len = strlen(arg);
    size_t split = len; /* index of the ':' that ends the file name, or len */
    if (!is_file(arg)) {
        const char *last = strrchr(arg, ':');
        if (last) split = (size_t)(last - arg);
        /* Prefer the last ':' whose prefix is an existing file. */
        for (size_t i = len; i-- > 0;) {
            if (arg[i] != ':' || i >= UHN_H5_PATH_MAX) continue;
            char prefix[UHN_H5_PATH_MAX];
            memcpy(prefix, arg, i);
            prefix[i] = '\0';
            if (is_file(prefix)) {
                split = i;
                break;
            }
        }
    }
    const char *dset = split < len ? arg + split + 1 : default_dataset;
    if (split == 0)
        return uhn_fail(ctx, UHN_EINPUT, "%s%sno file name in '%s' (expected FILE[:DATASET])",
                        ROLE(out), arg);
    if (!dset || !*dset)
        return uhn_fail(ctx, UHN_EINPUT, "%s%sno dataset name after ':' in '%s'", ROLE(out), arg);
    if (split >= sizeof out->file)
        return uhn_fail(ctx, UHN_EINPUT, "%s%sfile name too long in '%.64s...'", ROLE(out), arg);
    if (strlen(dset) >= sizeof out->dataset)
        return uhn_fail(ctx, UHN_EINPUT, "%s%sdataset name too long in '%.64s...'", ROLE(out), arg);
    memcpy(out->file, arg, split);
    out->file[split] = '\0';
    snprintf(out->dataset, sizeof out->dataset, "%s", dset);
    snprintf(out->label, sizeof out->label, "%s:%s", out->file, out->dataset);
    return UHN_OK;
}

int uhn_h5_same_file(const char *a, const char *b) {
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

/* ------------------------------------------------------------------------ */
/* Types and shapes                                                         */

static const struct {
    H5T_class_t cls;
    const char *name;
} class_names[] = {
    {H5T_STRING, "string"},        {H5T_COMPOUND, "compound"},
    {H5T_OPAQUE, "opaque"},        {H5T_REFERENCE, "reference"},
    {H5T_VLEN, "variable-length"}, {H5T_ARRAY, "array"},
    {H5T_BITFIELD, "bitfield"},    {H5T_TIME, "time"},
};

/* Describes a file type in `desc`; returns 1 when uhn can read it as numbers
 * (integer, float, or an enumeration over an integer such as h5py's bool). */
static int describe_type(hid_t ftype, char desc[32]) {
    H5T_class_t cls = H5Tget_class(ftype);
    size_t bits = 8 * H5Tget_size(ftype);
    snprintf(desc, 32, "unknown");
    if (cls == H5T_INTEGER) {
        snprintf(desc, 32, "%sint%zu", H5Tget_sign(ftype) == H5T_SGN_NONE ? "u" : "", bits);
        return 1;
    }
    if (cls == H5T_FLOAT) {
        snprintf(desc, 32, "float%zu", bits);
        return 1;
    }
    if (cls == H5T_ENUM) {
        hid_t super = H5Tget_super(ftype);
        int ok = super >= 0 && H5Tget_class(super) == H5T_INTEGER;
        if (super >= 0) H5Tclose(super);
        snprintf(desc, 32, "%s", H5Tget_nmembers(ftype) == 2 && bits == 8 ? "bool" : "enum");
        return ok;
    }
    for (size_t i = 0; i < sizeof class_names / sizeof class_names[0]; ++i)
        if (class_names[i].cls == cls) snprintf(desc, 32, "%s", class_names[i].name);
    return 0;
}

/* Appends the names of the objects at the root of a file to a message. */
typedef struct {
    char *buf;
    size_t cap, len;
    int count;
} name_list;

static herr_t list_one(hid_t group, const char *name, const H5L_info_t *info, void *data) {
    (void)group;
    (void)info;
    name_list *l = data;
    if (l->count++ >= 8) return 1; /* enough to orient the user */
    int n = snprintf(l->buf + l->len, l->cap - l->len, "%s%s", l->count > 1 ? ", " : "", name);
    if (n > 0) l->len += (size_t)n < l->cap - l->len ? (size_t)n : l->cap - l->len - 1;
    return 0;
}

/* Opens a file read-only with the default (serial) driver, explaining a
 * failure: missing, a directory, unreadable, or not HDF5. */
static int open_file_serial(uhn_ctx *ctx, const uhn_h5_name *n, hid_t *fid) {
    struct stat sb;
    if (stat(n->file, &sb) != 0)
        return uhn_fail(ctx, UHN_EINPUT, "%s%scannot open '%s': %s", ROLE(n), n->file,
                        strerror(errno));
    if (S_ISDIR(sb.st_mode))
        return uhn_fail(ctx, UHN_EINPUT, "%s%s'%s' is a directory, not an HDF5 file", ROLE(n),
                        n->file);
    if (access(n->file, R_OK) != 0)
        return uhn_fail(ctx, UHN_EINPUT, "%s%scannot read '%s': %s", ROLE(n), n->file,
                        strerror(errno));
    hid_t fapl = (hid_t)uhn_h5_serial_fapl();
    *fid = fapl < 0 ? H5I_INVALID_HID : H5Fopen(n->file, H5F_ACC_RDONLY, fapl);
    if (fapl >= 0) H5Pclose(fapl);
    if (*fid < 0)
        return uhn_fail(ctx, UHN_EINPUT, "%s%s'%s' is not an HDF5 file (or it is damaged)", ROLE(n),
                        n->file);
    return UHN_OK;
}

/*
 * Refuses a dataset stored through a filter (compression, checksum) that this
 * HDF5 library does not have or cannot decode, naming it: otherwise only the
 * read fails, with no reason given. h5py's 'lzf' (id 32000) is the common case:
 * h5py carries it, most HDF5 builds do not. Every filter counts, optional ones
 * too (h5py sets lzf optional, yet its chunks are compressed).
 */
static int check_filters(uhn_ctx *ctx, const uhn_h5_name *n, hid_t did) {
    hid_t dcpl = H5Dget_create_plist(did);
    int nf = dcpl < 0 ? -1 : H5Pget_nfilters(dcpl);
    int st = UHN_OK;
    if (nf < 0)
        st = uhn_fail(ctx, UHN_EIO, "%s%scannot read the storage properties of %s", ROLE(n),
                      n->label);
    for (int i = 0; st == UHN_OK && i < nf; ++i) {
        unsigned flags = 0, cd[16], config = 0, info = 0;
        size_t ncd = sizeof cd / sizeof cd[0];
        char fname[80] = "";
        H5Z_filter_t id =
            H5Pget_filter2(dcpl, (unsigned)i, &flags, &ncd, cd, sizeof fname, fname, &config);
        if (id < 0) {
            st = uhn_fail(ctx, UHN_EIO, "%s%scannot read filter %d of %s", ROLE(n), i, n->label);
            break;
        }
        for (char *c = fname; *c; ++c) /* the name comes from the file: keep one line */
            if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e) *c = '?';
        htri_t avail = H5Zfilter_avail(id);
        const char *lack = NULL;
        if (avail <= 0)
            lack = "which this HDF5 library does not have";
        else if (H5Zget_filter_info(id, &info) < 0 || !(info & H5Z_FILTER_CONFIG_DECODE_ENABLED))
            lack = "which this HDF5 library cannot decode";
        if (lack)
            st = uhn_fail(ctx, UHN_EINPUT, "%s%s%s: compressed with filter '%s' (id %d), %s",
                          ROLE(n), n->label, fname[0] ? fname : "unnamed", (int)id, lack);
    }
    return h5_close(ctx, &dcpl, st);
}

/* Opens the dataset, explaining a missing object, one that is not a dataset,
 * and one whose filters this HDF5 library lacks. */
static int open_dataset(uhn_ctx *ctx, const uhn_h5_name *n, hid_t fid, hid_t *did) {
    hid_t oid = H5Oopen(fid, n->dataset, H5P_DEFAULT);
    if (oid < 0) {
        char names[512] = "";
        name_list l = {names, sizeof names, 0, 0};
        hsize_t idx = 0;
        herr_t rc = H5Literate(fid, H5_INDEX_NAME, H5_ITER_INC, &idx, list_one, &l);
        if (rc < 0 || l.count == 0)
            return uhn_fail(ctx, UHN_EINPUT, "%s%sno dataset '%s' in '%s'", ROLE(n), n->dataset,
                            n->file);
        return uhn_fail(ctx, UHN_EINPUT, "%s%sno dataset '%s' in '%s' (its root holds: %s%s)",
                        ROLE(n), n->dataset, n->file, names, l.count > 8 ? ", ..." : "");
    }
    if (H5Iget_type(oid) != H5I_DATASET) {
        const char *what = H5Iget_type(oid) == H5I_GROUP ? "a group" : "not a dataset";
        H5Oclose(oid);
        return uhn_fail(ctx, UHN_EINPUT, "%s%s'%s' in '%s' is %s, not a dataset", ROLE(n),
                        n->dataset, n->file, what);
    }
    int st = check_filters(ctx, n, oid);
    if (st != UHN_OK) {
        H5Oclose(oid);
        return st;
    }
    *did = oid;
    return UHN_OK;
}

/* Reads the shape and type of an open dataset. */
static int dataset_info(uhn_ctx *ctx, const uhn_h5_name *n, hid_t did, uhn_h5_info *info) {
    int st = UHN_OK;
    hid_t ftype = H5Dget_type(did), space = H5Dget_space(did);
    memset(info, 0, sizeof *info);
    if (ftype < 0 || space < 0) {
        st = uhn_fail(ctx, UHN_EIO, "%s%scannot read the type and shape of %s", ROLE(n), n->label);
    } else if (!describe_type(ftype, info->type)) {
        st = uhn_fail(ctx, UHN_EINPUT, "%s%sdataset %s has type %s; a numeric type is required",
                      ROLE(n), n->label, info->type);
    } else if (H5Sget_simple_extent_type(space) == H5S_NULL) {
        st = uhn_fail(ctx, UHN_EINPUT, "%s%sdataset %s holds no data (null dataspace)", ROLE(n),
                      n->label);
    } else {
        int rank = H5Sget_simple_extent_ndims(space);
        hsize_t d[H5S_MAX_RANK];
        if (rank < 0 || H5Sget_simple_extent_dims(space, d, NULL) < 0)
            st = uhn_fail(ctx, UHN_EIO, "%s%scannot read the shape of %s", ROLE(n), n->label);
        else if (rank > UHN_H5_MAX_RANK)
            st = uhn_fail(ctx, UHN_EINPUT, "%s%sdataset %s has %d dimensions (at most %d)", ROLE(n),
                          n->label, rank, UHN_H5_MAX_RANK);
        for (int i = 0; st == UHN_OK && i < rank; ++i) {
            if (d[i] > (hsize_t)INT64_MAX)
                st = uhn_fail(ctx, UHN_EINPUT, "%s%sdataset %s is too large", ROLE(n), n->label);
            info->dims[i] = (int64_t)d[i];
        }
        info->rank = rank;
    }
    st = h5_close(ctx, &ftype, st);
    return h5_close(ctx, &space, st);
}

static int info_local(uhn_ctx *ctx, const uhn_h5_name *n, uhn_h5_info *info) {
    hid_t fid = H5I_INVALID_HID, did = H5I_INVALID_HID;
    int st = open_file_serial(ctx, n, &fid);
    if (st == UHN_OK) st = open_dataset(ctx, n, fid, &did);
    if (st == UHN_OK) st = dataset_info(ctx, n, did, info);
    st = h5_close(ctx, &did, st);
    return h5_close(ctx, &fid, st);
}

static int info_get(uhn_ctx *ctx, const uhn_h5_name *n, uhn_h5_info *info) {
    int st = h5_quiet(ctx);
    memset(info, 0, sizeof *info);
    if (st == UHN_OK && ctx->rank == 0) st = info_local(ctx, n, info);
    UHN_CALL(uhn_agree(ctx, st));
    UHN_MPI(ctx, MPI_Bcast(info, (int)sizeof *info, MPI_BYTE, 0, ctx->comm));
    return UHN_OK;
}

int uhn_h5_info_get(uhn_ctx *ctx, const uhn_h5_name *name, uhn_h5_info *info) {
    double t0 = uhn_wtime();
    int st = info_get(ctx, name, info);
    ctx->timers.io += uhn_wtime() - t0;
    return st;
}

int64_t uhn_h5_info_count(const uhn_h5_info *info) {
    /* Extents are <= INT64_MAX each (dataset_info), but a chunked dataset may
     * declare more elements than 64 bits hold: the count then saturates. */
    for (int i = 0; i < info->rank; ++i)
        if (info->dims[i] == 0) return 0;
    int64_t c = 1;
    for (int i = 0; i < info->rank; ++i) {
        if (c > INT64_MAX / info->dims[i]) return INT64_MAX;
        c *= info->dims[i];
    }
    return c;
}

const char *uhn_h5_shape_text(const uhn_h5_info *info, char *buf, size_t len) {
    size_t n = 0;
    buf[0] = '\0';
    if (info->rank == 0) snprintf(buf, len, "a scalar");
    for (int i = 0; i < info->rank && n < len; ++i) {
        int w = snprintf(buf + n, len - n, "[%lld]", (long long)info->dims[i]);
        if (w > 0) n += (size_t)w;
    }
    return buf;
}

int uhn_h5_check_matrix(uhn_ctx *ctx, const uhn_h5_name *n, const uhn_h5_info *info,
                        const char *expect) {
    char s[128];
    if (info->rank != 2)
        return uhn_fail(ctx, UHN_EINPUT, "%s: dataset %s is %s (%d-D); expected a 2-D %s array",
                        n->role, n->label, uhn_h5_shape_text(info, s, sizeof s), info->rank,
                        expect);
    if (info->dims[0] == 0 || info->dims[1] == 0)
        return uhn_fail(ctx, UHN_EINPUT, "%s: dataset %s is empty (%s)", n->role, n->label,
                        uhn_h5_shape_text(info, s, sizeof s));
    return UHN_OK;
}

/* ------------------------------------------------------------------------ */
/* Reading                                                                  */

/* Where element e of a selection is, for messages: the selection starts at
 * row `row0` of rows of `ncols` elements (ncols 0: a 1-D or scalar dataset). */
typedef struct {
    int64_t row0, ncols;
} sel_origin;

/*
 * Reads a float64 (or wider) selection as float32 through a double buffer, so
 * that a finite value beyond float32's range is reported as what it is rather
 * than becoming Inf (HDF5 converts an overflow to Inf silently, and the later
 * finiteness checks would call the data "Inf"). Collective like read_converted.
 */
static int read_narrowed(uhn_ctx *ctx, const uhn_h5_name *n, hid_t did, hid_t mspace, hid_t fspace,
                         hid_t dxpl, int64_t nelem, sel_origin at, float *dest) {
    double dummy[1];
    double *wide = nelem > 0 ? malloc((size_t)nelem * sizeof *wide) : NULL;
    if (nelem > 0 && !wide) return uhn_fail(ctx, UHN_ENOMEM, "out of memory reading %s", n->label);
    int st = UHN_OK;
    if (H5Dread(did, H5T_NATIVE_DOUBLE, mspace, fspace, dxpl, wide ? wide : dummy) < 0)
        st = uhn_fail(ctx, UHN_EIO, "%s%sreading %s failed", ROLE(n), n->label);
    for (int64_t e = 0; st == UHN_OK && e < nelem; ++e) {
        double v = wide[e];
        float f = (float)v; /* IEEE: out of range rounds to +-Inf */
        if (isfinite(v) && !isfinite(f)) {
            if (at.ncols > 0)
                st = uhn_fail(ctx, UHN_EINPUT,
                              "%s%s%s: row %lld column %lld is %g, which overflows float32",
                              ROLE(n), n->label, (long long)(at.row0 + e / at.ncols),
                              (long long)(e % at.ncols), v);
            else
                st =
                    uhn_fail(ctx, UHN_EINPUT, "%s%s%s: element %lld is %g, which overflows float32",
                             ROLE(n), n->label, (long long)(at.row0 + e), v);
        }
        dest[e] = f;
    }
    free(wide);
    return st;
}

/*
 * Reads the current selection (nelem elements) of an open dataset as `mem`
 * into dest. Numbers convert inside H5Dread, except floats wider than float32
 * read as float32, which go through read_narrowed to catch overflows (`at`
 * places the selection for its message). An enumeration (h5py's bool) is
 * read as its native self and its integer values converted with H5Tconvert,
 * because HDF5 does not convert enumerations to numbers. Collective when dxpl
 * asks for collective transfers (every rank calls it, nelem may be 0).
 */
static int read_converted(uhn_ctx *ctx, const uhn_h5_name *n, hid_t did, uhn_h5_type mem,
                          hid_t mspace, hid_t fspace, hid_t dxpl, int64_t nelem, sel_origin at,
                          void *dest) {
    int st = UHN_OK;
    hid_t ftype = H5Dget_type(did), etype = H5I_INVALID_HID, super = H5I_INVALID_HID;
    void *scratch = NULL;
    double dummy[1];
    size_t msize = uhn_h5_type_size(mem);
    if (ftype < 0)
        return uhn_fail(ctx, UHN_EIO, "%s%scannot read the type of %s", ROLE(n), n->label);
    if (!dest || nelem == 0) dest = dummy; /* nothing selected; HDF5 wants a buffer */
    /* The same path on every rank (nelem may differ): the read is collective. */
    if (mem == UHN_H5_FLOAT32 && H5Tget_class(ftype) == H5T_FLOAT &&
        H5Tget_size(ftype) > sizeof(float)) {
        st = read_narrowed(ctx, n, did, mspace, fspace, dxpl,
                           nelem > 0 && dest != dummy ? nelem : 0, at, dest);
    } else if (H5Tget_class(ftype) != H5T_ENUM) {
        if (H5Dread(did, native_type(mem), mspace, fspace, dxpl, dest) < 0)
            st = uhn_fail(ctx, UHN_EIO, "%s%sreading %s failed", ROLE(n), n->label);
    } else {
        etype = H5Tget_native_type(ftype, H5T_DIR_ASCEND);
        super = etype >= 0 ? H5Tget_super(etype) : H5I_INVALID_HID;
        size_t esize = etype >= 0 ? H5Tget_size(etype) : 0;
        void *target = dest;
        if (super < 0 || esize == 0) {
            st = uhn_fail(ctx, UHN_EIO, "%s%scannot convert the enumeration type of %s", ROLE(n),
                          n->label);
        } else if (esize > msize && nelem > 0) {
            target = scratch = malloc((size_t)nelem * esize);
            if (!scratch) st = uhn_fail(ctx, UHN_ENOMEM, "out of memory reading %s", n->label);
        }
        if (st == UHN_OK && H5Dread(did, etype, mspace, fspace, dxpl, target) < 0)
            st = uhn_fail(ctx, UHN_EIO, "%s%sreading %s failed", ROLE(n), n->label);
        if (st == UHN_OK && nelem > 0 &&
            H5Tconvert(super, native_type(mem), (size_t)nelem, target, NULL, H5P_DEFAULT) < 0)
            st = uhn_fail(ctx, UHN_EIO, "%s%sconverting %s to %s failed", ROLE(n), n->label,
                          type_table[mem].name);
        if (st == UHN_OK && scratch) memcpy(dest, scratch, (size_t)nelem * msize);
    }
    free(scratch);
    st = h5_close(ctx, &super, st);
    st = h5_close(ctx, &etype, st);
    return h5_close(ctx, &ftype, st);
}

/* The open objects of a collective read. */
typedef struct {
    hid_t fapl, fid, did, fspace, dxpl;
    int64_t rows, cols;
    size_t fsize; /* bytes of one element in the file */
} rows_reader;

/* Local part of opening: checks the arguments and the dataset's shape. */
static int rows_open_dataset(uhn_ctx *ctx, const uhn_h5_name *n, rows_reader *r, int64_t row0,
                             int64_t nrows, int64_t ncols) {
    uhn_h5_info info;
    UHN_CALL(open_dataset(ctx, n, r->fid, &r->did));
    UHN_CALL(dataset_info(ctx, n, r->did, &info));
    if (info.rank != 2 || info.dims[1] != ncols)
        return uhn_fail(ctx, UHN_EINPUT, "%s%sdataset %s is not 2-D with %lld columns", ROLE(n),
                        n->label, (long long)ncols);
    if (row0 < 0 || nrows < 0 || row0 > info.dims[0] - nrows)
        return uhn_fail(ctx, UHN_EINPUT, "%s%srows [%lld, %lld) are outside %s (%lld rows)",
                        ROLE(n), (long long)row0, (long long)(row0 + nrows), n->label,
                        (long long)info.dims[0]);
    r->rows = info.dims[0];
    r->cols = ncols;
    hid_t ftype = H5Dget_type(r->did);
    r->fsize = ftype >= 0 ? H5Tget_size(ftype) : 0;
    int st = ftype < 0 ? uhn_fail(ctx, UHN_EIO, "cannot read the type of %s", n->label) : UHN_OK;
    st = h5_close(ctx, &ftype, st);
    UHN_CALL(st);
    r->fspace = H5Dget_space(r->did);
    r->dxpl = H5Pcreate(H5P_DATASET_XFER);
    if (r->fspace < 0 || r->dxpl < 0 || H5Pset_dxpl_mpio(r->dxpl, H5FD_MPIO_COLLECTIVE) < 0)
        return uhn_fail(ctx, UHN_EIO, "%s%scannot set up the parallel read of %s", ROLE(n),
                        n->label);
    return UHN_OK;
}

/* One collective round: this rank reads rows [r0, r0 + cnt) (cnt may be 0). */
static int rows_round(uhn_ctx *ctx, const uhn_h5_name *n, rows_reader *r, int64_t r0, int64_t cnt,
                      uhn_h5_type mem, void *dest) {
    hsize_t start[2] = {(hsize_t)r0, 0}, count[2] = {(hsize_t)cnt, (hsize_t)r->cols};
    hsize_t mdims[2] = {(hsize_t)(cnt > 0 ? cnt : 1), (hsize_t)(r->cols > 0 ? r->cols : 1)};
    hid_t mspace = H5Screate_simple(2, mdims, NULL);
    herr_t rc = mspace < 0 ? -1 : 0;
    if (rc >= 0 && cnt > 0 && r->cols > 0)
        rc = H5Sselect_hyperslab(r->fspace, H5S_SELECT_SET, start, NULL, count, NULL);
    else if (rc >= 0) {
        rc = H5Sselect_none(r->fspace);
        if (rc >= 0) rc = H5Sselect_none(mspace);
    }
    int st =
        rc < 0 ? uhn_fail(ctx, UHN_EIO, "%s%scannot select rows of %s", ROLE(n), n->label) : UHN_OK;
    /* Every rank reaches the collective H5Dread, or none does. */
    st = uhn_agree(ctx, st);
    if (st == UHN_OK)
        st = read_converted(ctx, n, r->did, mem, mspace, r->fspace, r->dxpl, cnt * r->cols,
                            (sel_origin){r0, r->cols}, dest);
    st = h5_close(ctx, &mspace, st);
    return uhn_agree(ctx, st);
}

static int read_rows(uhn_ctx *ctx, const uhn_h5_name *n, int64_t row0, int64_t nrows, int64_t ncols,
                     uhn_h5_type mem, void *buf) {
    rows_reader r = {0};
    r.fapl = r.fid = r.did = r.fspace = r.dxpl = H5I_INVALID_HID;
    int st = h5_quiet(ctx);
    if (st == UHN_OK && uhn_h5_type_size(mem) == 0)
        st = uhn_fail(ctx, UHN_EINTERNAL, "invalid memory type reading %s", n->label);
    if (st == UHN_OK && nrows > 0 && ncols > 0 && !buf)
        st = uhn_fail(ctx, UHN_EINTERNAL, "no buffer for reading %s", n->label);
    if (st == UHN_OK) {
        r.fapl = H5Pcreate(H5P_FILE_ACCESS);
        if (r.fapl < 0 || H5Pset_fapl_mpio(r.fapl, ctx->comm, MPI_INFO_NULL) < 0)
            st = uhn_fail(ctx, UHN_EIO, "cannot set up MPI-IO access to '%s'", n->file);
    }
    st = uhn_agree(ctx, st);
    if (st == UHN_OK) {
        r.fid = H5Fopen(n->file, H5F_ACC_RDONLY, r.fapl); /* collective */
        if (r.fid < 0)
            st = uhn_fail(ctx, UHN_EINPUT, "%s%scannot open '%s' for a parallel read", ROLE(n),
                          n->file);
        st = uhn_agree(ctx, st);
    }
    if (st == UHN_OK) st = uhn_agree(ctx, rows_open_dataset(ctx, n, &r, row0, nrows, ncols));

    if (st == UHN_OK) {
        /* Rounds of at most IO_ROUND_BYTES per rank; every rank does the same
         * number of rounds, reading nothing once its block is done. */
        size_t esize = r.fsize > uhn_h5_type_size(mem) ? r.fsize : uhn_h5_type_size(mem);
        size_t row_bytes = (size_t)(ncols > 0 ? ncols : 1) * esize;
        int64_t per_round = (int64_t)(IO_ROUND_BYTES / row_bytes);
        if (per_round < 1) per_round = 1;
        int64_t mine = (nrows + per_round - 1) / per_round, rounds = 0;
        if (MPI_Allreduce(&mine, &rounds, 1, MPI_INT64_T, MPI_MAX, ctx->comm) != MPI_SUCCESS)
            st = uhn_fail(ctx, UHN_EMPI, "MPI_Allreduce failed reading %s", n->label);
        if (rounds == 0) rounds = 1; /* all ranks empty: still one (empty) collective read */
        size_t row_mem = (size_t)ncols * uhn_h5_type_size(mem);
        for (int64_t i = 0; st == UHN_OK && i < rounds; ++i) {
            int64_t first = i * per_round;
            int64_t cnt =
                first < nrows ? (nrows - first < per_round ? nrows - first : per_round) : 0;
            void *dest = cnt > 0 ? (char *)buf + (size_t)first * row_mem : NULL;
            st = rows_round(ctx, n, &r, row0 + first, cnt, mem, dest);
            if (st == UHN_OK && UHN_FAULT(ctx, UHN_FAULT_H5_READ))
                st = uhn_fail(ctx, UHN_EIO, "%s%sreading rows of %s failed", ROLE(n), n->label);
            /* a round that failed on one rank ends the collective reads on all */
            st = uhn_agree(ctx, st);
        }
    }

    st = h5_close(ctx, &r.dxpl, st);
    st = h5_close(ctx, &r.fspace, st);
    st = h5_close(ctx, &r.did, st);
    st = h5_close(ctx, &r.fid, st); /* collective for MPI-IO files */
    st = h5_close(ctx, &r.fapl, st);
    return uhn_agree(ctx, st);
}

int uhn_h5_read_rows(uhn_ctx *ctx, const uhn_h5_name *name, int64_t row0, int64_t nrows,
                     int64_t ncols, uhn_h5_type mem, void *buf) {
    double t0 = uhn_wtime();
    int st = read_rows(ctx, name, row0, nrows, ncols, mem, buf);
    ctx->timers.io += uhn_wtime() - t0;
    return st;
}

static int read_all_local(uhn_ctx *ctx, const uhn_h5_name *n, uhn_h5_type mem, int64_t count,
                          void *buf) {
    hid_t fid = H5I_INVALID_HID, did = H5I_INVALID_HID;
    uhn_h5_info info;
    memset(&info, 0, sizeof info);
    int st = open_file_serial(ctx, n, &fid);
    if (st == UHN_OK) st = open_dataset(ctx, n, fid, &did);
    if (st == UHN_OK) st = dataset_info(ctx, n, did, &info);
    if (st == UHN_OK && uhn_h5_info_count(&info) != count)
        st = uhn_fail(ctx, UHN_EINPUT, "%s%sdataset %s has %lld elements, expected %lld", ROLE(n),
                      n->label, (long long)uhn_h5_info_count(&info), (long long)count);
    /* Rows of a 2-D (or higher) dataset, elements of a 1-D one, for messages. */
    sel_origin at = {0, info.rank >= 2 && info.dims[0] > 0 ? count / info.dims[0] : 0};
    if (st == UHN_OK)
        st = read_converted(ctx, n, did, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, count, at, buf);
    st = h5_close(ctx, &did, st);
    return h5_close(ctx, &fid, st);
}

static int read_all(uhn_ctx *ctx, const uhn_h5_name *n, uhn_h5_type mem, int64_t count, void *buf) {
    int st = h5_quiet(ctx);
    if (st == UHN_OK && (uhn_h5_type_size(mem) == 0 || count < 0 || (count > 0 && !buf)))
        st = uhn_fail(ctx, UHN_EINTERNAL, "invalid arguments reading %s", n->label);
    if (st == UHN_OK && ctx->rank == 0) st = read_all_local(ctx, n, mem, count, buf);
    UHN_CALL(uhn_agree(ctx, st));
    size_t bytes = (size_t)count * uhn_h5_type_size(mem);
    for (size_t off = 0; off < bytes; off += IO_ROUND_BYTES) {
        size_t len = bytes - off < IO_ROUND_BYTES ? bytes - off : IO_ROUND_BYTES;
        UHN_MPI(ctx, MPI_Bcast((char *)buf + off, (int)len, MPI_BYTE, 0, ctx->comm));
    }
    return UHN_OK;
}

int uhn_h5_read_all(uhn_ctx *ctx, const uhn_h5_name *name, uhn_h5_type mem, int64_t count,
                    void *buf) {
    double t0 = uhn_wtime();
    int st = read_all(ctx, name, mem, count, buf);
    ctx->timers.io += uhn_wtime() - t0;
    return st;
}

/* Packs n strings (raw[i], NULL read as "") into the offsets and bytes of uhn_h5_read_strings. */
static int pack_strings(uhn_ctx *ctx, const uhn_h5_name *n, int64_t count, const char *const *raw,
                        size_t stride, const char *fixed, int64_t **off, char **buf) {
    int64_t total = 0;
    for (int64_t i = 0; i < count; ++i) {
        const char *c = raw ? raw[i] : fixed + (size_t)i * stride;
        total += (int64_t)strlen(c ? c : "") + 1;
    }
    *off = malloc(((size_t)count + 1) * sizeof **off);
    *buf = malloc((size_t)total);
    if (!*off || !*buf)
        return uhn_fail(ctx, UHN_ENOMEM, "%s%sout of memory for the strings of %s", ROLE(n),
                        n->label);
    int64_t at = 0;
    for (int64_t i = 0; i < count; ++i) {
        const char *c = raw ? raw[i] : fixed + (size_t)i * stride;
        size_t len = strlen(c ? c : "");
        (*off)[i] = at;
        memcpy(*buf + at, c ? c : "", len + 1);
        at += (int64_t)len + 1;
    }
    (*off)[count] = at;
    return UHN_OK;
}

static int read_strings_local(uhn_ctx *ctx, const uhn_h5_name *n, int64_t *count, int64_t **off,
                              char **buf) {
    hid_t fid = H5I_INVALID_HID, did = H5I_INVALID_HID, ftype = H5I_INVALID_HID;
    hid_t space = H5I_INVALID_HID, mtype = H5I_INVALID_HID;
    int st = open_file_serial(ctx, n, &fid);
    if (st == UHN_OK) st = open_dataset(ctx, n, fid, &did);
    if (st == UHN_OK && ((ftype = H5Dget_type(did)) < 0 || (space = H5Dget_space(did)) < 0))
        st = uhn_fail(ctx, UHN_EIO, "%s%scannot read the type and shape of %s", ROLE(n), n->label);
    char desc[32];
    if (st == UHN_OK && H5Tget_class(ftype) != H5T_STRING) {
        describe_type(ftype, desc);
        st = uhn_fail(ctx, UHN_EINPUT,
                      "%s%sdataset %s has type %s; a 1-D dataset of strings is "
                      "required",
                      ROLE(n), n->label, desc);
    }
    hsize_t dims[H5S_MAX_RANK];
    int rank = st == UHN_OK ? H5Sget_simple_extent_ndims(space) : 0;
    if (st == UHN_OK && (rank < 0 || H5Sget_simple_extent_dims(space, dims, NULL) < 0))
        st = uhn_fail(ctx, UHN_EIO, "%s%scannot read the shape of %s", ROLE(n), n->label);
    if (st == UHN_OK && rank != 1)
        st = uhn_fail(ctx, UHN_EINPUT,
                      "%s%sdataset %s has %d dimensions; a 1-D dataset of strings "
                      "is required",
                      ROLE(n), n->label, rank);
    if (st == UHN_OK && (dims[0] == 0 || dims[0] > (hsize_t)INT32_MAX))
        st = uhn_fail(ctx, UHN_EINPUT,
                      "%s%sdataset %s holds %llu strings (1 to 2^31 - 1 "
                      "required)",
                      ROLE(n), n->label, (unsigned long long)dims[0]);
    int vlen = st == UHN_OK && H5Tis_variable_str(ftype) > 0;
    size_t stride = st == UHN_OK && !vlen ? H5Tget_size(ftype) + 1 : sizeof(char *);
    char *raw = st == UHN_OK ? calloc((size_t)dims[0], stride) : NULL;
    if (st == UHN_OK && !raw)
        st = uhn_fail(ctx, UHN_ENOMEM, "%s%sout of memory for %s", ROLE(n), n->label);
    /* Memory strings are NUL-terminated whatever the file's padding. */
    if (st == UHN_OK &&
        ((mtype = H5Tcopy(H5T_C_S1)) < 0 || H5Tset_size(mtype, vlen ? H5T_VARIABLE : stride) < 0 ||
         H5Tset_strpad(mtype, H5T_STR_NULLTERM) < 0 || H5Tset_cset(mtype, H5Tget_cset(ftype)) < 0 ||
         H5Dread(did, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw) < 0))
        st = uhn_fail(ctx, UHN_EINPUT, "%s%scannot read the strings of %s", ROLE(n), n->label);
    if (st == UHN_OK) {
        *count = (int64_t)dims[0];
        st = pack_strings(ctx, n, *count, vlen ? (const char *const *)raw : NULL, stride, raw, off,
                          buf);
        if (vlen) H5Dvlen_reclaim(mtype, space, H5P_DEFAULT, raw);
    }
    free(raw);
    st = h5_close(ctx, &mtype, st);
    st = h5_close(ctx, &space, st);
    st = h5_close(ctx, &ftype, st);
    st = h5_close(ctx, &did, st);
    return h5_close(ctx, &fid, st);
}

static int bcast_bytes(uhn_ctx *ctx, void *buf, size_t bytes) {
    for (size_t at = 0; at < bytes; at += IO_ROUND_BYTES) {
        size_t len = bytes - at < IO_ROUND_BYTES ? bytes - at : IO_ROUND_BYTES;
        UHN_MPI(ctx, MPI_Bcast((char *)buf + at, (int)len, MPI_BYTE, 0, ctx->comm));
    }
    return UHN_OK;
}

static int read_strings(uhn_ctx *ctx, const uhn_h5_name *n, int64_t *count, int64_t **off,
                        char **buf) {
    *count = 0, *off = NULL, *buf = NULL;
    int st = h5_quiet(ctx);
    if (st == UHN_OK && ctx->rank == 0) st = read_strings_local(ctx, n, count, off, buf);
    UHN_CALL(uhn_agree(ctx, st));
    int64_t sizes[2] = {*count, ctx->rank == 0 ? (*off)[*count] : 0};
    UHN_MPI(ctx, MPI_Bcast(sizes, 2, MPI_INT64_T, 0, ctx->comm));
    if (ctx->rank != 0) {
        *count = sizes[0];
        *off = malloc(((size_t)sizes[0] + 1) * sizeof **off);
        *buf = malloc((size_t)sizes[1]);
        if (!*off || !*buf)
            st = uhn_fail(ctx, UHN_ENOMEM, "%s%sout of memory for the strings of %s", ROLE(n),
                          n->label);
    }
    UHN_CALL(uhn_agree(ctx, st));
    UHN_CALL(bcast_bytes(ctx, *off, ((size_t)sizes[0] + 1) * sizeof **off));
    return bcast_bytes(ctx, *buf, (size_t)sizes[1]);
}

int uhn_h5_read_strings(uhn_ctx *ctx, const uhn_h5_name *name, int64_t *n, int64_t **off,
                        char **buf) {
    double t0 = uhn_wtime();
    int st = read_strings(ctx, name, n, off, buf);
    if (st != UHN_OK) {
        free(*off), free(*buf);
        *off = NULL, *buf = NULL, *n = 0;
    }
    ctx->timers.io += uhn_wtime() - t0;
    return st;
}

/* ------------------------------------------------------------------------ */
/* Writing                                                                  */

/* Status of a failed attempt to create a file: the system's own trouble
 * (full disk, quota, I/O error, descriptors, memory) is UHN_EIO; anything
 * else (permissions, a read-only or pseudo file system such as /proc, a
 * missing directory, a name too long) is the user's choice of path. */
static int create_errno_status(int e) {
    static const int system_errnos[] = {ENOSPC, EDQUOT, EIO, EMFILE, ENFILE, ENOMEM, EINTR, EAGAIN};
    for (size_t i = 0; i < sizeof system_errnos / sizeof system_errnos[0]; ++i)
        if (e == system_errnos[i]) return UHN_EIO;
    return UHN_EINPUT;
}

/* File types other than regular files, as messages name them. */
static const struct {
    mode_t type;
    const char *name;
} file_kinds[] = {
    {S_IFDIR, "a directory"}, {S_IFCHR, "a character device"}, {S_IFBLK, "a block device"},
    {S_IFIFO, "a FIFO"},      {S_IFSOCK, "a socket"},
};

/*
 * Refuses an existing output that is not a regular file: the commit's rename()
 * would replace a device node, a FIFO or a socket (as root, /dev/null) with a
 * regular file. Symbolic links are followed to decide: a link to a regular
 * file is accepted (as before: the commit replaces the link itself by the new
 * file and leaves its target untouched), a link to anything else is refused,
 * and a dangling link or a missing path is a new name. Any other failure of
 * stat() is left to the directory checks and to the creation of the file.
 */
static int check_output_kind(uhn_ctx *ctx, const char *path, const char *role, const char *sep) {
    struct stat sb, lsb;
    if (stat(path, &sb) != 0 || S_ISREG(sb.st_mode)) return UHN_OK;
    const char *kind = "not a regular file";
    for (size_t i = 0; i < sizeof file_kinds / sizeof file_kinds[0]; ++i)
        if ((sb.st_mode & S_IFMT) == file_kinds[i].type) kind = file_kinds[i].name;
    int link = lstat(path, &lsb) == 0 && S_ISLNK(lsb.st_mode);
    return uhn_fail(ctx, UHN_EINPUT,
                    "%s%s'%s' is %s%s, not a regular file; uhn writes only regular files", role,
                    sep, path, link ? "a symbolic link to " : "", kind);
}

/* The writer's temporary name for `path`: "<path>.tmp.<pid>.<n>". */
static void temp_name(char *buf, size_t len, const char *path, int n) {
    snprintf(buf, len, "%s.tmp.%ld.%d", path, (long)getpid(), n);
}

/*
 * Creates and removes an empty file under the writer's temporary name: the one
 * test that holds where access() says yes but nothing can be created (root on
 * a read-only mount, pseudo file systems such as /proc), and that catches a
 * temporary name too long for the file system.
 */
static int probe_create(uhn_ctx *ctx, const char *path, const char *role, const char *sep) {
    char tmp[UHN_H5_PATH_MAX + 64];
    for (int n = 0; n < 1000; ++n) {
        temp_name(tmp, sizeof tmp, path, n);
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600);
        if (fd >= 0) {
            close(fd);
            unlink(tmp); /* a failure leaves an empty file that the next writer removes */
            return UHN_OK;
        }
        int e = errno;
        if (e != EEXIST)
            return uhn_fail(ctx, create_errno_status(e), "%s%scannot create '%s' for '%s' (%s)",
                            role, sep, tmp, path, strerror(e));
    }
    return uhn_fail(ctx, UHN_EIO, "%s%scannot find a free temporary name for '%s'", role, sep,
                    path);
}

static int check_output_local(uhn_ctx *ctx, const char *path, const char *role) {
    const char *sep = role && *role ? ": " : "";
    role = role ? role : "";
    struct stat sb;
    if (!*path) return uhn_fail(ctx, UHN_EINPUT, "%s%sempty output file name", role, sep);
    if (strlen(path) >= UHN_H5_PATH_MAX)
        return uhn_fail(ctx, UHN_EINPUT, "%s%soutput file name too long", role, sep);
    UHN_CALL(check_output_kind(ctx, path, role, sep));
    char dir[UHN_H5_PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    if (slash && !slash[1])
        return uhn_fail(ctx, UHN_EINPUT, "%s%s'%s' names a directory, not a file", role, sep, path);
    if (stat(dir, &sb) != 0)
        return uhn_fail(ctx, UHN_EINPUT, "%s%soutput directory '%s' does not exist (%s)", role, sep,
                        dir, strerror(errno));
    if (!S_ISDIR(sb.st_mode))
        return uhn_fail(ctx, UHN_EINPUT, "%s%s'%s' is not a directory", role, sep, dir);
    if (access(dir, W_OK | X_OK) != 0)
        return uhn_fail(ctx, UHN_EINPUT, "%s%soutput directory '%s' is not writable (%s)", role,
                        sep, dir, strerror(errno));
    return probe_create(ctx, path, role, sep);
}

int uhn_h5_check_output(uhn_ctx *ctx, const char *path, const char *role) {
    int st = ctx->rank == 0 ? check_output_local(ctx, path, role) : UHN_OK;
    return uhn_agree(ctx, st);
}

struct uhn_h5_writer {
    uhn_ctx *ctx; /* not owned */
    hid_t fid;    /* an in-memory file (the core driver, no backing store) */
    int fd;       /* the claimed temporary file, written at commit */
    char path[UHN_H5_PATH_MAX];
    char tmp[UHN_H5_PATH_MAX + 64];
};

/* Splits `path` into its directory ("." or "/" where the name has none) and
 * its last component. */
static void split_path(const char *path, char *dir, size_t dlen, const char **base) {
    const char *slash = strrchr(path, '/');
    *base = slash ? slash + 1 : path;
    if (!slash)
        snprintf(dir, dlen, ".");
    else if (slash == path)
        snprintf(dir, dlen, "/");
    else
        snprintf(dir, dlen, "%.*s", (int)(slash - path), path);
}

/* The pid of a name "<base>.tmp.<pid>.<n>" (decimal digits only), or 0. */
static long stale_pid(const char *name, const char *base) {
    size_t bl = strlen(base);
    if (strncmp(name, base, bl) != 0 || strncmp(name + bl, ".tmp.", 5) != 0) return 0;
    const char *p = name + bl + 5, *q = p;
    long pid = 0;
    while (*q >= '0' && *q <= '9' && q - p < 10) pid = pid * 10 + (*q++ - '0');
    if (q == p || *q != '.' || pid <= 0 || pid > INT_MAX) return 0;
    const char *r = ++q;
    while (*r >= '0' && *r <= '9') ++r;
    return r > q && *r == '\0' ? pid : 0;
}

/*
 * Removes the temporary files that killed writers of `path` left behind:
 * entries of its directory named exactly "<name>.tmp.<pid>.<n>" that are
 * regular files (not followed if links) and whose <pid> is no live process
 * (kill(pid, 0) fails with ESRCH). This assumes that the writer ran on this
 * host, in this PID namespace: on a file system shared between nodes, the
 * temporary file of a writer alive on another node under a pid unused here
 * would be removed; but two runs writing the same output at once already
 * race (the last rename wins). Failures are ignored: cleaning is a courtesy.
 */
static void remove_stale_temporaries(const char *path) {
    char dir[UHN_H5_PATH_MAX], file[2 * UHN_H5_PATH_MAX];
    const char *base;
    split_path(path, dir, sizeof dir, &base);
    if (!*base) return;
    DIR *d = opendir(dir);
    if (!d) return;
    for (struct dirent *e = readdir(d); e; e = readdir(d)) {
        long pid = stale_pid(e->d_name, base);
        if (pid == 0 || pid == (long)getpid()) continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue; /* alive, or not ours to judge */
        struct stat sb;
        snprintf(file, sizeof file, "%s/%s", dir, e->d_name);
        if (lstat(file, &sb) == 0 && S_ISREG(sb.st_mode)) unlink(file);
    }
    closedir(d);
}

/*
 * The in-memory file's buffer, in uhn_alloc memory (huge pages from 256 KiB
 * on), grown by doubling. In malloc's 4 KiB pages a 3 MB results file took
 * ~1,800 page faults as the core driver grew and zeroed it and as the commit
 * copied it out, ~25 ms on this class of machine (a fault costs 6-14 us on a
 * virtual one); the copies themselves take a few hundred microseconds. The
 * capacity sits in a header before the buffer.
 */
enum { IMAGE_HEAD = 64, IMAGE_MIN = 2 << 20 };

static size_t image_capacity(const void *ptr) {
    size_t cap;
    memcpy(&cap, (const char *)ptr - IMAGE_HEAD, sizeof cap);
    return cap;
}

static void *image_malloc(size_t size, H5FD_file_image_op_t op, void *udata) {
    (void)op, (void)udata;
    /* at least one 2 MiB page in all: the core driver grows the file 1 MiB
     * at a time, and its first steps then need no copy */
    const size_t cap = size < IMAGE_MIN - IMAGE_HEAD ? IMAGE_MIN - IMAGE_HEAD : size;
    char *p = cap <= SIZE_MAX - IMAGE_HEAD ? uhn_alloc(cap + IMAGE_HEAD) : NULL;
    if (!p) return NULL;
    memcpy(p, &cap, sizeof cap);
    return p + IMAGE_HEAD;
}

static herr_t image_free(void *ptr, H5FD_file_image_op_t op, void *udata) {
    (void)op, (void)udata;
    if (ptr) uhn_free((char *)ptr - IMAGE_HEAD);
    return 0;
}

static void *image_realloc(void *ptr, size_t size, H5FD_file_image_op_t op, void *udata) {
    if (!ptr) return image_malloc(size, op, udata);
    const size_t cap = image_capacity(ptr);
    if (size <= cap) return ptr;
    const size_t grown = cap <= SIZE_MAX / 2 && 2 * cap > size ? 2 * cap : size;
    char *q = image_malloc(grown, op, udata);
    if (!q) return NULL; /* ptr stays valid, as realloc's */
    memcpy(q, ptr, cap);
    image_free(ptr, op, udata);
    return q;
}

static const H5FD_file_image_callbacks_t image_callbacks = {
    image_malloc, NULL, image_realloc, image_free, NULL, NULL, NULL};

static int writer_create(uhn_ctx *ctx, const char *path, const void *image, size_t size,
                         uhn_h5_writer **out) {
    *out = NULL;
    UHN_CALL(h5_quiet(ctx));
    if (strlen(path) >= UHN_H5_PATH_MAX)
        return uhn_fail(ctx, UHN_EINPUT, "output file name too long: '%.64s...'", path);
    UHN_CALL(check_output_kind(ctx, path, "", ""));
    remove_stale_temporaries(path);
    uhn_h5_writer *w = calloc(1, sizeof *w);
    if (!w) return uhn_fail(ctx, UHN_ENOMEM, "out of memory creating '%s'", path);
    w->ctx = ctx;
    w->fid = H5I_INVALID_HID;
    snprintf(w->path, sizeof w->path, "%s", path);
    /* The name is claimed with O_EXCL first (atomic, and the system's errno
     * when it fails: HDF5 does not keep it), then HDF5 truncates and fills it. */
    w->fd = -1;
    int st = UHN_OK, claimed = 0;
    for (int attempt = 0; attempt < 1000 && !claimed && st == UHN_OK; ++attempt) {
        temp_name(w->tmp, sizeof w->tmp, path, attempt);
        w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_EXCL, 0666); /* umask applies, as before */
        int e = errno;
        if (w->fd >= 0) {
            claimed = 1;
        } else if (e != EEXIST) { /* EEXIST: a name taken meanwhile is skipped */
            st = uhn_fail(ctx, create_errno_status(e),
                          "cannot create the temporary file '%s' for '%s' (%s)", w->tmp, path,
                          strerror(e));
        }
    }
    if (st == UHN_OK && !claimed)
        st = uhn_fail(ctx, UHN_EIO, "cannot find a free temporary name for '%s'", path);
    if (st == UHN_OK) {
        /* The file is built in memory (core driver, no backing store) and
         * written to the claimed name at commit with plain POSIX calls: HDF5
         * never meets the disk, so a full disk is an ordinary write error
         * with its errno. (HDF5 before 1.14.1 leaves a half-destroyed file id
         * behind when H5Fclose fails on the disk, HDFGroup/hdf5 pull request
         * 2291, and H5close at MPI_Finalize then crashes in H5F__close_cb.) */
        hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
        H5FD_file_image_callbacks_t cb = image_callbacks;
        if (fapl >= 0 && H5Pset_fapl_core(fapl, (size_t)1 << 20, 0) >= 0 &&
            (image || H5Pset_file_image_callbacks(fapl, &cb) >= 0))
            w->fid = image ? H5LTopen_file_image((void *)image, size, H5LT_FILE_IMAGE_OPEN_RW)
                           : H5Fcreate(w->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
        if (fapl >= 0) H5Pclose(fapl);
        if (w->fid < 0)
            st = uhn_fail(ctx, UHN_ENOMEM, "cannot create the in-memory HDF5 file for '%s'", path);
    }
    if (st != UHN_OK) {
        if (w->fd >= 0) close(w->fd), unlink(w->tmp);
        free(w);
        return st;
    }
    *out = w;
    return UHN_OK;
}

int uhn_h5_writer_create(uhn_ctx *ctx, const char *path, uhn_h5_writer **out) {
    double t0 = uhn_wtime();
    int st = writer_create(ctx, path, NULL, 0, out);
    ctx->timers.io += uhn_wtime() - t0;
    return st;
}

int uhn_h5_writer_from_image(uhn_ctx *ctx, const char *path, const void *image, size_t size,
                             uhn_h5_writer **out) {
    double t0 = uhn_wtime();
    int st = writer_create(ctx, path, image, size, out);
    ctx->timers.io += uhn_wtime() - t0;
    return st;
}

/* Writes one attribute on an open object, replacing one of the same name. */
static int attr_on(uhn_h5_writer *w, hid_t oid, const char *object, const char *name, hid_t type,
                   const void *value) {
    hid_t space = H5Screate(H5S_SCALAR), aid = H5I_INVALID_HID;
    int st = space < 0 ? UHN_EIO : UHN_OK;
    htri_t exists = st == UHN_OK ? H5Aexists(oid, name) : -1;
    if (exists < 0 || (exists > 0 && H5Adelete(oid, name) < 0)) st = UHN_EIO;
    if (st == UHN_OK) aid = H5Acreate2(oid, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    if (st == UHN_OK && (aid < 0 || H5Awrite(aid, type, value) < 0)) st = UHN_EIO;
    st = h5_close(w->ctx, &aid, st);
    st = h5_close(w->ctx, &space, st);
    if (st != UHN_OK)
        return uhn_fail(w->ctx, UHN_EIO, "cannot write attribute '%s' of '%s' to '%s'", name,
                        object, w->path);
    return UHN_OK;
}

static int string_attr_on(uhn_h5_writer *w, hid_t oid, const char *object, const char *name,
                          const char *value) {
    hid_t type = H5Tcopy(H5T_C_S1);
    int st = UHN_OK;
    if (type < 0 || H5Tset_size(type, H5T_VARIABLE) < 0 || H5Tset_cset(type, H5T_CSET_UTF8) < 0)
        st = uhn_fail(w->ctx, UHN_EIO, "cannot make a string type for attribute '%s'", name);
    const char *v = value ? value : "";
    if (st == UHN_OK) st = attr_on(w, oid, object, name, type, &v);
    return h5_close(w->ctx, &type, st);
}

/* Opens `object`, writes one attribute, closes it; times the whole. */
static int attr_named(uhn_h5_writer *w, const char *object, const char *name, hid_t type,
                      const void *value, const char *string) {
    double t0 = uhn_wtime();
    int st = UHN_OK;
    hid_t oid = H5Oopen(w->fid, object, H5P_DEFAULT);
    if (oid < 0)
        st = uhn_fail(w->ctx, UHN_EIO, "no object '%s' in '%s' for attribute '%s'", object, w->path,
                      name);
    else if (string)
        st = string_attr_on(w, oid, object, name, string);
    else
        st = attr_on(w, oid, object, name, type, value);
    st = h5_close(w->ctx, &oid, st);
    w->ctx->timers.io += uhn_wtime() - t0;
    return st;
}

int uhn_h5_attr_string(uhn_h5_writer *w, const char *object, const char *name, const char *value) {
    return attr_named(w, object, name, H5I_INVALID_HID, NULL, value ? value : "");
}

int uhn_h5_attr_double(uhn_h5_writer *w, const char *object, const char *name, double value) {
    return attr_named(w, object, name, H5T_NATIVE_DOUBLE, &value, NULL);
}

int uhn_h5_attr_int64(uhn_h5_writer *w, const char *object, const char *name, int64_t value) {
    return attr_named(w, object, name, H5T_NATIVE_INT64, &value, NULL);
}

static int write_dataset(uhn_h5_writer *w, const uhn_h5_dataset *d) {
    uhn_ctx *ctx = w->ctx;
    if (!d->name || uhn_h5_type_size(d->type) == 0 || d->rank < 0 || d->rank > UHN_H5_MAX_RANK ||
        !d->description || !d->units)
        return uhn_fail(ctx, UHN_EINTERNAL, "invalid dataset description for '%s'",
                        d->name ? d->name : "(null)");
    hsize_t dims[UHN_H5_MAX_RANK];
    int64_t count = 1;
    for (int i = 0; i < d->rank; ++i) {
        if (d->dims[i] < 0)
            return uhn_fail(ctx, UHN_EINTERNAL, "negative extent for dataset '%s'", d->name);
        dims[i] = (hsize_t)d->dims[i];
        count *= d->dims[i];
    }
    if (count > 0 && !d->data)
        return uhn_fail(ctx, UHN_EINTERNAL, "no data for dataset '%s'", d->name);
    hid_t space = d->rank > 0 ? H5Screate_simple(d->rank, dims, NULL) : H5Screate(H5S_SCALAR);
    hid_t did = H5I_INVALID_HID;
    int st = UHN_OK;
    if (space >= 0)
        did = H5Dcreate2(w->fid, d->name, file_type(d->type), space, H5P_DEFAULT, H5P_DEFAULT,
                         H5P_DEFAULT);
    if (space < 0 || did < 0 ||
        (count > 0 &&
         H5Dwrite(did, native_type(d->type), H5S_ALL, H5S_ALL, H5P_DEFAULT, d->data) < 0))
        st = uhn_fail(ctx, UHN_EIO, "cannot write dataset '%s' to '%s' (is the disk full?)",
                      d->name, w->path);
    if (st == UHN_OK) st = string_attr_on(w, did, d->name, "description", d->description);
    if (st == UHN_OK) st = string_attr_on(w, did, d->name, "units", d->units);
    if (st == UHN_OK && d->axes) st = string_attr_on(w, did, d->name, "axes", d->axes);
    st = h5_close(ctx, &did, st);
    return h5_close(ctx, &space, st);
}

int uhn_h5_write_dataset(uhn_h5_writer *w, const uhn_h5_dataset *d) {
    double t0 = uhn_wtime();
    int st = write_dataset(w, d);
    w->ctx->timers.io += uhn_wtime() - t0;
    return st;
}

static int write_strings(uhn_h5_writer *w, const char *name, int64_t n, const char *const *strings,
                         const char *description, const char *units, const char *axes) {
    uhn_ctx *ctx = w->ctx;
    if (!name || n < 0 || (n > 0 && !strings) || !description || !units)
        return uhn_fail(ctx, UHN_EINTERNAL, "invalid string dataset description for '%s'",
                        name ? name : "(null)");
    hsize_t dims[1] = {(hsize_t)n};
    hid_t type = H5Tcopy(H5T_C_S1), space = H5Screate_simple(1, dims, NULL);
    hid_t did = H5I_INVALID_HID;
    int st = UHN_OK;
    if (type < 0 || space < 0 || H5Tset_size(type, H5T_VARIABLE) < 0 ||
        H5Tset_cset(type, H5T_CSET_UTF8) < 0)
        st = uhn_fail(ctx, UHN_EIO, "cannot make a string type for dataset '%s'", name);
    if (st == UHN_OK)
        did = H5Dcreate2(w->fid, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (st == UHN_OK &&
        (did < 0 || (n > 0 && H5Dwrite(did, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, strings) < 0)))
        st = uhn_fail(ctx, UHN_EIO, "cannot write dataset '%s' to '%s' (is the disk full?)", name,
                      w->path);
    if (st == UHN_OK) st = string_attr_on(w, did, name, "description", description);
    if (st == UHN_OK) st = string_attr_on(w, did, name, "units", units);
    if (st == UHN_OK && axes) st = string_attr_on(w, did, name, "axes", axes);
    st = h5_close(ctx, &did, st);
    st = h5_close(ctx, &space, st);
    return h5_close(ctx, &type, st);
}

int uhn_h5_write_strings(uhn_h5_writer *w, const char *name, int64_t n, const char *const *strings,
                         const char *description, const char *units, const char *axes) {
    double t0 = uhn_wtime();
    int st = write_strings(w, name, n, strings, description, units, axes);
    w->ctx->timers.io += uhn_wtime() - t0;
    return st;
}

int64_t uhn_h5_native_type(uhn_h5_type t) {
    return (int64_t)native_type(t);
}

int64_t uhn_h5_writer_fid(const uhn_h5_writer *w) {
    return (int64_t)w->fid;
}

int uhn_h5_write_group(uhn_h5_writer *w, const char *path) {
    double t0 = uhn_wtime();
    int st = UHN_OK;
    hid_t gid = H5Gcreate2(w->fid, path, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (gid < 0) st = uhn_fail(w->ctx, UHN_EIO, "cannot create group '%s' in '%s'", path, w->path);
    st = h5_close(w->ctx, &gid, st);
    w->ctx->timers.io += uhn_wtime() - t0;
    return st;
}

/* ------------------------------------------------------------------------ */
/* Dimension scales                                                         */

/* Opens a dataset of the writer's file; an internal error when it is missing
 * or not a dataset (the caller names only objects it wrote). */
static int open_own_dataset(uhn_h5_writer *w, const char *path, hid_t *did) {
    *did = H5I_INVALID_HID;
    htri_t there = H5LTpath_valid(w->fid, path, 1);
    if (there > 0) *did = H5Oopen(w->fid, path, H5P_DEFAULT);
    if (*did >= 0 && H5Iget_type(*did) != H5I_DATASET) {
        H5Oclose(*did);
        *did = H5I_INVALID_HID;
    }
    if (*did < 0)
        return uhn_fail(w->ctx, UHN_EINTERNAL, "no dataset '%s' in '%s' for a dimension scale",
                        path, w->path);
    return UHN_OK;
}

/* Rank and extents of an open dataset; -1 on failure. */
static int dataset_extents(hid_t did, hsize_t dims[H5S_MAX_RANK]) {
    hid_t space = H5Dget_space(did);
    int rank = space < 0 ? -1 : H5Sget_simple_extent_ndims(space);
    if (rank >= 0 && H5Sget_simple_extent_dims(space, dims, NULL) < 0) rank = -1;
    if (space >= 0) H5Sclose(space);
    return rank;
}

int uhn_h5_make_scale(uhn_h5_writer *w, const char *dataset, const char *label) {
    double t0 = uhn_wtime();
    hid_t did;
    int st = open_own_dataset(w, dataset, &did);
    if (st == UHN_OK && H5DSis_scale(did) <= 0 && H5DSset_scale(did, label) < 0)
        st = uhn_fail(w->ctx, UHN_EIO, "cannot make '%s' a dimension scale in '%s'", dataset,
                      w->path);
    st = h5_close(w->ctx, &did, st);
    w->ctx->timers.io += uhn_wtime() - t0;
    return st;
}

/* Attaches the open scale sid to dimension dim of the open dataset did and
 * labels it `label`, checking that the lengths agree. */
static int attach_open(uhn_h5_writer *w, hid_t did, const char *dataset, int dim, hid_t sid,
                       const char *scale, const char *label) {
    hsize_t dd[H5S_MAX_RANK], sd[H5S_MAX_RANK];
    int rank = dataset_extents(did, dd), srank = dataset_extents(sid, sd);
    if (rank < 0 || srank != 1 || dim < 0 || dim >= rank || dd[dim] != sd[0])
        return uhn_fail(w->ctx, UHN_EINTERNAL,
                        "scale '%s' does not fit dimension %d of '%s' in '%s'", scale, dim, dataset,
                        w->path);
    if (H5DSattach_scale(did, sid, (unsigned)dim) < 0 ||
        H5DSset_label(did, (unsigned)dim, label) < 0)
        return uhn_fail(w->ctx, UHN_EIO, "cannot attach scale '%s' to '%s' in '%s'", scale, dataset,
                        w->path);
    return UHN_OK;
}

int uhn_h5_attach_scale(uhn_h5_writer *w, const char *dataset, int dim, const char *scale) {
    double t0 = uhn_wtime();
    hid_t did = H5I_INVALID_HID, sid = H5I_INVALID_HID;
    const char *label = strrchr(scale, '/') ? strrchr(scale, '/') + 1 : scale;
    int st = open_own_dataset(w, dataset, &did);
    if (st == UHN_OK) st = open_own_dataset(w, scale, &sid);
    if (st == UHN_OK) st = attach_open(w, did, dataset, dim, sid, scale, label);
    st = h5_close(w->ctx, &sid, st);
    st = h5_close(w->ctx, &did, st);
    w->ctx->timers.io += uhn_wtime() - t0;
    return st;
}

/* The datasets under a group that carry an `axes` attribute, as paths. */
typedef struct {
    char (*path)[UHN_H5_DSET_MAX];
    size_t n, cap;
    int failed;
} axes_list;

/* HDF5 1.12 renamed the visit call and its object info. */
#if H5_VERSION_GE(1, 12, 0)
typedef H5O_info2_t visit_info;
#define VISIT(g, op, data) H5Ovisit3(g, H5_INDEX_NAME, H5_ITER_INC, op, data, H5O_INFO_BASIC)
#else
typedef H5O_info_t visit_info;
#define VISIT(g, op, data) H5Ovisit2(g, H5_INDEX_NAME, H5_ITER_INC, op, data, H5O_INFO_BASIC)
#endif

static herr_t collect_axes(hid_t obj, const char *name, const visit_info *info, void *data) {
    axes_list *l = data;
    if (info->type != H5O_TYPE_DATASET || H5Aexists_by_name(obj, name, "axes", H5P_DEFAULT) <= 0)
        return 0;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        void *p = realloc(l->path, cap * sizeof *l->path);
        if (!p) return (l->failed = 1), -1;
        l->path = p, l->cap = cap;
    }
    snprintf(l->path[l->n++], UHN_H5_DSET_MAX, "%s", name);
    return 0;
}

/* Reads the string attribute `axes` of an open dataset into buf. */
static int read_axes(hid_t did, char *buf, size_t len) {
    hid_t aid = H5Aopen(did, "axes", H5P_DEFAULT), type = H5Tcopy(H5T_C_S1);
    char *v = NULL;
    int ok = aid >= 0 && type >= 0 && H5Tset_size(type, H5T_VARIABLE) >= 0 &&
             H5Tset_cset(type, H5T_CSET_UTF8) >= 0 && H5Aread(aid, type, &v) >= 0 && v;
    if (ok) snprintf(buf, len, "%s", v);
    if (v) H5free_memory(v);
    if (type >= 0) H5Tclose(type);
    if (aid >= 0) H5Aclose(aid);
    return ok;
}

/* The scale `path` (extent n, dimension `name`): an existing 1-D scale of
 * that extent, or a new int64 0 .. n - 1 index. Returns an open id or fails. */
static int index_scale(uhn_h5_writer *w, const char *path, const char *name, hsize_t n,
                       const uhn_h5_axis *axes, int naxes, hid_t *sid) {
    *sid = H5I_INVALID_HID;
    int made = H5LTpath_valid(w->fid, path, 1) <= 0;
    if (made) {
        char generic[160];
        const char *desc = NULL;
        for (int i = 0; i < naxes && !desc; ++i)
            if (!strcmp(axes[i].name, name)) desc = axes[i].description;
        if (!desc) snprintf(generic, sizeof generic, "index along the %s dimension", name);
        int64_t *idx = malloc(sizeof(int64_t) * (n ? n : 1));
        if (!idx) return uhn_fail(w->ctx, UHN_ENOMEM, "out of memory for scale '%s'", path);
        for (hsize_t i = 0; i < n; ++i) idx[i] = (int64_t)i;
        uhn_h5_dataset d = {.name = path,
                            .type = UHN_H5_INT64,
                            .rank = 1,
                            .dims = {(int64_t)n},
                            .data = idx,
                            .description = desc ? desc : generic,
                            .units = "1"};
        int st = write_dataset(w, &d);
        free(idx);
        UHN_CALL(st);
    }
    UHN_CALL(open_own_dataset(w, path, sid));
    hsize_t sd[H5S_MAX_RANK];
    /* An existing dataset of the axis's name must already be its scale: one
     * that is data (a name clash) is never turned into a scale here. */
    int ok = made ? H5DSset_scale(*sid, name) >= 0 : H5DSis_scale(*sid) > 0;
    if (!ok || dataset_extents(*sid, sd) != 1 || sd[0] != n) {
        h5_close(w->ctx, sid, UHN_OK);
        return uhn_fail(w->ctx, UHN_EINTERNAL,
                        "'%s' in '%s' is not a 1-D scale of %llu for dimension '%s'", path, w->path,
                        (unsigned long long)n, name);
    }
    return UHN_OK;
}

/* Labels the dimensions of one dataset from its `axes` attribute. */
static int label_one(uhn_h5_writer *w, const char *path, const uhn_h5_axis *axes, int naxes) {
    hid_t did;
    UHN_CALL(open_own_dataset(w, path, &did));
    char names[UHN_H5_DSET_MAX], dir[2 * UHN_H5_DSET_MAX + 2];
    hsize_t dims[H5S_MAX_RANK];
    int rank = dataset_extents(did, dims), st = UHN_OK;
    if (!read_axes(did, names, sizeof names) || rank < 0)
        st = uhn_fail(w->ctx, UHN_EIO, "cannot read the axes of '%s' in '%s'", path, w->path);
    /* the dataset's own group: scales live beside the data they label */
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        slash[1] = '\0';
    else
        dir[0] = '\0';
    char *save = NULL, *name = st == UHN_OK ? strtok_r(names, ",", &save) : NULL;
    int d = 0;
    for (; st == UHN_OK && name; name = strtok_r(NULL, ",", &save), ++d) {
        if (d >= rank) break;
        int have = H5DSget_num_scales(did, (unsigned)d);
        if (have > 0) continue;
        char spath[3 * UHN_H5_DSET_MAX + 2];
        snprintf(spath, sizeof spath, "%s%s", dir, name);
        hid_t sid;
        st = index_scale(w, spath, name, dims[d], axes, naxes, &sid);
        if (st == UHN_OK) st = attach_open(w, did, path, d, sid, spath, name);
        st = h5_close(w->ctx, &sid, st);
    }
    if (st == UHN_OK && (d != rank || name))
        st = uhn_fail(w->ctx, UHN_EINTERNAL, "'%s' in '%s' has %d dimensions but axes for %s%d",
                      path, w->path, rank, name ? "more than " : "", d);
    return h5_close(w->ctx, &did, st);
}

int uhn_h5_label_axes(uhn_h5_writer *w, const char *group, const uhn_h5_axis *axes, int naxes) {
    double t0 = uhn_wtime();
    axes_list l = {0};
    int st = UHN_OK;
    hid_t gid = H5Gopen2(w->fid, group, H5P_DEFAULT);
    if (gid < 0)
        st = uhn_fail(w->ctx, UHN_EINTERNAL, "no group '%s' in '%s' to label", group, w->path);
    /* collected first: objects are created below, never during the visit */
    if (st == UHN_OK && VISIT(gid, collect_axes, &l) < 0)
        st = uhn_fail(w->ctx, l.failed ? UHN_ENOMEM : UHN_EIO,
                      "cannot list the datasets of '%s' in '%s'", group, w->path);
    int root = !strcmp(group, "/");
    for (size_t i = 0; st == UHN_OK && i < l.n; ++i) {
        char path[2 * UHN_H5_DSET_MAX + 2];
        snprintf(path, sizeof path, "%s%s%s", root ? "" : group, root ? "" : "/", l.path[i]);
        st = label_one(w, path, axes, naxes);
    }
    free(l.path);
    st = h5_close(w->ctx, &gid, st);
    w->ctx->timers.io += uhn_wtime() - t0;
    return st;
}

static void iso_time(time_t t, char buf[32]) {
    struct tm tm;
    if (gmtime_r(&t, &tm) && strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) > 0) return;
    snprintf(buf, 32, "unknown");
}

/* argv joined by spaces, arguments with blanks or quotes single-quoted.
 * Returns a malloc'ed string or NULL. */
static char *join_argv(int argc, char **argv) {
    size_t len = 1;
    for (int i = 0; i < argc; ++i) len += 4 * strlen(argv[i]) + 3;
    char *s = malloc(len), *p = s;
    if (!s) return NULL;
    for (int i = 0; i < argc; ++i) {
        int quote = !*argv[i] || strpbrk(argv[i], " \t\n'\"\\$") != NULL;
        if (i) *p++ = ' ';
        if (quote) *p++ = '\'';
        for (const char *c = argv[i]; *c; ++c) {
            if (quote && *c == '\'') {
                memcpy(p, "'\\''", 4);
                p += 4;
            } else
                *p++ = *c;
        }
        if (quote) *p++ = '\'';
    }
    *p = '\0';
    return s;
}

int uhn_h5_write_provenance(uhn_h5_writer *w, const char *group, time_t start, int argc,
                            char **argv) {
    uhn_ctx *ctx = w->ctx;
    char mpi_lib[MPI_MAX_LIBRARY_VERSION_STRING] = "", mpi_std[32], hdf5[32], t0[32], t1[32];
    int len = 0, major = 0, minor = 0;
    unsigned hmaj = 0, hmin = 0, hrel = 0;
    UHN_MPI(ctx, MPI_Get_library_version(mpi_lib, &len));
    UHN_MPI(ctx, MPI_Get_version(&major, &minor));
    mpi_lib[strcspn(mpi_lib, "\n,")] = '\0'; /* the first line is the name and version */
    snprintf(mpi_std, sizeof mpi_std, "%d.%d", major, minor);
    if (H5get_libversion(&hmaj, &hmin, &hrel) < 0)
        return uhn_fail(ctx, UHN_EIO, "cannot query the HDF5 library version");
    snprintf(hdf5, sizeof hdf5, "%u.%u.%u", hmaj, hmin, hrel);
    iso_time(start, t0);
    iso_time(time(NULL), t1);
    char *cmdline = join_argv(argc, argv);
    if (!cmdline) return uhn_fail(ctx, UHN_ENOMEM, "out of memory writing provenance");

    char host[256] = "";
    if (gethostname(host, sizeof host - 1) != 0) snprintf(host, sizeof host, "unknown");
    const char *coretype = getenv("OPENBLAS_CORETYPE");

    const struct {
        const char *name, *value;
    } strings[] = {
        {"uhn_version", UHN_VERSION_STRING},
        {"git_commit", UHN_GIT_COMMIT},
        {"compiler", UHN_COMPILER},
        {"build_type", UHN_BUILD_TYPE},
        {"compile_flags", UHN_COMPILE_FLAGS},
        {"build_options", UHN_BUILD_OPTIONS},
        {"mpi_library", mpi_lib},
        {"mpi_standard", mpi_std},
        {"hdf5_version", hdf5},
        {"blas_library", uhn_blas_library()},
        {"blas_kernel", uhn_blas_kernel()},
        {"openblas_coretype", coretype ? coretype : ""},
        {"host", host},
        {"start_time", t0},
        {"end_time", t1},
        {"command_line", cmdline},
    };
    /* Slurm's ids, written only in a Slurm job (names as Slurm's variables). */
    static const char *const slurm[][2] = {
        {"slurm_job_id", "SLURM_JOB_ID"},
        {"slurm_array_job_id", "SLURM_ARRAY_JOB_ID"},
        {"slurm_array_task_id", "SLURM_ARRAY_TASK_ID"},
        {"slurm_restart_count", "SLURM_RESTART_COUNT"},
        {"slurm_cluster_name", "SLURM_CLUSTER_NAME"},
        {"slurm_job_nodelist", "SLURM_JOB_NODELIST"},
    };
    int st = uhn_h5_write_group(w, group);
    for (size_t i = 0; st == UHN_OK && i < sizeof strings / sizeof strings[0]; ++i)
        st = uhn_h5_attr_string(w, group, strings[i].name, strings[i].value);
    for (size_t i = 0; st == UHN_OK && i < sizeof slurm / sizeof slurm[0]; ++i) {
        const char *v = getenv(slurm[i][1]);
        if (v && *v) st = uhn_h5_attr_string(w, group, slurm[i][0], v);
    }
    if (st == UHN_OK) st = uhn_h5_attr_int64(w, group, "ranks", ctx->size);
    if (st == UHN_OK) st = uhn_h5_attr_int64(w, group, "threads", ctx->nthreads);
    if (st == UHN_OK) st = uhn_h5_attr_int64(w, group, "ranks_threads_pinned", ctx->pinned);
    if (st == UHN_OK) st = uhn_h5_attr_int64(w, group, "blas_threads", openblas_get_num_threads());
    free(cmdline);
    return st;
}

const char *uhn_blas_library(void) {
    return openblas_get_config();
}

const char *uhn_blas_kernel(void) {
    return openblas_get_corename();
}

/* Writes all of buf to fd. Returns 0, or -1 with errno set. */
static int write_all(int fd, const char *buf, size_t size) {
    for (size_t at = 0; at < size;) {
        ssize_t n = write(fd, buf + at, size - at);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return -1;
        at += (size_t)n;
    }
    return 0;
}

static int writer_commit(uhn_h5_writer *w) {
    uhn_ctx *ctx = w->ctx;
    int st = UHN_OK;
    /* The finished image, copied out of the in-memory file; closing that file
     * touches no disk, so it cannot fail on one. */
    ssize_t size = H5Fflush(w->fid, H5F_SCOPE_GLOBAL) < 0 ? -1 : H5Fget_file_image(w->fid, NULL, 0);
    char *image = size > 0 ? uhn_alloc((size_t)size) : NULL; /* huge pages (image_malloc) */
    if (!image || H5Fget_file_image(w->fid, image, (size_t)size) != size)
        st = uhn_fail(ctx, image ? UHN_EIO : UHN_ENOMEM,
                      "cannot take the image of the results for '%s' (%lld bytes)", w->path,
                      (long long)size);
    if (H5Fclose(w->fid) < 0 && st == UHN_OK)
        st = uhn_fail(ctx, UHN_EIO, "closing the in-memory results of '%s' failed", w->path);
    w->fid = H5I_INVALID_HID;
    /* Write the image and make it durable before the rename makes it visible. */
    if (st == UHN_OK &&
        (UHN_FAULT(ctx, UHN_FAULT_H5_COMMIT) ? (errno = EIO, -1)
                                             : write_all(w->fd, image, (size_t)size)) != 0)
        st = uhn_fail(ctx, UHN_EIO, "writing '%s' failed: %s", w->path, strerror(errno));
    uhn_free(image);
    if (st == UHN_OK && fsync(w->fd) != 0 && errno != EINVAL && errno != EROFS)
        st = uhn_fail(ctx, UHN_EIO, "writing '%s' failed: %s", w->path, strerror(errno));
    if (close(w->fd) != 0 && st == UHN_OK)
        st = uhn_fail(ctx, UHN_EIO, "writing '%s' failed: %s", w->path, strerror(errno));
    w->fd = -1;
    if (st == UHN_OK) st = check_output_kind(ctx, w->path, "", ""); /* replaced meanwhile? */
    if (st == UHN_OK && rename(w->tmp, w->path) != 0)
        st = uhn_fail(ctx, UHN_EIO, "cannot rename '%s' to '%s': %s", w->tmp, w->path,
                      strerror(errno));
    if (st != UHN_OK) unlink(w->tmp);
    free(w);
    return st;
}

int uhn_h5_writer_commit(uhn_h5_writer *w) {
    uhn_ctx *ctx = w->ctx;
    double t0 = uhn_wtime();
    int st = writer_commit(w);
    ctx->timers.io += uhn_wtime() - t0;
    return st;
}

void uhn_h5_writer_abort(uhn_h5_writer *w) {
    if (!w) return;
    if (w->fid >= 0) H5Fclose(w->fid); /* in memory: nothing to lose, nothing to fail */
    if (w->fd >= 0) close(w->fd);
    unlink(w->tmp);
    free(w);
}
