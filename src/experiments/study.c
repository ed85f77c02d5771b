/*
 * The sweep of `uhn run`: every point of the deck, every trial, every query.
 *
 * Per trial: draw the stored subset (uhn_subset), fill this rank's rows of the
 * bank from the data set, corrupt the first `count` stored images in chunks,
 * recall them, and score each retrieval. Points that share n run as a group,
 * trial by trial, so that the bank of (n, trial) is drawn, read and encoded
 * once for all of them (sweep()). Every rank holds the replicated outputs; the
 * queries are scored round-robin over the ranks and the trial sums are merged
 * with one MPI_Allreduce, so every rank ends a point with the same numbers.
 * Points are checkpointed by study_io.c.
 */
#define _POSIX_C_SOURCE 200809L /* sigaction */
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fault.h"
#include "experiments/study_impl.h"

/* ------------------------------------------------------------------------ */
/* Subsets                                                                  */

/* A uniform integer in [0, m) from 64 random bits (Lemire's multiply; the
 * bias is below m / 2^64). */
static int64_t below(uint64_t bits, int64_t m) {
    return (int64_t)(((unsigned __int128)bits * (uint64_t)m) >> 64);
}

/* The values a draw has taken: a bitmap of the population where that is no
 * larger than the hash set (population <= 64 x its 2n to 4n slots; the bitmap
 * of 10^7 rows is 1.25 MB and stays in cache, where the 256 MB hash set misses
 * at every insert), else an open-addressing hash set. Both give the same draw. */
typedef struct taken {
    uint64_t *bits; /* [population / 64] or NULL */
    int64_t *slot;  /* [mask + 1] of the hash set (-1: empty) or NULL */
    uint64_t mask;
} taken;

static int taken_init(taken *h, int64_t population, int64_t n) {
    uint64_t cap = 1;
    while (cap < 2 * (uint64_t)n) cap <<= 1;
    memset(h, 0, sizeof *h);
    if ((uint64_t)population <= 64 * cap) {
        h->bits = calloc(((size_t)population + 63) / 64, sizeof *h->bits);
        return h->bits ? 0 : -1;
    }
    h->slot = malloc(cap * sizeof *h->slot);
    if (!h->slot) return -1;
    memset(h->slot, 0xff, cap * sizeof *h->slot);
    h->mask = cap - 1;
    return 0;
}

static int taken_insert(taken *h, int64_t v) { /* 1 when v was new */
    if (h->bits) {
        uint64_t *w = &h->bits[v >> 6], b = (uint64_t)1 << (v & 63);
        if (*w & b) return 0;
        *w |= b;
        return 1;
    }
    uint64_t i = ((uint64_t)v * 0x9e3779b97f4a7c15ull) & h->mask;
    while (h->slot[i] >= 0) {
        if (h->slot[i] == v) return 0;
        i = (i + 1) & h->mask;
    }
    h->slot[i] = v;
    return 1;
}

/* Draws come LANES at a time, for consecutive counters: uhn_philox4x32_lanes
 * makes them in vector registers, where one uhn_rng_u64 call per draw was a
 * chain of dependent rounds. */
#define LANES UHN_PHILOX_LANES

/* below(uhn_rng_u64(seed, stream, index, c), c + add) for the counters c of
 * [c0, c0 + LANES) into out[c - c0] (add >= 1). */
static void draw_block(uint64_t seed, uint32_t stream, uint64_t index, int64_t c0, int64_t add,
                       int64_t out[LANES]) {
    uint32_t w[4][LANES];
    uhn_philox4x32_lanes(seed, stream, index, (uint32_t)c0, LANES, w);
    for (int l = 0; l < LANES; ++l)
        out[l] = below(((uint64_t)w[0][l] << 32) | w[1][l], c0 + l + add);
}

int uhn_subset(uint64_t seed, int64_t trial, int64_t population, int64_t n, int64_t *out) {
    if (n < 1 || n > population || n >= ((int64_t)1 << 32) || trial < 0 ||
        trial >= ((int64_t)1 << 31) || !out)
        return -1;
    uint64_t index = ((uint64_t)trial << 32) | (uint64_t)n;
    taken h;
    if (taken_init(&h, population, n) != 0) return -1;
    /* Floyd: for j = population - n .. population - 1, take r in [0, j]; if r
     * is taken already, take j (which cannot be). Draw i is counter i. */
    int64_t r[LANES];
    for (int64_t i0 = 0; i0 < n; i0 += LANES) {
        draw_block(seed, UHN_STREAM_SUBSET, index, i0, population - n + 1, r);
        for (int64_t i = i0; i < n && i < i0 + LANES; ++i) {
            int64_t j = population - n + i;
            out[i] = taken_insert(&h, r[i - i0]) ? r[i - i0] : (taken_insert(&h, j), j);
        }
    }
    free(h.bits);
    free(h.slot);
    /* Fisher-Yates from the end: position i swaps with k in [0, i], draw i.
     * The partners of a block of LANES positions are drawn while the block
     * above it runs, and each one's line is prefetched LANES swaps ahead. */
    int64_t part[2][LANES];
    int cur = 0;
    if (n > 1) draw_block(seed, UHN_STREAM_SHUFFLE, index, (n - 1) / LANES * LANES, 1, part[cur]);
    for (int64_t i = n - 1; i > 0; --i) {
        int64_t l = i % LANES, below_block = i - l - LANES;
        if ((i == n - 1 || l == LANES - 1) && below_block >= 0)
            draw_block(seed, UHN_STREAM_SHUFFLE, index, below_block, 1, part[cur ^ 1]);
        if (below_block >= 0) __builtin_prefetch(&out[part[cur ^ 1][l]], 1);
        int64_t k = part[cur][l], t = out[i];
        out[i] = out[k];
        out[k] = t;
        if (l == 0) cur ^= 1;
    }
    return 0;
}

/* Pairs that share a caption: (key, pair) ordered by key, then pair. */
typedef struct pair_key {
    uint64_t key;
    int64_t k;
} pair_key;

static int pair_key_cmp(const void *a, const void *b) {
    const pair_key *x = a, *y = b;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    return (x->k > y->k) - (x->k < y->k);
}

int uhn_shared_pairs(uint64_t seed, int64_t trial, int64_t n, double fraction, uint8_t *shared) {
    if (!(fraction >= 0 && fraction <= 1) || n < 0 || n >= ((int64_t)1 << 32) || trial < 0 ||
        trial >= ((int64_t)1 << 31) || (n >= 2 && !shared))
        return -1;
    const int64_t np = n / 2, m = (int64_t)llround(fraction * (double)np);
    if (np == 0) return 0;
    pair_key *pk = malloc((size_t)np * sizeof *pk);
    if (!pk) return -1;
    const uint64_t index = ((uint64_t)trial << 32) | (uint64_t)n;
    for (int64_t k = 0; k < np; ++k)
        pk[k] = (pair_key){uhn_rng_u64(seed, UHN_STREAM_CAPTION, index, (uint32_t)k), k};
    qsort(pk, (size_t)np, sizeof *pk, pair_key_cmp);
    memset(shared, 0, (size_t)np);
    for (int64_t a = 0; a < m; ++a) shared[pk[a].k] = 1;
    free(pk);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Signals                                                                  */

static volatile sig_atomic_t stop_signal = 0;

static void on_signal(int sig) {
    stop_signal = sig;
}

void uhn_study_catch_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
}

/* ------------------------------------------------------------------------ */
/* The pipeline                                                             */
/*
 * A study is a table of stages. Set-up runs every stage's `setup` once, in
 * order, before the sweep:
 *
 *   load (data) → fit (encoder) → store (memory) → corrupt (query) →
 *   recall (network) → score (experiment) → record (output)
 *
 * and each trial of a point runs `trial` (store: the bank holds the codes of
 * the trial's memories), then moves its queries through the stages' `chunk`
 * hooks, a chunk of records at a time:
 *
 *   corrupt → encode → recall → decode → score → record
 *
 * A record is one query made of segments: today an image segment (its true
 * image, the corrupted pixels and their mask, its code, the recalled code and
 * its decoding); cross-stimulus recall adds a text segment. Each stage owns
 * its deck section, its parameters and the result datasets it fills
 * (`fields`); study_io.c writes and reads back whatever the stages declare.
 */

/* One chunk of records: queries c0 .. c0 + nb - 1 of trial t at point p. */
typedef struct chunk {
    int64_t p, t, c0, nb;
    const uhn_params *prm;
    double level;
    uhn_trial_acc *acc;  /* against the true image (this rank's queries) */
    uhn_trial_acc *racc; /* against dec(c_m), with the code-space outcomes */
    double *tacc;        /* text: [shared, unique][TACC] (see TACC) */
} chunk;

/* Per kind of caption (shared, unique): outcome counts (spec §7), outcome
 * counts in code space (§10), the sum of MSE, the queries. */
enum { TA_CODE = UHN_OUTCOME_COUNT, TA_MSE = 2 * UHN_OUTCOME_COUNT, TA_N, TACC };

typedef struct stage {
    const char *name;
    const char *section; /* the deck section it owns */
    int (*setup)(study *s);
    int (*trial)(study *s, int64_t n, int64_t t);
    int (*chunk)(study *s, chunk *c);
    int (*point)(study *s, int64_t p, int64_t n, double level); /* after the trials */
    void (*fields)(study *s, study_field *f, int *n);
} stage;

static void add(study_field *f, int *n, const char *name, uhn_h5_type type, study_shape sh,
                void *buf, const char *desc, const char *units, study_hold h) {
    study_field *x = &f[(*n)++];
    snprintf(x->name, sizeof x->name, "%s", name);
    x->type = type;
    x->shape = sh;
    x->buf = buf;
    x->desc = desc;
    x->units = units;
    x->hold = h;
}

/* Queries per trial with n memories: the first min(count, n) stored images. */
static int64_t queries_for(const study *s, int64_t n) {
    return s->count > 0 && s->count < n ? s->count : n;
}

int64_t study_point_queries(const study *s, int64_t p) {
    int idx[UHN_KEY_COUNT];
    uhn_deck_point(s->d, p, idx);
    return queries_for(s, uhn_deck_int(s->d, UHN_KEY_MEMORY_N, idx[UHN_KEY_MEMORY_N]));
}

static int64_t max_memories(const study *s) {
    int64_t nmax = 0;
    for (int j = 0; j < uhn_deck_count(s->d, UHN_KEY_MEMORY_N); ++j)
        if (uhn_deck_int(s->d, UHN_KEY_MEMORY_N, j) > nmax)
            nmax = uhn_deck_int(s->d, UHN_KEY_MEMORY_N, j);
    return nmax;
}

int study_has_codes(const study *s) {
    if (s->text) return 1; /* memories are [image code ; text code] */
    for (int i = 0; i < s->nenc; ++i)
        if (strcmp(uhn_deck_str(s->d, UHN_KEY_ENCODER_NAME, i), "identity")) return 1;
    return 0;
}

/* ---- load (data) ------------------------------------------------------- */

/* Refuses an output.file (or its checkpoint OUT.partial) that is one of the
 * run's inputs, the deck or the HDF5 image set, by path, symbolic or hard
 * link: writing the results (with or without --fresh) would replace it. The
 * deck and the data set being one file is harmless. Collective (agreed). */
