/*
 * encoder_resave MODEL OUT GROUP: loads a model file with uhn_encoder_load (at
 * any rank count) and writes it again with uhn_encoder_save into group GROUP
 * ("/" or, as a study's results file does, "/encoders/NAME") of a new file OUT,
 * from rank 0. encode_vq_mlp.py checks that the copy reloads to the same codes
 * and keeps the layout. Exit 0 on success, 1 with the message otherwise.
 */
#include <stdio.h>

#include "uhn/encoder.h"
#include "uhn/uhn.h"

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    uhn_ctx *ctx = NULL;
    if (uhn_ctx_create(MPI_COMM_WORLD, &ctx) != UHN_OK) MPI_Abort(MPI_COMM_WORLD, 1);
    int st =
        argc == 4 ? UHN_OK : uhn_fail(ctx, UHN_EINPUT, "usage: encoder_resave MODEL OUT GROUP");
    uhn_encoder *e = NULL;
    if (st == UHN_OK) st = uhn_encoder_load(ctx, argv[1], "MODEL", &e);
    if (st == UHN_OK && ctx->rank == 0) {
        uhn_h5_writer *w = NULL;
        st = uhn_h5_writer_create(ctx, argv[2], &w);
        if (st == UHN_OK) {
            st = uhn_encoder_save(e, w, argv[3]);
            if (st != UHN_OK)
                uhn_h5_writer_abort(w);
            else
                st = uhn_h5_writer_commit(w);
        }
    }
    st = uhn_agree(ctx, st);
    if (st != UHN_OK) uhn_report(ctx);
    uhn_encoder_destroy(e);
    uhn_ctx_destroy(ctx);
    MPI_Finalize();
    return st == UHN_OK ? 0 : 1;
}
