#include "rewards/plugin_guard.h"

#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"

namespace aha {
namespace {

constexpr int kFatalSignals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
constexpr int kSignalSlots = 65;

// The guarded call: its text, published before the handlers can read it, and its thread.
std::atomic<const char*> active_call{nullptr};
std::atomic<pthread_t> active_thread{};
struct sigaction saved_actions[kSignalSlots];

const char* SignalName(int signal) {
  switch (signal) {
    case SIGSEGV: return "SIGSEGV (invalid memory access)";
    case SIGBUS: return "SIGBUS (bus error)";
    case SIGFPE: return "SIGFPE (arithmetic error)";
    case SIGILL: return "SIGILL (illegal instruction)";
    case SIGABRT: return "SIGABRT (abort)";
    default: return "a fatal signal";
  }
}

// Only async-signal-safe calls from here to the end of OnFatalSignal.
void WriteText(const char* text) {
  size_t left = strlen(text);
  while (left > 0) {
    const ssize_t written = write(STDERR_FILENO, text, left);
    if (written <= 0) return;
    text += written;
    left -= static_cast<size_t>(written);
  }
}

void OnFatalSignal(int signal) {
  const char* call = active_call.load();
  if (call != nullptr && pthread_equal(active_thread.load(), pthread_self())) {
    WriteText("aha: ");
    WriteText(call);
    WriteText(" crashed with ");
    WriteText(SignalName(signal));
    WriteText("; the bug is in the plugin, not in aha. Checkpoints written before this point "
              "are kept.\n");
  }
  // Put back what was there before and deliver the signal again, so the process ends as it
  // would have without this handler.
  sigaction(signal, &saved_actions[signal], nullptr);
  raise(signal);
}

void OnExit() {
  const char* call = active_call.load();
  if (call == nullptr) return;
  WriteText("aha: ");
  WriteText(call);
  WriteText(" called exit(); aha stops with status 1. Checkpoints written before this point "
            "are kept.\n");
  _exit(1);
}

// One thread for the whole process waits for the deadline of the active call.
class Watchdog {
 public:
  static Watchdog& Get() {
    static Watchdog* watchdog = new Watchdog();  // never destroyed: its thread runs until exit
    return *watchdog;
  }

  void Arm(const std::string& call, double timeout_seconds) {
    std::lock_guard<std::mutex> lock(mutex_);
    call_ = call;
    timeout_seconds_ = timeout_seconds;
    deadline_ = std::chrono::steady_clock::now() +
                std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                    std::chrono::duration<double>(timeout_seconds));
    armed_ = true;
    changed_.notify_all();
  }

  void Disarm() {
    std::lock_guard<std::mutex> lock(mutex_);
    armed_ = false;
    changed_.notify_all();
  }

 private:
  Watchdog() { std::thread([this] { Run(); }).detach(); }

  void Run() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      changed_.wait(lock, [this] { return armed_; });
      const auto deadline = deadline_;
      if (changed_.wait_until(lock, deadline, [&] { return !armed_ || deadline_ != deadline; })) {
        continue;
      }
      const std::string message = absl::StrCat(
          "aha: ", call_, " did not return within timeout_seconds = ", timeout_seconds_,
          ". A plugin call cannot be cancelled, so aha stops with status 1. Checkpoints "
          "written before this point are kept; raise timeout_seconds if the plugin is only "
          "slow.\n");
      WriteText(message.c_str());
      _exit(1);
    }
  }

  std::mutex mutex_;
  std::condition_variable changed_;
  bool armed_ = false;
  std::chrono::steady_clock::time_point deadline_;
  std::string call_;
  double timeout_seconds_ = 0;
};

}  // namespace

PluginCallGuard::PluginCallGuard(std::string call, double timeout_seconds)
    : call_(std::move(call)) {
  static std::once_flag exit_hook;
  std::call_once(exit_hook, [] { std::atexit(OnExit); });
  active_thread.store(pthread_self());
  active_call.store(call_.c_str());
  struct sigaction action = {};
  action.sa_handler = OnFatalSignal;
  sigemptyset(&action.sa_mask);
  for (int signal : kFatalSignals) sigaction(signal, &action, &saved_actions[signal]);
  if (timeout_seconds > 0) {
    Watchdog::Get().Arm(call_, timeout_seconds);
    watched_ = true;
  }
}

PluginCallGuard::~PluginCallGuard() {
  if (watched_) Watchdog::Get().Disarm();
  for (int signal : kFatalSignals) sigaction(signal, &saved_actions[signal], nullptr);
  active_call.store(nullptr);
}

}  // namespace aha
