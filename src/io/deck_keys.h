/*
 * The table of deck keys (private to src/io): one entry per key drives the
 * parser, the defaults, the range checks, the units, the descriptions and the
 * README table. Entries are indexed by uhn_deck_key_id.
 */
#ifndef UHN_IO_DECK_KEYS_H
#define UHN_IO_DECK_KEYS_H

#include "uhn/deck.h"

/* Allowed names of a NAME key: a fixed NULL-terminated list, or a table read
 * through count/at (similarities, separations). */
typedef struct deck_names {
    const char *const *list;
    int (*count)(void);
    const char *(*at)(int i);
} deck_names;

/* A default that depends on other keys (written into `out`, size n). */
typedef void (*deck_derive_fn)(const uhn_deck *d, char *out, size_t n);

typedef struct deck_key {
    uhn_deck_key_id id;
    const char *section;
    const char *key;
    uhn_deck_type type;
    uhn_deck_arity list;   /* SCALAR, LIST (a list, not swept) or AXIS (a sweep axis) */
    const char *def;       /* default text; NULL: required (unless derive) */
    deck_derive_fn derive; /* default computed from other keys, or NULL */
    const char *def_doc;   /* the default as the README shows it when derived */
    double min, max;       /* inclusive bounds of INT and DOUBLE values */
    int min_open;          /* 1: min itself is excluded */
    const deck_names *names;
    const char *units;
    const char *desc;
    uhn_axis_scale scale; /* AXIS: how plots draw it (linear, log, category) */
} deck_key;

/* The table (UHN_KEY_COUNT entries, entry i has id i) and the sections in order. */
extern const deck_key uhn_deck_keys[UHN_KEY_COUNT];
extern const char *const uhn_deck_sections[];
extern const int uhn_deck_nsections;

/* Names of a NAME key: number and i-th (NULL past the end). */
int deck_names_count(const deck_names *n);
const char *deck_names_at(const deck_names *n, int i);

/* Corruptions as far as the deck needs them: the range of the level, whether
 * it must be an integer, whether the corruption masks pixels (cue_only needs
 * that) and the default level. Checks that need H and W are the corruption
 * module's (uhn_corruption_param_check). */
typedef struct deck_corruption {
    const char *name;
    double lo, hi;
    int integer;
    int masking;
    const char *level_default;
    const char *level_meaning;
} deck_corruption;
const deck_corruption *deck_corruption_find(const char *name);

#endif
