# What `cmake --install` puts in a prefix, and the .deb that CPack makes of it
# (docs/install.md is the user's side of this file).
#
# The five layer libraries (ringo_core, ringo_sim, ringo_uring, ringo_aio, ringo) are how
# the tree is built and tested; users get one library with all of them, libringo, so
# that -lringo and ringo::ringo mean the same thing whichever flavour is installed:
#   libringo.a             always (the default for find_package consumers);
#   libringo.so.X.Y.Z      with RINGO_BUILD_SHARED=ON (SONAME libringo.so.MAJOR.MINOR).
# Both are made from the layers' own object files, so nothing is compiled twice.
#
# Exported targets (namespace ringo::): ringo::ringo, the runtime; ringo::sim, the
# simulator's public API (ringo/sim.hpp, ringo/sim/*.hpp). The simulator's code is inside
# libringo (RINGO_BACKEND=sim needs it), so ringo::sim links ringo::ringo and adds nothing
# today; a program that drives Simulation itself names it so a later split keeps working.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(RINGO_CMAKE_INSTALL_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/ringo)
set(ringo_package_objects)
foreach(layer IN ITEMS ringo_core ringo_sim ringo_uring ringo_aio ringo)
  list(APPEND ringo_package_objects $<TARGET_OBJECTS:${layer}>)
endforeach()

# What a consumer of either flavour compiles with: the installed headers and C++23.
function(ringo_package_interface target)
  set_target_properties(${target} PROPERTIES OUTPUT_NAME ringo EXPORT_NAME ringo LINKER_LANGUAGE CXX
                        ARCHIVE_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/package
                        LIBRARY_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/package)
  target_include_directories(${target} INTERFACE $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  target_compile_features(${target} INTERFACE cxx_std_23)
endfunction()

# flavour: static or shared. Installs libringo of that flavour with its ringo::ringo and
# ringo::sim in ringoTargets-<flavour>.cmake; ringoConfig.cmake includes one of them.
function(ringo_package_install flavour library)
  add_library(ringo_package_sim_${flavour} INTERFACE)
  set_target_properties(ringo_package_sim_${flavour} PROPERTIES EXPORT_NAME sim)
  target_link_libraries(ringo_package_sim_${flavour} INTERFACE ${library})
  install(TARGETS ${library} ringo_package_sim_${flavour} EXPORT ringo-${flavour}
          ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
          LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
  install(EXPORT ringo-${flavour} NAMESPACE ringo:: FILE ringoTargets-${flavour}.cmake
          DESTINATION ${RINGO_CMAKE_INSTALL_DIR})
endfunction()

add_library(ringo_package_static STATIC ${ringo_package_objects})
ringo_package_interface(ringo_package_static)
# A static consumer links liburing itself; ringoConfig.cmake finds it as ringo::liburing.
target_link_libraries(ringo_package_static INTERFACE Threads::Threads $<INSTALL_INTERFACE:ringo::liburing>)
ringo_package_install(static ringo_package_static)

if(RINGO_BUILD_SHARED)
  add_library(ringo_package_shared SHARED ${ringo_package_objects})
  ringo_package_interface(ringo_package_shared)
  # 0.x: a minor release may change the ABI (public templates inline internal types), so
  # the SONAME carries MAJOR.MINOR; patch releases keep it (docs/install.md, Stability).
  set_target_properties(ringo_package_shared PROPERTIES VERSION ${PROJECT_VERSION}
                        SOVERSION ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR})
  target_link_libraries(ringo_package_shared PUBLIC Threads::Threads PRIVATE PkgConfig::URING)
  target_link_options(ringo_package_shared PRIVATE LINKER:--no-undefined)  # every symbol resolved
  ringo_package_install(shared ringo_package_shared)
endif()

# Headers: each layer's include/ tree, public and internal (public templates include
# ringo/internal/**; users never do), and the generated version header.
foreach(layer IN ITEMS core sim uring aio api)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/${layer}/include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
          FILES_MATCHING PATTERN "*.hpp")
endforeach()
install(FILES ${PROJECT_BINARY_DIR}/generated/include/ringo/version.hpp DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/ringo)

# ringoConfigVersion.cmake: while the major version is 0, a minor release may break the
# API, so 0.1 accepts 0.1.x only (SameMinorVersion); from 1.0 on, SameMajorVersion.
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(ringo_compatibility SameMinorVersion)
else()
  set(ringo_compatibility SameMajorVersion)
endif()
write_basic_package_version_file(${PROJECT_BINARY_DIR}/package/ringoConfigVersion.cmake
                                 COMPATIBILITY ${ringo_compatibility})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/ringoConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/package/ringoConfig.cmake
                              INSTALL_DESTINATION ${RINGO_CMAKE_INSTALL_DIR})
install(FILES ${PROJECT_BINARY_DIR}/package/ringoConfig.cmake ${PROJECT_BINARY_DIR}/package/ringoConfigVersion.cmake
        DESTINATION ${RINGO_CMAKE_INSTALL_DIR})

# ringo.pc, for pkg-config. -lringo finds libringo.so when it is installed (the linker
# prefers it), which records liburing itself: liburing is then only Requires.private. A
# static-only install makes -lringo the archive, which needs liburing and -pthread on every
# link, so they are plain Requires and Libs there. The prefix is the one installed into
# (cmake --install --prefix, DESTDIR and CPack included), so it is written at install time.
if(RINGO_BUILD_SHARED)
  set(RINGO_PC_REQUIRES "Requires.private")
  set(RINGO_PC_LIBS "")
  set(RINGO_PC_LIBS_PRIVATE "Libs.private: -pthread")
else()
  set(RINGO_PC_REQUIRES "Requires")
  set(RINGO_PC_LIBS " -pthread")
  set(RINGO_PC_LIBS_PRIVATE "")
endif()
set(RINGO_PC_PREFIX "@RINGO_PC_PREFIX@")  # kept for the install-time pass
configure_file(${PROJECT_SOURCE_DIR}/cmake/ringo.pc.in ${PROJECT_BINARY_DIR}/package/ringo.pc.in @ONLY)
install(CODE "set(RINGO_PC_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
configure_file(\"${PROJECT_BINARY_DIR}/package/ringo.pc.in\" \"${PROJECT_BINARY_DIR}/package/ringo.pc\" @ONLY)")
install(FILES ${PROJECT_BINARY_DIR}/package/ringo.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# The Debian package, libringo-dev: `cpack -G DEB` in the build tree (scripts/
# test-install.sh does it from a RINGO_BUILD_SHARED=ON build, so both libraries ship).
# Depends: liburing-dev (a static link and liburing's headers need it) at the version
# built against, plus what dpkg-shlibdeps reads off libringo.so (libc6, libstdc++6,
# libgcc-s1, liburing2).
set(RINGO_PACKAGE_CONTACT "ringo developers <ringo-dev@localhost>" CACHE STRING "Maintainer field of the .deb")
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME libringo-dev)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "${RINGO_PACKAGE_CONTACT}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Go-style concurrency runtime for C++23 on io_uring (development files)")
set(CPACK_PACKAGE_DESCRIPTION "ringo runs routines, channels, select, timers and cross-shard calls on a
thread-per-core runtime over io_uring (Linux AIO where io_uring is refused), and the same
program inside a deterministic simulator where a seed decides every interleaving. This
package has the headers, libringo.a and libringo.so, the CMake package (find_package(ringo),
targets ringo::ringo and ringo::sim) and ringo.pc for pkg-config.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "liburing-dev (>= ${URING_VERSION})")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
include(CPack)
