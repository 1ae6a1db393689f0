# docs.up_to_date: the committed man/ and completions/ are exactly what the current binary
# generates. Run with -DALIOT=<binary> -DSOURCE_DIR=<repo> -DWORK_DIR=<scratch> -DBUILD_DIR=<build>.
cmake_policy(VERSION 3.25)
foreach(v ALIOT SOURCE_DIR WORK_DIR BUILD_DIR)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "up_to_date.cmake needs -D${v}=...")
  endif()
endforeach()

file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})
execute_process(
  COMMAND ${ALIOT} __gen-docs --man-dir ${WORK_DIR}/man --completion-dir ${WORK_DIR}/completions
  RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "aliot __gen-docs failed (${rc}): ${err}")
endif()

set(problems "")
foreach(dir man completions)
  file(GLOB generated RELATIVE ${WORK_DIR}/${dir} ${WORK_DIR}/${dir}/*)
  file(GLOB committed RELATIVE ${SOURCE_DIR}/${dir} ${SOURCE_DIR}/${dir}/*)
  foreach(f IN LISTS generated)
    if(NOT EXISTS ${SOURCE_DIR}/${dir}/${f})
      string(APPEND problems "  missing: ${dir}/${f}\n")
    else()
      file(READ ${WORK_DIR}/${dir}/${f} want HEX)
      file(READ ${SOURCE_DIR}/${dir}/${f} have HEX)
      if(NOT want STREQUAL have)
        string(APPEND problems "  stale:   ${dir}/${f}\n")
      endif()
    endif()
  endforeach()
  foreach(f IN LISTS committed)
    if(NOT f IN_LIST generated)
      string(APPEND problems "  extra:   ${dir}/${f} (no command produces it any more)\n")
    endif()
  endforeach()
endforeach()

# `aliot completion SHELL` prints the very same scripts.
foreach(pair "bash;aliot.bash" "zsh;_aliot" "fish;aliot.fish")
  list(GET pair 0 shell)
  list(GET pair 1 file)
  execute_process(COMMAND ${ALIOT} completion ${shell} RESULT_VARIABLE rc OUTPUT_VARIABLE out)
  file(READ ${WORK_DIR}/completions/${file} want)
  if(NOT rc EQUAL 0 OR NOT out STREQUAL want)
    string(APPEND problems "  'aliot completion ${shell}' differs from completions/${file}\n")
  endif()
endforeach()

if(problems)
  message(FATAL_ERROR
    "man/ and completions/ do not match the command tree:\n${problems}"
    "run: cmake --build ${BUILD_DIR} --target update-docs   (then commit man/ and completions/)")
endif()
message(STATUS "man/ and completions/ are up to date")
