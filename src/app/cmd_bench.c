/*
 * `uhn bench`: throughput of the retrieval engine against the machine's own
 * limits, measured in the same run.
 *
 * A benchmark, never a test: it always succeeds when the engine runs, and it
 * prints what it measured next to the limits it measured (read bandwidth for
 * the single iterated query, which streams the bank once per step; SGEMM
 * GFLOP/s for the batched queries, whose score product is an SGEMM; the L1
 * element rate of a register-resident |x - q| loop for the similarities with
 * no BLAS form). With --limits-only it measures the limits alone, for
 * postprocess/bench_peers.py, which times real workloads and their numpy,
 * PyTorch and FAISS peers against them. The data
 * are drawn by global row index, so every rank count benchmarks the same bank.
 *
 * Timing discipline: the bank and every work buffer are allocated once and
 * touched before any timer starts (first touch of a fresh page costs several
 * microseconds), each case runs warm-up calls first, and each timed call starts
 * after a barrier and counts the slowest rank.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cblas.h>

#include "app/commands.h"
#include "uhn/uhn.h"

/* Independent random streams of the benchmark's synthetic data. */
enum { BENCH_STREAM_KEYS = 0x62656e31u, BENCH_STREAM_NOISE = 0x62656e32u };

#define BENCH_MAX_SIMS 16

typedef struct bench_opts {
    uhn_gidx n;        /* bank rows N */
    int64_t k;         /* key length K */
    int64_t batch;     /* B of the batched cases */
    int64_t ref_batch; /* B of the reference-kernel contrast */
    int steps;         /* T of the iterated query */
    int repeat;        /* timed calls per case (best and median reported) */
    int warmup;        /* untimed calls before each case */
    double beta;       /* NaN: 1/K */
    double noise;      /* queries = stored rows + uniform noise in [-noise, noise] */
    uint64_t seed;
    int quiet;
    int energy;      /* also compute E (one more scoring pass per recall) */
    int limits_only; /* measure the machine limits, run no engine case */
    const char *csv;
    const char *h5; /* --h5: the table as an HDF5 file (rank 0, atomic) */
    int nsims;
    const uhn_similarity *sims[BENCH_MAX_SIMS];
} bench_opts;

/* One line of the result table. */
typedef struct bench_row {
    char name[40];
    int64_t B;
    int T;
    double best, median;    /* seconds per call, slowest rank */
    double work;            /* units of `unit` (x 1e9) per call */
    const char *unit;       /* "GB/s", "GFLOP/s", "Gop/s" */
    double limit;           /* machine limit in the same unit, 0 = none */
    double target;          /* percent of the limit aimed at, 0 = none */
    double compute, reduce; /* engine phase timers per call, max over ranks */
    char check[48];         /* a sanity figure about the answer */
} bench_row;

enum { BENCH_MAX_ROWS = BENCH_MAX_SIMS + 4 };

/* The machine limits measured in the run. */
typedef struct bench_limits {
    double bw_best, bw_median, bw_checksum; /* aggregate read bandwidth, GB/s */
    double gf_best[2], gf_median[2];        /* aggregate SGEMM GFLOP/s per layout */
    double gf;                              /* the better layout's best: the limit */
    int64_t gemm_rows;                      /* n_local of rank 0 */
    double l1_best[2], l1_median[2];        /* aggregate G elements/s of acc += |x - q| */
    double l1;                              /* the better variant's best: the limit */
    double l1_checksum;
} bench_limits;

static void usage(void) {
    printf("usage: mpirun -n R uhn bench [options]\n\n"
           "Measures the engine on a synthetic bank (uniform [0,1] keys, auto-association)\n"
           "against the read bandwidth and SGEMM rate measured in the same run. A benchmark:\n"
           "the exit status says whether it ran, never whether a target was met.\n\n"
           "  --n N              bank rows (default 60000)\n"
           "  --k K              key length (default 784)\n"
           "  --batch B          queries of the batched one-step cases (default 1000)\n"
           "  --ref-batch B      queries of the reference-kernel contrast (default 16)\n"
           "  --steps T          steps of the single iterated query (default 20)\n"
           "  --repeat R         timed calls per case; best and median reported (default 3)\n"
           "  --warmup W         untimed calls before each case (default 1)\n"
           "  --similarity LIST  comma-separated similarities of the batched cases\n"
           "                     (default dot,euclidean,manhattan)\n"
           "  --beta B           softmax inverse temperature (default 1/K: no saturation)\n"
           "  --noise E          queries = stored rows + uniform noise in [-E, E] (default 0.05)\n"
           "  --seed S           random seed (default 1)\n"
           "  --energy           also compute the energy E, as `uhn recall` does by default\n"
           "                     (one more scoring pass per recall; off: rates count the\n"
           "                     retrieval work only)\n"
           "  --limits-only      measure the machine limits (read bandwidth, SGEMM, L1\n"
           "                     element rate) and stop: the limits of a run whose\n"
           "                     workloads are timed elsewhere (postprocess/bench_peers.py)\n"
           "  --csv FILE         also write the table as CSV (rank 0)\n"
           "  --h5 FILE          also write the table as HDF5 (rank 0, atomically): one\n"
           "                     row per case along the dimension scale `case`, the\n"
           "                     environment and machine limits as attributes\n"
           "  --quiet            no progress lines on standard error\n");
}

/* ---------------------------------------------------------------- options */

static int parse_i64(uhn_ctx *ctx, const char *opt, const char *s, int64_t lo, int64_t *out) {
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end != '\0' || v < lo)
        return uhn_fail(ctx, UHN_EINPUT, "option %s: '%s' is not an integer >= %lld", opt, s,
                        (long long)lo);
    *out = v;
    return UHN_OK;
}

static int parse_int(uhn_ctx *ctx, const char *opt, const char *s, int lo, int *out) {
    int64_t v = 0;
    UHN_CALL(parse_i64(ctx, opt, s, lo, &v));
    if (v > 1000000000) return uhn_fail(ctx, UHN_EINPUT, "option %s: '%s' is too large", opt, s);
    *out = (int)v;
    return UHN_OK;
}

static int parse_pos_double(uhn_ctx *ctx, const char *opt, const char *s, int allow_zero,
                            double *out) {
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end != '\0' || !isfinite(v) || v < 0 || (!allow_zero && v == 0))
        return uhn_fail(ctx, UHN_EINPUT, "option %s: '%s' is not a %s number", opt, s,
                        allow_zero ? "non-negative" : "positive");
    *out = v;
    return UHN_OK;
}

