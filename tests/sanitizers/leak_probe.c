/*
 * The leak check is live (sanitizer builds): this program, linked with libuhn
 * like any user of the engine, drops an allocation of its own between
 * MPI_Init and MPI_Finalize. LeakSanitizer, run inside MPI_Finalize
 * (src/core/leak_check.c) with the suite's suppressions, must report it: the
 * test `sanitizer_leak_probe` passes only on that report. Open MPI's own
 * allocations, made in the same process, must not be reported.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uhn/uhn.h"

static void *volatile kept;

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    uhn_ctx *ctx;
    if (uhn_ctx_create(MPI_COMM_WORLD, &ctx) != UHN_OK) return 1;
    char *lost = malloc(4242); /* the leak: 4242 bytes, referenced nowhere at the end */
    memset(lost, 1, 4242);
    kept = lost;
    kept = NULL;
    uhn_ctx_destroy(ctx);
    MPI_Finalize();
    return 0;
}
