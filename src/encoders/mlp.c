/*
 * The mlp encoder (spec §9): a dense autoencoder trained elsewhere (by
 * postprocess/train_autoencoder.py) and evaluated here from its model file.
 * The encoder is a stack of L_e dense layers from K to D values, the decoder a
 * stack of L_d layers from D back to K; each layer is a ← act(W a + b) with
 * act ∈ {identity, relu, tanh, sigmoid}.
 *
 * Model file, beyond the common attributes (dim = D, whiten = 0, seed = 0):
 *   attributes encoder_layers = L_e ≥ 1, decoder_layers = L_d ≥ 1 (int64);
 *   groups layers/encoder/0 … layers/encoder/<L_e − 1> and layers/decoder/0 …,
 *   each with datasets weight [out][in] and bias [out] (float32 or float64 on
 *   disk, finite) and a string attribute activation. Encoder layer 0 has
 *   in = K, each next layer's in is the previous one's out, the last out = D;
 *   decoder layer 0 has in = D and the last out = K.
 * Every malformed file is one line naming the file and the object at fault.
 *
 * A row is computed in float64, one cblas_dgemv per layer and row with the
 * layer's fixed matrix, and stored as float32 at the end: a row's result does
 * not depend on the other rows or the rank count. (OpenBLAS may split a large
 * dgemv over its own threads, which can change the last bits; uhn runs BLAS
 * with one thread per rank, OMP_NUM_THREADS=1, for bit-identical codes.)
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <mpi.h>

#include "encoders/encoder_impl.h"

enum { MLP_MAX_LAYERS = 1024 };

static double act_identity(double v) {
    return v;
}
static double act_relu(double v) {
    return v > 0.0 ? v : 0.0;
}
static double act_tanh(double v) {
    return tanh(v);
}
static double act_sigmoid(double v) {
    return 1.0 / (1.0 + exp(-v));
}

static const struct {
    const char *name;
    double (*f)(double);
} acts[] = {
    {"identity", act_identity},
    {"relu", act_relu},
    {"tanh", act_tanh},
    {"sigmoid", act_sigmoid},
};
enum { NACTS = sizeof acts / sizeof acts[0] };

typedef struct mlp_layer {
    int64_t in, out, act; /* act: an index of acts[] */
    double *w;            /* [out][in] */
    double *b;            /* [out] */
} mlp_layer;

struct enc_mlp {
    int64_t n[2];     /* layers of the encoder and of the decoder */
    mlp_layer *layer; /* n[0] encoder layers, then n[1] decoder layers */
};

static const char *const stack_name[2] = {"encoder", "decoder"};

static void destroy(uhn_encoder *e) {
    enc_mlp *m = e->mlp;
    if (!m) return;
    for (int64_t i = 0; m->layer && i < m->n[0] + m->n[1]; ++i) {
        free(m->layer[i].w);
        free(m->layer[i].b);
    }
    free(m->layer);
    free(m);
    e->mlp = NULL;
}

/* A new enc_mlp of n[0] + n[1] zeroed layers. */
static enc_mlp *mlp_new(const int64_t n[2]) {
    enc_mlp *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->n[0] = n[0];
    m->n[1] = n[1];
    m->layer = calloc((size_t)(n[0] + n[1]), sizeof *m->layer);
    if (!m->layer) {
        free(m);
        return NULL;
    }
    return m;
}

/* ------------------------------------------------------------------------ */
/* Evaluation                                                               */

/* Layers [first, first + n) on `in` values of src into the float32 dst; work
 * holds 2·e->work_len/2 float64 values (two buffers of the widest layer). */
static void forward(const uhn_encoder *e, int64_t first, int64_t n, const float *src, int64_t len,
                    float *dst, double *work) {
    const int64_t half = e->work_len / 2;
    double *a = work, *b = work + half;
    for (int64_t k = 0; k < len; ++k) a[k] = (double)src[k];
    for (int64_t i = first; i < first + n; ++i) {
        const mlp_layer *L = &e->mlp->layer[i];
        double (*f)(double) = acts[L->act].f;
        cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)L->out, (int)L->in, 1.0, L->w, (int)L->in, a,
                    1, 0.0, b, 1);
        for (int64_t o = 0; o < L->out; ++o) b[o] = f(b[o] + L->b[o]);
        double *t = a;
        a = b;
        b = t;
    }
    const int64_t out = e->mlp->layer[first + n - 1].out;
    for (int64_t k = 0; k < out; ++k) dst[k] = (float)a[k];
}

