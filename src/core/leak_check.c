/*
 * Sanitizer builds only (UHN_SANITIZE), through the MPI profiling interface
 * (any program linked with libuhn gets these wrappers):
 *
 * - LeakSanitizer's check runs inside MPI_Finalize, before Open MPI unloads
 *   its components. At process exit those components are gone, and their
 *   allocations show up as leaks of "<unknown module>" that no suppression
 *   can name; before the unload they are named, and
 *   tests/sanitizers/lsan-openmpi.supp suppresses Open MPI's own.
 * - What Open MPI allocates while it starts (MPI_Init, MPI_Init_thread) and
 *   when it first opens a file for MPI-IO is its own and partly never freed,
 *   some of it through glibc (asprintf), whose frames the fast unwinder cannot
 *   walk back to Open MPI: those allocations are not leak-checked at all.
 *   Everything uhn allocates is.
 *
 * A leak ends the process with LSan's report and exit code 23.
 */
#include <mpi.h>
#include <sanitizer/lsan_interface.h>

int MPI_Init(int *argc, char ***argv) {
    __lsan_disable();
    int rc = PMPI_Init(argc, argv);
    __lsan_enable();
    return rc;
}

int MPI_Init_thread(int *argc, char ***argv, int required, int *provided) {
    __lsan_disable();
    int rc = PMPI_Init_thread(argc, argv, required, provided);
    __lsan_enable();
    return rc;
}

int MPI_File_open(MPI_Comm comm, const char *filename, int amode, MPI_Info info, MPI_File *fh) {
    __lsan_disable();
    int rc = PMPI_File_open(comm, filename, amode, info, fh);
    __lsan_enable();
    return rc;
}

int MPI_Finalize(void) {
    __lsan_do_leak_check(); /* also turns off the check at exit */
    return PMPI_Finalize();
}
