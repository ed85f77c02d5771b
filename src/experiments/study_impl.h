/* The state of a running study, shared by study.c (the sweep) and study_io.c
 * (the results file, its checkpoints and resumption). Private to libuhn. */
#ifndef UHN_STUDY_IMPL_H
#define UHN_STUDY_IMPL_H

#include <stdint.h>
#include <time.h>

#include "uhn/uhn.h"

/* The size of the sweep arrays: the number of AXIS keys of the deck's key
 * table (checked at set-up); "trial" is the next dimension of per-trial arrays. */
#define STUDY_NAXES  7
#define STUDY_FORMAT 1

/* Per-point statistics over trials, in this order in the file. */
enum { ST_FRAC, ST_FRAC_SD, ST_SQ, ST_SQ_SD, ST_MSE, ST_MSE_SD, ST_DSSIM, ST_DSSIM_SD, NSTAT };
/* Per-trial means over queries. */
enum { TR_FRAC, TR_SQ, TR_MSE, TR_DSSIM, NTRIAL };

typedef struct study {
    uhn_ctx *ctx;
    const uhn_deck *d;
    const uhn_study_opts *o;
    uhn_dataset *ds;

    /* Data and shapes: images H x W x C (K values); with hetero = halves the
     * key is the top Hk rows and the value (the output) the bottom Ho rows. */
    int64_t H, W, C, K;
    int hetero;
    int64_t Hk, Ho, Kk, Ko;
    const uhn_corruption *corr;
    int masking; /* the corruption zeroes pixels: the mask is a cue (and the hold set) */
    uint64_t seed;
    int64_t trials, count, save;
    double threshold; /* effective theta, scaled when threshold_scale = pixels */
    int quiet;

    /* The sweep. */
    int64_t dims[STUDY_NAXES];
    int64_t npoints;

    /* Results, replicated on every rank (rank 0 writes them). */
    double *stat;      /* [NSTAT][npoints] */
    int64_t *outcomes; /* [UHN_OUTCOME_COUNT][npoints] */
    int64_t *queries;  /* [npoints]: queries over all trials */
    double *seconds;   /* [npoints]: wall-clock time of the point */
    uint8_t *done;     /* [npoints] */
    double *trial;     /* [NTRIAL][npoints][trials] */
    /* Saved queries (trial 0, the first `save` queries; rank 0 only). */
    float *img_retrieved;  /* [npoints][save][Ko] */
    float *img_query;      /* [npoints][save][Kk] */
    float *img_truth;      /* [npoints][save][Ko] */
    int64_t *img_index;    /* [npoints][save]: data set index of the true image (-1: none) */
    int64_t *img_recalled; /* [npoints][save]: data set index of n* (-1: none) */
    float *img_weight;     /* [npoints][save] */
    double *img_sq, *img_dssim;
    int32_t *img_outcome; /* -1: no such query */
    int64_t ntraj;        /* |S| of output.trajectory (0: none) */
    int64_t *traj_steps;  /* [ntraj]: S */
    float *img_traj;      /* [npoints][save][ntraj][Kk]: the saved queries' states v_S */

    /* Work space. */
    uhn_bank *bank;
    int64_t bank_n, bank_trial; /* what the bank holds now (-1: nothing) */
    int64_t *subset;            /* [max N] */
    float *images;              /* [QB][K]: true images of a query chunk */
    float *rows;                /* hetero: [local rows][K] staging of whole images */
    float *qbuf;                /* [QB][Kk] */
    uint8_t *known;             /* [QB][Kk] */
    double *ssim_work;
    uhn_result *res;

    /* Files and bookkeeping. */
    char out[UHN_H5_PATH_MAX];
    char partial[UHN_H5_PATH_MAX + 16];
    char *effective; /* the deck's effective keys, one "[section] key = value" per line */
    time_t start, first_start;
    int64_t resumes;
    int loaded_complete; /* OUT was complete for this deck already: nothing to do */
} study;

/* The sweep (study.c): queries per trial at point p, and the point's label
 * ("n=100 similarity=dot": the axes with more than one value, n always). */
int64_t study_point_queries(const study *s, int64_t p);
void study_point_label(const study *s, int64_t p, char *buf, size_t len);

/* Results file (study_io.c). Rank 0 writes; every call is collective and agreed. */
int study_io_init(study *s);
int study_io_checkpoint(study *s, int complete);
void study_io_free(study *s);

#endif
