/*
 * `uhn recall` (spec §8): the engine on any matrices a user has in HDF5.
 *
 * Prolog, run, epilog: parse the options (identically on every rank), check
 * the output directory and the shapes of the inputs before any heavy work, read
 * each rank's own rows of the bank with collective MPI-IO, replicate the
 * queries and the clamp mask, recall, and let rank 0 write the results
 * atomically. Every step's status is agreed over the communicator, so every
 * rank returns the same status and no rank is left inside a collective.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app/commands.h"
#include "app/options.h"
#include "uhn/h5io.h"
#include "uhn/uhn.h"

/* ------------------------------------------------------------------------ */
/* Options                                                                  */

typedef struct recall_args {
    const char *memories, *queries, *output, *values, *clamp; /* point into argv */
    const char *similarity, *separation, *score, *kernel;
    const char *trajectory; /* "S1,S2,..." or NULL */
    const char *save_steps; /* the same, by the name the issue tracker uses */
    double beta, param, step_size, tol;
    int64_t steps, batch;
    int no_normalize, cue_only, no_energy, quiet, verbose, help;
} recall_args;

/* Range checks: NULL when v is valid, else what is required. */
static const char *positive(double v) {
    return v > 0 ? NULL : "must be > 0";
}
static const char *non_negative(double v) {
    return v >= 0 ? NULL : "must be >= 0";
}
static const char *unit_interval(double v) {
    return v > 0 && v <= 1 ? NULL : "must be in (0, 1]";
}
static const char *step_count(double v) {
    return v >= 1 && v <= INT_MAX ? NULL : "must be an integer from 1 to 2147483647";
}

#define OFF(field) offsetof(recall_args, field)
static const opt_def options[] = {
    {"memories", OPT_STR, OFF(memories), "FILE[:DATASET]",
     "memory keys, 2-D [N][K], one memory per row (required; dataset 'memories')", 0, 0, NULL, 0,
     1},
    {"queries", OPT_STR, OFF(queries), "FILE[:DATASET]",
     "queries, 2-D [B][K] (required; dataset 'queries')", 0, 0, NULL, 0, 1},
    {"output", OPT_STR, OFF(output), "FILE",
     "results file, written atomically (required; its directory must exist)", 0, 0, NULL, 0, 1},
    {"values", OPT_STR, OFF(values), "FILE[:DATASET]",
     "values, 2-D [N][O]: hetero-association (default: none, values = keys; dataset 'values')", 0,
     0, NULL, 0, 0},
    {"clamp", OPT_STR, OFF(clamp), "FILE[:DATASET]",
     "known coordinates, [K] or [B][K], non-zero = known: held at the query value after "
     "every step, and the cue set of --cue-only (default: none; dataset 'clamp')",
     0, 0, NULL, 0, 0},
    {"similarity", OPT_STR, OFF(similarity), "NAME", "similarity s(x, q) (default dot)", 0, 0, NULL,
     0, 0},
    {"separation", OPT_STR, OFF(separation), "NAME", "separation function (default softmax)", 0, 0,
     NULL, 0, 0},
    {"beta", OPT_DBL, OFF(beta), "B", "inverse temperature beta > 0 (default 1)", 0, 0, positive, 0,
     0},
    {"param", OPT_DBL, OFF(param), "P",
     "p for power, k for topk, t for threshold (default: the separation's own)", 0, 0, NULL, 0, 0},
    {"score", OPT_STR, OFF(score), "raw|uhn",
     "raw: beta*s; uhn: the normalised scores of the UHN paper (default raw)", 0, 0, NULL, 0, 0},
    {"no-normalize", OPT_FLAG, OFF(no_normalize), NULL,
     "weights are g_n, not g_n / sum g (default: normalise)", 0, 0, NULL, 0, 0},
    {"steps", OPT_INT, OFF(steps), "T", "iteration steps T >= 1 (default 1)", 1, INT_MAX,
     step_count, 0, 0},
    {"step-size", OPT_DBL, OFF(step_size), "A", "step size alpha in (0, 1] (default 1)", 0, 0,
     unit_interval, 0, 0},
    {"tol", OPT_DBL, OFF(tol), "TOL",
     "stop a query when max |v_t+1 - v_t| < TOL; 0 runs all steps (default 0)", 0, 0, non_negative,
     0, 0},
    {"save-steps", OPT_STR, OFF(save_steps), "S1,S2,...",
     "record the state v_S at these steps (0 = the query, ..., T; increasing) in the dataset "
     "trajectory [B][|S|][K] (spec section 11; default: none)",
     0, 0, NULL, 0, 0},
    {"trajectory", OPT_STR, OFF(trajectory), "S1,S2,...", "the same as --save-steps", 0, 0, NULL, 0,
     0},
    {"cue-only", OPT_FLAG, OFF(cue_only), NULL,
     "similarities over the --clamp coordinates only (default: all coordinates)", 0, 0, NULL, 0, 0},
    {"no-energy", OPT_FLAG, OFF(no_energy), NULL,
     "do not report the energy (softmax with dot or euclidean): saves the screened scoring pass "
     "of the final state, a twelfth to a third of a one-step recall (default: report it)",
     0, 0, NULL, 0, 0},
    {"kernel", OPT_STR, OFF(kernel), "fast|ref",
     "fast: SGEMM kernels; ref: the plain reference engine (default fast)", 0, 0, NULL, 0, 0},
    {"batch", OPT_INT, OFF(batch), "N", "queries per internal batch, 0 = automatic (default 0)", 0,
     INT64_MAX, non_negative, 0, 0},
    {"quiet", OPT_FLAG, OFF(quiet), NULL, "no summary line on standard output", 0, 0, NULL, 0, 0},
    {"verbose", OPT_FLAG, OFF(verbose), NULL,
     "phase timers (min/mean/max over ranks) on standard error", 0, 0, NULL, 0, 0},
    {"help", OPT_FLAG, OFF(help), NULL, "this text", 0, 0, NULL, 0, 0},
};
static const opt_cli cli = {"recall", options, sizeof options / sizeof options[0]};

