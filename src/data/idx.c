/*
 * The IDX reader: big-endian header (magic, then one 32-bit extent per
 * dimension), then the bytes. gzread reads gzipped and plain files alike.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "data/idx.h"

/* Reads exactly `len` bytes; returns the count read, or -1 on a zlib error. */
static int64_t read_full(gzFile f, void *buf, int64_t len) {
    int64_t got = 0;
    while (got < len) {
        int64_t want = len - got;
        if (want > INT_MAX / 2) want = INT_MAX / 2;
        int r = gzread(f, (char *)buf + got, (unsigned)want);
        if (r < 0) {
            /* A gzip stream cut short is a truncated file, not a damaged one. */
            int code = 0;
            gzerror(f, &code);
            if (code == Z_BUF_ERROR) break;
            return -1;
        }
        if (r == 0) break;
        got += r;
    }
    return got;
}

static uint32_t be32(const unsigned char b[4]) {
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | (uint32_t)b[3];
}

static int gz_error(uhn_ctx *ctx, gzFile f, const char *path) {
    int code = 0;
    const char *m = gzerror(f, &code);
    return uhn_fail(ctx, UHN_EINPUT, "'%s' is not a readable IDX file: %s", path,
                    code == Z_ERRNO ? strerror(errno) : m);
}

static int read_body(uhn_ctx *ctx, gzFile f, const char *path, uint32_t magic, uhn_idx *out) {
    unsigned char b[4];
    int64_t r = read_full(f, b, 4);
    if (r < 0) return gz_error(ctx, f, path);
    if (r < 4) return uhn_fail(ctx, UHN_EINPUT, "'%s' is truncated: no IDX header", path);
    uint32_t got = be32(b);
    if (got != magic)
        return uhn_fail(ctx, UHN_EINPUT, "'%s' has magic number 0x%08x, expected 0x%08x", path,
                        (unsigned)got, (unsigned)magic);
    out->ndims = (int)(magic & 0xffu);
    int64_t total = 1;
    for (int d = 0; d < out->ndims; ++d) {
        r = read_full(f, b, 4);
        if (r < 0) return gz_error(ctx, f, path);
        if (r < 4)
            return uhn_fail(ctx, UHN_EINPUT, "'%s' is truncated: its header ends in dimension %d",
                            path, d);
        out->dims[d] = be32(b);
        if (out->dims[d] == 0)
            return uhn_fail(ctx, UHN_EINPUT, "'%s' has an empty dimension %d", path, d);
        total *= out->dims[d];
        if (total > ((int64_t)1 << 40))
            return uhn_fail(ctx, UHN_EINPUT, "'%s' declares more than 2^40 bytes", path);
    }
    out->data = uhn_alloc((size_t)total); /* huge pages: 47 MB of Fashion-MNIST */
    if (!out->data)
        return uhn_fail(ctx, UHN_ENOMEM, "'%s': cannot allocate %lld bytes", path,
                        (long long)total);
    r = read_full(f, out->data, total);
    if (r < 0) return gz_error(ctx, f, path);
    if (r < total)
        return uhn_fail(ctx, UHN_EINPUT,
                        "'%s' is truncated: %lld of %lld data bytes (header count %lld)", path,
                        (long long)r, (long long)total, (long long)out->dims[0]);
    r = read_full(f, b, 1);
    if (r < 0) return gz_error(ctx, f, path);
    if (r > 0)
        return uhn_fail(ctx, UHN_EINPUT,
                        "'%s' has data after its %lld bytes (header count %lld too small)", path,
                        (long long)total, (long long)out->dims[0]);
    return UHN_OK;
}

int uhn_idx_read(uhn_ctx *ctx, const char *path, uint32_t magic, uhn_idx *out) {
    memset(out, 0, sizeof *out);
    gzFile f = gzopen(path, "rb");
    if (!f)
        return uhn_fail(ctx, UHN_EINPUT, "cannot open '%s': %s", path,
                        errno ? strerror(errno) : "out of memory");
    int st = read_body(ctx, f, path, magic, out);
    gzclose(f);
    if (st != UHN_OK) uhn_idx_free(out);
    return st;
}

void uhn_idx_free(uhn_idx *idx) {
    uhn_free(idx->data);
    idx->data = NULL;
}
