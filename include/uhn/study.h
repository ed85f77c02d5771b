/*
 * Capacity studies: `uhn run DECK`, the sweep an input deck describes.
 *
 * For every sweep point of the deck (uhn_deck_point order) and every trial, a
 * random subset of memory.n images is stored (sharded over the ranks), the
 * first query.count of them are corrupted and recalled, and each retrieval is
 * scored against its true image (squared error, MSE, 1 - SSIM, outcome class
 * of spec §7). Every finished point is written at once to "OUT.partial"
 * (atomically: temporary file and rename); the complete results replace OUT
 * at the end and the partial file is removed. A later run of the same deck
 * resumes from OUT.partial and gives bit-identical results on the same ranks
 * and threads. SIGTERM and SIGUSR1 finish the current point, write it, and
 * stop with UHN_ESIGNAL (exit status 3).
 *
 * Random choices are keyed so that they do not depend on the rank count, the
 * thread count or the other axes: the stored subset by (seed, trial, N), a
 * query's corruption by (seed, trial, query). Every similarity, separation,
 * beta, param, cue_only and level of a given N and trial sees the same
 * memories and the same queries.
 */
#ifndef UHN_STUDY_H
#define UHN_STUDY_H

#include <stddef.h>
#include <stdint.h>
#include "uhn/context.h"
#include "uhn/deck.h"

#ifdef __cplusplus
extern "C" {
#endif

/* RNG streams of the subset draw and its shuffle. */
#define UHN_STREAM_SUBSET  0x53554231u /* "SUB1" */
#define UHN_STREAM_SHUFFLE 0x53554232u /* "SUB2" */

/*
 * The stored subset of trial `trial`: n distinct indices of [0, population),
 * drawn with Floyd's algorithm and put in a uniformly random order with a
 * Fisher-Yates shuffle, from uhn_rng keyed by (seed, stream, index = trial *
 * 2^32 + n). out holds n entries. Requires 1 <= n <= population, n < 2^32 and
 * 0 <= trial < 2^31. Returns 0, or -1 on bad arguments or when memory runs
 * out. Deterministic; not collective; thread-safe.
 */
int uhn_subset(uint64_t seed, int64_t trial, int64_t population, int64_t n, int64_t *out);

/* RNG stream of the pairs that share a caption (cross-stimulus studies). */
#define UHN_STREAM_CAPTION 0x43415031u /* "CAP1" */

/*
 * Which stored pairs share one caption on purpose (spec §13: uniqueness
 * violated). The n memories of a trial, in their stored order, form the
 * floor(n / 2) pairs (2k, 2k + 1); exactly m = round(fraction * floor(n / 2))
 * of them share, the second memory taking the first one's caption: those with
 * the m smallest keys uhn_rng_u64(seed, UHN_STREAM_CAPTION, trial * 2^32 + n,
 * k) (ties to the lower k). shared[k] (floor(n / 2) entries) is set to 1 for a
 * sharing pair, else 0. Requires 0 <= fraction <= 1, n >= 0, 0 <= trial < 2^31.
 * Returns 0, or -1 on bad arguments or when memory runs out. Deterministic;
 * not collective; thread-safe.
 */
int uhn_shared_pairs(uint64_t seed, int64_t trial, int64_t n, double fraction, uint8_t *shared);

/* Options of a run besides the deck. */
typedef struct uhn_study_opts {
    int resume;         /* 1: earlier results (OUT.partial or OUT) must exist */
    int fresh;          /* 1: ignore earlier results and start over (OUT is replaced at the end) */
    int64_t max_points; /* > 0: compute at most this many new points, then stop (UHN_ESIGNAL) */
    int quiet;          /* 1: no progress lines and no table (as output.quiet = on) */
    int64_t part_index; /* with part_count > 0: compute share part_index of part_count ... */
    int64_t part_count; /* ... (uhn_study_share) into its own file (uhn_study_part_path) */
    int argc;           /* the command line, recorded in the provenance (not owned) */
    char **argv;
} uhn_study_opts;

/*
 * Runs the study of deck d. Collective over ctx->comm; the status is agreed.
 * UHN_EINPUT for input errors (with one line in ctx->msg), UHN_ESIGNAL when
 * stopped by SIGTERM/SIGUSR1 or max_points after a clean checkpoint.
 */
int uhn_study_run(uhn_ctx *ctx, const uhn_deck *d, const uhn_study_opts *o);

/*
 * The file of share i of k of a sweep whose results file is out: out without
 * a final ".h5", then ".part<i>of<k>.h5" ("results.h5" -> "results.part0of4.h5").
 * Returns 0, or -1 when it does not fit in len bytes.
 */
int uhn_study_part_path(const char *out, int64_t i, int64_t k, char *buf, size_t len);

/*
 * Which of k shares each of the n points of a sweep belongs to, from the work
 * of each point (work[p] >= 0, in point order): k runs of consecutive points
 * (so that points which share a memory bank mostly share a part), the
 * heaviest run as light as runs of consecutive points allow, and none empty
 * when n >= k (shares k - n .. k - 1 are empty when n < k). share[p] is in
 * [0, k). Deterministic.
 */
void uhn_study_shares(int64_t n, const double *work, int64_t k, int64_t *share);

/*
 * `uhn merge`: combines the complete part files parts[0 .. nparts-1] of one
 * sweep (uhn run --part I/K, every I of 0 .. K-1 once) into out, a file of the
 * same layout and values as a single run's: a copy of the first part with
 * every point's data taken from the part that computed it, marked complete.
 * Refuses, with one line and nothing written, files that are not parts of
 * uhn runs, parts of different decks or sweeps, missing, repeated or
 * unfinished parts, and points done in no part or in two. The file is written
 * under a temporary name and renamed. Collective (rank 0 works); agreed.
 */
int uhn_study_merge(uhn_ctx *ctx, const char *out, int nparts, char *const *parts, int argc,
                    char **argv);

/* Installs the SIGTERM and SIGUSR1 handlers that ask a running study to stop
 * after its current point. Not collective; call once per process. */
void uhn_study_catch_signals(void);

#ifdef __cplusplus
}
#endif
#endif
