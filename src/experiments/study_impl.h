/* The state of a running study, shared by study.c (the sweep) and study_io.c
 * (the results file, its checkpoints and resumption). Private to libuhn. */
#ifndef UHN_STUDY_IMPL_H
#define UHN_STUDY_IMPL_H

#include <stdint.h>
#include <time.h>

#include "uhn/uhn.h"

/* The size of the sweep arrays: the number of AXIS keys of the deck's key
 * table (checked at set-up); "trial" is the next dimension of per-trial arrays. */
#define STUDY_NAXES      11
#define STUDY_FORMAT     3
#define STUDY_MAX_STAGES 16   /* room for the stages of study.c's table */
#define QUERY_CHUNK      1024 /* queries recalled per uhn_recall call */

/* Per-point statistics over trials, in this order in the file: against the
 * true image, then (spec §10) against the memory's own reconstruction dec(c_m). */
enum {
    ST_FRAC,
    ST_FRAC_SD,
    ST_SQ,
    ST_SQ_SD,
    ST_MSE,
    ST_MSE_SD,
    ST_DSSIM,
    ST_DSSIM_SD,
    ST_MSE_REC,
    ST_MSE_REC_SD,
    ST_DSSIM_REC,
    ST_DSSIM_REC_SD,
    NSTAT
};
/* Separability scalars per point (spec §12). */
enum {
    SEP_SELF_MEAN,
    SEP_SELF_STD,
    SEP_CROSS_MEAN,
    SEP_CROSS_STD,
    SEP_DPRIME,
    SEP_OVERLAP,
    SEP_TOP1,
    NSEP
};
/* Per-trial means over queries. */
enum { TR_FRAC, TR_SQ, TR_MSE, TR_DSSIM, TR_MSE_REC, TR_DSSIM_REC, NTRIAL };

/* What follows the sweep axes in the shape of a result dataset. */
typedef enum {
    SHAPE_POINT,
    SHAPE_TRIAL,
    SHAPE_QUERY,
    SHAPE_KEY_IMAGE,
    SHAPE_VALUE_IMAGE,
    SHAPE_TRAJECTORY,      /* [save][steps S][Hk][W][C] */
    SHAPE_TRAJECTORY_CODE, /* [save][steps S][D max] */
    SHAPE_BINS             /* [separability bins] */
} study_shape;

/* What a finished point holds in a result dataset: the invariant that makes a
 * checkpoint or a complete file trustworthy (study_io.c). NaN is the file's
 * "no data" mark, the value every entry starts with. */
typedef enum {
    HOLD_ANY,      /* not checked (pixels, and entries that may be "none") */
    HOLD_NUMBER,   /* not NaN */
    HOLD_FRACTION, /* in [0, 1] */
    HOLD_SSIM,     /* not NaN when 1 - SSIM is computed (else NaN) */
    HOLD_COUNT,    /* an integer >= 0 (and the counts sum to queries) */
    HOLD_INDEX,    /* the saved queries (the first min(save, queries) of trial 0): >= 0 */
    HOLD_OUTCOME   /* the saved queries: an outcome class 0, 1 or 2 */
} study_hold;

/* One result dataset, declared by the stage that fills it; written, read back
 * and checked by study_io.c. */
typedef struct study_field {
    char name[48]; /* path in the file */
    uhn_h5_type type;
    study_shape shape;
    void *buf;
    const char *desc, *units;
    study_hold hold;
} study_field;

