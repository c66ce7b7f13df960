# test_mock: sluice-mock-analyzer as a child process, driven by a minimal
# independent WebSocket client and a recording progress gateway.
if(TARGET sluice-mock-analyzer)
  sl_add_test(NAME test_mock
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/tools/test_mock.c ${CMAKE_CURRENT_LIST_DIR}/tools/mock_ws.c
    LIBS PkgConfig::JANSSON PkgConfig::OPENSSL
    LABEL integration TIMEOUT 60)
  target_compile_definitions(test_mock PRIVATE MOCK_BIN="$<TARGET_FILE:sluice-mock-analyzer>"
                             MOCK_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
  add_dependencies(test_mock sluice-mock-analyzer)
endif()

# test_mock_frames: the mock's frame builders in process (the pre-rendered
# result of the instant mux path against the full builder).
sl_add_test(NAME test_mock_frames
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/tools/test_mock_frames.c
          ${CMAKE_SOURCE_DIR}/tools/mock/mock_frames.c
          ${CMAKE_SOURCE_DIR}/tools/mock/mock_conf.c
          ${CMAKE_SOURCE_DIR}/tools/mock/mock_faults.c
  LIBS sl_err PkgConfig::JANSSON
  LABEL unit TIMEOUT 60)
