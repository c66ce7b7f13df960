# sluice-bench: one program, one subcommand per file in tools/bench/.
# bench_runtime.c is always there; the others join when their owner adds
# the file (bench_<name>.c defines sl_bench_<name>(), see bench/bench.h).
set(SL_BENCH_SOURCES bench/bench_main.c bench/bench_runtime.c)
set(SL_BENCH_DEFS "")
set(SL_BENCH_LIBS sl_runtime)
foreach(f endpoint store recovery)
  if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/bench/bench_${f}.c)
    list(APPEND SL_BENCH_SOURCES bench/bench_${f}.c)
    string(TOUPPER ${f} F)
    list(APPEND SL_BENCH_DEFS SL_BENCH_HAVE_${F})
    # A subcommand's libraries: tools/bench/bench_<name>.cmake may append
    # to SL_BENCH_LIBS (e.g. sl_store).
    if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/bench/bench_${f}.cmake)
      include(${CMAKE_CURRENT_SOURCE_DIR}/bench/bench_${f}.cmake)
    endif()
  endif()
endforeach()
add_executable(sluice-bench ${SL_BENCH_SOURCES})
target_compile_definitions(sluice-bench PRIVATE ${SL_BENCH_DEFS})
target_link_libraries(sluice-bench PRIVATE ${SL_BENCH_LIBS} Threads::Threads)
