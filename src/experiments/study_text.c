/*
 * Cross-stimulus memories in capacity studies (spec §13; the deck's [text]
 * section). Memory i of a trial, stored at position i, is
 *
 *   [c_I(x) ; s * t(caption of src(i))]
 *
 * c_I the image encoder's code (identity: the pixels), t the text code of a
 * caption (pixel: its SHA-256 digest drawn as an image and encoded with the
 * image encoder; ngram; external: a row of text.codes), src(i) = i - 1 when i
 * is the second memory of a pair that shares a caption (uhn_shared_pairs),
 * else i. Query m is [0 ; s * t(caption of src(m))], a blank image and the
 * caption, with the text coordinates held and used as the cue set when
 * text.known is on. s = text.scale, or auto: the mean ||c_I(x)|| over the
 * mean ||t|| of the stored memories, per (n, trial, encoder, shared fraction).
 */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "experiments/study_impl.h"

/* Digests drawn per call of the image encoder (pixel). */
#define RENDER_ROWS 256

/* The [text] keys a text encoder's parameter message is about. */
static int text_labelled(const study *s, int st) {
    static const study_param_key map[] = {{"method", UHN_KEY_TEXT_METHOD},
                                          {"dim", UHN_KEY_TEXT_DIM},
                                          {"n", UHN_KEY_TEXT_N},
                                          {"shape", UHN_KEY_DATA_SOURCE}};
    return study_relabel(s, st, map, (int)(sizeof map / sizeof map[0]));
}

/* Every image of the data set has a caption, in valid UTF-8. */
static int check_captions(study *s) {
    uhn_ctx *ctx = s->ctx;
    const char *where = uhn_deck_where(s->d, UHN_KEY_TEXT_METHOD);
    int64_t n = uhn_dataset_n(s->ds);
    if (n > 0 && !uhn_dataset_caption(s->ds, 0))
        return uhn_fail(ctx, UHN_EINPUT,
                        "%s: %s needs a caption per image; data set '%s' has no captions", where,
                        s->tcfg.method, uhn_dataset_spec(s->ds));
    for (int64_t i = 0; i < n; ++i) {
        const char *c = uhn_dataset_caption(s->ds, i);
        if (uhn_text_check_caption(ctx, c, strlen(c), i) != UHN_OK) {
            char msg[UHN_MSG_MAX];
            snprintf(msg, sizeof msg, "%s", ctx->msg);
            return uhn_fail(ctx, UHN_EINPUT, "data set '%s': %s", uhn_dataset_spec(s->ds), msg);
        }
    }
    return UHN_OK;
}

/* External codes: a finite [data n][D] matrix, read whole on every rank. */
static int read_external(study *s) {
    uhn_ctx *ctx = s->ctx;
    const char *where = uhn_deck_where(s->d, UHN_KEY_TEXT_CODES);
    uhn_h5_name name;
    uhn_h5_info info;
    UHN_CALL(
        uhn_h5_name_parse(ctx, uhn_deck_str(s->d, UHN_KEY_TEXT_CODES, 0), "codes", where, &name));
    UHN_CALL(uhn_h5_info_get(ctx, &name, &info));
    UHN_CALL(uhn_h5_check_matrix(ctx, &name, &info, "[N][D], one text code per image"));
    int64_t n = uhn_dataset_n(s->ds);
    if (info.dims[0] != n)
        return uhn_fail(ctx, UHN_EINPUT,
                        "%s: '%s' holds %" PRId64 " text codes; data set '%s' has %" PRId64
                        " images (one code per image)",
                        where, name.label, info.dims[0], uhn_dataset_spec(s->ds), n);
    s->DText = info.dims[1];
    s->ext = malloc((size_t)(n * s->DText) * sizeof(float) + 1);
    if (!s->ext) return uhn_fail(ctx, UHN_ENOMEM, "%s: out of memory for the text codes", where);
    UHN_CALL(uhn_h5_read_all(ctx, &name, UHN_H5_FLOAT32, n * s->DText, s->ext));
    for (int64_t e = 0; e < n * s->DText; ++e)
        if (!isfinite(s->ext[e]))
            return uhn_fail(ctx, UHN_EINPUT, "%s: '%s': text code %" PRId64 " is not finite", where,
                            name.label, e / s->DText);
    return UHN_OK;
}

