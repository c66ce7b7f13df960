list(APPEND SL_BENCH_LIBS sl_store) # sluice-bench store
