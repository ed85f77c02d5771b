/*
 * What the fuzz targets of uhn share: MPI started once as a singleton, one
 * quiet context on MPI_COMM_SELF, a private temporary directory, and a reader
 * that turns the fuzzer's bytes into choices.
 *
 * libFuzzer calls LLVMFuzzerInitialize once and LLVMFuzzerTestOneInput for
 * every input in the same process, with no user pointer between them: the
 * context therefore lives in this module (the one mutable global of the
 * harness; libuhn itself keeps none). Everything is torn down at exit.
 */
#ifndef UHN_FUZZ_COMMON_H
#define UHN_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "uhn/context.h"

/* Starts MPI (a singleton), creates the context (verbose 0) and, when
 * want_tmpdir, a private directory under $TMPDIR (or /tmp), removed with its
 * files at exit. Aborts the process on failure: a fuzzer that cannot start is
 * a broken build, not a finding. */
void fuzz_setup(int want_tmpdir);

/* A target's LLVMFuzzerInitialize: fuzz_setup(want_tmpdir). */
#define FUZZ_INITIALIZE(want_tmpdir)                                                               \
    int LLVMFuzzerInitialize(int *argc, char ***argv);                                             \
    int LLVMFuzzerInitialize(int *argc, char ***argv) {                                            \
        (void)argc;                                                                                \
        (void)argv;                                                                                \
        fuzz_setup(want_tmpdir);                                                                   \
        return 0;                                                                                  \
    }

/* Between fuzz_leaks_ignore(1) and fuzz_leaks_ignore(0), allocations are
 * never reported as leaks: what MPI_Init and the first use of MPI-IO keep for
 * the process (Open MPI and PMIx allocate and drop some of it). libFuzzer's
 * leak check after an input looks at the whole heap, and Open MPI's own
 * libraries have no frame pointers to find its allocations by. */
void fuzz_leaks_ignore(int on);

/* The context of fuzz_setup. Its message of the last input is kept. */
uhn_ctx *fuzz_ctx(void);

/* With UHN_FUZZ_VERBOSE=1 in the environment, prints "<what>: <status>:
 * <message>" on stderr, to see why a seed is refused; silent otherwise. */
void fuzz_note(const char *what, int status);

/* The private directory of fuzz_setup ("" without one). */
const char *fuzz_tmpdir(void);

/* A cursor over the fuzzer's bytes. Reading past the end yields zeros, so a
 * short input still decodes to a complete (mostly default) description. */
typedef struct fuzz_bytes {
    const uint8_t *p;
    size_t n;
} fuzz_bytes;

uint8_t fuzz_u8(fuzz_bytes *b);
uint16_t fuzz_u16(fuzz_bytes *b);
uint32_t fuzz_u32(fuzz_bytes *b);
uint64_t fuzz_u64(fuzz_bytes *b);
/* A value in [0, n) (0 when n == 0), from one byte when n <= 256. */
uint32_t fuzz_pick(fuzz_bytes *b, uint32_t n);
/* Copies len bytes into dst; zeros once the input is used up. */
void fuzz_copy(fuzz_bytes *b, void *dst, size_t len);

#endif
