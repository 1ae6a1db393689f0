# Install rules: the binary, the library with its headers and CMake package, man pages and
# completions into the standard places.
include(CMakePackageConfigHelpers)
install(TARGETS aliot_lib EXPORT aliotTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/lib/include/aliot DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
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

file(GLOB _aliot_man_pages ${PROJECT_SOURCE_DIR}/man/*.1)
install(FILES ${_aliot_man_pages} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
if(EXISTS ${PROJECT_SOURCE_DIR}/completions/aliot.bash)
  install(FILES ${PROJECT_SOURCE_DIR}/completions/aliot.bash
          DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME aliot)
endif()
if(EXISTS ${PROJECT_SOURCE_DIR}/completions/_aliot)
  install(FILES ${PROJECT_SOURCE_DIR}/completions/_aliot
          DESTINATION ${CMAKE_INSTALL_DATADIR}/zsh/site-functions)
endif()
if(EXISTS ${PROJECT_SOURCE_DIR}/completions/aliot.fish)
  install(FILES ${PROJECT_SOURCE_DIR}/completions/aliot.fish
          DESTINATION ${CMAKE_INSTALL_DATADIR}/fish/vendor_completions.d)
endif()
