/*
 * The ScaLAPACK link, on 1-4 ranks: the BLACS grid of src/linalg/blacs_grid.h
 * and one psgemm_ of block-cyclically distributed matrices, compared with the
 * serial product. The entries are small integers, so every product is exact
 * in float32 and the comparison is exact.
 */
#include <mpi.h>
#include <stdlib.h>

#include "check.h"
#include "linalg/blacs_grid.h"
#include "linalg/scalapack.h"
#include "uhn/context.h"

/* Global entries, small integers. */
static float a_at(int i, int j) {
    return (float)((3 * i + 5 * j) % 7 - 3);
}

static float b_at(int i, int j) {
    return (float)((2 * i + 7 * j + 1) % 5 - 2);
}

/* Global index of local index l along a dimension with block nb over np
 * processes, for process p (source process 0). */
static int global_index(int l, int nb, int p, int np) {
    return (l / nb) * nb * np + p * nb + l % nb;
}

/* C = op(A) B with A m x k (or k x m transposed), B k x n, blocks mb x nb. */
static void multiply(uhn_ctx *ctx, const uhn_blacs_grid *g, int m, int n, int k, int mb, int nb,
                     int transa) {
    check_context("psgemm %c m=%d n=%d k=%d blocks %dx%d on a %dx%d grid", transa ? 'T' : 'N', m, n,
                  k, mb, nb, g->nprow, g->npcol);
    const int zero = 0, one = 1;
    const int am = transa ? k : m, an = transa ? m : k;
    int lr_a = numroc_(&am, &mb, &g->myrow, &zero, &g->nprow);
    int lc_a = numroc_(&an, &nb, &g->mycol, &zero, &g->npcol);
    int lr_b = numroc_(&k, &mb, &g->myrow, &zero, &g->nprow);
    int lc_b = numroc_(&n, &nb, &g->mycol, &zero, &g->npcol);
    int lr_c = numroc_(&m, &mb, &g->myrow, &zero, &g->nprow);
    int lc_c = numroc_(&n, &nb, &g->mycol, &zero, &g->npcol);
    int lld_a = lr_a > 1 ? lr_a : 1, lld_b = lr_b > 1 ? lr_b : 1, lld_c = lr_c > 1 ? lr_c : 1;
    float *A = calloc((size_t)lld_a * (size_t)(lc_a > 0 ? lc_a : 1), sizeof(float));
    float *Bm = calloc((size_t)lld_b * (size_t)(lc_b > 0 ? lc_b : 1), sizeof(float));
    float *C = calloc((size_t)lld_c * (size_t)(lc_c > 0 ? lc_c : 1), sizeof(float));
    int desc_a[9], desc_b[9], desc_c[9], info = 0;
    descinit_(desc_a, &am, &an, &mb, &nb, &zero, &zero, &g->ictxt, &lld_a, &info);
    CHECK_INT(0, info);
    descinit_(desc_b, &k, &n, &mb, &nb, &zero, &zero, &g->ictxt, &lld_b, &info);
    CHECK_INT(0, info);
    descinit_(desc_c, &m, &n, &mb, &nb, &zero, &zero, &g->ictxt, &lld_c, &info);
    CHECK_INT(0, info);
    /* Column-major local blocks, filled from the global indices. */
    for (int j = 0; j < lc_a; ++j)
        for (int i = 0; i < lr_a; ++i) {
            int gi = global_index(i, mb, g->myrow, g->nprow);
            int gj = global_index(j, nb, g->mycol, g->npcol);
            /* A stored as op(A)^T when transposed: op(A)(r, c) = a_at(r, c). */
            A[i + (size_t)j * lld_a] = transa ? a_at(gj, gi) : a_at(gi, gj);
        }
    for (int j = 0; j < lc_b; ++j)
        for (int i = 0; i < lr_b; ++i)
            Bm[i + (size_t)j * lld_b] = b_at(global_index(i, mb, g->myrow, g->nprow),
                                             global_index(j, nb, g->mycol, g->npcol));
    for (size_t i = 0; i < (size_t)lld_c * (size_t)(lc_c > 0 ? lc_c : 1); ++i) C[i] = -99.0f;
    const float alpha = 1.0f, beta = 0.0f;
    psgemm_(transa ? "T" : "N", "N", &m, &n, &k, &alpha, A, &one, &one, desc_a, Bm, &one, &one,
            desc_b, &beta, C, &one, &one, desc_c);
    long wrong = 0;
    for (int j = 0; j < lc_c; ++j)
        for (int i = 0; i < lr_c; ++i) {
            int gi = global_index(i, mb, g->myrow, g->nprow);
            int gj = global_index(j, nb, g->mycol, g->npcol);
            double want = 0;
            for (int l = 0; l < k; ++l) want += (double)a_at(gi, l) * b_at(l, gj);
            double got = C[i + (size_t)j * lld_c];
            if (got != want && wrong++ < 5)
                CHECK_MSG(0, "C(%d,%d) expected %g, got %g", gi, gj, want, got);
        }
    CHECK_MSG(wrong == 0, "%ld local entries of C wrong", wrong);
    /* Every entry of C is held somewhere exactly once. */
    long held = (long)lr_c * lc_c, total = 0;
    MPI_Allreduce(&held, &total, 1, MPI_LONG, MPI_SUM, ctx->comm);
    CHECK_INT((long)m * n, total);
    free(A), free(Bm), free(C);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    uhn_ctx *ctx = NULL;
    if (uhn_ctx_create(MPI_COMM_WORLD, &ctx) != UHN_OK) MPI_Abort(MPI_COMM_WORLD, 1);
    check_rank_ = ctx->rank;
    uhn_blacs_grid g;
    int rc = uhn_blacs_grid_create(ctx, &g);
    check_context("grid");
    CHECK_MSG(rc == UHN_OK, "uhn_blacs_grid_create: %d (%s)", rc, ctx->msg);
    if (rc == UHN_OK) {
        CHECK_INT(ctx->size, g.nprow * g.npcol);
        CHECK(g.nprow <= g.npcol);
        CHECK(g.myrow >= 0 && g.myrow < g.nprow && g.mycol >= 0 && g.mycol < g.npcol);
        /* Row-major grid: rank = myrow * npcol + mycol. */
        CHECK_INT(ctx->rank, g.myrow * g.npcol + g.mycol);
        multiply(ctx, &g, 7, 5, 6, 2, 2, 0);
        multiply(ctx, &g, 13, 11, 9, 3, 2, 0);
        multiply(ctx, &g, 10, 4, 8, 2, 3, 1);
        multiply(ctx, &g, 1, 1, 1, 2, 2, 0);
        uhn_blacs_grid_destroy(&g);
    }
    int code = check_finish_mpi(ctx->comm, "test_blacs");
    uhn_ctx_destroy(ctx);
    MPI_Finalize();
    return code;
}
