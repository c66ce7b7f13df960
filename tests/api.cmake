sl_add_test(NAME test_config SOURCES actors/test_config.c LIBS sl_api LABEL unit TIMEOUT 30)
