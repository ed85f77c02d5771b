/*
 * `uhn encode fit|apply` (spec §14): encoders on images a user has in HDF5.
 *
 *   fit    reads the training images (each rank its own block of rows),
 *          fits the encoder collectively and lets rank 0 write the model file
 *          atomically;
 *   apply  loads a model, encodes images (or, with --decode, decodes codes),
 *          each rank its own block of rows, gathers the rows on rank 0 and
 *          writes `output` atomically.
 * Every step's status is agreed over the communicator; bad input exits 2 with
 * one line (spec §8) and leaves no output behind.
 */
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app/commands.h"
#include "app/options.h"
#include "uhn/encoder.h"
#include "uhn/uhn.h"

/* ------------------------------------------------------------------------ */
/* Options                                                                  */

enum { SUB_FIT = 1, SUB_APPLY = 2 };

typedef struct encode_args {
    const char *encoder, *input, *model, *output; /* point into argv */
    int64_t dim, seed, patch, codes;
    int whiten, decode, quiet, verbose, help;
} encode_args;

#define OFF(field) offsetof(encode_args, field)
static const opt_def options[] = {
    {"encoder", OPT_STR, OFF(encoder), "NAME", "the encoder (required; see below)", 0, 0, NULL,
     SUB_FIT, 1},
    {"input", OPT_STR, OFF(input), "FILE[:DATASET]",
     "images [n][K], [n][H][W] or [n][H][W][C], uint8 (scaled by 1/255) or float in [0, 1] "
     "(dataset 'images'); with --decode, codes [n][D] (dataset 'output') (required)",
     0, 0, NULL, SUB_FIT | SUB_APPLY, 1},
    {"model", OPT_STR, OFF(model), "FILE",
     "fit: the model file to write atomically; apply: the model to use (required)", 0, 0, NULL,
     SUB_FIT | SUB_APPLY, 1},
    {"output", OPT_STR, OFF(output), "FILE",
     "apply: the results file, written atomically (required)", 0, 0, NULL, SUB_APPLY, 1},
    {"dim", OPT_INT, OFF(dim), "D",
     "code length 1 <= D <= K (required for pca and random; K for identity and centred, P*J "
     "for vq)",
     1, INT64_MAX, NULL, SUB_FIT, 0},
    {"whiten", OPT_FLAG, OFF(whiten), NULL,
     "pca: divide component d by sigma_d = sqrt(lambda_d) (default off)", 0, 0, NULL, SUB_FIT, 0},
    {"seed", OPT_INT, OFF(seed), "S",
     "random: the seed of R; vq: the seed of the k-means++ seeding (default 0)", 0, INT64_MAX, NULL,
     SUB_FIT, 0},
    {"patch", OPT_INT, OFF(patch), "P",
     "vq: the side p of the square patches; p divides the height and the width (required for "
     "vq)",
     1, INT64_MAX, NULL, SUB_FIT, 0},
    {"codes", OPT_INT, OFF(codes), "J",
     "vq: the codebook size J, at most the number of training patches (required for vq); "
     "D = P*J with P = (H/p)(W/p)",
     1, INT64_MAX, NULL, SUB_FIT, 0},
    {"decode", OPT_FLAG, OFF(decode), NULL,
     "apply: decode codes [n][D] into images [n][K] (default: encode)", 0, 0, NULL, SUB_APPLY, 0},
    {"quiet", OPT_FLAG, OFF(quiet), NULL, "no summary line", 0, 0, NULL, SUB_FIT | SUB_APPLY, 0},
    {"verbose", OPT_FLAG, OFF(verbose), NULL,
     "phase timers (min/mean/max over ranks) on standard error", 0, 0, NULL, SUB_FIT | SUB_APPLY,
     0},
    {"help", OPT_FLAG, OFF(help), NULL, "this text", 0, 0, NULL, SUB_FIT | SUB_APPLY, 0},
};
static const opt_cli cli = {"encode", options, sizeof options / sizeof options[0]};

