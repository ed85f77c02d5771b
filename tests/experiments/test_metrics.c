/*
 * Retrieval metrics of issue 3: squared error and MSE, the threshold, the
 * outcome classes of spec §7, SSIM on images whose value is known in closed
 * form, and the accumulators: mean and standard deviation over trials worked
 * out by hand, with the queries and trials spread over the ranks and merged by
 * MPI_Allreduce(MPI_SUM) as well as by the merge calls. Runs at 1 and 3 ranks.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "../unit/check.h"
#include "uhn/metrics.h"

static void test_errors_and_threshold(void) {
    check_context("squared error");
    const float z[4] = {0.0f, 0.5f, 1.0f, 0.25f}, y[4] = {1.0f, 0.5f, 0.0f, 0.0f};
    CHECK_NEAR(2.0625, uhn_sq_error(z, y, 4), 0.0);
    CHECK_NEAR(0.515625, uhn_mse(z, y, 4), 0.0);
    CHECK_NEAR(0.0, uhn_sq_error(z, z, 4), 0.0);
    check_context("threshold");
    CHECK_NEAR(50.0, uhn_threshold(UHN_THETA_DEFAULT, 0, 3072), 0.0);
    CHECK_NEAR(50.0, uhn_threshold(UHN_THETA_DEFAULT, 1, 784), 0.0);
    CHECK_NEAR(50.0 * 3072.0 / 784.0, uhn_threshold(50.0, 1, 3072), 1e-12);
    CHECK_NEAR(195.91836734693877, uhn_threshold(50.0, 1, 3072), 1e-12);
}

static void test_outcomes(void) {
    check_context("outcome names");
    CHECK(strcmp(uhn_outcome_name(UHN_OUTCOME_CORRECT), "correct") == 0);
    CHECK(strcmp(uhn_outcome_name(UHN_OUTCOME_WRONG), "wrong") == 0);
    CHECK(strcmp(uhn_outcome_name(UHN_OUTCOME_METASTABLE), "metastable") == 0);
    CHECK(uhn_outcome_name(UHN_OUTCOME_COUNT) == NULL);
    check_context("classes");
    /* Correct by the threshold alone, whatever the weights say. */
    CHECK_INT(UHN_OUTCOME_CORRECT, uhn_outcome_classify(49.9, 50.0, 0.2, 7, 3));
    CHECK_INT(UHN_OUTCOME_CORRECT, uhn_outcome_classify(0.0, 50.0, 1.0, 3, 3));
    /* The threshold is strict. */
    CHECK_INT(UHN_OUTCOME_WRONG, uhn_outcome_classify(50.0, 50.0, 1.0, 4, 3));
    CHECK_INT(UHN_OUTCOME_WRONG, uhn_outcome_classify(80.0, 50.0, 0.99, 4, 3));
    CHECK_INT(UHN_OUTCOME_METASTABLE, uhn_outcome_classify(80.0, 50.0, 0.989, 4, 3));
    /* Settled on the true memory but too far from it (e.g. clamped pixels). */
    CHECK_INT(UHN_OUTCOME_METASTABLE, uhn_outcome_classify(80.0, 50.0, 1.0, 3, 3));
    CHECK_INT(UHN_OUTCOME_METASTABLE, uhn_outcome_classify(NAN, 50.0, 1.0, 3, 3));
    CHECK_INT(UHN_OUTCOME_WRONG, uhn_outcome_classify(NAN, 50.0, 1.0, 4, 3));
    CHECK_INT(UHN_OUTCOME_METASTABLE, uhn_outcome_classify(80.0, 50.0, NAN, 4, 3));
}

