/* Partial records of a query and their merge (thread level and MPI_Op). */
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

void uhn_rec_init(uhn_rec *r, uhn_red_kind kind, int64_t O, int64_t nslot) {
    memset(r, 0, uhn_rec_bytes(kind, O, nslot));
    r->m = -INFINITY;
    r->s = 0;
    r->best = -INFINITY;
    r->idx = -1;
    r->bad = -1;
    r->kind = kind;
    r->nslot = (int32_t)nslot;
    r->O = (int32_t)O;
}

/* Whether (h, i) ranks before (best, idx): larger key, ties by lower index. */
static inline int better(double h, int64_t i, double best, int64_t idx) {
    return idx < 0 || h > best || (h == best && i < idx);
}

void uhn_rec_topk_offer(uhn_rec *r, double h, int64_t g, const float *y) {
    uhn_slot *sl = uhn_rec_slots(r);
    int32_t n = r->used;
    if (n == r->nslot && !better(h, g, sl[n - 1].h, sl[n - 1].idx)) return;
    int32_t pos = n < r->nslot ? n : n - 1; /* the last slot is dropped when full */
    while (pos > 0 && better(h, g, sl[pos - 1].h, sl[pos - 1].idx)) {
        sl[pos] = sl[pos - 1];
        memcpy(uhn_rec_slot_y(r, pos), uhn_rec_slot_y(r, pos - 1), (size_t)r->O * sizeof(float));
        --pos;
    }
    sl[pos].h = h;
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
    case UHN_RED_LSE: {
        if (io->idx < 0) {
            io->m = in->m, io->s = in->s;
            memcpy(zo, zi, (size_t)O * sizeof(float));
        } else {
            double m = in->m > io->m ? in->m : io->m;
            double a = exp(in->m - m), b = exp(io->m - m);
            io->s = in->s * a + io->s * b;
            float fa = (float)a, fb = (float)b;
            for (int64_t k = 0; k < O; ++k) zo[k] = zi[k] * fa + zo[k] * fb;
            io->m = m;
        }
        break;
    }
    case UHN_RED_LINEAR:
        io->s += in->s;
        for (int64_t k = 0; k < O; ++k) zo[k] += zi[k];
        break;
    case UHN_RED_MAX:
        if (better(in->best, in->idx, io->best, io->idx)) memcpy(zo, zi, (size_t)O * sizeof(float));
        io->s = 1;
        break;
    case UHN_RED_TOPK: {
        const uhn_slot *sl = uhn_rec_slots((uhn_rec *)in);
        for (int32_t i = 0; i < in->used; ++i)
            uhn_rec_topk_offer(io, sl[i].h, sl[i].idx, uhn_rec_slot_y((uhn_rec *)in, i));
        return; /* offer keeps best/idx */
    }
    }
    if (better(in->best, in->idx, io->best, io->idx)) io->best = in->best, io->idx = in->idx;
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

void uhn_rec_finish(uhn_rec *r, int normalize, float *z, int64_t *index, float *weight, double *lse,
                    uint8_t *empty) {
    const int64_t O = r->O;
    double gstar = 0, sum = r->s;
    *lse = NAN;
    switch ((uhn_red_kind)r->kind) {
    case UHN_RED_LSE:
        gstar = 1.0; /* the arg-max is the maximum: exp(m - m) */
        *lse = r->m + log(r->s);
        memcpy(z, uhn_rec_z(r), (size_t)O * sizeof(float));
        break;
    case UHN_RED_LINEAR:
        gstar = r->best;
        memcpy(z, uhn_rec_z(r), (size_t)O * sizeof(float));
        break;
    case UHN_RED_MAX:
        gstar = 1;
        memcpy(z, uhn_rec_z(r), (size_t)O * sizeof(float));
        break;
    case UHN_RED_TOPK: {
        const uhn_slot *sl = uhn_rec_slots(r);
        double m = r->used ? sl[0].h : 0, acc;
        sum = 0;
        for (int32_t i = 0; i < r->used; ++i) sum += exp(sl[i].h - m);
        for (int64_t k = 0; k < O; ++k) {
            acc = 0;
            for (int32_t i = 0; i < r->used; ++i) acc += exp(sl[i].h - m) * uhn_rec_slot_y(r, i)[k];
            z[k] = (float)acc;
        }
        gstar = r->used ? 1 : 0;
        break;
    }
    }
    *empty = !(sum > 0);
    if (*empty) {
        memset(z, 0, (size_t)O * sizeof(float));
        *index = -1;
        *weight = 0;
        return;
    }
    *index = r->idx;
    if (normalize) {
        float inv = (float)(1.0 / sum);
        for (int64_t k = 0; k < O; ++k) z[k] *= inv;
        *weight = (float)(gstar / sum);
    } else {
        *weight = (float)gstar;
    }
}