static void print_help(FILE *f) {
    fprintf(
        f,
        "usage: mpirun -n R uhn encode fit --encoder NAME --input FILE[:DATASET] --model OUT.h5\n"
        "                                  [--dim D] [--whiten] [--patch P] [--codes J] [--seed "
        "S]\n"
        "       mpirun -n R uhn encode apply --model M.h5 --input FILE[:DATASET] --output FILE\n"
        "                                    [--decode]\n\n"
        "fit: fits an encoder on training images and writes the model file (attributes:\n"
        "the encoder and its parameters; datasets mean [K], components [D][K] and\n"
        "variances [D] for pca, mean [K] for centred, codebook [J][p*p*C] for vq, none\n"
        "for random and identity). mlp is not fitted here: postprocess/train_autoencoder.py\n"
        "trains it and writes its model file (layers/encoder/<i>, layers/decoder/<i>).\n"
        "apply: writes `output` [n][D] float32 (codes) or, with --decode, [n][K] (images).\n"
        "Options take `--opt value` or `--opt=value`.\n\n");
    opt_print_table(f, &cli, 27);
    fprintf(f, "\nencoders:\n");
    for (int i = 0; i < uhn_encoder_count(); ++i) {
        fprintf(f, "  %-10s ", uhn_encoder_name_at(i));
        opt_print_wrapped(f, 13, 13, uhn_encoder_help_at(i));
    }
    fprintf(f, "\n`uhn encode text` (captions as codes) is not yet available.\n"
               "\nExit status: 0 on success, 2 on bad input (one line on standard error names\n"
               "the file, dataset, option or index at fault), 1 on other failures. A failed run\n"
               "leaves no output file and never damages an existing one.\n");
}

/* ------------------------------------------------------------------------ */
/* Shared steps                                                             */

typedef struct encode_run {
    uhn_ctx *ctx;
    int argc;
    char **argv;
    encode_args a;
    uhn_h5_name in_name;
    uhn_rows_input in;
    int64_t row0, nloc;
    float *x, *y; /* this rank's input and result rows */
    uhn_encoder *enc;
    double t_start, t_read, t_work;
    time_t wall_start;
} encode_run;

/* This rank's block of rows (the layout uhn_encoder_fit expects), read. */
static int read_block(encode_run *r) {
    uhn_ctx *ctx = r->ctx;
    int64_t block = uhn_encoder_fit_block(r->in.n, ctx->size);
    r->row0 = (int64_t)ctx->rank * block;
    if (r->row0 > r->in.n) r->row0 = r->in.n;
    r->nloc = r->in.n - r->row0 < block ? r->in.n - r->row0 : block;
    size_t bytes = (size_t)(r->nloc > 0 ? r->nloc : 1) * (size_t)r->in.k * sizeof(float);
    r->x = malloc(bytes);
    int st = r->x ? UHN_OK
                  : uhn_fail(ctx, UHN_ENOMEM, "out of memory for %lld rows of %s",
                             (long long)r->nloc, r->in.name.label);
    UHN_CALL(uhn_agree(ctx, st));
    double t0 = uhn_wtime();
    UHN_CALL(uhn_rows_read(ctx, &r->in, r->row0, r->nloc, r->x));
    r->t_read = uhn_wtime() - t0;
    return UHN_OK;
}

static int refuse_same(uhn_ctx *ctx, const char *out, const char *out_role, const char *in,
                       const char *in_role) {
    if (uhn_h5_same_file(out, in))
        return uhn_fail(ctx, UHN_EINPUT, "%s: '%s' is the %s file; refusing to replace it",
                        out_role, out, in_role);
    return UHN_OK;
}

static int commit_or_abort(uhn_h5_writer *w, int st) {
    if (st != UHN_OK) {
        uhn_h5_writer_abort(w);
        return st;
    }
    return uhn_h5_writer_commit(w);
}

/* ------------------------------------------------------------------------ */
/* fit                                                                      */

static int write_model(encode_run *r) {
    uhn_h5_writer *w = NULL;
    UHN_CALL(uhn_h5_writer_create(r->ctx, r->a.model, &w));
    int st = uhn_encoder_save(r->enc, w, "/");
    if (st == UHN_OK) st = uhn_h5_attr_string(w, "/", "command", "encode fit");
    if (st == UHN_OK) st = uhn_h5_attr_string(w, "/", "input", r->in.name.label);
    if (st == UHN_OK) st = uhn_h5_attr_int64(w, "/", "ranks", r->ctx->size);
    if (st == UHN_OK) st = uhn_h5_attr_string(w, "/", "uhn_version", UHN_VERSION_STRING);
    if (st == UHN_OK)
        st = uhn_h5_write_provenance(w, "provenance", r->wall_start, r->argc, r->argv);
    return commit_or_abort(w, st);
}

