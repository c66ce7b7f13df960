add_executable(sluice-keygen ${CMAKE_CURRENT_LIST_DIR}/keygen/sluice_keygen.c)
target_link_libraries(sluice-keygen PRIVATE PkgConfig::CZMQ)
