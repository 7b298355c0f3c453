#include "policy/cpu_threads.h"

#include <sched.h>
#include <stdlib.h>

#include <optional>
#include <string>

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace aha {
namespace {

// Sets or unsets an environment variable for one test and restores it afterwards.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = getenv(name)) previous_ = old;
    if (value != nullptr) {
      setenv(name, value, 1);
    } else {
      unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (previous_) {
      setenv(name_, previous_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> previous_;
};

int UsableCpus() {
  cpu_set_t mask;
  EXPECT_EQ(sched_getaffinity(0, sizeof(mask), &mask), 0);
  return CPU_COUNT(&mask);
}

TEST(CpuThreadsTest, OmpNumThreadsDefersToLibTorch) {
  ScopedEnv omp("OMP_NUM_THREADS", "1");
  EXPECT_EQ(AutomaticCpuThreads(), 0);
  const int previous = torch::get_num_threads();
  torch::set_num_threads(3);
  EXPECT_EQ(ConfigureCpuThreads(0), 3);  // left alone
  torch::set_num_threads(previous);
}

TEST(CpuThreadsTest, MklNumThreadsDefersToLibTorch) {
  ScopedEnv omp("OMP_NUM_THREADS", nullptr);
  ScopedEnv mkl("MKL_NUM_THREADS", "1");
  EXPECT_EQ(AutomaticCpuThreads(), 0);
}

TEST(CpuThreadsTest, AutomaticCountIsTheUsableCpus) {
  ScopedEnv omp("OMP_NUM_THREADS", nullptr);
  ScopedEnv mkl("MKL_NUM_THREADS", nullptr);
  ScopedEnv local("LOCAL_WORLD_SIZE", nullptr);
  EXPECT_EQ(AutomaticCpuThreads(), UsableCpus());
  const int previous = torch::get_num_threads();
  EXPECT_EQ(ConfigureCpuThreads(0), UsableCpus());
  torch::set_num_threads(previous);
}

TEST(CpuThreadsTest, LocalRanksShareTheCpus) {
  ScopedEnv omp("OMP_NUM_THREADS", nullptr);
  ScopedEnv mkl("MKL_NUM_THREADS", nullptr);
  ScopedEnv local("LOCAL_WORLD_SIZE", "2");
  EXPECT_EQ(AutomaticCpuThreads(), std::max(1, UsableCpus() / 2));
  ScopedEnv many("LOCAL_WORLD_SIZE", "1000");
  EXPECT_EQ(AutomaticCpuThreads(), 1);
  ScopedEnv garbage("LOCAL_WORLD_SIZE", "two");  // not a number: counted as one rank
  EXPECT_EQ(AutomaticCpuThreads(), UsableCpus());
}

TEST(CpuThreadsTest, RequestedCountWins) {
  const int previous = torch::get_num_threads();
  EXPECT_EQ(ConfigureCpuThreads(3), 3);
  EXPECT_EQ(torch::get_num_threads(), 3);
  torch::set_num_threads(previous);
}

}  // namespace
}  // namespace aha
