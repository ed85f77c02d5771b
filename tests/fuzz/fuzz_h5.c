/*
 * Fuzz target: uhn's HDF5 input readers, structure-aware.
 *
 * Mutating the bytes of an HDF5 file mostly finds bugs inside libhdf5, which
 * uhn cannot fix. Here the fuzzer's bytes are decoded into a small plan of a
 * file instead (datasets with a name, an element type among those HDF5
 * offers, a rank of 0-4 or a null dataspace, extents from 0 to 2^64 - 1,
 * contiguous, chunked or compact storage with filters, values that include
 * NaN, Inf and huge numbers, or only the fill value; groups, soft links and
 * attributes of any type), the plan is written as a real HDF5 file with the
 * HDF5 C API, and uhn's readers are run on it the way the commands run them:
 *
 *   uhn_h5_name_parse, uhn_h5_info_get, uhn_h5_check_matrix,
 *   uhn_h5_read_rows, uhn_h5_read_all, uhn_h5_read_strings,
 *   uhn_rows_open / uhn_rows_read (the encoders' image and code input),
 *   uhn_dataset_open("hdf5:FILE") and uhn_dataset_rows (a user image set),
 *   uhn_encoder_load (a model file), then one encode and decode.
 *
 * A plan starts from one of three templates, decoded from the first byte: a
 * few arbitrary datasets, an image set in the uhn layout (images, labels,
 * captions), or the model file of an encoder (every attribute and array of
 * spec §14 with consistent sizes); then up to MAX_EDITS edits change an
 * attribute's type or value, drop one, or change a dataset's type, shape,
 * storage, values or name. Valid files and files one step from valid are so
 * both common, which is where readers go wrong.
 *
 * Sizes: a dataset's values are written only when it has at most
 * MAX_WRITE_ELEMS elements; a larger one (extents up to 2^64 - 1) is chunked
 * and holds only its fill value, so the file stays small. uhn sizes its
 * buffers from what a file declares, so the readers that read a whole dataset
 * (uhn_h5_read_all, uhn_h5_read_strings, the image set's labels and captions,
 * a model's arrays) are only run where the plan declares at most
 * MAX_READ_ELEMS elements (see the README of tests/fuzz for what uhn does
 * with larger declarations).
 */
#define _POSIX_C_SOURCE 200809L
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hdf5.h>

#include "fuzz_common.h"
#include "uhn/dataset.h"
#include "uhn/encoder.h"
#include "uhn/h5io.h"

#define MAX_OBJ         24
#define MAX_ATTR        32
#define MAX_EDITS       6
#define MAX_WRITE_ELEMS 4096      /* values written per dataset */
#define MAX_READ_ELEMS  (1 << 16) /* values a whole-dataset reader may be asked to read */
/* Largest dataset read in parallel: HDF5 1.10's collective reads of a chunked
 * dataset allocate and walk arrays over every chunk of the dataset, not only
 * the selected ones, so a sparse [2^62][1] asks it for 2^63 bytes. */
#define MAX_COLLECTIVE_ELEMS (1 << 20)
#define NAME_LEN             64

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- the plan of a file ------------------------------------------------ */

/* Element types of datasets: little-endian integers and IEEE floats,
 * big-endian ones, enumerations (h5py's bool: int8 {FALSE, TRUE}; an int16 of
 * three members), strings, types that are not numbers, unusual floats. */
typedef enum {
    T_I8,
    T_U8,
    T_I16,
    T_U16,
    T_I32,
    T_U32,
    T_I64,
    T_U64,
    T_F32,
    T_F64,
    T_F32BE,
    T_F64BE,
    T_I32BE,
    T_BOOL,
    T_ENUM16,
    T_STR_FIXED,
    T_STR_VLEN,
    T_COMPOUND,
    T_ARRAY,
    T_OPAQUE,
    T_BITFIELD,
    T_VLEN_INT,
    T_LDOUBLE,
    T_F16,
    T_COUNT
} elem_type;

/* How a dataset's values are made. */
typedef enum {
    V_RAW,
    V_ZERO,
    V_ONE,
    V_HALF,
    V_NAN,
    V_INF,
    V_HUGE,
    V_RAMP,
    V_NEG,
    V_COUNT
} value_mode;

typedef enum { O_DATASET, O_GROUP, O_SOFTLINK } obj_kind;

typedef struct {
    char name[NAME_LEN]; /* path in the file, parents made as needed */
    obj_kind kind;
    elem_type type;
    int rank; /* -1: null dataspace; 0: scalar; 1-4 */
    uint64_t dims[4];
    int layout;       /* 0 contiguous, 1 chunked, 2 compact */
    unsigned filters; /* chunked: 1 deflate, 2 shuffle, 4 fletcher32, 8 lzf (absent) */
    int write;        /* write the values (else only the fill value) */
    int fill;         /* chunked: a fill value of the value mode */
    value_mode values;
    size_t strsize; /* fixed-length strings: bytes */
    int strpad;     /* 0 nullterm, 1 nullpad, 2 spacepad */
    int utf8;
    fuzz_bytes raw;        /* bytes for V_RAW and strings (the input's) */
    char target[NAME_LEN]; /* soft links */
} obj_plan;

/* Attribute types: int64, big-endian int32, uint8, uint64, float64, float32,
 * strings, an int64 pair (two elements where one is read), an int64 with a
 * null dataspace (no value), h5py's bool. */
typedef enum {
    A_I64,
    A_I32,
    A_U8,
    A_U64,
    A_F64,
    A_F32,
    A_STR_VLEN,
    A_STR_FIXED,
    A_PAIR,
    A_NULL,
    A_BOOL,
    A_COUNT
} attr_type;

typedef struct {
    char object[NAME_LEN]; /* "/" or an object's path */
    char name[32];
    attr_type type;
    int64_t i;
    double d;
    char s[NAME_LEN];
} attr_plan;

typedef struct {
    obj_plan obj[MAX_OBJ];
    int nobj;
    attr_plan attr[MAX_ATTR];
    int nattr;
    int latest; /* the latest file format (dense attributes, new chunk indexes) */
} file_plan;

static const char *const names[] = {
    "images",
    "labels",
    "captions",
    "x",
    "data",
    "codes",
    "mean",
    "components",
    "variances",
    "codebook",
    "seeds",
    "g/x",
    "a:b",
    "g",
    "layers",
    "sub/images",
    "layers/encoder/0/weight",
    "layers/encoder/0/bias",
    "queries",
    "memories",
};
#define NNAMES (int)(sizeof names / sizeof names[0])