#define STUDY_MAX_FIELDS 64

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

    /* Encoders (the encoder.name axis), fitted or loaded before the sweep. */
    int nenc;
    uhn_encoder **enc; /* [nenc] */
    int64_t Dmax;      /* the longest code */
    int cur;           /* the encoder of the point being run */
    int64_t D;         /* its code length (Kk for identity) */
    int raw;           /* it is identity: codes are the pixels, masks apply */

    /* Cross-stimulus memories (spec §13, the [text] keys; study_text.c):
     * memories [image code ; s * text code], queries [0 ; s * text code]. */
    int text;             /* text.method is not none */
    uhn_text_config tcfg; /* pixel and ngram */
    float *ext;           /* external: [data n][DText] codes, replicated; else NULL */
    int64_t DText;        /* external: their length */
    int64_t DI, DT;       /* the current encoder's image and text code lengths (D = DI + DT) */
    double tscale;        /* the point's text.scale (NaN: auto) */
    int tknown;           /* the point's text.known */
    double tshared;       /* the point's text.shared */
    double scale_used;    /* the s of the bank now */
    int bank_ti;          /* the (text.scale, text.shared) value pair the bank holds (-1: none) */
    uint8_t *pair_shared; /* [max n / 2]: uhn_shared_pairs of the bank's (n, trial) */
    float *tcodes;        /* [max(local rows, QB)][DTmax]: text codes, unscaled */
    float *icodes;        /* [local rows][DImax]: image codes of the bank's rows */
    float *render;        /* [RENDER_ROWS][K]: drawn digests (pixel) */
    uint8_t *qknown;      /* [QB][Dmax]: the text cue set of a chunk (text.known) */
    double *text_scale;   /* [npoints][trials]: s */
    int64_t *tcount;      /* [2][2][UHN_OUTCOME_COUNT][npoints]: shared, unique; §7, §10 */
    int64_t *tqueries;    /* [npoints]: queries with a shared caption */
    double *tmse;         /* [2][npoints]: mean MSE of shared, unique queries */
    int32_t *img_shared;  /* [npoints][save]: 1 shared caption, 0 unique, -1 no such query */
    int64_t *img_partner; /* [npoints][save]: data index of the other image of the pair */
    int cur_ti;           /* the point's (text.scale, text.shared) value pair */
    double *tacc_point;   /* [npoints][2][TACC]: shared, unique sums over the trials so far */
    float *tdec_codes;    /* [ntraj][Dmax]: the image parts of a saved query's states */

    /* The sweep. */
    int64_t dims[STUDY_NAXES];
    int64_t npoints;
    uint8_t *mine; /* [npoints]: 1 for the points of this run's share (all without --part) */
    int64_t share; /* how many */

    /* Results, replicated on every rank (rank 0 writes them). */
    double *stat;           /* [NSTAT][npoints] */
    int64_t *outcomes;      /* [UHN_OUTCOME_COUNT][npoints] */
    int64_t *code_outcomes; /* [UHN_OUTCOME_COUNT][npoints]: spec §10, in code space */
    int64_t *queries;       /* [npoints]: queries over all trials */
    double *seconds;        /* [npoints]: wall-clock time of the point */
    uint8_t *done;          /* [npoints] */
    double *trial;          /* [NTRIAL][npoints][trials] */
    /* Saved queries (trial 0, the first `save` queries; rank 0 only). */
    float *img_retrieved;  /* [npoints][save][Ko] */
    float *img_query;      /* [npoints][save][Kk] */
    float *img_truth;      /* [npoints][save][Ko] */
    int64_t *img_index;    /* [npoints][save]: data set index of the true image (-1: none) */
    int64_t *img_recalled; /* [npoints][save]: data set index of n* (-1: none) */
    float *img_weight;     /* [npoints][save] */
    double *img_sq, *img_dssim;
    int32_t *img_outcome;      /* -1: no such query */
    int32_t *img_code_outcome; /* spec §10 (-1: no such query) */
    int64_t ntraj;             /* |S| of output.trajectory (0: none) */
    int64_t *traj_steps;       /* [ntraj]: S */
    float *img_traj;           /* [npoints][save][ntraj][Kk]: decoded states dec(v_S) */
    float *img_traj_code;      /* [npoints][save][ntraj][Dmax]: states v_S (NaN-padded); or NULL */

    /* Separability (output.separability; spec §12), per point, of trial 0. */
    int separability;
    int64_t sep_bins;
    int64_t *sep_hist;   /* [2][npoints][bins]: self, cross */
    double *sep_stat;    /* [NSEP][npoints] */
    double *sep_edges;   /* [bins + 1] */
    int64_t *sep_subset; /* [max N]: trial 0's memories */

    /* Work space. */
    uhn_bank *bank;
    int64_t bank_n, bank_trial;     /* what the bank holds now (-1: nothing) */
    int bank_enc;                   /* ... and in whose codes */
    int64_t *subset;                /* [max N] */
    int64_t subset_n, subset_trial; /* what subset holds (-1: nothing) */
    int rows_ready;                 /* rows holds this rank's images of that subset */
    int64_t sep_n;                  /* sep_subset holds trial 0's subset of sep_n (-1: none) */
    int64_t sep_p;                  /* the last point whose separability was computed (-1: none) */
    int afresh;                     /* UHN_STUDY_REUSE=0: build every bank afresh (tests) */
    double pause;                   /* UHN_STUDY_POINT_PAUSE: seconds after a point (tests) */
    /* The points of a group (see sweep()) run trial by trial: their sums over
     * the trials done so far, and the seconds each has taken on this rank. */
    uhn_point_acc *group_acc;               /* [npoints][2]: against y, against dec(c_m) */
    double *group_seconds;                  /* [npoints] */
    double stage_seconds[STUDY_MAX_STAGES]; /* this rank's time in each stage, this run */
    double work;                            /* memories x queries recalled, this run */
    float *images;                          /* [QB][K]: true images of a query chunk */
    float *rows;                            /* hetero: [local rows][K] staging of whole images */
    float *qbuf;                            /* [QB][Kk] */
    uint8_t *known;                         /* [QB][Kk] */
    float *qcode;                           /* [QB][Dmax]: encoded queries (== qbuf for identity) */
    float *tcode;                           /* [QB][Dmax]: codes c_m of the true images */
    float *recon;                           /* [QB][Ko]: dec(c_m) */
    float *decoded;                         /* [QB][Ko]: dec(v_T) */
    float *tdec;                            /* [ntraj][Kk]: one saved query's decoded states */
    double *ssim_work;
    uhn_result *res;

    /* Files and bookkeeping. */
    char out[UHN_H5_PATH_MAX];
    char partial[UHN_H5_PATH_MAX + 16];
    char *effective; /* the deck's effective keys, one "[section] key = value" per line */
    time_t start, first_start;
    /* BLAS kernels that computed the points so far (", "-separated; resumes
     * may run on other CPUs): the provenance's blas_kernels */
    char blas_kernels[256];
    int64_t resumes;
    int loaded_complete; /* OUT was complete for this deck already: nothing to do */
} study;

