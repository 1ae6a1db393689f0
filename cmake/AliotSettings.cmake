# Warning and sanitizer settings shared by every aliot target (linked PRIVATE).
add_library(aliot_warnings INTERFACE)
if(DEFINED ENV{CI})
  set(_aliot_werror_default ON)
else()
  set(_aliot_werror_default OFF)
endif()
option(ALIOT_WERROR "Treat warnings as errors" ${_aliot_werror_default})
target_compile_options(aliot_warnings INTERFACE -Wall -Wextra -Wpedantic -Wshadow
                                                -Wnon-virtual-dtor -Wimplicit-fallthrough
                                                -Wno-missing-field-initializers)
if(ALIOT_WERROR)
  target_compile_options(aliot_warnings INTERFACE -Werror)
endif()

if(ALIOT_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "ALIOT_FUZZ needs clang (libFuzzer): use the `fuzz` preset")
  endif()
  set(ALIOT_SANITIZE ON)
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()

if(ALIOT_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()