static const char *const encoders[] = {"identity", "centred", "pca", "random", "vq", "mlp", "none"};
static const char *const activations[] = {"identity", "relu", "tanh", "sigmoid", "softmax", ""};

/* Extents: mostly small, sometimes enormous (then only the fill value is
 * stored, in chunks that are never written). */
static uint64_t pick_extent(fuzz_bytes *b) {
    static const uint64_t huge[] = {
        (uint64_t)1 << 16, (uint64_t)1 << 31,   ((uint64_t)1 << 32) + 1, (uint64_t)1 << 40,
        (uint64_t)1 << 62, (uint64_t)INT64_MAX, (uint64_t)INT64_MAX + 1, UINT64_MAX - 1};
    uint8_t v = fuzz_u8(b);
    if (v < 224) return v % 9;
    return huge[v % (sizeof huge / sizeof huge[0])];
}

/* A product of extents that saturates at UINT64_MAX. */
static uint64_t plan_elems(const obj_plan *o) {
    if (o->rank < 0) return 0;
    uint64_t n = 1;
    for (int i = 0; i < o->rank; ++i) {
        if (o->dims[i] && n > UINT64_MAX / o->dims[i]) return UINT64_MAX;
        n *= o->dims[i];
    }
    return n;
}

static void plan_name(fuzz_bytes *b, char *dst) {
    uint8_t v = fuzz_u8(b);
    if (v < 240) {
        snprintf(dst, NAME_LEN, "%s", names[v % NNAMES]);
        return;
    }
    /* a name of the input's own characters (no NUL, not empty) */
    size_t len = 1 + fuzz_pick(b, 12);
    for (size_t i = 0; i < len; ++i) {
        char c = (char)fuzz_u8(b);
        dst[i] = c ? c : '_';
    }
    dst[len] = '\0';
}

/* Fills the storage and value fields of a dataset plan. */
static void plan_storage(fuzz_bytes *b, obj_plan *o) {
    o->layout = (int)fuzz_pick(b, 3);
    o->filters = fuzz_u8(b) & 15u;
    o->values = (value_mode)fuzz_pick(b, V_COUNT);
    o->write = fuzz_pick(b, 8) != 0;
    o->fill = fuzz_pick(b, 4) == 0;
    o->strsize = 1 + fuzz_pick(b, 16);
    o->strpad = (int)fuzz_pick(b, 3);
    o->utf8 = (int)fuzz_pick(b, 2);
    size_t nraw = fuzz_pick(b, 64);
    o->raw.p = b->p;
    o->raw.n = nraw < b->n ? nraw : b->n;
    b->p += o->raw.n;
    b->n -= o->raw.n;
}

static obj_plan *add_dataset(file_plan *f, const char *name, elem_type t, int rank,
                             const uint64_t *dims, value_mode values) {
    if (f->nobj >= MAX_OBJ) return NULL;
    obj_plan *o = &f->obj[f->nobj++];
    memset(o, 0, sizeof *o);
    snprintf(o->name, NAME_LEN, "%s", name);
    o->kind = O_DATASET;
    o->type = t;
    o->rank = rank;
    for (int i = 0; i < rank; ++i) o->dims[i] = dims[i];
    o->write = 1;
    o->values = values;
    o->strsize = 12;
    return o;
}

static void add_attr(file_plan *f, const char *object, const char *name, attr_type t, int64_t i,
                     double d, const char *s) {
    if (f->nattr >= MAX_ATTR) return;
    attr_plan *a = &f->attr[f->nattr++];
    memset(a, 0, sizeof *a);
    snprintf(a->object, NAME_LEN, "%s", object);
    snprintf(a->name, sizeof a->name, "%s", name);
    a->type = t;
    a->i = i;
    a->d = d;
    snprintf(a->s, NAME_LEN, "%s", s ? s : "");
}

/* A dataset, group or link of arbitrary make. */
static void plan_random_object(fuzz_bytes *b, file_plan *f) {
    if (f->nobj >= MAX_OBJ) return;
    obj_plan *o = &f->obj[f->nobj++];
    memset(o, 0, sizeof *o);
    plan_name(b, o->name);
    uint8_t k = fuzz_u8(b);
    o->kind = k < 224 ? O_DATASET : k < 240 ? O_GROUP : O_SOFTLINK;
    if (o->kind == O_SOFTLINK) plan_name(b, o->target);
    o->type = (elem_type)fuzz_pick(b, T_COUNT);
    o->rank = (int)fuzz_pick(b, 6) - 1;
    for (int i = 0; i < 4; ++i) o->dims[i] = pick_extent(b);
    plan_storage(b, o);
}

/* Template 1: an image set in the uhn layout (uhn/dataset.h). */
static void plan_imageset(fuzz_bytes *b, file_plan *f) {
    static const elem_type pixel[] = {T_U8, T_F32, T_F64, T_F32BE, T_I8, T_U16, T_BOOL, T_F16};
    uint64_t n = 1 + fuzz_pick(b, 6), h = 1 + fuzz_pick(b, 5), w = 1 + fuzz_pick(b, 5),
             c = 1 + fuzz_pick(b, 3);
    int rank = fuzz_pick(b, 2) ? 4 : 3;
    uint8_t t = fuzz_u8(b);
    uint64_t dims[4] = {n, h, w, c};
    obj_plan *im = add_dataset(f, "images", pixel[t < 192 ? t % 3 : t % 8], rank, dims,
                               fuzz_pick(b, 4) ? V_RAMP : (value_mode)fuzz_pick(b, V_COUNT));
    if (im) {
        im->layout = (int)fuzz_pick(b, 2);
        im->filters = fuzz_u8(b) & 7u;
    }
    uint8_t opt = fuzz_u8(b);
    if (opt & 1) {
        static const elem_type lt[] = {T_I32, T_I64, T_U8, T_I8, T_U64, T_F32, T_BOOL, T_ENUM16};
        uint64_t ld[1] = {n};
        add_dataset(f, "labels", lt[(opt >> 2) % 8], 1, ld,
                    (opt & 32) ? (value_mode)fuzz_pick(b, V_COUNT) : V_RAMP);
    }
    if (opt & 2) {
        uint64_t cd[1] = {n};
        obj_plan *cap =
            add_dataset(f, "captions", (opt & 64) ? T_STR_FIXED : T_STR_VLEN, 1, cd, V_RAW);
        if (cap) plan_storage(b, cap), cap->write = 1, cap->values = V_RAW;
    }
}

