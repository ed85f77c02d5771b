/*
 * `uhn encode fit|apply|text` (spec §14): encoders on images a user has in
 * HDF5, and the text encoders (spec §13) on captions.
 *
 *   fit    reads the training images (each rank its own block of rows),
 *          fits the encoder collectively and lets rank 0 write the model file
 *          atomically;
 *   apply  loads a model, encodes images (or, with --decode, decodes codes),
 *          each rank its own block of rows, gathers the rows on rank 0 and
 *          writes `output` atomically;
 *   text   reads the captions on every rank (they are small), encodes each
 *          rank's own block of them, gathers the rows (and, for pixel, the
 *          digests) on rank 0 and writes `output` (and `digest`) atomically.
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
#include "uhn/text.h"
#include "uhn/uhn.h"

/* ------------------------------------------------------------------------ */
/* Options                                                                  */

enum { SUB_FIT = 1, SUB_APPLY = 2, SUB_TEXT = 4, SUB_ALL = 7 };

typedef struct encode_args {
    const char *encoder, *input, *model, *output, *method, *shape; /* point into argv */
    int64_t dim, seed, patch, codes, n;
    int whiten, decode, quiet, verbose, help;
} encode_args;

#define OFF(field) offsetof(encode_args, field)
static const opt_def options[] = {
    {"encoder", OPT_STR, OFF(encoder), "NAME", "the encoder (required; see below)", 0, 0, NULL,
     SUB_FIT, 1},
    {"input", OPT_STR, OFF(input), "FILE[:DATASET]",
     "images [n][K], [n][H][W] or [n][H][W][C], uint8 (scaled by 1/255) or float in [0, 1] "
     "(dataset 'images'); with --decode, codes [n][D] (dataset 'output'); text: a 1-D dataset "
     "of strings, UTF-8 or ASCII, variable- or fixed-length (dataset 'captions') (required)",
     0, 0, NULL, SUB_ALL, 1},
    {"model", OPT_STR, OFF(model), "FILE",
     "fit: the model file to write atomically; apply: the model to use (required)", 0, 0, NULL,
     SUB_FIT | SUB_APPLY, 1},
    {"output", OPT_STR, OFF(output), "FILE",
     "apply, text: the results file, written atomically (required)", 0, 0, NULL,
     SUB_APPLY | SUB_TEXT, 1},
    {"method", OPT_STR, OFF(method), "NAME", "text: the text encoder, pixel or ngram (required)", 0,
     0, NULL, SUB_TEXT, 1},
    {"shape", OPT_STR, OFF(shape), "H,W,C",
     "text pixel: the image the digest is drawn into, H >= 5 and W >= 3 (required for pixel)", 0, 0,
     NULL, SUB_TEXT, 0},
    {"n", OPT_INT, OFF(n), "N", "text ngram: the n-gram length in characters (default 3)", 1,
     INT32_MAX, NULL, SUB_TEXT, 0},
    {"dim", OPT_INT, OFF(dim), "D",
     "code length 1 <= D <= K (required for pca and random; K for identity and centred, P*J "
     "for vq); text ngram: the number of buckets (required); text pixel: H*W*C if given",
     1, INT64_MAX, NULL, SUB_FIT | SUB_TEXT, 0},
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
    {"quiet", OPT_FLAG, OFF(quiet), NULL, "no summary line", 0, 0, NULL, SUB_ALL, 0},
    {"verbose", OPT_FLAG, OFF(verbose), NULL,
     "phase timers (min/mean/max over ranks) on standard error", 0, 0, NULL, SUB_ALL, 0},
    {"help", OPT_FLAG, OFF(help), NULL, "this text", 0, 0, NULL, SUB_ALL, 0},
};
static const opt_cli cli = {"encode", options, sizeof options / sizeof options[0]};

