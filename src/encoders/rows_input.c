/*
 * Rows of images or codes for the encoders, read in parallel.
 *
 * h5io reads 2-D datasets by rows; the encoders also take [n][H][W] and
 * [n][H][W][C] image sets, so this reader selects row blocks of a dataset of
 * any rank with MPI-IO (collective transfers) and flattens each row. uint8 is
 * read as bytes and scaled as the image sets are ((float)u / 255.0f); every
 * other type is read as float64 so that range and overflow checks see the
 * stored value. (When h5io learns N-D row reads this file shrinks to the
 * checks.)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hdf5.h>

#include "core/fault.h"
#include "encoders/encoder_impl.h"

#define ROUND_BYTES ((size_t)1 << 28) /* per rank and collective round */

static const char *role_sep(const uhn_h5_name *n) {
    return n->role[0] ? ": " : "";
}

static int check_shape(uhn_ctx *ctx, const uhn_h5_name *name, int images, const uhn_h5_info *info,
                       uhn_rows_input *in) {
    const char *sep = role_sep(name);
    if (images ? (info->rank < 2 || info->rank > 4) : info->rank != 2)
        return uhn_fail(ctx, UHN_EINPUT, "%s%sdataset %s has %d dimension(s); expected %s",
                        name->role, sep, name->label, info->rank,
                        images ? "images [n][K], [n][H][W] or [n][H][W][C]" : "codes [n][D]");
    for (int i = 0; i < info->rank; ++i)
        if (info->dims[i] == 0)
            return uhn_fail(ctx, UHN_EINPUT, "%s%sdataset %s is empty (dimension %d is 0)",
                            name->role, sep, name->label, i);
    if (images && strcmp(info->type, "uint8") && strcmp(info->type, "float32") &&
        strcmp(info->type, "float64"))
        return uhn_fail(ctx, UHN_EINPUT,
                        "%s%sdataset %s has type %s; images are uint8 (scaled by 1/255), float32 "
                        "or float64 (in [0, 1])",
                        name->role, sep, name->label, info->type);
    in->name = *name;
    in->images = images;
    in->rank = info->rank;
    in->n = info->dims[0];
    in->height = info->rank == 2 ? 1 : info->dims[1];
    in->width = info->rank == 2 ? info->dims[1] : info->dims[2];
    in->channels = info->rank == 4 ? info->dims[3] : 1;
    /* K = H·W·C without overflow (a chunked dataset may declare any extents),
     * at most 4e9 as for image sets, so that a row's bytes can be counted */
    int64_t hw = 0;
    if (__builtin_mul_overflow(in->height, in->width, &hw) ||
        __builtin_mul_overflow(hw, in->channels, &in->k) || in->k > 4000000000)
        return uhn_fail(ctx, UHN_EINPUT, "%s%sdataset %s has rows of more than 4e9 values",
                        name->role, sep, name->label);
    in->is_u8 = !strcmp(info->type, "uint8");
    snprintf(in->type, sizeof in->type, "%s", info->type);
    return UHN_OK;
}

int uhn_rows_open(uhn_ctx *ctx, const uhn_h5_name *name, int images, uhn_rows_input *in) {
    uhn_h5_info info;
    memset(in, 0, sizeof *in);
    UHN_CALL(uhn_h5_info_get(ctx, name, &info));
    return uhn_agree(ctx, check_shape(ctx, name, images, &info, in));
}

/* Converts a round's values into float, checking them. */
static int convert(uhn_ctx *ctx, const uhn_rows_input *in, int64_t r0, int64_t cnt, const void *raw,
                   float *out) {
    const int64_t k = in->k, n = cnt * k;
    const char *sep = role_sep(&in->name);
    if (in->is_u8) {
        const uint8_t *u = raw;
        if (in->images)
            for (int64_t e = 0; e < n; ++e) out[e] = (float)u[e] / 255.0f;
        else
            for (int64_t e = 0; e < n; ++e) out[e] = (float)u[e];
        return UHN_OK;
    }
    const double *v = raw;
    for (int64_t e = 0; e < n; ++e) {
        double x = v[e];
        float f = (float)x;
        const char *why = NULL;
        if (in->images && !(x >= 0.0 && x <= 1.0))
            why = "outside [0, 1] (float images must be in [0, 1])";
        else if (!in->images && !isfinite(x))
            why = "not finite";
        else if (!in->images && !isfinite(f))
            why = "beyond float32's range";
        if (why)
            return uhn_fail(ctx, UHN_EINPUT, "%s%s%s: row %lld, %s %lld is %g, %s", in->name.role,
                            sep, in->name.label, (long long)(r0 + e / k),
                            in->images ? "pixel" : "column", (long long)(e % k), x, why);
        out[e] = f;
    }
    return UHN_OK;
}

