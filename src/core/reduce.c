/* Partial records of a query and their merge (thread level and MPI_Op). */
#include <float.h>
#include <math.h>
#include <string.h>

#include "core/reduce.h"

size_t uhn_rec_bytes(uhn_red_kind kind, int64_t O, int64_t nslot) {
    size_t b = sizeof(uhn_rec);
    if (kind == UHN_RED_TOPK)
        b += (size_t)nslot * (sizeof(uhn_slot) + (size_t)O * sizeof(float));
    else
        b += (size_t)O * sizeof(float);
    return (b + 63) & ~(size_t)63;
}

void uhn_rec_init(uhn_rec *r, uhn_red_kind kind, int64_t O, int64_t nslot, double beta, double p) {
    memset(r, 0, uhn_rec_bytes(kind, O, nslot));
    r->acc = 0;
    r->best = -INFINITY;
    r->idx = -1;
    r->low = INFINITY;
    r->low_idx = -1;
    r->bad = -1;
    r->beta = beta;
    r->p = p;
    r->kind = kind;
    r->nslot = (int32_t)nslot;
    r->O = (int32_t)O;
}

/* Whether (h, i) ranks before (best, idx): larger key, ties by lower index. */
static inline int better(double h, int64_t i, double best, int64_t idx) {
    return idx < 0 || h > best || (h == best && i < idx);
}

void uhn_rec_topk_offer(uhn_rec *r, double s, int64_t g, const float *y) {
    uhn_slot *sl = uhn_rec_slots(r);
    int32_t n = r->used;
    if (n == r->nslot && !better(s, g, sl[n - 1].h, sl[n - 1].idx)) return;
    int32_t pos = n < r->nslot ? n : n - 1; /* the last slot is dropped when full */
    while (pos > 0 && better(s, g, sl[pos - 1].h, sl[pos - 1].idx)) {
        sl[pos] = sl[pos - 1];
        memcpy(uhn_rec_slot_y(r, pos), uhn_rec_slot_y(r, pos - 1), (size_t)r->O * sizeof(float));
        --pos;
    }
    sl[pos].h = s;
    sl[pos].idx = g;
    memcpy(uhn_rec_slot_y(r, pos), y, (size_t)r->O * sizeof(float));
    if (n < r->nslot) r->used = n + 1;
    r->best = sl[0].h;
    r->idx = sl[0].idx;
}

void uhn_rec_merge(const uhn_rec *in, uhn_rec *io) {
    if (in->bad >= 0) uhn_rec_bad(io, in->bad, in->badval);
    if (in->idx < 0) return; /* nothing seen on the other side */
    const int64_t O = io->O;
    const float *zi = uhn_rec_z((uhn_rec *)in);
    float *zo = uhn_rec_z(io);
    switch ((uhn_red_kind)io->kind) {
    case UHN_RED_LSE:
    case UHN_RED_POW: {
        if (io->idx < 0) {
            io->acc = in->acc, io->best = in->best, io->idx = in->idx;
            memcpy(zo, zi, (size_t)O * sizeof(float));
        } else if (better(in->best, in->idx, io->best, io->idx)) { /* rescale io to in's max */
            double a = uhn_rec_rel(io, io->best, in->best);
            float fa = (float)a;
            io->acc = in->acc + io->acc * a;
            for (int64_t k = 0; k < O; ++k) zo[k] = zi[k] + zo[k] * fa;
            io->best = in->best, io->idx = in->idx;
        } else {
            double a = uhn_rec_rel(io, in->best, io->best);
            float fa = (float)a;
            io->acc += in->acc * a;
            for (int64_t k = 0; k < O; ++k) zo[k] += zi[k] * fa;
        }
        return;
    }
    case UHN_RED_LINEAR:
        io->acc += in->acc;
        for (int64_t k = 0; k < O; ++k) zo[k] += zi[k];
        if (better(in->best, in->idx, io->best, io->idx)) io->best = in->best, io->idx = in->idx;
        if (io->low_idx < 0 || in->low < io->low ||
            (in->low == io->low && in->low_idx < io->low_idx))
            io->low = in->low, io->low_idx = in->low_idx;
        return;
    case UHN_RED_MAX:
        if (better(in->best, in->idx, io->best, io->idx)) {
            memcpy(zo, zi, (size_t)O * sizeof(float));
            io->best = in->best, io->idx = in->idx;
        }
        io->acc = 1;
        return;
    case UHN_RED_TOPK: {
        const uhn_slot *sl = uhn_rec_slots((uhn_rec *)in);
        for (int32_t i = 0; i < in->used; ++i)
            uhn_rec_topk_offer(io, sl[i].h, sl[i].idx, uhn_rec_slot_y((uhn_rec *)in, i));
        return; /* offer keeps best/idx */
    }
    }
}