static int check_not_input(study *s) {
    const uhn_deck *d = s->d;
    const char *data = uhn_dataset_spec(s->ds);
    const struct {
        const char *what, *path;
    } inputs[] = {
        {"the deck", uhn_deck_name(d)},
        {"the data set", !strcmp(uhn_dataset_source(s->ds), "hdf5") ? strchr(data, ':') + 1 : NULL},
    };
    const char *outputs[] = {s->out, s->partial};
    int st = UHN_OK;
    for (size_t i = 0; s->ctx->rank == 0 && st == UHN_OK && i < 2; ++i)
        for (size_t o = 0; st == UHN_OK && o < 2; ++o)
            if (inputs[i].path && uhn_h5_same_file(outputs[o], inputs[i].path))
                st = uhn_fail(s->ctx, UHN_EINPUT,
                              "%s: '%s'%s is %s '%s'; refusing to replace it: set output.file to "
                              "another file",
                              uhn_deck_where(d, UHN_KEY_OUTPUT_FILE), outputs[o],
                              o ? " (the checkpoint)" : "", inputs[i].what, inputs[i].path);
    return uhn_agree(s->ctx, st);
}

static int setup_load(study *s) {
    uhn_ctx *ctx = s->ctx;
    const uhn_deck *d = s->d;
    s->seed = uhn_deck_u64(d, UHN_KEY_EXPERIMENT_SEED, 0);
    s->trials = uhn_deck_int(d, UHN_KEY_EXPERIMENT_TRIALS, 0);
    s->quiet = s->o->quiet || uhn_deck_bool(d, UHN_KEY_OUTPUT_QUIET, 0);
    const char *out = uhn_deck_str(d, UHN_KEY_OUTPUT_FILE, 0);
    if (s->o->part_count > 0) {
        if (uhn_study_part_path(out, s->o->part_index, s->o->part_count, s->out, sizeof s->out))
            return uhn_fail(ctx, UHN_EINPUT, "%s: '%s' is too long a name for a part file",
                            uhn_deck_where(d, UHN_KEY_OUTPUT_FILE), out);
    } else
        snprintf(s->out, sizeof s->out, "%s", out);
    snprintf(s->partial, sizeof s->partial, "%s.partial", s->out);
    s->npoints = uhn_deck_npoints(d);
    if (uhn_deck_naxes() != STUDY_NAXES) /* the key table declares the axes; this is a size */
        return uhn_fail(ctx, UHN_EINTERNAL, "the deck has %d axes; study arrays hold %d",
                        uhn_deck_naxes(), STUDY_NAXES);
    for (int a = 0; a < STUDY_NAXES; ++a) s->dims[a] = uhn_deck_count(d, uhn_deck_axis(a));
    /* memory.n, trials and save_images are bounded by the deck's key table */
    UHN_CALL(uhn_dataset_open(ctx, uhn_deck_str(d, UHN_KEY_DATA_SOURCE, 0), &s->ds));
    s->H = uhn_dataset_height(s->ds);
    s->W = uhn_dataset_width(s->ds);
    s->C = uhn_dataset_channels(s->ds);
    s->K = uhn_dataset_k(s->ds);
    UHN_CALL(uhn_deck_check_data(ctx, d, uhn_dataset_n(s->ds), s->H));
    s->hetero = strcmp(uhn_deck_str(d, UHN_KEY_DATA_HETERO, 0), "none") != 0;
    s->Hk = s->hetero ? s->H / 2 : s->H;
    s->Ho = s->hetero ? s->H - s->Hk : s->H;
    s->Kk = s->Hk * s->W * s->C;
    s->Ko = s->Ho * s->W * s->C;
    UHN_CALL(uhn_h5_check_output(ctx, s->out, uhn_deck_where(d, UHN_KEY_OUTPUT_FILE)));
    return check_not_input(s);
}

/* ---- fit (encoder) ----------------------------------------------------- */

/* An encoder's message about a parameter names the deck key ("dim is required
 * for encoder pca" becomes "deck.ini:5: [encoder] dim: dim is required ..."). */
int study_relabel(const study *s, int st, const study_param_key *map, int n) {
    if (st == UHN_OK || !s->ctx->param[0]) return st;
    for (int i = 0; i < n; ++i)
        if (!strcmp(map[i].param, s->ctx->param)) {
            uhn_relabel(s->ctx, uhn_deck_where(s->d, map[i].key), ": ");
            break;
        }
    return st;
}

static int encoder_labelled(const study *s, int st) {
    static const study_param_key map[] = {
        {"encoder", UHN_KEY_ENCODER_NAME},  {"dim", UHN_KEY_ENCODER_DIM},
        {"whiten", UHN_KEY_ENCODER_WHITEN}, {"patch", UHN_KEY_ENCODER_PATCH},
        {"codes", UHN_KEY_ENCODER_CODES},   {"seed", UHN_KEY_ENCODER_SEED}};
    return study_relabel(s, st, map, (int)(sizeof map / sizeof map[0]));
}

/* The configuration of table encoder `name` from the [encoder] keys: each
 * encoder takes only the keys that are its own. */
static uhn_encoder_config encoder_config(const study *s, const char *name) {
    const uhn_deck *d = s->d;
    int pca = !strcmp(name, "pca"), random = !strcmp(name, "random"), vq = !strcmp(name, "vq");
    uhn_encoder_config c = {name, 0, 0, 0, s->H, s->W, s->C, 0, 0};
    if (pca || random) c.dim = uhn_deck_int(d, UHN_KEY_ENCODER_DIM, 0);
    if (pca) c.whiten = uhn_deck_bool(d, UHN_KEY_ENCODER_WHITEN, 0);
    if (random || vq) c.seed = uhn_deck_u64(d, UHN_KEY_ENCODER_SEED, 0);
    if (vq) {
        c.patch = uhn_deck_int(d, UHN_KEY_ENCODER_PATCH, 0);
        c.codes = uhn_deck_int(d, UHN_KEY_ENCODER_CODES, 0);
    }
    return c;
}

/* Whether a table encoder learns from the training images. */
static int learns(const char *name) {
    return strcmp(name, "identity") && strcmp(name, "random");
}

/* This rank's block of the first n_train images of encoder.train, as
 * uhn_encoder_fit expects them. Collective (agreed). */
static int read_training(study *s, uhn_dataset **tds, float **x, int64_t *nloc, int64_t *ntot) {
    uhn_ctx *ctx = s->ctx;
    const uhn_deck *d = s->d;
    const char *where = uhn_deck_where(d, UHN_KEY_ENCODER_TRAIN);
    int st = uhn_dataset_open(ctx, uhn_deck_str(d, UHN_KEY_ENCODER_TRAIN, 0), tds);
    if (st != UHN_OK) { /* name the key: the data set of the study opened already */
        char msg[UHN_MSG_MAX];
        snprintf(msg, sizeof msg, "%s", ctx->msg);
        return uhn_fail(ctx, st, "%s: %s", where, msg);
    }
    int64_t avail = uhn_dataset_n(*tds), want = uhn_deck_int(d, UHN_KEY_ENCODER_TRAIN_N, 0);
    if (uhn_dataset_height(*tds) != s->H || uhn_dataset_width(*tds) != s->W ||
        uhn_dataset_channels(*tds) != s->C)
        return uhn_fail(ctx, UHN_EINPUT,
                        "%s: its images are %" PRId64 " x %" PRId64 " x %" PRId64
                        "; the data set's are %" PRId64 " x %" PRId64 " x %" PRId64,
                        where, uhn_dataset_height(*tds), uhn_dataset_width(*tds),
                        uhn_dataset_channels(*tds), s->H, s->W, s->C);
    if (want > avail)
        return uhn_fail(ctx, UHN_EINPUT,
                        "%s: train_n = %" PRId64 " is more than the %" PRId64 " images of '%s'",
                        uhn_deck_where(d, UHN_KEY_ENCODER_TRAIN_N), want, avail,
                        uhn_dataset_spec(*tds));
    *ntot = want > 0 ? want : avail;
    int64_t b = uhn_encoder_fit_block(*ntot, ctx->size), row0 = b * ctx->rank;
    *nloc = row0 >= *ntot ? 0 : (*ntot - row0 < b ? *ntot - row0 : b);
    int64_t *index = malloc((size_t)(*nloc > 0 ? *nloc : 1) * sizeof *index);
    *x = malloc((size_t)(*nloc > 0 ? *nloc * s->K : 1) * sizeof **x);
    st = index && *x ? UHN_OK : uhn_fail(ctx, UHN_ENOMEM, "out of memory for the training images");
    for (int64_t i = 0; st == UHN_OK && i < *nloc; ++i) index[i] = row0 + i;
    if (st == UHN_OK) st = uhn_dataset_rows(*tds, index, *nloc, *x);
    free(index);
    return uhn_agree(ctx, st);
}

/* A saved model (file:PATH) must take the data set's images. */
static int check_model(study *s, const uhn_encoder *e, const char *path) {
    const uhn_encoder_config *c = uhn_encoder_config_of(e);
    if (c->height == s->H && c->width == s->W && c->channels == s->C) return UHN_OK;
    return uhn_fail(s->ctx, UHN_EINPUT,
                    "%s: model '%s' encodes %" PRId64 " x %" PRId64 " x %" PRId64
                    " images; the data set's are %" PRId64 " x %" PRId64 " x %" PRId64,
                    uhn_deck_where(s->d, UHN_KEY_ENCODER_NAME), path, c->height, c->width,
                    c->channels, s->H, s->W, s->C);
}

static int setup_fit(study *s) {
    uhn_ctx *ctx = s->ctx;
    const uhn_deck *d = s->d;
    s->nenc = uhn_deck_count(d, UHN_KEY_ENCODER_NAME);
    s->enc = calloc((size_t)s->nenc, sizeof *s->enc);
    UHN_CALL(uhn_agree(ctx, s->enc ? UHN_OK : uhn_fail(ctx, UHN_ENOMEM, "out of memory")));
    /* Check every configuration before reading anything. */
    int train = 0;
    for (int i = 0; i < s->nenc; ++i) {
        const char *name = uhn_deck_str(d, UHN_KEY_ENCODER_NAME, i);
        if (!strncmp(name, "file:", 5)) continue;
        uhn_encoder_config c = encoder_config(s, name);
        UHN_CALL(uhn_agree(ctx, encoder_labelled(s, uhn_encoder_check_fit(ctx, &c))));
        train |= learns(name);
    }
    uhn_dataset *tds = NULL;
    float *x = NULL;
    int64_t nloc = 0, ntot = 0;
    int st = train ? read_training(s, &tds, &x, &nloc, &ntot) : UHN_OK;
    for (int i = 0; st == UHN_OK && i < s->nenc; ++i) {
        const char *name = uhn_deck_str(d, UHN_KEY_ENCODER_NAME, i);
        if (!strncmp(name, "file:", 5)) {
            st = uhn_encoder_load(ctx, name + 5, uhn_deck_where(d, UHN_KEY_ENCODER_NAME),
                                  &s->enc[i]);
            if (st == UHN_OK) st = uhn_agree(ctx, check_model(s, s->enc[i], name + 5));
        } else {
            uhn_encoder_config c = encoder_config(s, name);
            int fit_on = learns(name);
            st = encoder_labelled(s, uhn_encoder_fit(ctx, &c, fit_on ? x : NULL, fit_on ? nloc : 0,
                                                     fit_on ? ntot : 0, &s->enc[i]));
        }
        if (st != UHN_OK) break;
        int64_t D = uhn_encoder_dim(s->enc[i]);
        if (D > s->Dmax) s->Dmax = D;
        char more[256];
        if (ctx->rank == 0 && !s->quiet && strcmp(name, "identity"))
            printf("uhn run: encoder %s: code length %" PRId64 "%s, fitted on %" PRId64
                   " images in %.2f s\n",
                   name, D, uhn_encoder_describe(s->enc[i], more, sizeof more),
                   uhn_encoder_n_train(s->enc[i]), uhn_encoder_fit_seconds(s->enc[i]));
    }
    free(x);
    uhn_dataset_close(tds);
    if (s->Dmax < s->Kk) s->Dmax = s->Kk;
    UHN_CALL(st);
    return study_text_setup(s); /* [text]: the memories grow by a text code */
}

