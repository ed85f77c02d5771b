/*
 * `uhn separability` (spec §12, §14): how well queries' codes pick out their
 * own memories' codes, on any matrices a user has in HDF5.
 *
 * Prolog, run, epilog: parse the options (identically on every rank), check
 * the output and the shapes of the inputs before any heavy work, read each
 * rank's own rows of both inputs with collective MPI-IO, check them finite,
 * compute the statistics (uhn/separability.h) and let rank 0 write them
 * atomically. Every step's status is agreed over the communicator.
 */
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
#include "uhn/parse.h"
#include "uhn/separability.h"
#include "uhn/uhn.h"

/* ------------------------------------------------------------------------ */
/* Options                                                                  */

typedef struct sep_args {
    const char *queries, *memories, *output; /* point into argv */
    int64_t bins, block, tile;
    int quiet, verbose, help;
} sep_args;

#define OFF(field) offsetof(sep_args, field)
static const opt_def options[] = {
    {"queries", OPT_STR, OFF(queries), "FILE[:DATASET]",
     "query codes, 2-D [B][D]; query i belongs to memory i (required; dataset 'queries')", 0, 0,
     NULL, 0, 1},
    {"memories", OPT_STR, OFF(memories), "FILE[:DATASET]",
     "memory codes, 2-D [N][D], N >= B and N >= 2 (required; dataset 'memories')", 0, 0, NULL, 0,
     1},
    {"output", OPT_STR, OFF(output), "FILE",
     "results file, written atomically (required; its directory must exist)", 0, 0, NULL, 0, 1},
    {"bins", OPT_INT, OFF(bins), "NB", "equal histogram bins on [-1, 1] (default 200)", 1,
     UHN_SEP_BINS_MAX, NULL, 0, 0},
    {"block", OPT_INT, OFF(block), "S",
     "ScaLAPACK block size; changes speed only, tests force tiny values (default 64)", 1, 4096,
     NULL, 0, 0},
    {"tile", OPT_INT, OFF(tile), "T",
     "rows and columns of one tile of the cosine matrix, rounded up to whole blocks; "
     "changes speed and memory only (default 4096)",
     1, 1 << 20, NULL, 0, 0},
    {"quiet", OPT_FLAG, OFF(quiet), NULL, "no summary line on standard output", 0, 0, NULL, 0, 0},
    {"verbose", OPT_FLAG, OFF(verbose), NULL,
     "phase timers (min/mean/max over ranks) on standard error", 0, 0, NULL, 0, 0},
    {"help", OPT_FLAG, OFF(help), NULL, "this text", 0, 0, NULL, 0, 0},
};
static const opt_cli cli = {"separability", options, sizeof options / sizeof options[0]};

static void print_help(FILE *f) {
    fprintf(f, "usage: mpirun -n R uhn separability --queries FILE[:DATASET] --memories "
               "FILE[:DATASET]\n"
               "                                    --output FILE [--bins NB]\n\n"
               "Cosines of query i to its own memory i (self) and to every other memory (cross),\n"
               "as histograms on [-1, 1] with means, standard deviations, d', the overlap of the\n"
               "two normalised histograms and top1 (the fraction of queries whose self cosine\n"
               "beats all their cross cosines). Inputs of any numeric type are read as float32;\n"
               "the cosines are computed in float64 (ScaLAPACK pdgemm), tile by tile.\n\n");
    opt_print_table(f, &cli, 29);
    fprintf(f, "\nExit status: 0 on success, 2 on bad input (one line on standard error names\n"
               "the file, dataset, option or index at fault), 1 on other failures. A failed run\n"
               "leaves no output file and never damages an existing one.\n");
}

/* ------------------------------------------------------------------------ */
/* The run                                                                  */

typedef struct sep_run {
    uhn_ctx *ctx; /* not owned */
    int argc;
    char **argv;
    sep_args a;
    uhn_sep_params p;
    uhn_h5_name qry, mem;
    int64_t B, N, D;
    float *queries, *memories; /* this rank's rows, owned */
    uhn_sep_result res;        /* owned arrays */
    double t_start;
    time_t wall_start;
} sep_run;