static int parse_sims(uhn_ctx *ctx, const char *list, bench_opts *o) {
    char buf[512];
    if (strlen(list) >= sizeof buf)
        return uhn_fail(ctx, UHN_EINPUT, "option --similarity: list too long");
    strcpy(buf, list);
    o->nsims = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        const uhn_similarity *sim = uhn_similarity_find(tok);
        if (!sim) return uhn_fail(ctx, UHN_EINPUT, "option --similarity: unknown name '%s'", tok);
        if (o->nsims == BENCH_MAX_SIMS)
            return uhn_fail(ctx, UHN_EINPUT, "option --similarity: at most %d names",
                            BENCH_MAX_SIMS);
        o->sims[o->nsims++] = sim;
    }
    if (o->nsims == 0) return uhn_fail(ctx, UHN_EINPUT, "option --similarity: empty list");
    return UHN_OK;
}

/* Returns UHN_OK, UHN_EINPUT, or -1 when --help was printed. Not collective. */
static int parse_opts(uhn_ctx *ctx, int argc, char **argv, bench_opts *o) {
    *o = (bench_opts){.n = 60000,
                      .k = 784,
                      .batch = 1000,
                      .ref_batch = 16,
                      .steps = 20,
                      .repeat = 3,
                      .warmup = 1,
                      .beta = NAN,
                      .noise = 0.05,
                      .seed = 1};
    UHN_CALL(parse_sims(ctx, "dot,euclidean,manhattan", o));
    for (int i = 1; i < argc; ++i) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            if (ctx->rank == 0) usage();
            return -1;
        }
        if (!strcmp(a, "--quiet")) {
            o->quiet = 1;
            continue;
        }
        if (!strcmp(a, "--energy")) {
            o->energy = 1;
            continue;
        }
        if (!strcmp(a, "--limits-only")) {
            o->limits_only = 1;
            continue;
        }
        if (i + 1 >= argc)
            return uhn_fail(ctx, UHN_EINPUT, "unknown option or missing value: %s", a);
        const char *v = argv[++i];
        int64_t seed = 0;
        if (!strcmp(a, "--n"))
            UHN_CALL(parse_i64(ctx, a, v, 1, &o->n));
        else if (!strcmp(a, "--k"))
            UHN_CALL(parse_i64(ctx, a, v, 1, &o->k));
        else if (!strcmp(a, "--batch"))
            UHN_CALL(parse_i64(ctx, a, v, 1, &o->batch));
        else if (!strcmp(a, "--ref-batch"))
            UHN_CALL(parse_i64(ctx, a, v, 0, &o->ref_batch));
        else if (!strcmp(a, "--steps"))
            UHN_CALL(parse_int(ctx, a, v, 1, &o->steps));
        else if (!strcmp(a, "--repeat"))
            UHN_CALL(parse_int(ctx, a, v, 1, &o->repeat));
        else if (!strcmp(a, "--warmup"))
            UHN_CALL(parse_int(ctx, a, v, 0, &o->warmup));
        else if (!strcmp(a, "--beta"))
            UHN_CALL(parse_pos_double(ctx, a, v, 0, &o->beta));
        else if (!strcmp(a, "--noise"))
            UHN_CALL(parse_pos_double(ctx, a, v, 1, &o->noise));
        else if (!strcmp(a, "--similarity"))
            UHN_CALL(parse_sims(ctx, v, o));
        else if (!strcmp(a, "--csv"))
            o->csv = v;
        else if (!strcmp(a, "--h5"))
            o->h5 = v;
        else if (!strcmp(a, "--seed")) {
            UHN_CALL(parse_i64(ctx, a, v, 0, &seed));
            o->seed = (uint64_t)seed;
        } else
            return uhn_fail(ctx, UHN_EINPUT, "unknown option %s (see uhn bench --help)", a);
    }
    if (isnan(o->beta)) o->beta = 1.0 / (double)o->k;
    return UHN_OK;
}

/* ------------------------------------------------------------ environment */

static const char *env_or(const char *name) {
    const char *v = getenv(name);
    return v ? v : "(unset)";
}

/* The value of the first "key : value" line of /proc/cpuinfo whose key is `key`. */
static void cpuinfo_field(const char *key, char *out, size_t len) {
    snprintf(out, len, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    size_t kl = strlen(key);
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, kl) != 0) continue;
        char *c = strchr(line, ':');
        if (!c || (line[kl] != ' ' && line[kl] != '\t')) continue;
        for (++c; *c == ' '; ++c) {
        }
        c[strcspn(c, "\n")] = '\0';
        snprintf(out, len, "%s", c);
        break;
    }
    fclose(f);
}

static void first_line_of(const char *path, char *out, size_t len) {
    snprintf(out, len, "unknown");
    FILE *f = fopen(path, "r");
    if (!f) return;
    if (fgets(out, (int)len, f)) out[strcspn(out, "\n")] = '\0';
    fclose(f);
}

/* Where the run happened (filled on rank 0): the lines print_env prints,
 * kept for the attributes of --h5. */
typedef struct bench_env {
    char model[256], family[32], cmodel[32], host[256], thp[128], load[128], date[64];
    char mpiv[MPI_MAX_LIBRARY_VERSION_STRING], cpus[256], openblas[256];
    long online;
} bench_env;

/* Prints where the run happened, from rank 0, and keeps it in *env.
 * Collective (gathers the CPU affinity of every rank: two ranks pinned to one
 * core halve every figure). */