/* Template 2: the model file of an encoder (spec §14), consistent. */
static void plan_model(fuzz_bytes *b, file_plan *f) {
    const char *enc = encoders[fuzz_pick(b, sizeof encoders / sizeof encoders[0])];
    int64_t h = 1 + fuzz_pick(b, 6), w = 1 + fuzz_pick(b, 6), c = 1 + fuzz_pick(b, 3);
    int64_t K = h * w * c, D = K, p = 0, J = 0;
    int whiten = 0;
    if (!strcmp(enc, "pca") || !strcmp(enc, "random")) D = 1 + fuzz_pick(b, (uint32_t)K);
    if (!strcmp(enc, "pca")) whiten = (int)fuzz_pick(b, 2);
    if (!strcmp(enc, "mlp")) D = 1 + fuzz_pick(b, 6);
    if (!strcmp(enc, "vq")) {
        p = 1 + fuzz_pick(b, 3);
        if (h % p || w % p) p = 1;
        J = 1 + fuzz_pick(b, 4);
        D = (h / p) * (w / p) * J;
    }
    add_attr(f, "/", "uhn_model", fuzz_pick(b, 8) ? A_STR_VLEN : A_STR_FIXED, 0, 0, "encoder");
    add_attr(f, "/", "encoder", fuzz_pick(b, 8) ? A_STR_VLEN : A_STR_FIXED, 0, 0, enc);
    const struct {
        const char *name;
        int64_t v;
    } ints[] = {{"dim", D},
                {"input_length", K},
                {"height", h},
                {"width", w},
                {"channels", c},
                {"whiten", whiten},
                {"seed", (int64_t)fuzz_u8(b)},
                {"n_train", (int64_t)fuzz_u16(b)}};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; ++i)
        add_attr(f, "/", ints[i].name, A_I64, ints[i].v, 0, NULL);
    add_attr(f, "/", "fit_seconds", A_F64, 0, 0.25, NULL);
    value_mode vm = fuzz_pick(b, 4) ? V_RAMP : (value_mode)fuzz_pick(b, V_COUNT);
    uint64_t dk[1] = {(uint64_t)K}, dd[1] = {(uint64_t)D}, ddk[2] = {(uint64_t)D, (uint64_t)K};
    if (!strcmp(enc, "centred") || !strcmp(enc, "pca")) add_dataset(f, "mean", T_F64, 1, dk, vm);
    if (!strcmp(enc, "pca")) {
        add_dataset(f, "components", T_F64, 2, ddk, vm);
        add_dataset(f, "variances", T_F64, 1, dd, fuzz_pick(b, 2) ? V_ONE : vm);
    }
    if (!strcmp(enc, "vq")) {
        add_attr(f, "/", "patch", A_I64, p, 0, NULL);
        add_attr(f, "/", "codes", A_I64, J, 0, NULL);
        uint64_t cb[2] = {(uint64_t)J, (uint64_t)(p * p * c)}, sd[1] = {(uint64_t)J};
        add_dataset(f, "codebook", T_F64, 2, cb, vm);
        uint8_t rec = fuzz_u8(b);
        if (rec & 1) add_dataset(f, "seeds", T_I64, 1, sd, V_RAMP);
        if (rec & 2) add_attr(f, "/", "iterations", A_I64, rec >> 4, 0, NULL);
        if (rec & 4) add_attr(f, "/", "converged", A_I64, (rec >> 3) & 1, 0, NULL);
        if (rec & 8) add_attr(f, "/", "objective", A_F64, 0, 1.5, NULL);
    }
    if (!strcmp(enc, "mlp")) {
        static const char *const stack[2] = {"encoder", "decoder"};
        for (int s = 0; s < 2; ++s) {
            int64_t layers = 1 + fuzz_pick(b, 3), width = s == 0 ? K : D;
            char attr[32];
            snprintf(attr, sizeof attr, "%s_layers", stack[s]);
            add_attr(f, "/", attr, A_I64, layers, 0, NULL);
            for (int64_t i = 0; i < layers; ++i) {
                int64_t out = i == layers - 1 ? (s == 0 ? D : K) : 1 + fuzz_pick(b, 5);
                char g[NAME_LEN], path[NAME_LEN + 8];
                snprintf(g, sizeof g, "layers/%s/%lld", stack[s], (long long)i);
                if (f->nobj < MAX_OBJ) {
                    obj_plan *o = &f->obj[f->nobj++];
                    memset(o, 0, sizeof *o);
                    snprintf(o->name, NAME_LEN, "%s", g);
                    o->kind = O_GROUP;
                }
                add_attr(
                    f, g, "activation", A_STR_VLEN, 0, 0,
                    activations[fuzz_pick(b, 8) % 6 < 4 ? fuzz_pick(b, 4) : 4 + fuzz_pick(b, 2)]);
                uint64_t wd[2] = {(uint64_t)out, (uint64_t)width}, bd[1] = {(uint64_t)out};
                snprintf(path, sizeof path, "%s/weight", g);
                add_dataset(f, path, T_F64, 2, wd, vm);
                snprintf(path, sizeof path, "%s/bias", g);
                add_dataset(f, path, T_F64, 1, bd, V_ZERO);
                width = out;
            }
        }
    }
}

