/*
 * Private: the insides of a uhn_dataset, shared by dataset.c (the table of
 * sources, the spec parser and the accessors) and the sources
 * (fashion_mnist.c, imageset.c, synthetic.c).
 */
#ifndef UHN_DATA_DATASET_IMPL_H
#define UHN_DATA_DATASET_IMPL_H

#include <stdint.h>
#include "uhn/dataset.h"

struct uhn_dataset {
    uhn_ctx *ctx;                      /* not owned */
    const struct uhn_data_source *src; /* the table entry */
    char *spec;                        /* owned copy */
    int64_t n, h, w, c, k;
    float lo, hi;         /* pixel range */
    int32_t *labels;      /* [n] or NULL; owned */
    int64_t *caption_off; /* [n + 1] offsets into caption_buf, or NULL; owned */
    char *caption_buf;    /* NUL-terminated captions; owned */
    void *state;          /* the source's own state; owned, freed by src->close */
};

/*
 * A source of images. `open` fills ds (shape, labels, captions, state) from
 * the part of the spec after "name:" (arg, "" when absent); collective, and its
 * status is agreed by dataset.c. `rows` fills rows for indices already checked
 * to lie in [0, n); not collective. `label` (may be NULL) gives labels that are
 * computed rather than stored. `close` frees the state (may be NULL).
 */
typedef struct uhn_data_source {
    const char *name;
    int (*open)(uhn_ctx *ctx, const char *arg, uhn_dataset *ds);
    int (*rows)(const uhn_dataset *ds, const int64_t *index, int64_t count, float *out);
    int64_t (*label)(const uhn_dataset *ds, int64_t i);
    void (*close)(uhn_dataset *ds);
} uhn_data_source;

int uhn_fashion_mnist_open(uhn_ctx *ctx, const char *arg, uhn_dataset *ds);
int uhn_fashion_mnist_rows(const uhn_dataset *ds, const int64_t *index, int64_t count, float *out);
void uhn_fashion_mnist_close(uhn_dataset *ds);

int uhn_imageset_open(uhn_ctx *ctx, const char *arg, uhn_dataset *ds);
int uhn_imageset_rows(const uhn_dataset *ds, const int64_t *index, int64_t count, float *out);
void uhn_imageset_close(uhn_dataset *ds);

int uhn_synthetic_open(uhn_ctx *ctx, const char *arg, uhn_dataset *ds);
int uhn_synthetic_rows(const uhn_dataset *ds, const int64_t *index, int64_t count, float *out);
int64_t uhn_synthetic_label(const uhn_dataset *ds, int64_t i);
void uhn_synthetic_close(uhn_dataset *ds);

/* Broadcasts `bytes` bytes from rank 0 in pieces of at most 1 GiB. Collective. */
int uhn_data_bcast(uhn_ctx *ctx, void *buf, int64_t bytes);

#endif
