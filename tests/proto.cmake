# proto/ tests: the msgpack reader/writer and the catalog codec, plus a
# libFuzzer target over the catalog decoder (only with -DSLUICE_FUZZ=ON and
# clang; seed corpus: tests/data/malformed/).
sl_add_test(NAME test_mp SOURCES proto/test_mp.c
            LIBS sl_proto LABEL unit TIMEOUT 30)
sl_add_test(NAME test_catalog SOURCES proto/test_catalog.c
            LIBS sl_proto LABEL unit TIMEOUT 60)

if(SLUICE_FUZZ)
  add_executable(fuzz_catalog proto/fuzz_catalog.c)
  target_compile_options(fuzz_catalog PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_options(fuzz_catalog PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(fuzz_catalog PRIVATE sl_proto)
endif()