/* An edit of the plan: the step from a valid file to an almost valid one. */
static void plan_edit(fuzz_bytes *b, file_plan *f) {
    static const int64_t ints[] = {0,
                                   1,
                                   -1,
                                   2,
                                   3,
                                   255,
                                   256,
                                   INT32_MAX,
                                   (int64_t)INT32_MAX + 1,
                                   (int64_t)1 << 40,
                                   INT64_MAX,
                                   INT64_MIN,
                                   (int64_t)3037000500,
                                   (int64_t)1 << 62,
                                   -((int64_t)1 << 32),
                                   1024};
    switch (fuzz_pick(b, 8)) {
    case 0: /* an attribute's type and value */
    case 1: {
        if (!f->nattr) return;
        attr_plan *a = &f->attr[fuzz_pick(b, (uint32_t)f->nattr)];
        if (fuzz_pick(b, 2)) a->type = (attr_type)fuzz_pick(b, A_COUNT);
        uint8_t v = fuzz_u8(b);
        a->i = v < 128   ? ints[v % 16]
               : v < 192 ? (int64_t)fuzz_u64(b)
                         : (int64_t)((uint64_t)a->i + (v & 7) - 3); /* wraps */
        uint64_t bits = fuzz_u64(b);
        memcpy(&a->d, &bits, sizeof a->d);
        if (v & 1) a->d = (double)a->i;
        if (fuzz_pick(b, 4) == 0)
            snprintf(a->s, NAME_LEN, "%s",
                     fuzz_pick(b, 2) ? encoders[fuzz_pick(b, 7)] : activations[fuzz_pick(b, 6)]);
        return;
    }
    case 2: /* drop an attribute */
        if (f->nattr) f->attr[fuzz_pick(b, (uint32_t)f->nattr)] = f->attr[--f->nattr];
        return;
    case 3: /* a dataset's element type */
        if (f->nobj)
            f->obj[fuzz_pick(b, (uint32_t)f->nobj)].type = (elem_type)fuzz_pick(b, T_COUNT);
        return;
    case 4: { /* a dataset's shape */
        if (!f->nobj) return;
        obj_plan *o = &f->obj[fuzz_pick(b, (uint32_t)f->nobj)];
        if (fuzz_pick(b, 4) == 0) o->rank = (int)fuzz_pick(b, 6) - 1;
        int i = (int)fuzz_pick(b, 4);
        uint8_t v = fuzz_u8(b);
        o->dims[i] = v < 128 ? o->dims[i] + (v & 3) - 1 : pick_extent(b);
        return;
    }
    case 5: /* storage and values */
        if (f->nobj) plan_storage(b, &f->obj[fuzz_pick(b, (uint32_t)f->nobj)]);
        return;
    case 6: /* a name */
        if (f->nobj) plan_name(b, f->obj[fuzz_pick(b, (uint32_t)f->nobj)].name);
        return;
    default: /* something more */
        if (fuzz_pick(b, 2))
            plan_random_object(b, f);
        else
            add_attr(f, "/", fuzz_pick(b, 2) ? "dim" : "encoder", (attr_type)fuzz_pick(b, A_COUNT),
                     ints[fuzz_pick(b, 16)], 0.5, encoders[fuzz_pick(b, 7)]);
        return;
    }
}

static void decode_plan(fuzz_bytes *b, file_plan *f) {
    memset(f, 0, sizeof *f);
    uint8_t head = fuzz_u8(b);
    f->latest = (head >> 7) & 1;
    switch (head % 3) {
    case 0:
        for (uint32_t i = 0, n = 1 + fuzz_pick(b, 4); i < n; ++i) plan_random_object(b, f);
        break;
    case 1:
        plan_imageset(b, f);
        break;
    default:
        plan_model(b, f);
        break;
    }
    for (uint32_t i = 0, n = fuzz_pick(b, MAX_EDITS + 1); i < n; ++i) plan_edit(b, f);
}

/* ---- writing the plan -------------------------------------------------- */

/* The file type of an element type (to be closed) and the memory type its
 * values are made in (to be closed); H5I_INVALID_HID when unsupported. */
static hid_t make_type(elem_type t, const obj_plan *o, hid_t *mem) {
    hid_t ft = H5I_INVALID_HID;
    *mem = H5I_INVALID_HID;
    switch (t) {
    case T_I8:
        ft = H5Tcopy(H5T_STD_I8LE), *mem = H5Tcopy(H5T_NATIVE_INT8);
        break;
    case T_U8:
        ft = H5Tcopy(H5T_STD_U8LE), *mem = H5Tcopy(H5T_NATIVE_UINT8);
        break;
    case T_I16:
        ft = H5Tcopy(H5T_STD_I16LE), *mem = H5Tcopy(H5T_NATIVE_INT16);
        break;
    case T_U16:
        ft = H5Tcopy(H5T_STD_U16LE), *mem = H5Tcopy(H5T_NATIVE_UINT16);
        break;
    case T_I32:
        ft = H5Tcopy(H5T_STD_I32LE), *mem = H5Tcopy(H5T_NATIVE_INT32);
        break;
    case T_U32:
        ft = H5Tcopy(H5T_STD_U32LE), *mem = H5Tcopy(H5T_NATIVE_UINT32);
        break;
    case T_I64:
        ft = H5Tcopy(H5T_STD_I64LE), *mem = H5Tcopy(H5T_NATIVE_INT64);
        break;
    case T_U64:
        ft = H5Tcopy(H5T_STD_U64LE), *mem = H5Tcopy(H5T_NATIVE_UINT64);
        break;
    case T_F32:
        ft = H5Tcopy(H5T_IEEE_F32LE), *mem = H5Tcopy(H5T_NATIVE_FLOAT);
        break;
    case T_F64:
        ft = H5Tcopy(H5T_IEEE_F64LE), *mem = H5Tcopy(H5T_NATIVE_DOUBLE);
        break;
    case T_F32BE:
        ft = H5Tcopy(H5T_IEEE_F32BE), *mem = H5Tcopy(H5T_NATIVE_FLOAT);
        break;
    case T_F64BE:
        ft = H5Tcopy(H5T_IEEE_F64BE), *mem = H5Tcopy(H5T_NATIVE_DOUBLE);
        break;
    case T_I32BE:
        ft = H5Tcopy(H5T_STD_I32BE), *mem = H5Tcopy(H5T_NATIVE_INT32);
        break;
    case T_BOOL: {
        int8_t v0 = 0, v1 = 1;
        ft = H5Tenum_create(H5T_NATIVE_INT8);
        H5Tenum_insert(ft, "FALSE", &v0);
        H5Tenum_insert(ft, "TRUE", &v1);
        *mem = H5Tcopy(ft);
        break;
    }
    case T_ENUM16: {
        int16_t v[3] = {-1, 0, 300};
        ft = H5Tenum_create(H5T_NATIVE_INT16);
        H5Tenum_insert(ft, "LOW", &v[0]);
        H5Tenum_insert(ft, "ZERO", &v[1]);
        H5Tenum_insert(ft, "HIGH", &v[2]);
        *mem = H5Tcopy(ft);
        break;
    }
    case T_STR_FIXED:
        ft = H5Tcopy(H5T_C_S1);
        H5Tset_size(ft, o->strsize);
        H5Tset_strpad(ft, o->strpad == 0   ? H5T_STR_NULLTERM
                          : o->strpad == 1 ? H5T_STR_NULLPAD
                                           : H5T_STR_SPACEPAD);
        H5Tset_cset(ft, o->utf8 ? H5T_CSET_UTF8 : H5T_CSET_ASCII);
        *mem = H5Tcopy(ft);
        break;
    case T_STR_VLEN:
        ft = H5Tcopy(H5T_C_S1);
        H5Tset_size(ft, H5T_VARIABLE);
        H5Tset_cset(ft, o->utf8 ? H5T_CSET_UTF8 : H5T_CSET_ASCII);
        *mem = H5Tcopy(ft);
        break;
    case T_COMPOUND:
        ft = H5Tcreate(H5T_COMPOUND, 12);
        H5Tinsert(ft, "a", 0, H5T_STD_I32LE);
        H5Tinsert(ft, "b", 4, H5T_IEEE_F64LE);
        *mem = H5Tcopy(ft);
        break;
    case T_ARRAY: {
        hsize_t two = 2;
        ft = H5Tarray_create2(H5T_IEEE_F64LE, 1, &two);
        *mem = H5Tcopy(ft);
        break;
    }
    case T_OPAQUE:
        ft = H5Tcreate(H5T_OPAQUE, 4);
        H5Tset_tag(ft, "fuzz");
        *mem = H5Tcopy(ft);
        break;
    case T_BITFIELD:
        ft = H5Tcopy(H5T_STD_B8LE), *mem = H5Tcopy(H5T_NATIVE_B8);
        break;
    case T_VLEN_INT:
        ft = H5Tvlen_create(H5T_STD_I32LE);
        *mem = H5Tvlen_create(H5T_NATIVE_INT32);
        break;
    case T_LDOUBLE:
        ft = H5Tcopy(H5T_NATIVE_LDOUBLE), *mem = H5Tcopy(H5T_NATIVE_LDOUBLE);
        break;
    case T_F16:
        /* IEEE binary16, as numpy's float16 is stored */
        ft = H5Tcopy(H5T_IEEE_F32LE);
        H5Tset_fields(ft, 15, 10, 5, 0, 10);
        H5Tset_size(ft, 2);
        H5Tset_ebias(ft, 15);
        *mem = H5Tcopy(H5T_NATIVE_FLOAT);
        break;
    default:
        break;
    }
    return ft;
}

