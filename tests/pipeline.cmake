# The pipeline module: records and plan (pure), the shard actor (fake
# endpoints, real or fake store, manual clock).
sl_add_test(NAME test_records SOURCES ${CMAKE_CURRENT_LIST_DIR}/actors/test_records.c
            LIBS sl_pipeline LABEL unit TIMEOUT 30)
sl_add_test(NAME test_plan SOURCES ${CMAKE_CURRENT_LIST_DIR}/actors/test_plan.c
            LIBS sl_pipeline sl_wire LABEL unit TIMEOUT 30)
if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/actors/test_pipeline.c)
  sl_add_test(NAME test_pipeline SOURCES ${CMAKE_CURRENT_LIST_DIR}/actors/test_pipeline.c
              LIBS sl_pipeline sl_store sl_wire LABEL unit TIMEOUT 120)
endif()
