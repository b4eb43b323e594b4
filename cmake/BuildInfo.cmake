# Script mode (cmake -P), run at every build by the qsm_build_info_source target: writes OUTPUT
# from build_info.cc.in with the source's git revision now, and rewrites it only when that changed
# (configure_file), so an unchanged tree recompiles nothing.
# In: SOURCE_DIR, OUTPUT, BUILD_TYPE, SANITIZERS, COMPILER.
execute_process(COMMAND git -C "${SOURCE_DIR}" describe --always --dirty --abbrev=12
                OUTPUT_VARIABLE QSM_REVISION OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE failed)
if(failed OR QSM_REVISION STREQUAL "")
  set(QSM_REVISION "unknown")
endif()
if(BUILD_TYPE STREQUAL "")
  set(BUILD_TYPE "unspecified")
endif()
set(QSM_BUILD_TYPE "${BUILD_TYPE}")
set(QSM_SANITIZERS "${SANITIZERS}")
set(QSM_COMPILER "${COMPILER}")
configure_file("${CMAKE_CURRENT_LIST_DIR}/build_info.cc.in" "${OUTPUT}" @ONLY)
