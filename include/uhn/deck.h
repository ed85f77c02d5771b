/*
 * The input deck of `uhn run`: an INI file (libinih) that describes a capacity
 * study, with `section.key=value` overrides from the command line.
 *
 * One table of keys (src/io/deck_keys.c) drives parsing, defaults, validation,
 * units, descriptions and the README table; a key is named in code by its
 * uhn_deck_key_id. A key declared AXIS is a sweep axis: the study runs the
 * product of every axis. Axes are the AXIS keys in table order (memory.n,
 * encoder.name, network.similarity, network.separation, network.beta,
 * network.param, network.cue_only, query.level, text.scale, text.known,
 * text.shared); points are numbered in row-major order over them, so memory.n
 * varies slowest and text.shared fastest. An axis with one
 * value is still an axis (of length 1). Lists are comma-separated; an item of
 * an integer list may be a range "start:stop:step" or "start:stop:logK" (K
 * values per decade, rounded, repeats dropped); `cue_only = both` is off, on.
 * An indented line continues the list of the key above it.
 *
 * Parsing is strict: unknown sections or keys, duplicate keys, missing required
 * keys, bad numbers (trailing junk, NaN, Inf, overflow, underflow below the
 * smallest normal double, integers outside the key's range as checked in 64
 * bits; see uhn/parse.h), unknown names,
 * empty list items and impossible combinations are one-line errors of the form
 * "DECK:LINE: [section] key: what is wrong" (or "override 'x.y=z': ..." for a
 * command-line override), recorded with uhn_fail (status UHN_EINPUT).
 *
 * Checks that need the data (more memories than images, K mismatch) are made
 * later with uhn_deck_check_data once the data set is open.
 */
#ifndef UHN_DECK_H
#define UHN_DECK_H

#include <stdint.h>
#include <stdio.h>
#include "uhn/context.h"
#include "uhn/engine.h"
#include "uhn/parse.h" /* the numbers of a deck are parsed and worded by uhn/parse.h */