static void encode(const uhn_encoder *e, const float *x, float *c, double *work) {
    forward(e, 0, e->mlp->n[0], x, e->K, c, work);
}

static void decode(const uhn_encoder *e, const float *c, float *x, double *work) {
    forward(e, e->mlp->n[0], e->mlp->n[1], c, e->D, x, work);
}

/* Two buffers of the widest layer. */
static int prepare(uhn_ctx *ctx, uhn_encoder *e) {
    (void)ctx;
    int64_t widest = e->K > e->D ? e->K : e->D;
    for (int64_t i = 0; i < e->mlp->n[0] + e->mlp->n[1]; ++i)
        if (e->mlp->layer[i].out > widest) widest = e->mlp->layer[i].out;
    e->work_len = 2 * widest;
    return UHN_OK;
}

/* ------------------------------------------------------------------------ */
/* The model file                                                           */

/* Rank 0: one layer, group `g`, whose input has `in` values. */
static int load_layer(const enc_in *in, const char *g, int64_t n_in, mlp_layer *L) {
    char name[128], act[64] = "";
    if (!enc_in_is_group(in, g)) return enc_in_fail(in, "lacks the group '%s'", g);
    if (enc_in_attr_string(in, g, "activation", act, sizeof act) != 0)
        return enc_in_fail(in, "group '%s' lacks the string attribute 'activation'", g);
    L->act = -1;
    for (int a = 0; a < NACTS; ++a)
        if (!strcmp(act, acts[a].name)) L->act = a;
    if (L->act < 0)
        return enc_in_fail(in,
                           "group '%s' has the activation '%s' (valid: identity, relu, tanh, "
                           "sigmoid)",
                           g, act);
    int rank = 0;
    int64_t dims[2];
    snprintf(name, sizeof name, "%s/weight", g);
    UHN_CALL(enc_in_shape(in, name, &rank, dims));
    if (rank != 2 || dims[0] < 1 || dims[1] < 1)
        return enc_in_fail(in, "dataset '%s' is not a non-empty matrix [out][in] (rank %d)", name,
                           rank);
    if (dims[0] * dims[1] > INT32_MAX)
        return enc_in_fail(in, "dataset '%s' is [%lld][%lld], more than 2^31 weights", name,
                           (long long)dims[0], (long long)dims[1]);
    if (dims[1] != n_in)
        return enc_in_fail(in, "dataset '%s' is [%lld][%lld] but its layer's input has %lld values",
                           name, (long long)dims[0], (long long)dims[1], (long long)n_in);
    L->in = dims[1];
    L->out = dims[0];
    void *buf = NULL;
    UHN_CALL(enc_in_array(in, name, UHN_H5_FLOAT64, 2, dims, &buf));
    L->w = buf;
    snprintf(name, sizeof name, "%s/bias", g);
    UHN_CALL(enc_in_array(in, name, UHN_H5_FLOAT64, 1, &L->out, &buf));
    L->b = buf;
    return UHN_OK;
}

static int load(const enc_in *in, uhn_encoder *e) {
    int64_t n[2];
    for (int s = 0; s < 2; ++s) {
        char attr[32];
        snprintf(attr, sizeof attr, "%s_layers", stack_name[s]);
        if (enc_in_attr_int(in, "/", attr, &n[s]) != 0)
            return enc_in_fail(in, "lacks the integer attribute '%s'", attr);
        if (n[s] < 1 || n[s] > MLP_MAX_LAYERS)
            return enc_in_fail(in, "attribute '%s' is %lld (1 to %d layers)", attr, (long long)n[s],
                               MLP_MAX_LAYERS);
    }
    if (!(e->mlp = mlp_new(n)))
        return uhn_fail(in->ctx, UHN_ENOMEM, "out of memory for the layers of '%s'", in->path);
    for (int s = 0; s < 2; ++s) {
        int64_t width = s == 0 ? e->K : e->D, want = s == 0 ? e->D : e->K;
        char g[96];
        for (int64_t i = 0; i < n[s]; ++i) {
            mlp_layer *L = &e->mlp->layer[(s ? n[0] : 0) + i];
            snprintf(g, sizeof g, "layers/%s/%lld", stack_name[s], (long long)i);
            UHN_CALL(load_layer(in, g, width, L));
            width = L->out;
        }
        if (width != want)
            return enc_in_fail(in,
                               "the last %s layer '%s' has %lld outputs, not %s = %lld (the "
                               "attribute %s)",
                               stack_name[s], g, (long long)width, s == 0 ? "D" : "K",
                               (long long)want, s == 0 ? "dim" : "input_length");
        snprintf(g, sizeof g, "layers/%s/%lld", stack_name[s], (long long)n[s]);
        if (enc_in_exists(in, g))
            return enc_in_fail(in, "holds '%s' beyond its %s_layers = %lld", g, stack_name[s],
                               (long long)n[s]);
    }
    return UHN_OK;
}