/* One value of the value mode, as a double (for float and integer memory
 * types; HDF5 converts on writing). */
static double mode_value(value_mode m, uint64_t i, uint64_t n) {
    switch (m) {
    case V_ONE:
        return 1.0;
    case V_HALF:
        return 0.5;
    case V_NAN:
        return NAN;
    case V_INF:
        return (i & 1) ? -INFINITY : INFINITY;
    case V_HUGE:
        return (i & 1) ? -1e300 : 1e300;
    case V_RAMP:
        return n > 1 ? (double)i / (double)(n - 1) : 0.0;
    case V_NEG:
        return -0.25 - (double)i;
    default:
        return 0.0;
    }
}

/* Stores the double v into memory of type mem (class integer or float). */
static void store_value(hid_t mem, void *dst, double v) {
    size_t sz = H5Tget_size(mem);
    if (H5Tget_class(mem) == H5T_FLOAT) {
        if (sz == sizeof(float)) {
            float f = (float)(v > FLT_MAX ? INFINITY : v < -FLT_MAX ? -INFINITY : v);
            memcpy(dst, &f, sizeof f);
        } else if (sz == sizeof(double)) {
            memcpy(dst, &v, sizeof v);
        } else {
            long double l = v;
            memcpy(dst, &l, sz < sizeof l ? sz : sizeof l);
        }
        return;
    }
    /* integers (and enums over them): the value clamped to the size's range */
    int is_signed = H5Tget_class(mem) == H5T_ENUM || H5Tget_sign(mem) != H5T_SGN_NONE;
    double lo = is_signed ? -ldexp(1.0, (int)(8 * sz - 1)) : 0.0;
    double hi = ldexp(1.0, (int)(8 * sz - (is_signed ? 1 : 0))) - 1.0;
    double c = isnan(v) ? 0.0 : v < lo ? lo : v > hi ? hi : v;
    if (is_signed) {
        int64_t x = c >= 9.2e18 ? INT64_MAX : (int64_t)c;
        memcpy(dst, &x, sz); /* little-endian: the low bytes */
    } else {
        uint64_t x = c >= 1.8e19 ? UINT64_MAX : (uint64_t)c;
        memcpy(dst, &x, sz);
    }
}

/* Makes a dataset's values in buf (n elements of the memory type mem);
 * strings point into `strings` (vlen) . */
static void make_values(const obj_plan *o, hid_t mem, uint64_t n, void *buf, char *strings,
                        hvl_t *vl, int32_t *vlv) {
    fuzz_bytes raw = o->raw;
    size_t sz = H5Tget_size(mem);
    H5T_class_t cls = H5Tget_class(mem);
    if (o->type == T_STR_VLEN) {
        char **p = buf;
        for (uint64_t i = 0; i < n; ++i) {
            char *s = strings + i * 16;
            if (o->values == V_ZERO && (i & 1)) {
                p[i] = NULL;
                continue;
            }
            size_t len = fuzz_pick(&raw, 16);
            for (size_t j = 0; j < len; ++j) s[j] = (char)fuzz_u8(&raw);
            if (!raw.n) snprintf(s, 16, "caption %llu", (unsigned long long)i);
            s[15] = '\0';
            p[i] = s;
        }
        return;
    }
    if (o->type == T_VLEN_INT) {
        for (uint64_t i = 0; i < n; ++i) {
            vl[i].len = i % 3;
            vl[i].p = vlv;
        }
        return;
    }
    if (o->values == V_RAW || (cls != H5T_INTEGER && cls != H5T_FLOAT && cls != H5T_ENUM)) {
        fuzz_copy(&raw, buf, (size_t)n * sz);
        if (o->type == T_STR_FIXED && !o->raw.n)
            for (uint64_t i = 0; i < n; ++i)
                snprintf((char *)buf + i * sz, sz, "c%llu", (unsigned long long)i);
        return;
    }
    for (uint64_t i = 0; i < n; ++i) {
        double v = mode_value(o->values, i, n);
        if (cls == H5T_ENUM) v = o->values == V_RAMP ? (double)(i & 1) : v;
        store_value(mem, (char *)buf + i * sz, v);
    }
}

