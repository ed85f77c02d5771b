/*
 * The sweep of `uhn run`: every point of the deck, every trial, every query.
 *
 * Per point and trial: draw the stored subset (uhn_subset), fill this rank's
 * rows of the bank from the data set, corrupt the first `count` stored images
 * in chunks, recall them, and score each retrieval. Every rank holds the
 * replicated outputs; the queries are scored round-robin over the ranks and the
 * trial sums are merged with one MPI_Allreduce, so every rank ends a point with
 * the same numbers. Points are checkpointed by study_io.c.
 */
#define _POSIX_C_SOURCE 200809L /* sigaction */
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "experiments/study_impl.h"

#define QUERY_CHUNK 1024 /* queries recalled per uhn_recall call */

/* ------------------------------------------------------------------------ */
/* Subsets                                                                  */

/* A uniform integer in [0, m) from 64 random bits (Lemire's multiply; the
 * bias is below m / 2^64). */
static int64_t below(uint64_t bits, int64_t m) {
    return (int64_t)(((unsigned __int128)bits * (uint64_t)m) >> 64);
}

/* Open-addressing set of non-negative integers. */
typedef struct iset {
    int64_t *slot;
    uint64_t mask;
} iset;

static int iset_insert(iset *h, int64_t v) { /* 1 when v was new */
    uint64_t i = ((uint64_t)v * 0x9e3779b97f4a7c15ull) & h->mask;
    while (h->slot[i] >= 0) {
        if (h->slot[i] == v) return 0;
        i = (i + 1) & h->mask;
    }
    h->slot[i] = v;
    return 1;
}

