// A child process connected by pipes, for the command reward.
#include "rewards/child_process.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

extern char** environ;

namespace aha {
namespace {

// A reply longer than this is treated as a runaway child instead of growing memory without end.
constexpr size_t kMaxLineBytes = size_t{256} << 20;

std::string ErrnoMessage(int error) { return std::strerror(error); }

void CloseFd(int& fd) {
  if (fd >= 0) close(fd);
  fd = -1;
}

// Blocks SIGPIPE on this thread while alive, so writing to a pipe whose reader has exited
// fails with EPIPE instead of killing the process; a SIGPIPE raised meanwhile is consumed.
// Reward commands run in their own process groups, so a Ctrl-C at the terminal does not reach
// them, and a child that hangs would outlive aha. These slots list the live groups, and
// SIGINT, SIGTERM and SIGHUP, as well as exit(), kill them first.
constexpr int kMaxLiveGroups = 64;
std::atomic<pid_t> live_groups[kMaxLiveGroups];
struct sigaction saved_stop_actions[3];
constexpr int kStopSignals[3] = {SIGINT, SIGTERM, SIGHUP};

void KillLiveGroups() {
  for (std::atomic<pid_t>& group : live_groups) {
    const pid_t pid = group.load();
    if (pid > 0) kill(-pid, SIGKILL);
  }
}

// Spawns between posix_spawnp and RegisterLiveGroup. A stop signal in that window used to end
// aha and leave the new child running. The spawning thread now blocks the stop signals, so a
// handler runs on another thread and can wait for the registration.
std::atomic<int> spawns_in_flight{0};

void OnStopSignal(int signal) {
  while (spawns_in_flight.load() > 0) {
  }
  KillLiveGroups();
  for (int i = 0; i < 3; ++i) {
    if (kStopSignals[i] == signal) sigaction(signal, &saved_stop_actions[i], nullptr);
  }
  raise(signal);
}

void InstallStopHandlers() {
  static std::once_flag once;
  std::call_once(once, [] {
    std::atexit(KillLiveGroups);
    struct sigaction action = {};
    action.sa_handler = OnStopSignal;
    sigemptyset(&action.sa_mask);
    for (int i = 0; i < 3; ++i) {
      sigaction(kStopSignals[i], nullptr, &saved_stop_actions[i]);
      // A signal that was ignored when aha started (nohup) stays ignored.
      if (saved_stop_actions[i].sa_handler == SIG_IGN) continue;
      sigaction(kStopSignals[i], &action, nullptr);
    }
  });
}

void RegisterLiveGroup(pid_t pid) {
  for (std::atomic<pid_t>& group : live_groups) {
    pid_t empty = 0;
    if (group.compare_exchange_strong(empty, pid)) return;
  }
}

void UnregisterLiveGroup(pid_t pid) {
  for (std::atomic<pid_t>& group : live_groups) {
    pid_t expected = pid;
    if (group.compare_exchange_strong(expected, 0)) return;
  }
}

// Marks a spawn in flight and blocks the stop signals on this thread until the new child is
// registered.
class ScopedSpawnWindow {
 public:
  ScopedSpawnWindow() {
    InstallStopHandlers();
    sigset_t stop;
    sigemptyset(&stop);
    for (int signal : kStopSignals) sigaddset(&stop, signal);
    pthread_sigmask(SIG_BLOCK, &stop, &old_mask_);
    spawns_in_flight.fetch_add(1);
  }
  ~ScopedSpawnWindow() {
    spawns_in_flight.fetch_sub(1);
    pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
  }

 private:
  sigset_t old_mask_;
};

class ScopedSigpipeBlock {
 public:
  ScopedSigpipeBlock() {
    sigemptyset(&sigpipe_);
    sigaddset(&sigpipe_, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &sigpipe_, &old_mask_);
  }

