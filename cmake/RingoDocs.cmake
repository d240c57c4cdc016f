# The API reference (Doxygen over the public headers): the `docs` target, which `make docs`
# builds. Absent when Doxygen is not installed (scripts/setup-deps.sh installs it).
find_program(RINGO_DOXYGEN doxygen)
find_package(Python3 COMPONENTS Interpreter QUIET)
if(RINGO_DOXYGEN AND Python3_FOUND)
  set(RINGO_DOCS_OUTPUT ${PROJECT_BINARY_DIR}/api-reference CACHE PATH "Where the docs target writes html/ and warnings.log")
  configure_file(${PROJECT_SOURCE_DIR}/docs/api/Doxyfile.in ${PROJECT_BINARY_DIR}/Doxyfile @ONLY)
  add_custom_target(docs
    COMMAND ${CMAKE_COMMAND} -E make_directory ${RINGO_DOCS_OUTPUT}
    COMMAND ${RINGO_DOXYGEN} ${PROJECT_BINARY_DIR}/Doxyfile
    COMMENT "Doxygen: the API reference in ${RINGO_DOCS_OUTPUT}/html"
    VERBATIM)
endif()