int uhn_subset(uint64_t seed, int64_t trial, int64_t population, int64_t n, int64_t *out) {
    if (n < 1 || n > population || n >= ((int64_t)1 << 32) || trial < 0 ||
        trial >= ((int64_t)1 << 31) || !out)
        return -1;
    uint64_t index = ((uint64_t)trial << 32) | (uint64_t)n;
    uint64_t cap = 1;
    while (cap < 2 * (uint64_t)n) cap <<= 1;
    iset h = {malloc(cap * sizeof(int64_t)), cap - 1};
    if (!h.slot) return -1;
    memset(h.slot, 0xff, cap * sizeof(int64_t));
    /* Floyd: for j = population - n .. population - 1, take r in [0, j]; if r
     * is taken already, take j (which cannot be). */
    for (int64_t i = 0; i < n; ++i) {
        int64_t j = population - n + i;
        int64_t r = below(uhn_rng_u64(seed, UHN_STREAM_SUBSET, index, (uint32_t)i), j + 1);
        out[i] = iset_insert(&h, r) ? r : (iset_insert(&h, j), j);
    }
    free(h.slot);
    /* Fisher-Yates: a uniformly random order. */
    for (int64_t i = n - 1; i > 0; --i) {
        int64_t k = below(uhn_rng_u64(seed, UHN_STREAM_SHUFFLE, index, (uint32_t)i), i + 1);
        int64_t t = out[i];
        out[i] = out[k];
        out[k] = t;
    }
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
/* Set-up                                                                   */

/* Queries per trial with n memories: the first min(count, n) stored images. */
static int64_t queries_for(const study *s, int64_t n) {
    return s->count > 0 && s->count < n ? s->count : n;
}

int64_t study_point_queries(const study *s, int64_t p) {
    int idx[UHN_KEY_COUNT];
    uhn_deck_point(s->d, p, idx);
    return queries_for(s, uhn_deck_int(s->d, UHN_KEY_MEMORY_N, idx[UHN_KEY_MEMORY_N]));
}

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

/* Shapes, corruption checks and work space. Collective (agreed). */
static int study_setup(study *s) {
    uhn_ctx *ctx = s->ctx;
    const uhn_deck *d = s->d;
    s->bank_n = s->bank_trial = -1;
    s->seed = uhn_deck_u64(d, UHN_KEY_EXPERIMENT_SEED, 0);
    s->trials = uhn_deck_int(d, UHN_KEY_EXPERIMENT_TRIALS, 0);
    s->count = uhn_deck_int(d, UHN_KEY_QUERY_COUNT, 0);
    s->save = uhn_deck_int(d, UHN_KEY_OUTPUT_SAVE_IMAGES, 0);
    s->ntraj = uhn_deck_count(d, UHN_KEY_OUTPUT_TRAJECTORY); /* a list, not an axis */
    s->traj_steps = malloc((size_t)(s->ntraj + 1) * sizeof(int64_t));
    if (!s->traj_steps) return uhn_fail(ctx, UHN_ENOMEM, "out of memory");
    for (int64_t i = 0; i < s->ntraj; ++i)
        s->traj_steps[i] = uhn_deck_int(d, UHN_KEY_OUTPUT_TRAJECTORY, (int)i);
    s->quiet = s->o->quiet || uhn_deck_bool(d, UHN_KEY_OUTPUT_QUIET, 0);
    snprintf(s->out, sizeof s->out, "%s", uhn_deck_str(d, UHN_KEY_OUTPUT_FILE, 0));
    snprintf(s->partial, sizeof s->partial, "%s.partial", s->out);
    s->npoints = uhn_deck_npoints(d);
    if (uhn_deck_naxes() != STUDY_NAXES) /* the key table declares the axes; this is a size */
        return uhn_fail(ctx, UHN_EINTERNAL, "the deck has %d axes; study arrays hold %d",
                        uhn_deck_naxes(), STUDY_NAXES);
    for (int a = 0; a < STUDY_NAXES; ++a) s->dims[a] = uhn_deck_count(d, uhn_deck_axis(a));

    /* memory.n, trials and save_images are bounded by the deck's key table */
    int64_t nmax = 0;
    for (int j = 0; j < uhn_deck_count(d, UHN_KEY_MEMORY_N); ++j)
        if (uhn_deck_int(d, UHN_KEY_MEMORY_N, j) > nmax)
            nmax = uhn_deck_int(d, UHN_KEY_MEMORY_N, j);
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

    const char *cname = uhn_deck_str(d, UHN_KEY_QUERY_CORRUPTION, 0);
    s->corr = uhn_corruption_find(cname);
    if (!s->corr) return uhn_fail(ctx, UHN_EINTERNAL, "corruption '%s' not in the table", cname);
    s->masking = strcmp(cname, "none") && strcmp(cname, "gaussian");
    for (int j = 0; j < uhn_deck_count(d, UHN_KEY_QUERY_LEVEL); ++j) {
        double level = uhn_deck_double(d, UHN_KEY_QUERY_LEVEL, j);
        const char *why = uhn_corruption_param_check(s->corr, level, s->Hk, s->W);
        if (why)
            return uhn_fail(ctx, UHN_EINPUT,
                            "%s: [query] level: %g is not valid for %s on %" PRId64 " x %" PRId64
                            " queries: it must be %s",
                            uhn_deck_name(d), level, cname, s->Hk, s->W, why);
    }
    s->threshold = uhn_threshold(
        uhn_deck_double(d, UHN_KEY_EXPERIMENT_THRESHOLD, 0),
        !strcmp(uhn_deck_str(d, UHN_KEY_EXPERIMENT_THRESHOLD_SCALE, 0), "pixels"), s->Ko);
    UHN_CALL(uhn_h5_check_output(ctx, s->out, uhn_deck_where(d, UHN_KEY_OUTPUT_FILE)));
    UHN_CALL(check_not_input(s));

    int64_t qmax = queries_for(s, nmax);
    int64_t qb = qmax < QUERY_CHUNK ? qmax : QUERY_CHUNK;
    int64_t row0, nloc_max;
    uhn_bank_partition(nmax, ctx->size, 0, &row0, &nloc_max);
    int ok = 1;
    s->subset = malloc((size_t)nmax * sizeof(int64_t));
    s->images = malloc((size_t)(qb * s->K) * sizeof(float));
    s->qbuf = malloc((size_t)(qb * s->Kk) * sizeof(float));
    s->known = malloc((size_t)(qb * s->Kk));
    ok = s->subset && s->images && s->qbuf && s->known;
    if (s->hetero) {
        s->rows = uhn_alloc((size_t)(nloc_max * s->K) * sizeof(float));
        ok = ok && s->rows;
    }
    if (!uhn_ssim_check(s->Ho, s->W)) {
        s->ssim_work = malloc((size_t)uhn_ssim_work_size(s->Ho, s->W) * sizeof(double));
        ok = ok && s->ssim_work;
    }
    int st = ok ? UHN_OK : uhn_fail(ctx, UHN_ENOMEM, "out of memory for the study's work space");
    UHN_CALL(uhn_agree(ctx, st));
    if (ctx->rank == 0 && !s->quiet && !s->ssim_work)
        printf("uhn run: 1 - SSIM is not computed: %s (images are %" PRId64 " x %" PRId64 ")\n",
               uhn_ssim_check(s->Ho, s->W), s->Ho, s->W);
    return UHN_OK;
}

/* Makes the bank hold trial `t`'s subset of n images. Collective (agreed). */
static int load_bank(study *s, int64_t n, int64_t t) {
    uhn_ctx *ctx = s->ctx;
    if (s->bank_n == n && s->bank_trial == t) return UHN_OK;
    if (s->bank_n != n) {
        uhn_bank_destroy(s->bank);
        s->bank = NULL;
        s->bank_n = s->bank_trial = -1;
        int st = uhn_bank_create(ctx, n, s->Kk, s->hetero, s->Ko, &s->bank);
        UHN_CALL(uhn_agree(ctx, st));
    }
    int st = uhn_subset(s->seed, t, uhn_dataset_n(s->ds), n, s->subset) == 0
                 ? UHN_OK
                 : uhn_fail(ctx, UHN_ENOMEM, "out of memory drawing %" PRId64 " memories", n);
    uhn_bank *b = s->bank;
    if (st == UHN_OK && !s->hetero)
        st = uhn_dataset_rows(s->ds, s->subset + b->row0, b->n_local, b->keys);
    if (st == UHN_OK && s->hetero) {
        st = uhn_dataset_rows(s->ds, s->subset + b->row0, b->n_local, s->rows);
        for (int64_t i = 0; st == UHN_OK && i < b->n_local; ++i) {
            memcpy(b->keys + i * s->Kk, s->rows + i * s->K, (size_t)s->Kk * sizeof(float));
            memcpy(b->values + i * s->Ko, s->rows + i * s->K + s->Kk,
                   (size_t)s->Ko * sizeof(float));
        }
    }
    UHN_CALL(uhn_agree(ctx, st));
    char name[UHN_H5_PATH_MAX + 64];
    snprintf(name, sizeof name, "%s%s", uhn_dataset_spec(s->ds), s->hetero ? " (top halves)" : "");
    UHN_CALL(uhn_bank_commit(b, name, uhn_dataset_spec(s->ds)));
    s->bank_n = n;
    s->bank_trial = t;
    return UHN_OK;
}

/* ------------------------------------------------------------------------ */
/* One point                                                                */

/* Saves query j (< save) of trial 0 at point p; traj: its states at the steps
 * of output.trajectory ([ntraj][Kk]), or NULL. Rank 0. */
static void save_query(study *s, int64_t p, int64_t j, const float *query, const float *truth,
                       const float *z, const uhn_query_metrics *m, int64_t recalled, float weight,
                       const float *traj) {
    int64_t at = p * s->save + j;
    if (traj)
        memcpy(s->img_traj + at * s->ntraj * s->Kk, traj,
               (size_t)(s->ntraj * s->Kk) * sizeof(float));
    memcpy(s->img_retrieved + at * s->Ko, z, (size_t)s->Ko * sizeof(float));
    memcpy(s->img_query + at * s->Kk, query, (size_t)s->Kk * sizeof(float));
    memcpy(s->img_truth + at * s->Ko, truth, (size_t)s->Ko * sizeof(float));
    s->img_index[at] = s->subset[j];
    s->img_recalled[at] = recalled >= 0 ? s->subset[recalled] : -1;
    s->img_weight[at] = weight;
    s->img_sq[at] = m->sq_error;
    s->img_dssim[at] = m->dssim;
    s->img_outcome[at] = (int32_t)m->outcome;
}

static void score_query(study *s, const float *z, const float *y, int64_t index, float weight,
                        int64_t true_index, uhn_query_metrics *m) {
    m->sq_error = uhn_sq_error(z, y, s->Ko);
    m->mse = m->sq_error / (double)s->Ko;
    m->dssim = s->ssim_work ? 1.0 - uhn_ssim(z, y, s->Ho, s->W, s->C, s->ssim_work) : NAN;
    m->outcome = uhn_outcome_classify(m->sq_error, s->threshold, weight, index, true_index);
}

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

/* Recalls and scores trial t of point p into acc (this rank's queries). */
static int run_trial(study *s, int64_t p, const uhn_params *prm, int64_t n, double level, int64_t t,
                     uhn_trial_acc *acc) {
    uhn_ctx *ctx = s->ctx;
    UHN_CALL(load_bank(s, n, t));
    UHN_CALL(deck_labelled(s, uhn_params_check(ctx, prm, s->bank)));
    int64_t q = queries_for(s, n);
    int use_mask = prm->cue_only || prm->hold;
    for (int64_t c0 = 0; c0 < q; c0 += QUERY_CHUNK) {
        int64_t nb = q - c0 < QUERY_CHUNK ? q - c0 : QUERY_CHUNK;
        int st = uhn_dataset_rows(s->ds, s->subset + c0, nb, s->images);
        UHN_CALL(uhn_agree(ctx, st));
        for (int64_t j = 0; j < nb; ++j)
            uhn_corrupt(s->corr, level, s->seed, t, c0 + j, s->Hk, s->W, s->C, s->images + j * s->K,
                        s->qbuf + j * s->Kk, s->known + j * s->Kk);
        UHN_CALL(deck_labelled(
            s, uhn_queries_check(ctx, prm, s->qbuf, nb, s->Kk, "the corrupted queries")));
        if (!s->res || s->res->B != nb || s->res->T != prm->steps) {
            uhn_result_destroy(s->res);
            s->res = NULL;
            st = uhn_result_create(ctx, nb, s->Ko, prm->steps, 0, &s->res);
            if (st == UHN_OK && s->ntraj > 0) /* output.trajectory (checked by the deck) */
                st = uhn_result_want_trajectory(ctx, s->res, s->Kk, s->ntraj, s->traj_steps);
            UHN_CALL(uhn_agree(ctx, st));
        }
        UHN_CALL(deck_labelled(s, uhn_recall(s->bank, prm, s->qbuf, nb, use_mask ? s->known : NULL,
                                             use_mask ? nb : 0, s->res)));
        for (int64_t j = 0; j < nb; ++j) {
            int64_t g = c0 + j;
            int mine = g % ctx->size == ctx->rank, saved = t == 0 && g < s->save && ctx->rank == 0;
            if (!mine && !saved) continue;
            const float *z = s->res->output + j * s->Ko;
            const float *y = s->images + j * s->K + (s->hetero ? s->Kk : 0);
            uhn_query_metrics m;
            score_query(s, z, y, s->res->index[j], s->res->weight[j], g, &m);
            if (mine) uhn_trial_acc_add(acc, &m);
            if (saved)
                save_query(s, p, g, s->qbuf + j * s->Kk, y, z, &m, s->res->index[j],
                           s->res->weight[j],
                           s->ntraj > 0 ? s->res->trajectory + j * s->ntraj * s->Kk : NULL);
        }
    }
    return UHN_OK;
}

static int run_point(study *s, int64_t p) {
    uhn_ctx *ctx = s->ctx;
    const uhn_deck *d = s->d;
    double t0 = uhn_wtime();
    int idx[UHN_KEY_COUNT];
    uhn_deck_point(d, p, idx);
    uhn_params prm;
    uhn_deck_params(d, idx, &prm);
    prm.energy = 0;
    prm.hold = prm.hold && s->masking;
    int64_t n = uhn_deck_int(d, UHN_KEY_MEMORY_N, idx[UHN_KEY_MEMORY_N]);
    double level = uhn_deck_double(d, UHN_KEY_QUERY_LEVEL, idx[UHN_KEY_QUERY_LEVEL]);
    uhn_point_acc pacc;
    uhn_point_acc_init(&pacc);
    for (int64_t t = 0; t < s->trials; ++t) {
        uhn_trial_acc acc, sum;
        uhn_trial_acc_init(&acc);
        UHN_CALL(run_trial(s, p, &prm, n, level, t, &acc));
        UHN_MPI(ctx, MPI_Allreduce(&acc, &sum, UHN_TRIAL_ACC_N, MPI_DOUBLE, MPI_SUM, ctx->comm));
        uhn_point_acc_add_trial(&pacc, &sum);
        double *tr = s->trial + p * s->trials + t;
        int64_t stride = s->npoints * s->trials;
        tr[TR_FRAC * stride] = sum.count[UHN_OUTCOME_CORRECT] / sum.queries;
        tr[TR_SQ * stride] = sum.sq_error / sum.queries;
        tr[TR_MSE * stride] = sum.mse / sum.queries;
        tr[TR_DSSIM * stride] = sum.dssim / sum.queries;
    }
    uhn_point_stats ps;
    uhn_point_acc_finish(&pacc, &ps);
    const uhn_stat stats[] = {ps.frac_correct, ps.sq_error, ps.mse, ps.dssim};
    for (int i = 0; i < 4; ++i) {
        s->stat[(2 * i) * s->npoints + p] = stats[i].mean;
        s->stat[(2 * i + 1) * s->npoints + p] = stats[i].std;
    }
    for (int o = 0; o < UHN_OUTCOME_COUNT; ++o) s->outcomes[o * s->npoints + p] = ps.count[o];
    s->queries[p] = ps.queries;
    double dt = uhn_wtime() - t0, dtmax;
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
        uhn_deck_entry e;
        uhn_deck_entry_at(s->d, (int)k, &e);
        at += (size_t)snprintf(buf + at, len - at, "%s%s=%s", at ? " " : "", e.key,
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
    printf("\n| point | axes | correct (mean ± sd over %" PRId64
           " trials) | MSE | 1 - SSIM | wrong "
           "| metastable |\n|---|---|---|---|---|---|---|\n",
           s->trials);
    for (int64_t p = 0; p < s->npoints; ++p) {
        char label[512];
        study_point_label(s, p, label, sizeof label);
        double qn = s->queries[p] > 0 ? (double)s->queries[p] : 1.0;
        printf("| %" PRId64 " | %s | %.3f ± %.3f | %.4f | %.4f | %.3f | %.3f |\n", p, label,
               s->stat[ST_FRAC * s->npoints + p], s->stat[ST_FRAC_SD * s->npoints + p],
               cell(s->stat[ST_MSE * s->npoints + p]), cell(s->stat[ST_DSSIM * s->npoints + p]),
               (double)s->outcomes[UHN_OUTCOME_WRONG * s->npoints + p] / qn,
               (double)s->outcomes[UHN_OUTCOME_METASTABLE * s->npoints + p] / qn);
    }
    fflush(stdout);
}

/* ------------------------------------------------------------------------ */
/* The run                                                                  */

static void study_free(study *s) {
    uhn_result_destroy(s->res);
    uhn_bank_destroy(s->bank);
    uhn_dataset_close(s->ds);
    free(s->subset), free(s->images), free(s->qbuf), free(s->known), free(s->ssim_work);
    uhn_free(s->rows);
    study_io_free(s);
}

static int sweep(study *s) {
    uhn_ctx *ctx = s->ctx;
    double work_total = 0, work_done = 0, t_start = uhn_wtime();
    int64_t ndone = 0, nnew = 0;
    for (int64_t p = 0; p < s->npoints; ++p)
        if (s->done[p])
            ++ndone;
        else
            work_total += point_work(s, p);
    if (ctx->rank == 0 && !s->quiet && !s->loaded_complete) {
        printf("uhn run: %s: %" PRId64 " points x %" PRId64 " trials on %d ranks x %d threads, "
               "data %s (%" PRId64 " images of %" PRId64 " x %" PRId64 " x %" PRId64 ")\n",
               uhn_deck_name(s->d), s->npoints, s->trials, ctx->size, ctx->nthreads,
               uhn_dataset_spec(s->ds), uhn_dataset_n(s->ds), s->H, s->W, s->C);
        if (ndone)
            printf("uhn run: resuming from %s: %" PRId64 " of %" PRId64 " points done\n",
                   s->partial, ndone, s->npoints);
        fflush(stdout);
    }
    for (int64_t p = 0; p < s->npoints; ++p) {
        if (s->done[p]) continue;
        if (s->o->max_points > 0 && nnew == s->o->max_points)
            return uhn_fail(ctx, UHN_ESIGNAL,
                            "stopped after %" PRId64 " new points (--max-points); %" PRId64
                            " of %" PRId64 " are done in '%s'; run again to resume",
                            nnew, ndone, s->npoints, s->partial);
        UHN_CALL(run_point(s, p));
        s->done[p] = 1;
        ++ndone, ++nnew;
        UHN_CALL(study_io_checkpoint(s, 0));
        work_done += point_work(s, p);
        if (ctx->rank == 0 && !s->quiet) {
            char label[512], eta[32];
            study_point_label(s, p, label, sizeof label);
            double el = uhn_wtime() - t_start;
            fmt_hms(work_done > 0 ? el * (work_total - work_done) / work_done : 0, eta);
            printf("[%*" PRId64 "/%" PRId64 "] %s: correct %.3f ± %.3f, 1-SSIM %.3f (%.2f s; ETA "
                   "%s)\n",
                   (int)log10((double)s->npoints) + 1, ndone, s->npoints, label,
                   s->stat[ST_FRAC * s->npoints + p], s->stat[ST_FRAC_SD * s->npoints + p],
                   cell(s->stat[ST_DSSIM * s->npoints + p]), s->seconds[p], eta);
            fflush(stdout);
        }
        int sig = (int)stop_signal, any;
        UHN_MPI(ctx, MPI_Allreduce(&sig, &any, 1, MPI_INT, MPI_MAX, ctx->comm));
        if (any && ndone < s->npoints)
            return uhn_fail(ctx, UHN_ESIGNAL,
                            "stopped by %s after point %" PRId64 "; %" PRId64 " of %" PRId64
                            " are done in '%s'; run again to resume",
                            any == SIGTERM ? "SIGTERM" : "SIGUSR1", p, ndone, s->npoints,
                            s->partial);
    }
    return UHN_OK;
}

int uhn_study_run(uhn_ctx *ctx, const uhn_deck *d, const uhn_study_opts *o) {
    study s;
    memset(&s, 0, sizeof s);
    s.ctx = ctx;
    s.d = d;
    s.o = o;
    s.start = time(NULL);
    int st = study_setup(&s);
    if (st == UHN_OK) st = study_io_init(&s);
    if (st == UHN_OK) st = sweep(&s);
    if (st == UHN_OK) st = study_io_checkpoint(&s, 1);
    if (st == UHN_OK && ctx->rank == 0 && !s.quiet) {
        print_table(&s);
        printf("\nuhn run: results in %s\n", s.out);
    }
    study_free(&s);
    return st;
}
