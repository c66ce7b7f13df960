list(APPEND SL_BENCH_LIBS sl_endpoint) # sluice-bench endpoint
