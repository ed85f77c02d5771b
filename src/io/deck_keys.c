/* The table of deck keys and the corruption ranges the deck checks. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "io/deck_keys.h"
#include "uhn/separation.h"
#include "uhn/similarity.h"

static const char *sim_at(int i) {
    const uhn_similarity *s = uhn_similarity_at(i);
    return s ? uhn_similarity_name(s) : NULL;
}
static const char *sep_at(int i) {
    const uhn_separation *s = uhn_separation_at(i);
    return s ? uhn_separation_name(s) : NULL;
}

static const deck_names similarities = {NULL, uhn_similarity_count, sim_at};
static const deck_names separations = {NULL, uhn_separation_count, sep_at};
static const deck_names hetero = {(const char *const[]){"none", "halves", NULL}, NULL, NULL};
static const deck_names scores = {(const char *const[]){"raw", "uhn", NULL}, NULL, NULL};
static const deck_names scales = {(const char *const[]){"none", "pixels", NULL}, NULL, NULL};
static const deck_names text_methods = {
    (const char *const[]){"none", "pixel", "ngram", "external", NULL}, NULL, NULL};
static const deck_names corruptions = {
    (const char *const[]){"none", "gaussian", "mask_top", "random_pixels", "inpaint", NULL}, NULL,
    NULL};

/* The same names and order as corruptions above. */
static const deck_corruption corruption_table[] = {
    {"none", -HUGE_VAL, HUGE_VAL, 0, 0, "0", "ignored"},
    {"gaussian", 0, HUGE_VAL, 0, 0, "0.1", "noise variance >= 0"},
    {"mask_top", 0, 1, 0, 1, "0.5", "fraction of rows in [0, 1]"},
    {"random_pixels", 0, 1, 0, 1, "0.5", "probability in [0, 1]"},
    {"inpaint", 0, 1e9, 1, 1, "7", "border width in pixels, an integer >= 0"},
};

const deck_corruption *deck_corruption_find(const char *name) {
    for (size_t i = 0; i < sizeof corruption_table / sizeof corruption_table[0]; ++i)
        if (!strcmp(corruption_table[i].name, name)) return &corruption_table[i];
    return NULL;
}

int deck_names_count(const deck_names *n) {
    if (n->count) return n->count();
    int c = 0;
    while (n->list[c]) ++c;
    return c;
}

const char *deck_names_at(const deck_names *n, int i) {
    if (i < 0 || i >= deck_names_count(n)) return NULL;
    return n->at ? n->at(i) : n->list[i];
}

/* output.file: the deck's name with .ini replaced by .h5. */
static void derive_file(const uhn_deck *d, char *out, size_t n) {
    const char *name = uhn_deck_name(d);
    size_t len = strlen(name);
    if (len > 4 && !strcmp(name + len - 4, ".ini")) len -= 4;
    snprintf(out, n, "%.*s.h5", (int)len, name);
}

/* encoder.train: the data set of the study. */
static void derive_train(const uhn_deck *d, char *out, size_t n) {
    snprintf(out, n, "%s", uhn_deck_str(d, UHN_KEY_DATA_SOURCE, 0));
}

/* query.level: the corruption's default level. */
static void derive_level(const uhn_deck *d, char *out, size_t n) {
    const deck_corruption *c = deck_corruption_find(uhn_deck_str(d, UHN_KEY_QUERY_CORRUPTION, 0));
    snprintf(out, n, "%s", c ? c->level_default : "0");
}

#define INF HUGE_VAL
/* Bounds of the INT keys: what each key's consumer holds, checked by the deck
 * in 64-bit integers (every bound is exact in double). memory.n: a study draws
 * its subsets with 32-bit draws (at most 2^32 - 1 memories); query.count: at
 * most the memories; network.steps: the engine's `int steps`;
 * experiment.trials: the study's 2^31 - 1; output.save_images: the images kept
 * per point in the results file. The study relies on these bounds. */
