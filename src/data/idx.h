/*
 * Private: a reader of IDX files (the format of MNIST and Fashion-MNIST),
 * gzipped or plain, through zlib.
 */
#ifndef UHN_DATA_IDX_H
#define UHN_DATA_IDX_H

#include <stdint.h>
#include "uhn/context.h"

#define UHN_IDX_MAX_DIMS 4

/* Magic numbers of unsigned-byte IDX files: 0x0000 08 <ndims>. */
#define UHN_IDX_MAGIC_IMAGES 0x00000803u
#define UHN_IDX_MAGIC_LABELS 0x00000801u

typedef struct uhn_idx {
    int ndims;
    int64_t dims[UHN_IDX_MAX_DIMS];
    uint8_t *data; /* dims[0] * ... bytes; owned, free with uhn_idx_free */
} uhn_idx;

/*
 * Reads the IDX file at `path` whose magic must be `magic` (ubyte data with
 * magic & 0xff dimensions). Errors (UHN_EINPUT, one line naming the file): a
 * file that cannot be opened, a damaged gzip stream, a wrong magic number, a
 * zero dimension, a header or data shorter than the header says (truncated),
 * bytes after the data. Not collective.
 */
int uhn_idx_read(uhn_ctx *ctx, const char *path, uint32_t magic, uhn_idx *out);

/* Frees the data of an IDX file (idempotent). */
void uhn_idx_free(uhn_idx *idx);

#endif