/* SSIM of constant images: variances vanish and S = (2ab + C1)/(a^2 + b^2 + C1). */
static void test_ssim_closed_form(void) {
    enum { H = 12, W = 14, C = 3, K = H * W * C };
    float *x = malloc(K * sizeof(float)), *y = malloc(K * sizeof(float));
    double *work = malloc((size_t)uhn_ssim_work_size(H, W) * sizeof(double));
    const float a[C] = {0.25f, 0.5f, 0.0f}, b[C] = {0.75f, 0.5f, 1.0f};
    for (int k = 0; k < K; ++k) {
        x[k] = a[k % C];
        y[k] = b[k % C];
    }
    const double c1 = 1e-4;
    double s[C];
    for (int c = 0; c < C; ++c)
        s[c] = (2.0 * a[c] * b[c] + c1) / ((double)a[c] * a[c] + (double)b[c] * b[c] + c1);
    check_context("ssim closed form");
    CHECK_INT(9 * H * W, uhn_ssim_work_size(H, W));
    CHECK_NEAR(0.3751 / 0.6251, s[0], 1e-15);
    CHECK_NEAR((s[0] + s[1] + s[2]) / 3.0, uhn_ssim(x, y, H, W, C, work), 1e-12);
    /* One channel: the first plane of constants on its own. */
    for (int k = 0; k < H * W; ++k) x[k] = a[0], y[k] = b[0];
    CHECK_NEAR(s[0], uhn_ssim(x, y, H, W, 1, work), 1e-12);
    CHECK_NEAR(1.0, uhn_ssim(x, x, H, W, C, work), 1e-12);
    /* Random images: SSIM of an image with itself is 1, with another below 1. */
    for (int k = 0; k < K; ++k) {
        x[k] = (float)((k * 7919) % 101) / 100.0f;
        y[k] = (float)((k * 104729) % 97) / 96.0f;
    }
    CHECK_NEAR(1.0, uhn_ssim(y, y, H, W, C, work), 1e-12);
    double r = uhn_ssim(x, y, H, W, C, work);
    CHECK_MSG(r < 0.5 && r > -1.0, "ssim of unrelated images %g", r);
    check_context("ssim sizes");
    CHECK(uhn_ssim_check(11, 11) == NULL);
    CHECK(uhn_ssim_check(28, 28) == NULL);
    CHECK_CONTAINS(uhn_ssim_check(10, 28), "an image of at least 11 x 11 pixels");
    CHECK_CONTAINS(uhn_ssim_check(28, 10), "an image of at least 11 x 11 pixels");
    free(x), free(y), free(work);
}

/* Three trials: A (4 queries), B (2) and C (2), worked out by hand. */
typedef struct q_case {
    int trial;
    double sq;
    double dssim;
    uhn_outcome o;
} q_case;

static const q_case cases[] = {
    {0, 10.0, 0.1, UHN_OUTCOME_CORRECT}, {0, 20.0, 0.2, UHN_OUTCOME_CORRECT},
    {0, 80.0, 0.5, UHN_OUTCOME_WRONG},   {0, 90.0, 0.6, UHN_OUTCOME_METASTABLE},
    {1, 5.0, 0.0, UHN_OUTCOME_CORRECT},  {1, 15.0, 0.2, UHN_OUTCOME_CORRECT},
    {2, 100.0, 0.7, UHN_OUTCOME_WRONG},  {2, 200.0, 0.9, UHN_OUTCOME_METASTABLE},
};
enum { NCASES = (int)(sizeof cases / sizeof cases[0]), NTRIALS = 3 };

static uhn_query_metrics metrics_of(const q_case *c) {
    uhn_query_metrics m = {c->sq, c->sq / 784.0, c->dssim, c->o};
    return m;
}

static void check_point(const uhn_point_stats *st, const char *how) {
    check_context("point stats (%s)", how);
    CHECK_INT(3, st->trials);
    CHECK_INT(8, st->queries);
    CHECK_INT(4, st->count[UHN_OUTCOME_CORRECT]);
    CHECK_INT(2, st->count[UHN_OUTCOME_WRONG]);
    CHECK_INT(2, st->count[UHN_OUTCOME_METASTABLE]);
    /* Fractions 0.5, 1, 0: mean 0.5, sample std sqrt((0 + 0.25 + 0.25) / 2) = 0.5. */
    CHECK_NEAR(0.5, st->frac_correct.mean, 1e-15);
    CHECK_NEAR(0.5, st->frac_correct.std, 1e-15);
    /* Trial means 50, 10, 150: mean 70, std sqrt((400 + 3600 + 6400) / 2). */
    CHECK_NEAR(70.0, st->sq_error.mean, 1e-12);
    CHECK_NEAR(sqrt(5200.0), st->sq_error.std, 1e-12);
    CHECK_NEAR(70.0 / 784.0, st->mse.mean, 1e-15);
    CHECK_NEAR(sqrt(5200.0) / 784.0, st->mse.std, 1e-14);
    /* 1 - SSIM trial means 0.35, 0.1, 0.8: mean 5/12, deviations -1/15, -19/60, 23/60. */
    CHECK_NEAR(1.25 / 3.0, st->dssim.mean, 1e-15);
    double d[3] = {0.35 - 1.25 / 3.0, 0.1 - 1.25 / 3.0, 0.8 - 1.25 / 3.0};
    CHECK_NEAR(sqrt((d[0] * d[0] + d[1] * d[1] + d[2] * d[2]) / 2.0), st->dssim.std, 1e-14);
    CHECK_NEAR(0.3547299442298794, st->dssim.std, 1e-12);
}