/* Named choices that are not table entries of the engine. */
typedef struct choice {
    const char *name;
    int value;
} choice;
#define NCHOICES(table) ((int)(sizeof table / sizeof table[0]))
static const choice score_modes[] = {{"raw", UHN_SCORE_RAW}, {"uhn", UHN_SCORE_UHN}};
static const choice kernels[] = {{"fast", UHN_KERNEL_FAST}, {"ref", UHN_KERNEL_REF}};

static void print_help(FILE *f) {
    fprintf(f, "usage: mpirun -n R uhn recall --memories FILE[:DATASET] --queries FILE[:DATASET]\n"
               "                               --output FILE [options]\n\n"
               "Recalls each query from a memory bank stored in HDF5 (any numeric type, read as\n"
               "float32) and writes output, index, weight, lse (softmax), energy (softmax with\n"
               "dot or euclidean), steps and empty. Options take `--opt value` or `--opt=value`.\n"
               "FILE:DATASET names a dataset inside a file; without it the default dataset is\n"
               "used.\n\n");
    opt_print_table(f, &cli, 31);
    char list[1024];
    size_t n = 0;
    for (int i = 0; i < uhn_similarity_count() && n < sizeof list; ++i) {
        int w = snprintf(list + n, sizeof list - n, "%s%s", i ? ", " : "",
                         uhn_similarity_name(uhn_similarity_at(i)));
        if (w > 0) n += (size_t)w;
    }
    fprintf(f, "\nsimilarity names: ");
    opt_print_wrapped(f, 18, 4, list);
    n = 0;
    for (int i = 0; i < uhn_separation_count() && n < sizeof list; ++i) {
        const uhn_separation *s = uhn_separation_at(i);
        const char *pn = uhn_separation_param_name(s);
        int w =
            pn ? snprintf(list + n, sizeof list - n, "%s%s (--param %s, default %g)", i ? ", " : "",
                          uhn_separation_name(s), pn, uhn_separation_param_default(s))
               : snprintf(list + n, sizeof list - n, "%s%s", i ? ", " : "", uhn_separation_name(s));
        if (w > 0) n += (size_t)w;
    }
    fprintf(f, "separation names: ");
    opt_print_wrapped(f, 18, 4, list);
    fprintf(f, "\nExit status: 0 on success, 2 on bad input (one line on standard error names\n"
               "the file, dataset, option or index at fault), 1 on other failures. A failed run\n"
               "leaves no output file and never damages an existing one.\n");
}