static void write_dataset(hid_t fid, hid_t lcpl, const obj_plan *o) {
    hid_t mem = H5I_INVALID_HID, ft = make_type(o->type, o, &mem);
    hid_t space = H5I_INVALID_HID, dcpl = H5Pcreate(H5P_DATASET_CREATE), did = H5I_INVALID_HID;
    hsize_t dims[4], maxd[4], chunk[4];
    uint64_t n = plan_elems(o);
    int huge = n > MAX_WRITE_ELEMS;
    int chunked = o->rank > 0 && (o->layout == 1 || huge);
    if (ft < 0 || mem < 0 || dcpl < 0) goto done;
    for (int i = 0; i < o->rank && i < 4; ++i) {
        dims[i] = o->dims[i];
        maxd[i] = chunked ? H5S_UNLIMITED : o->dims[i];
        chunk[i] = o->dims[i] == 0 ? 1 : o->dims[i] < 4 ? o->dims[i] : 4;
    }
    space = o->rank < 0    ? H5Screate(H5S_NULL)
            : o->rank == 0 ? H5Screate(H5S_SCALAR)
                           : H5Screate_simple(o->rank, dims, maxd);
    if (space < 0) goto done;
    if (chunked) {
        if (H5Pset_chunk(dcpl, o->rank, chunk) < 0) goto done;
        if (o->filters & 2) H5Pset_shuffle(dcpl);
        if (o->filters & 1) H5Pset_deflate(dcpl, 1);
        if (o->filters & 4) H5Pset_fletcher32(dcpl);
        if (o->filters & 8) H5Pset_filter(dcpl, 32000, H5Z_FLAG_OPTIONAL, 0, NULL); /* lzf */
    } else if (o->layout == 2 && o->rank >= 0) {
        H5Pset_layout(dcpl, H5D_COMPACT);
    }
    if (o->fill && H5Tget_class(mem) != H5T_STRING && H5Tget_class(mem) != H5T_VLEN &&
        H5Tget_size(mem) <= 16) {
        unsigned char fv[16] = {0};
        make_values(o, mem, 1, fv, NULL, NULL, NULL);
        H5Pset_fill_value(dcpl, mem, fv);
    }
    did = H5Dcreate2(fid, o->name, ft, space, lcpl, dcpl, H5P_DEFAULT);
    if (did < 0 || !o->write || huge || n == 0 || o->rank < 0) goto done;
    size_t sz = H5Tget_size(mem);
    void *buf = calloc((size_t)n, sz > sizeof(hvl_t) ? sz : sizeof(hvl_t));
    char *strings = o->type == T_STR_VLEN ? calloc((size_t)n, 16) : NULL;
    int32_t vlv[2] = {7, -7};
    if (buf && (o->type != T_STR_VLEN || strings)) {
        make_values(o, mem, n, buf, strings, buf, vlv);
        H5Dwrite(did, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
    }
    free(strings);
    free(buf);
done:
    if (did >= 0) H5Dclose(did);
    if (space >= 0) H5Sclose(space);
    if (dcpl >= 0) H5Pclose(dcpl);
    if (ft >= 0) H5Tclose(ft);
    if (mem >= 0) H5Tclose(mem);
}

static void write_attr(hid_t fid, const attr_plan *a) {
    hid_t type = H5I_INVALID_HID, space = H5I_INVALID_HID, attr = H5I_INVALID_HID;
    unsigned char buf[2 * sizeof(int64_t)] = {0};
    const char *s = a->s;
    hsize_t two = 2;
    space = a->type == A_PAIR   ? H5Screate_simple(1, &two, NULL)
            : a->type == A_NULL ? H5Screate(H5S_NULL)
                                : H5Screate(H5S_SCALAR);
    switch (a->type) {
    case A_I64:
    case A_PAIR:
    case A_NULL:
        type = H5Tcopy(H5T_STD_I64LE);
        break;
    case A_I32:
        type = H5Tcopy(H5T_STD_I32BE);
        break;
    case A_U8:
        type = H5Tcopy(H5T_STD_U8LE);
        break;
    case A_U64:
        type = H5Tcopy(H5T_STD_U64LE);
        break;
    case A_F64:
        type = H5Tcopy(H5T_IEEE_F64LE);
        break;
    case A_F32:
        type = H5Tcopy(H5T_IEEE_F32LE);
        break;
    case A_STR_VLEN:
        type = H5Tcopy(H5T_C_S1), H5Tset_size(type, H5T_VARIABLE);
        break;
    case A_STR_FIXED:
        type = H5Tcopy(H5T_C_S1), H5Tset_size(type, strlen(s) ? strlen(s) : 1);
        break;
    case A_BOOL: {
        int8_t v0 = 0, v1 = 1;
        type = H5Tenum_create(H5T_NATIVE_INT8);
        H5Tenum_insert(type, "FALSE", &v0);
        H5Tenum_insert(type, "TRUE", &v1);
        break;
    }
    default:
        break;
    }
    if (type < 0 || space < 0) goto done;
    attr = H5Acreate_by_name(fid, a->object, a->name, type, space, H5P_DEFAULT, H5P_DEFAULT,
                             H5P_DEFAULT);
    if (attr < 0 || a->type == A_NULL) goto done;
    switch (a->type) {
    case A_I64:
    case A_PAIR: {
        int64_t v[2] = {a->i, a->i};
        H5Awrite(attr, H5T_NATIVE_INT64, v);
        break;
    }
    case A_I32:
    case A_U8:
    case A_U64:
        /* the value through HDF5's conversion (clamped to the type) */
        memcpy(buf, &a->i, sizeof a->i);
        H5Awrite(attr, H5T_NATIVE_INT64, buf);
        break;
    case A_F64:
    case A_F32:
        H5Awrite(attr, H5T_NATIVE_DOUBLE, &a->d);
        break;
    case A_STR_VLEN:
        H5Awrite(attr, type, &s);
        break;
    case A_STR_FIXED:
        H5Awrite(attr, type, s);
        break;
    case A_BOOL: {
        int8_t v = (int8_t)a->i;
        H5Awrite(attr, type, &v);
        break;
    }
    default:
        break;
    }
done:
    if (attr >= 0) H5Aclose(attr);
    if (type >= 0) H5Tclose(type);
    if (space >= 0) H5Sclose(space);
}

static int write_plan(const file_plan *f, const char *path) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS), lcpl = H5Pcreate(H5P_LINK_CREATE);
    if (fapl < 0 || lcpl < 0) abort();
    if (f->latest) H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t fid = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    if (fid < 0) {
        fprintf(stderr, "fuzz_h5: cannot create %s\n", path);
        abort();
    }
    for (int i = 0; i < f->nobj; ++i) {
        const obj_plan *o = &f->obj[i];
        if (o->kind == O_GROUP) {
            hid_t g = H5Gcreate2(fid, o->name, lcpl, H5P_DEFAULT, H5P_DEFAULT);
            if (g >= 0) H5Gclose(g);
        } else if (o->kind == O_SOFTLINK) {
            H5Lcreate_soft(o->target, fid, o->name, lcpl, H5P_DEFAULT);
        } else {
            write_dataset(fid, lcpl, o);
        }
    }
    for (int i = 0; i < f->nattr; ++i) write_attr(fid, &f->attr[i]);
    H5Fclose(fid);
    H5Pclose(lcpl);
    H5Pclose(fapl);
    return 0;
}

