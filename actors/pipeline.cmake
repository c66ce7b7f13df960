# sl_pipeline: the pipeline shard actors (task lifecycle, retries, deadlines,
# DLQ, final status, recovery), the start-request plan and the stored records.
add_library(sl_pipeline STATIC
  ${CMAKE_CURRENT_LIST_DIR}/sl_records.c
  ${CMAKE_CURRENT_LIST_DIR}/sl_plan.c
  ${CMAKE_CURRENT_LIST_DIR}/sl_pipeline_fsm.c
  ${CMAKE_CURRENT_LIST_DIR}/sl_pipeline_store.c
  ${CMAKE_CURRENT_LIST_DIR}/sl_pipeline.c
)
target_link_libraries(sl_pipeline PUBLIC sl_runtime sl_proto m)
