# The store actor: the only LMDB writer (sl_db.c is its synchronous LMDB
# layer, sl_store.c the actor with group commit and the event sequencer).
set(_sl_store_src ${CMAKE_CURRENT_LIST_DIR}/sl_db.c)
if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/sl_store.c)
  list(APPEND _sl_store_src ${CMAKE_CURRENT_LIST_DIR}/sl_store.c)
endif()
add_library(sl_store STATIC ${_sl_store_src})
target_link_libraries(sl_store PUBLIC sl_runtime sl_proto PkgConfig::LMDB)
