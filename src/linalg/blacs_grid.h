/*
 * A BLACS process grid over a uhn communicator, for the ScaLAPACK parts of
 * uhn (PCA encoders, the distributed query-by-memory similarity matrix).
 */
#ifndef UHN_BLACS_GRID_H
#define UHN_BLACS_GRID_H

#include "uhn/context.h"

typedef struct uhn_blacs_grid {
    int ictxt;        /* BLACS context */
    int sys_handle;   /* BLACS system handle of ctx->comm */
    int nprow, npcol; /* grid shape: nprow * npcol == ctx->size, as square as possible */
    int myrow, mycol;
} uhn_blacs_grid;

/* Creates a near-square row-major grid on ctx->comm. Collective. */
int uhn_blacs_grid_create(uhn_ctx *ctx, uhn_blacs_grid *grid);
/* Frees the grid. Collective. */
void uhn_blacs_grid_destroy(uhn_blacs_grid *grid);

#endif
