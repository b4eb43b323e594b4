# Shared build settings and the one helper per kind of target: qsm_add_library, qsm_add_test,
# qsm_add_benchmark, qsm_add_fuzzer.

set(QSM_WARNINGS -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast
                 -Wcast-align -Wnull-dereference -Wimplicit-fallthrough
                 -Wno-missing-field-initializers)  # designated initializers rely on defaults
if(QSM_WERROR)
  list(APPEND QSM_WARNINGS -Werror)
endif()
if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  # libstdc++ 12 guards <expected> behind __cpp_concepts >= 202002L, which clang 16 implements
  # (P0848) but does not yet advertise.
  add_compile_options(-Wno-builtin-macro-redefined -U__cpp_concepts -D__cpp_concepts=202002L)
endif()
if(QSM_FUZZ)
  add_compile_options(-fsanitize=fuzzer-no-link)  # coverage for libFuzzer in every library
endif()
if(QSM_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=address,undefined)
endif()

set(QSM_SOURCE_ROOT ${CMAKE_CURRENT_LIST_DIR}/..)

# qsm_add_library(NAME SOURCES... [DEPS targets...])
function(qsm_add_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_compile_options(${name} PRIVATE ${QSM_WARNINGS})
  target_link_libraries(${name} PUBLIC ${ARG_DEPS})
endfunction()

# qsm_add_test(NAME SOURCES... DEPS... LABEL unit|sim|integration [NETNS] [TIMEOUT s])
# NETNS: when root, the test runs inside a fresh network namespace that has only `lo`, so any
# traffic that would leave loopback fails loudly instead of leaking.
function(qsm_add_test name)
  if(NOT QSM_TESTS)
    return()
  endif()
  cmake_parse_arguments(ARG "NETNS" "LABEL;TIMEOUT" "SOURCES;DEPS;ARGS" ${ARGN})
  if(NOT ARG_LABEL MATCHES "^(unit|sim|integration)$")
    message(FATAL_ERROR "qsm_add_test(${name}): LABEL must be unit, sim or integration")
  endif()
  add_executable(${name} ${ARG_SOURCES})
  target_compile_options(${name} PRIVATE ${QSM_WARNINGS})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gtest_main GTest::gmock)
  if(ARG_NETNS)
    add_test(NAME ${name}
             COMMAND ${QSM_SOURCE_ROOT}/scripts/in-netns.sh $<TARGET_FILE:${name}> ${ARG_ARGS})
  else()
    add_test(NAME ${name} COMMAND ${name} ${ARG_ARGS})
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  set_tests_properties(${name} PROPERTIES LABELS ${ARG_LABEL} TIMEOUT ${ARG_TIMEOUT})
endfunction()

# qsm_add_benchmark(NAME SOURCES... DEPS...): a Google Benchmark program; prints, never asserts.
function(qsm_add_benchmark name)
  if(NOT QSM_BENCHMARKS)
    return()
  endif()
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_compile_options(${name} PRIVATE ${QSM_WARNINGS})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} benchmark::benchmark)
endfunction()

# qsm_add_fuzzer(NAME SOURCES... DEPS...): a libFuzzer target (clang, QSM_FUZZ=ON only).
function(qsm_add_fuzzer name)
  if(NOT QSM_FUZZ)
    return()
  endif()
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_compile_options(${name} PRIVATE ${QSM_WARNINGS} -fsanitize=fuzzer)
  target_link_libraries(${name} PRIVATE ${ARG_DEPS})
  target_link_options(${name} PRIVATE -fsanitize=fuzzer)
endfunction()

# qsm_add_version_test(TARGET): `TARGET --version` prints its name, revision and build
# (engine/core/build_info.h) and exits 0.
function(qsm_add_version_test target)
  if(NOT QSM_TESTS)
    return()
  endif()
  add_test(NAME ${target}_version COMMAND ${target} --version)
  set_tests_properties(${target}_version PROPERTIES LABELS unit
                       PASS_REGULAR_EXPRESSION "^${target} [0-9a-z.-]+ \\([A-Za-z]+ build, sanitizers: [a-z,]+, ")
endfunction()
