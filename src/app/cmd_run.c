/*
 * `uhn run DECK [section.key=value ...] [options]`: a capacity study described
 * by an input deck (include/uhn/deck.h), run by uhn_study_run
 * (include/uhn/study.h). Every rank parses the same arguments; rank 0 reads
 * the deck and broadcasts it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/commands.h"
#include "uhn/uhn.h"

static void print_help(FILE *f) {
    fprintf(f, "usage: mpirun -n R uhn run DECK [section.key=value ...] [options]\n\n"
               "Runs the capacity study an input deck describes (every point of the product of\n"
               "its list keys, each over several trials) and writes one HDF5 results file.\n"
               "Finished points are checkpointed to OUT.partial at once; running the same deck\n"
               "again resumes from there. SIGUSR1 to mpirun, or SIGTERM or SIGUSR1 to the\n"
               "ranks, finish the current point, write it, and stop with exit status 3 (Open\n"
               "MPI's mpirun exits 1 on a SIGTERM of its own; the checkpoint is whole).\n\n"
               "options:\n"
               "  section.key=value   override a deck key (after the file; lists allowed)\n"
               "  --resume            require earlier results to resume from (else an error)\n"
               "  --fresh             ignore earlier results and start over; OUT is replaced\n"
               "                      only when the new run completes\n"
               "  --max-points K      compute at most K new points, then stop (exit status 3)\n"
               "  --quiet             no progress lines and no table (as output.quiet = on)\n"
               "  --print-output      print the results file's path (output.file) and exit\n"
               "  --help-deck         the table of deck keys (markdown)\n"
               "  --help              this text\n\n"
               "Exit status: 0 when every point is done, 2 on bad input (one line names the\n"
               "deck line, key, file or index at fault), 3 when stopped early with a clean\n"
               "checkpoint, 1 on other failures.\n");
}

int uhn_cmd_run(uhn_ctx *ctx, int argc, char **argv) {
    uhn_study_opts o;
    memset(&o, 0, sizeof o);
    o.argc = argc + 1; /* the provenance records "uhn run ..." */
    o.argv = argv - 1;
    const char *deck_path = NULL;
    char **over = malloc((size_t)(argc > 0 ? argc : 1) * sizeof *over);
    int nover = 0, help = 0, help_deck = 0, print_output = 0, st = UHN_OK;
    if (!over) st = uhn_fail(ctx, UHN_ENOMEM, "out of memory");
    for (int i = 1; st == UHN_OK && i < argc; ++i) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            help = 1;
        } else if (!strcmp(a, "--help-deck")) {
            help_deck = 1;
        } else if (!strcmp(a, "--print-output")) {
            print_output = 1;
        } else if (!strcmp(a, "--resume")) {
            o.resume = 1;
        } else if (!strcmp(a, "--fresh")) {
            o.fresh = 1;
        } else if (!strcmp(a, "--quiet")) {
            o.quiet = 1;
        } else if (!strncmp(a, "--max-points", 12) && (a[12] == '=' || a[12] == '\0')) {
            const char *v = a[12] == '=' ? a + 13 : (i + 1 < argc ? argv[++i] : NULL);
            char *end = NULL;
            errno = 0;
            long long k = v ? strtoll(v, &end, 10) : 0;
            if (!v)
                st = uhn_fail(ctx, UHN_EINPUT, "--max-points needs a value (K >= 1)");
            else if (!*v || *end || errno || k < 1)
                st = uhn_fail(ctx, UHN_EINPUT, "--max-points: '%s' is not an integer >= 1", v);
            else
                o.max_points = k;
        } else if (!strncmp(a, "--", 2)) {
            st = uhn_fail(ctx, UHN_EINPUT, "unknown option '%s' (see uhn run --help)", a);
        } else if (strchr(a, '=')) {
            over[nover++] = argv[i];
        } else if (!deck_path) {
            deck_path = a;
        } else {
            st = uhn_fail(
                ctx, UHN_EINPUT,
                "unexpected argument '%s': one deck only (overrides are section.key=value)", a);
        }
    }
    if (st == UHN_OK && o.resume && o.fresh)
        st = uhn_fail(ctx, UHN_EINPUT, "--resume and --fresh contradict each other");
    if (st == UHN_OK && (help || help_deck)) {
        if (ctx->rank == 0) help ? print_help(stdout) : uhn_deck_print_keys(stdout);
        free(over);
        return UHN_OK;
    }
    if (st == UHN_OK && !deck_path)
        st = uhn_fail(ctx, UHN_EINPUT,
                      "no deck given (usage: uhn run DECK [section.key=value ...])");
    st = uhn_agree(ctx, st);
    uhn_deck *d = NULL;
    if (st == UHN_OK) st = uhn_deck_load(ctx, deck_path, nover, over, &d);
    if (st == UHN_OK && print_output) {
        if (ctx->rank == 0) printf("%s\n", uhn_deck_str(d, UHN_KEY_OUTPUT_FILE, 0));
    } else if (st == UHN_OK) {
        uhn_study_catch_signals();
        st = uhn_study_run(ctx, d, &o);
    }
    uhn_deck_destroy(d);
    free(over);
    return st;
}
