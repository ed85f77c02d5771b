/* BLACS process grids on a uhn communicator. */
#include <mpi.h>

#include "linalg/blacs_grid.h"
#include "linalg/scalapack.h"

int uhn_blacs_grid_create(uhn_ctx *ctx, uhn_blacs_grid *grid) {
    int nprow = 1;
    for (int r = 1; r * r <= ctx->size; ++r)
        if (ctx->size % r == 0) nprow = r;
    grid->nprow = nprow;
    grid->npcol = ctx->size / nprow;
    grid->sys_handle = Csys2blacs_handle(ctx->comm);
    grid->ictxt = grid->sys_handle;
    Cblacs_gridinit(&grid->ictxt, "Row", grid->nprow, grid->npcol);
    Cblacs_gridinfo(grid->ictxt, &grid->nprow, &grid->npcol, &grid->myrow, &grid->mycol);
    if (grid->myrow < 0)
        return uhn_fail(ctx, UHN_EINTERNAL, "BLACS grid %dx%d could not be created", nprow,
                        ctx->size / nprow);
    return UHN_OK;
}

void uhn_blacs_grid_destroy(uhn_blacs_grid *grid) {
    Cblacs_gridexit(grid->ictxt);
    Cfree_blacs_system_handle(grid->sys_handle);
}
