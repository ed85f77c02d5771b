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
               "  --part I/K          compute only share I (0 <= I < K) of the sweep's points\n"
               "                      (K runs of consecutive points, about equal work) into\n"
               "                      OUT.partIofK.h5 (OUT without .h5); `uhn merge` combines\n"
               "                      the K part files into the file of a single run\n"
               "  --quiet             no progress lines and no table (as output.quiet = on)\n"
               "  --print-output      print the results file's path (output.file, or its part\n"
               "                      file with --part) and exit\n"
               "  --help-deck         the table of deck keys (markdown)\n"
               "  --help              this text\n\n"
               "Exit status: 0 when every point is done, 2 on bad input (one line names the\n"
               "deck line, key, file or index at fault), 3 when stopped early with a clean\n"
               "checkpoint, 1 on other failures.\n");
}

/* --part I/K: 0 <= I < K, both integers. */
static int parse_part(uhn_ctx *ctx, const char *v, uhn_study_opts *o) {
    if (!v) return uhn_fail(ctx, UHN_EINPUT, "--part needs a value I/K (0 <= I < K)");
    char *end = NULL, *end2 = NULL;
    errno = 0;
    long long i = strtoll(v, &end, 10), k = 0;
    int ok = end != v && *end == '/' && !errno;
    if (ok) k = strtoll(end + 1, &end2, 10);
    ok = ok && end2 != end + 1 && !*end2 && !errno && i >= 0 && k >= 1 && i < k && k <= 1000000 &&
         v[0] != '+' && end[1] != '+';
    if (!ok)
        return uhn_fail(ctx, UHN_EINPUT,
                        "--part: '%s' is not I/K with integers 0 <= I < K <= 1000000", v);
    o->part_index = i;
    o->part_count = k;
    return UHN_OK;
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
        } else if (!strncmp(a, "--part", 6) && (a[6] == '=' || a[6] == '\0')) {
            const char *v = a[6] == '=' ? a + 7 : (i + 1 < argc ? argv[++i] : NULL);
            st = parse_part(ctx, v, &o);
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
        const char *out = uhn_deck_str(d, UHN_KEY_OUTPUT_FILE, 0);
        char part[4096];
        if (o.part_count > 0 &&
            uhn_study_part_path(out, o.part_index, o.part_count, part, sizeof part) == 0)
            out = part;
        if (ctx->rank == 0) printf("%s\n", out);
    } else if (st == UHN_OK) {
        uhn_study_catch_signals();
        st = uhn_study_run(ctx, d, &o);
    }
    uhn_deck_destroy(d);
    free(over);
    return st;
}

static void print_merge_help(FILE *f) {
    fprintf(f, "usage: uhn merge OUT PART.h5...\n\n"
               "Combines the part files of a sweep split with `uhn run DECK --part I/K` (every\n"
               "I of 0 .. K-1 once, each complete) into OUT, a results file identical in\n"
               "layout and values to a single run's (its timings and provenance are those of\n"
               "the parts; the provenance also names the parts). Refuses, with one line and\n"
               "nothing written, files that are not parts of uhn runs, parts of different\n"
               "decks or splits, missing, repeated or unfinished parts. OUT is written under a\n"
               "temporary name and renamed when complete.\n\n"
               "Exit status: 0 merged, 2 bad input, 1 other failures.\n");
}

int uhn_cmd_merge(uhn_ctx *ctx, int argc, char **argv) {
    char **files = malloc((size_t)(argc > 0 ? argc : 1) * sizeof *files);
    int n = 0, st = files ? UHN_OK : uhn_fail(ctx, UHN_ENOMEM, "out of memory");
    for (int i = 1; st == UHN_OK && i < argc; ++i) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            if (ctx->rank == 0) print_merge_help(stdout);
            free(files);
            return UHN_OK;
        }
        if (!strncmp(argv[i], "--", 2))
            st = uhn_fail(ctx, UHN_EINPUT, "unknown option '%s' (see uhn merge --help)", argv[i]);
        else
            files[n++] = argv[i];
    }
    if (st == UHN_OK && n < 2)
        st = uhn_fail(ctx, UHN_EINPUT, "usage: uhn merge OUT PART.h5... (%s)",
                      n == 0 ? "no files given" : "no part files given");
    if (st == UHN_OK) st = uhn_study_merge(ctx, files[0], n - 1, files + 1, argc + 1, argv - 1);
    free(files);
    return st;
}
