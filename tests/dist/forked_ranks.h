// Runs the ranks of a test's process group as forked children of the test process, meeting
// through a FileStore, with Gloo on 127.0.0.1.
#ifndef AHA_TESTS_DIST_FORKED_RANKS_H_
#define AHA_TESTS_DIST_FORKED_RANKS_H_

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "dist/communicator.h"

namespace aha_test {

// Forks `world` ranks. Each joins the group and runs `body`, whose return value becomes the
// child's exit code (a failed join exits with 100). Returns the children's pids; collect them
// with WaitForRanks. Call before the parent runs any LibTorch op, so that no thread pool is
// forked.
inline std::vector<pid_t> ForkRanks(
    int world, const std::string& store_file, const aha::dist::CommunicatorOptions& options,
    const std::function<int(aha::dist::Communicator&)>& body) {
  std::vector<pid_t> pids;
  for (int rank = 0; rank < world; ++rank) {
    std::fflush(nullptr);
    const pid_t pid = fork();
    if (pid != 0) {
      pids.push_back(pid);
      continue;
    }
    aha::dist::DistEnv env;
    env.rank = rank;
    env.world_size = world;
    env.local_rank = rank;
    env.store = aha::dist::StoreKind::kFile;
    env.store_file = store_file;
    auto comm = aha::dist::Communicator::Create(env, options);
    if (!comm.ok()) {
      std::fprintf(stderr, "rank %d: %s\n", rank, std::string(comm.status().message()).c_str());
      std::fflush(nullptr);
      _exit(100);
    }
    const int code = body(**comm);
    std::fflush(nullptr);
    _exit(code);
  }
  return pids;
}

// Waits for every pid; returns the exit codes, or 128 + signal for a killed child.
inline std::vector<int> WaitForRanks(const std::vector<pid_t>& pids) {
  std::vector<int> codes;
  for (pid_t pid : pids) {
    int status = 0;
    waitpid(pid, &status, 0);
    codes.push_back(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
  }
  return codes;
}

}  // namespace aha_test

#endif  // AHA_TESTS_DIST_FORKED_RANKS_H_
