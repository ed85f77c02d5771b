/*
 * Retrieval metrics of capacity studies (issue 3, spec §7).
 *
 * Per query: the squared error against the true stored image, the MSE, 1-SSIM
 * (the Gaussian-window SSIM of Wang et al. 2004 exactly as
 * skimage.metrics.structural_similarity computes it with gaussian_weights=True,
 * sigma=1.5, use_sample_covariance=False, data_range=1), correctness by the
 * threshold theta and the outcome class (correct / wrong / metastable).
 *
 * Per sweep point: a trial accumulator sums the queries of one trial and a
 * point accumulator sums trials. Both hold only doubles that add, so partial
 * accumulators of several ranks merge with one MPI_Allreduce(MPI_SUM) over
 * UHN_TRIAL_ACC_N / UHN_POINT_ACC_N doubles, as well as with the merge calls.
 */
#ifndef UHN_METRICS_H
#define UHN_METRICS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The outcome classes of spec §7. */
typedef enum uhn_outcome {
    UHN_OUTCOME_CORRECT = 0,
    UHN_OUTCOME_WRONG = 1,
    UHN_OUTCOME_METASTABLE = 2,
    UHN_OUTCOME_COUNT = 3
} uhn_outcome;

/* The weight at or above which a state has settled on one memory. */
#define UHN_SETTLED_WEIGHT 0.99
/* The default threshold theta and the pixel count it was set for (28x28). */
#define UHN_THETA_DEFAULT 50.0
#define UHN_THETA_PIXELS  784

/* "correct", "wrong", "metastable"; NULL when out of range. */
const char *uhn_outcome_name(uhn_outcome o);

/* sum_k (z_k - y_k)^2 in double precision. Not collective. */
double uhn_sq_error(const float *z, const float *y, int64_t K);
/* uhn_sq_error / K. */
double uhn_mse(const float *z, const float *y, int64_t K);

/* The threshold in use: theta, or theta * K / 784 when scale_by_pixels. */
double uhn_threshold(double theta, int scale_by_pixels, int64_t K);

/*
 * The class of one query: correct when sq_error < threshold; else wrong when
 * weight >= 0.99 and index != true_index; else metastable (NaN counts as
 * neither correct nor settled).
 */
uhn_outcome uhn_outcome_classify(double sq_error, double threshold, double weight, int64_t index,
                                 int64_t true_index);

/* The SSIM window: radius int(3.5 * 1.5 + 0.5) = 5, 11 taps. */
#define UHN_SSIM_RADIUS 5

/* NULL when an H x W image is large enough for SSIM (H, W >= 11, as skimage
 * requires), else a static string saying what is required. */
const char *uhn_ssim_check(int64_t H, int64_t W);
/* The doubles of workspace uhn_ssim needs for an H x W image (9 * H * W). */
int64_t uhn_ssim_work_size(int64_t H, int64_t W);

/*
 * Mean SSIM of two [H][W][C] images (channels averaged), with the Gaussian
 * filter of scipy.ndimage (mode 'reflect') and the mean taken after cropping
 * UHN_SSIM_RADIUS pixels at each border, as skimage does. work holds
 * uhn_ssim_work_size(H, W) doubles (caller-owned; one per thread). H, W must
 * pass uhn_ssim_check. Not collective; thread-safe with separate work.
 */
double uhn_ssim(const float *x, const float *y, int64_t H, int64_t W, int64_t C, double *work);

/* The metrics of one query. */
typedef struct uhn_query_metrics {
    double sq_error; /* sum_k (z_k - y_k)^2 */
    double mse;      /* sq_error / K */
    double dssim;    /* 1 - SSIM */
    uhn_outcome outcome;
} uhn_query_metrics;

/* Sums over the queries of one trial. Only doubles, all summed on merge. */
typedef struct uhn_trial_acc {
    double queries;
    double sq_error, mse, dssim;     /* sums over the queries */
    double count[UHN_OUTCOME_COUNT]; /* queries of each class */
} uhn_trial_acc;
#define UHN_TRIAL_ACC_N ((int)(sizeof(uhn_trial_acc) / sizeof(double)))

/* Per-trial values accumulated over the trials of one sweep point: n, sum and
 * sum of squares of each. Only doubles, all summed on merge. */
typedef struct uhn_moments {
    double n, sum, sumsq;
} uhn_moments;

typedef struct uhn_point_acc {
    uhn_moments frac_correct; /* fraction of a trial's queries that are correct */
    uhn_moments sq_error;     /* a trial's mean squared error */
    uhn_moments mse;          /* a trial's mean MSE */
    uhn_moments dssim;        /* a trial's mean 1 - SSIM */
    double queries;
    double count[UHN_OUTCOME_COUNT]; /* over all trials */
} uhn_point_acc;
#define UHN_POINT_ACC_N ((int)(sizeof(uhn_point_acc) / sizeof(double)))

/* Mean and sample standard deviation (n - 1; 0 when n < 2) over trials. */
typedef struct uhn_stat {
    double mean, std;
} uhn_stat;

typedef struct uhn_point_stats {
    int64_t trials, queries;
    uhn_stat frac_correct, sq_error, mse, dssim;
    int64_t count[UHN_OUTCOME_COUNT];
} uhn_point_stats;

/* Accumulators: zero, add one item, and merge b into a. Not collective. */
void uhn_trial_acc_init(uhn_trial_acc *a);
void uhn_trial_acc_add(uhn_trial_acc *a, const uhn_query_metrics *m);
void uhn_trial_acc_merge(uhn_trial_acc *a, const uhn_trial_acc *b);

void uhn_point_acc_init(uhn_point_acc *p);
/* Adds one finished trial (a trial with no queries is ignored). */
void uhn_point_acc_add_trial(uhn_point_acc *p, const uhn_trial_acc *t);
void uhn_point_acc_merge(uhn_point_acc *a, const uhn_point_acc *b);
/* Means and standard deviations over the trials; zero when there are none. */
void uhn_point_acc_finish(const uhn_point_acc *p, uhn_point_stats *out);

#ifdef __cplusplus
}
#endif
#endif