static int parse_names(sep_run *r) {
    uhn_ctx *ctx = r->ctx;
    UHN_CALL(uhn_h5_name_parse(ctx, r->a.queries, "queries", "--queries", &r->qry));
    UHN_CALL(uhn_h5_name_parse(ctx, r->a.memories, "memories", "--memories", &r->mem));
    const uhn_h5_name *inputs[] = {&r->qry, &r->mem};
    for (size_t k = 0; k < 2; ++k)
        if (uhn_h5_same_file(r->a.output, inputs[k]->file))
            return uhn_fail(ctx, UHN_EINPUT,
                            "--output: '%s' is the %s file; refusing to replace it", r->a.output,
                            inputs[k]->role);
    return UHN_OK;
}

static int check_shapes(sep_run *r, const uhn_h5_info *qi, const uhn_h5_info *mi) {
    uhn_ctx *ctx = r->ctx;
    UHN_CALL(uhn_h5_check_matrix(ctx, &r->qry, qi, "[B][D]"));
    UHN_CALL(uhn_h5_check_matrix(ctx, &r->mem, mi, "[N][D]"));
    r->B = qi->dims[0];
    r->N = mi->dims[0];
    r->D = mi->dims[1];
    if (qi->dims[1] != r->D)
        return uhn_fail(ctx, UHN_EINPUT,
                        "--queries: %s has codes of length %lld but --memories %s has D = %lld",
                        r->qry.label, (long long)qi->dims[1], r->mem.label, (long long)r->D);
    if (r->N < 2)
        return uhn_fail(ctx, UHN_EINPUT,
                        "--memories: %s has %lld row; separability needs N >= 2 (a query has no "
                        "cross values otherwise)",
                        r->mem.label, (long long)r->N);
    if (r->B > r->N)
        return uhn_fail(ctx, UHN_EINPUT,
                        "--queries: %s has B = %lld rows but --memories %s has only N = %lld "
                        "(query i belongs to memory i, so B <= N)",
                        r->qry.label, (long long)r->B, r->mem.label, (long long)r->N);
    if (r->N > INT_MAX || r->D > INT_MAX)
        return uhn_fail(ctx, UHN_EINPUT,
                        "--memories: %s is [%lld][%lld]; ScaLAPACK takes at most %d rows and "
                        "columns",
                        r->mem.label, (long long)r->N, (long long)r->D, INT_MAX);
    return UHN_OK;
}

/* The first non-finite entry of this rank's rows, named by global row and column. */
static int check_finite(uhn_ctx *ctx, const uhn_h5_name *n, const float *x, int64_t row0,
                        int64_t nrows, int64_t D) {
    for (int64_t i = 0; i < nrows * D; ++i)
        if (!isfinite(x[i]))
            return uhn_fail(ctx, UHN_EINPUT,
                            "%s: %s row %lld column %lld is %s (codes must be finite)", n->role,
                            n->label, (long long)(row0 + i / D), (long long)(i % D),
                            isnan(x[i]) ? "NaN" : "Inf");
    return UHN_OK;
}

static int load(sep_run *r, const uhn_h5_name *n, int64_t rows, float **out) {
    uhn_ctx *ctx = r->ctx;
    int64_t row0, nrows;
    uhn_sep_rows(ctx, rows, &row0, &nrows);
    int st = UHN_OK;
    if (nrows > 0 && !(*out = malloc((size_t)(nrows * r->D) * sizeof **out)))
        st = uhn_fail(ctx, UHN_ENOMEM, "out of memory for %lld rows of %s", (long long)nrows,
                      n->label);
    UHN_CALL(uhn_agree(ctx, st));
    UHN_CALL(uhn_h5_read_rows(ctx, n, row0, nrows, r->D, UHN_H5_FLOAT32, *out));
    return uhn_agree(ctx, check_finite(ctx, n, *out, row0, nrows, r->D));
}

