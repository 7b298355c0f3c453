// Temporary paths unique to one test process and test case: ctest runs each test case as its
// own process, in parallel, so a fixed name under the temp folder would be shared and raced on.
#ifndef AHA_TESTS_UNIQUE_TEMP_PATH_H_
#define AHA_TESTS_UNIQUE_TEMP_PATH_H_

#include <unistd.h>

#include <filesystem>
#include <string>

#include <gtest/gtest.h>

namespace aha_test {

// Returns TMPDIR/PREFIX_PID_TESTNAME; nothing is created.
inline std::string UniqueTempPath(const std::string& prefix) {
  const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const std::string test = info != nullptr ? info->name() : "outside_test";
  return (std::filesystem::temp_directory_path() /
          (prefix + "_" + std::to_string(::getpid()) + "_" + test))
      .string();
}

}  // namespace aha_test

#endif  // AHA_TESTS_UNIQUE_TEMP_PATH_H_