/* ------------------------------------------------------------------------ */
/* Resolving names into engine parameters                                   */

static int unknown_name(uhn_ctx *ctx, const char *opt, const char *name, int count,
                        const char *(*name_at)(int)) {
    char list[512] = "";
    size_t len = 0;
    for (int i = 0; i < count && len < sizeof list; ++i) {
        int n = snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "", name_at(i));
        if (n > 0) len += (size_t)n;
    }
    return uhn_fail(ctx, UHN_EINPUT, "--%s: unknown name '%s' (valid: %s)", opt, name, list);
}

static const char *similarity_name_at(int i) {
    return uhn_similarity_name(uhn_similarity_at(i));
}
static const char *separation_name_at(int i) {
    return uhn_separation_name(uhn_separation_at(i));
}

static const char *choice_name(const choice *c, int n, int value) {
    for (int i = 0; i < n; ++i)
        if (c[i].value == value) return c[i].name;
    return "unknown";
}

/* The choice named `name`; an unknown one is an error listing the valid. */
static int find_choice(uhn_ctx *ctx, const char *opt, const char *name, const choice *c, int n,
                       int *value) {
    char list[128] = "";
    for (int i = 0; i < n; ++i) {
        if (!strcmp(c[i].name, name)) {
            *value = c[i].value;
            return UHN_OK;
        }
        strncat(list, i ? "|" : "", sizeof list - strlen(list) - 1);
        strncat(list, c[i].name, sizeof list - strlen(list) - 1);
    }
    return uhn_fail(ctx, UHN_EINPUT, "--%s: unknown name '%s' (valid: %s)", opt, name, list);
}

static int resolve_params(uhn_ctx *ctx, const recall_args *a, uhn_params *p) {
    uhn_params_default(p);
    if (a->similarity && !(p->sim = uhn_similarity_find(a->similarity)))
        return unknown_name(ctx, "similarity", a->similarity, uhn_similarity_count(),
                            similarity_name_at);
    if (a->separation && !(p->sep = uhn_separation_find(a->separation)))
        return unknown_name(ctx, "separation", a->separation, uhn_separation_count(),
                            separation_name_at);
    int v = 0;
    if (a->score) {
        UHN_CALL(find_choice(ctx, "score", a->score, score_modes, NCHOICES(score_modes), &v));
        p->score = (uhn_score_mode)v;
    }
    if (a->kernel) {
        UHN_CALL(find_choice(ctx, "kernel", a->kernel, kernels, NCHOICES(kernels), &v));
        p->kernel = (uhn_kernel)v;
    }
    if (!isnan(a->beta)) p->beta = a->beta;
    if (!isnan(a->step_size)) p->step_size = a->step_size;
    if (!isnan(a->tol)) p->tol = a->tol;
    if (a->steps > 0) p->steps = (int)a->steps;
    if (a->batch >= 0) p->batch = a->batch;
    p->normalize = !a->no_normalize;
    p->cue_only = a->cue_only;
    p->energy = !a->no_energy;
    p->param = a->param;
    if (!isnan(a->param)) {
        const char *pn = uhn_separation_param_name(p->sep);
        if (!pn)
            return uhn_fail(ctx, UHN_EINPUT, "--param is not used by --separation %s",
                            uhn_separation_name(p->sep));
        const char *why = uhn_separation_param_check(p->sep, a->param);
        if (why)
            return uhn_fail(ctx, UHN_EINPUT, "--param: %s of --separation %s must be %s (got %g)",
                            pn, uhn_separation_name(p->sep), why, a->param);
    }
    if (a->cue_only && !a->clamp)
        return uhn_fail(ctx, UHN_EINPUT, "--cue-only needs --clamp (the known coordinates)");
    if (a->values && p->steps > 1)
        return uhn_fail(ctx, UHN_EINPUT,
                        "--steps %d needs auto-association: a bank with --values cannot be "
                        "iterated (use --steps 1)",
                        p->steps);
    return UHN_OK;
}