static int run_fit(encode_run *r) {
    uhn_ctx *ctx = r->ctx;
    encode_args *a = &r->a;
    uhn_encoder_config cfg = {a->encoder, a->dim, a->whiten, (uint64_t)a->seed, 0,
                              0,          0,      a->patch,  a->codes};
    /* The name and flags first, before any file is opened. */
    UHN_CALL(opt_flagged(ctx, &cli, uhn_agree(ctx, uhn_encoder_check_fit(ctx, &cfg))));
    UHN_CALL(uhn_agree(ctx, uhn_h5_name_parse(ctx, a->input, "images", "--input", &r->in_name)));
    UHN_CALL(uhn_agree(ctx, refuse_same(ctx, a->model, "--model", r->in_name.file, "--input")));
    UHN_CALL(uhn_h5_check_output(ctx, a->model, "--model"));
    UHN_CALL(uhn_rows_open(ctx, &r->in_name, 1, &r->in));
    cfg.height = r->in.height, cfg.width = r->in.width, cfg.channels = r->in.channels;
    UHN_CALL(opt_flagged(ctx, &cli, uhn_agree(ctx, uhn_encoder_check_fit(ctx, &cfg))));
    UHN_CALL(read_block(r));
    UHN_CALL(opt_flagged(ctx, &cli, uhn_encoder_fit(ctx, &cfg, r->x, r->nloc, r->in.n, &r->enc)));
    UHN_CALL(uhn_agree(ctx, ctx->rank == 0 ? write_model(r) : UHN_OK));
    if (ctx->rank == 0 && !a->quiet) {
        char more[256];
        uhn_encoder_describe(r->enc, more, sizeof more);
        printf("uhn encode fit: %s (D = %lld%s%s) on %lld images of %lldx%lldx%lld (K = %lld) on "
               "%d rank(s): fit %.3f s, read %.3f s, total %.3f s -> %s\n",
               uhn_encoder_name(r->enc), (long long)uhn_encoder_dim(r->enc),
               a->whiten ? ", whitened" : "", more, (long long)r->in.n, (long long)r->in.height,
               (long long)r->in.width, (long long)r->in.channels, (long long)r->in.k, ctx->size,
               uhn_encoder_fit_seconds(r->enc), r->t_read, uhn_wtime() - r->t_start, a->model);
        fflush(stdout);
    }
    return UHN_OK;
}

/* ------------------------------------------------------------------------ */
/* apply                                                                    */

/* Input shape against the model. Not collective (same data on every rank). */
static int check_against_model(encode_run *r) {
    const uhn_encoder_config *c = uhn_encoder_config_of(r->enc);
    int64_t want = r->a.decode ? uhn_encoder_dim(r->enc) : uhn_encoder_k(r->enc);
    if (r->in.k != want)
        return uhn_fail(r->ctx, UHN_EINPUT,
                        "--input: %s has %lld values per row but the model %s %s %lld (%s)",
                        r->in.name.label, (long long)r->in.k, r->a.model,
                        r->a.decode ? "has code length D =" : "was fitted on K =", (long long)want,
                        r->a.decode ? "codes" : "pixels per image");
    if (!r->a.decode && r->in.rank >= 3 && c->height > 1 &&
        (r->in.height != c->height || r->in.width != c->width || r->in.channels != c->channels))
        return uhn_fail(r->ctx, UHN_EINPUT,
                        "--input: %s holds %lldx%lldx%lld images but the model %s was fitted on "
                        "%lldx%lldx%lld",
                        r->in.name.label, (long long)r->in.height, (long long)r->in.width,
                        (long long)r->in.channels, r->a.model, (long long)c->height,
                        (long long)c->width, (long long)c->channels);
    return UHN_OK;
}

