# Runs leak_probe at 2 ranks: it must fail, and each rank's report must name
# one direct leak of 4242 bytes and nothing else.
execute_process(COMMAND ${MPIEXEC} --oversubscribe -n 2 ${PROBE}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
set(all "${out}${err}")
string(REGEX MATCHALL "Direct leak of [0-9]+ byte" direct "${all}")
string(REGEX MATCHALL "Indirect leak of" indirect "${all}")
string(REGEX MATCHALL "SUMMARY: AddressSanitizer: 4242 byte\\(s\\) leaked in 1 allocation\\(s\\)"
       summaries "${all}")
list(LENGTH direct nd)
list(LENGTH indirect ni)
list(LENGTH summaries ns)
if(rc EQUAL 0 OR NOT nd EQUAL 2 OR NOT ni EQUAL 0 OR NOT ns EQUAL 2)
  message(FATAL_ERROR "leak_probe: exit ${rc}, ${nd} direct and ${ni} indirect leak reports, "
                      "${ns} summaries of the 4242-byte leak (want non-zero, 2, 0, 2):\n${all}")
endif()
message(STATUS "leak_probe: the 4242-byte leak reported on both ranks, nothing else")