/* ---- running uhn's readers --------------------------------------------- */

/* 1 when every dataset of the plan declares at most MAX_READ_ELEMS values,
 * but for one named `except` (NULL: none) whose first extent is at most that,
 * and, with `weights`, mlp weights of more than 2^31 values (which uhn refuses
 * from their shape, before reading): the whole-dataset readers are only run
 * then. */
static int plan_small(const file_plan *f, const char *except, int weights) {
    for (int i = 0; i < f->nobj; ++i) {
        const obj_plan *o = &f->obj[i];
        if (o->kind != O_DATASET || plan_elems(o) <= MAX_READ_ELEMS) continue;
        if (except && !strcmp(o->name, except) && o->rank >= 1 && o->dims[0] <= MAX_READ_ELEMS)
            continue;
        size_t len = strlen(o->name);
        if (weights && len >= 7 && !strcmp(o->name + len - 7, "/weight") && o->rank == 2 &&
            plan_elems(o) > INT32_MAX)
            continue;
        return 0;
    }
    return 1;
}

/* Open HDF5 identifiers of the kinds uhn's readers open, all files together:
 * a reader must close what it opens, on every path. */
static int64_t open_ids(void) {
    static const H5I_type_t kinds[] = {H5I_FILE,      H5I_GROUP,    H5I_DATASET,    H5I_ATTR,
                                       H5I_DATASPACE, H5I_DATATYPE, H5I_GENPROP_LST};
    int64_t total = 0;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; ++i) {
        hsize_t n = 0;
        if (H5Inmembers(kinds[i], &n) >= 0) total += (int64_t)n;
    }
    return total;
}

/* The element count of a shape, saturated at INT64_MAX (as
 * uhn_h5_info_count must count it). */
static int64_t sat_elems(const uhn_h5_info *info) {
    for (int i = 0; i < info->rank; ++i)
        if (info->dims[i] == 0) return 0;
    uint64_t n = 1;
    for (int i = 0; i < info->rank; ++i) {
        uint64_t d = (uint64_t)info->dims[i];
        if (n > (uint64_t)INT64_MAX / d) return INT64_MAX;
        n *= d;
    }
    return (int64_t)n;
}

/* The generic readers on one dataset, as `uhn recall` and `uhn encode` use
 * them. `small`: whole-dataset reads are allowed. */
static void read_dataset(const char *path, const char *dset, int small, fuzz_bytes *b) {
    uhn_ctx *ctx = fuzz_ctx();
    char arg[UHN_H5_PATH_MAX];
    uhn_h5_name name;
    uhn_h5_info info;
    snprintf(arg, sizeof arg, "%s:%s", path, dset);
    int rc = uhn_h5_name_parse(ctx, arg, "images", "--fuzz", &name);
    fuzz_note("uhn_h5_name_parse", rc);
    if (rc != UHN_OK) return;
    if (strcmp(name.file, path)) abort(); /* the file exists: it is the prefix */
    rc = uhn_h5_info_get(ctx, &name, &info);
    fuzz_note("uhn_h5_info_get", rc);
    if (rc != UHN_OK) {
        /* strings are refused here but read by their own reader */
        if (small) {
            int64_t n = 0, *off = NULL;
            char *buf = NULL;
            rc = uhn_h5_read_strings(ctx, &name, &n, &off, &buf);
            fuzz_note("uhn_h5_read_strings", rc);
            if (rc == UHN_OK) {
                if (n < 1 || off[0] != 0) abort();
                for (int64_t i = 0; i < n; ++i)
                    if (off[i + 1] <= off[i] || buf[off[i + 1] - 1] != '\0') abort();
            }
            free(off);
            free(buf);
        }
        return;
    }
    char shape[256];
    (void)uhn_h5_shape_text(&info, shape, sizeof shape);
    int64_t elems = sat_elems(&info);
    /* the library's count of the same shape, saturated alike */
    if (uhn_h5_info_count(&info) != elems) abort();
    uhn_h5_type mem = (uhn_h5_type)fuzz_pick(b, UHN_H5_NTYPES);
    size_t esize = uhn_h5_type_size(mem);

    /* a whole small dataset, or a wrong count (checked before any read) */
    int64_t count = small && elems <= MAX_READ_ELEMS ? elems : 1 + (int64_t)fuzz_pick(b, 4);
    void *all = malloc((size_t)(count ? count : 1) * esize);
    if (all) fuzz_note("uhn_h5_read_all", uhn_h5_read_all(ctx, &name, mem, count, all));
    free(all);

    /* rows of a matrix, in range or just outside it */
    if (uhn_h5_check_matrix(ctx, &name, &info, "[N][K]") == UHN_OK &&
        elems <= MAX_COLLECTIVE_ELEMS) {
        int64_t rows = info.dims[0], cols = info.dims[1];
        int64_t row0 = (int64_t)fuzz_pick(b, 4) - 1, nrows = fuzz_pick(b, 5);
        if (rows <= 8 && fuzz_pick(b, 2)) row0 = 0, nrows = rows;
        if (row0 >= 0 && row0 < rows && nrows > rows - row0 + 1) nrows = rows - row0 + 1;
        void *buf = malloc((size_t)(nrows > 0 ? nrows : 1) * (size_t)cols * esize);
        if (buf)
            fuzz_note("uhn_h5_read_rows",
                      uhn_h5_read_rows(ctx, &name, row0, nrows, cols, mem, buf));
        free(buf);
    }

    /* the encoders' row reader, as images or as codes */
    uhn_rows_input in;
    rc = uhn_rows_open(ctx, &name, (int)fuzz_pick(b, 2), &in);
    fuzz_note("uhn_rows_open", rc);
    if (rc == UHN_OK && in.k >= 1 && in.k <= MAX_READ_ELEMS && elems <= MAX_COLLECTIVE_ELEMS) {
        int64_t nrows = in.n < 3 ? in.n : 3;
        float *out = malloc((size_t)(nrows * in.k) * sizeof *out);
        if (out) fuzz_note("uhn_rows_read", uhn_rows_read(ctx, &in, in.n - nrows, nrows, out));
        free(out);
    }
}

