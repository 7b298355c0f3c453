#include "policy/cpu_threads.h"

#include <sched.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <string>
#include <thread>

#include <torch/torch.h>

namespace aha {

int AutomaticCpuThreads() {
  // LibTorch reads both itself.
  if (std::getenv("OMP_NUM_THREADS") != nullptr || std::getenv("MKL_NUM_THREADS") != nullptr) {
    return 0;
  }
  int cpus = 0;
  cpu_set_t mask;
  if (sched_getaffinity(0, sizeof(mask), &mask) == 0) cpus = CPU_COUNT(&mask);
  if (cpus <= 0) cpus = static_cast<int>(std::thread::hardware_concurrency());
  int local_ranks = 1;
  if (const char* env = std::getenv("LOCAL_WORLD_SIZE")) {
    local_ranks = std::max(1, std::atoi(env));
  }
  return std::max(1, cpus / local_ranks);
}

int ConfigureCpuThreads(int64_t requested) {
  const int threads = requested > 0 ? static_cast<int>(std::min<int64_t>(requested, INT_MAX))
                                    : AutomaticCpuThreads();
  if (threads > 0) torch::set_num_threads(threads);
  return torch::get_num_threads();
}

}  // namespace aha
