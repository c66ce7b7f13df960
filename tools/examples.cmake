# Example programs. embed_host: a host that embeds sluice through the
# public header only (actors/sluice.h), with its own ZeroMQ context and the
# API/PUB on inproc:// endpoints; tests/e2e/test_embed.c runs it.
if(TARGET sluice)
  add_executable(embed_host ${CMAKE_CURRENT_LIST_DIR}/examples/embed_host.c)
  target_link_libraries(embed_host PRIVATE sluice PkgConfig::ZMQ PkgConfig::MSGPACK)
endif()
