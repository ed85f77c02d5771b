/* Private: the separation table entry and the per-query rules of the kernels. */
#ifndef UHN_CORE_SEPARATION_IMPL_H
#define UHN_CORE_SEPARATION_IMPL_H

#include "core/reduce.h"
#include "uhn/separation.h"

/* How a score h becomes an unnormalised weight g (spec §3). RULE_EXACT is the
 * uhn score mode's exact-match rule (spec §2): g = 1 on zero distances. */
typedef enum {
    RULE_SOFTMAX,
    RULE_IDENTITY,
    RULE_POWER,
    RULE_LOG,
    RULE_THRESHOLD,
    RULE_MAX,
    RULE_TOPK,
    RULE_EXACT
} uhn_rule;

struct uhn_separation {
    const char *name;
    uhn_rule rule;
    uhn_red_kind kind;      /* how partial results combine */
    const char *param_name; /* "p", "k", "t" or NULL */
    double param_default;
    int param_integer; /* param must be a positive integer */
};

/*
 * g for the LINEAR rules (log, threshold) from the score s before beta, so that
 * no rule forms beta * s where it would overflow: log gives ln beta + ln s.
 * Returns 0 and sets *bad when h = beta * s is outside the rule's domain.
 * Identity and power are the POW records of reduce.h, not rules of this form.
 */
static inline double uhn_rule_g(uhn_rule rule, double param, double beta, double s, int *bad) {
    switch (rule) {
    case RULE_LOG:
        *bad = !(s > 0);
        return *bad ? 0 : log(beta) + log(s);
    case RULE_THRESHOLD:
        *bad = 0;
        return beta * s >= param ? 1.0 : 0.0; /* an overflow to +-inf still compares right */
    default:
        *bad = 0;
        return 0;
    }
}

#endif