static int print_env(uhn_ctx *ctx, const bench_opts *o, bench_env *env) {
    int ncpu = ctx->cpus; /* as launched: pinned threads see one CPU each */
    int *all = ctx->rank == 0 ? malloc(sizeof(int) * (size_t)ctx->size) : NULL;
    int st = ctx->rank == 0 && !all ? uhn_fail(ctx, UHN_ENOMEM, "out of memory") : UHN_OK;
    UHN_CALL(uhn_agree(ctx, st));
    UHN_MPI(ctx, MPI_Gather(&ncpu, 1, MPI_INT, all, 1, MPI_INT, 0, ctx->comm));
    if (ctx->rank == 0) {
        char *model = env->model, *family = env->family, *cmodel = env->cmodel, *host = env->host,
             *thp = env->thp, *load = env->load, *mpiv = env->mpiv, *date = env->date;
        int mlen = 0;
        snprintf(host, sizeof env->host, "unknown");
        cpuinfo_field("model name", model, sizeof env->model);
        cpuinfo_field("cpu family", family, sizeof env->family);
        cpuinfo_field("model", cmodel, sizeof env->cmodel);
        gethostname(host, sizeof env->host - 1);
        first_line_of("/sys/kernel/mm/transparent_hugepage/enabled", thp, sizeof env->thp);
        first_line_of("/proc/loadavg", load, sizeof env->load);
        MPI_Get_library_version(mpiv, &mlen);
        mpiv[strcspn(mpiv, "\n,")] = '\0';
        time_t now = time(NULL);
        strftime(date, sizeof env->date, "%Y-%m-%d %H:%M:%S %Z", localtime(&now));
        env->online = sysconf(_SC_NPROCESSORS_ONLN);
        size_t at = 0;
        for (int r = 0; r < ctx->size && r < 16 && at < sizeof env->cpus; ++r)
            at += (size_t)snprintf(env->cpus + at, sizeof env->cpus - at, "%s%d", r ? " " : "",
                                   all[r]);
        if (ctx->size > 16 && at < sizeof env->cpus)
            snprintf(env->cpus + at, sizeof env->cpus - at, " ...");
        snprintf(env->openblas, sizeof env->openblas, "%s; core %s; %d thread(s)",
                 openblas_get_config(), openblas_get_corename(), openblas_get_num_threads());

        printf("uhn bench\n");
        printf("  uhn                  %s (commit %s, %s, %s)\n", UHN_VERSION_STRING,
               UHN_GIT_COMMIT, UHN_COMPILER, UHN_BUILD_TYPE);
        printf("  date, host           %s, %s\n", date, host);
        printf("  cpu                  %s (family %s, model %s), %ld online\n", model, family,
               cmodel, env->online);
        printf("  mpi                  %s\n", mpiv);
        printf("  ranks x threads      %d x %d (OpenMP threads per rank)\n", ctx->size,
               ctx->nthreads);
        printf("  cpus allowed/rank    %s\n", env->cpus);
        printf("  threads pinned       %s on %d of %d rank(s)\n",
               ctx->nthreads > 1 ? "one per cpu by uhn" : "n/a (1 thread)", ctx->pinned, ctx->size);
        printf("  OMP_NUM_THREADS      %s\n", env_or("OMP_NUM_THREADS"));
        printf("  OPENBLAS_NUM_THREADS %s\n", env_or("OPENBLAS_NUM_THREADS"));
        printf("  OPENBLAS_CORETYPE    %s\n", env_or("OPENBLAS_CORETYPE"));
        printf("  openblas             %s\n", env->openblas);
        printf("  transparent hugepage %s\n", thp);
        printf("  load average         %s (other work on the node skews every figure)\n", load);
        printf("  problem              N = %lld, K = %lld, batch = %lld, steps = %d, beta = %.6g, "
               "noise = %g, seed = %llu, energy %s\n",
               (long long)o->n, (long long)o->k, (long long)o->batch, o->steps, o->beta, o->noise,
               (unsigned long long)o->seed, o->energy ? "on" : "off");
        printf("  timing               %d warm-up + %d timed call(s) per case; slowest rank; "
               "best and median\n\n",
               o->warmup, o->repeat);
        fflush(stdout);
        if (getenv("OPENBLAS_CORETYPE") && getenv("OPENBLAS_CORETYPE")[0])
            fprintf(stderr,
                    "uhn bench: note: OPENBLAS_CORETYPE=%s forces OpenBLAS kernels; the "
                    "SGEMM limit below is that core's, not the machine's\n",
                    getenv("OPENBLAS_CORETYPE"));
    }
    free(all);
    return UHN_OK;
}

static void progress(const uhn_ctx *ctx, const bench_opts *o, const char *what) {
    if (ctx->rank == 0 && !o->quiet) {
        fprintf(stderr, "uhn bench: %s\n", what);
        fflush(stderr);
    }
}

/* ---------------------------------------------------------------- data */

/* Key k of global row g: a pure function of (seed, g, k), whatever the ranks. */
static float key_at(uint64_t seed, uhn_gidx g, int64_t k) {
    return (float)uhn_rng_uniform(seed, BENCH_STREAM_KEYS, (uint64_t)g, (uint32_t)k);
}

static int make_bank(uhn_ctx *ctx, const bench_opts *o, uhn_bank **out) {
    *out = NULL;
    uhn_bank *bank = NULL;
    int st = uhn_bank_create(ctx, o->n, o->k, 0, o->k, &bank);
    UHN_CALL(uhn_agree(ctx, st));
    const int64_t K = o->k;
    /* Filled by the threads that will stream it, page by page (first touch). */
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < bank->n_local; ++i)
        for (int64_t k = 0; k < K; ++k) bank->keys[i * K + k] = key_at(o->seed, bank->row0 + i, k);
    st = uhn_bank_commit(bank, "bench:keys", "bench:keys");
    if (st != UHN_OK) {
        uhn_bank_destroy(bank);
        return st;
    }
    *out = bank;
    return UHN_OK;
}

/* The stored row a query b of B is drawn from: spread over the whole bank. */
static uhn_gidx query_source(const bench_opts *o, int64_t b, int64_t B) {
    return (uhn_gidx)(((double)b + 0.5) * (double)o->n / (double)B);
}

/* B queries, replicated: every rank draws the same numbers. */
static void make_queries(const bench_opts *o, int64_t B, float *q) {
    const int64_t K = o->k;
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < B; ++b) {
        uhn_gidx g = query_source(o, b, B);
        for (int64_t k = 0; k < K; ++k) {
            double u = uhn_rng_uniform(o->seed, BENCH_STREAM_NOISE, (uint64_t)b, (uint32_t)k);
            q[b * K + k] = key_at(o->seed, g, k) + (float)(o->noise * (2.0 * u - 1.0));
        }
    }
}