#define UHN_DECK_MAX_N    4294967295.0
#define UHN_DECK_MAX_SAVE 1024
/* clang-format off */
const deck_key uhn_deck_keys[UHN_KEY_COUNT] = {
    {UHN_KEY_DATA_SOURCE, "data", "source", UHN_DECK_STRING, UHN_DECK_SCALAR, "fashion-mnist:train", NULL, NULL,
     0, 0, 0, NULL, "-",
     "data set spec: fashion-mnist[:train or :test], hdf5:FILE, synthetic:KIND?n=...&h=...&w=...", UHN_AXIS_LINEAR},
    {UHN_KEY_DATA_HETERO, "data", "hetero", UHN_DECK_NAME, UHN_DECK_SCALAR, "none", NULL, NULL,
     0, 0, 0, &hetero, "-",
     "hetero-association: none (auto), halves (top half of the image as key -> bottom half as value)", UHN_AXIS_LINEAR},
    {UHN_KEY_MEMORY_N, "memory", "n", UHN_DECK_INT, UHN_DECK_AXIS, NULL, NULL, NULL,
     1, UHN_DECK_MAX_N, 0, NULL, "memories", "memories stored per trial (a random subset of the images); items may be ranges "
     "start:stop:step or start:stop:logK (K values per decade)", UHN_AXIS_LOG},
    {UHN_KEY_ENCODER_NAME, "encoder", "name", UHN_DECK_STRING, UHN_DECK_AXIS, "identity", NULL, NULL,
     0, 0, 0, NULL, "-",
     "encoders (spec §9): identity (raw pixels), centred, pca, random, vq, or file:MODEL.h5 (a model "
     "saved by uhn encode fit or postprocess/train_autoencoder.py); memories and queries are "
     "their codes", UHN_AXIS_CATEGORY},
    {UHN_KEY_ENCODER_DIM, "encoder", "dim", UHN_DECK_INT, UHN_DECK_SCALAR, "0", NULL, NULL,
     0, UHN_DECK_MAX_N, 0, NULL, "values", "code length D of pca and random (required for them; "
     "0: the encoder's own)", UHN_AXIS_LINEAR},
    {UHN_KEY_ENCODER_WHITEN, "encoder", "whiten", UHN_DECK_BOOL, UHN_DECK_SCALAR, "off", NULL, NULL,
     0, 0, 0, NULL, "-", "pca: divide each component by its standard deviation", UHN_AXIS_LINEAR},
    {UHN_KEY_ENCODER_PATCH, "encoder", "patch", UHN_DECK_INT, UHN_DECK_SCALAR, "0", NULL, NULL,
     0, 65536, 0, NULL, "pixels", "vq: patch side p (divides H and W)", UHN_AXIS_LINEAR},
    {UHN_KEY_ENCODER_CODES, "encoder", "codes", UHN_DECK_INT, UHN_DECK_SCALAR, "0", NULL, NULL,
     0, UHN_DECK_MAX_N, 0, NULL, "entries", "vq: codebook size J", UHN_AXIS_LINEAR},
    {UHN_KEY_ENCODER_SEED, "encoder", "seed", UHN_DECK_UINT64, UHN_DECK_SCALAR, "0", NULL, NULL,
     0, 0, 0, NULL, "-", "seed of random and of vq's k-means++ seeding", UHN_AXIS_LINEAR},
    {UHN_KEY_ENCODER_TRAIN, "encoder", "train", UHN_DECK_STRING, UHN_DECK_SCALAR, NULL, derive_train,
     "data.source", 0, 0, 0, NULL, "-",
     "data set the encoders are fitted on (a data.source spec), once per study, before the sweep",
     UHN_AXIS_LINEAR},
    {UHN_KEY_ENCODER_TRAIN_N, "encoder", "train_n", UHN_DECK_INT, UHN_DECK_SCALAR, "0", NULL, NULL,
     0, UHN_DECK_MAX_N, 0, NULL, "images", "fit on the first train_n images of encoder.train (0: all)",
     UHN_AXIS_LINEAR},
    {UHN_KEY_NETWORK_SIMILARITY, "network", "similarity", UHN_DECK_NAME, UHN_DECK_AXIS, "dot", NULL, NULL,
     0, 0, 0, &similarities, "-", "similarity functions (spec §1)", UHN_AXIS_CATEGORY},
    {UHN_KEY_NETWORK_SEPARATION, "network", "separation", UHN_DECK_NAME, UHN_DECK_AXIS, "softmax", NULL, NULL,
     0, 0, 0, &separations, "-", "separation functions (spec §3)", UHN_AXIS_CATEGORY},
    {UHN_KEY_NETWORK_BETA, "network", "beta", UHN_DECK_DOUBLE, UHN_DECK_AXIS, "1", NULL, NULL,
     0, INF, 1, NULL, "-", "inverse temperature beta", UHN_AXIS_LOG},
    {UHN_KEY_NETWORK_PARAM, "network", "param", UHN_DECK_DOUBLE, UHN_DECK_AXIS, "default", NULL, NULL,
     -INF, INF, 0, NULL, "-",
     "parameter of the separations that take one (power p and topk k: integers from 1 to 1e9, "
     "at a cost that does not grow with them; threshold t: any number); default = theirs", UHN_AXIS_LINEAR},
    {UHN_KEY_NETWORK_SCORE, "network", "score", UHN_DECK_NAME, UHN_DECK_SCALAR, "raw", NULL, NULL,
     0, 0, 0, &scores, "-", "score mode: raw (h = s) or uhn (distances as 1/d)", UHN_AXIS_LINEAR},
    {UHN_KEY_NETWORK_NORMALIZE, "network", "normalize", UHN_DECK_BOOL, UHN_DECK_SCALAR, "on", NULL, NULL,
     0, 0, 0, NULL, "-", "normalise the weights to sum 1", UHN_AXIS_LINEAR},
    {UHN_KEY_NETWORK_STEPS, "network", "steps", UHN_DECK_INT, UHN_DECK_SCALAR, "1", NULL, NULL,
     1, INT_MAX, 0, NULL, "steps", "update steps T of the dynamics (spec §5)", UHN_AXIS_LINEAR},
    {UHN_KEY_NETWORK_STEP_SIZE, "network", "step_size", UHN_DECK_DOUBLE, UHN_DECK_SCALAR, "1", NULL, NULL,
     0, 1, 1, NULL, "-", "step size alpha of the dynamics", UHN_AXIS_LINEAR},
    {UHN_KEY_NETWORK_TOL, "network", "tol", UHN_DECK_DOUBLE, UHN_DECK_SCALAR, "0", NULL, NULL,
     0, INF, 0, NULL, "-", "early-stop tolerance on the update (0: run all steps)", UHN_AXIS_LINEAR},
    {UHN_KEY_NETWORK_CUE_ONLY, "network", "cue_only", UHN_DECK_BOOL, UHN_DECK_AXIS, "off", NULL, NULL,
     0, 0, 0, NULL, "-",
     "similarity over the known pixels only (spec §1); `both` = off, on side by side", UHN_AXIS_LINEAR},
    {UHN_KEY_QUERY_CORRUPTION, "query", "corruption", UHN_DECK_NAME, UHN_DECK_SCALAR, "mask_top", NULL, NULL,
     0, 0, 0, &corruptions, "-", "corruption of the queries", UHN_AXIS_LINEAR},
    {UHN_KEY_QUERY_LEVEL, "query", "level", UHN_DECK_DOUBLE, UHN_DECK_AXIS, NULL, derive_level,
     "by corruption: none 0, gaussian 0.1, mask_top 0.5, random_pixels 0.5, inpaint 7",
     -INF, INF, 0, NULL, "by corruption",
     "corruption levels: gaussian variance >= 0; mask_top fraction, random_pixels probability in "
     "[0, 1]; inpaint border width (integer pixels)", UHN_AXIS_LINEAR},
    {UHN_KEY_QUERY_COUNT, "query", "count", UHN_DECK_INT, UHN_DECK_SCALAR, "0", NULL, NULL,
     0, UHN_DECK_MAX_N, 0, NULL, "queries", "queries per trial: the first min(count, N) stored images, corrupted (0: all N)", UHN_AXIS_LINEAR},
    {UHN_KEY_QUERY_HOLD, "query", "hold", UHN_DECK_BOOL, UHN_DECK_SCALAR, "off", NULL, NULL,
     0, 0, 0, NULL, "-",
     "hold the known pixels of a masked query at their values (spec §5 clamp); off: compare "
     "the raw output, as the UHN paper did", UHN_AXIS_LINEAR},
    {UHN_KEY_TEXT_METHOD, "text", "method", UHN_DECK_NAME, UHN_DECK_SCALAR, "none", NULL, NULL,
     0, 0, 0, &text_methods, "-",
     "cross-stimulus memories (spec §13): none; pixel (the SHA-256 digest of each caption drawn as an "
     "image and encoded with the image encoder), ngram (hashed character n-grams) or external "
     "(text.codes); memories are [image code ; s * text code], queries [0 ; s * text code]", UHN_AXIS_LINEAR},
    {UHN_KEY_TEXT_DIM, "text", "dim", UHN_DECK_INT, UHN_DECK_SCALAR, "1024", NULL, NULL,
     1, 2147483647, 0, NULL, "values", "ngram: code length D_T (buckets)", UHN_AXIS_LINEAR},
    {UHN_KEY_TEXT_N, "text", "n", UHN_DECK_INT, UHN_DECK_SCALAR, "3", NULL, NULL,
     1, 1000, 0, NULL, "characters", "ngram: gram length in code points", UHN_AXIS_LINEAR},
    {UHN_KEY_TEXT_CODES, "text", "codes", UHN_DECK_STRING, UHN_DECK_SCALAR, "none", NULL, NULL,
     0, 0, 0, NULL, "-",
     "external: FILE[:DATASET] (default dataset codes) of text codes [N][D_T], row i for image i of "
     "data.source (CLIP or any other embedding)", UHN_AXIS_LINEAR},
    {UHN_KEY_TEXT_SCALE, "text", "scale", UHN_DECK_DOUBLE, UHN_DECK_AXIS, "auto", NULL, NULL,
     0, INF, 1, NULL, "-",
     "text scale s: numbers > 0, or auto (mean image-code norm / mean text-code norm over the "
     "stored memories, per trial)", UHN_AXIS_LOG},
    {UHN_KEY_TEXT_KNOWN, "text", "known", UHN_DECK_BOOL, UHN_DECK_AXIS, "off", NULL, NULL,
     0, 0, 0, NULL, "-",
     "text_known: the text coordinates of a query are held and are the cue set of cue-only "
     "similarity; off: nothing clamped (the paper); `both` = off, on side by side", UHN_AXIS_LINEAR},
    {UHN_KEY_TEXT_SHARED, "text", "shared", UHN_DECK_DOUBLE, UHN_DECK_AXIS, "0", NULL, NULL,
     0, 1, 0, NULL, "fraction",
     "fraction of the stored pairs (2k, 2k+1) whose second memory takes the first one's caption "
     "(uniqueness violated on purpose)", UHN_AXIS_LINEAR},
    {UHN_KEY_EXPERIMENT_TRIALS, "experiment", "trials", UHN_DECK_INT, UHN_DECK_SCALAR, "10", NULL, NULL,
     1, INT_MAX, 0, NULL, "trials", "trials per sweep point, each with its own random subset", UHN_AXIS_LINEAR},
    {UHN_KEY_EXPERIMENT_THRESHOLD, "experiment", "threshold", UHN_DECK_DOUBLE, UHN_DECK_SCALAR, "50", NULL,
     NULL, 0, INF, 1, NULL, "squared error",
     "a retrieval is correct when its squared error is below this", UHN_AXIS_LINEAR},
    {UHN_KEY_EXPERIMENT_THRESHOLD_SCALE, "experiment", "threshold_scale", UHN_DECK_NAME, UHN_DECK_SCALAR, "none",
     NULL, NULL, 0, 0, 0, &scales, "-",
     "none: threshold as given; pixels: threshold * K / 784 (scaled by pixel count)", UHN_AXIS_LINEAR},
    {UHN_KEY_EXPERIMENT_SEED, "experiment", "seed", UHN_DECK_UINT64, UHN_DECK_SCALAR, "0", NULL, NULL,
     0, 0, 0, NULL, "-", "seed of every random choice (subsets, corruptions)", UHN_AXIS_LINEAR},
    {UHN_KEY_OUTPUT_FILE, "output", "file", UHN_DECK_STRING, UHN_DECK_SCALAR, NULL, derive_file,
     "the deck's name with .ini replaced by .h5", 0, 0, 0, NULL, "path", "the HDF5 results file", UHN_AXIS_LINEAR},
    {UHN_KEY_OUTPUT_SAVE_IMAGES, "output", "save_images", UHN_DECK_INT, UHN_DECK_SCALAR, "0", NULL, NULL,
     0, UHN_DECK_MAX_SAVE, 0, NULL, "queries", "retrieved images saved for the first k queries of each point", UHN_AXIS_LINEAR},
    {UHN_KEY_OUTPUT_QUIET, "output", "quiet", UHN_DECK_BOOL, UHN_DECK_SCALAR, "off", NULL, NULL,
     0, 0, 0, NULL, "-", "no progress lines (batch jobs)", UHN_AXIS_LINEAR},
    {UHN_KEY_OUTPUT_TRAJECTORY, "output", "trajectory", UHN_DECK_INT, UHN_DECK_LIST, "none", NULL, NULL,
     0, 2147483647, 0, NULL, "steps",
     "steps S whose states v_S are saved for the saved queries (output.save_images) in "
     "images/trajectory (spec §11): 0 = the query, up to network.steps, increasing; none: no "
     "trajectories. A list, not a sweep axis", UHN_AXIS_LINEAR},
    {UHN_KEY_OUTPUT_SEPARABILITY, "output", "separability", UHN_DECK_BOOL, UHN_DECK_SCALAR, "off", NULL, NULL,
     0, 0, 0, NULL, "-",
     "separability of the codes per point (spec §12), from trial 0: the encoded queries against the "
     "stored codes, histograms of self and cross cosines, d', overlap and top-1 in separability/", UHN_AXIS_LINEAR},
    {UHN_KEY_OUTPUT_SEPARABILITY_BINS, "output", "separability_bins", UHN_DECK_INT, UHN_DECK_SCALAR, "200", NULL, NULL,
     1, 1000000, 0, NULL, "bins", "histogram bins on [-1, 1] of output.separability", UHN_AXIS_LINEAR},
};
/* clang-format on */

const char *const uhn_deck_sections[] = {"data",  "memory", "encoder",    "network",
                                         "query", "text",   "experiment", "output"};
const int uhn_deck_nsections = sizeof uhn_deck_sections / sizeof uhn_deck_sections[0];
