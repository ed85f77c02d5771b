/*
 * Synthetic patterns, generated on demand: every pixel is a pure function of
 * (seed, row, pixel) through the Philox generator, so any rank can make any
 * row, identically for every rank count, and no bank needs a file.
 */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/dataset_impl.h"
#include "uhn/rng.h"

typedef struct synth_state synth_state;
typedef float (*synth_pixel)(const synth_state *s, int64_t row, int64_t p);

/* The parameters of a synthetic set (the keys of its spec). */
struct synth_state {
    const struct synth_kind *kind;
    double n, k, h, w, c, seed, mean, sd, families, noise;
    float *protos; /* families x k prototypes of correlated sets; owned */
};

static float clip01(double x) {
    return (float)(x < 0.0 ? 0.0 : x > 1.0 ? 1.0 : x);
}
static uint64_t seed_of(const synth_state *s) {
    return (uint64_t)s->seed;
}
static float px_binary(const synth_state *s, int64_t row, int64_t p) {
    return uhn_rng_uniform(seed_of(s), UHN_STREAM_DATA_ROWS, (uint64_t)row, (uint32_t)p) < 0.5
               ? -1.0f
               : 1.0f;
}
static float px_binary01(const synth_state *s, int64_t row, int64_t p) {
    return uhn_rng_uniform(seed_of(s), UHN_STREAM_DATA_ROWS, (uint64_t)row, (uint32_t)p) < 0.5
               ? 0.0f
               : 1.0f;
}
static float px_uniform(const synth_state *s, int64_t row, int64_t p) {
    return (float)uhn_rng_uniform(seed_of(s), UHN_STREAM_DATA_ROWS, (uint64_t)row, (uint32_t)p);
}
static float px_gaussian(const synth_state *s, int64_t row, int64_t p) {
    return clip01(s->mean + s->sd * uhn_rng_normal(seed_of(s), UHN_STREAM_DATA_ROWS, (uint64_t)row,
                                                   (uint32_t)p));
}
static float px_correlated(const synth_state *s, int64_t row, int64_t p) {
    int64_t f = row % (int64_t)s->families, k = (int64_t)s->k;
    return clip01(s->protos[f * k + p] + s->noise * uhn_rng_normal(seed_of(s), UHN_STREAM_DATA_ROWS,
                                                                   (uint64_t)row, (uint32_t)p));
}

/* ---- rows, a block of pixels at a time ------------------------------------
 *
 * The pixel functions above are the reference. A row is made LANES pixels at
 * a time: uhn_philox4x32_lanes draws the words of LANES counters at once in
 * vector registers (exactly as uhn_philox4x32), then each kind's transform of
 * the words as its pixel function does it. tests/study/test_synthetic_rows.c checks
 * every kind against uhn_rng_uniform / uhn_rng_normal. */

#define LANES UHN_PHILOX_LANES

typedef struct words {
    uint32_t w[4][LANES];
} words;

/* The four words of (seed, stream, row, counter p0 + l) for l < m. */
static inline void philox_lanes(const synth_state *s, int64_t row, int64_t p0, int m, words *o) {
    uhn_philox4x32_lanes(seed_of(s), UHN_STREAM_DATA_ROWS, (uint64_t)row, (uint32_t)p0, m, o->w);
}

