# Helpers that give every folder the same shape: one library target, one test binary.
#
#   podiam_library(NAME base SOURCES a.cpp b.cpp DEPS fmt::fmt)
#     -> target podiam_base, alias podiam::base, include root src/
#   podiam_test(NAME base SOURCES a_test.cpp DEPS podiam::base)
#     -> executable podiam_base_test registered with ctest through gtest_discover_tests
#   podiam_itest(NAME aws SOURCES sts_itest.cpp DEPS podiam::aws podiam::transport)
#     -> executable podiam_aws_itest (gtest), NOT registered with ctest: it needs a live peer and
#        a tests/integration/*.py file runs it
#   podiam_tool(NAME sigv4 SOURCES sigv4_tool.cpp DEPS podiam::aws)
#     -> executable podiam_sigv4_tool, a helper program for tests and benchmarks
#
# One naming scheme inside a library folder: `<unit>_test.cpp` unit tests (podiam_<folder>_test),
# `<what>_itest.cpp` integration tests (podiam_<folder>_itest), `<what>_tool.cpp` tools
# (podiam_<what>_tool). Everything else is library code.

set(PODIAM_SOURCE_ROOT "${CMAKE_CURRENT_LIST_DIR}/..")

add_library(podiam_warnings INTERFACE)
target_compile_options(podiam_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast -Wcast-align
  -Woverloaded-virtual -Wimplicit-fallthrough -Wformat=2
  # GCC 12 warns when a designated initializer omits members that have defaults, which is the
  # whole point of Options structs with designated initialisers.
  -Wno-missing-field-initializers
  # GCC 12 at -O3 reports impossible overlaps in libstdc++'s inlined `"literal" + std::string`
  # (GCC bug 105329); Release builds would otherwise fail on correct code.
  $<$<CXX_COMPILER_ID:GNU>:-Wno-restrict>
  $<$<BOOL:${PODIAM_WERROR}>:-Werror>)

add_library(podiam_sanitize INTERFACE)
if(PODIAM_FUZZ)
  # Fuzzing: ASan+UBSan everywhere, plus libFuzzer's coverage instrumentation in every library so
  # that the fuzzer sees the edges it reaches inside them (fuzz/CMakeLists.txt links the driver).
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "PODIAM_FUZZ=ON needs clang: -DCMAKE_CXX_COMPILER=clang++")
  endif()
  target_compile_options(podiam_sanitize INTERFACE
    -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
    -fno-sanitize-recover=undefined)
  target_link_options(podiam_sanitize INTERFACE -fsanitize=address,undefined)
elseif(PODIAM_SANITIZE)
  target_compile_options(podiam_sanitize INTERFACE
    -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  target_link_options(podiam_sanitize INTERFACE -fsanitize=address,undefined)
endif()

function(podiam_library)
  cmake_parse_arguments(ARG "" "NAME" "SOURCES;DEPS" ${ARGN})
  set(target podiam_${ARG_NAME})
  add_library(${target} STATIC ${ARG_SOURCES})
  add_library(podiam::${ARG_NAME} ALIAS ${target})
  target_include_directories(${target} PUBLIC "${PODIAM_SOURCE_ROOT}/src")
  target_link_libraries(${target} PUBLIC ${ARG_DEPS} PRIVATE podiam_warnings podiam_sanitize)
  target_link_libraries(${target} INTERFACE podiam_sanitize)
endfunction()

# A gtest executable: podiam_test() and podiam_itest() differ only in registering it with ctest.
function(podiam_gtest_executable target)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${target} ${ARG_SOURCES})
  target_include_directories(${target} PRIVATE "${PODIAM_SOURCE_ROOT}")
  target_link_libraries(${target} PRIVATE ${ARG_DEPS} GTest::gmock GTest::gtest_main
                                          podiam_warnings podiam_sanitize)
endfunction()

function(podiam_test)
  cmake_parse_arguments(ARG "" "NAME" "SOURCES;DEPS" ${ARGN})
  podiam_gtest_executable(podiam_${ARG_NAME}_test SOURCES ${ARG_SOURCES} DEPS ${ARG_DEPS})
  gtest_discover_tests(podiam_${ARG_NAME}_test DISCOVERY_TIMEOUT 60 PROPERTIES LABELS unit)
endfunction()

function(podiam_itest)
  cmake_parse_arguments(ARG "" "NAME" "SOURCES;DEPS" ${ARGN})
  podiam_gtest_executable(podiam_${ARG_NAME}_itest SOURCES ${ARG_SOURCES} DEPS ${ARG_DEPS})
endfunction()

function(podiam_tool)
  cmake_parse_arguments(ARG "" "NAME" "SOURCES;DEPS" ${ARGN})
  set(target podiam_${ARG_NAME}_tool)
  add_executable(${target} ${ARG_SOURCES})
  target_link_libraries(${target} PRIVATE ${ARG_DEPS} podiam_warnings podiam_sanitize)
endfunction()