/* Gathers every rank's result rows (cols floats each) on rank 0 into *all. */
static int gather_rows(encode_run *r, int64_t cols, float **all) {
    uhn_ctx *ctx = r->ctx;
    int st = UHN_OK;
    int *counts = NULL, *displs = NULL;
    if ((int64_t)r->in.n * cols > INT_MAX)
        st = uhn_fail(ctx, UHN_EINPUT,
                      "--input: %lld x %lld results exceed one MPI message "
                      "(2^31 values); split the input",
                      (long long)r->in.n, (long long)cols);
    if (st == UHN_OK && ctx->rank == 0) {
        *all = malloc((size_t)(r->in.n * cols) * sizeof **all);
        counts = malloc((size_t)ctx->size * sizeof *counts);
        displs = malloc((size_t)ctx->size * sizeof *displs);
        if (!*all || !counts || !displs)
            st =
                uhn_fail(ctx, UHN_ENOMEM, "out of memory for %lld result rows", (long long)r->in.n);
    }
    st = uhn_agree(ctx, st);
    int mine = (int)(r->nloc * cols);
    if (st == UHN_OK &&
        MPI_Gather(&mine, 1, MPI_INT, counts, 1, MPI_INT, 0, ctx->comm) != MPI_SUCCESS)
        st = uhn_fail(ctx, UHN_EMPI, "MPI_Gather of the row counts failed");
    if (st == UHN_OK && ctx->rank == 0)
        for (int p = 0, off = 0; p < ctx->size; off += counts[p], ++p) displs[p] = off;
    if (st == UHN_OK && MPI_Gatherv(r->y, mine, MPI_FLOAT, ctx->rank == 0 ? *all : NULL, counts,
                                    displs, MPI_FLOAT, 0, ctx->comm) != MPI_SUCCESS)
        st = uhn_fail(ctx, UHN_EMPI, "MPI_Gatherv of the results failed");
    free(counts);
    free(displs);
    return uhn_agree(ctx, st);
}

static int write_apply(encode_run *r, const float *all, int64_t cols) {
    const uhn_encoder_config *c = uhn_encoder_config_of(r->enc);
    uhn_h5_writer *w = NULL;
    UHN_CALL(uhn_h5_writer_create(r->ctx, r->a.output, &w));
    uhn_h5_dataset d = {"output",
                        UHN_H5_FLOAT32,
                        2,
                        {r->in.n, cols},
                        all,
                        r->a.decode ? "decoded images dec(c), row-major H, W, C"
                                    : "codes c = enc(x), one row per image",
                        r->a.decode ? "pixel value" : "code value",
                        r->a.decode ? "image,pixel" : "image,component"};
    int st = uhn_h5_write_dataset(w, &d);
    const struct {
        const char *name, *value;
    } strings[] = {{"command", r->a.decode ? "encode apply --decode" : "encode apply"},
                   {"encoder", uhn_encoder_name(r->enc)},
                   {"model", r->a.model},
                   {"input", r->in.name.label},
                   {"uhn_version", UHN_VERSION_STRING}};
    for (size_t i = 0; st == UHN_OK && i < sizeof strings / sizeof strings[0]; ++i)
        st = uhn_h5_attr_string(w, "/", strings[i].name, strings[i].value);
    const struct {
        const char *name;
        int64_t value;
    } ints[] = {{"dim", uhn_encoder_dim(r->enc)},
                {"input_length", uhn_encoder_k(r->enc)},
                {"height", c->height},
                {"width", c->width},
                {"channels", c->channels},
                {"whiten", c->whiten},
                {"seed", (int64_t)c->seed},
                {"decode", r->a.decode},
                {"n", r->in.n},
                {"ranks", r->ctx->size}};
    for (size_t i = 0; st == UHN_OK && i < sizeof ints / sizeof ints[0]; ++i)
        st = uhn_h5_attr_int64(w, "/", ints[i].name, ints[i].value);
    if (st == UHN_OK)
        st = uhn_h5_write_provenance(w, "provenance", r->wall_start, r->argc, r->argv);
    return commit_or_abort(w, st);
}

