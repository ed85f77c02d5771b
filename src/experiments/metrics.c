/*
 * Retrieval metrics and their accumulators (issue 3, spec §7). The SSIM below
 * follows skimage 0.19's structural_similarity step by step (see metrics.h);
 * tests/experiments/ssim_reference.py checks it against skimage itself.
 */
#include "uhn/metrics.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

static const char *const outcome_names[UHN_OUTCOME_COUNT] = {"correct", "wrong", "metastable"};

const char *uhn_outcome_name(uhn_outcome o) {
    return (int)o >= 0 && o < UHN_OUTCOME_COUNT ? outcome_names[o] : NULL;
}

double uhn_sq_error(const float *z, const float *y, int64_t K) {
    double s = 0.0;
    for (int64_t k = 0; k < K; ++k) {
        double d = (double)z[k] - (double)y[k];
        s += d * d;
    }
    return s;
}

double uhn_mse(const float *z, const float *y, int64_t K) {
    return K > 0 ? uhn_sq_error(z, y, K) / (double)K : 0.0;
}

double uhn_threshold(double theta, int scale_by_pixels, int64_t K) {
    return scale_by_pixels ? theta * (double)K / (double)UHN_THETA_PIXELS : theta;
}

uhn_outcome uhn_outcome_classify(double sq_error, double threshold, double weight, int64_t index,
                                 int64_t true_index) {
    if (sq_error < threshold) return UHN_OUTCOME_CORRECT;
    if (weight >= UHN_SETTLED_WEIGHT && index != true_index) return UHN_OUTCOME_WRONG;
    return UHN_OUTCOME_METASTABLE;
}

/* ---- SSIM ---- */

enum { TAPS = 2 * UHN_SSIM_RADIUS + 1 };
#define SSIM_SIGMA 1.5
#define SSIM_K1    0.01
#define SSIM_K2    0.03

const char *uhn_ssim_check(int64_t H, int64_t W) {
    return H >= TAPS && W >= TAPS ? NULL : "an image of at least 11 x 11 pixels";
}

int64_t uhn_ssim_work_size(int64_t H, int64_t W) {
    return 9 * H * W;
}

/* scipy.ndimage._gaussian_kernel1d: exp(-x^2 / (2 sigma^2)), normalised. */
static void gaussian_taps(double w[TAPS]) {
    double sum = 0.0;
    for (int t = 0; t < TAPS; ++t) {
        double x = (double)(t - UHN_SSIM_RADIUS);
        w[t] = exp(-0.5 / (SSIM_SIGMA * SSIM_SIGMA) * x * x);
        sum += w[t];
    }
    for (int t = 0; t < TAPS; ++t) w[t] /= sum;
}

/* scipy's mode 'reflect' (d c b a | a b c d | d c b a); one reflection is
 * enough because n >= TAPS > radius. The cropped mean never reads a filtered
 * value whose window leaves the image, so the mode only shapes the (discarded)
 * border; it is kept so that the filtered maps match scipy's everywhere. */
static int64_t reflect(int64_t i, int64_t n) {
    return i < 0 ? -i - 1 : (i >= n ? 2 * n - i - 1 : i);
}

/* Separable Gaussian filter of an H x W plane: along rows' axis 0, then 1. */
static void gauss2d(const double *in, double *tmp, double *out, int64_t H, int64_t W,
                    const double w[TAPS]) {
    for (int64_t i = 0; i < H; ++i)
        for (int64_t j = 0; j < W; ++j) {
            double s = 0.0;
            for (int t = 0; t < TAPS; ++t)
                s += w[t] * in[reflect(i + t - UHN_SSIM_RADIUS, H) * W + j];
            tmp[i * W + j] = s;
        }
    for (int64_t i = 0; i < H; ++i)
        for (int64_t j = 0; j < W; ++j) {
            double s = 0.0;
            for (int t = 0; t < TAPS; ++t)
                s += w[t] * tmp[i * W + reflect(j + t - UHN_SSIM_RADIUS, W)];
            out[i * W + j] = s;
        }
}

