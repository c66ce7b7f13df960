# The watchdog actor: stuck/deadline reconciliation and actor liveness.
add_library(sl_watchdog STATIC ${CMAKE_CURRENT_LIST_DIR}/sl_watchdog.c)
target_link_libraries(sl_watchdog PUBLIC sl_runtime sl_proto)
