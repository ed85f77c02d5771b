/*
 * HDF5 input and output: named datasets ("FILE[:DATASET]"), their shapes,
 * parallel reads of row blocks converted to native types, whole small datasets
 * replicated on every rank, and an atomic writer of self-describing files.
 *
 * Reading accepts any HDF5 integer or floating-point type, and enumerations
 * over an integer (h5py's bool), converted to the requested memory type. A
 * finite value that overflows the memory type float32 (a float64 1e300) is an
 * input error naming its row and column, not an Inf; a dataset stored through
 * a filter this HDF5 library lacks (h5py's lzf) is refused when opened, naming
 * the filter.
 *
 * Errors are recorded with uhn_fail as one line naming the role (for example
 * "--memories"), the file and the dataset; HDF5's own error-stack printing is
 * switched off so that this line is all the user sees. Collective functions
 * return a status agreed on every rank (uhn_agree). Every function adds the
 * wall-clock time it spends to ctx->timers.io.
 */
#ifndef UHN_H5IO_H
#define UHN_H5IO_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include "uhn/context.h"

#ifdef __cplusplus
extern "C" {
#endif

#define UHN_H5_PATH_MAX 4096 /* file names */
#define UHN_H5_DSET_MAX 1024 /* dataset paths inside a file */
#define UHN_H5_ROLE_MAX 64   /* what the data is for, e.g. "--memories" */
#define UHN_H5_MAX_RANK 8    /* the most dimensions a dataset may have here */

/* Memory-side element types of reads and writes. */
typedef enum {
    UHN_H5_FLOAT32 = 0,
    UHN_H5_FLOAT64,
    UHN_H5_INT32,
    UHN_H5_INT64,
    UHN_H5_UINT8,
    UHN_H5_NTYPES
} uhn_h5_type;

/* Bytes of one element of `t` (0 for an invalid type). Not collective. */
size_t uhn_h5_type_size(uhn_h5_type t);

/* A dataset named on the command line or in a deck. */
typedef struct uhn_h5_name {
    char file[UHN_H5_PATH_MAX];
    char dataset[UHN_H5_DSET_MAX];
    char role[UHN_H5_ROLE_MAX];                        /* prefixes messages; may be "" */
    char label[UHN_H5_PATH_MAX + UHN_H5_DSET_MAX + 2]; /* "file:dataset" for messages */
} uhn_h5_name;

/*
 * Splits "FILE[:DATASET]". Rule: an argument that names an existing file is a
 * file name (its dataset is `default_dataset`); otherwise it is split at the
 * last ':' whose prefix names an existing file, or, when no prefix exists, at
 * the last ':' (so "run/mem.h5:group/x" works and a missing file is named
 * correctly). No ':' means the default dataset. An empty file or dataset part
 * ("f.h5:") is an input error. File names with ':' work when the file exists.
 * Not collective (looks only at the string and the file system).
 */
int uhn_h5_name_parse(uhn_ctx *ctx, const char *arg, const char *default_dataset, const char *role,
                      uhn_h5_name *out);

/* A file access property list for one-rank opens (close it with H5Pclose):
 * HDF5's file locks are kept, but a file system with locking disabled is not an
 * error. Returned as int64_t (an hid_t) so this header needs no hdf5.h; a
 * negative value on failure. Not collective. */
int64_t uhn_h5_serial_fapl(void);

/*
 * 1 when both paths exist and name the same file: the same path, a symbolic
 * link to it (links are followed) or a hard link (same device and inode);
 * 0 otherwise, also when either does not exist (a new output is never an
 * input). Commands use it to refuse an output that is one of their inputs
 * (recall: --memories, --queries, --values, --clamp; run: the deck, its data
 * set, its checkpoint) before any work. Not collective: call it on every rank
 * with the same arguments, or on rank 0 and agree.
 */
int uhn_h5_same_file(const char *a, const char *b);

/* Shape and file type of a dataset. */
typedef struct uhn_h5_info {
    int rank;                      /* number of dimensions (0 for a scalar) */
    int64_t dims[UHN_H5_MAX_RANK]; /* extents */
    char type[32];                 /* readable file type: "int16", "float64", "bool", ... */
} uhn_h5_info;

/*
 * Opens the dataset on rank 0 and broadcasts its shape. Errors (UHN_EINPUT): a
 * missing or unreadable file, a file that is not HDF5, a missing dataset, an
 * object that is not a dataset, a non-numeric type, more than UHN_H5_MAX_RANK
 * dimensions. Collective over ctx->comm; agreed.
 */
int uhn_h5_info_get(uhn_ctx *ctx, const uhn_h5_name *name, uhn_h5_info *info);

/* Number of elements of a dataset (the product of its dimensions; INT64_MAX when
 * that exceeds 64 bits). */
int64_t uhn_h5_info_count(const uhn_h5_info *info);

/* A dataset's shape as messages write it: "[3][4]", or "a scalar". Returns buf. */
const char *uhn_h5_shape_text(const uhn_h5_info *info, char *buf, size_t len);

/* UHN_EINPUT, naming the dataset, unless it is 2-D with at least one row and
 * one column; `expect` says what it should be ("[N][K]"). Not collective. */
int uhn_h5_check_matrix(uhn_ctx *ctx, const uhn_h5_name *name, const uhn_h5_info *info,
                        const char *expect);

/*
 * Reads rows [row0, row0 + nrows) of a 2-D dataset with ncols columns into buf
 * (nrows x ncols elements of type `mem`, row-major; owned by the caller) with
 * MPI-IO and collective transfers. Each rank names its own block; a rank with
 * nrows == 0 still takes part (buf may then be NULL). Large blocks are read in
 * several collective rounds so that no single transfer exceeds 2 GiB. A shape
 * that does not match (not 2-D, other ncols, rows out of range) is UHN_EINPUT.
 * Collective over ctx->comm; agreed.
 */
int uhn_h5_read_rows(uhn_ctx *ctx, const uhn_h5_name *name, int64_t row0, int64_t nrows,
                     int64_t ncols, uhn_h5_type mem, void *buf);

/*
 * Reads a whole dataset of exactly `count` elements (any shape, row-major) into
 * buf on every rank: rank 0 reads, then broadcasts. For small data (queries,
 * masks). Collective over ctx->comm; agreed.
 */
int uhn_h5_read_all(uhn_ctx *ctx, const uhn_h5_name *name, uhn_h5_type mem, int64_t count,
                    void *buf);

/*
 * Reads a 1-D dataset of strings (variable- or fixed-length, ASCII or UTF-8;
 * a fixed-length string ends at its first NUL) on every rank: rank 0 reads,
 * then broadcasts. On success *n is the number of strings (>= 1), string i is
 * (*buf)[(*off)[i] .. (*off)[i+1] - 1) followed by a NUL, and *off ((*n + 1)
 * entries) and *buf are malloc'd and owned by the caller (free them). Errors
 * (UHN_EINPUT, naming the role, file and dataset): what uhn_h5_info_get
 * refuses but the type, a dataset that is not strings, one that is not 1-D,
 * one with no strings. Collective over ctx->comm; agreed.
 */
int uhn_h5_read_strings(uhn_ctx *ctx, const uhn_h5_name *name, int64_t *n, int64_t **off,
                        char **buf);

/*
 * Checks, before any expensive work, that an output file can be written: an
 * existing `path` is a regular file (or a symbolic link to one), never a
 * directory, device node, FIFO or socket; its directory exists; and a file can
 * be created there (an empty file is created and removed under the writer's
 * temporary name, which catches read-only mounts, /proc and names too long
 * where access() would say yes). These are input errors (UHN_EINPUT, exit 2)
 * whose message names the path and, for a failed creation, the system's
 * reason; a full disk or quota is UHN_EIO. `role` names the option in
 * messages. Rank 0 checks. Collective; agreed.
 */
int uhn_h5_check_output(uhn_ctx *ctx, const char *path, const char *role);

/*
 * The atomic writer. uhn_h5_writer_create makes "<path>.tmp.<pid>.<n>" in the
 * output's directory; datasets, groups and attributes go there; commit closes
 * it and rename()s it onto `path`. After a failed call the caller calls
 * uhn_h5_writer_abort, which removes the temporary file; a failed commit
 * removes it itself. An existing file at `path` is never touched unless the
 * commit succeeds.
 *
 * uhn_h5_writer_create refuses (UHN_EINPUT) an existing `path` that is not a
 * regular file, as uhn_h5_check_output does; a symbolic link to a regular file
 * is accepted and the commit replaces the link, not its target. It first
 * removes the temporary files of writers of the same `path` that were killed:
 * regular files named exactly "<path>.tmp.<pid>.<n>" whose <pid> is no live
 * process on this host (so a run's checkpoint writer, for "<out>.partial",
 * removes "<out>.partial.tmp.<pid>.<n>"). A failed creation names the
 * temporary file and the system's reason (strerror).
 *
 * A writer is used by one rank: none of these functions is collective.
 */
typedef struct uhn_h5_writer uhn_h5_writer; /* opaque; owned by its creator */

int uhn_h5_writer_create(uhn_ctx *ctx, const char *path, uhn_h5_writer **out);

/* A writer whose file starts as a copy of the HDF5 file image `image` (size
 * bytes, the whole of an existing file; copied, not owned): its objects are
 * then changed through uhn_h5_writer_fid and the attribute functions, and
 * commit writes the result to `path` as above. */
int uhn_h5_writer_from_image(uhn_ctx *ctx, const char *path, const void *image, size_t size,
                             uhn_h5_writer **out);

/* A dataset to write: rank dims of type `type` from `data` (row-major, not
 * owned). description and units are required string attributes; axes (for
 * example "query,coordinate") may be NULL. */
typedef struct uhn_h5_dataset {
    const char *name;
    uhn_h5_type type;
    int rank;
    int64_t dims[UHN_H5_MAX_RANK];
    const void *data;
    const char *description;
    const char *units;
    const char *axes;
} uhn_h5_dataset;

int uhn_h5_write_dataset(uhn_h5_writer *w, const uhn_h5_dataset *d);

/* A 1-D dataset `name` of n variable-length UTF-8 strings (strings[i], not
 * owned) with its description, units and axes (axes may be NULL) attributes. */
int uhn_h5_write_strings(uhn_h5_writer *w, const char *name, int64_t n, const char *const *strings,
                         const char *description, const char *units, const char *axes);

/* The open temporary file's HDF5 id (an hid_t) for writers of richer layouts
 * (dimension scales, strings); the writer still owns and closes it. */
int64_t uhn_h5_writer_fid(const uhn_h5_writer *w);
/* The HDF5 memory type (an hid_t, H5T_NATIVE_*) of a uhn_h5_type, for such
 * writers and their readers; H5I_INVALID_HID for an unknown type. */
int64_t uhn_h5_native_type(uhn_h5_type t);
/* Creates a group (parents must exist). */
int uhn_h5_write_group(uhn_h5_writer *w, const char *path);

/*
 * Dimension scales, so that h5py and xarray (engine "h5netcdf") users see
 * labelled arrays: xarray names a dimension after the scale attached to it
 * and refuses a dataset with some dimensions labelled and others not.
 *
 * uhn_h5_make_scale marks an existing 1-D dataset as a dimension scale whose
 * name (the dimension's) is `label`. uhn_h5_attach_scale attaches the scale
 * `scale` to dimension `dim` of `dataset` and labels that dimension with the
 * scale's last path component. Both are internal errors (UHN_EINTERNAL) when
 * an object is missing or the lengths differ.
 */
int uhn_h5_make_scale(uhn_h5_writer *w, const char *dataset, const char *label);
int uhn_h5_attach_scale(uhn_h5_writer *w, const char *dataset, int dim, const char *scale);

/* What one dimension of uhn_h5_label_axes means: its name (as written in the
 * datasets' `axes` attributes) and the description of its index scale. */
typedef struct uhn_h5_axis {
    const char *name;
    const char *description;
} uhn_h5_axis;

/*
 * Labels every dimension of every dataset in `group` and its subgroups that
 * has an `axes` attribute ("query,coordinate": one name per dimension):
 * dimension i gets the scale named axes[i] in the dataset's own group. That
 * scale is made there when missing, as int64 [extent] = 0 .. extent - 1 with
 * units "1" and the description axes[] gives for its name (or "index along
 * the NAME dimension"); an existing dataset of that name is used when it is a
 * 1-D scale of the same extent (a scale of strings, say), and is otherwise an
 * internal error (a name clash). Dimensions that already have a scale are
 * left alone; datasets without `axes` (scalars) are skipped. Call it once the
 * group's datasets are written, before the commit.
 */
int uhn_h5_label_axes(uhn_h5_writer *w, const char *group, const uhn_h5_axis *axes, int naxes);

/* Attributes on an existing object ("/" is the file's root group); an
 * attribute of the same name is replaced. Strings are variable-length UTF-8. */
int uhn_h5_attr_string(uhn_h5_writer *w, const char *object, const char *name, const char *value);
int uhn_h5_attr_double(uhn_h5_writer *w, const char *object, const char *name, double value);
int uhn_h5_attr_int64(uhn_h5_writer *w, const char *object, const char *name, int64_t value);

/*
 * Creates group `group` holding the provenance of the run, enough to
 * reproduce it: uhn version, git commit, compiler, build type, compile flags
 * and build options, MPI and HDF5 library versions, the BLAS library, the
 * kernel it picked for this CPU and OPENBLAS_CORETYPE, the host (of the rank
 * that writes), ranks, threads, start and end time (UTC, ISO 8601), the
 * command line (argv, not owned), and the Slurm job, array and restart ids
 * when the run is a Slurm job.
 */
int uhn_h5_write_provenance(uhn_h5_writer *w, const char *group, time_t start, int argc,
                            char **argv);

/* The BLAS library's description (OpenBLAS: version and build) and the kernel
 * it runs on this CPU ("Zen", "Haswell", ...): floating-point sums differ in
 * their last bits between kernels. Static strings. */
const char *uhn_blas_library(void);
const char *uhn_blas_kernel(void);

/* Closes, syncs and renames the file onto its final path; frees w (also on
 * failure, after removing the temporary file). */
int uhn_h5_writer_commit(uhn_h5_writer *w);

/* Closes and removes the temporary file; frees w. NULL is allowed. */
void uhn_h5_writer_abort(uhn_h5_writer *w);

#ifdef __cplusplus
}
#endif
#endif