/* ------------------------------------------------------------ timing help */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Best and median of t[0..n) (t is sorted in place). */
static void best_median(double *t, int n, double *best, double *median) {
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    *best = t[0];
    *median = n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

/* Seconds since a barrier, on the slowest rank. Collective. */
static int slowest(uhn_ctx *ctx, double t_local, double *t) {
    UHN_MPI(ctx, MPI_Allreduce(&t_local, t, 1, MPI_DOUBLE, MPI_MAX, ctx->comm));
    return UHN_OK;
}

/* ------------------------------------------------------- machine limits */

/* Sum of x[0..n), vectorisable: 64 independent partial sums hide the add
 * latency so that the loop is bound by memory, not by the adder. */
static double stream_sum(const float *x, int64_t n) {
    float acc[64] = {0};
    int64_t i = 0;
    for (; i + 64 <= n; i += 64)
        for (int j = 0; j < 64; ++j) acc[j] += x[i + j];
    double s = 0;
    for (int j = 0; j < 64; ++j) s += acc[j];
    for (; i < n; ++i) s += x[i];
    return s;
}

/* Aggregate read bandwidth in GB/s: every rank, with all its threads, sums
 * its share of the bank at the same time. Collective. */
static int measure_bandwidth(uhn_ctx *ctx, const bench_opts *o, const uhn_bank *bank,
                             double *gbs_best, double *gbs_median, double *checksum) {
    const int64_t len = bank->n_local * bank->K;
    /* A pass takes milliseconds: many, so that the best one found a quiet machine. */
    const int reps = o->repeat > 20 ? (o->repeat < 64 ? o->repeat : 64) : 20;
    double t[64];
    double sink = 0;
    for (int r = -1; r < reps; ++r) { /* r = -1: warm-up */
        double s = 0;
        UHN_MPI(ctx, MPI_Barrier(ctx->comm));
        double t0 = uhn_wtime();
#pragma omp parallel reduction(+ : s)
        {
            int nt = omp_get_num_threads(), id = omp_get_thread_num();
            int64_t chunk = (len / nt + 63) / 64 * 64;
            int64_t a = chunk * id < len ? chunk * id : len;
            int64_t b = a + chunk < len ? a + chunk : len;
            if (b > a) s += stream_sum(bank->keys + a, b - a);
        }
        double dt = uhn_wtime() - t0;
        sink += s;
        if (r >= 0) UHN_CALL(slowest(ctx, dt, &t[r]));
    }
    double best, median;
    best_median(t, reps, &best, &median);
    double bytes = (double)bank->n_global * (double)bank->K * sizeof(float);
    *gbs_best = bytes / best / 1e9;
    *gbs_median = bytes / median / 1e9;
    *checksum = sink;
    return UHN_OK;
}

/* The L1 element rate: how many terms of a Manhattan distance, acc += |x - q|,
 * a core retires per second when nothing but the arithmetic limits it. Eight
 * memory vectors stay in registers and a new broadcast query value is loaded
 * from L1 every iteration (so nothing can be hoisted), eight independent
 * accumulators hide the add latency. Variant 0 subtracts on the FP-add pipes (two FP adds
 * per element: the bound of two FP-add pipes); variant 1 forms x*1 - q as an
 * FMA (fmsub, on the FMA pipes under -ffp-contract=fast), leaving the add
 * pipes only the accumulation. An engine's Manhattan kernel, which must also
 * load its rows, can at best approach the better of the two. */
#ifdef __AVX512F__
#define BENCH_VLEN 16
#else
#define BENCH_VLEN 8
#endif
typedef float bench_vf __attribute__((vector_size(4 * BENCH_VLEN)));
typedef uint32_t bench_vu __attribute__((vector_size(4 * BENCH_VLEN)));
enum { BENCH_L1_REGS = 8, BENCH_L1_QS = 64 };

/* Runs `iters` iterations of one variant; returns the sum of the accumulators
 * (to keep the loop alive). Not collective. */
static double l1_loop(int variant, int64_t iters, const float *qs, const float *ones) {
    /* Queries and ones pre-broadcast, one vector load each per iteration: a
     * splat inside the loop tempts the compiler into scalar code. */
    bench_vf qv[BENCH_L1_QS], ov[BENCH_L1_QS], x[BENCH_L1_REGS], acc[BENCH_L1_REGS];
    const bench_vu mask = (bench_vu){0} + 0x7fffffffu;
    for (int i = 0; i < BENCH_L1_QS; ++i)
        for (int l = 0; l < BENCH_VLEN; ++l) {
            qv[i][l] = qs[i];
            ov[i][l] = ones[i];
        }
    /* Distinct lanes from memory: splats would let the compiler go scalar. */
    for (int j = 0; j < BENCH_L1_REGS; ++j) {
        for (int l = 0; l < BENCH_VLEN; ++l) x[j][l] = qs[(j * BENCH_VLEN + l) % BENCH_L1_QS];
        acc[j] = (bench_vf){0};
    }
    if (variant == 0) {
        for (int64_t i = 0; i < iters; ++i) {
            const bench_vf q = qv[i & (BENCH_L1_QS - 1)];
            for (int j = 0; j < BENCH_L1_REGS; ++j)
                acc[j] += (bench_vf)((bench_vu)(x[j] - q) & mask);
        }
    } else {
        /* ones[] holds 1.0 the compiler cannot see: x * 1 stays in the loop,
         * fused with the subtraction. */
        for (int64_t i = 0; i < iters; ++i) {
            const bench_vf q = qv[i & (BENCH_L1_QS - 1)], one = ov[i & (BENCH_L1_QS - 1)];
            for (int j = 0; j < BENCH_L1_REGS; ++j)
                acc[j] += (bench_vf)((bench_vu)(x[j] * one - q) & mask);
        }
    }
    double s = 0;
    for (int j = 0; j < BENCH_L1_REGS; ++j)
        for (int l = 0; l < BENCH_VLEN; ++l) s += acc[j][l];
    return s;
}

/* Aggregate L1 element rate in G elements/s of both variants: every thread
 * of every rank runs the loop at the same time. Collective. */
static int measure_l1_rate(uhn_ctx *ctx, const bench_opts *o, double best[2], double median[2],
                           double *checksum) {
    /* Runtime 1.0s the compiler cannot fold away (x * 1 would become x). */
    volatile float one_v = 1.0f;
    float qs[BENCH_L1_QS], ones[BENCH_L1_QS];
    for (int i = 0; i < BENCH_L1_QS; ++i) {
        qs[i] = (float)i / BENCH_L1_QS;
        ones[i] = one_v;
    }
    const int64_t iters = (int64_t)1 << 21; /* about 5 ms a thread */
    const int reps = o->repeat > 10 ? (o->repeat < 64 ? o->repeat : 64) : 10;
    double sink = 0;
    int nt = 1, nt_all = 1;
#pragma omp parallel
#pragma omp single
    nt = omp_get_num_threads();
    UHN_MPI(ctx, MPI_Allreduce(&nt, &nt_all, 1, MPI_INT, MPI_SUM, ctx->comm));
    const double elems = (double)iters * BENCH_L1_REGS * BENCH_VLEN * nt_all;
    for (int variant = 0; variant < 2; ++variant) {
        double t[64];
        for (int r = -1; r < reps; ++r) { /* r = -1: warm-up (clock ramp) */
            double s = 0;
            UHN_MPI(ctx, MPI_Barrier(ctx->comm));
            double t0 = uhn_wtime();
#pragma omp parallel num_threads(nt) reduction(+ : s)
            s += l1_loop(variant, iters, qs, ones);
            double dt = uhn_wtime() - t0;
            sink += s;
            if (r >= 0) UHN_CALL(slowest(ctx, dt, &t[r]));
        }
        double b, m;
        best_median(t, reps, &b, &m);
        best[variant] = elems / b / 1e9;
        median[variant] = elems / m / 1e9;
    }
    *checksum = sink;
    return UHN_OK;
}

/* Aggregate SGEMM GFLOP/s on each rank's share of the batched score product,
 * with OpenBLAS on this rank's threads, in both layouts an engine may choose:
 * layout 0 S (n_local x B) = X Q^T, layout 1 S^T (B x n_local) = Q X^T (OpenBLAS
 * is not equally fast on the two). `scratch` holds n_local x B floats, `q`
 * B x K. gf_best[l] and gf_median[l] are per layout. Collective. */
static int measure_sgemm(uhn_ctx *ctx, const bench_opts *o, const uhn_bank *bank, const float *q,
                         int64_t B, float *scratch, double gf_best[2], double gf_median[2]) {
    const int n = (int)bank->n_local, K = (int)bank->K, nb = (int)B;
    const int old_threads = openblas_get_num_threads();
    openblas_set_num_threads(ctx->nthreads);
    const int reps = o->repeat < 64 ? o->repeat : 64;
    const double flops = 2.0 * (double)bank->n_global * (double)B * (double)K;
    for (int layout = 0; layout < 2; ++layout) {
        double t[64];
        for (int r = -1; r < reps; ++r) { /* r = -1: warm-up (OpenBLAS buffers, thread pool) */
            UHN_MPI(ctx, MPI_Barrier(ctx->comm));
            double t0 = uhn_wtime();
            if (n > 0 && layout == 0)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, nb, K, 1.0f, bank->keys, K,
                            q, K, 0.0f, scratch, nb);
            else if (n > 0)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nb, n, K, 1.0f, q, K,
                            bank->keys, K, 0.0f, scratch, n);
            double dt = uhn_wtime() - t0;
            if (r >= 0) UHN_CALL(slowest(ctx, dt, &t[r]));
        }
        double best, median;
        best_median(t, reps, &best, &median);
        gf_best[layout] = flops / best / 1e9;
        gf_median[layout] = flops / median / 1e9;
    }
    openblas_set_num_threads(old_threads);
    return UHN_OK;
}