/* The encoder of point p becomes the current one. */
static void use_encoder(study *s, int i) {
    s->cur = i;
    int identity = !strcmp(uhn_deck_str(s->d, UHN_KEY_ENCODER_NAME, i), "identity");
    /* With text, identity is an encoder like the others: its codes are the
     * image part of longer memories. */
    s->raw = identity && !s->text;
    s->DI = identity ? s->Kk : uhn_encoder_dim(s->enc[i]);
    s->DT = study_text_dim(s, i);
    s->D = s->DI + s->DT;
}

/* ---- store (memory) ---------------------------------------------------- */

/* Makes the bank hold the codes of trial `t`'s subset of n images under the
 * current encoder: nothing to do when it holds them already (the points of a
 * group share it, see sweep()). Collective (agreed). */
static int trial_store(study *s, int64_t n, int64_t t) {
    uhn_ctx *ctx = s->ctx;
    if (s->afresh) { /* UHN_STUDY_REUSE=0: nothing kept from one (point, trial) to the next */
        uhn_bank_destroy(s->bank);
        s->bank = NULL;
        s->bank_n = s->bank_trial = s->subset_n = s->subset_trial = -1;
        s->rows_ready = 0;
    }
    if (s->bank_n == n && s->bank_trial == t && s->bank_enc == s->cur && s->bank_ti == s->cur_ti)
        return UHN_OK;
    if (s->bank_n != n || s->bank_enc != s->cur) {
        uhn_bank_destroy(s->bank);
        s->bank = NULL;
        s->bank_n = s->bank_trial = -1;
        int st = uhn_bank_create(ctx, n, s->D, s->hetero, s->Ko, &s->bank);
        UHN_CALL(uhn_agree(ctx, st));
        s->bank_enc = s->cur;
    }
    /* The subset of (n, t) and, where they are staged (hetero, encoders), this
     * rank's images: drawn and read once for every encoder and point. */
    int st = UHN_OK;
    if (s->subset_n != n || s->subset_trial != t) {
        s->subset_n = s->subset_trial = -1;
        s->rows_ready = 0;
        st = uhn_subset(s->seed, t, uhn_dataset_n(s->ds), n, s->subset) == 0
                 ? UHN_OK
                 : uhn_fail(ctx, UHN_ENOMEM, "out of memory drawing %" PRId64 " memories", n);
        if (st == UHN_OK) s->subset_n = n, s->subset_trial = t;
    }
    uhn_bank *b = s->bank;
    if (st == UHN_OK && !s->rows)
        st = uhn_dataset_rows(s->ds, s->subset + b->row0, b->n_local, b->keys);
    if (st == UHN_OK && s->rows && !s->rows_ready) {
        st = uhn_dataset_rows(s->ds, s->subset + b->row0, b->n_local, s->rows);
        s->rows_ready = st == UHN_OK;
    }
    if (st == UHN_OK && s->rows && s->raw && !s->hetero && b->n_local > 0)
        memcpy(b->keys, s->rows, (size_t)(b->n_local * s->K) * sizeof(float));
    for (int64_t i = 0; st == UHN_OK && s->hetero && i < b->n_local; ++i) {
        memcpy(b->keys + i * s->Kk, s->rows + i * s->K, (size_t)s->Kk * sizeof(float));
        memcpy(b->values + i * s->Ko, s->rows + i * s->K + s->Kk, (size_t)s->Ko * sizeof(float));
    }
    if (st == UHN_OK && !s->raw)
        st = uhn_encoder_encode(ctx, s->enc[s->cur], s->rows, b->n_local,
                                s->text ? s->icodes : b->keys);
    UHN_CALL(uhn_agree(ctx, st));
    if (s->text) UHN_CALL(study_text_store(s, b, t));
    char name[UHN_H5_PATH_MAX + 128];
    snprintf(name, sizeof name, "%s%s%s%s%s%s", uhn_dataset_spec(s->ds),
             s->hetero ? " (top halves)" : "", s->raw ? "" : " encoded by ",
             s->raw ? "" : uhn_deck_str(s->d, UHN_KEY_ENCODER_NAME, s->cur),
             s->text ? " with captions by " : "", s->text ? s->tcfg.method : "");
    UHN_CALL(uhn_bank_commit(b, name, s->hetero ? uhn_dataset_spec(s->ds) : name));
    s->bank_n = n;
    s->bank_trial = t;
    s->bank_ti = s->cur_ti;
    return UHN_OK;
}

/* ---- corrupt (query) --------------------------------------------------- */

static int setup_corrupt(study *s) {
    const uhn_deck *d = s->d;
    s->count = uhn_deck_int(d, UHN_KEY_QUERY_COUNT, 0);
    const char *cname = uhn_deck_str(d, UHN_KEY_QUERY_CORRUPTION, 0);
    s->corr = uhn_corruption_find(cname);
    if (!s->corr) return uhn_fail(s->ctx, UHN_EINTERNAL, "corruption '%s' not in the table", cname);
    s->masking = strcmp(cname, "none") && strcmp(cname, "gaussian");
    for (int j = 0; j < uhn_deck_count(d, UHN_KEY_QUERY_LEVEL); ++j) {
        double level = uhn_deck_double(d, UHN_KEY_QUERY_LEVEL, j);
        const char *why = uhn_corruption_param_check(s->corr, level, s->Hk, s->W);
        if (why)
            return uhn_fail(s->ctx, UHN_EINPUT,
                            "%s: [query] level: %g is not valid for %s on %" PRId64 " x %" PRId64
                            " queries: it must be %s",
                            uhn_deck_name(d), level, cname, s->Hk, s->W, why);
    }
    return UHN_OK;
}

/* The true images of the chunk's stored memories, and their corruptions. */
static int chunk_corrupt(study *s, chunk *c) {
    int st = uhn_dataset_rows(s->ds, s->subset + c->c0, c->nb, s->images);
    UHN_CALL(uhn_agree(s->ctx, st));
    if (s->text) return study_text_queries(s, c->c0, c->nb); /* text cues, no corruption */
    for (int64_t j = 0; j < c->nb; ++j)
        uhn_corrupt(s->corr, c->level, s->seed, c->t, c->c0 + j, s->Hk, s->W, s->C,
                    s->images + j * s->K, s->qbuf + j * s->Kk, s->known + j * s->Kk);
    return UHN_OK;
}

/* ---- encode (encoder) -------------------------------------------------- */

/* v_0 = enc(corrupt(x_m)); c_m = enc(x_m) and its reconstruction dec(c_m).
 * With identity the codes are the pixels themselves (no copy). */
static int chunk_encode(study *s, chunk *c) {
    if (s->raw) return UHN_OK;
    const uhn_encoder *e = s->enc[s->cur];
    if (!s->text) /* text queries are made whole by the corrupt stage */
        UHN_CALL(uhn_agree(s->ctx, uhn_encoder_encode(s->ctx, e, s->qbuf, c->nb, s->qcode)));
    UHN_CALL(uhn_agree(s->ctx, uhn_encoder_encode(s->ctx, e, s->images, c->nb, s->tcode)));
    return uhn_agree(s->ctx, uhn_encoder_decode(s->ctx, e, s->tcode, c->nb, s->recon));
}

/* ---- recall (network) -------------------------------------------------- */

/* An engine error about a parameter names the deck line that set it
 * ("beta must be ..." becomes "deck.ini:7: [network] beta: must be ..."). */
static int deck_labelled(const study *s, int st) {
    if (st == UHN_OK || !s->ctx->param[0]) return st;
    for (int i = 0; i < UHN_KEY_COUNT; ++i) {
        uhn_deck_entry e;
        uhn_deck_entry_at(s->d, i, &e);
        if (!strcmp(e.section, "network") && !strcmp(e.key, s->ctx->param)) {
            uhn_relabel(s->ctx, uhn_deck_where(s->d, (uhn_deck_key_id)i), ": ");
            break;
        }
    }
    return st;
}

/* T steps of spec §5 in code space. Masks are of pixels: they are the cue
 * set and the clamp only with identity (spec §10). */
static int chunk_recall(study *s, chunk *c) {
    uhn_ctx *ctx = s->ctx;
    const uhn_params *prm = c->prm;
    const float *q = s->raw ? s->qbuf : s->qcode;
    int use_mask = (s->raw || s->text) && (prm->cue_only || prm->hold);
    const uint8_t *mask = s->text ? s->qknown : s->known; /* text: the text coordinates */
    UHN_CALL(deck_labelled(
        s, uhn_queries_check(ctx, prm, q, c->nb, s->D,
                             s->raw ? "the corrupted queries" : "the encoded queries")));
    int64_t O = s->raw ? s->Ko : s->D;
    if (!s->res || s->res->B != c->nb || s->res->T != prm->steps || s->res->O != O) {
        uhn_result_destroy(s->res);
        s->res = NULL;
        int st = uhn_result_create(ctx, c->nb, O, prm->steps, 0, &s->res);
        if (st == UHN_OK && s->ntraj > 0) /* output.trajectory (checked by the deck) */
            st = uhn_result_want_trajectory(ctx, s->res, s->D, s->ntraj, s->traj_steps);
        UHN_CALL(uhn_agree(ctx, st));
    }
    return deck_labelled(s, uhn_recall(s->bank, prm, q, c->nb, use_mask ? mask : NULL,
                                       use_mask ? c->nb : 0, s->res));
}

/* ---- decode (encoder) -------------------------------------------------- */

/* The image part of n states of D values (text: the first DI of each) as
 * contiguous codes: the states themselves without text, else copied to buf. */
static const float *image_part(const study *s, const float *v, int64_t n, float *buf) {
    if (!s->text) return v;
    for (int64_t j = 0; j < n; ++j)
        memcpy(buf + j * s->DI, v + j * s->D, (size_t)s->DI * sizeof(float));
    return buf;
}

