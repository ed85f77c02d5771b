/*
 * Fuzz target: the data-source spec parser (uhn_dataset_open) on
 * `synthetic:KIND?KEY=VALUE&...` specs, and the rows of what it opens.
 *
 * Input: a spec, up to the first NUL. One without ':' is a synthetic spec
 * and gets the "synthetic:" prefix ("uniform?n=4&k=3"); one that starts with
 * "synthetic:" is used as it is; one whose source is another known one
 * (fashion-mnist, hdf5) is skipped, because those name files and directories
 * on disk (fuzz_h5 covers hdf5 with files it writes itself); any other
 * "NAME:..." goes in as it is, to the unknown-source error, which touches no
 * file.
 *
 * On success: the accessors, a few rows (first, last, middle, a repeat) and
 * the out-of-range index errors of uhn_dataset_rows. The rows' pixels are
 * checked against the set's range.
 */
#define _POSIX_C_SOURCE 200809L /* strnlen */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "uhn/dataset.h"

#define MAX_SPEC 4096
/* Largest row read (floats); a synthetic row of k = 4e9 pixels is valid. */
#define MAX_ROW_VALUES (1 << 16)
/* Largest prototype table (families x k floats) of a correlated set opened:
 * the parser refuses more than 2^28 (it allocates and fills the table at
 * open); tables between 2^22 and that are valid but slow, and skipped here
 * (see the README of tests/fuzz). */
#define MAX_PROTO_VALUES (1 << 22)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

FUZZ_INITIALIZE(0)

/* The value of `key` in the query of a synthetic spec, as the parser would
 * read it (strtod of the text after the first '='), or `dflt` when absent or
 * not a number. Only used to size the guard above. */
static double query_value(const char *spec, const char *key, double dflt) {
    const char *q = strchr(spec, '?');
    size_t klen = strlen(key);
    for (const char *p = q ? q + 1 : NULL; p && *p;) {
        size_t len = strcspn(p, "&");
        if (len > klen && !strncmp(p, key, klen) && p[klen] == '=') {
            char buf[256];
            snprintf(buf, sizeof buf, "%.*s", (int)(len - klen - 1), p + klen + 1);
            char *end = NULL;
            double v = strtod(buf, &end);
            if (end != buf && isfinite(v)) return v;
        }
        p += len + (p[len] == '&');
    }
    return dflt;
}

/* The prototype values a correlated spec asks for (families x k), 0 for
 * other kinds. */
static double prototype_values(const char *spec) {
    if (!strstr(spec, "correlated")) return 0;
    double k = query_value(spec, "k", NAN);
    if (isnan(k))
        k = query_value(spec, "h", 1) * query_value(spec, "w", 1) * query_value(spec, "c", 1);
    return query_value(spec, "families", 10) * fabs(k);
}

static void read_rows(uhn_dataset *ds) {
    const int64_t n = uhn_dataset_n(ds), k = uhn_dataset_k(ds);
    if (n < 1 || k < 1 ||
        uhn_dataset_height(ds) * uhn_dataset_width(ds) * uhn_dataset_channels(ds) != k)
        abort(); /* an open set has a shape */
    float lo, hi;
    uhn_dataset_range(ds, &lo, &hi);
    (void)uhn_dataset_has_labels(ds);
    (void)uhn_dataset_source(ds);
    (void)uhn_dataset_spec(ds);
    const int64_t index[4] = {0, n - 1, n / 2, 0};
    for (int i = 0; i < 4; ++i) {
        (void)uhn_dataset_label(ds, index[i]);
        (void)uhn_dataset_caption(ds, index[i]);
    }
    (void)uhn_dataset_label(ds, -1);
    (void)uhn_dataset_label(ds, n);
    if (k > MAX_ROW_VALUES) return;
    float *rows = malloc((size_t)(4 * k) * sizeof *rows);
    if (!rows) return;
    if (uhn_dataset_rows(ds, index, 4, rows) == UHN_OK) {
        for (int64_t e = 0; e < 4 * k; ++e)
            if (!(rows[e] >= lo && rows[e] <= hi)) abort(); /* a pixel outside the range */
    }
    /* out of range: errors, never reads */
    const int64_t bad[2] = {n, -1};
    if (uhn_dataset_rows(ds, bad, 1, rows) != UHN_EINPUT ||
        uhn_dataset_rows(ds, bad + 1, 1, rows) != UHN_EINPUT ||
        uhn_dataset_rows(ds, index, -1, rows) != UHN_EINPUT)
        abort();
    free(rows);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char raw[MAX_SPEC + 1], spec[MAX_SPEC + 16];
    size_t len = strnlen((const char *)data, size < MAX_SPEC ? size : MAX_SPEC);
    memcpy(raw, data, len);
    raw[len] = '\0';
    size_t src = strcspn(raw, ":");
    if (src == len)
        snprintf(spec, sizeof spec, "synthetic:%s", raw);
    else if ((src == 4 && !strncmp(raw, "hdf5", 4)) ||
             (src == 13 && !strncmp(raw, "fashion-mnist", 13)))
        return 0; /* sources on disk */
    else
        snprintf(spec, sizeof spec, "%s", raw);
    if (prototype_values(spec) > MAX_PROTO_VALUES) return 0;
    uhn_dataset *ds = NULL;
    fuzz_ctx()->msg[0] = '\0';
    int rc = uhn_dataset_open(fuzz_ctx(), spec, &ds);
    fuzz_note(spec, rc);
    if (rc == UHN_OK) {
        if (!ds || strcmp(uhn_dataset_spec(ds), spec)) abort();
        read_rows(ds);
    } else if (ds || !fuzz_ctx()->msg[0]) {
        abort(); /* a failure leaves no set and says why */
    }
    uhn_dataset_close(ds);
    return 0;
}
