# Writes sluiced.conf.example: sluiced's built-in configuration as
# `sluiced --print-config` prints it, under a header. Run at build time by
# tools/packaging/CMakeLists.txt:
#   cmake -DSLUICED=path/to/sluiced -DOUT=file -P sluiced_conf.cmake
# sluiced runs with an empty environment so that the fleet's *_URLS
# variables of whoever builds cannot leak into the example.
execute_process(COMMAND env -i ${SLUICED} --print-config
                OUTPUT_VARIABLE conf ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "sluiced --print-config failed (${rc}): ${err}")
endif()
file(WRITE ${OUT}.tmp
"# sluiced.conf.example: every key of sluiced's configuration at its built-in
# default, as `sluiced --print-config` prints it. Copy it, keep the keys you
# change, and start `sluiced --config FILE`; `sluiced --check-config FILE`
# validates a file. The keys are described in sluiced(8) and in the README
# (\"Configuration\"). The fleet's STATIC_ANALYZER_URLS, DYNAMIC_ANALYZER_URLS,
# PERF_TESTER_URLS, AI_ANALYZER_URLS and GENERATOR_URLS override services/*/urls.
${conf}")
file(RENAME ${OUT}.tmp ${OUT})