static void rec_op(void *in, void *inout, int *len, MPI_Datatype *type) {
    int bytes;
    MPI_Type_size(*type, &bytes);
    for (int i = 0; i < *len; ++i)
        uhn_rec_merge((const uhn_rec *)((char *)in + (size_t)i * bytes),
                      (uhn_rec *)((char *)inout + (size_t)i * bytes));
}

int uhn_rec_mpi_create(uhn_ctx *ctx, size_t bytes, MPI_Datatype *type, MPI_Op *op) {
    UHN_MPI(ctx, MPI_Type_contiguous((int)bytes, MPI_BYTE, type));
    UHN_MPI(ctx, MPI_Type_commit(type));
    UHN_MPI(ctx, MPI_Op_create(rec_op, 1, op));
    return UHN_OK;
}

void uhn_rec_mpi_free(MPI_Datatype *type, MPI_Op *op) {
    MPI_Type_free(type);
    MPI_Op_free(op);
}

/* z *= f; returns 1 when a value leaves float32 (f itself may be inf). */
static int scale_z(float *z, int64_t O, double f) {
    int over = !isfinite(f);
    for (int64_t k = 0; k < O; ++k) {
        double v = z[k] == 0 ? 0.0 : (double)z[k] * f;
        if (!(fabs(v) <= FLT_MAX)) over = 1;
        z[k] = (float)v;
    }
    return over;
}

void uhn_rec_finish(uhn_rec *r, int normalize, float *z, uhn_rec_result *out) {
    const int64_t O = r->O;
    double gstar = 0, sum = r->acc, unit = 1; /* unit: the weight that acc counts as 1 */
    int all_zero = 0;
    out->lse = out->lse_beta = NAN;
    out->overflow = 0;
    out->index = r->idx;
    if ((uhn_red_kind)r->kind == UHN_RED_TOPK) { /* the slots' weights, relative to the best */
        const uhn_slot *sl = uhn_rec_slots(r);
        sum = 0;
        for (int32_t i = 0; i < r->used; ++i) sum += uhn_rec_rel(r, sl[i].h, sl[0].h);
        for (int64_t k = 0; k < O; ++k) {
            double acc = 0;
            for (int32_t i = 0; i < r->used; ++i)
                acc += uhn_rec_rel(r, sl[i].h, sl[0].h) * uhn_rec_slot_y(r, i)[k];
            z[k] = (float)acc;
        }
    } else {
        memcpy(z, uhn_rec_z(r), (size_t)O * sizeof(float));
    }
    switch ((uhn_red_kind)r->kind) {
    case UHN_RED_LSE:
        gstar = 1.0; /* the arg-max is the maximum: exp(0) */
        out->lse = r->beta * r->best + log(r->acc);
        out->lse_beta = r->best + log(r->acc) / r->beta;
        all_zero = r->idx < 0;
        break;
    case UHN_RED_TOPK:
        gstar = r->used ? 1 : 0;
        all_zero = r->used == 0;
        break;
    case UHN_RED_MAX:
        gstar = 1;
        all_zero = r->idx < 0;
        break;
    case UHN_RED_POW:
        gstar = 1.0;
        all_zero = !(r->best > 0);
        /* unnormalised: g = (beta s)^p = (beta s*)^p times the relative weights */
        if (!normalize && !all_zero) unit = exp(r->p * (log(r->beta) + log(r->best)));
        break;
    case UHN_RED_LINEAR:
        if (normalize &&
            sum < 0) { /* log of scores below 1: the largest weight is the smallest g */
            gstar = r->low;
            out->index = r->low_idx;
        } else {
            gstar = r->best;
        }
        all_zero = r->idx < 0 || (r->best == 0 && r->low == 0);
        break;
    }
    out->empty = normalize ? !(sum != 0) : all_zero;
    if (out->empty && (normalize || all_zero)) {
        memset(z, 0, (size_t)O * sizeof(float));
        out->index = -1;
        out->weight = 0;
        return;
    }
    if (normalize) {
        double inv = 1.0 / sum;
        if (fabs(inv) <= FLT_MAX) {
            float finv = (float)inv;
            for (int64_t k = 0; k < O; ++k) z[k] *= finv;
        } else { /* log: a sum of g near 0 by cancellation; w = g / sum may leave float32 */
            for (int64_t k = 0; k < O; ++k) {
                double v = z[k] / sum;
                if (!(fabs(v) <= FLT_MAX)) out->overflow = 1;
                z[k] = (float)v;
            }
        }
        out->weight = (float)(gstar / sum);
        if (!(fabs(gstar / sum) <= FLT_MAX)) out->overflow = 1;
    } else {
        if (unit != 1) out->overflow = scale_z(z, O, unit);
        out->weight = (float)(gstar * unit);
        if (!(fabs(gstar * unit) <= FLT_MAX)) out->overflow = 1;
    }
}
