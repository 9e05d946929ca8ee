# Installs the library built by cargo under the usual names:
#   lib/libequipot.so.X.Y.Z, lib/libequipot.so.<abi> -> it, lib/libequipot.so -> that,
#   lib/libequipot.a, include/equipot.h, include/equipot.hpp,
#   share/equipot/fortran/equipot.f90,
#   lib/cmake/equipot/{equipotConfig,equipotConfigVersion}.cmake,
#   lib/pkgconfig/equipot.pc
include(CMakePackageConfigHelpers)

set(_libdir "${CMAKE_INSTALL_LIBDIR}")
set(_links "${CMAKE_CURRENT_BINARY_DIR}/links")
file(MAKE_DIRECTORY "${_links}")
file(CREATE_LINK "${EQUIPOT_SHARED_FILE}" "${_links}/${EQUIPOT_SONAME}" SYMBOLIC)
file(CREATE_LINK "${EQUIPOT_SONAME}" "${_links}/libequipot.so" SYMBOLIC)

install(PROGRAMS "${EQUIPOT_CARGO_OUT}/libequipot.so" DESTINATION "${_libdir}" RENAME "${EQUIPOT_SHARED_FILE}")
install(FILES "${_links}/${EQUIPOT_SONAME}" "${_links}/libequipot.so" DESTINATION "${_libdir}")
install(FILES "${EQUIPOT_CARGO_OUT}/libequipot.a" DESTINATION "${_libdir}")
install(FILES include/equipot.h bindings/cpp/equipot.hpp DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")
install(FILES bindings/fortran/equipot.f90 DESTINATION "${CMAKE_INSTALL_DATADIR}/equipot/fortran")

# CMake package.
set(_cmakedir "${_libdir}/cmake/equipot")
configure_package_config_file(cmake/equipotConfig.cmake.in
    "${CMAKE_CURRENT_BINARY_DIR}/equipotConfig.cmake"
    INSTALL_DESTINATION "${_cmakedir}"
    PATH_VARS CMAKE_INSTALL_LIBDIR CMAKE_INSTALL_INCLUDEDIR)
# Before 1.0 a minor version may break the ABI: only the same MAJOR.MINOR fits.
write_basic_package_version_file("${CMAKE_CURRENT_BINARY_DIR}/equipotConfigVersion.cmake"
    COMPATIBILITY SameMinorVersion)
install(FILES "${CMAKE_CURRENT_BINARY_DIR}/equipotConfig.cmake"
              "${CMAKE_CURRENT_BINARY_DIR}/equipotConfigVersion.cmake"
        DESTINATION "${_cmakedir}")

# pkg-config file, relocatable: its prefix is found from its own folder.
file(RELATIVE_PATH EQUIPOT_PC_TO_PREFIX "/prefix/${_libdir}/pkgconfig" "/prefix")
string(REGEX REPLACE "/$" "" EQUIPOT_PC_TO_PREFIX "${EQUIPOT_PC_TO_PREFIX}")
list(TRANSFORM EQUIPOT_STATIC_DEPS PREPEND "-l" OUTPUT_VARIABLE _static_flags)
list(JOIN _static_flags " " EQUIPOT_PC_LIBS_PRIVATE)
configure_file(cmake/equipot.pc.in "${CMAKE_CURRENT_BINARY_DIR}/equipot.pc" @ONLY)
install(FILES "${CMAKE_CURRENT_BINARY_DIR}/equipot.pc" DESTINATION "${_libdir}/pkgconfig")
