/*
 * uhn_finish's guarantee, driven directly (tests/fault/fault.py runs it):
 *
 *   lone_rank stuck R   rank R fails alone while every other rank waits in a
 *                       collective R never joins: R must print its own line
 *                       and abort the job after UHN_FINISH_GRACE seconds
 *   lone_rank late R    rank R fails, the others succeed and finish: the
 *                       failure is agreed at the end, rank 0 prints it
 *   lone_rank all R     every rank fails the same way (an input error)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uhn/uhn.h"

int main(int argc, char **argv) {
    int provided;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    uhn_ctx *ctx;
    if (argc != 3 || uhn_ctx_create(MPI_COMM_WORLD, &ctx) != UHN_OK) {
        fprintf(stderr, "usage: lone_rank stuck|late|all RANK\n");
        MPI_Abort(MPI_COMM_WORLD, 64);
    }
    const char *mode = argv[1];
    int r = atoi(argv[2]), st = UHN_OK;
    if (!strcmp(mode, "all")) {
        st = uhn_fail(ctx, UHN_EINPUT, "every rank failed");
    } else if (ctx->rank == r) {
        st = uhn_fail(ctx, UHN_EIO, "lone failure on rank %d", r);
    } else if (!strcmp(mode, "stuck")) {
        int x = 1, y = 0; /* a collective rank r never joins */
        MPI_Allreduce(&x, &y, 1, MPI_INT, MPI_SUM, ctx->comm);
        fprintf(stderr, "lone_rank: rank %d left a collective rank %d never joined\n", ctx->rank,
                r);
    }
    st = uhn_finish(ctx, st);
    uhn_ctx_destroy(ctx);
    MPI_Finalize();
    return uhn_exit_code(st);
}