/* ------------------------------------------------------------------------ */
/* The run                                                                  */

typedef struct recall_run {
    uhn_ctx *ctx; /* not owned */
    int argc;
    char **argv;
    recall_args a;
    uhn_params p;
    uhn_h5_name mem, qry, val, clp;
    int64_t N, K, O, B, clamp_rows;
    uhn_bank *bank;  /* owned */
    float *queries;  /* B x K, owned */
    uint8_t *clamp;  /* clamp_rows x K or NULL, owned */
    uhn_result *res; /* owned */
    double t_start;  /* uhn_wtime at the start */
    time_t wall_start;
} recall_run;

static int parse_names(recall_run *r) {
    uhn_ctx *ctx = r->ctx;
    UHN_CALL(uhn_h5_name_parse(ctx, r->a.memories, "memories", "--memories", &r->mem));
    UHN_CALL(uhn_h5_name_parse(ctx, r->a.queries, "queries", "--queries", &r->qry));
    if (r->a.values) UHN_CALL(uhn_h5_name_parse(ctx, r->a.values, "values", "--values", &r->val));
    if (r->a.clamp) UHN_CALL(uhn_h5_name_parse(ctx, r->a.clamp, "clamp", "--clamp", &r->clp));
    /* Replacing an input with the results is never what was meant. */
    const uhn_h5_name *inputs[] = {&r->mem, &r->qry, &r->val, &r->clp};
    for (size_t k = 0; k < sizeof inputs / sizeof inputs[0]; ++k)
        if (inputs[k]->file[0] && uhn_h5_same_file(r->a.output, inputs[k]->file))
            return uhn_fail(ctx, UHN_EINPUT,
                            "--output: '%s' is the %s file; refusing to replace it", r->a.output,
                            inputs[k]->role);
    return UHN_OK;
}

/* Shapes of every input, checked on every rank from the broadcast info. */
static int check_shapes(recall_run *r, const uhn_h5_info *mi, const uhn_h5_info *qi,
                        const uhn_h5_info *vi, const uhn_h5_info *ci) {
    uhn_ctx *ctx = r->ctx;
    char s[128];
    UHN_CALL(uhn_h5_check_matrix(ctx, &r->mem, mi, "[N][K]"));
    r->N = mi->dims[0];
    r->K = r->O = mi->dims[1];
    UHN_CALL(uhn_h5_check_matrix(ctx, &r->qry, qi, "[B][K]"));
    r->B = qi->dims[0];
    if (qi->dims[1] != r->K)
        return uhn_fail(ctx, UHN_EINPUT,
                        "--queries: %s has %lld columns but --memories %s has K = %lld",
                        r->qry.label, (long long)qi->dims[1], r->mem.label, (long long)r->K);
    if (r->a.values) {
        UHN_CALL(uhn_h5_check_matrix(ctx, &r->val, vi, "[N][O]"));
        if (vi->dims[0] != r->N)
            return uhn_fail(ctx, UHN_EINPUT,
                            "--values: %s has %lld rows but --memories %s has N = %lld",
                            r->val.label, (long long)vi->dims[0], r->mem.label, (long long)r->N);
        r->O = vi->dims[1];
    }
    if (r->a.clamp) {
        int ok =
            (ci->rank == 1 && ci->dims[0] == r->K) ||
            (ci->rank == 2 && ci->dims[1] == r->K && (ci->dims[0] == r->B || ci->dims[0] == 1));
        if (!ok)
            return uhn_fail(ctx, UHN_EINPUT,
                            "--clamp: %s is %s; expected [K] = [%lld] or [B][K] = [%lld][%lld] "
                            "(K from --memories %s, B from --queries %s)",
                            r->clp.label, uhn_h5_shape_text(ci, s, sizeof s), (long long)r->K,
                            (long long)r->B, (long long)r->K, r->mem.label, r->qry.label);
        r->clamp_rows = ci->rank == 1 ? 1 : ci->dims[0];
    }
    return UHN_OK;
}

