# Install rules: the binary, the library with its headers and CMake package, man pages and
# completions into the standard places.
include(CMakePackageConfigHelpers)
# Programs link the installed library as aliot::aliot, as they do in the build tree.
set_target_properties(aliot_lib PROPERTIES EXPORT_NAME aliot)
install(TARGETS aliot_lib EXPORT aliotTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/lib/include/aliot DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        PATTERN "*.in" EXCLUDE)
install(FILES ${PROJECT_BINARY_DIR}/lib/include/aliot/version.hpp
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/aliot)
install(EXPORT aliotTargets NAMESPACE aliot:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/aliot)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/aliotConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
file(WRITE ${PROJECT_BINARY_DIR}/aliotConfig.cmake
     "include(CMakeFindDependencyMacro)\ninclude(\${CMAKE_CURRENT_LIST_DIR}/aliotTargets.cmake)\n")
install(FILES ${PROJECT_BINARY_DIR}/aliotConfig.cmake ${PROJECT_BINARY_DIR}/aliotConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/aliot)
install(TARGETS aliot RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# zsh looks in share/zsh/site-functions under other prefixes, but Debian's zsh looks for the
# functions of packages installed into /usr in share/zsh/vendor-completions.
if(CMAKE_INSTALL_PREFIX MATCHES "^/usr/?$" AND EXISTS /etc/debian_version)
  set(_aliot_zsh_dir ${CMAKE_INSTALL_DATADIR}/zsh/vendor-completions)
else()
  set(_aliot_zsh_dir ${CMAKE_INSTALL_DATADIR}/zsh/site-functions)
endif()
set(ALIOT_ZSH_COMPLETION_DIR ${_aliot_zsh_dir} CACHE STRING
    "Where the zsh completion function _aliot is installed (relative to the prefix)")

# The generated, committed man pages and completions (component `docs`). install(DIRECTORY) is
# evaluated at install time, so pages of commands added after configuring are installed too.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/man/ DESTINATION ${CMAKE_INSTALL_MANDIR}/man1
        COMPONENT docs FILES_MATCHING PATTERN "*.1")
install(FILES ${PROJECT_SOURCE_DIR}/completions/aliot.bash
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME aliot COMPONENT docs)
install(FILES ${PROJECT_SOURCE_DIR}/completions/_aliot
        DESTINATION ${ALIOT_ZSH_COMPLETION_DIR} COMPONENT docs)
install(FILES ${PROJECT_SOURCE_DIR}/completions/aliot.fish
        DESTINATION ${CMAKE_INSTALL_DATADIR}/fish/vendor_completions.d COMPONENT docs)
