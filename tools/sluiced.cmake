add_executable(sluiced ${CMAKE_CURRENT_LIST_DIR}/sluiced/sluiced.c)
target_link_libraries(sluiced PRIVATE sluice)
