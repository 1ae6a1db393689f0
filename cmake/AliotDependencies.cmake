# Every dependency comes from a Debian 12 package (scripts/install-deps.sh installs them).
find_package(PkgConfig REQUIRED)
find_package(OpenSSL 3.0 REQUIRED)
# fmt is used header-only (fmt::fmt-header-only): no libfmt.so to load and relocate at each
# start of `aliot`; a dozen translation units include it, at little build-time cost.
find_package(fmt 9 CONFIG REQUIRED)
find_package(nlohmann_json 3.11 CONFIG REQUIRED)
find_package(CLI11 2.1 CONFIG REQUIRED)
find_package(CURL REQUIRED)
find_package(SQLite3 REQUIRED)
find_package(Threads REQUIRED)
pkg_check_modules(MOSQUITTO REQUIRED IMPORTED_TARGET libmosquitto>=2.0)
if(ALIOT_BUILD_TESTS)
  find_package(GTest 1.12 CONFIG REQUIRED)
endif()
# Qpid Proton (AMQP 1.0), for `aliot cloud sub` (the module libaliot-amqp.so) and the emulator's
# AMQP endpoint; with ALIOT_AMQP=OFF neither is built and Proton is not needed.
if(ALIOT_AMQP)
  # Debian's libqpid-proton-cpp.pc is broken (it requires .pc files that do not ship), so the
  # library is found by name.
  find_library(PROTON_CPP_LIB NAMES qpid-proton-cpp REQUIRED)
  # Proton's C core, for the emulator's SASL plugin API (pnx_*). Debian ships neither a dev
  # symlink nor a .pc file for it: then it is the core the C++ library itself needs (its NEEDED
  # entry), so the process holds one core whatever its soname.
  find_library(PROTON_CORE_LIB NAMES qpid-proton-core)
  if(NOT PROTON_CORE_LIB)
    execute_process(COMMAND ${CMAKE_OBJDUMP} -p ${PROTON_CPP_LIB} OUTPUT_VARIABLE _aliot_proton_dyn
                    ERROR_QUIET)
    string(REGEX MATCH "NEEDED +(libqpid-proton-core\\.so[.0-9]*)" _aliot_match "${_aliot_proton_dyn}")
    get_filename_component(_aliot_proton_dir ${PROTON_CPP_LIB} DIRECTORY)
    if(CMAKE_MATCH_1)
      find_library(PROTON_CORE_LIB NAMES ${CMAKE_MATCH_1} HINTS ${_aliot_proton_dir})
    endif()
  endif()
  if(NOT PROTON_CORE_LIB)
    message(FATAL_ERROR "Qpid Proton's C core (libqpid-proton-core) not found next to "
                        "${PROTON_CPP_LIB}: install libqpid-proton-cpp12-dev, or configure with "
                        "-DALIOT_AMQP=OFF to build without `cloud sub`")
  endif()
endif()
