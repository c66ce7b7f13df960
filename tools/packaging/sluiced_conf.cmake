# Writes sluiced.conf.example: sluiced's built-in configuration as
# `sluiced --print-config` prints it, under a header; with -DETC=ON the
# Debian package's /etc/sluice/sluiced.conf instead: the same with the
# data directory the service uses. Run at build time by
# tools/packaging/CMakeLists.txt:
#   cmake -DSLUICED=path/to/sluiced -DOUT=file [-DETC=ON] -P sluiced_conf.cmake
# sluiced runs with an empty environment so that the fleet's *_URLS
# variables of whoever builds cannot leak into the example.
set(sets "")
if(ETC)
  set(sets --set sluice/data_dir=/var/lib/sluice)
endif()
execute_process(COMMAND env -i ${SLUICED} ${sets} --print-config
                OUTPUT_VARIABLE conf ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "sluiced --print-config failed (${rc}): ${err}")
endif()
if(ETC)
  file(WRITE ${OUT}.tmp
"# /etc/sluice/sluiced.conf: sluiced's configuration under systemd
# (sluiced.service; a dpkg conffile: your edits survive upgrades). Every key
# is at its built-in default except sluice/data_dir (the service's
# StateDirectory, set on its command line too). Point services/*/urls at the
# fleet, `sluiced --check-config /etc/sluice/sluiced.conf`, then
# `systemctl enable --now sluiced`; `systemctl reload sluiced` applies what
# can change safely. The keys are described in sluiced(8) and in
# /usr/share/doc/sluice/sluiced.conf.example.
${conf}")
else()
  file(WRITE ${OUT}.tmp
"# sluiced.conf.example: every key of sluiced's configuration at its built-in
# default, as `sluiced --print-config` prints it. Copy it, keep the keys you
# change, and start `sluiced --config FILE`; `sluiced --check-config FILE`
# validates a file. The keys are described in sluiced(8) and in the README
# (\"Configuration\"). The fleet's STATIC_ANALYZER_URLS, DYNAMIC_ANALYZER_URLS,
# PERF_TESTER_URLS, AI_ANALYZER_URLS and GENERATOR_URLS override services/*/urls.
${conf}")
endif()
file(RENAME ${OUT}.tmp ${OUT})
