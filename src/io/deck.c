/*
 * The input deck of `uhn run`: reading (rank 0) and broadcasting the text,
 * strict parsing with libinih, overrides, defaults, range and cross-key checks,
 * the sweep product and the effective parameters. Everything a key is comes
 * from the table of deck_keys.c.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "io/deck_keys.h"
#include "uhn/encoder.h"
#include "uhn/parse.h"
#include "uhn/separation.h"
#include "uhn/similarity.h"

/* Decks are small; a larger file is surely not a deck. */
#define DECK_MAX_BYTES (1 << 20)

typedef union dval {
    int64_t i;
    uint64_t u;
    double d;
    int b;
} dval;

struct uhn_deck {
    char *name;                 /* as given to load/parse */
    char *text;                 /* the raw deck */
    char *raw[UHN_KEY_COUNT];   /* value text as set (file or override); NULL: default */
    char *where[UHN_KEY_COUNT]; /* "NAME:LINE" or "override 'x=y'"; NULL: default */
    int line[UHN_KEY_COUNT];    /* line of the file setting, 0 for none */
    int overridden[UHN_KEY_COUNT];
    int count[UHN_KEY_COUNT];
    int cap[UHN_KEY_COUNT];    /* room in str and val */
    char **str[UHN_KEY_COUNT]; /* canonical text of each value */
    dval *val[UHN_KEY_COUNT];
    int *seen[UHN_KEY_COUNT]; /* hash set of the values: index + 1, 0 for an empty slot */
    int nseen[UHN_KEY_COUNT]; /* its slots (a power of 2, at least 2 x count) */
    char *eff[UHN_KEY_COUNT]; /* effective value: items joined by ", " */
    char *at[UHN_KEY_COUNT];  /* "WHERE: [section] key" for uhn_deck_where */
};

/* ---- small helpers ---------------------------------------------------- */

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

static char *dup_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *dup_printf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *p = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (!p) return NULL;
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

static const char *where_of(const uhn_deck *d, int k) {
    return d->where[k] ? d->where[k] : d->name;
}