static int open_inputs(sep_run *r) {
    uhn_ctx *ctx = r->ctx;
    uhn_h5_info qi, mi;
    UHN_CALL(uhn_h5_info_get(ctx, &r->qry, &qi));
    UHN_CALL(uhn_h5_info_get(ctx, &r->mem, &mi));
    UHN_CALL(uhn_agree(ctx, check_shapes(r, &qi, &mi)));
    if (ctx->verbose > 1 && ctx->rank == 0) {
        char s[128];
        fprintf(stderr, "uhn separability: queries %s %s (%s)\n", r->qry.label,
                uhn_h5_shape_text(&qi, s, sizeof s), qi.type);
        fprintf(stderr, "uhn separability: memories %s %s (%s)\n", r->mem.label,
                uhn_h5_shape_text(&mi, s, sizeof s), mi.type);
    }
    return UHN_OK;
}

/* Rank 0: the datasets and attributes of the results file. */
static int write_contents(sep_run *r, uhn_h5_writer *w) {
    const uhn_sep_result *s = &r->res;
    const int64_t nb = s->bins;
    const uhn_h5_dataset arrays[] = {
        {"self_hist",
         UHN_H5_INT64,
         1,
         {nb},
         s->self_hist,
         "number of self cosines cos(v_i, c_i) in each bin (sums to B)",
         "count",
         "bin"},
        {"cross_hist",
         UHN_H5_INT64,
         1,
         {nb},
         s->cross_hist,
         "number of cross cosines cos(v_i, c_j), j != i, in each bin (sums to B*N - B)",
         "count",
         "bin"},
        {"bin_edges",
         UHN_H5_FLOAT64,
         1,
         {nb + 1},
         s->bin_edges,
         "bin k holds c with bin_edges[k] <= c < bin_edges[k+1]; 1.0 falls in the last bin",
         "cosine",
         "edge"},
    };
    for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; ++i)
        UHN_CALL(uhn_h5_write_dataset(w, &arrays[i]));
    const struct {
        const char *name;
        const double *value;
        const char *description, *units;
    } scalars[] = {
        {"self_mean", &s->self_mean, "mean of the self cosines", "cosine"},
        {"self_std", &s->self_std, "population standard deviation of the self cosines", "cosine"},
        {"cross_mean", &s->cross_mean, "mean of the cross cosines", "cosine"},
        {"cross_std", &s->cross_std, "population standard deviation of the cross cosines",
         "cosine"},
        {"dprime", &s->dprime,
         "(self_mean - cross_mean) / sqrt((self_std^2 + cross_std^2) / 2); +-Inf when both "
         "standard deviations are 0 and the means differ, NaN when they are equal",
         "1"},
        {"overlap", &s->overlap, "sum over bins of min(self_hist / B, cross_hist / (B*N - B))",
         "1"},
        {"top1", &s->top1,
         "fraction of queries whose self cosine is strictly larger than all their cross cosines",
         "1"},
    };
    for (size_t i = 0; i < sizeof scalars / sizeof scalars[0]; ++i) {
        uhn_h5_dataset d = {scalars[i].name,        UHN_H5_FLOAT64,   0,   {0}, scalars[i].value,
                            scalars[i].description, scalars[i].units, NULL};
        UHN_CALL(uhn_h5_write_dataset(w, &d));
    }
    const struct {
        const char *name, *value;
    } strings[] = {
        {"command", "separability"},       {"queries", r->qry.label},
        {"memories", r->mem.label},        {"output", r->a.output},
        {"precision", "float64 (pdgemm)"}, {"uhn_version", UHN_VERSION_STRING},
        {"git_commit", UHN_GIT_COMMIT},
    };
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; ++i)
        UHN_CALL(uhn_h5_attr_string(w, "/", strings[i].name, strings[i].value));
    const struct {
        const char *name;
        int64_t value;
    } ints[] = {
        {"bins", r->p.bins},     {"block", r->p.block},         {"tile", r->p.tile},
        {"n_queries", r->B},     {"n_memories", r->N},          {"code_length", r->D},
        {"n_self", s->n_self},   {"n_cross", s->n_cross},       {"n_top1", s->n_top1},
        {"ranks", r->ctx->size}, {"threads", r->ctx->nthreads},
    };
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; ++i)
        UHN_CALL(uhn_h5_attr_int64(w, "/", ints[i].name, ints[i].value));
    UHN_CALL(uhn_h5_attr_double(w, "/", "tie_tolerance", uhn_sep_tie_tolerance(r->D)));
    return uhn_h5_write_provenance(w, "provenance", r->wall_start, r->argc, r->argv);
}

