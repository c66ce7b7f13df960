# sl_wire: JSON wire formats, checked against frames captured from the fleet,
# plus a libFuzzer target over the frame parser (only with -DSLUICE_FUZZ=ON
# and clang; seed corpus: tests/data/protocol/).
sl_add_test(NAME test_wire SOURCES proto/test_wire.c
            LIBS sl_wire LABEL unit TIMEOUT 60)
sl_add_test(NAME test_wire_fast SOURCES proto/test_wire_fast.c
            LIBS sl_wire LABEL unit TIMEOUT 60)

if(SLUICE_FUZZ)
  add_executable(fuzz_wire ${CMAKE_CURRENT_LIST_DIR}/proto/fuzz_wire.c)
  target_compile_options(fuzz_wire PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_options(fuzz_wire PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(fuzz_wire PRIVATE sl_wire)
  # sl_wire_frame_parse_fast against sl_wire_frame_parse on the same bytes.
  add_executable(fuzz_wire_fast ${CMAKE_CURRENT_LIST_DIR}/proto/fuzz_wire_fast.c)
  target_compile_options(fuzz_wire_fast PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_options(fuzz_wire_fast PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(fuzz_wire_fast PRIVATE sl_wire)
endif()
