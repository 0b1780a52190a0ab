# Small helpers shared by the tree's CMakeLists.

# awq_add_subdirectories(dir...): add each listed subdirectory that has a CMakeLists.txt. The lists are explicit
# (no globbing); a folder a later piece of work fills in is simply skipped until it exists.
function(awq_add_subdirectories)
  foreach(d ${ARGN})
    if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${d}/CMakeLists.txt)
      add_subdirectory(${d})
    endif()
  endforeach()
endfunction()

# awq_gtest(name SOURCES a.cc b.cc LIBS lib... [LABELS l...]): a GoogleTest binary registered with ctest, with the
# shared assets folder passed in as AWQSERVE_SHARED_DIR.
function(awq_gtest name)
  cmake_parse_arguments(T "" "" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS} GTest::gtest GTest::gtest_main)
  target_compile_definitions(${name} PRIVATE
    AWQSERVE_SHARED_DIR="${AWQSERVE_SHARED_DIR}"
    AWQSERVE_BINARY_DIR="${CMAKE_BINARY_DIR}"
    AWQSERVE_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 PROPERTIES LABELS "${T_LABELS}")
endfunction()
