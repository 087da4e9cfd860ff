# ringleader_collective_harness: the nccl-tests-style harness (rank pattern, timing, bandwidth,
# spreads, RESULT lines) shared by the all-reduce benches and the collective tests. Included by
# each consumer's CMakeLists (bench/allreduce, tests/runtime) rather than added as a folder, so it
# exists whenever either of them is built (RINGLEADER_BUILD_TESTS and RINGLEADER_BUILD_BENCH are
# independent) and in the runtime-only build: it needs nothing but the runtime libraries.
include_guard(GLOBAL)
add_library(ringleader_collective_harness STATIC
  ${CMAKE_CURRENT_LIST_DIR}/collective_harness.cc
  ${CMAKE_CURRENT_LIST_DIR}/rank_pattern.cc)
target_include_directories(ringleader_collective_harness PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(ringleader_collective_harness PUBLIC ringleader_runtime)