static int open_inputs(recall_run *r) {
    uhn_ctx *ctx = r->ctx;
    uhn_h5_info mi, qi, vi, ci;
    memset(&vi, 0, sizeof vi);
    memset(&ci, 0, sizeof ci);
    UHN_CALL(uhn_h5_info_get(ctx, &r->mem, &mi));
    UHN_CALL(uhn_h5_info_get(ctx, &r->qry, &qi));
    if (r->a.values) UHN_CALL(uhn_h5_info_get(ctx, &r->val, &vi));
    if (r->a.clamp) UHN_CALL(uhn_h5_info_get(ctx, &r->clp, &ci));
    UHN_CALL(uhn_agree(ctx, check_shapes(r, &mi, &qi, &vi, &ci)));
    if (ctx->verbose > 1 && ctx->rank == 0) {
        char s[128];
        fprintf(stderr, "uhn recall: memories %s %s (%s)\n", r->mem.label,
                uhn_h5_shape_text(&mi, s, sizeof s), mi.type);
        fprintf(stderr, "uhn recall: queries %s %s (%s)\n", r->qry.label,
                uhn_h5_shape_text(&qi, s, sizeof s), qi.type);
    }
    return UHN_OK;
}

static int load_bank(recall_run *r) {
    uhn_ctx *ctx = r->ctx;
    int hetero = r->a.values != NULL;
    int rc = uhn_bank_create(ctx, r->N, r->K, hetero, r->O, &r->bank);
    if (rc == UHN_ENOMEM) { /* name the data that did not fit */
        char why[UHN_MSG_MAX];
        snprintf(why, sizeof why, "%s", ctx->msg);
        rc = uhn_fail(ctx, UHN_ENOMEM, "--memories: %s [%lld][%lld]: %s", r->mem.label,
                      (long long)r->N, (long long)r->K, why);
    }
    UHN_CALL(uhn_agree(ctx, rc));
    uhn_bank *b = r->bank;
    UHN_CALL(uhn_h5_read_rows(ctx, &r->mem, b->row0, b->n_local, r->K, UHN_H5_FLOAT32, b->keys));
    if (hetero)
        UHN_CALL(
            uhn_h5_read_rows(ctx, &r->val, b->row0, b->n_local, r->O, UHN_H5_FLOAT32, b->values));
    return uhn_agree(ctx, uhn_bank_commit(b, r->mem.label, hetero ? r->val.label : r->mem.label));
}

/* The clamp as a 0/1 mask; a non-finite entry is an input error. */
static int clamp_mask(recall_run *r, const double *raw) {
    int64_t n = r->clamp_rows * r->K;
    for (int64_t i = 0; i < n; ++i) {
        if (!isfinite(raw[i])) {
            if (r->clamp_rows == 1)
                return uhn_fail(r->ctx, UHN_EINPUT,
                                "--clamp: %s has a non-finite value at column %lld", r->clp.label,
                                (long long)i);
            return uhn_fail(r->ctx, UHN_EINPUT,
                            "--clamp: %s has a non-finite value at row %lld, column %lld",
                            r->clp.label, (long long)(i / r->K), (long long)(i % r->K));
        }
        r->clamp[i] = raw[i] != 0;
    }
    return UHN_OK;
}

static int load_queries(recall_run *r) {
    uhn_ctx *ctx = r->ctx;
    int st = UHN_OK;
    r->queries = uhn_alloc((size_t)(r->B * r->K) * sizeof(float));
    if (!r->queries)
        st = uhn_fail(ctx, UHN_ENOMEM, "out of memory for %lld x %lld queries", (long long)r->B,
                      (long long)r->K);
    UHN_CALL(uhn_agree(ctx, st));
    UHN_CALL(uhn_h5_read_all(ctx, &r->qry, UHN_H5_FLOAT32, r->B * r->K, r->queries));
    if (!r->a.clamp) return UHN_OK;

    int64_t n = r->clamp_rows * r->K;
    double *raw = malloc((size_t)n * sizeof *raw);
    r->clamp = malloc((size_t)n);
    if (!raw || !r->clamp) st = uhn_fail(ctx, UHN_ENOMEM, "out of memory for the clamp mask");
    st = uhn_agree(ctx, st);
    if (st == UHN_OK) st = uhn_h5_read_all(ctx, &r->clp, UHN_H5_FLOAT64, n, raw);
    if (st == UHN_OK) st = uhn_agree(ctx, clamp_mask(r, raw));
    free(raw);
    return st;
}

