# sl_endpoint: endpoint actors (one per analyzer service), breakers, replica
# choice, the lws I/O thread (sl_wsio) and the progress listener.
# Each engineer adds their sources with target_sources below.
add_library(sl_endpoint STATIC)
target_link_libraries(sl_endpoint PUBLIC sl_runtime sl_proto sl_wire PkgConfig::LWS
                      PkgConfig::OPENSSL Threads::Threads)

# breaker + replica choice (pure), endpoint actor, progress listener
target_sources(sl_endpoint PRIVATE sl_breaker.c sl_endpoint.c sl_endpoint_conn.c sl_progress.c)
# the lws I/O thread
target_sources(sl_endpoint PRIVATE sl_wsio.c)
