/* Setup, teardown and the byte reader of the fuzz targets (fuzz_common.h). */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_common.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#include <sanitizer/lsan_interface.h>
#define FUZZ_LSAN 1
#endif
#endif

/* libFuzzer gives no user pointer: the harness's state is process-wide. */
static struct {
    uhn_ctx *ctx;
    char tmpdir[512];
    int verbose; /* UHN_FUZZ_VERBOSE */
} g;

/* Removes the files of the private directory (it holds no subdirectories). */
static void remove_tmpdir(void) {
    if (!g.tmpdir[0]) return;
    DIR *d = opendir(g.tmpdir);
    for (struct dirent *e = d ? readdir(d) : NULL; e; e = readdir(d)) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", g.tmpdir, e->d_name);
        unlink(path);
    }
    if (d) closedir(d);
    rmdir(g.tmpdir);
    g.tmpdir[0] = '\0';
}

static void teardown(void) {
    remove_tmpdir();
    uhn_ctx_destroy(g.ctx);
    g.ctx = NULL;
    int done = 1;
    fuzz_leaks_ignore(1); /* what MPI_Finalize allocates and drops is Open MPI's */
    if (MPI_Finalized(&done) == MPI_SUCCESS && !done) MPI_Finalize();
}

void fuzz_setup(int want_tmpdir) {
    /* Open MPI replaces the handlers of SIGABRT, SIGBUS, SIGFPE and SIGSEGV
     * with its own, which print a backtrace and exit: libFuzzer's (and the
     * sanitizers') would never run, and a crash would leave no input behind. */
    setenv("OMPI_MCA_opal_signal", "", 0);
    int provided = 0;
    fuzz_leaks_ignore(1);
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS ||
        uhn_ctx_create(MPI_COMM_SELF, &g.ctx) != UHN_OK) {
        fprintf(stderr, "fuzz: cannot start MPI or create the uhn context\n");
        abort();
    }
    fuzz_leaks_ignore(0);
    g.ctx->verbose = 0;
    const char *v = getenv("UHN_FUZZ_VERBOSE");
    g.verbose = v && *v && strcmp(v, "0");
    if (want_tmpdir) {
        const char *base = getenv("TMPDIR");
        snprintf(g.tmpdir, sizeof g.tmpdir, "%s/uhn-fuzz-XXXXXX", base && *base ? base : "/tmp");
        if (!mkdtemp(g.tmpdir)) {
            perror("fuzz: mkdtemp");
            abort();
        }
    }
    atexit(teardown);
}

void fuzz_leaks_ignore(int on) {
#ifdef FUZZ_LSAN
    if (on)
        __lsan_disable();
    else
        __lsan_enable();
#else
    (void)on;
#endif
}

uhn_ctx *fuzz_ctx(void) {
    return g.ctx;
}

void fuzz_note(const char *what, int status) {
    if (g.verbose) fprintf(stderr, "%s: %d: %s\n", what, status, status ? g.ctx->msg : "ok");
}

const char *fuzz_tmpdir(void) {
    return g.tmpdir;
}

uint8_t fuzz_u8(fuzz_bytes *b) {
    if (!b->n) return 0;
    --b->n;
    return *b->p++;
}

void fuzz_copy(fuzz_bytes *b, void *dst, size_t len) {
    size_t k = len < b->n ? len : b->n;
    if (len > k) memset((char *)dst + k, 0, len - k);
    if (!k) return;
    memcpy(dst, b->p, k);
    b->p += k;
    b->n -= k;
}

uint16_t fuzz_u16(fuzz_bytes *b) {
    uint16_t v;
    fuzz_copy(b, &v, sizeof v);
    return v;
}

uint32_t fuzz_u32(fuzz_bytes *b) {
    uint32_t v;
    fuzz_copy(b, &v, sizeof v);
    return v;
}

uint64_t fuzz_u64(fuzz_bytes *b) {
    uint64_t v;
    fuzz_copy(b, &v, sizeof v);
    return v;
}

uint32_t fuzz_pick(fuzz_bytes *b, uint32_t n) {
    if (n == 0) return 0;
    return n <= 256 ? fuzz_u8(b) % n : fuzz_u32(b) % n;
}
