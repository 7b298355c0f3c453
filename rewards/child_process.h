// A child process started from an argv (posix_spawnp, never a shell), with its stdin and
// stdout connected to pipes, for line-based request/response exchanges with a deadline.
#ifndef AHA_REWARDS_CHILD_PROCESS_H_
#define AHA_REWARDS_CHILD_PROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace aha {

class ChildProcess {
 public:
  using Clock = std::chrono::steady_clock;

  // Starts argv[0], searched in PATH, in its own process group. Its stderr is the parent's,
  // so its tracebacks reach the user. Fails when the program cannot be executed.
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Spawn(const std::vector<std::string>& argv);

  // Closes the child's stdin, gives it up to 0.5 s to exit, then kills its process group.
  ~ChildProcess();

  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Writes `request` (which should end in '\n') to the child's stdin and returns the next
  // line of its stdout, without the '\n'. Fails with DeadlineExceeded at `deadline`, and with
  // Unavailable when the child closed a pipe or exited. SIGPIPE is blocked while writing.
  absl::StatusOr<std::string> Exchange(std::string_view request, Clock::time_point deadline);

  // Returns true when the child wrote output that no request asked for, or closed its stdout
  // (for example because it exited), so the next exchange would be out of step.
  bool HasUnexpectedOutput();

  // Kills the child's process group with SIGKILL and reaps the child.
  void Kill();

  // How the child ended ("exited with status 2") if it ends within `wait`, or nullopt while
  // it keeps running.
  std::optional<std::string> EndedWithin(std::chrono::milliseconds wait);

  pid_t pid() const { return pid_; }

 private:
  ChildProcess(pid_t pid, int stdin_fd, int stdout_fd);

  // Describes how the child ended ("exited with status 1", "killed by signal 9"), or that it
  // is still running, waiting up to `wait` for it to end.
  std::string DescribeExit(std::chrono::milliseconds wait);

  absl::Status WriteSome(std::string_view data, size_t& written);
  absl::Status ReadSome();

  pid_t pid_;
  int stdin_fd_;
  int stdout_fd_;
  bool reaped_ = false;
  int exit_status_ = 0;
  std::string buffer_;  // stdout read past the last returned line
  size_t scanned_ = 0;  // leading bytes of buffer_ known to hold no newline
};

}  // namespace aha

#endif  // AHA_REWARDS_CHILD_PROCESS_H_
