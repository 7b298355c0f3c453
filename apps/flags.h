// Command-line flags for the subcommands: `--name value`, `--name=value` and bare
// `--switch`, checked against the flags a command declares.
#ifndef AHA_APPS_FLAGS_H_
#define AHA_APPS_FLAGS_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace aha::cli {

struct FlagSpec {
  std::string name;  // without the leading dashes
  std::string help;  // what the flag sets, and its unit or default
  bool is_switch = false;  // takes no value
  bool repeatable = false;  // may be given several times; read with GetAll
};

class ParsedFlags {
 public:
  bool Has(const std::string& name) const { return values_.count(name) > 0; }
  std::optional<std::string> Get(const std::string& name) const;
  std::string GetOr(const std::string& name, const std::string& fallback) const;
  // Typed accessors; an unparsable value is an error that names the flag.
  absl::StatusOr<int64_t> GetInt(const std::string& name, int64_t fallback) const;
  absl::StatusOr<double> GetDouble(const std::string& name, double fallback) const;
  // Every value of a repeatable flag, in command-line order.
  std::vector<std::string> GetAll(const std::string& name) const;
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  friend absl::StatusOr<ParsedFlags> ParseFlags(const std::vector<std::string>&,
                                                const std::vector<FlagSpec>&);
  std::map<std::string, std::string> values_;
  std::map<std::string, std::vector<std::string>> all_values_;
  std::vector<std::string> positional_;
};

// Parses `args` against `specs`. An unknown flag or a missing value is an error. `--help`
// is always accepted as a switch.
absl::StatusOr<ParsedFlags> ParseFlags(const std::vector<std::string>& args,
                                       const std::vector<FlagSpec>& specs);

// Returns the --check flag, shared by the commands that read a config: parse and validate the
// config and the flags, print that they are valid, and exit before loading a model.
inline FlagSpec CheckFlag() {
  return {"check",
          "validate the config and flags, then exit without loading a model or writing files",
          /*is_switch=*/true};
}

// Prints "aha COMMAND: CONFIG is valid" for --check.
void PrintConfigValid(const std::string& command, const std::string& config_path);

// Returns an error when standard input is a folder (`aha reward < DIR`): reading it gives no
// lines, which would look like empty input.
absl::Status CheckStdinReadable();

// Flushes standard output and returns an error when writing it failed (a full disk, a closed
// pipe), which would otherwise lose the output with exit status 0.
absl::Status CheckStdoutWritten();

// Moves an earlier output at `path` (a file, or a folder that is not empty) aside to
// PATH.YYYYMMDD-HHMMSS, as scripts/demo.sh does with a run, and prints a line saying so. Does
// nothing when `path` does not exist or is an empty folder.
absl::Status MoveEarlierOutputAside(const std::string& path);

// An error when `out_dir` (named by `out_key`) exists and is not a folder; for --check.
absl::Status CheckOutputFolderPath(const std::string& out_dir, const std::string& out_key);

// Prepares the folder `out_dir` (named by `out_key`) that a command writes a model into: an
// earlier output there is moved aside (MoveEarlierOutputAside) and the folder is created. A
// path that is a file is an error. Called before the work, so that a bad path fails before
// training rather than after it.
absl::Status PrepareOutputFolder(const std::string& out_dir, const std::string& out_key);

// An error when the file `out` (named by `out_key`) is one of a command's inputs: one of
// `input_files`, or a file inside the folder `model_dir`. Writing it would destroy that input.
absl::Status CheckOutputIsNoInput(const std::string& out, const std::string& out_key,
                                  const std::vector<std::string>& input_files,
                                  const std::string& model_dir);

// An error when `out_dir` is the folder `model_dir` (named by `model_key`), whose model a
// run would then overwrite with its result.
absl::Status CheckOutputIsNotModel(const std::string& model_dir, const std::string& model_key,
                                   const std::string& out_dir);

// Prints "usage: aha COMMAND USAGE" and one line per flag to stdout.
void PrintFlagHelp(const std::string& command, const std::string& usage,
                   const std::vector<FlagSpec>& specs);

}  // namespace aha::cli

#endif  // AHA_APPS_FLAGS_H_
