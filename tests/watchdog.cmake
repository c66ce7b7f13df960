# Watchdog: manual clock, fake shards (ports named pipeline.0), wedged actors.
sl_add_test(NAME test_watchdog SOURCES actors/test_watchdog.c LIBS sl_watchdog LABEL unit
            TIMEOUT 60)
