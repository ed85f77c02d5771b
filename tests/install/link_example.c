/*
 * An outside code that links the installed engine: a bank of 3 rows [0 1],
 * [2 3], [4 5] over the ranks, and the query [4 5] recalled with `max`: it must
 * return row 2 and its value exactly.
 */
#include <stdio.h>
#include <uhn/uhn.h>
int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    uhn_ctx *ctx;
    uhn_ctx_create(MPI_COMM_WORLD, &ctx);
    uhn_bank *b;
    uhn_bank_create(ctx, 3, 2, 0, 0, &b);
    for (int64_t i = 0; i < b->n_local * 2; ++i) b->keys[i] = (float)(b->row0 * 2 + i);
    uhn_bank_commit(b, "k", NULL);
    uhn_params p;
    uhn_params_default(&p);
    p.sep = uhn_separation_find("max");
    float q[2] = {4, 5};
    uhn_result *r;
    uhn_result_create(ctx, 1, 2, 1, 0, &r);
    int rc = uhn_recall(b, &p, q, 1, NULL, 0, r);
    if (!ctx->rank)
        printf("rc %d index %lld out %g %g (uhn %s)\n", rc, (long long)r->index[0], r->output[0],
               r->output[1], UHN_VERSION_STRING);
    int bad = !(r->index[0] == 2 && r->output[0] == 4 && r->output[1] == 5);
    uhn_result_destroy(r);
    uhn_bank_destroy(b);
    uhn_ctx_destroy(ctx);
    MPI_Finalize();
    return rc || bad;
}