int64_t study_text_dim(const study *s, int i) {
    if (!s->text) return 0;
    if (s->ext) return s->DText;
    if (!strcmp(s->tcfg.method, "pixel")) {
        const char *name = uhn_deck_str(s->d, UHN_KEY_ENCODER_NAME, i);
        return !strcmp(name, "identity") ? s->Kk : uhn_encoder_dim(s->enc[i]);
    }
    return uhn_text_dim(&s->tcfg);
}

int study_text_setup(study *s) {
    uhn_ctx *ctx = s->ctx;
    const uhn_deck *d = s->d;
    const char *m = uhn_deck_str(d, UHN_KEY_TEXT_METHOD, 0);
    s->text = strcmp(m, "none") != 0;
    s->bank_ti = -1;
    if (!s->text) return UHN_OK;
    memset(&s->tcfg, 0, sizeof s->tcfg);
    s->tcfg.method = m;
    if (!strcmp(m, "external")) {
        UHN_CALL(uhn_agree(ctx, read_external(s)));
    } else {
        if (!strcmp(m, "pixel"))
            s->tcfg.height = s->H, s->tcfg.width = s->W, s->tcfg.channels = s->C;
        else
            s->tcfg.dim = uhn_deck_int(d, UHN_KEY_TEXT_DIM, 0),
            s->tcfg.n = uhn_deck_int(d, UHN_KEY_TEXT_N, 0);
        UHN_CALL(uhn_agree(ctx, text_labelled(s, uhn_text_check(ctx, &s->tcfg))));
        UHN_CALL(uhn_agree(ctx, check_captions(s)));
    }
    if (uhn_deck_bool(d, UHN_KEY_OUTPUT_SEPARABILITY, 0))
        return uhn_fail(ctx, UHN_EINPUT,
                        "%s: on compares encoded image queries with the memories; the queries "
                        "of text.method = %s are text cues",
                        uhn_deck_where(d, UHN_KEY_OUTPUT_SEPARABILITY), m);
    /* The longest memory: image code and text code. */
    int64_t dimax = 0, dtmax = 0;
    for (int i = 0; i < s->nenc; ++i) {
        const char *name = uhn_deck_str(d, UHN_KEY_ENCODER_NAME, i);
        int64_t di = !strcmp(name, "identity") ? s->Kk : uhn_encoder_dim(s->enc[i]);
        int64_t dt = study_text_dim(s, i);
        if (di + dt > s->Dmax) s->Dmax = di + dt;
        if (di > dimax) dimax = di;
        if (dt > dtmax) dtmax = dt;
    }
    int64_t nmax = 0, row0, nloc;
    for (int j = 0; j < uhn_deck_count(d, UHN_KEY_MEMORY_N); ++j)
        if (uhn_deck_int(d, UHN_KEY_MEMORY_N, j) > nmax)
            nmax = uhn_deck_int(d, UHN_KEY_MEMORY_N, j);
    uhn_bank_partition(nmax, ctx->size, ctx->rank, &row0, &nloc);
    int64_t rows = nloc > QUERY_CHUNK ? nloc : QUERY_CHUNK;
    s->pair_shared = malloc((size_t)(nmax / 2 + 1));
    s->tcodes = malloc((size_t)(rows * dtmax) * sizeof(float) + 1);
    s->icodes = malloc((size_t)(nloc * dimax) * sizeof(float) + 1);
    s->render = malloc((size_t)(RENDER_ROWS * s->K) * sizeof(float) + 1);
    s->qknown = malloc((size_t)(QUERY_CHUNK * s->Dmax) + 1);
    int ok = s->pair_shared && s->tcodes && s->icodes && s->render && s->qknown;
    return uhn_agree(ctx,
                     ok ? UHN_OK : uhn_fail(ctx, UHN_ENOMEM, "out of memory for the text codes"));
}

void study_text_free(study *s) {
    free(s->ext), free(s->pair_shared), free(s->tcodes), free(s->icodes), free(s->render);
    free(s->qknown);
}

int study_text_shared(const study *s, int64_t i) {
    return s->text && i / 2 < s->subset_n / 2 && s->pair_shared[i / 2]; /* the drawn n */
}

/* The stored position whose caption position i takes: its pair's first when shared. */
static int64_t text_src(const study *s, int64_t i) {
    return (i & 1) && study_text_shared(s, i) ? i - 1 : i;
}

/*
 * The unscaled text codes of the memories at stored positions p0 .. p0 + n - 1
 * (the caption of src(p): the pair's first when shared) under the current
 * encoder, into out (n x DT). pixel draws RENDER_ROWS digests at a time and
 * encodes them with one call of the image encoder.
 */
