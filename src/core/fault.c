/* Fault injection for the tests (see fault.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fault.h"

static const char *const names[UHN_FAULT_NSITES] = {
    "bank_alloc", "step_alloc",  "h5_read",     "h5_commit",
    "data_rows",  "study_alloc", "encoder_fit", "sep_tile",
};

const char *uhn_fault_name(int site) {
    return site >= 0 && site < UHN_FAULT_NSITES ? names[site] : "none";
}

int uhn_fault_setup(uhn_ctx *ctx) {
    ctx->fault_site = -1;
    ctx->fault_count = 0;
    const char *env = getenv("UHN_FAULT");
    if (!env || !*env) return UHN_OK;
#ifndef UHN_FAULT_INJECTION
    return uhn_fail(ctx, UHN_EINPUT,
                    "UHN_FAULT is set but this build has no fault injection (configure with "
                    "-DUHN_FAULT_INJECTION=ON)");
#else
    char site[32];
    int rank = -1, hit = 1, used = 0;
    int n = sscanf(env, "%31[a-z0-9_]@%d%n", site, &rank, &used);
    if (n == 2 && env[used] == '#') {
        int more = 0;
        if (sscanf(env + used, "#%d%n", &hit, &more) != 1)
            used = -1;
        else
            used += more;
    }
    if (n != 2 || used < 0 || env[used] != '\0' || hit < 1)
        return uhn_fail(ctx, UHN_EINPUT, "UHN_FAULT='%s' is not SITE@RANK or SITE@RANK#HIT", env);
    for (int s = 0; s < UHN_FAULT_NSITES; ++s)
        if (!strcmp(site, names[s])) ctx->fault_site = s;
    if (ctx->fault_site < 0) {
        char list[256] = "";
        for (int s = 0; s < UHN_FAULT_NSITES; ++s)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", s ? ", " : "",
                     names[s]);
        return uhn_fail(ctx, UHN_EINPUT, "UHN_FAULT: unknown site '%s' (sites: %s)", site, list);
    }
    if (rank < 0 || rank >= ctx->size) {
        ctx->fault_site = -1;
        return uhn_fail(ctx, UHN_EINPUT, "UHN_FAULT: rank %d is not in [0, %d)", rank, ctx->size);
    }
    ctx->fault_rank = rank;
    ctx->fault_hit = hit;
    return UHN_OK;
#endif
}

#ifdef UHN_FAULT_INJECTION
int uhn_fault_hit(uhn_ctx *ctx, uhn_fault_site site) {
    if (!ctx || (int)site != ctx->fault_site || ctx->rank != ctx->fault_rank) return 0;
    return ++ctx->fault_count == ctx->fault_hit;
}
#endif
