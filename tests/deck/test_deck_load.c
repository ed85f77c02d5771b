/*
 * uhn_deck_load at 1 and 3 ranks: rank 0 reads the file and broadcasts it;
 * every rank ends with the same deck, or the same status and message. Deck
 * files are written into the directory given as argv[1].
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/check.h"
#include "uhn/deck.h"

static uhn_ctx *ctx;
static char dir[512];

/* Rank 0 writes `len` bytes of text to dir/name; every rank gets the path. */
static void write_deck(const char *name, const char *text, size_t len, char *path, size_t n) {
    snprintf(path, n, "%s/%s", dir, name);
    if (ctx->rank == 0) {
        FILE *f = fopen(path, "wb");
        CHECK_MSG(f != NULL, "cannot write %s", path);
        if (f) {
            fwrite(text, 1, len, f);
            fclose(f);
        }
    }
    MPI_Barrier(ctx->comm);
}

static void expect_load_error(const char *path, int nov, char **ov, const char *msg) {
    uhn_deck *d = (uhn_deck *)1;
    ctx->msg[0] = '\0';
    int rc = uhn_deck_load(ctx, path, nov, ov, &d);
    CHECK_INT(UHN_EINPUT, rc);
    CHECK(d == NULL);
    CHECK_MSG(!strcmp(ctx->msg, msg), "expected message\n  \"%s\"\ngot\n  \"%s\"", msg, ctx->msg);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    if (uhn_ctx_create(MPI_COMM_WORLD, &ctx) != UHN_OK) MPI_Abort(MPI_COMM_WORLD, 1);
    check_rank_ = ctx->rank;
    snprintf(dir, sizeof dir, "%s", argc > 1 ? argv[1] : ".");
    char path[1024], msg[2048];

    check_context("valid deck");
    const char *text = "[memory]\nn = 10, 100\n[network]\nsimilarity = dot, euclidean\n"
                       "[query]\nlevel = 0.25, 0.5\n";
    write_deck("ok.ini", text, strlen(text), path, sizeof path);
    char *ov[] = {"experiment.seed=42", "network.beta=3"};
    uhn_deck *d = NULL;
    int rc = uhn_deck_load(ctx, path, 2, ov, &d);
    CHECK_MSG(rc == UHN_OK && d, "load failed: %s", ctx->msg);
    if (d) {
        CHECK(!strcmp(uhn_deck_text(d), text));
        CHECK(!strcmp(uhn_deck_name(d), path));
        CHECK_INT(8, uhn_deck_npoints(d));
        CHECK_INT(100, uhn_deck_int(d, UHN_KEY_MEMORY_N, 1));
        CHECK(!strcmp(uhn_deck_str(d, UHN_KEY_NETWORK_SIMILARITY, 1), "euclidean"));
        CHECK(uhn_deck_u64(d, UHN_KEY_EXPERIMENT_SEED, 0) == 42);
        CHECK_NEAR(3, uhn_deck_double(d, UHN_KEY_NETWORK_BETA, 0), 0);
        snprintf(msg, sizeof msg, "%s/ok.h5", dir);
        CHECK(!strcmp(uhn_deck_str(d, UHN_KEY_OUTPUT_FILE, 0), msg));
        /* every rank holds the same effective parameters */
        unsigned long h = 5381;
        for (int i = 0; i < UHN_KEY_COUNT; ++i) {
            uhn_deck_entry e;
            uhn_deck_entry_at(d, i, &e);
            for (const char *c = e.value; *c; ++c) h = h * 33 + (unsigned char)*c;
        }
        unsigned long h0 = h;
        MPI_Bcast(&h0, 1, MPI_UNSIGNED_LONG, 0, ctx->comm);
        CHECK(h == h0);
        uhn_deck_destroy(d);
    }

    check_context("missing file");
    snprintf(path, sizeof path, "%s/nope.ini", dir);
    snprintf(msg, sizeof msg, "%s: cannot read the deck: No such file or directory", path);
    expect_load_error(path, 0, NULL, msg);

    check_context("NUL byte");
    write_deck("nul.ini", "[memory]\nn = 1\0\n", 16, path, sizeof path);
    snprintf(msg, sizeof msg, "%s: contains a NUL byte: not a text deck", path);
    expect_load_error(path, 0, NULL, msg);

    check_context("parse error through load");
    text = "[memory]\nn = 10\n[query]\ncount = -1\n";
    write_deck("count.ini", text, strlen(text), path, sizeof path);
    snprintf(msg, sizeof msg,
             "%s:4: [query] count: -1 is out of range (must be in [0, 4294967295])", path);
    expect_load_error(path, 0, NULL, msg);

    check_context("override error through load");
    write_deck("ok2.ini", "[memory]\nn = 10\n", 16, path, sizeof path);
    char *bad[] = {"memory.n=ten"};
    expect_load_error(path, 1, bad, "override 'memory.n=ten': [memory] n: 'ten' is not an integer");

    int code = check_finish_mpi(ctx->comm, "test_deck_load");
    uhn_ctx_destroy(ctx);
    MPI_Finalize();
    return code;
}