/* The stages of the pipeline (study.c) declare the result datasets they
 * fill: every one of s, in file order; returns how many. */
int study_fields(study *s, study_field f[STUDY_MAX_FIELDS]);
/* What the stages write beside the datasets (the models of the encoders). */
int study_write_extra(study *s, uhn_h5_writer *w);
/* 1 when some encoder of the sweep is not identity (code trajectories are kept). */
int study_has_codes(const study *s);

/* The sweep (study.c): queries per trial at point p, and the point's label
 * ("n=100 similarity=dot": the axes with more than one value, n always). */
int64_t study_point_queries(const study *s, int64_t p);
void study_point_label(const study *s, int64_t p, char *buf, size_t len);

/* A library message about a parameter (ctx->param) named by the deck key that
 * set it: "DECK:LINE: [section] key: ...". map lists (parameter, key) pairs. */
typedef struct study_param_key {
    const char *param;
    uhn_deck_key_id key;
} study_param_key;
int study_relabel(const study *s, int st, const study_param_key *map, int n);

/* Cross-stimulus memories (study_text.c). */
/* The [text] set-up, after the encoders are fitted: checks and the external codes. */
int study_text_setup(study *s);
/* The text code length of encoder i (pixel: its image code length). */
int64_t study_text_dim(const study *s, int i);
/* 1 when the memory at stored position i shares its caption with the other of its
 * pair (2k, 2k + 1) in the bank now (uhn_shared_pairs); 0 without text. */
int study_text_shared(const study *s, int64_t i);
/* Fills the bank's local keys [image code ; s * text code] from the image codes
 * in s->icodes, resolving s (auto). Collective (agreed). */
int study_text_store(study *s, uhn_bank *b, int64_t t);
/* A chunk's text queries into qcode, the true images' codes, and the cue set. */
int study_text_queries(study *s, int64_t c0, int64_t nb);
void study_text_free(study *s);

/* Attributes of an HDF5 object (an hid_t): a string, malloc'ed into *out, or
 * an integer; 0, or -1 when absent or of another type (study_io.c). */
int study_attr_string(int64_t obj, const char *name, char **out);
int study_attr_int64(int64_t obj, const char *name, int64_t *v);
/* The first line where the texts a and b differ, as "'<a line>'SEP'<b line>'END"
 * (lines cut at 200 bytes), or "(no difference)". */
void study_first_difference(const char *a, const char *b, const char *sep, const char *end,
                            char *buf, size_t len);

/* Results file (study_io.c). Rank 0 writes; every call is collective and agreed. */
int study_io_init(study *s);
int study_io_checkpoint(study *s, int complete);
void study_io_free(study *s);

#endif