/* Rank 0: the datasets and attributes of the results file. */
static int write_contents(recall_run *r, uhn_h5_writer *w) {
    const uhn_params *p = &r->p;
    const uhn_result *res = r->res;
    const int64_t B = r->B;
    int softmax = !strcmp(uhn_separation_name(p->sep), "softmax");
    int energy = uhn_params_has_energy(p) && res->energy;
    const struct {
        int present;
        uhn_h5_dataset d;
    } dsets[] = {
        {1,
         {"output",
          UHN_H5_FLOAT32,
          2,
          {B, r->O},
          res->output,
          "z after the last step (v_T when iterating)",
          "as the memory values",
          "query,coordinate"}},
        {1,
         {"index",
          UHN_H5_INT64,
          1,
          {B},
          res->index,
          "n*: global row index of the largest weight (ties: lowest index; -1 when empty)",
          "row index",
          "query"}},
        {1, {"weight", UHN_H5_FLOAT32, 1, {B}, res->weight, "w at n*", "1", "query"}},
        {softmax,
         {"lse",
          UHN_H5_FLOAT64,
          1,
          {B},
          res->lse,
          "log-sum-exp of the scores, log sum_n exp(h_n)",
          "1",
          "query"}},
        {energy,
         {"energy",
          UHN_H5_FLOAT64,
          2,
          {B, res->T + 1},
          res->energy,
          "E(v_0) ... E(v_T) of spec section 5",
          "1",
          "query,step"}},
        {1,
         {"steps",
          UHN_H5_INT32,
          1,
          {B},
          res->steps,
          "steps taken (<= --steps with --tol)",
          "steps",
          "query"}},
        {res->nsave > 0,
         {"trajectory",
          UHN_H5_FLOAT32,
          3,
          {B, res->nsave, res->K},
          res->trajectory,
          "the state v_S of each query at the steps S of trajectory_steps (a query that "
          "stopped early repeats its final state)",
          "as the queries",
          "query,saved_step,coordinate"}},
        {res->nsave > 0,
         {"trajectory_steps",
          UHN_H5_INT32,
          1,
          {res->nsave},
          res->save_steps,
          "the steps S whose states trajectory holds (0 = the query)",
          "steps",
          "saved_step"}},
        {1,
         {"empty",
          UHN_H5_UINT8,
          1,
          {B},
          res->empty,
          "1 where the weights summed to 0 (the output is then 0)",
          "boolean",
          "query"}},
    };
    for (size_t i = 0; i < sizeof dsets / sizeof dsets[0]; ++i)
        if (dsets[i].present) UHN_CALL(uhn_h5_write_dataset(w, &dsets[i].d));

    double param = isnan(p->param) ? uhn_separation_param_default(p->sep) : p->param;
    const char *score = choice_name(score_modes, NCHOICES(score_modes), (int)p->score);
    const char *kernel = choice_name(kernels, NCHOICES(kernels), (int)p->kernel);
    const struct {
        const char *name, *value;
    } strings[] = {
        {"command", "recall"},
        {"memories", r->mem.label},
        {"queries", r->qry.label},
        {"values", r->a.values ? r->val.label : NULL},
        {"clamp", r->a.clamp ? r->clp.label : NULL},
        {"output", r->a.output},
        {"association", r->a.values ? "hetero" : "auto"},
        {"similarity", uhn_similarity_name(p->sim)},
        {"separation", uhn_separation_name(p->sep)},
        {"score", score},
        {"kernel", kernel},
        {"bank_order", r->bank->gidx ? "norm" : "index"}, /* uhn_bank_sort, when it pays */
        {"trajectory", r->a.save_steps ? r->a.save_steps : r->a.trajectory},
        {"uhn_version", UHN_VERSION_STRING},
        {"git_commit", UHN_GIT_COMMIT},
    };
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; ++i)
        if (strings[i].value)
            UHN_CALL(uhn_h5_attr_string(w, "/", strings[i].name, strings[i].value));
    const struct {
        int present;
        const char *name;
        double value;
    } doubles[] = {
        {1, "beta", p->beta},
        {uhn_separation_param_name(p->sep) != NULL, "param", param},
        {1, "step_size", p->step_size},
        {1, "tol", p->tol},
    };
    for (size_t i = 0; i < sizeof doubles / sizeof doubles[0]; ++i)
        if (doubles[i].present)
            UHN_CALL(uhn_h5_attr_double(w, "/", doubles[i].name, doubles[i].value));
    const struct {
        const char *name;
        int64_t value;
    } ints[] = {
        {"steps", p->steps},           {"no_normalize", !p->normalize},
        {"cue_only", p->cue_only},     {"no_energy", !p->energy},
        {"batch", p->batch},           {"n_memories", r->N},
        {"key_length", r->K},          {"value_length", r->O},
        {"n_queries", r->B},           {"ranks", r->ctx->size},
        {"threads", r->ctx->nthreads},
    };
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; ++i)
        UHN_CALL(uhn_h5_attr_int64(w, "/", ints[i].name, ints[i].value));
    return uhn_h5_write_provenance(w, "provenance", r->wall_start, r->argc, r->argv);
}