static int text_codes(study *s, int64_t p0, int64_t n, float *out) {
    const int64_t DT = s->DT;
    const int pixel = !s->ext && !strcmp(s->tcfg.method, "pixel");
    const int identity = !strcmp(uhn_deck_str(s->d, UHN_KEY_ENCODER_NAME, s->cur), "identity");
    for (int64_t a = 0; a < n; a += RENDER_ROWS) {
        const int64_t m = n - a < RENDER_ROWS ? n - a : RENDER_ROWS;
        for (int64_t i = a; i < a + m; ++i) {
            const int64_t index = s->subset[text_src(s, p0 + i)];
            if (s->ext) {
                memcpy(out + i * DT, s->ext + index * s->DText, (size_t)DT * sizeof(float));
                continue;
            }
            const char *c = uhn_dataset_caption(s->ds, index);
            /* pixel: the drawn digest, as an image, for the image encoder below */
            float *dst = pixel && !identity ? s->render + (i - a) * s->K : out + i * DT;
            UHN_CALL(uhn_text_encode(s->ctx, &s->tcfg, c, strlen(c), index, dst, NULL));
        }
        if (pixel && !identity)
            UHN_CALL(uhn_encoder_encode(s->ctx, s->enc[s->cur], s->render, m, out + a * DT));
    }
    return UHN_OK;
}

static double norm2(const float *x, int64_t n) {
    double a = 0;
    for (int64_t k = 0; k < n; ++k) a += (double)x[k] * x[k];
    return sqrt(a);
}

int study_text_store(study *s, uhn_bank *b, int64_t t) {
    uhn_ctx *ctx = s->ctx;
    const int64_t DI = s->DI, DT = s->DT, D = DI + DT;
    int st = uhn_shared_pairs(s->seed, t, b->n_global, s->tshared, s->pair_shared) == 0
                 ? UHN_OK
                 : uhn_fail(ctx, UHN_ENOMEM, "out of memory drawing the shared captions");
    double sums[2] = {0, 0}; /* sum ||c_I||, sum ||t|| over this rank's rows */
    if (st == UHN_OK) st = text_codes(s, b->row0, b->n_local, s->tcodes);
    for (int64_t i = 0; st == UHN_OK && i < b->n_local; ++i) {
        sums[0] += norm2(s->icodes + i * DI, DI);
        sums[1] += norm2(s->tcodes + i * DT, DT);
    }
    UHN_CALL(uhn_agree(ctx, st));
    UHN_MPI(ctx, MPI_Allreduce(MPI_IN_PLACE, sums, 2, MPI_DOUBLE, MPI_SUM, ctx->comm));
    double sc = s->tscale;
    if (isnan(sc)) { /* auto */
        if (!(sums[1] > 0))
            return uhn_fail(ctx, UHN_EINPUT,
                            "%s: auto needs text codes that are not all 0 (the %" PRId64
                            " stored captions give zero codes)",
                            uhn_deck_where(s->d, UHN_KEY_TEXT_SCALE), b->n_global);
        sc = sums[0] / sums[1];
    }
    s->scale_used = sc;
    for (int64_t i = 0; i < b->n_local; ++i) {
        float *key = b->keys + i * D;
        memcpy(key, s->icodes + i * DI, (size_t)DI * sizeof(float));
        for (int64_t k = 0; k < DT; ++k) key[DI + k] = (float)(sc * s->tcodes[i * DT + k]);
    }
    return UHN_OK;
}

int study_text_queries(study *s, int64_t c0, int64_t nb) {
    const int64_t DI = s->DI, DT = s->DT, D = DI + DT;
    int st = text_codes(s, c0, nb, s->tcodes);
    for (int64_t j = 0; st == UHN_OK && j < nb; ++j) {
        float *q = s->qcode + j * D;
        memset(q, 0, (size_t)DI * sizeof(float));
        for (int64_t k = 0; k < DT; ++k) q[DI + k] = (float)(s->scale_used * s->tcodes[j * DT + k]);
        memset(s->qknown + j * D, 0, (size_t)DI);
        memset(s->qknown + j * D + DI, 1, (size_t)DT);
        memset(s->qbuf + j * s->Kk, 0, (size_t)s->Kk * sizeof(float)); /* the blank image */
    }
    return uhn_agree(s->ctx, st);
}
