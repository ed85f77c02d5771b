/*
 * Sanitizer builds only (UHN_SANITIZE): LeakSanitizer's check runs inside
 * MPI_Finalize, before Open MPI unloads its components. At process exit those
 * components are gone, their allocations show up as leaks from "<unknown
 * module>" and no suppression can name them; before the unload they are
 * named, and tests/sanitizers/lsan-openmpi.supp suppresses Open MPI's own (and
 * only those). Any program linked with libuhn gets this MPI_Finalize through
 * the MPI profiling interface; a leak ends the process with LSan's report.
 */
#include <mpi.h>
#include <sanitizer/lsan_interface.h>

int MPI_Finalize(void) {
    __lsan_do_leak_check(); /* also turns off the check at exit */
    return PMPI_Finalize();
}
