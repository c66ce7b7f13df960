# sluicectl: the command-line client of sluiced (msgpack over ZeroMQ). It
# speaks only the public API, so it links the protocol helpers and nothing
# of the daemon.
add_executable(sluicectl
  ${CMAKE_CURRENT_LIST_DIR}/sluicectl/ctl_main.c
  ${CMAKE_CURRENT_LIST_DIR}/sluicectl/ctl_client.c
  ${CMAKE_CURRENT_LIST_DIR}/sluicectl/ctl_json.c
  ${CMAKE_CURRENT_LIST_DIR}/sluicectl/ctl_render.c
  ${CMAKE_CURRENT_LIST_DIR}/sluicectl/ctl_cmds.c
  ${CMAKE_CURRENT_LIST_DIR}/sluicectl/ctl_submit.c
  ${CMAKE_CURRENT_LIST_DIR}/sluicectl/ctl_watch.c
  ${CMAKE_CURRENT_LIST_DIR}/sluicectl/ctl_curve.c)
target_link_libraries(sluicectl PRIVATE sl_wire sl_proto sl_err PkgConfig::ZMQ PkgConfig::JANSSON)