static void print_help(FILE *f) {
    fprintf(
        f,
        "usage: mpirun -n R uhn encode fit --encoder NAME --input FILE[:DATASET] --model OUT.h5\n"
        "                                  [--dim D] [--whiten] [--patch P] [--codes J] [--seed "
        "S]\n"
        "       mpirun -n R uhn encode apply --model M.h5 --input FILE[:DATASET] --output FILE\n"
        "                                    [--decode]\n"
        "       mpirun -n R uhn encode text --method pixel|ngram --input FILE[:DATASET] --output\n"
        "                                   FILE [--shape H,W,C] [--dim D] [--n N]\n\n"
        "fit: fits an encoder on training images and writes the model file (attributes:\n"
        "the encoder and its parameters; datasets mean [K], components [D][K] and\n"
        "variances [D] for pca, mean [K] for centred, codebook [J][p*p*C] for vq, none\n"
        "for random and identity). mlp is not fitted here: postprocess/train_autoencoder.py\n"
        "trains it and writes its model file (layers/encoder/<i>, layers/decoder/<i>).\n"
        "apply: writes `output` [n][D] float32 (codes) or, with --decode, [n][K] (images).\n"
        "text: encodes captions and writes `output` [n][D] float32 and, for pixel,\n"
        "`digest` [n] (the SHA-256 hex strings drawn; D = H*W*C).\n"
        "Options take `--opt value` or `--opt=value`.\n\n");
    opt_print_table(f, &cli, 27);
    fprintf(f, "\nencoders:\n");
    for (int i = 0; i < uhn_encoder_count(); ++i) {
        fprintf(f, "  %-10s ", uhn_encoder_name_at(i));
        opt_print_wrapped(f, 13, 13, uhn_encoder_help_at(i));
    }
    fprintf(f, "\ntext encoders (--method):\n");
    for (int i = 0; i < uhn_text_method_count(); ++i) {
        fprintf(f, "  %-10s ", uhn_text_method_name_at(i));
        opt_print_wrapped(f, 13, 13, uhn_text_method_help_at(i));
    }
    fprintf(f, "\nExit status: 0 on success, 2 on bad input (one line on standard error names\n"
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
    uhn_text_config text;   /* text: the encoder asked for */
    int64_t *cap_off;       /* text: the captions, [n + 1] offsets into cap_buf */
    char *cap_buf, *digest; /* text: the captions; this rank's digests (65 chars each) */
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

/* Root attributes of an output file, named values of two kinds. */
typedef struct str_attr {
    const char *name, *value;
} str_attr;
typedef struct int_attr {
    const char *name;
    int64_t value;
} int_attr;

/* The dimensions of apply and text outputs, labelled with index scales so
 * that xarray opens them (a model's own are labelled by uhn_encoder_save). */
static const uhn_h5_axis encode_axes[] = {
    {"image", "index of the image (row of --input)"},
    {"caption", "index of the caption (row of --input)"},
    {"component", "index of the code component (column of the codes)"},
    {"pixel", "index of the pixel value, row-major H, W, C"},
};

/* Labels the datasets' dimensions, writes the root attributes and the
 * provenance group after the datasets (st: how writing them went), then
 * commits the file or abandons it. */
static int finish_output(encode_run *r, uhn_h5_writer *w, int st, const str_attr *strings,
                         size_t nstr, const int_attr *ints, size_t nint) {
    if (st == UHN_OK)
        st = uhn_h5_label_axes(w, "/", encode_axes, sizeof encode_axes / sizeof encode_axes[0]);
    for (size_t i = 0; st == UHN_OK && i < nstr; ++i)
        st = uhn_h5_attr_string(w, "/", strings[i].name, strings[i].value);
    for (size_t i = 0; st == UHN_OK && i < nint; ++i)
        st = uhn_h5_attr_int64(w, "/", ints[i].name, ints[i].value);
    if (st == UHN_OK)
        st = uhn_h5_write_provenance(w, "provenance", r->wall_start, r->argc, r->argv);
    return commit_or_abort(w, st);
}

/* ------------------------------------------------------------------------ */
/* fit                                                                      */

static int write_model(encode_run *r) {
    uhn_h5_writer *w = NULL;
    UHN_CALL(uhn_h5_writer_create(r->ctx, r->a.model, &w));
    int st = uhn_encoder_save(r->enc, w, "/");
    const str_attr strings[] = {{"command", "encode fit"},
                                {"input", r->in.name.label},
                                {"uhn_version", UHN_VERSION_STRING}};
    const int_attr ints[] = {{"ranks", r->ctx->size}};
    return finish_output(r, w, st, strings, 3, ints, 1);
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

/* Gathers every rank's block of rows (nloc rows of cols elements of `type`,
 * esize bytes each, from `mine`; blocks in rank order) on rank 0 into *all
 * (n rows, malloc'd there). Collective; agreed. */
static int gather_block(uhn_ctx *ctx, int64_t n, int64_t nloc, const void *mine, int64_t cols,
                        MPI_Datatype type, size_t esize, void **all) {
    int st = UHN_OK;
    int *counts = NULL, *displs = NULL;
    if (n * cols > INT_MAX)
        st = uhn_fail(ctx, UHN_EINPUT,
                      "--input: %lld x %lld results exceed one MPI message "
                      "(2^31 values); split the input",
                      (long long)n, (long long)cols);
    if (st == UHN_OK && ctx->rank == 0) {
        *all = malloc((size_t)(n * cols) * esize);
        counts = malloc((size_t)ctx->size * sizeof *counts);
        displs = malloc((size_t)ctx->size * sizeof *displs);
        if (!*all || !counts || !displs)
            st = uhn_fail(ctx, UHN_ENOMEM, "out of memory for %lld result rows", (long long)n);
    }
    st = uhn_agree(ctx, st);
    int count = (int)(nloc * cols);
    if (st == UHN_OK &&
        MPI_Gather(&count, 1, MPI_INT, counts, 1, MPI_INT, 0, ctx->comm) != MPI_SUCCESS)
        st = uhn_fail(ctx, UHN_EMPI, "MPI_Gather of the row counts failed");
    if (st == UHN_OK && ctx->rank == 0)
        for (int p = 0, off = 0; p < ctx->size; off += counts[p], ++p) displs[p] = off;
    if (st == UHN_OK && MPI_Gatherv(mine, count, type, ctx->rank == 0 ? *all : NULL, counts, displs,
                                    type, 0, ctx->comm) != MPI_SUCCESS)
        st = uhn_fail(ctx, UHN_EMPI, "MPI_Gatherv of the results failed");
    free(counts);
    free(displs);
    return uhn_agree(ctx, st);
}

/* Gathers every rank's result rows (cols floats each) on rank 0 into *all. */
static int gather_rows(encode_run *r, int64_t cols, float **all) {
    void *v = NULL;
    int st = gather_block(r->ctx, r->in.n, r->nloc, r->y, cols, MPI_FLOAT, sizeof(float), &v);
    *all = v;
    return st;
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
    const str_attr strings[] = {{"command", r->a.decode ? "encode apply --decode" : "encode apply"},
                                {"encoder", uhn_encoder_name(r->enc)},
                                {"model", r->a.model},
                                {"input", r->in.name.label},
                                {"uhn_version", UHN_VERSION_STRING}};
    const int_attr ints[] = {{"dim", uhn_encoder_dim(r->enc)},
                             {"input_length", uhn_encoder_k(r->enc)},
                             {"height", c->height},
                             {"width", c->width},
                             {"channels", c->channels},
                             {"whiten", c->whiten},
                             {"seed", (int64_t)c->seed},
                             {"decode", r->a.decode},
                             {"n", r->in.n},
                             {"ranks", r->ctx->size}};
    return finish_output(r, w, st, strings, sizeof strings / sizeof strings[0], ints,
                         sizeof ints / sizeof ints[0]);
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
/* text                                                                     */

/* --shape H,W,C into the text configuration. Not collective. */
static int parse_shape(uhn_ctx *ctx, const char *arg, uhn_text_config *cfg) {
    int64_t v[3];
    char part[64], why[UHN_MSG_MAX / 2];
    const char *at = arg;
    for (int i = 0; i < 3; ++i) {
        size_t len = strcspn(at, ",");
        int last = at[len] == '\0';
        if (len >= sizeof part || (i < 2 && last) || (i == 2 && !last))
            return uhn_fail(ctx, UHN_EINPUT,
                            "--shape: '%s' is not H,W,C (three positive integers separated by "
                            "commas)",
                            arg);
        memcpy(part, at, len);
        part[len] = '\0';
        if (uhn_parse_int64(part, 1, INT32_MAX, &v[i], why, sizeof why) != UHN_PARSE_OK)
            return uhn_fail(ctx, UHN_EINPUT, "--shape %s: %c: %s", arg, "HWC"[i], why);
        at += len + 1;
    }
    cfg->height = v[0], cfg->width = v[1], cfg->channels = v[2];
    return UHN_OK;
}

/* Every caption is valid UTF-8 (every rank checks all: they are the same). */
static int check_captions(encode_run *r) {
    for (int64_t i = 0; i < r->in.n; ++i) {
        size_t len = (size_t)(r->cap_off[i + 1] - r->cap_off[i] - 1);
        if (uhn_text_check_caption(r->ctx, r->cap_buf + r->cap_off[i], len, i) != UHN_OK) {
            char why[UHN_MSG_MAX];
            snprintf(why, sizeof why, "%s", r->ctx->msg);
            return uhn_fail(r->ctx, UHN_EINPUT, "--input: %s: %s", r->in_name.label, why);
        }
    }
    return UHN_OK;
}

/* This rank's block of captions into r->y (and r->digest). Not collective. */
static int encode_block(encode_run *r, int64_t dim) {
    int has_digest = uhn_text_has_digest(&r->text);
    r->y = malloc((size_t)(r->nloc > 0 ? r->nloc : 1) * (size_t)dim * sizeof *r->y);
    r->digest = malloc((size_t)(r->nloc > 0 ? r->nloc : 1) * (UHN_TEXT_HEX_LEN + 1));
    if (!r->y || !r->digest)
        return uhn_fail(r->ctx, UHN_ENOMEM, "out of memory for %lld text codes of length %lld",
                        (long long)r->nloc, (long long)dim);
    for (int64_t i = 0; i < r->nloc; ++i) {
        int64_t g = r->row0 + i;
        UHN_CALL(uhn_text_encode(r->ctx, &r->text, r->cap_buf + r->cap_off[g],
                                 (size_t)(r->cap_off[g + 1] - r->cap_off[g] - 1), g, r->y + i * dim,
                                 has_digest ? r->digest + i * (UHN_TEXT_HEX_LEN + 1) : NULL));
    }
    return UHN_OK;
}

static int write_text(encode_run *r, const float *all, const char *digests, int64_t dim) {
    const uhn_text_config *c = &r->text;
    int pixel = uhn_text_has_digest(c);
    int64_t n = r->in.n;
    const char **rows = NULL;
    uhn_h5_writer *w = NULL;
    UHN_CALL(uhn_h5_writer_create(r->ctx, r->a.output, &w));
    uhn_h5_dataset d = {"output",
                        UHN_H5_FLOAT32,
                        2,
                        {n, dim},
                        all,
                        pixel ? "each caption's SHA-256 digest (64 lowercase hex characters) "
                                "drawn with a 3x5 bitmap font in 4x6 cells, row-major H, W, C"
                              : "hashed character n-grams of each caption, L2-normalised",
                        pixel ? "pixel value" : "code value",
                        pixel ? "caption,pixel" : "caption,component"};
    int st = uhn_h5_write_dataset(w, &d);
    if (st == UHN_OK && pixel) {
        rows = malloc((size_t)n * sizeof *rows);
        if (!rows)
            st = uhn_fail(r->ctx, UHN_ENOMEM, "out of memory for %lld digests", (long long)n);
        for (int64_t i = 0; st == UHN_OK && i < n; ++i)
            rows[i] = digests + i * (UHN_TEXT_HEX_LEN + 1);
        if (st == UHN_OK)
            st = uhn_h5_write_strings(w, "digest", n, rows,
                                      "SHA-256 of each caption's bytes, 64 lowercase hexadecimal "
                                      "characters (the text drawn in output)",
                                      "1", "caption");
    }
    free(rows);
    const str_attr strings[] = {{"command", "encode text"},
                                {"method", c->method},
                                {"input", r->in_name.label},
                                {"hash", "sha256"},
                                {"uhn_version", UHN_VERSION_STRING}};
    const int_attr ints[] = {{"dim", dim},
                             {"height", c->height},
                             {"width", c->width},
                             {"channels", c->channels},
                             {"n", pixel ? 0 : (c->n > 0 ? c->n : UHN_TEXT_NGRAM_N)},
                             {"glyph_width", pixel ? UHN_TEXT_GLYPH_W : 0},
                             {"glyph_height", pixel ? UHN_TEXT_GLYPH_H : 0},
                             {"cell_width", pixel ? UHN_TEXT_CELL_W : 0},
                             {"cell_height", pixel ? UHN_TEXT_CELL_H : 0},
                             {"rows", n},
                             {"ranks", r->ctx->size}};
    return finish_output(r, w, st, strings, sizeof strings / sizeof strings[0], ints,
                         sizeof ints / sizeof ints[0]);
}

static int run_text(encode_run *r) {
    uhn_ctx *ctx = r->ctx;
    encode_args *a = &r->a;
    r->text = (uhn_text_config){a->method, 0, 0, 0, a->dim, a->n};
    UHN_CALL(uhn_agree(ctx, a->shape ? parse_shape(ctx, a->shape, &r->text) : UHN_OK));
    UHN_CALL(opt_flagged(ctx, &cli, uhn_agree(ctx, uhn_text_check(ctx, &r->text))));
    int64_t dim = uhn_text_dim(&r->text);
    UHN_CALL(uhn_agree(ctx, uhn_h5_name_parse(ctx, a->input, "captions", "--input", &r->in_name)));
    UHN_CALL(uhn_agree(ctx, refuse_same(ctx, a->output, "--output", r->in_name.file, "--input")));
    UHN_CALL(uhn_h5_check_output(ctx, a->output, "--output"));
    double t0 = uhn_wtime();
    UHN_CALL(uhn_h5_read_strings(ctx, &r->in_name, &r->in.n, &r->cap_off, &r->cap_buf));
    r->t_read = uhn_wtime() - t0;
    UHN_CALL(uhn_agree(ctx, check_captions(r)));
    if (r->in.n * dim > INT_MAX) /* the gather's limit, before any work */
        return uhn_fail(ctx, UHN_EINPUT,
                        "--input: %lld captions x D = %lld values exceed one MPI message (2^31 "
                        "values); split the input",
                        (long long)r->in.n, (long long)dim);
    int64_t block = (r->in.n + ctx->size - 1) / ctx->size;
    r->row0 = (int64_t)ctx->rank * block < r->in.n ? (int64_t)ctx->rank * block : r->in.n;
    r->nloc = r->in.n - r->row0 < block ? r->in.n - r->row0 : block;
    t0 = uhn_wtime();
    UHN_CALL(uhn_agree(ctx, encode_block(r, dim)));
    r->t_work = uhn_wtime() - t0;
    ctx->timers.compute += r->t_work;
    float *all = NULL;
    void *digests = NULL;
    int st = gather_rows(r, dim, &all);
    if (st == UHN_OK && uhn_text_has_digest(&r->text))
        st = gather_block(ctx, r->in.n, r->nloc, r->digest, UHN_TEXT_HEX_LEN + 1, MPI_CHAR, 1,
                          &digests);
    if (st == UHN_OK)
        st = uhn_agree(ctx, ctx->rank == 0 ? write_text(r, all, digests, dim) : UHN_OK);
    free(all);
    free(digests);
    UHN_CALL(st);
    if (ctx->rank == 0 && !a->quiet) {
        printf(
            "uhn encode text: %lld caption(s) with %s (D = %lld) on %d rank(s) in %.3f s -> %s\n",
            (long long)r->in.n, r->text.method, (long long)dim, ctx->size, uhn_wtime() - r->t_start,
            a->output);
        fflush(stdout);
    }
    return UHN_OK;
}

/* ------------------------------------------------------------------------ */

static int run(encode_run *r) {
    uhn_ctx *ctx = r->ctx;
    const char *sub = r->argc > 1 ? r->argv[1] : NULL;
    if (!sub)
        return uhn_fail(ctx, UHN_EINPUT,
                        "uhn encode needs fit, apply or text (see uhn encode --help)");
    if (!strcmp(sub, "--help") || !strcmp(sub, "-h")) {
        if (ctx->rank == 0) print_help(stdout);
        return UHN_OK;
    }
    static const struct {
        const char *name, *title;
        unsigned bit;
        int (*run)(encode_run *);
    } subs[] = {{"fit", "uhn encode fit", SUB_FIT, run_fit},
                {"apply", "uhn encode apply", SUB_APPLY, run_apply},
                {"text", "uhn encode text", SUB_TEXT, run_text}};
    int k = -1;
    for (int i = 0; i < (int)(sizeof subs / sizeof subs[0]); ++i)
        if (!strcmp(sub, subs[i].name)) k = i;
    if (k < 0)
        return uhn_fail(ctx, UHN_EINPUT, "unknown subcommand 'encode %s' (valid: fit, apply, text)",
                        sub);
    unsigned which = subs[k].bit;
    UHN_CALL(
        uhn_agree(ctx, opt_parse(ctx, &cli, which, sub, r->argc, r->argv, 2, &r->a, OFF(help))));
    if (r->a.help) {
        if (ctx->rank == 0) print_help(stdout);
        return UHN_OK;
    }
    ctx->verbose = r->a.verbose ? 2 : r->a.quiet ? 0 : 1;
    UHN_CALL(subs[k].run(r));
    if (r->a.verbose) UHN_CALL(uhn_timers_report(ctx, subs[k].title));
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
    free(r->cap_off);
    free(r->cap_buf);
    free(r->digest);
    free(r);
    return st;
}
