# End-to-end tests: the real sluiced, the mock analyzer fleet and the
# embedding example run as child processes on loopback; one shared helper
# (e2e/e2e.c) spawns them, reads their `ready` lines with deadlines and
# speaks msgpack to the API. test_crash is the long SIGKILL loop (label
# fault: `ctest -L fault`). test_api_fuzz sends sluiced's API a seeded
# stream of hostile requests (SLUICE_FUZZ_SEED=N replays one).
if(TARGET sluiced AND TARGET sluice-mock-analyzer)
  set(E2E_LIBS PkgConfig::ZMQ PkgConfig::MSGPACK PkgConfig::JANSSON)
  sl_add_test(NAME test_daemon SOURCES e2e/test_daemon.c e2e/e2e.c
    LIBS ${E2E_LIBS} LABEL integration TIMEOUT 180)
  sl_add_test(NAME test_crash SOURCES e2e/test_crash.c e2e/e2e.c
    LIBS ${E2E_LIBS} LABEL fault TIMEOUT 600)
  sl_add_test(NAME test_embed SOURCES e2e/test_embed.c e2e/e2e.c
    LIBS ${E2E_LIBS} LABEL integration TIMEOUT 120)
  sl_add_test(NAME test_api_fuzz SOURCES e2e/test_api_fuzz.c e2e/e2e.c
    LIBS ${E2E_LIBS} LABEL integration TIMEOUT 120)
  foreach(t test_daemon test_crash test_embed test_api_fuzz)
    if(TARGET ${t})
      target_compile_definitions(${t} PRIVATE SLUICED_BIN="$<TARGET_FILE:sluiced>"
                                 MOCK_BIN="$<TARGET_FILE:sluice-mock-analyzer>")
      add_dependencies(${t} sluiced sluice-mock-analyzer)
      if(TARGET embed_host)
        target_compile_definitions(${t} PRIVATE EMBED_BIN="$<TARGET_FILE:embed_host>")
        add_dependencies(${t} embed_host)
      endif()
    endif()
  endforeach()
endif()