/* Fails with "WHERE: [section] key: message". */
static int key_fail(uhn_ctx *ctx, const uhn_deck *d, int k, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int key_fail(uhn_ctx *ctx, const uhn_deck *d, int k, const char *fmt, ...) {
    char what[UHN_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return uhn_fail(ctx, UHN_EINPUT, "%s: [%s] %s: %s", where_of(d, k), uhn_deck_keys[k].section,
                    uhn_deck_keys[k].key, what);
}

/* The names of a NAME key joined by ", " into buf. */
static void names_list(const deck_names *n, char *buf, size_t len) {
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < deck_names_count(n) && used < len; ++i)
        used +=
            (size_t)snprintf(buf + used, len - used, "%s%s", i ? ", " : "", deck_names_at(n, i));
}

/* "valid: a, b" lists of sections and of the keys of one section. */
static void sections_list(char *buf, size_t len) {
    size_t used = 0;
    for (int i = 0; i < uhn_deck_nsections && used < len; ++i)
        used +=
            (size_t)snprintf(buf + used, len - used, "%s%s", i ? ", " : "", uhn_deck_sections[i]);
}

static void keys_list(const char *section, char *buf, size_t len) {
    size_t used = 0;
    buf[0] = '\0';
    for (int k = 0; k < UHN_KEY_COUNT && used < len; ++k)
        if (!strcmp(uhn_deck_keys[k].section, section))
            used += (size_t)snprintf(buf + used, len - used, "%s%s", used ? ", " : "",
                                     uhn_deck_keys[k].key);
}

static int section_known(const char *section) {
    for (int i = 0; i < uhn_deck_nsections; ++i)
        if (!strcmp(uhn_deck_sections[i], section)) return 1;
    return 0;
}

static int key_find(const char *section, const char *key) {
    for (int k = 0; k < UHN_KEY_COUNT; ++k)
        if (!strcmp(uhn_deck_keys[k].section, section) && !strcmp(uhn_deck_keys[k].key, key))
            return k;
    return -1;
}

/* Finds the key of (section, name), or fails naming `where`. */
static int lookup(uhn_ctx *ctx, const char *where, const char *section, const char *name,
                  int *out) {
    char valid[512];
    if (!section[0])
        return uhn_fail(ctx, UHN_EINPUT, "%s: [] %s: key outside any section", where, name);
    if (!section_known(section)) {
        sections_list(valid, sizeof valid);
        return uhn_fail(ctx, UHN_EINPUT, "%s: [%s] %s: unknown section [%s] (valid: %s)", where,
                        section, name, section, valid);
    }
    int k = key_find(section, name);
    if (k < 0) {
        keys_list(section, valid, sizeof valid);
        return uhn_fail(ctx, UHN_EINPUT, "%s: [%s] %s: unknown key (valid in [%s]: %s)", where,
                        section, name, section, valid);
    }
    *out = k;
    return UHN_OK;
}

/* ---- reading the file with libinih ------------------------------------ */

typedef struct parse_state {
    uhn_ctx *ctx;
    uhn_deck *d;
    const char *pos; /* next unread character of the text */
    const char *cur; /* start of the line inih is parsing */
    int lineno;      /* its number (1-based) */
    int status;      /* first error, with its line in err_line */
    int err_line;
    int last_key; /* key of the last handler call, for continuation lines */
} parse_state;

/* A section header naming an unknown section is an error even when no key
 * follows it (inih only reports keys). */
static void check_section_line(parse_state *st, const char *line) {
    while (*line == ' ' || *line == '\t') ++line;
    const char *close = *line == '[' ? strchr(line, ']') : NULL;
    if (st->status || !close) return;
    char name[128];
    snprintf(name, sizeof name, "%.*s", (int)(close - line - 1), line + 1);
    if (section_known(name)) return;
    char valid[256];
    sections_list(valid, sizeof valid);
    st->status = uhn_fail(st->ctx, UHN_EINPUT, "%s:%d: [%s]: unknown section (valid: %s)",
                          st->d->name, st->lineno, name, valid);
    st->err_line = st->lineno;
}

/* An fgets-style reader over the text that counts lines; a line that does not
 * fit inih's buffer is an error (inih would split it silently). */
static char *reader(char *str, int num, void *stream) {
    parse_state *st = stream;
    if (!*st->pos) return NULL;
    const char *end = strchr(st->pos, '\n');
    size_t len = end ? (size_t)(end - st->pos) + 1 : strlen(st->pos);
    st->cur = st->pos;
    st->lineno++;
    st->pos += len;
    size_t content = len;
    if (content && st->cur[content - 1] == '\n') --content;
    if (content && st->cur[content - 1] == '\r') --content;
    if (content + 3 > (size_t)num) { /* inih needs room for '\r', '\n' and '\0' */
        if (!st->status) {
            st->status = uhn_fail(st->ctx, UHN_EINPUT, "%s:%d: line longer than %d characters",
                                  st->d->name, st->lineno, num - 3);
            st->err_line = st->lineno;
        }
        str[0] = '\n';
        str[1] = '\0';
        return str;
    }
    memcpy(str, st->cur, len);
    str[len] = '\0';
    check_section_line(st, str);
    return str;
}

static int handler(void *user, const char *section, const char *name, const char *value) {
    parse_state *st = user;
    uhn_deck *d = st->d;
    if (st->status) return 1; /* the first error is the one reported */
    char where[UHN_MSG_MAX / 2];
    snprintf(where, sizeof where, "%s:%d", d->name, st->lineno);
    int k = -1;
    int rc = lookup(st->ctx, where, section, name, &k);
    if (rc == UHN_OK && d->raw[k] && k == st->last_key &&
        (st->cur[0] == ' ' || st->cur[0] == '\t')) {
        /* inih reads an indented line as a continuation of the previous key:
         * more items of its list. */
        if (strchr(value, '='))
            rc = uhn_fail(st->ctx, UHN_EINPUT,
                          "%s: [%s] %s: an indented line continues the previous key's value; "
                          "remove the indentation",
                          where, section, name);
        else {
            size_t n = strlen(d->raw[k]);
            while (n && (d->raw[k][n - 1] == ',' || d->raw[k][n - 1] == ' ')) --n;
            char *joined = dup_printf("%.*s, %s", (int)n, d->raw[k], value);
            if (!joined) return st->status = uhn_fail(st->ctx, UHN_ENOMEM, "out of memory"), 0;
            free(d->raw[k]);
            d->raw[k] = joined;
            return 1;
        }
    } else if (rc == UHN_OK && d->raw[k])
        rc = uhn_fail(st->ctx, UHN_EINPUT, "%s: [%s] %s: duplicate key (first set at line %d)",
                      where, section, name, d->line[k]);
    if (rc == UHN_OK) {
        d->raw[k] = dup_str(value);
        d->where[k] = dup_str(where);
        d->line[k] = st->lineno;
        st->last_key = k;
        if (!d->raw[k] || !d->where[k]) rc = uhn_fail(st->ctx, UHN_ENOMEM, "out of memory");
    }
    if (rc != UHN_OK) {
        st->status = rc;
        st->err_line = st->lineno;
        return 0;
    }
    return 1;
}

/* Copies [b, e) without surrounding blanks into buf. */
static void trimmed(char *buf, size_t n, const char *b, const char *e) {
    while (b < e && (*b == ' ' || *b == '\t')) ++b;
    while (e > b && (e[-1] == ' ' || e[-1] == '\t')) --e;
    snprintf(buf, n, "%.*s", (int)(e - b), b);
}

/* Applies one override "section.key=value". */
static int apply_override(uhn_ctx *ctx, uhn_deck *d, const char *ov) {
    char where[UHN_MSG_MAX / 2];
    snprintf(where, sizeof where, "override '%.400s'", ov);
    const char *eq = strchr(ov, '=');
    const char *dot = eq ? memchr(ov, '.', (size_t)(eq - ov)) : NULL;
    if (!eq || !dot) return uhn_fail(ctx, UHN_EINPUT, "%s: expected section.key=value", where);
    char section[128], name[128];
    trimmed(section, sizeof section, ov, dot);
    trimmed(name, sizeof name, dot + 1, eq);
    if (!section[0] || !name[0])
        return uhn_fail(ctx, UHN_EINPUT, "%s: expected section.key=value", where);
    int k = -1;
    UHN_CALL(lookup(ctx, where, section, name, &k));
    if (d->overridden[k])
        return uhn_fail(ctx, UHN_EINPUT, "%s: [%s] %s: given twice on the command line", where,
                        section, name);
    const char *v = eq + 1;
    while (*v == ' ' || *v == '\t') ++v;
    free(d->raw[k]);
    free(d->where[k]);
    d->raw[k] = dup_str(v);
    d->where[k] = dup_str(where);
    d->line[k] = 0;
    d->overridden[k] = 1;
    if (!d->raw[k] || !d->where[k]) return uhn_fail(ctx, UHN_ENOMEM, "out of memory");
    return UHN_OK;
}

/* ---- values ----------------------------------------------------------- */

/* The integer bounds of an INT key, from the table's double min and max
 * converted exactly (the table is the one source of the range). */
static int int_bounds(uhn_ctx *ctx, int k, int64_t *lo, int64_t *hi) {
    const deck_key *key = &uhn_deck_keys[k];
    if (uhn_parse_int_bounds(key->min, key->min_open, key->max, lo, hi))
        return uhn_fail(ctx, UHN_EINTERNAL, "internal error: [%s] %s has no integer in its range",
                        key->section, key->key);
    return UHN_OK;
}

/* The range of a numeric key as text: "> 0", ">= 1", "in (0, 1]"; integers
 * as uhn_parse_int64 writes them ("in [1, 2147483647]"), never rounded. */
static void range_text(const deck_key *k, char *buf, size_t n) {
    int64_t ilo, ihi;
    if (k->type == UHN_DECK_INT && !uhn_parse_int_bounds(k->min, k->min_open, k->max, &ilo, &ihi)) {
        uhn_parse_int_range_text(ilo, ihi, buf, n);
        return;
    }
    int lo = isfinite(k->min), hi = isfinite(k->max);
    if (lo && hi)
        snprintf(buf, n, "in %c%g, %g]", k->min_open ? '(' : '[', k->min, k->max);
    else if (lo)
        snprintf(buf, n, "%s %g", k->min_open ? ">" : ">=", k->min);
    else
        snprintf(buf, n, "any number");
}

static int in_range(const deck_key *k, double v) {
    return (k->min_open ? v > k->min : v >= k->min) && v <= k->max;
}

/* The shortest text that reads back as v. */
static void double_text(double v, char *buf, size_t n) {
    for (int prec = 6; prec <= 17; ++prec) {
        snprintf(buf, n, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) return;
    }
}

/* Parses one item of key k into *v and its canonical text (buf). */
static int parse_item(uhn_ctx *ctx, const uhn_deck *d, int k, const char *item, dval *v, char *buf,
                      size_t n) {
    const deck_key *key = &uhn_deck_keys[k];
    char rng[128], why[UHN_MSG_MAX / 2], *end = NULL;
    errno = 0;
    switch (key->type) {
    case UHN_DECK_STRING:
        snprintf(buf, n, "%s", item);
        return UHN_OK;
    case UHN_DECK_NAME:
        for (int i = 0; i < deck_names_count(key->names); ++i)
            if (!strcmp(deck_names_at(key->names, i), item)) {
                v->i = i;
                snprintf(buf, n, "%s", item);
                return UHN_OK;
            }
        names_list(key->names, rng, sizeof rng);
        return key_fail(ctx, d, k, "unknown name '%s' (valid: %s)", item, rng);
    case UHN_DECK_INT: {
        /* checked in 64-bit integers against the table's range, which is what
         * the key's consumer can hold (e.g. steps: the engine's int) */
        int64_t x = 0, lo = 0, hi = 0;
        UHN_CALL(int_bounds(ctx, k, &lo, &hi));
        if (uhn_parse_int64(item, lo, hi, &x, why, sizeof why) != UHN_PARSE_OK)
            return key_fail(ctx, d, k, "%s", why);
        v->i = x;
        snprintf(buf, n, "%" PRId64, x);
        return UHN_OK;
    }
    case UHN_DECK_DOUBLE: {
        /* A number key whose default is a word (param: default, text.scale:
         * auto) takes that word, as NaN. */
        if (key->def && isalpha((unsigned char)key->def[0]) && !strcmp(item, key->def)) {
            v->d = NAN;
            snprintf(buf, n, "%s", key->def);
            return UHN_OK;
        }
        double x = 0;
        if (uhn_parse_double(item, &x, why, sizeof why) != UHN_PARSE_OK)
            return key_fail(ctx, d, k, "%s", why);
        range_text(key, rng, sizeof rng);
        if (!in_range(key, x))
            return key_fail(ctx, d, k, "%s is out of range (must be %s)", item, rng);
        v->d = x;
        double_text(x, buf, n);
        return UHN_OK;
    }
    case UHN_DECK_BOOL: {
        static const char *const yes[] = {"on", "true", "yes", "1"};
        static const char *const no[] = {"off", "false", "no", "0"};
        for (int i = 0; i < 4; ++i) {
            if (!strcmp(item, yes[i])) return v->b = 1, snprintf(buf, n, "on"), UHN_OK;
            if (!strcmp(item, no[i])) return v->b = 0, snprintf(buf, n, "off"), UHN_OK;
        }
        return key_fail(ctx, d, k, "'%s' is not a boolean (on/off, true/false, yes/no, 1/0%s)",
                        item, key->list ? ", both" : "");
    }
    case UHN_DECK_UINT64: {
        unsigned long long x = item[0] == '-' || item[0] == '+' ? 0 : strtoull(item, &end, 10);
        if (item[0] == '-' || item[0] == '+' || end == item || *end || errno == ERANGE)
            return key_fail(ctx, d, k, "'%s' is not an unsigned 64-bit integer", item);
        v->u = x;
        snprintf(buf, n, "%llu", x);
        return UHN_OK;
    }
    }
    return uhn_fail(ctx, UHN_EINTERNAL, "internal error: key type %d", (int)key->type);
}

static uint64_t text_hash(const char *t) { /* FNV-1a */
    uint64_t h = 14695981039346656037ull;
    for (; *t; ++t) h = (h ^ (unsigned char)*t) * 1099511628211ull;
    return h;
}

/* The slot of text in key k's hash set: its own, or the empty one it would take. */
static int seen_slot(const uhn_deck *d, int k, const char *text) {
    const int mask = d->nseen[k] - 1, *seen = d->seen[k];
    int i = (int)(text_hash(text) & (uint64_t)mask);
    while (seen[i] && strcmp(d->str[k][seen[i] - 1], text)) i = (i + 1) & mask;
    return i;
}

/* Room for one more value of key k, and a hash set at most half full (a list
 * of many items is checked for repeats in linear time). */
static int grow_values(uhn_ctx *ctx, uhn_deck *d, int k) {
    const int c = d->count[k];
    if (c == d->cap[k]) {
        const int cap = c ? 2 * c : 8;
        char **s = realloc(d->str[k], (size_t)cap * sizeof *s);
        if (s) d->str[k] = s;
        dval *vv = s ? realloc(d->val[k], (size_t)cap * sizeof *vv) : NULL;
        if (!vv) return uhn_fail(ctx, UHN_ENOMEM, "out of memory");
        d->val[k] = vv, d->cap[k] = cap;
    }
    if (2 * (c + 1) <= d->nseen[k]) return UHN_OK;
    const int n = d->nseen[k] ? 2 * d->nseen[k] : 16;
    int *seen = calloc((size_t)n, sizeof *seen);
    if (!seen) return uhn_fail(ctx, UHN_ENOMEM, "out of memory");
    free(d->seen[k]);
    d->seen[k] = seen, d->nseen[k] = n;
    for (int j = 0; j < c; ++j) seen[seen_slot(d, k, d->str[k][j])] = j + 1;
    return UHN_OK;
}

/* Adds one parsed value to key k (list order kept; a repeated value is an error). */
static int push_value(uhn_ctx *ctx, uhn_deck *d, int k, dval v, const char *text) {
    UHN_CALL(grow_values(ctx, d, k));
    const int slot = seen_slot(d, k, text);
    if (d->seen[k][slot]) return key_fail(ctx, d, k, "'%s' is listed twice", text);
    const int c = d->count[k];
    if (!(d->str[k][c] = dup_str(text))) return uhn_fail(ctx, UHN_ENOMEM, "out of memory");
    d->val[k][c] = v;
    d->seen[k][slot] = c + 1;
    d->count[k] = c + 1;
    return UHN_OK;
}

/* Most values one range may expand into (a guard against typos like 1:1e9:1). */
#define DECK_MAX_RANGE 10000

/* Expands an integer range item: "start:stop:step" (start, start + step, ...
 * up to stop) or "start:stop:logK" (K values per decade, start * 10^(i/K)
 * rounded, repeats after rounding dropped, up to stop). Every part is parsed
 * strictly in 64 bits; start and stop are checked against the key's range
 * before anything is expanded, and the expansion never overflows. */
static int expand_range(uhn_ctx *ctx, uhn_deck *d, int k, const char *item) {
    char part[3][256], why[UHN_MSG_MAX / 2];
    const char *c1 = strchr(item, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    int ok = c1 && c2 && !strchr(c2 + 1, ':');
    if (ok) {
        snprintf(part[0], sizeof part[0], "%.*s", (int)(c1 - item), item);
        snprintf(part[1], sizeof part[1], "%.*s", (int)(c2 - c1 - 1), c1 + 1);
        snprintf(part[2], sizeof part[2], "%s", c2 + 1);
    }
    /* Syntax first (any 64-bit integer); a part beyond 64 bits is reported as
     * out of range. */
    int64_t a = 0, b = 0, step = 0, per_decade = 0, lo = 0, hi = 0;
    int is_log = ok && !strncmp(part[2], "log", 3);
    uhn_parse_status st[3] = {UHN_PARSE_OK, UHN_PARSE_OK, UHN_PARSE_OK};
    if (ok) {
        st[0] = uhn_parse_int64(part[0], INT64_MIN, INT64_MAX, &a, NULL, 0);
        st[1] = uhn_parse_int64(part[1], INT64_MIN, INT64_MAX, &b, NULL, 0);
        st[2] = is_log ? uhn_parse_int64(part[2] + 3, 1, 1000, &per_decade, NULL, 0)
                       : uhn_parse_int64(part[2], INT64_MIN, INT64_MAX, &step, NULL, 0);
        ok = st[0] != UHN_PARSE_SYNTAX && st[1] != UHN_PARSE_SYNTAX && st[2] != UHN_PARSE_SYNTAX &&
             (!is_log || st[2] == UHN_PARSE_OK);
    }
    UHN_CALL(int_bounds(ctx, k, &lo, &hi));
    if (ok && st[2] != UHN_PARSE_OK) { /* a step beyond 64 bits */
        uhn_parse_int64(part[2], 1, INT64_MAX, &step, why, sizeof why);
        return key_fail(ctx, d, k, "'%s': step %s", item, why);
    }
    for (int i = 0; ok && i < 2; ++i) { /* start or stop beyond 64 bits */
        int64_t x = 0;
        if (st[i] != UHN_PARSE_OK && uhn_parse_int64(part[i], lo, hi, &x, why, sizeof why))
            return key_fail(ctx, d, k, "%s", why);
    }
    if (!ok || a > b || (is_log ? a < 1 : step < 1))
        return key_fail(ctx, d, k,
                        "'%s' is not a range (start:stop:step with step >= 1, or "
                        "start:stop:logK with K in [1, 1000] and start >= 1; start <= stop)",
                        item);
    for (int i = 0; i < 2; ++i) {
        int64_t x = 0;
        if (uhn_parse_int64(part[i], lo, hi, &x, why, sizeof why) != UHN_PARSE_OK)
            return key_fail(ctx, d, k, "%s", why);
    }
    char buf[64], canon[64];
    int64_t last = a;
    for (int64_t i = 0;; ++i) {
        int64_t v;
        if (step) {
            /* b - last >= 0 is exact in uint64_t: no overflow near the ends */
            if (i > 0 && (uint64_t)b - (uint64_t)last < (uint64_t)step) break;
            v = i ? last + step : a;
        } else {
            double x = (double)a * pow(10.0, (double)i / (double)per_decade);
            if (x > (double)b + 0.5 || x >= 9223372036854775808.0) break;
            v = llround(x);
            if (v > b) break;
            if (i > 0 && v == last) continue;
        }
        if (d->count[k] >= DECK_MAX_RANGE)
            return key_fail(ctx, d, k, "'%s' gives more than %d values", item, DECK_MAX_RANGE);
        snprintf(buf, sizeof buf, "%" PRId64, v);
        dval val = {0};
        UHN_CALL(parse_item(ctx, d, k, buf, &val, canon, sizeof canon));
        UHN_CALL(push_value(ctx, d, k, val, canon));
        last = v;
    }
    return UHN_OK;
}

/* Resolves key k: its text (set, default or derived), split into items. */
static int resolve(uhn_ctx *ctx, uhn_deck *d, int k) {
    const deck_key *key = &uhn_deck_keys[k];
    char derived[512];
    const char *text = d->raw[k];
    if (!text && key->derive) {
        key->derive(d, derived, sizeof derived);
        text = derived;
    }
    if (!text) text = key->def;
    if (!text) return key_fail(ctx, d, k, "required key missing");
    if (!text[0]) return key_fail(ctx, d, k, "empty value");
    if (key->type == UHN_DECK_STRING && !key->list) return push_value(ctx, d, k, (dval){0}, text);
    if (key->list == UHN_DECK_LIST && !strcmp(text, "none")) return UHN_OK; /* an empty list */
    if (!key->list && strchr(text, ','))
        return key_fail(ctx, d, k, "takes one value, not a list ('%s')", text);
    char item[256], canon[256];
    int nitem = 0;
    for (const char *p = text;; ++nitem) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        while (len && (*p == ' ' || *p == '\t')) ++p, --len;
        while (len && (p[len - 1] == ' ' || p[len - 1] == '\t')) --len;
        if (!len) return key_fail(ctx, d, k, "empty item %d of the list '%s'", nitem + 1, text);
        if (len >= sizeof item) return key_fail(ctx, d, k, "item %d is too long", nitem + 1);
        memcpy(item, p, len);
        item[len] = '\0';
        if (key->type == UHN_DECK_INT && key->list && strchr(item, ':')) {
            UHN_CALL(expand_range(ctx, d, k, item));
        } else if (key->type == UHN_DECK_BOOL && key->list && !strcmp(item, "both")) {
            UHN_CALL(push_value(ctx, d, k, (dval){.b = 0}, "off"));
            UHN_CALL(push_value(ctx, d, k, (dval){.b = 1}, "on"));
        } else {
            dval v = {0};
            UHN_CALL(parse_item(ctx, d, k, item, &v, canon, sizeof canon));
            UHN_CALL(push_value(ctx, d, k, v, canon));
        }
        if (!comma) break;
        p = comma + 1;
    }
    return UHN_OK;
}

/* The effective value of key k: its items joined by ", ". */
static int join_effective(uhn_ctx *ctx, uhn_deck *d, int k) {
    size_t len = 1;
    for (int j = 0; j < d->count[k]; ++j) len += strlen(d->str[k][j]) + 2;
    if (!(d->eff[k] = malloc(len))) return uhn_fail(ctx, UHN_ENOMEM, "out of memory");
    d->eff[k][0] = '\0';
    if (d->count[k] == 0) { /* an empty list */
        free(d->eff[k]);
        if (!(d->eff[k] = dup_str("none"))) return uhn_fail(ctx, UHN_ENOMEM, "out of memory");
    }
    char *e = d->eff[k];
    for (int j = 0; j < d->count[k]; ++j) {
        const size_t n = strlen(d->str[k][j]);
        if (j) memcpy(e, ", ", 2), e += 2;
        memcpy(e, d->str[k][j], n + 1), e += n;
    }
    return UHN_OK;
}

/* ---- cross-key checks that need no data ------------------------------- */

static int64_t max_n(const uhn_deck *d) {
    int64_t m = 0;
    for (int j = 0; j < d->count[UHN_KEY_MEMORY_N]; ++j)
        if (d->val[UHN_KEY_MEMORY_N][j].i > m) m = d->val[UHN_KEY_MEMORY_N][j].i;
    return m;
}

static int check_level(uhn_ctx *ctx, const uhn_deck *d) {
    const char *name = uhn_deck_str(d, UHN_KEY_QUERY_CORRUPTION, 0);
    const deck_corruption *c = deck_corruption_find(name);
    if (!c) return uhn_fail(ctx, UHN_EINTERNAL, "internal error: corruption %s", name);
    for (int j = 0; j < d->count[UHN_KEY_QUERY_LEVEL]; ++j) {
        double v = d->val[UHN_KEY_QUERY_LEVEL][j].d;
        if (v < c->lo || v > c->hi || (c->integer && v != floor(v)))
            return key_fail(ctx, d, UHN_KEY_QUERY_LEVEL, "%s is out of range for %s (%s)",
                            d->str[UHN_KEY_QUERY_LEVEL][j], name, c->level_meaning);
    }
    return UHN_OK;
}

static int check_hetero(uhn_ctx *ctx, const uhn_deck *d) {
    int64_t steps = uhn_deck_int(d, UHN_KEY_NETWORK_STEPS, 0);
    if (strcmp(uhn_deck_str(d, UHN_KEY_DATA_HETERO, 0), "none") && steps > 1)
        return key_fail(ctx, d, UHN_KEY_DATA_HETERO,
                        "hetero-association needs network.steps = 1, not %" PRId64, steps);
    return UHN_OK;
}

static int check_cue_only(uhn_ctx *ctx, const uhn_deck *d) {
    const char *name = uhn_deck_str(d, UHN_KEY_QUERY_CORRUPTION, 0);
    const deck_corruption *c = deck_corruption_find(name);
    for (int j = 0; j < d->count[UHN_KEY_NETWORK_CUE_ONLY]; ++j)
        if (d->val[UHN_KEY_NETWORK_CUE_ONLY][j].b && c && !c->masking)
            return key_fail(ctx, d, UHN_KEY_NETWORK_CUE_ONLY,
                            "on needs a masking corruption (mask_top, random_pixels, inpaint), "
                            "not %s",
                            name);
    return UHN_OK;
}

static int check_param(uhn_ctx *ctx, const uhn_deck *d) {
    const int kp = UHN_KEY_NETWORK_PARAM, ks = UHN_KEY_NETWORK_SEPARATION;
    for (int j = 0; j < d->count[kp]; ++j) {
        double v = d->val[kp][j].d;
        if (isnan(v)) continue;
        int takers = 0;
        for (int s = 0; s < d->count[ks]; ++s) {
            const uhn_separation *sep = uhn_separation_find(d->str[ks][s]);
            if (!uhn_separation_param_name(sep)) continue;
            ++takers;
            const char *why = uhn_separation_param_check(sep, v);
            if (why)
                return key_fail(ctx, d, kp, "%s is not valid for %s (%s must be %s)", d->str[kp][j],
                                d->str[ks][s], uhn_separation_param_name(sep), why);
        }
        if (!takers)
            return key_fail(ctx, d, kp, "none of the separations (%s) takes a parameter",
                            d->eff[ks]);
    }
    return UHN_OK;
}

/* output.trajectory: increasing steps within network.steps, for saved queries. */
static int check_trajectory(uhn_ctx *ctx, const uhn_deck *d) {
    const int kt = UHN_KEY_OUTPUT_TRAJECTORY;
    int64_t T = d->val[UHN_KEY_NETWORK_STEPS][0].i;
    for (int j = 0; j < d->count[kt]; ++j) {
        int64_t v = d->val[kt][j].i;
        if (v > T)
            return key_fail(ctx, d, kt, "step %" PRId64 " is beyond network.steps = %" PRId64, v,
                            T);
        if (j > 0 && v <= d->val[kt][j - 1].i)
            return key_fail(ctx, d, kt, "steps must increase: %" PRId64 " follows %" PRId64, v,
                            d->val[kt][j - 1].i);
    }
    if (d->count[kt] > 0 && d->val[UHN_KEY_OUTPUT_SAVE_IMAGES][0].i == 0)
        return key_fail(ctx, d, kt,
                        "trajectories are saved for the saved queries: set output.save_images "
                        "> 0");
    return UHN_OK;
}

/* encoder.name: encoders of the table or saved models (file:PATH); only
 * identity with hetero-association (its key and value are pixel halves). */
static int check_encoder(uhn_ctx *ctx, const uhn_deck *d) {
    const int ke = UHN_KEY_ENCODER_NAME;
    for (int j = 0; j < d->count[ke]; ++j) {
        const char *v = d->str[ke][j];
        int known = !strncmp(v, "file:", 5) && v[5];
        for (int i = 0; !known && i < uhn_encoder_count(); ++i)
            known = !strcmp(v, uhn_encoder_name_at(i));
        if (!known) {
            char list[256] = "";
            for (int i = 0; i < uhn_encoder_count(); ++i) {
                strncat(list, uhn_encoder_name_at(i), sizeof list - strlen(list) - 1);
                strncat(list, ", ", sizeof list - strlen(list) - 1);
            }
            return key_fail(ctx, d, ke, "unknown encoder '%s' (valid: %sfile:MODEL.h5)", v, list);
        }
        for (int i = 0; i < j; ++i)
            if (!strcmp(d->str[ke][i], v)) return key_fail(ctx, d, ke, "'%s' is listed twice", v);
        if (strcmp(v, "identity") && strcmp(uhn_deck_str(d, UHN_KEY_DATA_HETERO, 0), "none"))
            return key_fail(ctx, d, ke,
                            "%s: hetero-association (data.hetero) stores pixel halves; it takes "
                            "encoder identity only",
                            v);
    }
    return UHN_OK;
}

/* [text]: cross-stimulus keys need a text method, and text cues exclude the
 * image-query keys they would contradict. */
static int check_text(uhn_ctx *ctx, const uhn_deck *d) {
    const char *m = uhn_deck_str(d, UHN_KEY_TEXT_METHOD, 0);
    const int none = !strcmp(m, "none"), ext = !strcmp(m, "external");
    const int codes = strcmp(uhn_deck_str(d, UHN_KEY_TEXT_CODES, 0), "none") != 0;
    if (none) {
        for (int j = 0; j < d->count[UHN_KEY_TEXT_KNOWN]; ++j)
            if (d->val[UHN_KEY_TEXT_KNOWN][j].b)
                return key_fail(ctx, d, UHN_KEY_TEXT_KNOWN,
                                "on needs text.method (pixel, ngram or external)");
        for (int j = 0; j < d->count[UHN_KEY_TEXT_SHARED]; ++j)
            if (d->val[UHN_KEY_TEXT_SHARED][j].d != 0)
                return key_fail(ctx, d, UHN_KEY_TEXT_SHARED,
                                "%s needs text.method (pixel, ngram or external)",
                                d->str[UHN_KEY_TEXT_SHARED][j]);
        for (int j = 0; j < d->count[UHN_KEY_TEXT_SCALE]; ++j)
            if (!isnan(d->val[UHN_KEY_TEXT_SCALE][j].d))
                return key_fail(ctx, d, UHN_KEY_TEXT_SCALE,
                                "%s needs text.method (pixel, ngram or external)",
                                d->str[UHN_KEY_TEXT_SCALE][j]);
    }
    if (codes && !ext)
        return key_fail(ctx, d, UHN_KEY_TEXT_CODES, "is for text.method = external, not %s", m);
    if (ext && !codes)
        return key_fail(ctx, d, UHN_KEY_TEXT_CODES,
                        "text.method = external needs the codes: FILE[:DATASET]");
    if (none) return UHN_OK;
    const char *corr = uhn_deck_str(d, UHN_KEY_QUERY_CORRUPTION, 0);
    if (strcmp(corr, "none"))
        return key_fail(ctx, d, UHN_KEY_QUERY_CORRUPTION,
                        "%s: the queries of text.method = %s are text cues with a blank image; "
                        "set none",
                        corr, m);
    for (int j = 0; j < d->count[UHN_KEY_NETWORK_CUE_ONLY]; ++j)
        if (d->val[UHN_KEY_NETWORK_CUE_ONLY][j].b)
            return key_fail(ctx, d, UHN_KEY_NETWORK_CUE_ONLY,
                            "on: with text.method = %s the cue set is the text (text.known)", m);
    if (strcmp(uhn_deck_str(d, UHN_KEY_DATA_HETERO, 0), "none"))
        return key_fail(ctx, d, UHN_KEY_DATA_HETERO,
                        "%s: cross-stimulus memories (text.method = %s) are auto-associative",
                        uhn_deck_str(d, UHN_KEY_DATA_HETERO, 0), m);
    return UHN_OK;
}

/* Most points a sweep may have: their count (the product of the axes'
 * lengths, uhn_deck_npoints) and what a study sizes by it stay far inside 64
 * bits. A 50 kB deck of long lists could otherwise overflow the product. */
#define DECK_MAX_POINTS INT32_MAX

static int check_points(uhn_ctx *ctx, const uhn_deck *d) {
    int64_t n = 1;
    for (int k = 0; k < UHN_KEY_COUNT; ++k) {
        if (uhn_deck_keys[k].list != UHN_DECK_AXIS) continue;
        if (d->count[k] > DECK_MAX_POINTS / n)
            return uhn_fail(ctx, UHN_EINPUT,
                            "%s: the sweep has more than %d points (the product of the lengths "
                            "of its axes)",
                            d->name, DECK_MAX_POINTS);
        n *= d->count[k];
    }
    return UHN_OK;
}

typedef int (*deck_check_fn)(uhn_ctx *ctx, const uhn_deck *d);
static const deck_check_fn cross_checks[] = {check_level, check_hetero,     check_cue_only,
                                             check_param, check_trajectory, check_encoder,
                                             check_text,  check_points};

/* ---- public ----------------------------------------------------------- */

static int parse_into(uhn_ctx *ctx, uhn_deck *d, int noverrides, char **overrides) {
    parse_state st = {ctx, d, d->text, d->text, 0, UHN_OK, 0, -1};
    int rc = ini_parse_stream(reader, &st, handler, &st);
    if (rc > 0 && (!st.status || rc < st.err_line))
        return uhn_fail(ctx, UHN_EINPUT, "%s:%d: syntax error (expected [section] or key = value)",
                        d->name, rc);
    if (st.status) return st.status;
    if (rc < 0) return uhn_fail(ctx, UHN_ENOMEM, "%s: libinih failed (%d)", d->name, rc);
    for (int i = 0; i < noverrides; ++i) UHN_CALL(apply_override(ctx, d, overrides[i]));
    for (int k = 0; k < UHN_KEY_COUNT; ++k) {
        UHN_CALL(resolve(ctx, d, k));
        UHN_CALL(join_effective(ctx, d, k));
    }
    for (size_t i = 0; i < sizeof cross_checks / sizeof cross_checks[0]; ++i)
        UHN_CALL(cross_checks[i](ctx, d));
    for (int k = 0; k < UHN_KEY_COUNT; ++k)
        if (!(d->at[k] = dup_printf("%s: [%s] %s", where_of(d, k), uhn_deck_keys[k].section,
                                    uhn_deck_keys[k].key)))
            return uhn_fail(ctx, UHN_ENOMEM, "out of memory");
    return UHN_OK;
}

int uhn_deck_parse(uhn_ctx *ctx, const char *name, const char *text, int noverrides,
                   char **overrides, uhn_deck **out) {
    *out = NULL;
    uhn_deck *d = calloc(1, sizeof *d);
    if (!d || !(d->name = dup_str(name)) || !(d->text = dup_str(text))) {
        uhn_deck_destroy(d);
        return uhn_fail(ctx, UHN_ENOMEM, "out of memory reading the deck %s", name);
    }
    int rc = parse_into(ctx, d, noverrides, overrides);
    if (rc != UHN_OK) {
        uhn_deck_destroy(d);
        return rc;
    }
    *out = d;
    return UHN_OK;
}

/* Reads the whole file on rank 0 (not collective). */
static int read_text(uhn_ctx *ctx, const char *path, char **text, long long *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return uhn_fail(ctx, UHN_EINPUT, "%s: cannot read the deck: %s", path, strerror(errno));
    char *buf = malloc(DECK_MAX_BYTES + 1);
    size_t n = buf ? fread(buf, 1, DECK_MAX_BYTES + 1, f) : 0;
    int bad = buf ? ferror(f) : 0;
    fclose(f);
    if (!buf) return uhn_fail(ctx, UHN_ENOMEM, "out of memory reading the deck %s", path);
    if (bad) {
        free(buf);
        return uhn_fail(ctx, UHN_EINPUT, "%s: cannot read the deck: read error", path);
    }
    if (n > DECK_MAX_BYTES) {
        free(buf);
        return uhn_fail(ctx, UHN_EINPUT, "%s: larger than %d bytes: not a deck", path,
                        DECK_MAX_BYTES);
    }
    buf[n] = '\0';
    if (strlen(buf) != n) {
        free(buf);
        return uhn_fail(ctx, UHN_EINPUT, "%s: contains a NUL byte: not a text deck", path);
    }
    *text = buf;
    *len = (long long)n;
    return UHN_OK;
}

int uhn_deck_load(uhn_ctx *ctx, const char *path, int noverrides, char **overrides,
                  uhn_deck **out) {
    *out = NULL;
    char *text = NULL;
    long long len = 0;
    int rc = ctx->rank == 0 ? read_text(ctx, path, &text, &len) : UHN_OK;
    rc = uhn_agree(ctx, rc);
    if (rc == UHN_OK && MPI_Bcast(&len, 1, MPI_LONG_LONG, 0, ctx->comm) != MPI_SUCCESS)
        rc = uhn_fail(ctx, UHN_EMPI, "MPI_Bcast of the deck length failed");
    if (rc == UHN_OK && ctx->rank != 0 && !(text = malloc((size_t)len + 1)))
        rc = uhn_fail(ctx, UHN_ENOMEM, "out of memory receiving the deck %s", path);
    rc = uhn_agree(ctx, rc);
    if (rc == UHN_OK && MPI_Bcast(text, (int)len, MPI_CHAR, 0, ctx->comm) != MPI_SUCCESS)
        rc = uhn_fail(ctx, UHN_EMPI, "MPI_Bcast of the deck text failed");
    if (rc == UHN_OK) {
        text[len] = '\0';
        rc = uhn_deck_parse(ctx, path, text, noverrides, overrides, out);
    }
    free(text);
    rc = uhn_agree(ctx, rc);
    if (rc != UHN_OK) {
        uhn_deck_destroy(*out);
        *out = NULL;
    }
    return rc;
}

void uhn_deck_destroy(uhn_deck *d) {
    if (!d) return;
    for (int k = 0; k < UHN_KEY_COUNT; ++k) {
        for (int j = 0; j < d->count[k]; ++j) free(d->str[k][j]);
        free(d->str[k]);
        free(d->val[k]);
        free(d->seen[k]);
        free(d->raw[k]);
        free(d->where[k]);
        free(d->eff[k]);
        free(d->at[k]);
    }
    free(d->name);
    free(d->text);
    free(d);
}

const char *uhn_deck_text(const uhn_deck *d) {
    return d->text;
}

const char *uhn_deck_name(const uhn_deck *d) {
    return d->name;
}

const char *uhn_deck_where(const uhn_deck *d, uhn_deck_key_id key) {
    return key >= 0 && key < UHN_KEY_COUNT ? d->at[key] : d->name;
}

int uhn_deck_count(const uhn_deck *d, uhn_deck_key_id key) {
    return key >= 0 && key < UHN_KEY_COUNT ? d->count[key] : 0;
}

/* The value slot of (key, j) when key has type t, else NULL. */
static const dval *slot(const uhn_deck *d, uhn_deck_key_id key, int j, uhn_deck_type t) {
    if (key < 0 || key >= UHN_KEY_COUNT || uhn_deck_keys[key].type != t) return NULL;
    return j >= 0 && j < d->count[key] ? &d->val[key][j] : NULL;
}

int64_t uhn_deck_int(const uhn_deck *d, uhn_deck_key_id key, int j) {
    const dval *v = slot(d, key, j, UHN_DECK_INT);
    return v ? v->i : 0;
}

double uhn_deck_double(const uhn_deck *d, uhn_deck_key_id key, int j) {
    const dval *v = slot(d, key, j, UHN_DECK_DOUBLE);
    return v ? v->d : NAN;
}

int uhn_deck_bool(const uhn_deck *d, uhn_deck_key_id key, int j) {
    const dval *v = slot(d, key, j, UHN_DECK_BOOL);
    return v ? v->b : 0;
}

uint64_t uhn_deck_u64(const uhn_deck *d, uhn_deck_key_id key, int j) {
    const dval *v = slot(d, key, j, UHN_DECK_UINT64);
    return v ? v->u : 0;
}

const char *uhn_deck_str(const uhn_deck *d, uhn_deck_key_id key, int j) {
    if (key < 0 || key >= UHN_KEY_COUNT || j < 0 || j >= d->count[key]) return NULL;
    return d->str[key][j];
}

const char *uhn_axis_scale_name(uhn_axis_scale s) {
    return s == UHN_AXIS_LOG ? "log" : s == UHN_AXIS_CATEGORY ? "category" : "linear";
}

static const deck_key *key_at(uhn_deck_key_id key) {
    return key >= 0 && key < UHN_KEY_COUNT ? &uhn_deck_keys[key] : NULL;
}
uhn_deck_type uhn_deck_key_type(uhn_deck_key_id key) {
    return key_at(key) ? key_at(key)->type : UHN_DECK_STRING;
}
uhn_deck_arity uhn_deck_key_arity(uhn_deck_key_id key) {
    return key_at(key) ? key_at(key)->list : UHN_DECK_SCALAR;
}
uhn_axis_scale uhn_deck_key_scale(uhn_deck_key_id key) {
    return key_at(key) ? key_at(key)->scale : UHN_AXIS_LINEAR;
}
const char *uhn_deck_axis_name(uhn_deck_key_id key) {
    const deck_key *k = &uhn_deck_keys[key];
    return strcmp(k->key, "name") ? k->key : k->section;
}

const char *uhn_deck_key_desc(uhn_deck_key_id key) {
    return key_at(key) ? key_at(key)->desc : "";
}

int uhn_deck_naxes(void) {
    int n = 0;
    for (int k = 0; k < UHN_KEY_COUNT; ++k) n += uhn_deck_keys[k].list == UHN_DECK_AXIS;
    return n;
}

uhn_deck_key_id uhn_deck_axis(int i) {
    for (int k = 0; k < UHN_KEY_COUNT; ++k)
        if (uhn_deck_keys[k].list == UHN_DECK_AXIS && i-- == 0) return (uhn_deck_key_id)k;
    return UHN_KEY_COUNT;
}

int64_t uhn_deck_npoints(const uhn_deck *d) {
    int64_t n = 1;
    for (int k = 0; k < UHN_KEY_COUNT; ++k)
        if (uhn_deck_keys[k].list == UHN_DECK_AXIS) n *= d->count[k];
    return n;
}

void uhn_deck_point(const uhn_deck *d, int64_t p, int idx[UHN_KEY_COUNT]) {
    for (int k = UHN_KEY_COUNT - 1; k >= 0; --k) {
        idx[k] = 0;
        if (uhn_deck_keys[k].list != UHN_DECK_AXIS) continue;
        idx[k] = (int)(p % d->count[k]);
        p /= d->count[k];
    }
}

void uhn_deck_params(const uhn_deck *d, const int idx[UHN_KEY_COUNT], uhn_params *p) {
    uhn_params_default(p);
    p->sim = uhn_similarity_find(
        uhn_deck_str(d, UHN_KEY_NETWORK_SIMILARITY, idx[UHN_KEY_NETWORK_SIMILARITY]));
    p->sep = uhn_separation_find(
        uhn_deck_str(d, UHN_KEY_NETWORK_SEPARATION, idx[UHN_KEY_NETWORK_SEPARATION]));
    p->beta = uhn_deck_double(d, UHN_KEY_NETWORK_BETA, idx[UHN_KEY_NETWORK_BETA]);
    p->param = uhn_deck_double(d, UHN_KEY_NETWORK_PARAM, idx[UHN_KEY_NETWORK_PARAM]);
    p->score =
        strcmp(uhn_deck_str(d, UHN_KEY_NETWORK_SCORE, 0), "uhn") ? UHN_SCORE_RAW : UHN_SCORE_UHN;
    p->normalize = uhn_deck_bool(d, UHN_KEY_NETWORK_NORMALIZE, 0);
    /* the table's max for steps is INT_MAX: the cast cannot wrap */
    p->steps = (int)uhn_deck_int(d, UHN_KEY_NETWORK_STEPS, 0);
    p->step_size = uhn_deck_double(d, UHN_KEY_NETWORK_STEP_SIZE, 0);
    p->tol = uhn_deck_double(d, UHN_KEY_NETWORK_TOL, 0);
    p->cue_only = uhn_deck_bool(d, UHN_KEY_NETWORK_CUE_ONLY, idx[UHN_KEY_NETWORK_CUE_ONLY]);
    p->hold = uhn_deck_bool(d, UHN_KEY_QUERY_HOLD, 0);
}

void uhn_deck_entry_at(const uhn_deck *d, int i, uhn_deck_entry *e) {
    const deck_key *k = &uhn_deck_keys[i];
    e->section = k->section;
    e->key = k->key;
    e->value = d->eff[i];
    e->units = k->units;
    e->description = k->desc;
    e->is_set = d->raw[i] != NULL;
}

int uhn_deck_check_data(uhn_ctx *ctx, const uhn_deck *d, int64_t n_available, int64_t height) {
    int64_t m = max_n(d);
    if (m > n_available)
        return key_fail(ctx, d, UHN_KEY_MEMORY_N,
                        "%" PRId64 " memories, but the data set '%s' has only %" PRId64 " images",
                        m, uhn_deck_str(d, UHN_KEY_DATA_SOURCE, 0), n_available);
    if (!strcmp(uhn_deck_str(d, UHN_KEY_DATA_HETERO, 0), "halves") && height % 2)
        return key_fail(ctx, d, UHN_KEY_DATA_HETERO,
                        "halves needs an even image height, not %" PRId64, height);
    return UHN_OK;
}

void uhn_deck_print_keys(FILE *f) {
    fprintf(f, "| section | key | default | units / range | meaning |\n");
    fprintf(f, "|---|---|---|---|---|\n");
    for (int i = 0; i < UHN_KEY_COUNT; ++i) {
        const deck_key *k = &uhn_deck_keys[i];
        char range[512] = "";
        switch (k->type) {
        case UHN_DECK_NAME:
            names_list(k->names, range, sizeof range);
            break;
        case UHN_DECK_INT:
        case UHN_DECK_DOUBLE:
            if (k->derive)
                snprintf(range, sizeof range, "%s", k->units);
            else {
                char r[128];
                range_text(k, r, sizeof r);
                snprintf(range, sizeof range, "%s%s%s", strcmp(k->units, "-") ? k->units : "",
                         strcmp(k->units, "-") ? ", " : "", r);
            }
            break;
        case UHN_DECK_BOOL:
            snprintf(range, sizeof range, "on/off%s", k->list ? "/both" : "");
            break;
        case UHN_DECK_UINT64:
            snprintf(range, sizeof range, "0 to 2^64-1");
            break;
        case UHN_DECK_STRING:
            snprintf(range, sizeof range, "%s", k->units);
            break;
        }
        const char *def = k->def_doc ? k->def_doc : k->def ? k->def : "(required)";
        fprintf(f, "| %s | %s%s | %s | %s | %s |\n", k->section, k->key, k->list ? " (list)" : "",
                def, range, k->desc);
    }
}
