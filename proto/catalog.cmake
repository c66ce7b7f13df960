# sl_proto: msgpack writer/reader (sl_mp), the message catalog codec, and the
# ids and shard routing every actor agrees on (sl_ids).
# Depends on the error table and msgpack-c only: never on the runtime.
add_library(sl_proto STATIC sl_mp.c sl_catalog.c sl_ids.c)
target_link_libraries(sl_proto PUBLIC sl_err PkgConfig::MSGPACK)

# Fuzzing needs coverage instrumentation in the code under test, not only in
# the fuzz target (tests/proto.cmake).
if(SLUICE_FUZZ)
  target_compile_options(sl_proto PRIVATE -fsanitize=fuzzer-no-link,address,undefined)
endif()
