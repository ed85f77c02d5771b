/*
 * Fault injection, for the tests of failures that strike one rank alone after
 * the collective input checks (an allocation, a read, a write): a build with
 * UHN_FAULT_INJECTION (CMake option, on in builds with tests) reads
 *
 *     UHN_FAULT=SITE@RANK[#HIT]
 *
 * at uhn_ctx_check, and the HIT-th time (default 1) rank RANK passes the named
 * site, UHN_FAULT() is true there and the code takes its real failure branch
 * (the allocation "fails", the read or write "fails"). Other builds compile
 * every site to 0. tests/fault runs every site at 2-4 ranks.
 */
#ifndef UHN_CORE_FAULT_H
#define UHN_CORE_FAULT_H

#include "uhn/context.h"

typedef enum uhn_fault_site {
    UHN_FAULT_BANK_ALLOC,  /* the shard of the memory bank (uhn_bank_create) */
    UHN_FAULT_STEP_ALLOC,  /* an engine step's partial records */
    UHN_FAULT_H5_READ,     /* reading rows of an HDF5 dataset */
    UHN_FAULT_H5_COMMIT,   /* committing an HDF5 output file (results, checkpoints, models) */
    UHN_FAULT_DATA_ROWS,   /* rows of a data source (synthetic, IDX, HDF5, image set) */
    UHN_FAULT_STUDY_ALLOC, /* a study's work space */
    UHN_FAULT_ENCODER_FIT, /* an encoder's fit (its work space) */
    UHN_FAULT_SEP_TILE,    /* a tile of the separability cosines */
    UHN_FAULT_NSITES
} uhn_fault_site;

/* The site's name as UHN_FAULT spells it ("bank_alloc", ...). */
const char *uhn_fault_name(int site);

/* Parses UHN_FAULT into ctx (site -1 when unset); fails with one line naming
 * what is wrong. Builds without fault injection fail when it is set. */
int uhn_fault_setup(uhn_ctx *ctx);

#ifdef UHN_FAULT_INJECTION
/* True when this pass of `site` on this rank is the one that fails. */
int uhn_fault_hit(uhn_ctx *ctx, uhn_fault_site site);
#define UHN_FAULT(ctx, site) uhn_fault_hit((ctx), (site))
#else
#define UHN_FAULT(ctx, site) 0
#endif

#endif