static int chunk_decode(study *s, chunk *c) {
    if (s->raw) return UHN_OK;
    /* s->tcode served the encode stage; it is free again */
    const float *v = image_part(s, s->res->output, c->nb, s->tcode);
    return uhn_agree(s->ctx, uhn_encoder_decode(s->ctx, s->enc[s->cur], v, c->nb, s->decoded));
}

/* The recalled image of record j, and what it is scored against: the true
 * image y and the memory's own reconstruction dec(c_m) (y itself for identity). */
static const float *recalled(const study *s, int64_t j) {
    return (s->raw ? s->res->output : s->decoded) + j * s->Ko;
}
static const float *truth(const study *s, int64_t j) {
    return s->images + j * s->K + (s->hetero ? s->Kk : 0);
}
static const float *reconstruction(const study *s, int64_t j) {
    return s->raw ? truth(s, j) : s->recon + j * s->Ko;
}

/* ---- score (experiment) ------------------------------------------------ */

static int setup_score(study *s) {
    uhn_ctx *ctx = s->ctx;
    s->threshold = uhn_threshold(
        uhn_deck_double(s->d, UHN_KEY_EXPERIMENT_THRESHOLD, 0),
        !strcmp(uhn_deck_str(s->d, UHN_KEY_EXPERIMENT_THRESHOLD_SCALE, 0), "pixels"), s->Ko);
    if (!uhn_ssim_check(s->Ho, s->W)) {
        s->ssim_work = malloc((size_t)uhn_ssim_work_size(s->Ho, s->W) * sizeof(double));
        UHN_CALL(
            uhn_agree(ctx, s->ssim_work ? UHN_OK : uhn_fail(ctx, UHN_ENOMEM, "out of memory")));
    }
    if (ctx->rank == 0 && !s->quiet && !s->ssim_work)
        printf("uhn run: 1 - SSIM is not computed: %s (images are %" PRId64 " x %" PRId64 ")\n",
               uhn_ssim_check(s->Ho, s->W), s->Ho, s->W);
    return UHN_OK;
}

static void score_query(const study *s, const float *z, const float *y, int64_t index, float weight,
                        int64_t true_index, uhn_query_metrics *m) {
    m->sq_error = uhn_sq_error(z, y, s->Ko);
    m->mse = m->sq_error / (double)s->Ko;
    m->dssim = s->ssim_work ? 1.0 - uhn_ssim(z, y, s->Ho, s->W, s->C, s->ssim_work) : NAN;
    m->outcome = uhn_outcome_classify(m->sq_error, s->threshold, weight, index, true_index);
}

/* Spec §10: the outcome in code space, from n* and its weight alone. */
static uhn_outcome code_outcome(int64_t index, float weight, int64_t true_index) {
    if (weight >= UHN_SETTLED_WEIGHT && index >= 0)
        return index == true_index ? UHN_OUTCOME_CORRECT : UHN_OUTCOME_WRONG;
    return UHN_OUTCOME_METASTABLE;
}

/* The queries are scored round-robin over the ranks (and query j < save of
 * trial 0 on rank 0 too, for the record stage). */
static int scored_here(const study *s, int64_t g) {
    return g % s->ctx->size == s->ctx->rank;
}
static int saved_here(const study *s, const chunk *c, int64_t g) {
    return c->t == 0 && g < s->save && s->ctx->rank == 0;
}

/* Metrics of record j against y and dec(c_m). */
static void score_record(const study *s, const chunk *c, int64_t j, uhn_query_metrics *m,
                         uhn_query_metrics *r) {
    int64_t g = c->c0 + j, n = s->res->index[j];
    float w = s->res->weight[j];
    score_query(s, recalled(s, j), truth(s, j), n, w, g, m);
    if (s->raw)
        *r = *m;
    else
        score_query(s, recalled(s, j), reconstruction(s, j), n, w, g, r);
    r->outcome = code_outcome(n, w, g);
}

static int chunk_score(study *s, chunk *c) {
    for (int64_t j = 0; j < c->nb; ++j) {
        if (!scored_here(s, c->c0 + j)) continue;
        uhn_query_metrics m, r;
        score_record(s, c, j, &m, &r);
        uhn_trial_acc_add(c->acc, &m);
        uhn_trial_acc_add(c->racc, &r);
        if (s->text) { /* shared (0) or unique (1): outcomes, MSE sum, queries */
            double *a = c->tacc + (study_text_shared(s, c->c0 + j) ? 0 : 1) * TACC;
            a[m.outcome] += 1, a[TA_CODE + r.outcome] += 1, a[TA_MSE] += m.mse, a[TA_N] += 1;
        }
    }
    return UHN_OK;
}

static const char *const stat_names[NSTAT] = {
    "frac_correct", "frac_correct_std", "sq_error",    "sq_error_std",
    "mse",          "mse_std",          "dssim",       "dssim_std",
    "mse_recon",    "mse_recon_std",    "dssim_recon", "dssim_recon_std"};
static const char *const stat_desc[NSTAT] = {
    "fraction of queries recalled correctly (squared error below the threshold), mean over trials",
    "standard deviation over trials of the fraction correct",
    "squared error sum_k (z_k - y_k)^2 of a retrieval against its true image, mean over trials of "
    "the trial mean",
    "standard deviation over trials of the trial mean squared error",
    "mean squared error per pixel value, mean over trials of the trial mean",
    "standard deviation over trials of the trial mean MSE",
    "1 - SSIM (Gaussian window, as skimage), mean over trials of the trial mean",
    "standard deviation over trials of the trial mean 1 - SSIM",
    "MSE of the recalled image dec(v_T) against the memory's own reconstruction dec(c_m) (spec "
    "§10; against the true image for identity), mean over trials of the trial mean",
    "standard deviation over trials of the trial mean MSE against dec(c_m)",
    "1 - SSIM of dec(v_T) against dec(c_m), mean over trials of the trial mean",
    "standard deviation over trials of the trial mean 1 - SSIM against dec(c_m)"};
static const char *const stat_units[NSTAT] = {"fraction",
                                              "fraction",
                                              "squared pixel value",
                                              "squared pixel value",
                                              "squared pixel value",
                                              "squared pixel value",
                                              "-",
                                              "-",
                                              "squared pixel value",
                                              "squared pixel value",
                                              "-",
                                              "-"};
static const study_hold stat_hold[NSTAT] = {HOLD_FRACTION, HOLD_FRACTION, HOLD_NUMBER, HOLD_NUMBER,
                                            HOLD_NUMBER,   HOLD_NUMBER,   HOLD_SSIM,   HOLD_SSIM,
                                            HOLD_NUMBER,   HOLD_NUMBER,   HOLD_SSIM,   HOLD_SSIM};
/* Per-trial datasets: the statistic each one is the trial mean of. */
static const int trial_stat[NTRIAL] = {ST_FRAC, ST_SQ, ST_MSE, ST_DSSIM, ST_MSE_REC, ST_DSSIM_REC};

/* Cross-stimulus results ([text]): the scale used, and the outcomes and MSE
 * of the queries whose caption is shared, apart from the unique ones. */
static void fields_text(study *s, study_field *f, int *n) {
    static const char *const names[2][2 * UHN_OUTCOME_COUNT + 1] = {
        {"text/shared_count_correct", "text/shared_count_wrong", "text/shared_count_metastable",
         "text/shared_code_count_correct", "text/shared_code_count_wrong",
         "text/shared_code_count_metastable", "text/shared_mse"},
        {"text/unique_count_correct", "text/unique_count_wrong", "text/unique_count_metastable",
         "text/unique_code_count_correct", "text/unique_code_count_wrong",
         "text/unique_code_count_metastable", "text/unique_mse"}};
    const int64_t P = s->npoints;
    add(f, n, "text/applied_scale", UHN_H5_FLOAT64, SHAPE_TRIAL, s->text_scale,
        "text scale s of the trial's memories [image code ; s * text code] (text.scale, or auto)",
        "-", HOLD_NUMBER);
    add(f, n, "text/shared_queries", UHN_H5_INT64, SHAPE_POINT, s->tqueries,
        "queries whose caption is shared with the other memory of their pair, over all trials",
        "queries", HOLD_COUNT);
    for (int k = 0; k < 2; ++k) {
        for (int o = 0; o < 2 * UHN_OUTCOME_COUNT; ++o)
            add(f, n, names[k][o], UHN_H5_INT64, SHAPE_POINT,
                s->tcount + (k * 2 * UHN_OUTCOME_COUNT + o) * P,
                o < UHN_OUTCOME_COUNT
                    ? (k ? "outcomes (spec §7) of the queries with a unique caption, over all "
                           "trials"
                         : "outcomes (spec §7) of the queries with a shared caption, over all "
                           "trials")
                    : (k ? "outcomes in code space (spec §10) of the queries with a unique "
                           "caption, over all trials"
                         : "outcomes in code space (spec §10) of the queries with a shared "
                           "caption, over all trials"),
                "queries", HOLD_COUNT);
        add(f, n, names[k][2 * UHN_OUTCOME_COUNT], UHN_H5_FLOAT64, SHAPE_POINT, s->tmse + k * P,
            k ? "mean squared error per pixel of the queries with a unique caption (NaN: none)"
              : "mean squared error per pixel of the queries with a shared caption (NaN: none)",
            "squared pixel value", HOLD_ANY);
    }
}

static void fields_score(study *s, study_field *f, int *n) {
    static const char *const count_names[UHN_OUTCOME_COUNT] = {"count_correct", "count_wrong",
                                                               "count_metastable"};
    static const char *const code_names[UHN_OUTCOME_COUNT] = {
        "code_count_correct", "code_count_wrong", "code_count_metastable"};
    static const char *const count_desc[UHN_OUTCOME_COUNT] = {
        "queries recalled correctly, over all trials",
        "queries settled on another stored memory (weight >= 0.99 on a wrong index), over all "
        "trials",
        "queries that ended in a mixture of memories (neither), over all trials"};
    static const char *const code_desc[UHN_OUTCOME_COUNT] = {
        "queries whose largest weight is on their own memory and >= 0.99 (spec §10, code space), "
        "over all trials",
        "queries whose largest weight is on another memory and >= 0.99 (spec §10), over all "
        "trials",
        "queries whose largest weight is below 0.99: a mixture (spec §10), over all trials"};
    int64_t P = s->npoints;
    for (int i = 0; i < ST_MSE_REC; ++i)
        add(f, n, stat_names[i], UHN_H5_FLOAT64, SHAPE_POINT, s->stat + i * P, stat_desc[i],
            stat_units[i], stat_hold[i]);
    for (int o = 0; o < UHN_OUTCOME_COUNT; ++o)
        add(f, n, count_names[o], UHN_H5_INT64, SHAPE_POINT, s->outcomes + o * P, count_desc[o],
            "queries", HOLD_COUNT);
    add(f, n, "queries", UHN_H5_INT64, SHAPE_POINT, s->queries, "queries scored, over all trials",
        "queries", HOLD_COUNT);
    add(f, n, "seconds", UHN_H5_FLOAT64, SHAPE_POINT, s->seconds,
        "wall-clock time of the point (slowest rank)", "s", HOLD_NUMBER);
    add(f, n, "done", UHN_H5_UINT8, SHAPE_POINT, s->done,
        "1 when the point is finished (a checkpoint holds some)", "-", HOLD_ANY);
    for (int i = ST_MSE_REC; i < NSTAT; ++i)
        add(f, n, stat_names[i], UHN_H5_FLOAT64, SHAPE_POINT, s->stat + i * P, stat_desc[i],
            stat_units[i], stat_hold[i]);
    for (int o = 0; o < UHN_OUTCOME_COUNT; ++o)
        add(f, n, code_names[o], UHN_H5_INT64, SHAPE_POINT, s->code_outcomes + o * P, code_desc[o],
            "queries", HOLD_COUNT);
    for (int i = 0; i < NTRIAL; ++i) {
        char name[48];
        snprintf(name, sizeof name, "per_trial/%s", stat_names[trial_stat[i]]);
        add(f, n, name, UHN_H5_FLOAT64, SHAPE_TRIAL, s->trial + (int64_t)i * P * s->trials,
            stat_desc[trial_stat[i]], stat_units[trial_stat[i]], stat_hold[trial_stat[i]]);
    }
    if (s->text) fields_text(s, f, n);
}

