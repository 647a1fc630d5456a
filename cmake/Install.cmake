# install() rules and an exported package so that another project can write
#   find_package(turboquant REQUIRED)
#   target_link_libraries(app PRIVATE turboquant::turboquant)
# or, for the codecs and the KV cache alone (no RocksDB, FlatBuffers or zlib
# needed where it is built):
#   find_package(turboquant REQUIRED COMPONENTS codec)
#   target_link_libraries(app PRIVATE turboquant::codec)
# tests/install/ checks both as a new user would.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS turboquant_codec EXPORT turboquantCodecTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS turboquant EXPORT turboquantTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/turboquant
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
foreach(export turboquantCodecTargets turboquantTargets)
  install(EXPORT ${export}
    NAMESPACE turboquant::
    DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/turboquant)
endforeach()

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/turboquantConfig.cmake.in
  ${PROJECT_BINARY_DIR}/turboquantConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/turboquant)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/turboquantConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES
  ${PROJECT_BINARY_DIR}/turboquantConfig.cmake
  ${PROJECT_BINARY_DIR}/turboquantConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/turboquant)
