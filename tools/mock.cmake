# sluice-mock-analyzer: a fake analyzer fleet with fault injection. It
# speaks the existing fleet's protocols on its own (jansson + lws), on
# purpose independent of sluice's wire code; only the error table is shared.
add_executable(sluice-mock-analyzer
  ${CMAKE_CURRENT_LIST_DIR}/mock/mock_main.c
  ${CMAKE_CURRENT_LIST_DIR}/mock/mock_fleet.c
  ${CMAKE_CURRENT_LIST_DIR}/mock/mock_frames.c
  ${CMAKE_CURRENT_LIST_DIR}/mock/mock_faults.c
  ${CMAKE_CURRENT_LIST_DIR}/mock/mock_conf.c
  ${CMAKE_CURRENT_LIST_DIR}/mock/mock_control.c)
target_link_libraries(sluice-mock-analyzer PRIVATE sl_err PkgConfig::LWS PkgConfig::JANSSON
                      Threads::Threads)
