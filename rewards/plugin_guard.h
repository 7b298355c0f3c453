// A plugin runs inside aha's process, so its crash, exit() or endless loop is aha's too. While
// a PluginCallGuard lives, such an ending is reported with the reward's name instead of
// happening silently:
//   - a fatal signal on the calling thread (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT) prints
//     what crashed, then ends the process with that signal as before;
//   - exit() prints what called it and ends the process with status 1, not the plugin's;
//   - a call still running after `timeout_seconds` prints that and ends the process with
//     status 1, because a call in progress cannot be cancelled.
// Checkpoints already written are not touched. Guards must not overlap in time.
#ifndef AHA_REWARDS_PLUGIN_GUARD_H_
#define AHA_REWARDS_PLUGIN_GUARD_H_

#include <string>

namespace aha {

class PluginCallGuard {
 public:
  // `call` names the call in the messages, for example "reward 'x' (plugin libx.so):
  // score_batch". A `timeout_seconds` of 0 or less waits forever.
  PluginCallGuard(std::string call, double timeout_seconds);
  ~PluginCallGuard();

  PluginCallGuard(const PluginCallGuard&) = delete;
  PluginCallGuard& operator=(const PluginCallGuard&) = delete;

 private:
  std::string call_;
  bool watched_ = false;
};

}  // namespace aha

#endif  // AHA_REWARDS_PLUGIN_GUARD_H_
