# Runs one fuzz target for CTest (cmake -P; see CMakeLists.txt here):
#   MODE=replay  every file of CORPUS and REGRESSIONS once (libFuzzer runs each
#                file given as an argument and exits);
#   MODE=fuzz    the fuzzer for SECONDS on a corpus WORK/corpus in the build
#                tree seeded from CORPUS (read, never written), with crash
#                artifacts under WORK.
# Fails when libFuzzer reports a crash, a leak, a timeout or an out-of-memory.
foreach(v FUZZER CORPUS REGRESSIONS WORK MODE MAX_LEN TIMEOUT RSS_MB)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "run_fuzzer.cmake: -D${v}= is required")
  endif()
endforeach()

# WORK/corpus grows from run to run in one build tree; the rest is this run's.
file(GLOB old ${WORK}/crash-* ${WORK}/leak-* ${WORK}/timeout-* ${WORK}/oom-*)
file(REMOVE_RECURSE ${WORK}/tmp ${old})
file(MAKE_DIRECTORY ${WORK}/corpus ${WORK}/tmp)
set(ENV{TMPDIR} ${WORK}/tmp) # fuzz_h5's files, left there by a crash
set(common -rss_limit_mb=${RSS_MB} -timeout=${TIMEOUT} -max_len=${MAX_LEN} -artifact_prefix=${WORK}/)
if(DICT)
  list(APPEND common -dict=${DICT})
endif()

if(MODE STREQUAL "replay")
  file(GLOB seeds LIST_DIRECTORIES false ${CORPUS}/* ${REGRESSIONS}/*)
  list(LENGTH seeds n)
  if(n EQUAL 0)
    message(FATAL_ERROR "run_fuzzer.cmake: no seeds in ${CORPUS}")
  endif()
  message(STATUS "replaying ${n} inputs")
  execute_process(COMMAND ${FUZZER} ${common} ${seeds} RESULT_VARIABLE rc)
elseif(MODE STREQUAL "fuzz")
  # Not the regressions: a crash input is often the slowest kind (the deck's
  # is 48 kB of lists), and fuzzing from it would spend the time there.
  execute_process(COMMAND ${FUZZER} ${common} -max_total_time=${SECONDS} -print_final_stats=1
                          ${WORK}/corpus ${CORPUS}
                  RESULT_VARIABLE rc)
else()
  message(FATAL_ERROR "run_fuzzer.cmake: MODE is replay or fuzz, not '${MODE}'")
endif()
if(NOT rc EQUAL 0)
  file(GLOB found ${WORK}/crash-* ${WORK}/leak-* ${WORK}/timeout-* ${WORK}/oom-*)
  message(FATAL_ERROR "${FUZZER} failed (${rc}); inputs kept: ${found}")
endif()
