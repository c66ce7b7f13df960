# Runtime tests: one program per module of runtime/.
sl_add_test(NAME test_clock SOURCES runtime/test_clock.c LIBS sl_runtime LABEL unit TIMEOUT 30)
sl_add_test(NAME test_timer SOURCES runtime/test_timer.c LIBS sl_runtime LABEL unit TIMEOUT 30)
sl_add_test(NAME test_actor SOURCES runtime/test_actor.c LIBS sl_runtime LABEL unit TIMEOUT 60)
sl_add_test(NAME test_sup SOURCES runtime/test_sup.c LIBS sl_runtime LABEL unit TIMEOUT 60)
