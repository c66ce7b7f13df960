sl_add_test(NAME test_config SOURCES actors/test_config.c LIBS sl_api LABEL unit TIMEOUT 30)
sl_add_test(NAME test_api SOURCES actors/test_api.c LIBS sl_api LABEL unit TIMEOUT 60)
sl_add_test(NAME test_curve SOURCES actors/test_curve.c LIBS sl_api LABEL unit TIMEOUT 60)
if(TARGET test_curve AND TARGET sluicectl)
  # test_curve also runs the real sluicectl with its --curve-* flags
  target_compile_definitions(test_curve PRIVATE SLUICECTL_PATH="$<TARGET_FILE:sluicectl>")
  add_dependencies(test_curve sluicectl)
endif()