/* ---- record (output) --------------------------------------------------- */

static int setup_record(study *s) {
    const uhn_deck *d = s->d;
    s->save = uhn_deck_int(d, UHN_KEY_OUTPUT_SAVE_IMAGES, 0);
    s->ntraj = uhn_deck_count(d, UHN_KEY_OUTPUT_TRAJECTORY); /* a list, not an axis */
    s->traj_steps = malloc((size_t)(s->ntraj + 1) * sizeof(int64_t));
    if (!s->traj_steps) return uhn_fail(s->ctx, UHN_ENOMEM, "out of memory");
    for (int64_t i = 0; i < s->ntraj; ++i)
        s->traj_steps[i] = uhn_deck_int(d, UHN_KEY_OUTPUT_TRAJECTORY, (int)i);
    return UHN_OK;
}

/* Saves record j (query g < save of trial 0) at point p: its images, its
 * outcome and its trajectory, decoded and, with an encoder, as codes. Rank 0. */
static int chunk_record(study *s, chunk *c) {
    for (int64_t j = 0; j < c->nb; ++j) {
        int64_t g = c->c0 + j, at = c->p * s->save + g;
        if (!saved_here(s, c, g)) continue;
        uhn_query_metrics m, r;
        score_record(s, c, j, &m, &r);
        if (s->ntraj > 0) {
            const float *v = s->res->trajectory + j * s->ntraj * s->D;
            float *dst = s->img_traj + at * s->ntraj * s->Kk;
            if (s->raw)
                memcpy(dst, v, (size_t)(s->ntraj * s->Kk) * sizeof(float));
            else /* s->tcode is free after the encode stage (ntraj <= steps + 1 <= its rows?) */
                UHN_CALL(uhn_encoder_decode(s->ctx, s->enc[s->cur],
                                            image_part(s, v, s->ntraj, s->tdec_codes), s->ntraj,
                                            dst));
            for (int64_t i = 0; s->img_traj_code && i < s->ntraj; ++i)
                memcpy(s->img_traj_code + (at * s->ntraj + i) * s->Dmax, v + i * s->D,
                       (size_t)s->D * sizeof(float));
        }
        int64_t n = s->res->index[j];
        memcpy(s->img_retrieved + at * s->Ko, recalled(s, j), (size_t)s->Ko * sizeof(float));
        memcpy(s->img_query + at * s->Kk, s->qbuf + j * s->Kk, (size_t)s->Kk * sizeof(float));
        memcpy(s->img_truth + at * s->Ko, truth(s, j), (size_t)s->Ko * sizeof(float));
        s->img_index[at] = s->subset[g];
        s->img_recalled[at] = n >= 0 ? s->subset[n] : -1;
        s->img_weight[at] = s->res->weight[j];
        s->img_sq[at] = m.sq_error;
        s->img_dssim[at] = m.dssim;
        s->img_outcome[at] = (int32_t)m.outcome;
        s->img_code_outcome[at] = (int32_t)r.outcome;
        if (s->text) {
            int sh = study_text_shared(s, g);
            s->img_shared[at] = sh;
            s->img_partner[at] = sh ? s->subset[g ^ 1] : -1;
        }
    }
    return UHN_OK;
}

static void fields_record(study *s, study_field *f, int *n) {
    if (s->save == 0) return;
    add(f, n, "images/retrieved", UHN_H5_FLOAT32, SHAPE_VALUE_IMAGE, s->img_retrieved,
        "retrieved image z of the first queries of trial 0, decoded dec(v_T) with an encoder "
        "(NaN: no such query)",
        "pixel value", HOLD_ANY);
    add(f, n, "images/truth", UHN_H5_FLOAT32, SHAPE_VALUE_IMAGE, s->img_truth,
        "true image y of those queries (the bottom half with hetero = halves)", "pixel value",
        HOLD_ANY);
    add(f, n, "images/query", UHN_H5_FLOAT32, SHAPE_KEY_IMAGE, s->img_query,
        "corrupted query (the top half with hetero = halves)", "pixel value", HOLD_ANY);
    add(f, n, "images/image_index", UHN_H5_INT64, SHAPE_QUERY, s->img_index,
        "data set index of the true image (-1: no such query)", "image", HOLD_INDEX);
    add(f, n, "images/recalled_index", UHN_H5_INT64, SHAPE_QUERY, s->img_recalled,
        "data set index of the memory with the largest weight n*", "image", HOLD_ANY);
    add(f, n, "images/weight", UHN_H5_FLOAT32, SHAPE_QUERY, s->img_weight,
        "the largest weight w[n*]", "-", HOLD_ANY);
    add(f, n, "images/sq_error", UHN_H5_FLOAT64, SHAPE_QUERY, s->img_sq,
        "squared error of the retrieval", "squared pixel value", HOLD_ANY);
    add(f, n, "images/dssim", UHN_H5_FLOAT64, SHAPE_QUERY, s->img_dssim,
        "1 - SSIM of the retrieval", "-", HOLD_ANY);
    add(f, n, "images/outcome", UHN_H5_INT32, SHAPE_QUERY, s->img_outcome,
        "outcome class: 0 correct, 1 wrong, 2 metastable, -1 no such query", "-", HOLD_OUTCOME);
    add(f, n, "images/code_outcome", UHN_H5_INT32, SHAPE_QUERY, s->img_code_outcome,
        "outcome in code space (spec §10): 0 correct, 1 wrong, 2 metastable, -1 no such query", "-",
        HOLD_OUTCOME);
    if (s->text) {
        add(f, n, "images/caption_shared", UHN_H5_INT32, SHAPE_QUERY, s->img_shared,
            "1: the query's caption is shared with the other memory of its pair; 0: unique; -1: "
            "no such query",
            "-", HOLD_ANY);
        add(f, n, "images/partner_index", UHN_H5_INT64, SHAPE_QUERY, s->img_partner,
            "data set index of the other image of a shared caption's pair (-1: unique)", "image",
            HOLD_ANY);
    }
    if (s->ntraj > 0)
        add(f, n, "images/trajectory", UHN_H5_FLOAT32, SHAPE_TRAJECTORY, s->img_traj,
            "state v_S of the saved queries at the steps S of output.trajectory (spec §11), "
            "decoded dec(v_S) with an encoder; a query that stopped early repeats its final "
            "state; the top half with hetero = halves",
            "pixel value", HOLD_ANY);
    if (s->img_traj_code)
        add(f, n, "images/trajectory_code", UHN_H5_FLOAT32, SHAPE_TRAJECTORY_CODE, s->img_traj_code,
            "state v_S in code space (spec §11), its first D values (the encoder's code length; "
            "NaN after them)",
            "code value", HOLD_ANY);
}

/* ---- separate (output.separability) ------------------------------------ */

static int setup_separate(study *s) {
    const uhn_deck *d = s->d;
    s->separability = uhn_deck_bool(d, UHN_KEY_OUTPUT_SEPARABILITY, 0);
    s->sep_bins = uhn_deck_int(d, UHN_KEY_OUTPUT_SEPARABILITY_BINS, 0);
    if (!s->separability) return UHN_OK;
    for (int j = 0; j < uhn_deck_count(d, UHN_KEY_MEMORY_N); ++j)
        if (uhn_deck_int(d, UHN_KEY_MEMORY_N, j) < 2)
            return uhn_fail(s->ctx, UHN_EINPUT,
                            "%s: on needs at least 2 memories at every point (memory.n has %" PRId64
                            ")",
                            uhn_deck_where(d, UHN_KEY_OUTPUT_SEPARABILITY),
                            uhn_deck_int(d, UHN_KEY_MEMORY_N, j));
    s->sep_edges = malloc((size_t)(s->sep_bins + 1) * sizeof *s->sep_edges);
    s->sep_subset = malloc((size_t)max_memories(s) * sizeof *s->sep_subset);
    if (!s->sep_edges || !s->sep_subset) return uhn_fail(s->ctx, UHN_ENOMEM, "out of memory");
    for (int64_t k = 0; k <= s->sep_bins; ++k)
        s->sep_edges[k] = -1.0 + 2.0 * (double)k / (double)s->sep_bins;
    return UHN_OK;
}

/* Rows [row0, row0 + nrows) of trial 0's subset as codes of the current
 * encoder (key segment with hetero): the stored memories, or (corrupt) the
 * encoded corrupted queries. Into a new buffer *out ([nrows][D]). */
static int sep_codes(study *s, int64_t row0, int64_t nrows, int corrupt, double level,
                     float **out) {
    uhn_ctx *ctx = s->ctx;
    size_t rows = (size_t)(nrows > 0 ? nrows : 1);
    float *x = malloc(rows * (size_t)s->K * sizeof *x),
          *keys = malloc(rows * (size_t)s->Kk * sizeof *keys);
    uint8_t *known = malloc(rows * (size_t)s->Kk);
    *out = malloc(rows * (size_t)s->D * sizeof **out);
    int st = x && keys && known && *out
                 ? UHN_OK
                 : uhn_fail(ctx, UHN_ENOMEM, "out of memory for separability");
    if (st == UHN_OK) st = uhn_dataset_rows(s->ds, s->sep_subset + row0, nrows, x);
    for (int64_t i = 0; st == UHN_OK && i < nrows; ++i)
        if (corrupt)
            uhn_corrupt(s->corr, level, s->seed, 0, row0 + i, s->Hk, s->W, s->C, x + i * s->K,
                        keys + i * s->Kk, known + i * s->Kk);
        else
            memcpy(keys + i * s->Kk, x + i * s->K, (size_t)s->Kk * sizeof(float));
    if (st == UHN_OK && s->raw) memcpy(*out, keys, (size_t)(nrows * s->Kk) * sizeof(float));
    if (st == UHN_OK && !s->raw) st = uhn_encoder_encode(ctx, s->enc[s->cur], keys, nrows, *out);
    free(x), free(keys), free(known);
    return st;
}

/* Points p and q have the same separability: the same n, encoder and
 * corruption level (a [text] study has none). */
