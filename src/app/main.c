/* uhn: the program. Parse the subcommand, run it, report, exit. */
#include <stdio.h>
#include <string.h>

#include "app/commands.h"
#include "uhn/uhn.h"

static const struct {
    const char *name;
    uhn_command_fn fn;
    const char *help;
} commands[] = {
    {"run", uhn_cmd_run, "run the capacity study an input deck describes"},
    {"merge", uhn_cmd_merge, "combine the part files of a split sweep (uhn run --part)"},
    {"recall", uhn_cmd_recall, "recall queries from a memory bank stored in HDF5"},
    {"bench", uhn_cmd_bench, "measure engine throughput against bandwidth and SGEMM"},
    {"encode", uhn_cmd_encode, "fit an encoder on images in HDF5, or encode/decode with a model"},
    {"separability", uhn_cmd_separability, "self against cross cosines of codes stored in HDF5"},
};
enum { NCOMMANDS = sizeof commands / sizeof commands[0] };

static void usage(FILE *f) {
    fprintf(f,
            "usage: mpirun -n R uhn COMMAND [options]\n\n"
            "uhn %s: distributed Universal Hopfield Networks and Hopfield Encoding Networks.\n\n"
            "commands:\n",
            UHN_VERSION_STRING);
    for (int i = 0; i < NCOMMANDS; ++i)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\n`uhn COMMAND --help` documents each command's options.\n"
               "  --help     this text\n  --version  version, git commit and compiler\n");
}

int main(int argc, char **argv) {
    int provided, status = UHN_OK;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    uhn_ctx *ctx = NULL;
    if (uhn_ctx_create(MPI_COMM_WORLD, &ctx) != UHN_OK) {
        fprintf(stderr, "uhn: could not create the MPI context\n");
        MPI_Abort(MPI_COMM_WORLD, 1);
    }

    const char *cmd = argc > 1 ? argv[1] : NULL;
    if (!cmd || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        if (ctx->rank == 0) usage(cmd ? stdout : stderr);
        status = cmd ? UHN_OK : uhn_fail(ctx, UHN_EINPUT, "no command given (see uhn --help)");
    } else if (!strcmp(cmd, "--version")) {
        if (ctx->rank == 0)
            printf("uhn %s (commit %s, %s, %s)\n", UHN_VERSION_STRING, UHN_GIT_COMMIT, UHN_COMPILER,
                   UHN_BUILD_TYPE);
    } else if ((status = uhn_ctx_check(ctx)) == UHN_OK) {
        uhn_ctx_check_binding(ctx);
        int found = 0;
        for (int i = 0; i < NCOMMANDS && !found; ++i)
            if (!strcmp(cmd, commands[i].name)) {
                found = 1;
                status = commands[i].fn(ctx, argc - 1, argv + 1);
            }
        if (!found)
            status = uhn_fail(ctx, UHN_EINPUT, "unknown command '%s' (see uhn --help)", cmd);
    }

    status = uhn_finish(ctx, status);
    uhn_ctx_destroy(ctx);
    MPI_Finalize();
    return uhn_exit_code(status);
}
