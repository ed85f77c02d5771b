/* The subcommands of the uhn program; each is one entry of main's table. */
#ifndef UHN_APP_COMMANDS_H
#define UHN_APP_COMMANDS_H

#include "uhn/context.h"

/*
 * A subcommand runs on every rank with argv[0] == its name. It returns a status
 * agreed on every rank (uhn_agree); on failure ctx->msg holds the one line that
 * main prints from rank 0. Collective over ctx->comm.
 */
typedef int (*uhn_command_fn)(uhn_ctx *ctx, int argc, char **argv);

int uhn_cmd_run(uhn_ctx *ctx, int argc, char **argv);
int uhn_cmd_merge(uhn_ctx *ctx, int argc, char **argv);
int uhn_cmd_recall(uhn_ctx *ctx, int argc, char **argv);
int uhn_cmd_bench(uhn_ctx *ctx, int argc, char **argv);
int uhn_cmd_encode(uhn_ctx *ctx, int argc, char **argv);
int uhn_cmd_separability(uhn_ctx *ctx, int argc, char **argv);

#endif