int uhn_rows_read(uhn_ctx *ctx, const uhn_rows_input *in, int64_t row0, int64_t nrows, float *out) {
    double t0 = uhn_wtime();
    const char *sep = role_sep(&in->name);
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS), fid = H5I_INVALID_HID, did = H5I_INVALID_HID;
    hid_t fspace = H5I_INVALID_HID, dxpl = H5I_INVALID_HID;
    int st = UHN_OK;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (fapl < 0 || H5Pset_fapl_mpio(fapl, ctx->comm, MPI_INFO_NULL) < 0)
        st = uhn_fail(ctx, UHN_EIO, "cannot set up MPI-IO access to '%s'", in->name.file);
    st = uhn_agree(ctx, st);
    if (st == UHN_OK) {
        fid = H5Fopen(in->name.file, H5F_ACC_RDONLY, fapl); /* collective */
        if (fid < 0)
            st = uhn_fail(ctx, UHN_EINPUT, "%s%scannot open '%s' for a parallel read",
                          in->name.role, sep, in->name.file);
        st = uhn_agree(ctx, st);
    }
    if (st == UHN_OK) {
        did = H5Dopen2(fid, in->name.dataset, H5P_DEFAULT);
        fspace = did >= 0 ? H5Dget_space(did) : H5I_INVALID_HID;
        dxpl = H5Pcreate(H5P_DATASET_XFER);
        if (did < 0 || fspace < 0 || dxpl < 0 || H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE) < 0)
            st = uhn_fail(ctx, UHN_EIO, "%s%scannot set up the parallel read of %s", in->name.role,
                          sep, in->name.label);
        if (row0 < 0 || nrows < 0 || row0 + nrows > in->n)
            st = uhn_fail(ctx, UHN_EINTERNAL, "rows [%lld, %lld) outside %s", (long long)row0,
                          (long long)(row0 + nrows), in->name.label);
        st = uhn_agree(ctx, st);
    }
    size_t esize = in->is_u8 ? 1 : sizeof(double);
    int64_t per_round = (int64_t)(ROUND_BYTES / ((size_t)in->k * esize));
    if (per_round < 1) per_round = 1;
    void *raw = NULL;
    int64_t mine = (nrows + per_round - 1) / per_round, rounds = 0;
    if (st == UHN_OK) {
        int64_t cap = nrows < per_round ? nrows : per_round;
        raw = malloc((size_t)(cap > 0 ? cap : 1) * (size_t)in->k * esize);
        if (!raw) st = uhn_fail(ctx, UHN_ENOMEM, "out of memory reading %s", in->name.label);
        st = uhn_agree(ctx, st);
    }
    if (st == UHN_OK &&
        MPI_Allreduce(&mine, &rounds, 1, MPI_INT64_T, MPI_MAX, ctx->comm) != MPI_SUCCESS)
        st = uhn_fail(ctx, UHN_EMPI, "MPI_Allreduce failed reading %s", in->name.label);
    if (rounds == 0) rounds = 1; /* every rank empty: still one collective read */
    for (int64_t r = 0; st == UHN_OK && r < rounds; ++r) {
        int64_t first = r * per_round;
        int64_t cnt = first < nrows ? (nrows - first < per_round ? nrows - first : per_round) : 0;
        hsize_t start[UHN_H5_MAX_RANK] = {0}, count[UHN_H5_MAX_RANK] = {0};
        hsize_t mdim = (hsize_t)(cnt > 0 ? cnt : 1) * (hsize_t)in->k;
        start[0] = (hsize_t)(row0 + first);
        count[0] = (hsize_t)cnt;
        if (in->rank == 2)
            count[1] = (hsize_t)in->k;
        else {
            count[1] = (hsize_t)in->height;
            count[2] = (hsize_t)in->width;
            if (in->rank == 4) count[3] = (hsize_t)in->channels;
        }
        hid_t mspace = H5Screate_simple(1, &mdim, NULL);
        herr_t rc = mspace < 0 ? -1 : 0;
        if (rc >= 0 && cnt > 0)
            rc = H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL);
        else if (rc >= 0) {
            rc = H5Sselect_none(fspace);
            if (rc >= 0) rc = H5Sselect_none(mspace);
        }
        st = uhn_agree(ctx, rc < 0
                                ? uhn_fail(ctx, UHN_EIO, "cannot select rows of %s", in->name.label)
                                : UHN_OK);
        if (st == UHN_OK) {
            hid_t mt = in->is_u8 ? H5T_NATIVE_UINT8 : H5T_NATIVE_DOUBLE;
            if (H5Dread(did, mt, mspace, fspace, dxpl, raw) < 0 ||
                UHN_FAULT(ctx, UHN_FAULT_H5_READ))
                st = uhn_fail(ctx, UHN_EIO, "%s%sreading %s failed", in->name.role, sep,
                              in->name.label);
            if (st == UHN_OK && cnt > 0)
                st = convert(ctx, in, row0 + first, cnt, raw, out + (size_t)(first * in->k));
        }
        if (mspace >= 0) H5Sclose(mspace);
        st = uhn_agree(ctx, st);
    }
    free(raw);
    if (dxpl >= 0) H5Pclose(dxpl);
    if (fspace >= 0) H5Sclose(fspace);
    if (did >= 0) H5Dclose(did);
    if (fid >= 0 && H5Fclose(fid) < 0 && st == UHN_OK) /* collective */
        st = uhn_fail(ctx, UHN_EIO, "closing '%s' failed", in->name.file);
    if (fapl >= 0) H5Pclose(fapl);
    ctx->timers.io += uhn_wtime() - t0;
    return uhn_agree(ctx, st);
}