static int same_separate(const study *s, int64_t p, int64_t q) {
    int a[UHN_KEY_COUNT], b[UHN_KEY_COUNT];
    uhn_deck_point(s->d, p, a);
    uhn_deck_point(s->d, q, b);
    return a[UHN_KEY_MEMORY_N] == b[UHN_KEY_MEMORY_N] &&
           a[UHN_KEY_ENCODER_NAME] == b[UHN_KEY_ENCODER_NAME] &&
           a[UHN_KEY_QUERY_LEVEL] == b[UHN_KEY_QUERY_LEVEL];
}

/* Point p's separability: a copy of point q's. */
static void copy_separate(study *s, int64_t p, int64_t q) {
    const int64_t P = s->npoints, nb = s->sep_bins;
    for (int h = 0; h < 2; ++h)
        memcpy(s->sep_hist + (h * P + p) * nb, s->sep_hist + (h * P + q) * nb,
               (size_t)nb * sizeof(int64_t));
    for (int i = 0; i < NSEP; ++i) s->sep_stat[i * P + p] = s->sep_stat[i * P + q];
}

/* Spec §12 at point p: the first B encoded queries of trial 0 against its n
 * stored codes, on the rows uhn_separability expects of this rank. The codes
 * depend on n, the encoder and the corruption level only, not on the
 * network's keys: a point that shares those with the last point
 * computed copies its results (hen_beta.ini's six betas per encoder spent
 * five times the recall stage's time recomputing them). Collective. */
static int point_separate(study *s, int64_t p, int64_t n, double level) {
    if (!s->separability) return UHN_OK;
    uhn_ctx *ctx = s->ctx;
    if (!s->afresh && s->sep_p >= 0 && same_separate(s, p, s->sep_p)) {
        copy_separate(s, p, s->sep_p);
        return UHN_OK;
    }
    s->sep_p = -1;
    int64_t B = queries_for(s, n), mr0, mn, qr0, qn;
    int st = UHN_OK;
    if (s->sep_n != n || s->afresh) { /* drawn once for the points that share n */
        s->sep_n = -1;
        st = uhn_subset(s->seed, 0, uhn_dataset_n(s->ds), n, s->sep_subset) == 0
                 ? UHN_OK
                 : uhn_fail(ctx, UHN_ENOMEM, "out of memory drawing %" PRId64 " memories", n);
        if (st == UHN_OK) s->sep_n = n;
    }
    UHN_CALL(uhn_agree(ctx, st));
    uhn_sep_rows(ctx, n, &mr0, &mn);
    uhn_sep_rows(ctx, B, &qr0, &qn);
    float *M = NULL, *Q = NULL;
    st = sep_codes(s, mr0, mn, 0, level, &M);
    if (st == UHN_OK) st = sep_codes(s, qr0, qn, 1, level, &Q);
    st = uhn_agree(ctx, st);
    uhn_sep_result res;
    memset(&res, 0, sizeof res);
    if (st == UHN_OK) st = uhn_agree(ctx, uhn_sep_result_init(ctx, s->sep_bins, &res));
    if (st == UHN_OK) {
        uhn_sep_params prm;
        uhn_sep_params_default(&prm);
        prm.bins = s->sep_bins;
        st = uhn_separability(ctx, Q, B, M, n, s->D, &prm, &res);
    }
    if (st == UHN_OK) {
        int64_t P = s->npoints, nb = s->sep_bins;
        memcpy(s->sep_hist + p * nb, res.self_hist, (size_t)nb * sizeof(int64_t));
        memcpy(s->sep_hist + (P + p) * nb, res.cross_hist, (size_t)nb * sizeof(int64_t));
        const double v[NSEP] = {res.self_mean, res.self_std, res.cross_mean, res.cross_std,
                                res.dprime,    res.overlap,  res.top1};
        for (int i = 0; i < NSEP; ++i) s->sep_stat[i * P + p] = v[i];
        s->sep_p = p;
    }
    uhn_sep_result_free(&res);
    free(M), free(Q);
    return st;
}

static void fields_separate(study *s, study_field *f, int *n) {
    static const char *const names[NSEP] = {"separability/self_mean",  "separability/self_std",
                                            "separability/cross_mean", "separability/cross_std",
                                            "separability/dprime",     "separability/overlap",
                                            "separability/top1"};
    static const char *const desc[NSEP] = {
        "mean of the self cosines cos(v_i, c_i) of trial 0 (spec §12)",
        "population standard deviation of the self cosines",
        "mean of the cross cosines cos(v_i, c_j), j != i",
        "population standard deviation of the cross cosines",
        "d' = (self_mean - cross_mean) / sqrt((self_std^2 + cross_std^2) / 2)",
        "overlap sum_bins min(p_self, p_cross) of the normalised histograms",
        "fraction of queries whose self cosine beats every cross cosine"};
    static const study_hold hold[NSEP] = {HOLD_NUMBER, HOLD_NUMBER,   HOLD_NUMBER,  HOLD_NUMBER,
                                          HOLD_ANY,    HOLD_FRACTION, HOLD_FRACTION};
    if (!s->separability) return;
    int64_t P = s->npoints;
    add(f, n, "separability/self_hist", UHN_H5_INT64, SHAPE_BINS, s->sep_hist,
        "histogram of the self cosines of trial 0 over separability/bin_edges (spec §12)",
        "queries", HOLD_COUNT);
    add(f, n, "separability/cross_hist", UHN_H5_INT64, SHAPE_BINS, s->sep_hist + P * s->sep_bins,
        "histogram of the cross cosines of trial 0 over separability/bin_edges", "pairs",
        HOLD_COUNT);
    for (int i = 0; i < NSEP; ++i)
        add(f, n, names[i], UHN_H5_FLOAT64, SHAPE_POINT, s->sep_stat + i * P, desc[i],
            i < SEP_DPRIME ? "cosine" : "-", hold[i]);
}

/* ---- the table --------------------------------------------------------- */

static const stage stages[] = {
    {"load", "data", setup_load, NULL, NULL, NULL, NULL},
    {"fit", "encoder", setup_fit, NULL, NULL, NULL, NULL},
    {"store", "memory", NULL, trial_store, NULL, NULL, NULL},
    {"corrupt", "query", setup_corrupt, NULL, chunk_corrupt, NULL, NULL},
    {"encode", "encoder", NULL, NULL, chunk_encode, NULL, NULL},
    {"recall", "network", NULL, NULL, chunk_recall, NULL, NULL},
    {"decode", "encoder", NULL, NULL, chunk_decode, NULL, NULL},
    {"score", "experiment", setup_score, NULL, chunk_score, NULL, fields_score},
    {"record", "output", setup_record, NULL, chunk_record, NULL, fields_record},
    {"separate", "output", setup_separate, NULL, NULL, point_separate, fields_separate},
};
enum { NSTAGES = sizeof stages / sizeof stages[0] };
_Static_assert(NSTAGES <= STUDY_MAX_STAGES, "study_impl.h: STUDY_MAX_STAGES is too small");

int study_fields(study *s, study_field f[STUDY_MAX_FIELDS]) {
    int n = 0;
    for (int i = 0; i < NSTAGES; ++i)
        if (stages[i].fields) stages[i].fields(s, f, &n);
    return n;
}

/* The model of every encoder of the sweep, in group encoders/<i> (i: its
 * index on the encoder axis), as a model file holds it (spec §14). Rank 0. */
int study_write_extra(study *s, uhn_h5_writer *w) {
    if (s->separability) {
        const uhn_h5_dataset edges = {"separability/bin_edges",
                                      UHN_H5_FLOAT64,
                                      1,
                                      {s->sep_bins + 1},
                                      s->sep_edges,
                                      "edges of the histogram bins on [-1, 1]: -1 + 2 k / bins",
                                      "cosine",
                                      "edge"};
        UHN_CALL(uhn_h5_write_dataset(w, &edges));
    }
    UHN_CALL(uhn_h5_write_group(w, "encoders"));
    for (int i = 0; i < s->nenc; ++i) {
        char g[64];
        snprintf(g, sizeof g, "encoders/%d", i);
        UHN_CALL(uhn_encoder_save(s->enc[i], w, g));
        UHN_CALL(
            uhn_h5_attr_string(w, g, "axis_value", uhn_deck_str(s->d, UHN_KEY_ENCODER_NAME, i)));
    }
    return UHN_OK;
}

/* Work space for a chunk of records, sized for the largest n and code. */
static int study_workspace(study *s) {
    uhn_ctx *ctx = s->ctx;
    int64_t nmax = max_memories(s), qmax = queries_for(s, nmax);
    int64_t qb = qmax < QUERY_CHUNK ? qmax : QUERY_CHUNK;
    int64_t row0, nloc_max;
    uhn_bank_partition(nmax, ctx->size, 0, &row0, &nloc_max);
    s->bank_n = s->bank_trial = -1;
    s->bank_enc = -1;
    s->subset_n = s->subset_trial = s->sep_n = s->sep_p = -1;
    /* A test switch (tests/study/study_reuse.py): build every bank afresh. */
    const char *reuse = getenv("UHN_STUDY_REUSE");
    s->afresh = reuse && !strcmp(reuse, "0");
    /* Another (tests/study/study_run.py): seconds to wait after each point's
     * checkpoint, so that a signal sent once the first one exists arrives
     * before the study ends, however fast the points run. */
    const char *pause = getenv("UHN_STUDY_POINT_PAUSE");
    s->pause = pause ? atof(pause) : 0;
    if (!(s->pause >= 0 && s->pause <= 60)) s->pause = 0;
    s->subset =
        uhn_alloc((size_t)nmax * sizeof(int64_t)); /* huge pages: the shuffle swaps at random */
    s->group_acc = malloc((size_t)(2 * s->npoints) * sizeof *s->group_acc);
    s->group_seconds = malloc((size_t)s->npoints * sizeof *s->group_seconds);
    s->images = malloc((size_t)(qb * s->K) * sizeof(float));
    s->qbuf = malloc((size_t)(qb * s->Kk) * sizeof(float));
    s->known = malloc((size_t)(qb * s->Kk));
    int ok = s->subset && s->images && s->qbuf && s->known && s->group_acc && s->group_seconds;
    if (s->hetero || study_has_codes(s)) {
        s->rows = uhn_alloc((size_t)(nloc_max > 0 ? nloc_max * s->K : 1) * sizeof(float));
        ok = ok && s->rows;
    }
    if (s->text) {
        s->tacc_point = malloc((size_t)(s->npoints * 2 * TACC) * sizeof(double));
        s->tdec_codes = malloc((size_t)((s->ntraj + 1) * s->Dmax) * sizeof(float));
        ok = ok && s->tacc_point && s->tdec_codes;
    }
    if (study_has_codes(s)) {
        s->qcode = malloc((size_t)(qb * s->Dmax) * sizeof(float));
        s->tcode = malloc((size_t)(qb * s->Dmax) * sizeof(float));
        s->recon = malloc((size_t)(qb * s->Ko) * sizeof(float));
        s->decoded = malloc((size_t)(qb * s->Ko) * sizeof(float));
        ok = ok && s->qcode && s->tcode && s->recon && s->decoded;
    }
    ok = ok && !UHN_FAULT(ctx, UHN_FAULT_STUDY_ALLOC);
    return uhn_agree(
        ctx, ok ? UHN_OK : uhn_fail(ctx, UHN_ENOMEM, "out of memory for the study's work space"));
}