/* ---------------------------------------------------------- engine cases */

/* Times o->repeat calls of uhn_recall after o->warmup untimed ones and fills
 * the timing fields of row. Collective. */
static int time_recall(uhn_ctx *ctx, const bench_opts *o, const uhn_bank *bank, const uhn_params *p,
                       const float *q, int64_t B, int warmup, uhn_result *res, bench_row *row) {
    int st = uhn_params_check(ctx, p, bank);
    UHN_CALL(uhn_agree(ctx, st));
    st = uhn_queries_check(ctx, p, q, B, bank->K, "bench:queries");
    UHN_CALL(uhn_agree(ctx, st));
    for (int r = 0; r < warmup; ++r) UHN_CALL(uhn_recall(bank, p, q, B, NULL, 0, res));
    ctx->timers = (uhn_timers){0};
    double t[64];
    const int reps = o->repeat < 64 ? o->repeat : 64;
    for (int r = 0; r < reps; ++r) {
        UHN_MPI(ctx, MPI_Barrier(ctx->comm));
        double t0 = uhn_wtime();
        UHN_CALL(uhn_recall(bank, p, q, B, NULL, 0, res));
        UHN_CALL(slowest(ctx, uhn_wtime() - t0, &t[r]));
    }
    double ph[2] = {ctx->timers.compute / reps, ctx->timers.reduce / reps}, phmax[2];
    UHN_MPI(ctx, MPI_Allreduce(ph, phmax, 2, MPI_DOUBLE, MPI_MAX, ctx->comm));
    row->compute = phmax[0];
    row->reduce = phmax[1];
    best_median(t, reps, &row->best, &row->median);
    row->B = B;
    row->T = p->steps;
    return UHN_OK;
}

/* Percentage of queries whose largest weight sits on the row they came from. */
static double hit_percent(const bench_opts *o, const uhn_result *res) {
    int64_t hits = 0;
    for (int64_t b = 0; b < res->B; ++b) hits += res->index[b] == query_source(o, b, res->B);
    return 100.0 * (double)hits / (double)res->B;
}

/* ---------------------------------------------------------------- output */

static double pct(double rate, double limit) {
    return limit > 0 ? 100.0 * rate / limit : NAN;
}

static void print_limits(const bench_opts *o, const bench_limits *L) {
    char shape[64];
    printf("machine limits (measured in this run, all ranks at once; aggregate over ranks)\n");
    printf("  %-34s best %8.1f GB/s     median %8.1f  (checksum %.6g)\n",
           "read bandwidth: sum of bank share", L->bw_best, L->bw_median, L->bw_checksum);
    snprintf(shape, sizeof shape, "%lld x %lld x %lld", (long long)L->gemm_rows,
             (long long)o->batch, (long long)o->k);
    printf("  %-34s best %8.1f GFLOP/s  median %8.1f\n", "SGEMM S = X Q^T, rank 0 m x n x k",
           L->gf_best[0], L->gf_median[0]);
    printf("  %-34s best %8.1f GFLOP/s  median %8.1f\n", "SGEMM S^T = Q X^T", L->gf_best[1],
           L->gf_median[1]);
    printf("  %-34s      %8.1f GFLOP/s (the better layout), per rank %s\n", "SGEMM limit used",
           L->gf, shape);
    printf("  %-34s best %8.1f Gelem/s  median %8.1f  (two FP adds per element)\n",
           "L1 element rate: sub, abs, add", L->l1_best[0], L->l1_median[0]);
    printf("  %-34s best %8.1f Gelem/s  median %8.1f  (checksum %.6g)\n",
           "L1 element rate: fmsub, abs, add", L->l1_best[1], L->l1_median[1], L->l1_checksum);
    printf("  %-34s      %8.1f Gelem/s (the better variant; %d-float vectors)\n\n",
           "L1 element rate limit used", L->l1, BENCH_VLEN);
    fflush(stdout);
}

static void print_table(const bench_opts *o, const bench_row *rows, int nrows,
                        double ref_fast_speedup) {
    printf("%-26s %5s %3s %10s %10s %10s %9s %9s %-7s %7s %6s %9s %9s  %s\n", "case", "B", "T",
           "best[s]", "median[s]", "step[ms]", "rate", "rate med", "unit", "%limit", "target",
           "compute[s]", "reduce[s]", "check");
    for (int i = 0; i < nrows; ++i) {
        const bench_row *r = &rows[i];
        double rb = r->work / r->best / 1e9, rm = r->work / r->median / 1e9;
        char target[16] = "-";
        if (r->target > 0) snprintf(target, sizeof target, "%.0f%%", r->target);
        printf("%-26s %5lld %3d %10.5f %10.5f %10.3f %9.1f %9.1f %-7s %6.1f%% %6s %9.5f %9.5f  "
               "%s\n",
               r->name, (long long)r->B, r->T, r->best, r->median, 1e3 * r->best / r->T, rb, rm,
               r->unit, pct(rb, r->limit), target, r->compute, r->reduce, r->check);
    }
    printf("\nrates: iterated query = N*K*4 bytes per step (the bank read once per step), %% of "
           "read bandwidth;\n"
           "       dot/euclidean/cosine = 4*N*B*K flops (score product + projection), %% of "
           "SGEMM;\n"
           "       other similarities = N*B*K elements of the distance (projection not "
           "counted), %% of the L1\n"
           "       element rate. compute/reduce: engine phase timers per call, max over "
           "ranks.\n");
    if (ref_fast_speedup > 0)
        printf("reference kernel (UHN_KERNEL_REF, double-precision loops): the fast kernel is "
               "%.1fx faster on the same %lld queries.\n",
               ref_fast_speedup, (long long)o->ref_batch);
    fflush(stdout);
}

