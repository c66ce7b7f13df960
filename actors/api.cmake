# sl_api: configuration, the API front door (ROUTER + PUB) and embedding.
add_library(sl_api STATIC
  ${CMAKE_CURRENT_LIST_DIR}/sl_config.c
  ${CMAKE_CURRENT_LIST_DIR}/sl_api.c
  ${CMAKE_CURRENT_LIST_DIR}/sl_curve.c
)
target_link_libraries(sl_api PUBLIC sl_runtime sl_proto sl_err PkgConfig::CZMQ PkgConfig::ZMQ)
