# Runtime tests: one program per module of runtime/.
sl_add_test(NAME test_actor SOURCES runtime/test_actor.c LIBS sl_runtime LABEL unit TIMEOUT 60)
