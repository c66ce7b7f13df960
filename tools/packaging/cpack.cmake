# The Debian package: `cpack -G DEB` in a build configured with
# -DCMAKE_INSTALL_PREFIX=/usr builds sluice_<version>_amd64.deb (README,
# "Debian package"; tests/tools/test_deb.sh builds, installs, runs and
# purges it).
#
# One package, sluice, of all three install components: runtime (programs,
# libsluice.so.0, man pages, the systemd unit and sysusers file), dev
# (header, libsluice.so, libsluice.a, sluice.pc) and deb (the conffile
# /etc/sluice/sluiced.conf). libsluice exists for embedding sluice in a
# host and has no other users yet, so a libsluice0/libsluice-dev split
# would only add packages to keep in step; it becomes worth it when a
# second program links libsluice.
#
# Depends comes from dpkg-shlibdeps (the shared libraries the programs and
# libsluice.so.0 load) plus adduser for the postinst. The maintainer
# scripts (deb/) create the sluice system user and /var/lib/sluice on
# install and remove both on purge; dpkg removes the conffile on purge.

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME sluice)
set(CPACK_PACKAGE_VENDOR sluice)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "actor runtime that brings long analysis pipelines to an honest end")
set(CPACK_PACKAGE_DESCRIPTION
    "sluice runs long analysis pipelines against remote analyzer services
(WebSocket) and brings every task and pipeline to a true final state:
retries, circuit breakers, liveness, durable state in LMDB, recovery
after a crash. Contains the daemon sluiced (with a systemd unit), the
command-line client sluicectl, a mock analyzer fleet, sluice-keygen,
sluice-bench, and libsluice with its header and pkg-config file for
embedding.")
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
# Absolute destinations (/etc/sluice) land in the package as they are.
set(CPACK_SET_DESTDIR ON)

set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL runtime dev deb)
set(CPACK_COMPONENTS_GROUPING ALL_COMPONENTS_IN_ONE)

set(SLUICE_DEB_MAINTAINER "sluice maintainers <root@localhost>"
    CACHE STRING "The Debian package's Maintainer field")
set(CPACK_DEBIAN_PACKAGE_NAME sluice)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${SLUICE_DEB_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
# Building a host against <sluice/sluice.h> with pkg-config needs these.
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "pkg-config, libzmq3-dev, libmsgpack-dev")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_CURRENT_SOURCE_DIR}/deb/conffiles ${CMAKE_CURRENT_SOURCE_DIR}/deb/postinst
    ${CMAKE_CURRENT_SOURCE_DIR}/deb/prerm ${CMAKE_CURRENT_SOURCE_DIR}/deb/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

# A package's paths are /usr and /etc, never /usr/local: cpack refuses a
# build configured for another prefix (cpack_check.cmake).
set(CPACK_PROJECT_CONFIG_FILE ${CMAKE_CURRENT_SOURCE_DIR}/cpack_check.cmake)

include(CPack)
