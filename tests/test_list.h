/* Every test, in one place. `runner NAME` runs one; CMake registers each
 * with ctest (tests/CMakeLists.txt reads this file). */
#include "test.h"

#define TEST_LIST(XX)                                                          \
  XX(varint_roundtrip)                                                         \
  XX(varint_rejects)                                                           \
  XX(zigzag)                                                                   \
  XX(crc32c)                                                                   \
  XX(event_decode)                                                             \
  XX(api_errors)                                                               \
  XX(api_restart_and_flush)                                                    \
  XX(api_fork)                                                                 \
  XX(roundtrip)                                                                \
  XX(sample_pipeline)                                                          \
  XX(stress_threads)                                                           \
  XX(stress_signals)                                                           \
  XX(drops_counted)                                                            \
  XX(killed_process)                                                           \
  XX(corrupt_truncated)                                                        \
  XX(corrupt_bitflips)                                                         \
  XX(corrupt_no_crc)                                                           \
  XX(cli_golden_files)                                                         \
  XX(cli_usage)

TEST_LIST(TEST_DECLARE)
