sl_add_test(NAME test_config SOURCES actors/test_config.c LIBS sl_api LABEL unit TIMEOUT 30)
sl_add_test(NAME test_api SOURCES actors/test_api.c LIBS sl_api LABEL unit TIMEOUT 60)
sl_add_test(NAME test_curve SOURCES actors/test_curve.c LIBS sl_api LABEL unit TIMEOUT 60)
