# tools: sluicectl against a fake daemon (unit), and a Python client built
# on Debian's python3-zmq/python3-msgpack against the real sluiced and the
# mock fleet (integration; skipped with 77 while sluiced is not built).
if(TARGET sluicectl)
  sl_add_test(NAME test_sluicectl SOURCES tools/test_sluicectl.c
              LIBS PkgConfig::ZMQ PkgConfig::JANSSON PkgConfig::MSGPACK util LABEL unit TIMEOUT 120)
  if(TARGET test_sluicectl)
    target_compile_definitions(test_sluicectl PRIVATE
      SLUICECTL_PATH="$<TARGET_FILE:sluicectl>"
      SLUICE_SOURCE_DIR_DEFAULT="${CMAKE_SOURCE_DIR}")
    add_dependencies(test_sluicectl sluicectl)
  endif()
endif()

# Debian's python3 (where python3-zmq/python3-msgpack live), not whatever
# python3 comes first on PATH (pyenv, venvs).
find_program(SL_TOOLS_PYTHON3 python3 PATHS /usr/bin NO_DEFAULT_PATH)
if(NOT SL_TOOLS_PYTHON3)
  find_program(SL_TOOLS_PYTHON3 python3)
endif()
if(SL_TOOLS_PYTHON3)
  set(SL_PY_SLUICED "")
  set(SL_PY_MOCK "")
  set(SL_PY_CTL "")
  if(TARGET sluiced)
    set(SL_PY_SLUICED "$<TARGET_FILE:sluiced>")
  endif()
  if(TARGET sluice-mock-analyzer)
    set(SL_PY_MOCK "$<TARGET_FILE:sluice-mock-analyzer>")
  endif()
  add_test(NAME test_python_client
           COMMAND ${SL_TOOLS_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/tools/test_python_client.py)
  set_tests_properties(test_python_client PROPERTIES
    TIMEOUT 180 LABELS integration SKIP_RETURN_CODE 77
    ENVIRONMENT "SLUICE_SOURCE_DIR=${CMAKE_SOURCE_DIR};SLUICE_BUILD_DIR=${CMAKE_BINARY_DIR};SLUICED=${SL_PY_SLUICED};SLUICE_MOCK=${SL_PY_MOCK}")
endif()

# sluice-keygen's certificates against a CURVE-enabled sluiced and sluicectl.
if(TARGET sluice-keygen AND TARGET sluiced AND TARGET sluicectl)
  add_test(NAME test_keygen
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/tools/test_keygen.sh
                   $<TARGET_FILE:sluice-keygen> $<TARGET_FILE:sluiced> $<TARGET_FILE:sluicectl>)
  set_tests_properties(test_keygen PROPERTIES TIMEOUT 60 LABELS integration)
endif()
