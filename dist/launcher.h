// Launcher: starts the ranks of a one-host data-parallel run as child processes, prefixes their
// output with the rank, and stops them all when one exits abnormally. Used by `aha launch`.
#ifndef AHA_DIST_LAUNCHER_H_
#define AHA_DIST_LAUNCHER_H_

#include <chrono>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "dist/rendezvous.h"

namespace aha::dist {

struct LaunchOptions {
  int nproc = 1;                           // ranks to start
  int master_port = kDefaultMasterPort;    // passed to the ranks as MASTER_PORT
  std::string program = "/proc/self/exe";  // each rank runs PROGRAM ARGS...
  std::vector<std::string> args;
  // The ranks' FileStore (AHA_STORE_FILE); empty picks a new file in the temp folder, which
  // is removed at the end.
  std::string store_file;
  // After a rank fails, the others get SIGTERM, then SIGKILL when still running after this.
  std::chrono::milliseconds grace{std::chrono::seconds(5)};
};

struct LaunchResult {
  // 0 when every rank exited with 0; otherwise the failed rank's exit code, or 128 + signal.
  int exit_code = 0;
  int failed_rank = -1;  // the first rank that exited abnormally; -1 when none did
  std::string failure;   // "rank 1 (pid 4242) was killed by signal 9 (Killed)"
};

// Starts options.nproc children with RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE,
// MASTER_ADDR=127.0.0.1, MASTER_PORT and AHA_STORE_FILE set, copies each line they write to
// this process's stdout or stderr behind "[rank R] ", and waits for all of them. SIGINT and
// SIGTERM sent to the launcher are passed on to the children. Returns an error only when a
// child cannot be started.
absl::StatusOr<LaunchResult> Launch(const LaunchOptions& options);

}  // namespace aha::dist

#endif  // AHA_DIST_LAUNCHER_H_