/* The mean SSIM of one channel (planes xp, yp already extracted). */
static double ssim_plane(const double *xp, const double *yp, int64_t H, int64_t W, double *work,
                         const double w[TAPS]) {
    int64_t P = H * W;
    double *prod = work, *tmp = work + P, *ux = work + 2 * P, *uy = work + 3 * P;
    double *uxx = work + 4 * P, *uyy = work + 5 * P, *uxy = work + 6 * P;
    gauss2d(xp, tmp, ux, H, W, w);
    gauss2d(yp, tmp, uy, H, W, w);
    /* The three second moments, from the products as skimage filters them. */
    const double *a[3] = {xp, yp, xp}, *b[3] = {xp, yp, yp};
    double *m[3] = {uxx, uyy, uxy};
    for (int q = 0; q < 3; ++q) {
        for (int64_t p = 0; p < P; ++p) prod[p] = a[q][p] * b[q][p];
        gauss2d(prod, tmp, m[q], H, W, w);
    }
    const double c1 = SSIM_K1 * SSIM_K1, c2 = SSIM_K2 * SSIM_K2; /* data_range 1 */
    double sum = 0.0;
    for (int64_t i = UHN_SSIM_RADIUS; i < H - UHN_SSIM_RADIUS; ++i)
        for (int64_t j = UHN_SSIM_RADIUS; j < W - UHN_SSIM_RADIUS; ++j) {
            int64_t p = i * W + j;
            double vx = uxx[p] - ux[p] * ux[p], vy = uyy[p] - uy[p] * uy[p];
            double vxy = uxy[p] - ux[p] * uy[p];
            double a1 = 2.0 * ux[p] * uy[p] + c1, a2 = 2.0 * vxy + c2;
            double b1 = ux[p] * ux[p] + uy[p] * uy[p] + c1, b2 = vx + vy + c2;
            sum += a1 * a2 / (b1 * b2);
        }
    return sum / (double)((H - 2 * UHN_SSIM_RADIUS) * (W - 2 * UHN_SSIM_RADIUS));
}

double uhn_ssim(const float *x, const float *y, int64_t H, int64_t W, int64_t C, double *work) {
    double w[TAPS];
    gaussian_taps(w);
    int64_t P = H * W;
    double *xp = work + 7 * P, *yp = work + 8 * P, total = 0.0;
    for (int64_t ch = 0; ch < C; ++ch) {
        for (int64_t p = 0; p < P; ++p) {
            xp[p] = (double)x[p * C + ch];
            yp[p] = (double)y[p * C + ch];
        }
        total += ssim_plane(xp, yp, H, W, work, w);
    }
    return total / (double)C;
}

/* ---- accumulators ---- */

static void add_doubles(double *a, const double *b, int n) {
    for (int i = 0; i < n; ++i) a[i] += b[i];
}

void uhn_trial_acc_init(uhn_trial_acc *a) {
    memset(a, 0, sizeof *a);
}

void uhn_trial_acc_add(uhn_trial_acc *a, const uhn_query_metrics *m) {
    a->queries += 1.0;
    a->sq_error += m->sq_error;
    a->mse += m->mse;
    a->dssim += m->dssim;
    a->count[m->outcome] += 1.0;
}

void uhn_trial_acc_merge(uhn_trial_acc *a, const uhn_trial_acc *b) {
    add_doubles((double *)a, (const double *)b, UHN_TRIAL_ACC_N);
}

void uhn_point_acc_init(uhn_point_acc *p) {
    memset(p, 0, sizeof *p);
}

static void moments_add(uhn_moments *m, double v) {
    m->n += 1.0;
    m->sum += v;
    m->sumsq += v * v;
}

void uhn_point_acc_add_trial(uhn_point_acc *p, const uhn_trial_acc *t) {
    if (t->queries <= 0.0) return;
    moments_add(&p->frac_correct, t->count[UHN_OUTCOME_CORRECT] / t->queries);
    moments_add(&p->sq_error, t->sq_error / t->queries);
    moments_add(&p->mse, t->mse / t->queries);
    moments_add(&p->dssim, t->dssim / t->queries);
    p->queries += t->queries;
    for (int o = 0; o < UHN_OUTCOME_COUNT; ++o) p->count[o] += t->count[o];
}

void uhn_point_acc_merge(uhn_point_acc *a, const uhn_point_acc *b) {
    add_doubles((double *)a, (const double *)b, UHN_POINT_ACC_N);
}

static uhn_stat moments_finish(const uhn_moments *m) {
    uhn_stat s = {0.0, 0.0};
    if (m->n <= 0.0) return s;
    s.mean = m->sum / m->n;
    if (m->n >= 2.0) {
        /* Never negative through rounding when every trial gave the same value. */
        double var = (m->sumsq - m->n * s.mean * s.mean) / (m->n - 1.0);
        s.std = var > 0.0 ? sqrt(var) : 0.0;
    }
    return s;
}

void uhn_point_acc_finish(const uhn_point_acc *p, uhn_point_stats *out) {
    out->trials = (int64_t)p->frac_correct.n;
    out->queries = (int64_t)p->queries;
    out->frac_correct = moments_finish(&p->frac_correct);
    out->sq_error = moments_finish(&p->sq_error);
    out->mse = moments_finish(&p->mse);
    out->dssim = moments_finish(&p->dssim);
    for (int o = 0; o < UHN_OUTCOME_COUNT; ++o) out->count[o] = (int64_t)p->count[o];
}