/* The dimensions of the output file, labelled with index scales so that
 * xarray opens it (README "HDF5 layout of every file"). */
static const uhn_h5_axis sep_axes[] = {
    {"bin", "index b of the histogram bin [bin_edges[b], bin_edges[b + 1])"},
    {"edge", "index of the bin edge (bins + 1 of them)"},
};

static int write_output(sep_run *r) {
    uhn_h5_writer *w = NULL;
    UHN_CALL(uhn_h5_writer_create(r->ctx, r->a.output, &w));
    int st = write_contents(r, w);
    if (st == UHN_OK) st = uhn_h5_label_axes(w, "/", sep_axes, 2);
    if (st != UHN_OK) {
        uhn_h5_writer_abort(w);
        return st;
    }
    return uhn_h5_writer_commit(w);
}

static int run(sep_run *r) {
    uhn_ctx *ctx = r->ctx;
    UHN_CALL(uhn_agree(ctx, opt_parse(ctx, &cli, 0, NULL, r->argc, r->argv, 1, &r->a, OFF(help))));
    if (r->a.help) {
        if (ctx->rank == 0) print_help(stdout);
        return UHN_OK;
    }
    ctx->verbose = r->a.verbose ? 2 : r->a.quiet ? 0 : 1;
    uhn_sep_params_default(&r->p);
    if (r->a.bins > 0) r->p.bins = r->a.bins;
    if (r->a.block > 0) r->p.block = (int)r->a.block;
    if (r->a.tile > 0) r->p.tile = r->a.tile;
    UHN_CALL(uhn_agree(ctx, parse_names(r)));
    UHN_CALL(uhn_h5_check_output(ctx, r->a.output, "--output"));
    UHN_CALL(open_inputs(r));
    UHN_CALL(load(r, &r->qry, r->B, &r->queries));
    UHN_CALL(load(r, &r->mem, r->N, &r->memories));
    UHN_CALL(uhn_agree(ctx, uhn_sep_result_init(ctx, r->p.bins, &r->res)));
    UHN_CALL(uhn_separability(ctx, r->queries, r->B, r->memories, r->N, r->D, &r->p, &r->res));
    UHN_CALL(uhn_agree(ctx, ctx->rank == 0 ? write_output(r) : UHN_OK));

    double seconds = uhn_wtime() - r->t_start;
    if (ctx->rank == 0 && !r->a.quiet) {
        const uhn_sep_result *s = &r->res;
        printf("uhn separability: %lld queries x %lld memories (D = %lld) on %d rank(s) in %.3f s: "
               "self %.4f +- %.4f, cross %.4f +- %.4f, d' %.4g, overlap %.4f, top1 %.4f -> %s\n",
               (long long)r->B, (long long)r->N, (long long)r->D, ctx->size, seconds, s->self_mean,
               s->self_std, s->cross_mean, s->cross_std, s->dprime, s->overlap, s->top1,
               r->a.output);
        fflush(stdout);
    }
    if (r->a.verbose) UHN_CALL(uhn_timers_report(ctx, "uhn separability"));
    return UHN_OK;
}

int uhn_cmd_separability(uhn_ctx *ctx, int argc, char **argv) {
    sep_run *r = calloc(1, sizeof *r);
    int st = uhn_agree(ctx, r ? UHN_OK : uhn_fail(ctx, UHN_ENOMEM, "out of memory"));
    if (st != UHN_OK) {
        free(r);
        return st;
    }
    r->ctx = ctx;
    r->argc = argc;
    r->argv = argv;
    r->t_start = uhn_wtime();
    r->wall_start = time(NULL);
    st = run(r);
    uhn_sep_result_free(&r->res);
    free(r->queries);
    free(r->memories);
    free(r);
    return st;
}
