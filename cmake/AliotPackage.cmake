# The Debian package: `cpack -G DEB` in a tree configured with CMAKE_INSTALL_PREFIX=/usr makes
# aliot_<version>_<arch>.deb (the binary, libaliot with its headers and CMake package, the
# emulator's broker plugin, man pages and completions) and aliot-dbgsym_<version>_<arch>.ddeb
# (the debug info, split off the stripped binaries). scripts/package.sh configures, builds and
# packs such a tree; tests/package/check.sh proves the result.
#
# One package rather than a library/-dev/tool split: the stations that install it want the tool
# and, for their own programs, find_package(aliot). The emulator needs Debian's mosquitto broker,
# which is only a Recommends: factory PCs that never emulate do not need a broker.

set(ALIOT_PACKAGE_MAINTAINER "aliot maintainers <aliot@example.org>"
    CACHE STRING "Maintainer field of the Debian package: Name <address>")

# What Debian requires of every package besides the files: the copyright file and, for a
# package that is its own upstream (native), changelog.gz, both in /usr/share/doc/aliot.
set(_aliot_pkg_dir ${PROJECT_BINARY_DIR}/package)
if(EXISTS ${PROJECT_SOURCE_DIR}/LICENSE)
  file(READ ${PROJECT_SOURCE_DIR}/LICENSE _aliot_license)
else()
  set(_aliot_license
      "No licence has been declared for aliot yet: ask its maintainers before redistributing it.\n")
endif()
# SOURCE_DATE_EPOCH, when set, dates them (string(TIMESTAMP) honours it).
string(TIMESTAMP _aliot_pkg_year "%Y" UTC)
string(TIMESTAMP _aliot_pkg_date "%a, %d %b %Y %H:%M:%S +0000" UTC)
file(CONFIGURE OUTPUT ${_aliot_pkg_dir}/copyright @ONLY CONTENT
     "aliot: command-line tool and library for devices on Alibaba Cloud IoT Platform\n\n\
Copyright: @_aliot_pkg_year@ the aliot authors\n\n@_aliot_license@")
file(CONFIGURE OUTPUT ${_aliot_pkg_dir}/changelog @ONLY CONTENT
     "aliot (@PROJECT_VERSION@) unstable; urgency=medium\n\n\
  * aliot @PROJECT_VERSION@.\n\n\
 -- @ALIOT_PACKAGE_MAINTAINER@  @_aliot_pkg_date@\n")
find_program(ALIOT_GZIP gzip)
if(ALIOT_GZIP)
  # -n: no name or time stamp in the header, so equal input gives equal bytes.
  execute_process(COMMAND ${ALIOT_GZIP} -9nc INPUT_FILE ${_aliot_pkg_dir}/changelog
                  OUTPUT_FILE ${_aliot_pkg_dir}/changelog.gz)
  install(FILES ${_aliot_pkg_dir}/copyright ${_aliot_pkg_dir}/changelog.gz
          DESTINATION ${CMAKE_INSTALL_DOCDIR})
endif()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME aliot)
set(CPACK_PACKAGE_VENDOR "aliot")
set(CPACK_PACKAGE_CONTACT "${ALIOT_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "command-line tool for devices on Alibaba Cloud IoT Platform")
# Debian's control file wants lines of at most 80 columns (CPack indents them by one).
set(CPACK_PACKAGE_DESCRIPTION
    "aliot registers devices, connects them over MQTT, publishes, subscribes and
answers RRPC on Alibaba Cloud IoT Platform (Aliyun IoT), and burns device
triplets into a switch over a serial port on factory provisioning lines.
.
The package holds the aliot tool, the libaliot library with its headers and
CMake package (find_package(aliot)), man pages, completions for bash, zsh and
fish, and the broker plugin with which `aliot emulate cloud` runs a local
emulator of the platform on mosquitto.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Depends: computed by dpkg-shlibdeps from the libraries the binaries link, and libcurl, which
# aliot loads with dlopen() when a command speaks HTTPS (dpkg-shlibdeps does not see it), and
# libedit, which `aliot shell` loads the same way at a terminal. CURLOPT_PROTOCOLS_STR is
# libcurl 7.85.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "libcurl4 (>= 7.85.0), libedit2")
# libaliot's shlibs entry, and the ldconfig trigger Debian wants of a package that ships a shared
# library in the linker's path (CPack also adds postinst/postrm scripts that call ldconfig).
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
file(WRITE ${_aliot_pkg_dir}/control/triggers "activate-noawait ldconfig\n")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${_aliot_pkg_dir}/control/triggers)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")
# `aliot emulate cloud` runs Debian's broker with aliot's plugin.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS mosquitto)
set(CPACK_DEBIAN_PACKAGE_SUGGESTS bash-completion)
# Stripped binaries in the package, their debug info in aliot-dbgsym (needs a build with -g:
# RelWithDebInfo). Not together with CPACK_STRIP_FILES, which would strip before the split.
set(CPACK_DEBIAN_DEBUGINFO_PACKAGE ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# Debian ships man pages gzip-compressed; the install tree (and `cmake --install`) keeps them
# plain. This runs on CPack's staging copy, after the install and before the package is made.
file(WRITE ${_aliot_pkg_dir}/compress-man-pages.cmake [=[
file(GLOB_RECURSE _pages "${CPACK_TEMPORARY_INSTALL_DIRECTORY}/*/share/man/man*/*.[1-9]")
foreach(_page IN LISTS _pages)
  execute_process(COMMAND gzip -9nf "${_page}" RESULT_VARIABLE _rc)
  if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "gzip ${_page} failed")
  endif()
endforeach()
list(LENGTH _pages _n)
message(STATUS "aliot: compressed ${_n} man pages")
]=])
set(CPACK_PRE_BUILD_SCRIPTS ${_aliot_pkg_dir}/compress-man-pages.cmake)
set(CPACK_SOURCE_IGNORE_FILES "/\\\\.git/" "/build/")
include(CPack)