#ifdef __cplusplus
extern "C" {
#endif

/* Every key of the deck, in table (and README) order. */
typedef enum {
    UHN_KEY_DATA_SOURCE,
    UHN_KEY_DATA_HETERO,
    UHN_KEY_MEMORY_N,
    UHN_KEY_ENCODER_NAME,
    UHN_KEY_ENCODER_DIM,
    UHN_KEY_ENCODER_WHITEN,
    UHN_KEY_ENCODER_PATCH,
    UHN_KEY_ENCODER_CODES,
    UHN_KEY_ENCODER_SEED,
    UHN_KEY_ENCODER_TRAIN,
    UHN_KEY_ENCODER_TRAIN_N,
    UHN_KEY_NETWORK_SIMILARITY,
    UHN_KEY_NETWORK_SEPARATION,
    UHN_KEY_NETWORK_BETA,
    UHN_KEY_NETWORK_PARAM,
    UHN_KEY_NETWORK_SCORE,
    UHN_KEY_NETWORK_NORMALIZE,
    UHN_KEY_NETWORK_STEPS,
    UHN_KEY_NETWORK_STEP_SIZE,
    UHN_KEY_NETWORK_TOL,
    UHN_KEY_NETWORK_CUE_ONLY,
    UHN_KEY_QUERY_CORRUPTION,
    UHN_KEY_QUERY_LEVEL,
    UHN_KEY_QUERY_COUNT,
    UHN_KEY_QUERY_HOLD,
    UHN_KEY_TEXT_METHOD,
    UHN_KEY_TEXT_DIM,
    UHN_KEY_TEXT_N,
    UHN_KEY_TEXT_CODES,
    UHN_KEY_TEXT_SCALE,
    UHN_KEY_TEXT_KNOWN,
    UHN_KEY_TEXT_SHARED,
    UHN_KEY_EXPERIMENT_TRIALS,
    UHN_KEY_EXPERIMENT_THRESHOLD,
    UHN_KEY_EXPERIMENT_THRESHOLD_SCALE,
    UHN_KEY_EXPERIMENT_SEED,
    UHN_KEY_OUTPUT_FILE,
    UHN_KEY_OUTPUT_SAVE_IMAGES,
    UHN_KEY_OUTPUT_QUIET,
    UHN_KEY_OUTPUT_TRAJECTORY,
    UHN_KEY_OUTPUT_SEPARABILITY,
    UHN_KEY_OUTPUT_SEPARABILITY_BINS,
    UHN_KEY_COUNT
} uhn_deck_key_id;

/* Value types of keys. NAME is a name from a table (similarity, corruption...). */
typedef enum {
    UHN_DECK_STRING,
    UHN_DECK_NAME,
    UHN_DECK_INT,
    UHN_DECK_DOUBLE,
    UHN_DECK_BOOL,
    UHN_DECK_UINT64
} uhn_deck_type;

/* How many values a key takes. A key that takes a list is not necessarily a
 * sweep axis (a list of trajectory steps is a list): only AXIS keys are swept. */
typedef enum { UHN_DECK_SCALAR = 0, UHN_DECK_LIST = 1, UHN_DECK_AXIS = 2 } uhn_deck_arity;

/* How an axis is drawn (written on its HDF5 dimension scale as `axis_scale`,
 * which the plotting reads): numbers on a linear or log axis, or categories. */
typedef enum { UHN_AXIS_LINEAR = 0, UHN_AXIS_LOG = 1, UHN_AXIS_CATEGORY = 2 } uhn_axis_scale;

/* The name of an axis scale kind ("linear", "log", "category"). */
const char *uhn_axis_scale_name(uhn_axis_scale s);

typedef struct uhn_deck uhn_deck; /* opaque; owns its text and values */

/*
 * Reads the deck at `path` on rank 0, broadcasts its text, and parses it with
 * the overrides (each "section.key=value", applied after the file; the array
 * is not modified or kept) on every rank. Collective over ctx->comm; the status
 * and message are agreed. On success *out is a new deck (free with
 * uhn_deck_destroy); on failure *out is NULL.
 */
int uhn_deck_load(uhn_ctx *ctx, const char *path, int noverrides, char **overrides, uhn_deck **out);

/*
 * Parses deck text (a NUL-terminated copy is kept) named `name` in messages.
 * Not collective: every rank given the same text reaches the same answer.
 */
int uhn_deck_parse(uhn_ctx *ctx, const char *name, const char *text, int noverrides,
                   char **overrides, uhn_deck **out);

/* Frees a deck. NULL is allowed. Not collective. */
void uhn_deck_destroy(uhn_deck *d);

/* The raw deck text as read (owned by the deck) and the name given at load. */
const char *uhn_deck_text(const uhn_deck *d);
const char *uhn_deck_name(const uhn_deck *d);

/*
 * Where a key got its value, as deck messages begin: "DECK:LINE: [section] key"
 * (the first line that sets it; continuation lines do not move it),
 * "override 'x.y=z': [section] key" when the command line set it, or
 * "DECK: [section] key" for a default. A front end prefixes a message from a
 * later layer with it: uhn_fail(ctx, st, "%s: %s", uhn_deck_where(d, k), msg).
 * The string is owned by the deck. An invalid key gives the deck's name.
 * Not collective.
 */
const char *uhn_deck_where(const uhn_deck *d, uhn_deck_key_id key);

/* Number of values of a key (1 for a scalar key, >= 1 for an axis). */
int uhn_deck_count(const uhn_deck *d, uhn_deck_key_id key);

/*
 * The j-th value of a key (j = 0 for scalars), by type. _int serves INT,
 * _double DOUBLE (param: NaN = the separation's default; text.scale: NaN = auto), _bool BOOL, _u64
 * UINT64, _str every type (the canonical text of the value: names and strings
 * as given, numbers as printed by uhn, booleans "on"/"off"). Strings are owned
 * by the deck. Asking for the wrong type returns 0 / NaN.
 */
int64_t uhn_deck_int(const uhn_deck *d, uhn_deck_key_id key, int j);
double uhn_deck_double(const uhn_deck *d, uhn_deck_key_id key, int j);
int uhn_deck_bool(const uhn_deck *d, uhn_deck_key_id key, int j);
uint64_t uhn_deck_u64(const uhn_deck *d, uhn_deck_key_id key, int j);
const char *uhn_deck_str(const uhn_deck *d, uhn_deck_key_id key, int j);

/* The sweep: axes (the AXIS keys, in table order) and their product. */
int uhn_deck_naxes(void);
uhn_deck_key_id uhn_deck_axis(int i); /* the key of axis i */
/* Everything a writer or a plot needs of a key, from the one table: its value
 * type, arity, axis scale kind, description and units. Not collective. */
uhn_deck_type uhn_deck_key_type(uhn_deck_key_id key);
uhn_deck_arity uhn_deck_key_arity(uhn_deck_key_id key);
uhn_axis_scale uhn_deck_key_scale(uhn_deck_key_id key);
const char *uhn_deck_key_desc(uhn_deck_key_id key);
/* The name of an axis in labels and results files: its key, or its section
 * when the key is `name` (encoder.name is the axis "encoder"). */
const char *uhn_deck_axis_name(uhn_deck_key_id key);
int64_t uhn_deck_npoints(const uhn_deck *d);

/*
 * The value index of every key at sweep point p in [0, npoints): idx has
 * UHN_KEY_COUNT entries, indexed by key id (0 for scalar keys), so a value at
 * the point is uhn_deck_double(d, UHN_KEY_NETWORK_BETA, idx[UHN_KEY_NETWORK_BETA]).
 * Row-major over the axes: the last axis (query.level) varies fastest.
 */
void uhn_deck_point(const uhn_deck *d, int64_t p, int idx[UHN_KEY_COUNT]);

/*
 * Engine parameters at a point (idx from uhn_deck_point): similarity,
 * separation, beta, param, score, normalize, steps, step_size, tol, cue_only;
 * the rest from uhn_params_default. Not collective.
 */
void uhn_deck_params(const uhn_deck *d, const int idx[UHN_KEY_COUNT], uhn_params *p);

/* One key with its effective value, for writing the parameters as attributes. */
typedef struct uhn_deck_entry {
    const char *section;
    const char *key;
    const char *value; /* effective value: list items joined by ", " (owned by the deck) */
    const char *units;
    const char *description;
    int is_set; /* 1: set in the deck or an override; 0: the default */
} uhn_deck_entry;

/* Fills e for key i in [0, UHN_KEY_COUNT), in table order. Not collective. */
void uhn_deck_entry_at(const uhn_deck *d, int i, uhn_deck_entry *e);

/*
 * Checks that need the data, made once the source is open: max(memory.n) <=
 * n_available and, for data.hetero = halves, an even height H. Not collective
 * (every rank passes the same numbers). UHN_EINPUT with the deck's location.
 */
int uhn_deck_check_data(uhn_ctx *ctx, const uhn_deck *d, int64_t n_available, int64_t height);

/* Writes the markdown table of every key (section, key, default, units and
 * range, meaning) for the README and `uhn run --help-deck`. */
void uhn_deck_print_keys(FILE *f);

#ifdef __cplusplus
}
#endif
#endif