/* Every stage's set-up, in order, then the work space. Collective (agreed). */
static int study_setup(study *s) {
    for (int i = 0; i < NSTAGES; ++i)
        if (stages[i].setup) UHN_CALL(uhn_agree(s->ctx, stages[i].setup(s)));
    return study_workspace(s);
}

/* ------------------------------------------------------------------------ */
/* One point                                                                */

/* Trial t of point p: the trial stages, then every chunk of records through
 * the chunk stages. */
static int run_trial(study *s, chunk *c, int64_t n) {
    for (int i = 0; i < NSTAGES; ++i) {
        double t0 = uhn_wtime();
        if (stages[i].trial) UHN_CALL(stages[i].trial(s, n, c->t));
        s->stage_seconds[i] += uhn_wtime() - t0;
    }
    int64_t q = queries_for(s, n);
    for (c->c0 = 0; c->c0 < q; c->c0 += QUERY_CHUNK) {
        c->nb = q - c->c0 < QUERY_CHUNK ? q - c->c0 : QUERY_CHUNK;
        for (int i = 0; i < NSTAGES; ++i) {
            double t0 = uhn_wtime();
            if (stages[i].chunk) UHN_CALL(stages[i].chunk(s, c));
            s->stage_seconds[i] += uhn_wtime() - t0;
        }
    }
    s->work += (double)n * (double)q;
    return UHN_OK;
}

/* Mean and sd over trials into the stat rows `first`, `first + 1`. */
static void put_stat(study *s, int first, int64_t p, uhn_stat v) {
    s->stat[first * s->npoints + p] = v.mean;
    s->stat[(first + 1) * s->npoints + p] = v.std;
}

/* Memories of point p. */
static int64_t point_n(const study *s, int64_t p) {
    int idx[UHN_KEY_COUNT];
    uhn_deck_point(s->d, p, idx);
    return uhn_deck_int(s->d, UHN_KEY_MEMORY_N, idx[UHN_KEY_MEMORY_N]);
}

/* Trial t of point p, its sums merged over the ranks into the point's
 * accumulators (trials in order, as the statistics need). */
static int point_trial(study *s, int64_t p, int64_t t) {
    uhn_ctx *ctx = s->ctx;
    const uhn_deck *d = s->d;
    double t0 = uhn_wtime();
    int idx[UHN_KEY_COUNT];
    uhn_deck_point(d, p, idx);
    uhn_params prm;
    uhn_deck_params(d, idx, &prm);
    if (s->text) { /* before use_encoder: the bank's key of text values */
        s->tscale = uhn_deck_double(d, UHN_KEY_TEXT_SCALE, idx[UHN_KEY_TEXT_SCALE]);
        s->tknown = uhn_deck_bool(d, UHN_KEY_TEXT_KNOWN, idx[UHN_KEY_TEXT_KNOWN]);
        s->tshared = uhn_deck_double(d, UHN_KEY_TEXT_SHARED, idx[UHN_KEY_TEXT_SHARED]);
        s->cur_ti = idx[UHN_KEY_TEXT_SCALE] * uhn_deck_count(d, UHN_KEY_TEXT_SHARED) +
                    idx[UHN_KEY_TEXT_SHARED];
    }
    use_encoder(s, idx[UHN_KEY_ENCODER_NAME]);
    prm.energy = 0;
    prm.hold = s->text ? s->tknown : prm.hold && s->masking && s->raw;
    prm.cue_only = s->text ? s->tknown : prm.cue_only && s->raw;
    int64_t n = uhn_deck_int(d, UHN_KEY_MEMORY_N, idx[UHN_KEY_MEMORY_N]);
    uhn_point_acc *pacc = &s->group_acc[2 * p];
    if (t == 0) {
        uhn_point_acc_init(&pacc[0]);
        uhn_point_acc_init(&pacc[1]);
        s->group_seconds[p] = 0;
    }
    uhn_trial_acc acc[2], sum[2];
    uhn_trial_acc_init(&acc[0]);
    uhn_trial_acc_init(&acc[1]);
    double tacc[2 * TACC] = {0};
    chunk c = {p,       t,       0,
               0,       &prm,    uhn_deck_double(d, UHN_KEY_QUERY_LEVEL, idx[UHN_KEY_QUERY_LEVEL]),
               &acc[0], &acc[1], tacc};
    UHN_CALL(run_trial(s, &c, n));
    UHN_MPI(ctx, MPI_Allreduce(acc, sum, 2 * UHN_TRIAL_ACC_N, MPI_DOUBLE, MPI_SUM, ctx->comm));
    if (s->text) {
        UHN_MPI(ctx, MPI_Allreduce(MPI_IN_PLACE, tacc, 2 * TACC, MPI_DOUBLE, MPI_SUM, ctx->comm));
        double *pt = s->tacc_point + p * 2 * TACC;
        if (t == 0) memset(pt, 0, 2 * TACC * sizeof *pt);
        for (int i = 0; i < 2 * TACC; ++i) pt[i] += tacc[i];
        s->text_scale[p * s->trials + t] = s->scale_used;
    }
    uhn_point_acc_add_trial(&pacc[0], &sum[0]);
    uhn_point_acc_add_trial(&pacc[1], &sum[1]);
    const double tv[NTRIAL] = {sum[0].count[UHN_OUTCOME_CORRECT] / sum[0].queries,
                               sum[0].sq_error / sum[0].queries,
                               sum[0].mse / sum[0].queries,
                               sum[0].dssim / sum[0].queries,
                               sum[1].mse / sum[1].queries,
                               sum[1].dssim / sum[1].queries};
    int64_t stride = s->npoints * s->trials;
    for (int i = 0; i < NTRIAL; ++i) s->trial[i * stride + p * s->trials + t] = tv[i];
    s->group_seconds[p] += uhn_wtime() - t0;
    return UHN_OK;
}

/* Point p after its last trial: the point stages and its statistics. Its
 * time is that of its trials (with the banks built during them) and of these. */
static int point_finish(study *s, int64_t p) {
    uhn_ctx *ctx = s->ctx;
    const uhn_deck *d = s->d;
    double t0 = uhn_wtime();
    int idx[UHN_KEY_COUNT];
    uhn_deck_point(d, p, idx);
    use_encoder(s, idx[UHN_KEY_ENCODER_NAME]);
    int64_t n = uhn_deck_int(d, UHN_KEY_MEMORY_N, idx[UHN_KEY_MEMORY_N]);
    double level = uhn_deck_double(d, UHN_KEY_QUERY_LEVEL, idx[UHN_KEY_QUERY_LEVEL]);
    for (int i = 0; i < NSTAGES; ++i) {
        double ts = uhn_wtime();
        if (stages[i].point) UHN_CALL(stages[i].point(s, p, n, level));
        s->stage_seconds[i] += uhn_wtime() - ts;
    }
    uhn_point_stats ps, rs;
    uhn_point_acc_finish(&s->group_acc[2 * p], &ps);
    uhn_point_acc_finish(&s->group_acc[2 * p + 1], &rs);
    put_stat(s, ST_FRAC, p, ps.frac_correct);
    put_stat(s, ST_SQ, p, ps.sq_error);
    put_stat(s, ST_MSE, p, ps.mse);
    put_stat(s, ST_DSSIM, p, ps.dssim);
    put_stat(s, ST_MSE_REC, p, rs.mse);
    put_stat(s, ST_DSSIM_REC, p, rs.dssim);
    for (int o = 0; o < UHN_OUTCOME_COUNT; ++o) {
        s->outcomes[o * s->npoints + p] = ps.count[o];
        s->code_outcomes[o * s->npoints + p] = rs.count[o];
    }
    s->queries[p] = ps.queries;
    for (int k = 0; s->text && k < 2; ++k) { /* shared (0), unique (1) */
        const double *pt = s->tacc_point + (p * 2 + k) * TACC;
        for (int o = 0; o < 2 * UHN_OUTCOME_COUNT; ++o) /* §7, then code space */
            s->tcount[(k * 2 * UHN_OUTCOME_COUNT + o) * s->npoints + p] = (int64_t)pt[o];
        double nq = pt[TA_N];
        s->tmse[k * s->npoints + p] = nq > 0 ? pt[TA_MSE] / nq : NAN;
        if (k == 0) s->tqueries[p] = (int64_t)nq;
    }
    double dt = s->group_seconds[p] + uhn_wtime() - t0, dtmax;
    UHN_MPI(ctx, MPI_Allreduce(&dt, &dtmax, 1, MPI_DOUBLE, MPI_MAX, ctx->comm));
    s->seconds[p] = dtmax;
    return UHN_OK;
}

/* ------------------------------------------------------------------------ */
/* Reporting                                                                */

/* "n=100 similarity=dot level=0.5": the axes with more than one value (n always). */
void study_point_label(const study *s, int64_t p, char *buf, size_t len) {
    int idx[UHN_KEY_COUNT];
    uhn_deck_point(s->d, p, idx);
    size_t at = 0;
    buf[0] = '\0';
    for (int a = 0; a < STUDY_NAXES && at < len; ++a) {
        uhn_deck_key_id k = uhn_deck_axis(a);
        if (a > 0 && s->dims[a] == 1) continue;
        at += (size_t)snprintf(buf + at, len - at, "%s%s=%s", at ? " " : "", uhn_deck_axis_name(k),
                               uhn_deck_str(s->d, k, idx[k]));
    }
}

/* Work of a point, for the ETA: memories x queries x trials. */
static double point_work(const study *s, int64_t p) {
    int idx[UHN_KEY_COUNT];
    uhn_deck_point(s->d, p, idx);
    int64_t n = uhn_deck_int(s->d, UHN_KEY_MEMORY_N, idx[UHN_KEY_MEMORY_N]);
    return (double)n * (double)queries_for(s, n) * (double)s->trials;
}

static void fmt_hms(double sec, char buf[32]) {
    long v = sec > 0 && sec < 1e9 ? (long)(sec + 0.5) : 0;
    snprintf(buf, 32, "%ld:%02ld:%02ld", v / 3600, v / 60 % 60, v % 60);
}

/* A table cell: round-off below the printed precision shows as 0, not -0. */
static double cell(double v) {
    return fabs(v) < 5e-5 ? 0.0 : v;
}

