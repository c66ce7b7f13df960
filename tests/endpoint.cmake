# endpoint module tests. The breaker is pure: it builds from its own source
# so it runs even while the rest of the module is being written.
sl_add_test(NAME test_breaker
  SOURCES actors/test_breaker.c ${CMAKE_SOURCE_DIR}/actors/sl_breaker.c
  LIBS sl_err LABEL unit TIMEOUT 30)
# the lws I/O thread, against real lws peers on loopback (plain and TLS)
sl_add_test(NAME test_wsio SOURCES actors/test_wsio.c
  LIBS sl_endpoint LABEL unit TIMEOUT 60)
target_compile_definitions(test_wsio PRIVATE SL_TEST_SOURCE_DIR="${CMAKE_SOURCE_DIR}")

# The endpoint actor and the progress listener against the mock fleet (a
# child process on loopback ports).
if(TARGET sl_endpoint AND EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/actors/test_endpoint.c)
  sl_add_test(NAME test_endpoint SOURCES actors/test_endpoint.c
    LIBS sl_endpoint LABEL integration TIMEOUT 120)
  if(TARGET sluice-mock-analyzer)
    add_dependencies(test_endpoint sluice-mock-analyzer)
  endif()
endif()