static int run_apply(encode_run *r) {
    uhn_ctx *ctx = r->ctx;
    encode_args *a = &r->a;
    const char *dflt = a->decode ? "output" : "images";
    UHN_CALL(uhn_agree(ctx, uhn_h5_name_parse(ctx, a->input, dflt, "--input", &r->in_name)));
    int st = refuse_same(ctx, a->output, "--output", r->in_name.file, "--input");
    if (st == UHN_OK) st = refuse_same(ctx, a->output, "--output", a->model, "--model");
    UHN_CALL(uhn_agree(ctx, st));
    UHN_CALL(uhn_h5_check_output(ctx, a->output, "--output"));
    UHN_CALL(uhn_encoder_load(ctx, a->model, "--model", &r->enc));
    UHN_CALL(uhn_rows_open(ctx, &r->in_name, !a->decode, &r->in));
    UHN_CALL(uhn_agree(ctx, check_against_model(r)));
    UHN_CALL(read_block(r));
    int64_t cols = a->decode ? uhn_encoder_k(r->enc) : uhn_encoder_dim(r->enc);
    r->y = malloc((size_t)(r->nloc > 0 ? r->nloc : 1) * (size_t)cols * sizeof *r->y);
    st = r->y ? UHN_OK : uhn_fail(ctx, UHN_ENOMEM, "out of memory for the results");
    UHN_CALL(uhn_agree(ctx, st));
    double t0 = uhn_wtime();
    st = a->decode ? uhn_encoder_decode(ctx, r->enc, r->x, r->nloc, r->y)
                   : uhn_encoder_encode(ctx, r->enc, r->x, r->nloc, r->y);
    UHN_CALL(uhn_agree(ctx, st));
    r->t_work = uhn_wtime() - t0;
    ctx->timers.compute += r->t_work;
    float *all = NULL;
    st = gather_rows(r, cols, &all);
    if (st == UHN_OK) st = uhn_agree(ctx, ctx->rank == 0 ? write_apply(r, all, cols) : UHN_OK);
    free(all);
    UHN_CALL(st);
    if (ctx->rank == 0 && !a->quiet) {
        printf("uhn encode apply: %s %lld rows with %s (D = %lld, K = %lld) on %d rank(s) in "
               "%.3f s -> %s\n",
               a->decode ? "decoded" : "encoded", (long long)r->in.n, uhn_encoder_name(r->enc),
               (long long)uhn_encoder_dim(r->enc), (long long)uhn_encoder_k(r->enc), ctx->size,
               uhn_wtime() - r->t_start, a->output);
        fflush(stdout);
    }
    return UHN_OK;
}

/* ------------------------------------------------------------------------ */

static int run(encode_run *r) {
    uhn_ctx *ctx = r->ctx;
    const char *sub = r->argc > 1 ? r->argv[1] : NULL;
    if (!sub)
        return uhn_fail(ctx, UHN_EINPUT, "uhn encode needs fit or apply (see uhn encode --help)");
    if (!strcmp(sub, "--help") || !strcmp(sub, "-h")) {
        if (ctx->rank == 0) print_help(stdout);
        return UHN_OK;
    }
    if (!strcmp(sub, "text"))
        return uhn_fail(ctx, UHN_EINPUT,
                        "uhn encode text is not yet available (see uhn encode "
                        "--help)");
    int which = !strcmp(sub, "fit") ? SUB_FIT : !strcmp(sub, "apply") ? SUB_APPLY : 0;
    if (!which)
        return uhn_fail(ctx, UHN_EINPUT, "unknown subcommand 'encode %s' (valid: fit, apply)", sub);
    UHN_CALL(uhn_agree(
        ctx, opt_parse(ctx, &cli, (unsigned)which, sub, r->argc, r->argv, 2, &r->a, OFF(help))));
    if (r->a.help) {
        if (ctx->rank == 0) print_help(stdout);
        return UHN_OK;
    }
    ctx->verbose = r->a.verbose ? 2 : r->a.quiet ? 0 : 1;
    UHN_CALL(which == SUB_FIT ? run_fit(r) : run_apply(r));
    if (r->a.verbose)
        UHN_CALL(uhn_timers_report(ctx, which == SUB_FIT ? "uhn encode fit" : "uhn encode apply"));
    return UHN_OK;
}

int uhn_cmd_encode(uhn_ctx *ctx, int argc, char **argv) {
    encode_run *r = calloc(1, sizeof *r);
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
    uhn_encoder_destroy(r->enc);
    free(r->x);
    free(r->y);
    free(r);
    return st;
}