static void print_table(const study *s) {
    /* The code-space outcomes of spec §10 join the table when an encoder is swept. */
    int codes = study_has_codes(s);
    printf("\n| point | axes | correct (mean ± sd over %" PRId64
           " trials) | MSE | 1 - SSIM | wrong | metastable |%s\n|---|---|---|---|---|---|---|%s\n",
           s->trials, codes ? " MSE vs dec(c_m) | code: correct | wrong | metastable |" : "",
           codes ? "---|---|---|---|" : "");
    for (int64_t p = 0; p < s->npoints; ++p) {
        if (!s->mine[p]) continue;
        char label[512];
        study_point_label(s, p, label, sizeof label);
        double qn = s->queries[p] > 0 ? (double)s->queries[p] : 1.0;
        int64_t P = s->npoints;
        printf("| %" PRId64 " | %s | %.3f ± %.3f | %.4f | %.4f | %.3f | %.3f |", p, label,
               s->stat[ST_FRAC * P + p], s->stat[ST_FRAC_SD * P + p], cell(s->stat[ST_MSE * P + p]),
               cell(s->stat[ST_DSSIM * P + p]), (double)s->outcomes[UHN_OUTCOME_WRONG * P + p] / qn,
               (double)s->outcomes[UHN_OUTCOME_METASTABLE * P + p] / qn);
        if (codes)
            printf(" %.4f | %.3f | %.3f | %.3f |", cell(s->stat[ST_MSE_REC * P + p]),
                   (double)s->code_outcomes[UHN_OUTCOME_CORRECT * P + p] / qn,
                   (double)s->code_outcomes[UHN_OUTCOME_WRONG * P + p] / qn,
                   (double)s->code_outcomes[UHN_OUTCOME_METASTABLE * P + p] / qn);
        printf("\n");
    }
    fflush(stdout);
}

/* ------------------------------------------------------------------------ */
/* The run                                                                  */

static void study_free(study *s) {
    uhn_result_destroy(s->res);
    uhn_bank_destroy(s->bank);
    uhn_dataset_close(s->ds);
    uhn_free(s->subset), free(s->images), free(s->qbuf), free(s->known), free(s->ssim_work);
    free(s->qcode), free(s->tcode), free(s->recon), free(s->decoded);
    free(s->tacc_point), free(s->tdec_codes);
    study_text_free(s);
    free(s->group_acc), free(s->group_seconds), free(s->mine);
    uhn_free(s->rows);
    for (int i = 0; s->enc && i < s->nenc; ++i) uhn_encoder_destroy(s->enc[i]);
    free(s->enc);
    study_io_free(s);
}

/* A finished point: marked done, checkpointed, and its progress line. */
static int point_done(study *s, int64_t p, int64_t *ndone, double *work_done, double work_total,
                      double t_start) {
    s->done[p] = 1;
    ++*ndone;
    UHN_CALL(study_io_checkpoint(s, 0));
    if (s->pause > 0) { /* UHN_STUDY_POINT_PAUSE (tests): a window for a signal to arrive */
        struct timespec ts = {(time_t)s->pause, (long)((s->pause - floor(s->pause)) * 1e9)};
        nanosleep(&ts, NULL);
    }
    *work_done += point_work(s, p);
    if (s->ctx->rank == 0 && !s->quiet) {
        char label[512], eta[32];
        study_point_label(s, p, label, sizeof label);
        double el = uhn_wtime() - t_start;
        fmt_hms(*work_done > 0 ? el * (work_total - *work_done) / *work_done : 0, eta);
        printf("[%*" PRId64 "/%" PRId64 "] %s: correct %.3f ± %.3f, 1-SSIM %.3f (%.2f s; ETA "
               "%s)\n",
               (int)log10((double)s->share) + 1, *ndone, s->share, label,
               s->stat[ST_FRAC * s->npoints + p], s->stat[ST_FRAC_SD * s->npoints + p],
               cell(s->stat[ST_DSSIM * s->npoints + p]), s->seconds[p], eta);
        fflush(stdout);
    }
    return UHN_OK;
}

/* The signal any rank has caught (0: none). Collective. */
static int caught_signal(study *s, int *any) {
    int sig = (int)stop_signal;
    UHN_MPI(s->ctx, MPI_Allreduce(&sig, any, 1, MPI_INT, MPI_MAX, s->ctx->comm));
    return UHN_OK;
}

/*
 * The points, in order, in groups: the points not done yet that follow one
 * another and share n (and so, trial by trial, the subset and the stored
 * images; the encoder axis comes next, so its points share the encoded bank
 * too). A group runs trial by trial, every point of it in order within a
 * trial, so that the bank of (n, trial, encoder) is built once for all of
 * them; each point adds its trials in order, so its numbers are those it has
 * on its own. The points finish one by one in the last trial, each
 * checkpointed at once. --max-points bounds a group. A signal stops the run
 * after the point that finishes next: in the last trial, the one just done;
 * earlier, the group shrinks to its first point, which runs its remaining
 * trials alone.
 */
static int sweep(study *s) {
    uhn_ctx *ctx = s->ctx;
    double work_total = 0, work_done = 0, t_start = uhn_wtime();
    int64_t ndone = 0, nnew = 0;
    for (int64_t p = 0; p < s->npoints; ++p)
        if (s->done[p])
            ++ndone;
        else if (s->mine[p])
            work_total += point_work(s, p);
    if (ctx->rank == 0 && !s->quiet && !s->loaded_complete) {
        printf("uhn run: %s: %" PRId64 " points x %" PRId64 " trials on %d ranks x %d threads, "
               "data %s (%" PRId64 " images of %" PRId64 " x %" PRId64 " x %" PRId64 ")\n",
               uhn_deck_name(s->d), s->npoints, s->trials, ctx->size, ctx->nthreads,
               uhn_dataset_spec(s->ds), uhn_dataset_n(s->ds), s->H, s->W, s->C);
        if (s->o->part_count > 0)
            printf("uhn run: part %" PRId64 " of %" PRId64 " (parts 0 to %" PRId64 "): %" PRId64
                   " of the %" PRId64 " points, into %s\n",
                   s->o->part_index, s->o->part_count, s->o->part_count - 1, s->share, s->npoints,
                   s->out);
        if (ndone)
            printf("uhn run: resuming from %s: %" PRId64 " of %" PRId64 " points done\n",
                   s->partial, ndone, s->share);
        fflush(stdout);
    }
    for (int64_t g0 = 0, g1; g0 < s->npoints; g0 = g1) {
        g1 = g0 + 1;
        if (s->done[g0] || !s->mine[g0]) continue;
        if (s->o->max_points > 0 && nnew == s->o->max_points)
            return uhn_fail(ctx, UHN_ESIGNAL,
                            "stopped after %" PRId64 " new points (--max-points); %" PRId64
                            " of %" PRId64 " are done in '%s'; run again to resume",
                            nnew, ndone, s->share, s->partial);
        int64_t n = point_n(s, g0);
        while (g1 < s->npoints && !s->done[g1] && s->mine[g1] && point_n(s, g1) == n &&
               (s->o->max_points <= 0 || nnew + (g1 - g0) < s->o->max_points))
            ++g1;
        for (int64_t t = 0; t < s->trials; ++t)
            for (int64_t p = g0; p < g1; ++p) {
                UHN_CALL(point_trial(s, p, t));
                if (t == s->trials - 1) {
                    UHN_CALL(point_finish(s, p));
                    ++nnew;
                    UHN_CALL(point_done(s, p, &ndone, &work_done, work_total, t_start));
                }
                int any;
                UHN_CALL(caught_signal(s, &any));
                if (!any || ndone == s->share) continue;
                if (t == s->trials - 1)
                    return uhn_fail(ctx, UHN_ESIGNAL,
                                    "stopped by %s after point %" PRId64 "; %" PRId64 " of %" PRId64
                                    " are done in '%s'; run again to resume",
                                    any == SIGTERM ? "SIGTERM" : "SIGUSR1", p, ndone, s->share,
                                    s->partial);
                g1 = g0 + 1; /* finish the group's first point, then stop */
            }
    }
    return UHN_OK;
}

/* The seconds each stage took over this run's points, min/mean/max over the
 * ranks, and the throughput in memories x queries per second of the whole
 * sweep and of the recall stage alone. Collective; rank 0 prints. */
static int print_timers(study *s, double sweep_seconds) {
    uhn_ctx *ctx = s->ctx;
    double mn[NSTAGES], mx[NSTAGES], sum[NSTAGES], wall;
    UHN_MPI(ctx, MPI_Allreduce(s->stage_seconds, mn, NSTAGES, MPI_DOUBLE, MPI_MIN, ctx->comm));
    UHN_MPI(ctx, MPI_Allreduce(s->stage_seconds, mx, NSTAGES, MPI_DOUBLE, MPI_MAX, ctx->comm));
    UHN_MPI(ctx, MPI_Allreduce(s->stage_seconds, sum, NSTAGES, MPI_DOUBLE, MPI_SUM, ctx->comm));
    UHN_MPI(ctx, MPI_Allreduce(&sweep_seconds, &wall, 1, MPI_DOUBLE, MPI_MAX, ctx->comm));
    if (ctx->rank != 0 || s->quiet || s->work == 0) return UHN_OK;
    int recall = 0;
    printf("\nuhn run: seconds per stage, min/mean/max over %d ranks:", ctx->size);
    for (int i = 0; i < NSTAGES; ++i) {
        if (!strcmp(stages[i].name, "recall")) recall = i;
        if (mx[i] >= 0.005)
            printf(" %s %.2f/%.2f/%.2f", stages[i].name, mn[i], sum[i] / ctx->size, mx[i]);
    }
    printf("\nuhn run: %.3g memories x queries in %.2f s: %.3g per second (the recall stage: %.3g "
           "per second)\n",
           s->work, wall, s->work / wall, mx[recall] > 0 ? s->work / mx[recall] : 0.0);
    fflush(stdout);
    return UHN_OK;
}

/* The points of this run (--part I/K: share I of uhn_study_shares, by the
 * work of each point; else all of them). */
static int study_share(study *s) {
    int64_t P = s->npoints, K = s->o->part_count;
    s->mine = malloc((size_t)P);
    double *work = K > 0 ? malloc((size_t)P * sizeof *work) : NULL;
    int64_t *part = K > 0 ? malloc((size_t)P * sizeof *part) : NULL;
    int ok = s->mine && (K == 0 || (work && part));
    if (ok && K > 0) {
        for (int64_t p = 0; p < P; ++p) work[p] = point_work(s, p);
        uhn_study_shares(P, work, K, part);
    }
    s->share = 0;
    for (int64_t p = 0; ok && p < P; ++p) {
        s->mine[p] = K == 0 || part[p] == s->o->part_index;
        s->share += s->mine[p];
    }
    free(work), free(part);
    return uhn_agree(s->ctx, ok ? UHN_OK : uhn_fail(s->ctx, UHN_ENOMEM, "out of memory"));
}

int uhn_study_run(uhn_ctx *ctx, const uhn_deck *d, const uhn_study_opts *o) {
    study s;
    memset(&s, 0, sizeof s);
    s.ctx = ctx;
    s.d = d;
    s.o = o;
    s.start = time(NULL);
    int st = study_setup(&s);
    if (st == UHN_OK) st = study_share(&s);
    if (st == UHN_OK) st = study_io_init(&s);
    double t0 = uhn_wtime();
    if (st == UHN_OK) st = sweep(&s);
    if (st == UHN_OK) st = print_timers(&s, uhn_wtime() - t0);
    if (st == UHN_OK) st = study_io_checkpoint(&s, 1);
    if (st == UHN_OK && ctx->rank == 0 && !s.quiet) {
        print_table(&s);
        printf("\nuhn run: results in %s\n", s.out);
    }
    study_free(&s);
    return st;
}