  ~ScopedSigpipeBlock() {
    sigset_t pending;
    sigpending(&pending);
    if (!was_pending_ && sigismember(&pending, SIGPIPE) == 1) {
      timespec zero{0, 0};
      sigtimedwait(&sigpipe_, nullptr, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
  }

 private:
  sigset_t sigpipe_;
  sigset_t old_mask_;
  bool was_pending_ = false;
};

}  // namespace

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::Spawn(
    const std::vector<std::string>& argv) {
  if (argv.empty()) return absl::InvalidArgumentError("the command is empty");
  int to_child[2];
  int from_child[2];
  if (pipe2(to_child, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe2 failed: ", ErrnoMessage(errno)));
  }
  if (pipe2(from_child, O_CLOEXEC) != 0) {
    int error = errno;
    close(to_child[0]);
    close(to_child[1]);
    return absl::InternalError(absl::StrCat("pipe2 failed: ", ErrnoMessage(error)));
  }

  // dup2 clears O_CLOEXEC on the child's stdin and stdout; every other pipe end closes at exec.
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, to_child[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, from_child[1], STDOUT_FILENO);

  // The child starts with no blocked signals and default SIGPIPE/SIGINT handling, whatever
  // the calling thread had, and in its own process group so that a kill also reaches the
  // processes it started.
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t empty;
  sigemptyset(&empty);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  sigaddset(&defaults, SIGINT);
  sigaddset(&defaults, SIGTERM);
  posix_spawnattr_setsigmask(&attributes, &empty);
  posix_spawnattr_setsigdefault(&attributes, &defaults);
  posix_spawnattr_setpgroup(&attributes, 0);
  posix_spawnattr_setflags(&attributes,
                           POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);

  std::vector<char*> c_argv;
  for (const std::string& arg : argv) c_argv.push_back(const_cast<char*>(arg.c_str()));
  c_argv.push_back(nullptr);

  pid_t pid = -1;
  int error = 0;
  {
    ScopedSpawnWindow window;
    error = posix_spawnp(&pid, c_argv[0], &actions, &attributes, c_argv.data(), environ);
    if (error == 0) RegisterLiveGroup(pid);
  }
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  close(to_child[0]);
  close(from_child[1]);
  if (error != 0) {
    close(to_child[1]);
    close(from_child[0]);
    std::string hint;
    // ENOENT for a file that exists means its #! line names a missing interpreter.
    if (error == ENOENT && argv[0].find('/') != std::string::npos &&
        access(argv[0].c_str(), F_OK) == 0) {
      hint = "; the file exists, so the interpreter on its #! line is probably missing";
    }
    return absl::FailedPreconditionError(absl::StrCat("cannot start [", absl::StrJoin(argv, ", "),
                                                      "]: ", ErrnoMessage(error), hint));
  }
  fcntl(to_child[1], F_SETFL, fcntl(to_child[1], F_GETFL) | O_NONBLOCK);
  fcntl(from_child[0], F_SETFL, fcntl(from_child[0], F_GETFL) | O_NONBLOCK);
  return std::unique_ptr<ChildProcess>(new ChildProcess(pid, to_child[1], from_child[0]));
}

ChildProcess::ChildProcess(pid_t pid, int stdin_fd, int stdout_fd)
    : pid_(pid), stdin_fd_(stdin_fd), stdout_fd_(stdout_fd) {}

ChildProcess::~ChildProcess() {
  CloseFd(stdin_fd_);  // a well-behaved child exits on end of input
  DescribeExit(std::chrono::milliseconds(500));
  Kill();
}

void ChildProcess::Kill() {
  if (!reaped_) {
    kill(-pid_, SIGKILL);
    kill(pid_, SIGKILL);
    while (waitpid(pid_, &exit_status_, 0) < 0 && errno == EINTR) {
    }
    reaped_ = true;
    UnregisterLiveGroup(pid_);
  }
  CloseFd(stdin_fd_);
  CloseFd(stdout_fd_);
}

std::optional<std::string> ChildProcess::EndedWithin(std::chrono::milliseconds wait) {
  std::string description = DescribeExit(wait);
  if (!reaped_) return std::nullopt;
  return description;
}

std::string ChildProcess::DescribeExit(std::chrono::milliseconds wait) {
  Clock::time_point deadline = Clock::now() + wait;
  while (!reaped_) {
    pid_t result = waitpid(pid_, &exit_status_, WNOHANG);
    if (result == pid_) {
      reaped_ = true;
      kill(-pid_, SIGKILL);  // whatever the child left running in its group
      UnregisterLiveGroup(pid_);
      break;
    }
    if (result < 0 && errno != EINTR) break;
    if (Clock::now() >= deadline) return "is still running";
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (!reaped_) return "is in an unknown state";
  if (WIFEXITED(exit_status_)) return absl::StrCat("exited with status ", WEXITSTATUS(exit_status_));
  if (WIFSIGNALED(exit_status_)) {
    return absl::StrCat("was killed by signal ", WTERMSIG(exit_status_), " (",
                        strsignal(WTERMSIG(exit_status_)), ")");
  }
  return "ended";
}

absl::Status ChildProcess::WriteSome(std::string_view data, size_t& written) {
  ScopedSigpipeBlock block_sigpipe;
  ssize_t n = write(stdin_fd_, data.data() + written, data.size() - written);
  if (n >= 0) {
    written += static_cast<size_t>(n);
    return absl::OkStatus();
  }
  if (errno == EAGAIN || errno == EINTR) return absl::OkStatus();
  if (errno == EPIPE) {
    return absl::UnavailableError(absl::StrCat(
        "the command closed its stdin before reading the request; it ",
        DescribeExit(std::chrono::milliseconds(100))));
  }
  return absl::InternalError(absl::StrCat("writing to the command failed: ", ErrnoMessage(errno)));
}

absl::Status ChildProcess::ReadSome() {
  char chunk[65536];
  ssize_t n = read(stdout_fd_, chunk, sizeof(chunk));
  if (n > 0) {
    buffer_.append(chunk, static_cast<size_t>(n));
    if (buffer_.size() > kMaxLineBytes) {
      return absl::ResourceExhaustedError(
          absl::StrCat("the command wrote more than ", kMaxLineBytes, " bytes without a newline"));
    }
    return absl::OkStatus();
  }
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return absl::OkStatus();
  if (n < 0) {
    return absl::InternalError(absl::StrCat("reading from the command failed: ", ErrnoMessage(errno)));
  }
  return absl::UnavailableError(absl::StrCat("the command closed its stdout before replying; it ",
                                             DescribeExit(std::chrono::milliseconds(100))));
}

absl::StatusOr<std::string> ChildProcess::Exchange(std::string_view request,
                                                   Clock::time_point deadline) {
  if (stdin_fd_ < 0 || stdout_fd_ < 0) return absl::UnavailableError("the command was stopped");
  size_t written = 0;
  while (true) {
    // Only the bytes read since the last search can hold the newline, so a long line is
    // scanned once in all, not once per chunk.
    const size_t newline = buffer_.find('\n', scanned_);
    scanned_ = newline == std::string::npos ? buffer_.size() : 0;
    if (newline != std::string::npos) {
      std::string line = buffer_.substr(0, newline);
      buffer_.erase(0, newline + 1);
      if (written < request.size()) {
        return absl::FailedPreconditionError(
            "the command replied before reading the whole request");
      }
      return line;
    }

    auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (remaining.count() <= 0) return absl::DeadlineExceededError("timed out");

    pollfd fds[2];
    int count = 0;
    int stdin_index = -1;
    if (written < request.size()) {
      stdin_index = count;
      fds[count++] = {stdin_fd_, POLLOUT, 0};
    }
    int stdout_index = count;
    fds[count++] = {stdout_fd_, POLLIN, 0};
    int ready = poll(fds, count, static_cast<int>(std::min<int64_t>(remaining.count() + 1, 60000)));
    if (ready < 0 && errno != EINTR) {
      return absl::InternalError(absl::StrCat("poll failed: ", ErrnoMessage(errno)));
    }
    if (ready <= 0) continue;

    if (stdin_index >= 0 && fds[stdin_index].revents != 0) {
      absl::Status status = WriteSome(request, written);
      if (!status.ok()) return status;
    }
    if (fds[stdout_index].revents != 0) {
      absl::Status status = ReadSome();
      if (!status.ok()) return status;
    }
  }
}

bool ChildProcess::HasUnexpectedOutput() {
  if (!buffer_.empty() || stdout_fd_ < 0) return true;
  pollfd fd = {stdout_fd_, POLLIN, 0};
  return poll(&fd, 1, 0) > 0;
}

}  // namespace aha
