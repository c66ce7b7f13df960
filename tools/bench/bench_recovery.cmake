list(APPEND SL_BENCH_LIBS sl_pipeline sl_store) # sluice-bench recovery