static int bcast(uhn_ctx *ctx, uhn_encoder *e) {
    int64_t n[2] = {0, 0};
    if (ctx->rank == 0) n[0] = e->mlp->n[0], n[1] = e->mlp->n[1];
    UHN_MPI(ctx, MPI_Bcast(n, 2, MPI_INT64_T, 0, ctx->comm));
    int st = UHN_OK;
    if (ctx->rank != 0 && !(e->mlp = mlp_new(n)))
        st = uhn_fail(ctx, UHN_ENOMEM, "out of memory for the layers");
    UHN_CALL(uhn_agree(ctx, st));
    for (int64_t i = 0; i < n[0] + n[1]; ++i) {
        mlp_layer *L = &e->mlp->layer[i];
        int64_t shape[3] = {L->in, L->out, L->act};
        UHN_MPI(ctx, MPI_Bcast(shape, 3, MPI_INT64_T, 0, ctx->comm));
        L->in = shape[0], L->out = shape[1], L->act = shape[2];
        UHN_CALL(
            uhn_encoder_bcast_new(ctx, (void **)&L->w, L->out * L->in, sizeof(double), MPI_DOUBLE));
        UHN_CALL(uhn_encoder_bcast_new(ctx, (void **)&L->b, L->out, sizeof(double), MPI_DOUBLE));
    }
    return UHN_OK;
}

/* The same layout as the trainer's, in float64. */
static int save(const uhn_encoder *e, const enc_out *out) {
    const enc_mlp *m = e->mlp;
    UHN_CALL(enc_out_attr_int(out, "", "encoder_layers", m->n[0]));
    UHN_CALL(enc_out_attr_int(out, "", "decoder_layers", m->n[1]));
    UHN_CALL(enc_out_group(out, "layers"));
    for (int s = 0; s < 2; ++s) {
        char g[96], name[128];
        snprintf(g, sizeof g, "layers/%s", stack_name[s]);
        UHN_CALL(enc_out_group(out, g));
        for (int64_t i = 0; i < m->n[s]; ++i) {
            const mlp_layer *L = &m->layer[(s ? m->n[0] : 0) + i];
            snprintf(g, sizeof g, "layers/%s/%lld", stack_name[s], (long long)i);
            UHN_CALL(enc_out_group(out, g));
            UHN_CALL(enc_out_attr_string(out, g, "activation", acts[L->act].name));
            int64_t dims[2] = {L->out, L->in};
            snprintf(name, sizeof name, "%s/weight", g);
            UHN_CALL(enc_out_dataset(out, name, UHN_H5_FLOAT64, 2, dims, L->w,
                                     "the layer's weights W of a <- act(W a + b)", "1",
                                     "output,input"));
            snprintf(name, sizeof name, "%s/bias", g);
            UHN_CALL(enc_out_dataset(out, name, UHN_H5_FLOAT64, 1, dims, L->b,
                                     "the layer's bias b of a <- act(W a + b)", "1", "output"));
        }
    }
    return UHN_OK;
}

const uhn_encoder_ops uhn_encoder_mlp = {
    .name = "mlp",
    .help = "c = a dense encoder stack a <- act(W a + b), decoded by a second stack; trained by "
            "postprocess/train_autoencoder.py and read from its model file (not fitted here)",
    .flags = ENC_TRAINED_ELSEWHERE,
    .trained_by = "postprocess/train_autoencoder.py",
    .arrays = NULL,
    .narrays = 0,
    .fit = NULL,
    .prepare = prepare,
    .encode = encode,
    .decode = decode,
    .save = save,
    .load = load,
    .bcast = bcast,
    .destroy = destroy,
};
