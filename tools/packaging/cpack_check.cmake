# Run by cpack before it packages (CPACK_PROJECT_CONFIG_FILE): the Debian
# package's paths are only right in a build configured for /usr (its /etc,
# libdir and unit paths come from the configured prefix).
if(CPACK_GENERATOR STREQUAL "DEB" AND NOT CPACK_PACKAGING_INSTALL_PREFIX STREQUAL "/usr")
  message(FATAL_ERROR "the Debian package needs a build configured with "
                      "-DCMAKE_INSTALL_PREFIX=/usr (this one: ${CPACK_PACKAGING_INSTALL_PREFIX})")
endif()