/* The hdf5 source, as `uhn run` opens a deck's data set. */
static void read_imageset(const char *path) {
    char spec[UHN_H5_PATH_MAX + 8];
    uhn_dataset *ds = NULL;
    snprintf(spec, sizeof spec, "hdf5:%s", path);
    int rc = uhn_dataset_open(fuzz_ctx(), spec, &ds);
    fuzz_note("uhn_dataset_open", rc);
    if (rc != UHN_OK) return;
    int64_t n = uhn_dataset_n(ds), k = uhn_dataset_k(ds);
    if (n < 1 || k < 1) abort();
    for (int64_t i = 0; i < n && i < 8; ++i) {
        const char *c = uhn_dataset_caption(ds, i);
        if (c) (void)strlen(c);
        (void)uhn_dataset_label(ds, i);
    }
    if (k <= MAX_READ_ELEMS) {
        const int64_t index[3] = {n - 1, 0, n - 1};
        float *rows = malloc((size_t)(3 * k) * sizeof *rows);
        if (rows && uhn_dataset_rows(ds, index, 3, rows) == UHN_OK)
            for (int64_t e = 0; e < 3 * k; ++e)
                if (!(rows[e] >= 0.0f && rows[e] <= 1.0f)) abort(); /* checked on read */
        free(rows);
    }
    uhn_dataset_close(ds);
}

/* The value an attribute of the plan gives a model's integer, as a double
 * (the guard below), or NAN. */
static double attr_number(const file_plan *f, const char *name) {
    for (int i = 0; i < f->nattr; ++i)
        if (!strcmp(f->attr[i].object, "/") && !strcmp(f->attr[i].name, name))
            return f->attr[i].type == A_F64 || f->attr[i].type == A_F32 ? f->attr[i].d
                                                                        : (double)f->attr[i].i;
    return NAN;
}

/* A model file, as `uhn encode` and `uhn run` (encoder = file:M) load it. */
static void read_model(const file_plan *f, const char *path) {
    /* random keeps only its seed: R (dim x input_length values) is made on
     * load, as large as the attributes say */
    double rk = fabs(attr_number(f, "dim")) * fabs(attr_number(f, "input_length"));
    if (!(rk <= MAX_READ_ELEMS)) {
        for (int i = 0; i < f->nattr; ++i)
            if (!strcmp(f->attr[i].name, "encoder") && strstr(f->attr[i].s, "random")) return;
    }
    uhn_encoder *e = NULL;
    int rc = uhn_encoder_load(fuzz_ctx(), path, "--model", &e);
    fuzz_note("uhn_encoder_load", rc);
    if (rc != UHN_OK) return;
    int64_t K = uhn_encoder_k(e), D = uhn_encoder_dim(e);
    char desc[256];
    (void)uhn_encoder_describe(e, desc, sizeof desc);
    (void)uhn_encoder_name(e);
    if (K >= 1 && D >= 1 && K <= MAX_READ_ELEMS && D <= MAX_READ_ELEMS) {
        float *x = malloc((size_t)K * sizeof *x), *c = malloc((size_t)D * sizeof *c);
        if (x && c) {
            for (int64_t i = 0; i < K; ++i) x[i] = (float)(i % 7) / 7.0f;
            if (uhn_encoder_encode(fuzz_ctx(), e, x, 1, c) == UHN_OK)
                (void)uhn_encoder_decode(fuzz_ctx(), e, c, 1, x);
        }
        free(x);
        free(c);
    }
    uhn_encoder_destroy(e);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    fuzz_setup(1);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* the writer's own errors are expected */
    /* Keep HDF5's freed blocks for reuse: every file open callocs a metadata
     * cache of about a megabyte, which the sanitizer's allocator would
     * otherwise map and unmap each time (most of an input's time). */
    H5set_free_list_limits(-1, -1, -1, -1, -1, -1);
    /* One input of each template first, its allocations never leaks: Open
     * MPI's MPI-IO and HDF5 allocate once, on first use, what they keep for
     * the process. (corpus/fuzz_h5: matrix_f32, imageset_u8, model_vq) */
    static const uint8_t warm[3][48] = {
        {0, 0, 3, 0, 8, 3, 3, 4, 0, 0, 0, 0, 7, 1, 1, 7, 0, 0, 0, 0},
        {1,   2,   3,   3,   0,   0, 0,  1,  0,   0, 3, 0,  0,  0,  1,  1,   11,  0,   0,   21,  5,
         104, 101, 108, 108, 111, 3, 99, 97, 116, 0, 7, 97, 32, 99, 97, 112, 116, 105, 111, 110, 0},
        {2, 4, 3, 3, 0, 1, 2, 1, 1, 7, 100, 0, 1, 15, 0}};
    fuzz_leaks_ignore(1);
    for (int i = 0; i < 3; ++i) LLVMFuzzerTestOneInput(warm[i], sizeof warm[i]);
    fuzz_leaks_ignore(0);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static file_plan plan; /* large; one input at a time */
    char path[UHN_H5_PATH_MAX];
    fuzz_bytes b = {data, size};
    decode_plan(&b, &plan);
    snprintf(path, sizeof path, "%s/f.h5", fuzz_tmpdir());
    write_plan(&plan, path);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);

    int small = plan_small(&plan, NULL, 0);
    int64_t ids = open_ids();
    /* the generic readers on up to three of the plan's objects */
    for (int i = 0, done = 0; i < plan.nobj && done < 3; ++i) {
        if (plan.obj[i].kind == O_GROUP) continue;
        read_dataset(path, plan.obj[i].name, small, &b);
        ++done;
    }
    {
        /* the file name alone: the default dataset */
        uhn_h5_name name;
        if (uhn_h5_name_parse(fuzz_ctx(), path, "images", "", &name) != UHN_OK ||
            strcmp(name.dataset, "images"))
            abort();
    }
    if (plan_small(&plan, "images", 0)) read_imageset(path);
    if (plan_small(&plan, NULL, 1)) read_model(&plan, path);
    if (open_ids() != ids) {
        fprintf(stderr, "fuzz_h5: uhn left %lld HDF5 identifiers open\n",
                (long long)(open_ids() - ids));
        abort();
    }
    return 0;
}
