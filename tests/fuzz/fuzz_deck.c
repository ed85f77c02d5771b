/*
 * Fuzz target: the input deck parser of `uhn run` (uhn_deck_parse).
 *
 * Input: deck text, optionally followed by command-line overrides, each after
 * a NUL byte ("DECK\0section.key=value\0..."; at most MAX_OVERRIDES). A deck
 * file never holds a NUL (uhn_deck_load refuses one), so the split loses
 * nothing, and every plain .ini file is a seed as it is. On success the sweep
 * is walked the way `uhn run` walks it: the point count, the value index of a
 * few points and the engine parameters there, every key's effective value and
 * location.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "uhn/deck.h"
#include "uhn/engine.h"

#define MAX_OVERRIDES 4
#define MAX_INPUT     (1 << 20) /* DECK_MAX_BYTES: a larger file is not a deck */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

FUZZ_INITIALIZE(0)

/* Reads everything a command reads of a parsed deck. */
static void walk(const uhn_deck *d) {
    int64_t np = uhn_deck_npoints(d);
    const int64_t probe[] = {0, 1, np / 2, np - 2, np - 1};
    for (size_t i = 0; i < sizeof probe / sizeof probe[0]; ++i) {
        if (probe[i] < 0 || probe[i] >= np) continue;
        int idx[UHN_KEY_COUNT];
        uhn_params p;
        uhn_deck_point(d, probe[i], idx);
        uhn_deck_params(d, idx, &p);
        for (int k = 0; k < UHN_KEY_COUNT; ++k) {
            /* every index of a point names a value (a list may be empty: none) */
            const char *s = uhn_deck_str(d, (uhn_deck_key_id)k, idx[k]);
            if (!s && uhn_deck_count(d, (uhn_deck_key_id)k) > 0) abort();
        }
    }
    for (int k = 0; k < UHN_KEY_COUNT; ++k) {
        uhn_deck_entry e;
        uhn_deck_entry_at(d, k, &e);
        if (!e.value || !uhn_deck_where(d, (uhn_deck_key_id)k)) abort();
        for (int j = 0; j < uhn_deck_count(d, (uhn_deck_key_id)k); ++j) {
            (void)uhn_deck_int(d, (uhn_deck_key_id)k, j);
            (void)uhn_deck_double(d, (uhn_deck_key_id)k, j);
            (void)uhn_deck_u64(d, (uhn_deck_key_id)k, j);
            (void)uhn_deck_bool(d, (uhn_deck_key_id)k, j);
        }
    }
    /* the data checks that `uhn run` makes once the source is open */
    (void)uhn_deck_check_data(fuzz_ctx(), d, 60000, 28);
    (void)uhn_deck_check_data(fuzz_ctx(), d, 1, 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > MAX_INPUT) return 0;
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    /* The deck ends at the first NUL; each later NUL-terminated piece is an
     * override (the copy's final NUL ends the last). */
    char *overrides[MAX_OVERRIDES];
    int nov = 0;
    size_t at = strlen(text);
    while (at < size && nov < MAX_OVERRIDES) {
        overrides[nov++] = text + at + 1;
        at += 1 + strlen(text + at + 1);
    }
    uhn_deck *d = NULL;
    fuzz_ctx()->msg[0] = '\0';
    int rc = uhn_deck_parse(fuzz_ctx(), "fuzz.ini", text, nov, overrides, &d);
    fuzz_note("uhn_deck_parse", rc);
    if (rc == UHN_OK) {
        if (!d) abort();
        char np[32];
        snprintf(np, sizeof np, "%lld points", (long long)uhn_deck_npoints(d));
        fuzz_note(np, 0);
        walk(d);
        /* what a results file records: the raw text and the name */
        if (strcmp(uhn_deck_text(d), text) || strcmp(uhn_deck_name(d), "fuzz.ini")) abort();
    } else if (d || !fuzz_ctx()->msg[0]) {
        abort(); /* a failure leaves no deck and says why */
    }
    uhn_deck_destroy(d);
    free(text);
    return 0;
}