/* The dimensions of the output file, labelled with index scales so that
 * xarray opens it (README "HDF5 layout of every file"). */
static const uhn_h5_axis recall_axes[] = {
    {"query", "index of the query (row of --queries)"},
    {"coordinate", "index of the coordinate (column of the output z)"},
    {"step", "step t of the dynamics: energy[:, t] is E(v_t), t = 0 .. T"},
    {"saved_step", "index into trajectory_steps: the states trajectory holds"},
};

static int write_output(recall_run *r) {
    uhn_h5_writer *w = NULL;
    UHN_CALL(uhn_h5_writer_create(r->ctx, r->a.output, &w));
    int st = write_contents(r, w);
    if (st == UHN_OK)
        st = uhn_h5_label_axes(w, "/", recall_axes, sizeof recall_axes / sizeof recall_axes[0]);
    if (st != UHN_OK) {
        uhn_h5_writer_abort(w);
        return st;
    }
    return uhn_h5_writer_commit(w);
}

/* lse is a float64 output: where beta * s_max leaves float64 it cannot be
 * written, though z, the weights and the energy are exact. Collective. */
static int check_lse(recall_run *r) {
    int st = UHN_OK;
    if (!strcmp(uhn_separation_name(r->p.sep), "softmax"))
        for (int64_t j = 0; j < r->B && st == UHN_OK; ++j)
            if (!r->res->empty[j] && isinf(r->res->lse[j]))
                st = uhn_fail(r->ctx, UHN_EINPUT,
                              "--beta %g: the log-sum-exp of query %lld (beta times its largest "
                              "score) overflows float64, so the lse dataset cannot hold it; "
                              "output and energy are exact, but use a smaller --beta to record lse",
                              r->p.beta, (long long)j);
    return uhn_agree(r->ctx, st);
}

/* --save-steps (or --trajectory) S1,S2,...: the steps whose states are
 * recorded (spec §11). Messages name the flag that was given. */
static int want_trajectory(recall_run *r) {
    const char *text = r->a.save_steps ? r->a.save_steps : r->a.trajectory;
    const char *flag = r->a.save_steps ? "--save-steps" : "--trajectory";
    if (!text) return UHN_OK;
    if (r->a.save_steps && r->a.trajectory)
        return uhn_fail(r->ctx, UHN_EINPUT,
                        "--save-steps and --trajectory are one option; give it once");
    int64_t steps[1024], n = 0;
    char item[64], why[UHN_MSG_MAX / 2];
    for (const char *c = text;; ++c) {
        size_t len = strcspn(c, ",");
        if (n == (int64_t)(sizeof steps / sizeof steps[0]))
            return uhn_fail(r->ctx, UHN_EINPUT, "%s: more than %d steps", flag,
                            (int)(sizeof steps / sizeof steps[0]));
        snprintf(item, sizeof item, "%.*s", (int)(len < sizeof item ? len : sizeof item - 1), c);
        if (len >= sizeof item ||
            uhn_parse_int64(item, 0, INT32_MAX, &steps[n], why, sizeof why) != UHN_PARSE_OK)
            return uhn_fail(r->ctx, UHN_EINPUT, "%s: %s", flag,
                            len >= sizeof item ? "an item is too long" : why);
        ++n;
        c += len;
        if (!*c) break;
    }
    int st = uhn_result_want_trajectory(r->ctx, r->res, r->K, n, steps);
    if (st != UHN_OK) uhn_relabel(r->ctx, flag, " "); /* the engine's "trajectory ..." */
    return st;
}

