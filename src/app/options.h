/*
 * Command-line options of the uhn commands: one table per command, one parser
 * for all. An option is `--name value`, `--name=value` or a flag `--name`;
 * every error is one line naming the option, and asks for `uhn CMD --help`.
 * Private to the uhn program (src/app).
 */
#ifndef UHN_APP_OPTIONS_H
#define UHN_APP_OPTIONS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "uhn/context.h"

typedef enum { OPT_STR, OPT_INT, OPT_DBL, OPT_FLAG } opt_kind;

typedef struct opt_def {
    const char *name; /* without the leading "--" */
    opt_kind kind;    /* the field: const char * (STR), int64_t (INT), double (DBL), int (FLAG) */
    size_t offset;    /* of the field in the command's argument struct */
    const char *metavar;
    const char *help;               /* with the default */
    int64_t lo, hi;                 /* OPT_INT: the range, checked in integers */
    const char *(*check)(double v); /* OPT_INT, OPT_DBL: a further check (NULL: none), returning
                                       what is required, e.g. "must be > 0" */
    unsigned subs;                  /* the subcommands (bits) that take it; 0: every one */
    int required;                   /* 1: the command needs it (unless --help) */
} opt_def;

typedef struct opt_cli {
    const char *command; /* "recall", "encode", ... (messages say "uhn recall --help") */
    const opt_def *opts;
    int nopts;
} opt_cli;

/*
 * Parses argv[first..argc) into args (whose fields the table locates) for
 * subcommand `sub` (a bit of opt_def.subs, named subname in messages; 0 and
 * NULL for a command without subcommands). -h is --help. Checks that every
 * required option is given unless the int field of `help_offset` (the --help
 * flag) is set. UHN_EINPUT with one line on bad input. Not collective.
 */
int opt_parse(uhn_ctx *ctx, const opt_cli *cli, unsigned sub, const char *subname, int argc,
              char **argv, int first, void *args, size_t help_offset);

/* Prints text from column `col`, wrapping at spaces before column 100 and
 * continuing lines at column `indent`. */
void opt_print_wrapped(FILE *f, int col, int indent, const char *text);

/* Prints the options of the table, one per line: "  --name METAVAR   help",
 * the help starting at column `col` (wrapped). */
void opt_print_table(FILE *f, const opt_cli *cli, int col);

/*
 * When ctx->msg is about an engine parameter (ctx->param), names the command's
 * flag for it instead: "beta must be ..." becomes "--beta must be ..." ('_' in
 * a parameter's name is '-' in its flag); a parameter the command sets only
 * through a negated flag (normalize: --no-normalize) is named as
 * "--no-normalize: normalize ...". Returns st.
 */
int opt_flagged(uhn_ctx *ctx, const opt_cli *cli, int st);

#endif
