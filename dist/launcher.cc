// Spawns and supervises the ranks of `aha launch`: one poll loop reads their output and reaps
// them, so no thread is needed.
#include "dist/launcher.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <random>

#include "absl/strings/str_cat.h"

namespace aha::dist {
namespace {

using Clock = std::chrono::steady_clock;

std::atomic<int> pending_signal{0};

void RememberSignal(int signal) { pending_signal = signal; }

struct Stream {
  int fd = -1;
  std::FILE* sink = nullptr;  // stdout or stderr of the launcher
  std::string partial;        // text after the last newline
};

struct Rank {
  pid_t pid = -1;
  Stream out, err;
  std::optional<int> wait_status;  // set once reaped
};

std::string NewStoreFile() {
  std::random_device random;
  return (std::filesystem::temp_directory_path() /
          absl::StrCat("aha-store-", getpid(), "-", random()))
      .string();
}

// Runs in the child between fork and exec.
[[noreturn]] void ExecRank(const LaunchOptions& options, const std::string& store_file, int rank,
                           int out_fd, int err_fd, const sigset_t& unblocked) {
  // The launcher's handlers were inherited, and a SIGTERM they caught here would be lost, so
  // the default action is restored before the signals blocked around fork are let through.
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  sigprocmask(SIG_SETMASK, &unblocked, nullptr);
  // The ranks die with the launcher, even when it is killed with SIGKILL.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  dup2(out_fd, STDOUT_FILENO);
  dup2(err_fd, STDERR_FILENO);
  const std::string world = std::to_string(options.nproc);
  setenv("RANK", std::to_string(rank).c_str(), 1);
  setenv("LOCAL_RANK", std::to_string(rank).c_str(), 1);
  setenv("WORLD_SIZE", world.c_str(), 1);
  setenv("LOCAL_WORLD_SIZE", world.c_str(), 1);
  setenv("MASTER_ADDR", "127.0.0.1", 1);
  setenv("MASTER_PORT", std::to_string(options.master_port).c_str(), 1);
  setenv("AHA_STORE_FILE", store_file.c_str(), 1);
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(options.program.c_str()));
  for (const std::string& arg : options.args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  execv(options.program.c_str(), argv.data());
  std::fprintf(stderr, "cannot run %s: %s\n", options.program.c_str(), std::strerror(errno));
  _exit(127);
}

// Reads what is available on `stream` and prints its complete lines behind the rank prefix;
// at end of file also prints the unterminated rest. Returns false at end of file.
bool Forward(Stream& stream, int rank) {
  char buffer[4096];
  const ssize_t n = read(stream.fd, buffer, sizeof(buffer));
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return true;
  if (n > 0) stream.partial.append(buffer, static_cast<size_t>(n));
  size_t newline;
  while ((newline = stream.partial.find('\n')) != std::string::npos) {
    std::fprintf(stream.sink, "[rank %d] %s\n", rank, stream.partial.substr(0, newline).c_str());
    stream.partial.erase(0, newline + 1);
  }
  if (n > 0) {
    std::fflush(stream.sink);
    return true;
  }
  if (!stream.partial.empty()) std::fprintf(stream.sink, "[rank %d] %s\n", rank,
                                            stream.partial.c_str());
  std::fflush(stream.sink);
  close(stream.fd);
  stream.fd = -1;
  return false;
}

std::string DescribeExit(int rank, pid_t pid, int status) {
  if (WIFSIGNALED(status)) {
    return absl::StrCat("rank ", rank, " (pid ", pid, ") was killed by signal ", WTERMSIG(status),
                        " (", strsignal(WTERMSIG(status)), ")");
  }
  return absl::StrCat("rank ", rank, " (pid ", pid, ") exited with code ", WEXITSTATUS(status));
}

bool Abnormal(int status) {
  return WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0);
}

void SignalRunning(std::vector<Rank>& ranks, int signal) {
  for (Rank& r : ranks) {
    if (!r.wait_status && r.pid > 0) kill(r.pid, signal);
  }
}

absl::Status StartRanks(const LaunchOptions& options, const std::string& store_file,
                        std::vector<Rank>& ranks) {
  for (int rank = 0; rank < options.nproc; ++rank) {
    int out[2], err[2];
    if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
      return absl::InternalError(absl::StrCat("cannot create a pipe: ", std::strerror(errno)));
    }
    std::fflush(nullptr);
    sigset_t stop_signals, previous;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    sigprocmask(SIG_BLOCK, &stop_signals, &previous);
    const pid_t pid = fork();
    if (pid == 0) ExecRank(options, store_file, rank, out[1], err[1], previous);
    sigprocmask(SIG_SETMASK, &previous, nullptr);
    if (pid < 0) {
      return absl::InternalError(absl::StrCat("cannot start rank ", rank, ": ",
                                              std::strerror(errno)));
    }
    close(out[1]);
    close(err[1]);
    Rank& r = ranks[rank];
    r.pid = pid;
    r.out = {out[0], stdout, ""};
    r.err = {err[0], stderr, ""};
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<LaunchResult> Launch(const LaunchOptions& options) {
  if (options.nproc < 1) {
    return absl::InvalidArgumentError(absl::StrCat("--nproc must be >= 1, got ", options.nproc));
  }
  const std::string store_file =
      options.store_file.empty() ? NewStoreFile() : options.store_file;
  std::error_code ignored;
  std::filesystem::remove(store_file, ignored);
  struct sigaction action = {}, old_int = {}, old_term = {};
  action.sa_handler = RememberSignal;
  sigaction(SIGINT, &action, &old_int);
  sigaction(SIGTERM, &action, &old_term);

  std::vector<Rank> ranks(options.nproc);
  LaunchResult result;
  absl::Status started = StartRanks(options, store_file, ranks);
  std::optional<Clock::time_point> kill_at, drain_until;
  // After SIGINT or SIGTERM reached the launcher, ranks that exit on the forwarded signal are
  // the expected outcome, not failures.
  bool interrupted = false;
  if (!started.ok()) {
    SignalRunning(ranks, SIGKILL);
    kill_at = Clock::now();
  }

  while (true) {
    std::vector<pollfd> fds;
    std::vector<std::pair<int, Stream*>> owners;
    for (int rank = 0; rank < options.nproc; ++rank) {
      for (Stream* s : {&ranks[rank].out, &ranks[rank].err}) {
        if (s->fd < 0) continue;
        fds.push_back({s->fd, POLLIN, 0});
        owners.emplace_back(rank, s);
      }
    }
    if (poll(fds.data(), fds.size(), 100) > 0) {  // with no fds, a 100 ms sleep
      for (size_t i = 0; i < fds.size(); ++i) {
        if (fds[i].revents != 0) Forward(*owners[i].second, owners[i].first);
      }
    }

    bool all_reaped = true;
    for (int rank = 0; rank < options.nproc; ++rank) {
      Rank& r = ranks[rank];
      if (r.pid <= 0 || r.wait_status) continue;
      int status = 0;
      if (waitpid(r.pid, &status, WNOHANG) != r.pid) {
        all_reaped = false;
        continue;
      }
      r.wait_status = status;
      if (Abnormal(status) && result.failed_rank < 0 && !interrupted && !pending_signal) {
        result.failed_rank = rank;
        result.failure = DescribeExit(rank, r.pid, status);
        result.exit_code = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
        std::fprintf(stderr, "aha launch: %s; stopping the other ranks\n",
                     result.failure.c_str());
        SignalRunning(ranks, SIGTERM);
        kill_at = Clock::now() + options.grace;
      }
    }

    if (const int signal = pending_signal.exchange(0)) {
      interrupted = true;
      SignalRunning(ranks, signal);
      if (!kill_at) kill_at = Clock::now() + options.grace;
      if (result.exit_code == 0) result.exit_code = 128 + signal;
    }
    if (kill_at && Clock::now() >= *kill_at) SignalRunning(ranks, SIGKILL);
    if (all_reaped && fds.empty()) break;
    if (all_reaped && !drain_until) drain_until = Clock::now() + std::chrono::seconds(1);
    if (drain_until && Clock::now() >= *drain_until) {
      // Every rank has exited; a pipe still open after this is held by a grandchild, which
      // must not keep the launcher waiting.
      for (Rank& r : ranks) {
        for (Stream* s : {&r.out, &r.err}) {
          if (s->fd >= 0) close(s->fd);
          s->fd = -1;
        }
      }
      break;
    }
  }

  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  std::filesystem::remove(store_file, ignored);
  if (!started.ok()) return started;
  return result;
}

}  // namespace aha::dist