static int write_csv(uhn_ctx *ctx, const bench_opts *o, const bench_limits *L,
                     const bench_row *rows, int nrows) {
    FILE *f = fopen(o->csv, "w");
    if (!f) return uhn_fail(ctx, UHN_EIO, "cannot write %s: %s", o->csv, strerror(errno));
    fprintf(f, "case,ranks,threads,N,K,B,T,best_s,median_s,rate_best,rate_median,unit,limit,"
               "pct_limit,target_pct,compute_s,reduce_s,check\n");
    fprintf(f, "read_bandwidth,%d,%d,%lld,%lld,,,,,%.6g,,GB/s,,,,,,\n", ctx->size, ctx->nthreads,
            (long long)o->n, (long long)o->k, L->bw_best);
    fprintf(f, "sgemm,%d,%d,%lld,%lld,%lld,,,,%.6g,,GFLOP/s,,,,,,\n", ctx->size, ctx->nthreads,
            (long long)o->n, (long long)o->k, (long long)o->batch, L->gf);
    static const char *l1_case[2] = {"l1_rate_sub", "l1_rate_fmsub"};
    for (int v = 0; v < 2; ++v)
        fprintf(f, "%s,%d,%d,,,,,,,%.6g,%.6g,Gelem/s,,,,,,\n", l1_case[v], ctx->size, ctx->nthreads,
                L->l1_best[v], L->l1_median[v]);
    fprintf(f, "l1_rate,%d,%d,,,,,,,%.6g,,Gelem/s,,,,,,\n", ctx->size, ctx->nthreads, L->l1);
    for (int i = 0; i < nrows; ++i) {
        const bench_row *r = &rows[i];
        double rb = r->work / r->best / 1e9, rm = r->work / r->median / 1e9;
        fprintf(f,
                "\"%s\",%d,%d,%lld,%lld,%lld,%d,%.6g,%.6g,%.6g,%.6g,%s,%.6g,%.4g,%.4g,%.6g,%.6g,\"%"
                "s\"\n",
                r->name, ctx->size, ctx->nthreads, (long long)o->n, (long long)o->k,
                (long long)r->B, r->T, r->best, r->median, rb, rm, r->unit, r->limit,
                pct(rb, r->limit), r->target, r->compute, r->reduce, r->check);
    }
    if (fclose(f) != 0) return uhn_fail(ctx, UHN_EIO, "cannot write %s", o->csv);
    return UHN_OK;
}

/* What --h5 records besides the table: where and how the run happened. */
typedef struct bench_record {
    const bench_env *env;
    int argc;
    char **argv;
    time_t start;
} bench_record;

/* The table's columns, one dataset each along `case`. */
typedef struct bench_column {
    const char *name;
    uhn_h5_type type;
    const void *data;
    const char *description, *units;
} bench_column;