static void test_accumulators(MPI_Comm comm) {
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    check_context("accumulator layout");
    CHECK_INT(7, UHN_TRIAL_ACC_N);
    CHECK_INT(16, UHN_POINT_ACC_N);

    /* Serial: every query on this rank, merge calls for the split halves. */
    uhn_point_acc serial, half;
    uhn_point_acc_init(&serial);
    uhn_point_acc_init(&half);
    for (int t = 0; t < NTRIALS; ++t) {
        uhn_trial_acc a, b;
        uhn_trial_acc_init(&a);
        uhn_trial_acc_init(&b);
        for (int i = 0; i < NCASES; ++i) {
            uhn_query_metrics m = metrics_of(&cases[i]);
            if (cases[i].trial == t) uhn_trial_acc_add(i % 2 ? &a : &b, &m);
        }
        uhn_trial_acc_merge(&a, &b);
        if (t == 1) {
            uhn_point_acc p1;
            uhn_point_acc_init(&p1);
            uhn_point_acc_add_trial(&p1, &a);
            uhn_point_acc_merge(&half, &p1);
        } else {
            uhn_point_acc_add_trial(&serial, &a);
        }
    }
    uhn_trial_acc empty;
    uhn_trial_acc_init(&empty);
    uhn_point_acc_add_trial(&serial, &empty); /* ignored */
    uhn_point_acc_merge(&serial, &half);
    uhn_point_stats st;
    uhn_point_acc_finish(&serial, &st);
    check_point(&st, "merge calls");

    /* MPI: query i of a trial on rank i % size, trial t finished on rank t % size. */
    uhn_point_acc local;
    uhn_point_acc_init(&local);
    for (int t = 0; t < NTRIALS; ++t) {
        uhn_trial_acc part, whole;
        uhn_trial_acc_init(&part);
        for (int i = 0; i < NCASES; ++i) {
            uhn_query_metrics m = metrics_of(&cases[i]);
            if (cases[i].trial == t && i % size == rank) uhn_trial_acc_add(&part, &m);
        }
        MPI_Allreduce(&part, &whole, UHN_TRIAL_ACC_N, MPI_DOUBLE, MPI_SUM, comm);
        if (t % size == rank) uhn_point_acc_add_trial(&local, &whole);
    }
    uhn_point_acc total;
    MPI_Allreduce(&local, &total, UHN_POINT_ACC_N, MPI_DOUBLE, MPI_SUM, comm);
    uhn_point_acc_finish(&total, &st);
    check_point(&st, "MPI_Allreduce");

    check_context("one trial, no trial");
    uhn_point_acc one;
    uhn_point_acc_init(&one);
    uhn_trial_acc t1;
    uhn_trial_acc_init(&t1);
    uhn_query_metrics m = metrics_of(&cases[2]);
    uhn_trial_acc_add(&t1, &m);
    uhn_point_acc_add_trial(&one, &t1);
    uhn_point_acc_finish(&one, &st);
    CHECK_INT(1, st.trials);
    CHECK_NEAR(0.0, st.frac_correct.mean, 0.0);
    CHECK_NEAR(80.0, st.sq_error.mean, 0.0);
    CHECK_NEAR(0.0, st.sq_error.std, 0.0);
    CHECK_INT(1, st.count[UHN_OUTCOME_WRONG]);
    uhn_point_acc_init(&one);
    uhn_point_acc_finish(&one, &st);
    CHECK_INT(0, st.trials);
    CHECK_INT(0, st.queries);
    CHECK_NEAR(0.0, st.sq_error.mean, 0.0);
    /* Identical trials: no negative variance from rounding. */
    uhn_point_acc_init(&one);
    uhn_trial_acc_init(&t1);
    uhn_query_metrics m3 = {0.1, 0.1 / 784.0, 0.3, UHN_OUTCOME_CORRECT};
    uhn_trial_acc_add(&t1, &m3);
    for (int i = 0; i < 10; ++i) uhn_point_acc_add_trial(&one, &t1);
    uhn_point_acc_finish(&one, &st);
    CHECK_NEAR(0.1, st.sq_error.mean, 1e-15);
    CHECK(st.sq_error.std >= 0.0 && st.sq_error.std < 1e-7);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &check_rank_);
    test_errors_and_threshold();
    test_outcomes();
    test_ssim_closed_form();
    test_accumulators(MPI_COMM_WORLD);
    int rc = check_finish_mpi(MPI_COMM_WORLD, "test_metrics");
    MPI_Finalize();
    return rc;
}
