# endpoint module tests. The breaker is pure: it builds from its own source
# so it runs even while the rest of the module is being written.
sl_add_test(NAME test_breaker
  SOURCES actors/test_breaker.c ${CMAKE_SOURCE_DIR}/actors/sl_breaker.c
  LIBS sl_err LABEL unit TIMEOUT 30)
