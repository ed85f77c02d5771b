/* The one command-line parser of the uhn commands (options.h). */
#include <string.h>

#include "app/options.h"
#include "uhn/parse.h"

static const opt_def *find(const opt_cli *cli, const char *name, size_t len) {
    for (int i = 0; i < cli->nopts; ++i)
        if (strlen(cli->opts[i].name) == len && !strncmp(cli->opts[i].name, name, len))
            return &cli->opts[i];
    return NULL;
}

static int set(uhn_ctx *ctx, const opt_def *o, const char *val, void *args) {
    char *field = (char *)args + o->offset, why[UHN_MSG_MAX / 2];
    double v = 0;
    switch (o->kind) {
    case OPT_STR:
        *(const char **)field = val;
        return UHN_OK;
    case OPT_FLAG:
        *(int *)field = 1;
        return UHN_OK;
    case OPT_DBL:
        if (uhn_parse_double(val, (double *)field, why, sizeof why) != UHN_PARSE_OK)
            return uhn_fail(ctx, UHN_EINPUT, "--%s: %s", o->name, why);
        v = *(double *)field;
        break;
    case OPT_INT:
        if (uhn_parse_int64(val, o->lo, o->hi, (int64_t *)field, why, sizeof why) != UHN_PARSE_OK)
            return uhn_fail(ctx, UHN_EINPUT, "--%s: %s", o->name, why);
        v = (double)*(int64_t *)field;
        break;
    }
    const char *need = o->check ? o->check(v) : NULL;
    if (need) return uhn_fail(ctx, UHN_EINPUT, "--%s %s (got %s)", o->name, need, val);
    return UHN_OK;
}

int opt_parse(uhn_ctx *ctx, const opt_cli *cli, unsigned sub, const char *subname, int argc,
              char **argv, int first, void *args, size_t help_offset) {
    char for_sub[64] = "";
    if (subname) snprintf(for_sub, sizeof for_sub, " for uhn %s %s", cli->command, subname);
    unsigned char given[64] = {0};
    if (cli->nopts > (int)sizeof given)
        return uhn_fail(ctx, UHN_EINTERNAL, "uhn %s: too many options", cli->command);
    for (int i = first; i < argc; ++i) {
        const char *arg = argv[i];
        if (!strcmp(arg, "-h")) arg = "--help";
        if (strncmp(arg, "--", 2) != 0 || !arg[2])
            return uhn_fail(ctx, UHN_EINPUT, "unexpected argument '%s' (see uhn %s --help)", arg,
                            cli->command);
        const char *name = arg + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const opt_def *o = find(cli, name, len);
        if (!o || (o->subs && !(o->subs & sub)))
            return uhn_fail(ctx, UHN_EINPUT, "unknown option '--%.*s'%s (see uhn %s --help)",
                            (int)len, name, for_sub, cli->command);
        if (given[o - cli->opts]++)
            return uhn_fail(ctx, UHN_EINPUT, "--%s given more than once", o->name);
        const char *val = NULL;
        if (o->kind == OPT_FLAG) {
            if (eq) return uhn_fail(ctx, UHN_EINPUT, "--%s takes no value", o->name);
        } else if (eq) {
            val = eq + 1;
        } else if (i + 1 < argc) {
            val = argv[++i];
        } else {
            return uhn_fail(ctx, UHN_EINPUT, "--%s needs a value (%s)", o->name, o->metavar);
        }
        UHN_CALL(set(ctx, o, val, args));
    }
    if (*(const int *)((const char *)args + help_offset)) return UHN_OK;
    for (int i = 0; i < cli->nopts; ++i) {
        const opt_def *o = &cli->opts[i];
        if (o->required && (!o->subs || (o->subs & sub)) && !given[i])
            return uhn_fail(ctx, UHN_EINPUT, "missing required option --%s%s (see uhn %s --help)",
                            o->name, for_sub, cli->command);
    }
    return UHN_OK;
}

void opt_print_wrapped(FILE *f, int col, int indent, const char *text) {
    while (*text) {
        int room = 100 - col, n = (int)strlen(text);
        if (n > room) {
            n = room;
            while (n > 0 && text[n] != ' ') --n;
            if (n == 0) n = (int)strcspn(text, " ");
        }
        fprintf(f, "%.*s\n", n, text);
        text += n;
        while (*text == ' ') ++text;
        if (*text) fprintf(f, "%*s", indent, "");
        col = indent;
    }
}

void opt_print_table(FILE *f, const opt_cli *cli, int col) {
    for (int i = 0; i < cli->nopts; ++i) {
        const opt_def *o = &cli->opts[i];
        char head[64];
        snprintf(head, sizeof head, "--%s%s%s", o->name, o->metavar ? " " : "",
                 o->metavar ? o->metavar : "");
        fprintf(f, "  %-*s ", col - 3, head);
        int at = 3 + (int)strlen(head) > col ? 3 + (int)strlen(head) : col;
        opt_print_wrapped(f, at, col, o->help);
    }
}

int opt_flagged(uhn_ctx *ctx, const opt_cli *cli, int st) {
    if (st == UHN_OK || !ctx->param[0]) return st;
    char name[40], label[96];
    size_t n = 0;
    for (; ctx->param[n] && n + 1 < sizeof name; ++n)
        name[n] = ctx->param[n] == '_' ? '-' : ctx->param[n];
    name[n] = '\0';
    char negated[48];
    snprintf(negated, sizeof negated, "no-%s", name);
    if (!find(cli, name, strlen(name)) && find(cli, negated, strlen(negated)))
        snprintf(label, sizeof label, "--%s: %s", negated, ctx->param);
    else
        snprintf(label, sizeof label, "--%s", name);
    uhn_relabel(ctx, label, " ");
    return st;
}
