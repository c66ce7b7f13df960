# sluice: the whole runtime for embedding (actors/sluice.h) and for sluiced.
add_library(sluice STATIC ${CMAKE_CURRENT_LIST_DIR}/sluice.c)
target_link_libraries(sluice PUBLIC sl_api sl_store sl_endpoint sl_pipeline sl_watchdog)