/* uhn_rng_uniform's double, from the first two words of lane l. */
static inline double lane_uniform(const words *x, int l) {
    return (double)((((uint64_t)x->w[0][l] << 32) | x->w[1][l]) >> 11) * 0x1.0p-53;
}
/* uhn_rng_normal's, from the four words of lane l. */
static double lane_normal(const words *x, int l) {
    uint64_t a = ((uint64_t)x->w[0][l] << 32) | x->w[1][l],
             b = ((uint64_t)x->w[2][l] << 32) | x->w[3][l];
    double u1 = ((double)(a >> 11) + 0.5) * 0x1.0p-53, u2 = (double)(b >> 11) * 0x1.0p-53;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* Pixels p0 .. p0 + m - 1 (m <= LANES) of `row` into out[0 .. m). */
typedef void (*synth_block)(const synth_state *s, int64_t row, int64_t p0, int m, float *out);

/* binary and binary01: uniform < 0.5 is the top bit of the first word clear
 * ((w0 w1) >> 11 < 2^52 exactly when w0 < 2^31). */
static void blk_binary(const synth_state *s, int64_t row, int64_t p0, int m, float *out) {
    words x;
    philox_lanes(s, row, p0, m, &x);
    for (int l = 0; l < m; ++l) out[l] = x.w[0][l] >> 31 ? 1.0f : -1.0f;
}
static void blk_binary01(const synth_state *s, int64_t row, int64_t p0, int m, float *out) {
    words x;
    philox_lanes(s, row, p0, m, &x);
    for (int l = 0; l < m; ++l) out[l] = x.w[0][l] >> 31 ? 1.0f : 0.0f;
}
static void blk_uniform(const synth_state *s, int64_t row, int64_t p0, int m, float *out) {
    words x;
    philox_lanes(s, row, p0, m, &x);
    for (int l = 0; l < m; ++l) out[l] = (float)lane_uniform(&x, l);
}
static void blk_gaussian(const synth_state *s, int64_t row, int64_t p0, int m, float *out) {
    words x;
    philox_lanes(s, row, p0, m, &x);
    for (int l = 0; l < m; ++l) out[l] = clip01(s->mean + s->sd * lane_normal(&x, l));
}
static void blk_correlated(const synth_state *s, int64_t row, int64_t p0, int m, float *out) {
    words x;
    int64_t f = row % (int64_t)s->families, k = (int64_t)s->k;
    philox_lanes(s, row, p0, m, &x);
    for (int l = 0; l < m; ++l)
        out[l] = clip01(s->protos[f * k + p0 + l] + s->noise * lane_normal(&x, l));
}

/* Kinds; `keys` lists the optional keys each accepts beyond the shape and
 * seed. `pixel` is the reference, `block` the one rows are made with. */
typedef struct synth_kind {
    const char *name;
    synth_pixel pixel;
    synth_block block;
    float lo;
    const char *keys;
} synth_kind;

static const synth_kind kinds[] = {
    {"binary", px_binary, blk_binary, -1.0f, ""},
    {"binary01", px_binary01, blk_binary01, 0.0f, ""},
    {"uniform", px_uniform, blk_uniform, 0.0f, ""},
    {"gaussian", px_gaussian, blk_gaussian, 0.0f, ",mean,sd,"},
    {"correlated", px_correlated, blk_correlated, 0.0f, ",families,noise,"},
};

/* The most prototype pixels a correlated set may hold (1 GiB of float32). */
#define UHN_SYNTH_PROTO_MAX 268435456.0

/* Keys: where each goes, its bounds, whether it must be an integer, and its
 * default (NAN: required or derived). */
static const struct {
    const char *name;
    size_t offset;
    double lo, hi;
    int integer;
    double dflt;
} keys[] = {
    {"n", offsetof(synth_state, n), 1, 9.0e15, 1, NAN},
    {"k", offsetof(synth_state, k), 1, 4.0e9, 1, NAN},
    {"h", offsetof(synth_state, h), 1, 4.0e9, 1, NAN},
    {"w", offsetof(synth_state, w), 1, 4.0e9, 1, NAN},
    {"c", offsetof(synth_state, c), 1, 4.0e9, 1, 1},
    {"seed", offsetof(synth_state, seed), 0, 9.0e15, 1, 0},
    {"mean", offsetof(synth_state, mean), 0, 1, 0, 0.5},
    {"sd", offsetof(synth_state, sd), 0, 1e6, 0, 0.2},
    {"families", offsetof(synth_state, families), 1, 1e6, 1, 10},
    {"noise", offsetof(synth_state, noise), 0, 1e6, 0, 0.1},
};
#define NKEYS (sizeof keys / sizeof keys[0])

static double *key_slot(synth_state *s, size_t i) {
    return (double *)((char *)s + keys[i].offset);
}

static int kind_accepts(const synth_kind *kd, const char *key) {
    char pat[300];
    snprintf(pat, sizeof pat, ",%s,", key);
    return strstr(",n,k,h,w,c,seed,", pat) || strstr(kd->keys, pat);
}

/* Parses one "key=value" (len bytes at kv). */
static int parse_key(uhn_ctx *ctx, const char *spec, const char *kv, size_t len, synth_state *s,
                     int seen[NKEYS]) {
    char buf[256];
    if (len >= sizeof buf)
        return uhn_fail(ctx, UHN_EINPUT, "data set '%s': parameter '%.40s...' is too long", spec,
                        kv);
    memcpy(buf, kv, len);
    buf[len] = '\0';
    char *eq = strchr(buf, '=');
    if (!eq)
        return uhn_fail(ctx, UHN_EINPUT, "data set '%s': parameter '%s' is not KEY=VALUE", spec,
                        buf);
    *eq = '\0';
    const char *val = eq + 1;
    size_t i = 0;
    while (i < NKEYS && strcmp(keys[i].name, buf) != 0) ++i;
    if (i == NKEYS || !kind_accepts(s->kind, buf))
        return uhn_fail(ctx, UHN_EINPUT, "data set '%s': unknown key '%s' for synthetic:%s", spec,
                        buf, s->kind->name);
    if (seen[i]) return uhn_fail(ctx, UHN_EINPUT, "data set '%s': key '%s' given twice", spec, buf);
    seen[i] = 1;
    char *end = NULL;
    errno = 0;
    double v = strtod(val, &end);
    if (!*val || *end || errno || !isfinite(v))
        return uhn_fail(ctx, UHN_EINPUT, "data set '%s': %s = '%s' is not a number", spec, buf,
                        val);
    if (v < keys[i].lo || v > keys[i].hi || (keys[i].integer && v != floor(v)))
        return uhn_fail(ctx, UHN_EINPUT, "data set '%s': %s = %s must be %s in [%g, %g]", spec, buf,
                        val, keys[i].integer ? "an integer" : "a number", keys[i].lo, keys[i].hi);
    *key_slot(s, i) = v;
    return UHN_OK;
}

static int parse(uhn_ctx *ctx, const char *spec, const char *arg, synth_state *s) {
    size_t len = strcspn(arg, "?");
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; ++i)
        if (strlen(kinds[i].name) == len && strncmp(arg, kinds[i].name, len) == 0)
            s->kind = &kinds[i];
    if (!s->kind)
        return uhn_fail(ctx, UHN_EINPUT,
                        "data set '%s': unknown synthetic kind '%.*s' (binary, binary01, uniform, "
                        "gaussian, correlated)",
                        spec, (int)len, arg);
    int seen[NKEYS] = {0};
    for (size_t i = 0; i < NKEYS; ++i) *key_slot(s, i) = keys[i].dflt;
    const char *p = arg[len] == '?' ? arg + len + 1 : NULL;
    while (p && *p) {
        size_t l = strcspn(p, "&");
        UHN_CALL(parse_key(ctx, spec, p, l, s, seen));
        p += l + (p[l] == '&');
    }
    if (isnan(s->n)) return uhn_fail(ctx, UHN_EINPUT, "data set '%s': key n is required", spec);
    if (isnan(s->h) != isnan(s->w))
        return uhn_fail(ctx, UHN_EINPUT, "data set '%s': give both h and w, or neither", spec);
    if (isnan(s->h) && isnan(s->k))
        return uhn_fail(ctx, UHN_EINPUT, "data set '%s': give k, or h and w", spec);
    if (isnan(s->h)) {
        if (seen[4]) return uhn_fail(ctx, UHN_EINPUT, "data set '%s': c needs h and w", spec);
        s->h = 1;
        s->w = s->k;
    } else if (!isnan(s->k) && s->k != s->h * s->w * s->c) {
        return uhn_fail(ctx, UHN_EINPUT, "data set '%s': k = %.0f but h*w*c = %.0f", spec, s->k,
                        s->h * s->w * s->c);
    }
    s->k = s->h * s->w * s->c;
    if (s->k > 4.0e9)
        return uhn_fail(ctx, UHN_EINPUT, "data set '%s': k = h*w*c = %.0f is too large", spec,
                        s->k);
    /* Every rank holds the prototypes of a correlated set: bound them before
     * allocating (an overcommitted allocation would fail only when touched). */
    if (s->kind->pixel == px_correlated && s->families * s->k > UHN_SYNTH_PROTO_MAX)
        return uhn_fail(ctx, UHN_EINPUT,
                        "data set '%s': families * k = %.0f prototype pixels is more than %.0f "
                        "(every rank holds them; use fewer families or smaller images)",
                        spec, s->families * s->k, UHN_SYNTH_PROTO_MAX);
    return UHN_OK;
}

