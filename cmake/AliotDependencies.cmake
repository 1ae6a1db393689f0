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