static int write_h5_contents(uhn_ctx *ctx, const bench_opts *o, const bench_limits *L,
                             const bench_row *rows, int nrows, const bench_record *rec,
                             uhn_h5_writer *w) {
    int64_t C = nrows, *B = calloc((size_t)C + 1, sizeof *B);
    int32_t *T = calloc((size_t)C + 1, sizeof *T);
    double *col = calloc(11 * ((size_t)C + 1), sizeof *col);
    const char **names = calloc((size_t)C + 1, sizeof *names), **units = NULL, **checks = NULL;
    units = calloc((size_t)C + 1, sizeof *units);
    checks = calloc((size_t)C + 1, sizeof *checks);
    int st = B && T && col && names && units && checks
                 ? UHN_OK
                 : uhn_fail(ctx, UHN_ENOMEM, "out of memory writing %s", o->h5);
    double *best = col, *median = col + C, *step = col + 2 * C, *rb = col + 3 * C,
           *rm = col + 4 * C, *limit = col + 5 * C, *plim = col + 6 * C, *target = col + 7 * C,
           *comp = col + 8 * C, *red = col + 9 * C;
    for (int64_t i = 0; st == UHN_OK && i < C; ++i) {
        const bench_row *r = &rows[i];
        names[i] = r->name, units[i] = r->unit, checks[i] = r->check;
        B[i] = r->B, T[i] = r->T, best[i] = r->best, median[i] = r->median;
        step[i] = 1e3 * r->best / r->T;
        rb[i] = r->work / r->best / 1e9, rm[i] = r->work / r->median / 1e9;
        limit[i] = r->limit, plim[i] = pct(rb[i], r->limit), target[i] = r->target;
        comp[i] = r->compute, red[i] = r->reduce;
    }
    const char *rate_units = "10^9 of unit per second (unit: bytes (GB/s), flops (GFLOP/s) or "
                             "elements (Gelem/s))";
    const bench_column cols[] = {
        {"queries", UHN_H5_INT64, B, "B: queries per call", "queries"},
        {"steps", UHN_H5_INT32, T, "T: steps per call", "steps"},
        {"best", UHN_H5_FLOAT64, best, "best time per call (slowest rank)", "s"},
        {"median", UHN_H5_FLOAT64, median, "median time per call (slowest rank)", "s"},
        {"step_time", UHN_H5_FLOAT64, step, "best time per step", "ms"},
        {"rate", UHN_H5_FLOAT64, rb, "rate of the best call", rate_units},
        {"rate_median", UHN_H5_FLOAT64, rm, "rate of the median call", rate_units},
        {"limit", UHN_H5_FLOAT64, limit, "the machine limit of the case (0: none)", rate_units},
        {"percent_of_limit", UHN_H5_FLOAT64, plim, "rate / limit (NaN: no limit)", "percent"},
        {"target", UHN_H5_FLOAT64, target, "percent of the limit aimed at (0: none)", "percent"},
        {"compute", UHN_H5_FLOAT64, comp, "engine compute timer per call, max over ranks", "s"},
        {"reduce", UHN_H5_FLOAT64, red, "engine reduction timer per call, max over ranks", "s"},
    };
    if (st == UHN_OK)
        st = uhn_h5_write_strings(w, "case", C, names, "the benchmark case (a row of the table)",
                                  "1", NULL);
    if (st == UHN_OK) st = uhn_h5_make_scale(w, "case", "case");
    for (size_t i = 0; st == UHN_OK && i < sizeof cols / sizeof cols[0]; ++i) {
        uhn_h5_dataset d = {.name = cols[i].name,
                            .type = cols[i].type,
                            .rank = 1,
                            .dims = {C},
                            .data = cols[i].data,
                            .description = cols[i].description,
                            .units = cols[i].units,
                            .axes = "case"};
        st = uhn_h5_write_dataset(w, &d);
    }
    if (st == UHN_OK)
        st = uhn_h5_write_strings(w, "unit", C, units, "the unit of rate and limit", "1", "case");
    if (st == UHN_OK)
        st = uhn_h5_write_strings(w, "check", C, checks, "a sanity figure about the answer", "1",
                                  "case");
    if (st == UHN_OK) st = uhn_h5_label_axes(w, "/", NULL, 0);
    const bench_env *e = rec->env;
    char cpu[400];
    snprintf(cpu, sizeof cpu, "%s (family %s, model %s)", e->model, e->family, e->cmodel);
    const struct {
        const char *name, *value;
    } strings[] = {
        {"command", "bench"},
        {"uhn_version", UHN_VERSION_STRING},
        {"git_commit", UHN_GIT_COMMIT},
        {"compiler", UHN_COMPILER},
        {"build_type", UHN_BUILD_TYPE},
        {"date", e->date},
        {"host", e->host},
        {"cpu", cpu},
        {"mpi", e->mpiv},
        {"cpus_allowed_per_rank", e->cpus},
        {"OMP_NUM_THREADS", env_or("OMP_NUM_THREADS")},
        {"OPENBLAS_NUM_THREADS", env_or("OPENBLAS_NUM_THREADS")},
        {"OPENBLAS_CORETYPE", env_or("OPENBLAS_CORETYPE")},
        {"openblas", e->openblas},
        {"transparent_hugepage", e->thp},
        {"load_average", e->load},
        {"energy", o->energy ? "on" : "off"},
        {"limits_only", o->limits_only ? "on" : "off"},
    };
    for (size_t i = 0; st == UHN_OK && i < sizeof strings / sizeof strings[0]; ++i)
        st = uhn_h5_attr_string(w, "/", strings[i].name, strings[i].value);
    const struct {
        const char *name;
        int64_t value;
    } ints[] = {
        {"ranks", ctx->size},
        {"threads", ctx->nthreads},
        {"ranks_threads_pinned", ctx->pinned},
        {"cpus_online", e->online},
        {"n", o->n},
        {"k", o->k},
        {"batch", o->batch},
        {"ref_batch", o->ref_batch},
        {"n_steps", o->steps},
        {"repeat", o->repeat},
        {"warmup", o->warmup},
        {"seed", (int64_t)o->seed},
        {"gemm_rows_rank0", L->gemm_rows},
        {"l1_vector_floats", BENCH_VLEN},
    };
    for (size_t i = 0; st == UHN_OK && i < sizeof ints / sizeof ints[0]; ++i)
        st = uhn_h5_attr_int64(w, "/", ints[i].name, ints[i].value);
    const struct {
        const char *name;
        double value;
    } doubles[] = {
        {"beta", o->beta},
        {"noise", o->noise},
        {"read_bandwidth_GBps", L->bw_best},
        {"read_bandwidth_median_GBps", L->bw_median},
        {"read_bandwidth_checksum", L->bw_checksum},
        {"sgemm_GFLOPps", L->gf},
        {"sgemm_xq_GFLOPps", L->gf_best[0]},
        {"sgemm_xq_median_GFLOPps", L->gf_median[0]},
        {"sgemm_qx_GFLOPps", L->gf_best[1]},
        {"sgemm_qx_median_GFLOPps", L->gf_median[1]},
        {"l1_rate_Gelemps", L->l1},
        {"l1_rate_sub_Gelemps", L->l1_best[0]},
        {"l1_rate_sub_median_Gelemps", L->l1_median[0]},
        {"l1_rate_fmsub_Gelemps", L->l1_best[1]},
        {"l1_rate_fmsub_median_Gelemps", L->l1_median[1]},
        {"l1_rate_checksum", L->l1_checksum},
    };
    for (size_t i = 0; st == UHN_OK && i < sizeof doubles / sizeof doubles[0]; ++i)
        st = uhn_h5_attr_double(w, "/", doubles[i].name, doubles[i].value);
    if (st == UHN_OK)
        st = uhn_h5_write_provenance(w, "provenance", rec->start, rec->argc, rec->argv);
    free(B), free(T), free(col), free(names), free(units), free(checks);
    return st;
}

/* Writes the table as HDF5 (rank 0; not collective), atomically. */
static int write_h5(uhn_ctx *ctx, const bench_opts *o, const bench_limits *L, const bench_row *rows,
                    int nrows, const bench_record *rec) {
    uhn_h5_writer *w = NULL;
    UHN_CALL(uhn_h5_writer_create(ctx, o->h5, &w));
    int st = write_h5_contents(ctx, o, L, rows, nrows, rec, w);
    if (st != UHN_OK) {
        uhn_h5_writer_abort(w);
        return st;
    }
    return uhn_h5_writer_commit(w);
}

/* The CSV and HDF5 tables that were asked for (rank 0); agreed. Collective. */
static int write_tables(uhn_ctx *ctx, const bench_opts *o, const bench_limits *L,
                        const bench_row *rows, int nrows, const bench_record *rec) {
    int st = ctx->rank == 0 && o->csv ? write_csv(ctx, o, L, rows, nrows) : UHN_OK;
    if (st == UHN_OK && ctx->rank == 0 && o->h5) st = write_h5(ctx, o, L, rows, nrows, rec);
    return uhn_agree(ctx, st);
}

/* ------------------------------------------------------------------ run */

typedef struct bench_bufs {
    uhn_bank *bank;
    float *q1, *qb, *qr, *scratch;
    uhn_result *res1, *resb, *resr, *resf;
} bench_bufs;

static void free_bufs(bench_bufs *b) {
    uhn_result_destroy(b->res1);
    uhn_result_destroy(b->resb);
    uhn_result_destroy(b->resr);
    uhn_result_destroy(b->resf);
    uhn_free(b->q1);
    uhn_free(b->qb);
    uhn_free(b->qr);
    uhn_free(b->scratch);
    uhn_bank_destroy(b->bank);
}

