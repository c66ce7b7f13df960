# sl_wire: the analyzers' JSON wire formats (legacy, generation, mux).
# Pure functions over jansson; no I/O, no runtime.
add_library(sl_wire STATIC sl_wire.c)
target_link_libraries(sl_wire PUBLIC sl_err PkgConfig::JANSSON)
