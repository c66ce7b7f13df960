# sl_wire: the analyzers' JSON wire formats (legacy, generation, mux).
# Pure functions over jansson; no I/O, no runtime. Links sl_proto for the
# msgpack writer (sl_wire_json_to_mp).
# sl_wire_fast.c: a tree-free scan of the common mux frames, declining to
# sl_wire.c for everything else.
add_library(sl_wire STATIC sl_wire.c sl_wire_fast.c)
target_link_libraries(sl_wire PUBLIC sl_err sl_proto PkgConfig::JANSSON)

# Fuzzing needs coverage instrumentation in the code under test, not only in
# the fuzz target (tests/wire.cmake).
if(SLUICE_FUZZ)
  target_compile_options(sl_wire PRIVATE -fsanitize=fuzzer-no-link,address,undefined)
endif()