/* Allocates and touches every buffer before any timer runs. Collective. */
static int setup(uhn_ctx *ctx, const bench_opts *o, bench_bufs *b) {
    const int64_t K = o->k, B = o->batch, R = o->ref_batch;
    progress(ctx, o, "building the bank");
    UHN_CALL(make_bank(ctx, o, &b->bank));
    const int64_t n = b->bank->n_local;
    int st = UHN_OK;
    b->q1 = uhn_alloc(sizeof(float) * (size_t)K);
    b->qb = uhn_alloc(sizeof(float) * (size_t)(B * K));
    b->qr = R > 0 ? uhn_alloc(sizeof(float) * (size_t)(R * K)) : NULL;
    b->scratch = n > 0 ? uhn_alloc(sizeof(float) * (size_t)(n * B)) : NULL;
    if (!b->q1 || !b->qb || (R > 0 && !b->qr) || (n > 0 && !b->scratch))
        st = uhn_fail(ctx, UHN_ENOMEM, "out of memory for the benchmark buffers");
    if (st == UHN_OK) {
        /* With energy storage always: the engine fills it where E is defined. */
        st = uhn_result_create(ctx, 1, K, o->steps, 1, &b->res1);
        if (st == UHN_OK) st = uhn_result_create(ctx, B, K, 1, 1, &b->resb);
        if (st == UHN_OK && R > 0) st = uhn_result_create(ctx, R, K, 1, 1, &b->resr);
        if (st == UHN_OK && R > 0) st = uhn_result_create(ctx, R, K, 1, 1, &b->resf);
    }
    UHN_CALL(uhn_agree(ctx, st));
    make_queries(o, 1, b->q1);
    make_queries(o, B, b->qb);
    if (R > 0) make_queries(o, R, b->qr);
    if (n > 0) memset(b->scratch, 0, sizeof(float) * (size_t)(n * B));
    return UHN_OK;
}

static int run_cases(uhn_ctx *ctx, const bench_opts *o, bench_bufs *b, const bench_record *rec) {
    const uhn_bank *bank = b->bank;
    const double N = (double)o->n, K = (double)o->k;
    bench_limits L = {.gemm_rows = bank->n_local};
    double speedup = 0;
    bench_row rows[BENCH_MAX_ROWS];
    int nrows = 0;
    memset(rows, 0, sizeof rows);

    progress(ctx, o, "measuring read bandwidth and SGEMM");
    UHN_CALL(measure_bandwidth(ctx, o, bank, &L.bw_best, &L.bw_median, &L.bw_checksum));
    UHN_CALL(measure_sgemm(ctx, o, bank, b->qb, o->batch, b->scratch, L.gf_best, L.gf_median));
    L.gf = fmax(L.gf_best[0], L.gf_best[1]);
    progress(ctx, o, "measuring the L1 element rate");
    UHN_CALL(measure_l1_rate(ctx, o, L.l1_best, L.l1_median, &L.l1_checksum));
    L.l1 = fmax(L.l1_best[0], L.l1_best[1]);
    if (ctx->rank == 0) print_limits(o, &L);
    if (o->limits_only) return write_tables(ctx, o, &L, rows, 0, rec);

    uhn_params p;
    uhn_params_default(&p);
    p.sep = uhn_separation_find("softmax");
    p.beta = o->beta;
    p.tol = 0;
    p.energy = o->energy;

    /* 1. One query, iterated: bound by streaming the bank once per step. */
    progress(ctx, o, "one query, iterated");
    bench_row *r = &rows[nrows++];
    p.sim = uhn_similarity_find("dot");
    p.steps = o->steps;
    UHN_CALL(time_recall(ctx, o, bank, &p, b->q1, 1, o->warmup, b->res1, r));
    snprintf(r->name, sizeof r->name, "iterate dot, 1 query");
    r->work = N * K * sizeof(float) * o->steps;
    r->unit = "GB/s";
    r->limit = L.bw_best;
    r->target = 70;
    snprintf(r->check, sizeof r->check, "w*=%.3g steps=%d", b->res1->weight[0],
             (int)b->res1->steps[0]);

    /* 2. A batch, one step, per similarity: bound by the SGEMM rate. */
    p.steps = 1;
    for (int s = 0; s < o->nsims; ++s) {
        p.sim = o->sims[s];
        const char *name = uhn_similarity_name(p.sim);
        char what[96];
        snprintf(what, sizeof what, "%lld queries, one step, %s", (long long)o->batch, name);
        progress(ctx, o, what);
        r = &rows[nrows++];
        UHN_CALL(time_recall(ctx, o, bank, &p, b->qb, o->batch, o->warmup, b->resb, r));
        snprintf(r->name, sizeof r->name, "batch %s", name);
        int gemm = (uhn_similarity_flags(p.sim) & UHN_SIM_GEMM) != 0;
        r->work = (gemm ? 4.0 : 1.0) * N * (double)o->batch * K;
        r->unit = gemm ? "GFLOP/s" : "Gelem/s";
        r->limit = gemm ? L.gf : L.l1;
        r->target = gemm ? 60 : 0;
        snprintf(r->check, sizeof r->check, "n*=source %.1f%%", hit_percent(o, b->resb));
    }

    /* 3. The reference kernel beside the fast one on a few queries. */
    if (o->ref_batch > 0) {
        progress(ctx, o, "reference kernel");
        p.sim = uhn_similarity_find("dot");
        bench_row *rf = &rows[nrows++], *rr = &rows[nrows++];
        p.kernel = UHN_KERNEL_FAST;
        UHN_CALL(time_recall(ctx, o, bank, &p, b->qr, o->ref_batch, o->warmup, b->resf, rf));
        p.kernel = UHN_KERNEL_REF;
        UHN_CALL(time_recall(ctx, o, bank, &p, b->qr, o->ref_batch, 0, b->resr, rr));
        double diff = 0;
        for (int64_t i = 0; i < o->ref_batch * o->k; ++i)
            diff = fmax(diff, fabs((double)b->resf->output[i] - (double)b->resr->output[i]));
        snprintf(rf->name, sizeof rf->name, "batch dot, fast kernel");
        snprintf(rr->name, sizeof rr->name, "batch dot, REF kernel");
        for (bench_row *x = rf; x <= rr; ++x) {
            x->work = 4.0 * N * (double)o->ref_batch * K;
            x->unit = "GFLOP/s";
            x->limit = L.gf;
        }
        snprintf(rf->check, sizeof rf->check, "n*=source %.1f%%", hit_percent(o, b->resf));
        snprintf(rr->check, sizeof rr->check, "max|z-z_fast|=%.2g", diff);
        speedup = rr->best / rf->best;
    }

    if (ctx->rank == 0) print_table(o, rows, nrows, speedup);
    return write_tables(ctx, o, &L, rows, nrows, rec);
}

int uhn_cmd_bench(uhn_ctx *ctx, int argc, char **argv) {
    bench_opts o;
    bench_env env = {0};
    const bench_record rec = {&env, argc, argv, time(NULL)};
    int st = parse_opts(ctx, argc, argv, &o);
    if (st == -1) return UHN_OK;
    UHN_CALL(uhn_agree(ctx, st));
    if (o.h5) UHN_CALL(uhn_h5_check_output(ctx, o.h5, "--h5")); /* before any timing */
    if (o.quiet) ctx->verbose = 0;
    UHN_CALL(print_env(ctx, &o, &env));

    bench_bufs b = {0};
    st = setup(ctx, &o, &b);
    if (st == UHN_OK) st = run_cases(ctx, &o, &b, &rec);
    free_bufs(&b);
    return st;
}