int uhn_synthetic_open(uhn_ctx *ctx, const char *arg, uhn_dataset *ds) {
    synth_state *s = calloc(1, sizeof *s);
    if (!s) return uhn_fail(ctx, UHN_ENOMEM, "data set '%s': out of memory", ds->spec);
    ds->state = s;
    UHN_CALL(parse(ctx, ds->spec, arg, s));
    ds->n = (int64_t)s->n;
    ds->h = (int64_t)s->h;
    ds->w = (int64_t)s->w;
    ds->c = (int64_t)s->c;
    ds->k = (int64_t)s->k;
    ds->lo = s->kind->lo;
    if (s->kind->pixel != px_correlated) return UHN_OK;
    int64_t nf = (int64_t)s->families;
    s->protos = malloc((size_t)(nf * ds->k) * sizeof *s->protos);
    if (!s->protos)
        return uhn_fail(ctx, UHN_ENOMEM, "data set '%s': cannot allocate %lld prototypes", ds->spec,
                        (long long)nf);
    for (int64_t f = 0; f < nf; ++f)
        for (int64_t p = 0; p < ds->k; ++p)
            s->protos[f * ds->k + p] =
                (float)uhn_rng_uniform(seed_of(s), UHN_STREAM_DATA_PROTO, (uint64_t)f, (uint32_t)p);
    return UHN_OK;
}

int uhn_synthetic_rows(const uhn_dataset *ds, const int64_t *index, int64_t count, float *out) {
    const synth_state *s = ds->state;
    const int64_t k = ds->k;
    const synth_block block = s->kind->block;
#pragma omp parallel for schedule(static)
    for (int64_t j = 0; j < count; ++j)
        for (int64_t p = 0; p < k; p += LANES)
            block(s, index[j], p, k - p < LANES ? (int)(k - p) : LANES, out + j * k + p);
    return UHN_OK;
}

int64_t uhn_synthetic_label(const uhn_dataset *ds, int64_t i) {
    const synth_state *s = ds->state;
    return s->kind->pixel == px_correlated ? i % (int64_t)s->families : -1;
}

void uhn_synthetic_close(uhn_dataset *ds) {
    synth_state *s = ds->state;
    if (s) free(s->protos);
    free(s);
    ds->state = NULL;
}
