/*
 * The corruption table of issue 3: one entry and one function per kind.
 * See include/uhn/corrupt.h for the contract and the random streams.
 */
#include "uhn/corrupt.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

#include "uhn/rng.h"

/* One image: its shape, pixels and the random key of its (trial, query). */
typedef struct corrupt_job {
    double param;
    uint64_t seed;
    uint64_t index;
    int64_t h, w, c;
    const float *image;
    float *out;
    uint8_t *known;
} corrupt_job;

typedef void (*corrupt_fn)(const corrupt_job *job);
typedef const char *(*check_fn)(double param, int64_t h, int64_t w);

struct uhn_corruption {
    const char *name;
    const char *param_name;
    const char *help;
    check_fn check;
    corrupt_fn apply;
};

/* Copies a pixel's channels, or zeroes them and marks them unknown. */
static void keep_or_zero(const corrupt_job *job, int64_t pixel, int keep) {
    for (int64_t ch = 0; ch < job->c; ++ch) {
        int64_t k = pixel * job->c + ch;
        job->out[k] = keep ? job->image[k] : 0.0f;
        job->known[k] = (uint8_t)(keep != 0);
    }
}

static void apply_none(const corrupt_job *job) {
    int64_t K = job->h * job->w * job->c;
    if (job->out != job->image) memcpy(job->out, job->image, (size_t)K * sizeof(float));
    memset(job->known, 1, (size_t)K);
}

/* x + N(0, variance) per coordinate (counter = coordinate), clipped to [0, 1]. */
static void apply_gaussian(const corrupt_job *job) {
    int64_t K = job->h * job->w * job->c;
    double sd = sqrt(job->param);
    for (int64_t k = 0; k < K; ++k) {
        double v = (double)job->image[k] +
                   sd * uhn_rng_normal(job->seed, UHN_STREAM_GAUSSIAN, job->index, (uint32_t)k);
        job->out[k] = (float)fmin(fmax(v, 0.0), 1.0);
        job->known[k] = 1;
    }
}

/* The top round(fraction * H) rows (halves rounded up) set to 0. */
static void apply_mask_top(const corrupt_job *job) {
    int64_t rows = (int64_t)floor(job->param * (double)job->h + 0.5);
    for (int64_t p = 0; p < job->h * job->w; ++p) keep_or_zero(job, p, p / job->w >= rows);
}

/* Each pixel (all its channels) set to 0 when its uniform draw (counter =
 * pixel index y*W + x) is below the probability. */
static void apply_random_pixels(const corrupt_job *job) {
    for (int64_t p = 0; p < job->h * job->w; ++p) {
        double u = uhn_rng_uniform(job->seed, UHN_STREAM_PIXELS, job->index, (uint32_t)p);
        keep_or_zero(job, p, !(u < job->param));
    }
}

/* A border of w pixels on every side set to 0; the centre kept. */
static void apply_inpaint(const corrupt_job *job) {
    int64_t b = (int64_t)job->param;
    for (int64_t p = 0; p < job->h * job->w; ++p) {
        int64_t y = p / job->w, x = p % job->w;
        keep_or_zero(job, p, y >= b && y < job->h - b && x >= b && x < job->w - b);
    }
}

static const char *check_none(double param, int64_t h, int64_t w) {
    (void)param, (void)h, (void)w;
    return NULL;
}

static const char *check_variance(double param, int64_t h, int64_t w) {
    (void)h, (void)w;
    return param >= 0.0 && isfinite(param) ? NULL : "a finite variance >= 0";
}

static const char *check_fraction(double param, int64_t h, int64_t w) {
    (void)h, (void)w;
    return param >= 0.0 && param <= 1.0 ? NULL : "a fraction in [0, 1]";
}

static const char *check_probability(double param, int64_t h, int64_t w) {
    (void)h, (void)w;
    return param >= 0.0 && param <= 1.0 ? NULL : "a probability in [0, 1]";
}

static const char *check_border(double param, int64_t h, int64_t w) {
    if (!(param >= 0.0) || !isfinite(param) || param != floor(param))
        return "an integer border width >= 0";
    if (2.0 * param >= (double)(h < w ? h : w))
        return "a border width w with 2w < min(H, W), so that the centre keeps a pixel";
    return NULL;
}

static const uhn_corruption table[] = {
    {"none", NULL, "the query is the stored image", check_none, apply_none},
    {"gaussian", "variance", "adds N(0, variance) to every coordinate, then clips to [0, 1]",
     check_variance, apply_gaussian},
    {"mask_top", "fraction", "sets the top round(fraction*H) rows to 0", check_fraction,
     apply_mask_top},
    {"random_pixels", "probability", "sets each pixel to 0 with the given probability",
     check_probability, apply_random_pixels},
    {"inpaint", "width", "sets a border of the given width to 0, the centre kept", check_border,
     apply_inpaint},
};

enum { N_CORRUPTIONS = (int)(sizeof table / sizeof table[0]) };

const uhn_corruption *uhn_corruption_find(const char *name) {
    for (int i = 0; name && i < N_CORRUPTIONS; ++i)
        if (strcmp(table[i].name, name) == 0) return &table[i];
    return NULL;
}

int uhn_corruption_count(void) {
    return N_CORRUPTIONS;
}

const uhn_corruption *uhn_corruption_at(int i) {
    return i >= 0 && i < N_CORRUPTIONS ? &table[i] : NULL;
}

const char *uhn_corruption_name(const uhn_corruption *c) {
    return c->name;
}

const char *uhn_corruption_param_name(const uhn_corruption *c) {
    return c->param_name;
}

const char *uhn_corruption_help(const uhn_corruption *c) {
    return c->help;
}

const char *uhn_corruption_param_check(const uhn_corruption *c, double param, int64_t H,
                                       int64_t W) {
    return c->check(param, H, W);
}

uint64_t uhn_corruption_index(int64_t trial, int64_t query) {
    return ((uint64_t)trial << 32) + (uint64_t)query;
}

void uhn_corrupt(const uhn_corruption *c, double param, uint64_t seed, int64_t trial, int64_t query,
                 int64_t H, int64_t W, int64_t C, const float *image, float *out, uint8_t *known) {
    corrupt_job job = {param, seed, uhn_corruption_index(trial, query), H, W, C, image, out, known};
    c->apply(&job);
}
