// Subcommands of the `aha` binary. Each cmd_*.cc file registers one with AHA_COMMAND; main
// dispatches on the first argument.
#ifndef AHA_APPS_COMMAND_H_
#define AHA_APPS_COMMAND_H_

#include <string>
#include <vector>

namespace aha::cli {

// A subcommand gets the arguments after its name and returns the process exit code.
using CommandFn = int (*)(const std::vector<std::string>& args);

struct Command {
  const char* name;
  const char* summary;  // one line for `aha help`
  CommandFn run;
};

// Adds a command to the table that main dispatches on; called by AHA_COMMAND at static
// initialization. Returns true so it can initialize a namespace-scope constant.
bool RegisterCommand(const Command& command);
const std::vector<Command>& Commands();

}  // namespace aha::cli

#define AHA_COMMAND_CONCAT_INNER_(a, b) a##b
#define AHA_COMMAND_CONCAT_(a, b) AHA_COMMAND_CONCAT_INNER_(a, b)
// Registers `fn` as `aha NAME`. Use once per cmd_*.cc file, at namespace scope.
#define AHA_COMMAND(name, summary, fn)                                         \
  static const bool AHA_COMMAND_CONCAT_(aha_command_registered_, __LINE__) = \
      ::aha::cli::RegisterCommand({name, summary, fn})

#endif  // AHA_APPS_COMMAND_H_
