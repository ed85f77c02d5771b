# Runs leak_probe at 1 and at 2 ranks: it must fail, and every leak report must
# be the probe's 4242 bytes (one direct leak per reporting rank, nothing else).
# At 2 ranks the first rank to fail may end the job before the other reports.
foreach(np 1 2)
  execute_process(COMMAND ${MPIEXEC} --oversubscribe -n ${np} ${PROBE}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  set(all "${out}${err}")
  string(REGEX MATCHALL "Direct leak of [0-9]+ byte" direct "${all}")
  string(REGEX MATCHALL "Direct leak of 4242 byte\\(s\\) in 1 object" probe "${all}")
  string(REGEX MATCHALL "Indirect leak of" indirect "${all}")
  string(REGEX MATCHALL "SUMMARY: AddressSanitizer: 4242 byte\\(s\\) leaked in 1 allocation\\(s\\)"
         summaries "${all}")
  list(LENGTH direct nd)
  list(LENGTH probe np_)
  list(LENGTH indirect ni)
  list(LENGTH summaries ns)
  if(rc EQUAL 0 OR nd LESS 1 OR NOT nd EQUAL np_ OR NOT ni EQUAL 0 OR NOT ns EQUAL nd)
    message(FATAL_ERROR "leak_probe at ${np} rank(s): exit ${rc}, ${nd} direct leak reports "
                        "(${np_} of them the probe's 4242 bytes), ${ni} indirect, ${ns} summaries "
                        "of the probe's leak alone (want non-zero, >= 1, all, 0, one each):\n${all}")
  endif()
  message(STATUS "leak_probe at ${np} rank(s): the 4242-byte leak reported ${nd} time(s), nothing else")
endforeach()