static int run(recall_run *r) {
    uhn_ctx *ctx = r->ctx;
    UHN_CALL(uhn_agree(ctx, opt_parse(ctx, &cli, 0, NULL, r->argc, r->argv, 1, &r->a, OFF(help))));
    if (r->a.help) {
        if (ctx->rank == 0) print_help(stdout);
        return UHN_OK;
    }
    ctx->verbose = r->a.verbose ? 2 : r->a.quiet ? 0 : 1;
    UHN_CALL(uhn_agree(ctx, resolve_params(ctx, &r->a, &r->p)));
    UHN_CALL(uhn_agree(ctx, parse_names(r)));
    UHN_CALL(uhn_h5_check_output(ctx, r->a.output, "--output"));
    UHN_CALL(open_inputs(r));
    UHN_CALL(load_bank(r));
    if (uhn_params_sort_pays(&r->p, r->B)) { /* worth a pass over the bank */
        const double t0 = uhn_wtime();
        UHN_CALL(uhn_bank_sort(r->bank));
        ctx->timers.compute += uhn_wtime() - t0;
    }
    UHN_CALL(load_queries(r));
    UHN_CALL(opt_flagged(
        ctx, &cli,
        uhn_agree(ctx, uhn_queries_check(ctx, &r->p, r->queries, r->B, r->K, r->qry.label))));
    UHN_CALL(opt_flagged(ctx, &cli, uhn_agree(ctx, uhn_params_check(ctx, &r->p, r->bank))));
    UHN_CALL(uhn_agree(ctx, uhn_result_create(ctx, r->B, r->O, r->p.steps,
                                              uhn_params_has_energy(&r->p), &r->res)));
    UHN_CALL(opt_flagged(ctx, &cli, uhn_agree(ctx, want_trajectory(r))));
    UHN_CALL(opt_flagged(ctx, &cli,
                         uhn_agree(ctx, uhn_recall(r->bank, &r->p, r->queries, r->B, r->clamp,
                                                   r->clamp_rows, r->res))));
    UHN_CALL(check_lse(r));
    UHN_CALL(uhn_agree(ctx, ctx->rank == 0 ? write_output(r) : UHN_OK));

    double seconds = uhn_wtime() - r->t_start;
    if (ctx->rank == 0 && !r->a.quiet) {
        printf("uhn recall: %lld queries x %lld memories (K = %lld, O = %lld) on %d rank(s) x %d "
               "thread(s) in %.3f s -> %s\n",
               (long long)r->B, (long long)r->N, (long long)r->K, (long long)r->O, ctx->size,
               ctx->nthreads, seconds, r->a.output);
        fflush(stdout);
    }
    if (r->a.verbose) UHN_CALL(uhn_timers_report(ctx, "uhn recall"));
    return UHN_OK;
}

int uhn_cmd_recall(uhn_ctx *ctx, int argc, char **argv) {
    recall_run *r = calloc(1, sizeof *r);
    int st = r ? UHN_OK : uhn_fail(ctx, UHN_ENOMEM, "out of memory");
    st = uhn_agree(ctx, st);
    if (st != UHN_OK) {
        free(r);
        return st;
    }
    r->ctx = ctx;
    r->argc = argc;
    r->argv = argv;
    r->t_start = uhn_wtime();
    r->wall_start = time(NULL);
    /* "not given" markers; resolve_params keeps the engine defaults for these. */
    r->a.beta = r->a.param = r->a.step_size = r->a.tol = NAN;
    r->a.steps = 0;
    r->a.batch = -1;

    st = run(r);

    if (r->res) uhn_result_destroy(r->res);
    if (r->bank) uhn_bank_destroy(r->bank);
    uhn_free(r->queries);
    free(r->clamp);
    free(r);
    return st;
}
