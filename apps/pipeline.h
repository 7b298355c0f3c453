// `aha pipeline`: runs several aha commands in order from one YAML file, for example R1's
// cold-start SFT followed by GRPO. Parsing and running are apart from the command registry, so
// tests can run a pipeline against stand-in commands.
//
//   stages:
//     - name: cold_start              # optional; defaults to the command
//       command: sft                  # pretrain | sft | train | eval
//       config: configs/r1_cold_start_sft.yaml
//       set: {train.steps: 60}        # --set KEY=VALUE overrides of that config
//       flags: {threads: 2}           # other flags of the command; `true` is a bare switch
#ifndef AHA_APPS_PIPELINE_H_
#define AHA_APPS_PIPELINE_H_

#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace aha::cli {

struct PipelineStage {
  std::string name;
  std::string command;
  std::string config;  // may be empty for eval, which runs without a config
  std::string location;  // "FILE:LINE" of the stage, for messages
  // The command's arguments: the config (positional for train, --config otherwise), one
  // --set per override, then the flags.
  std::vector<std::string> args;
};

// Reads a pipeline file. Unknown keys, unknown commands, duplicate names and missing config
// files are errors naming FILE:LINE, so a typo in the last stage fails before the first runs.
absl::StatusOr<std::vector<PipelineStage>> LoadPipeline(const std::string& path);

// Runs one command in-process with its arguments and returns its exit code.
using CommandRunner =
    std::function<int(const std::string& command, const std::vector<std::string>& args)>;

// Runs `stages` in order, from the stage named `from` when it is not empty, printing each one
// to `out` before it starts. Stops at the first stage with a non-zero exit code, with an error
// naming that stage. First, every stage to run is run with --check, so an invalid config in a
// late stage fails before the first stage starts. With `check_only`, it stops after the checks.
absl::Status RunPipeline(const std::vector<PipelineStage>& stages, const std::string& from,
                         const CommandRunner& run, std::FILE* out, bool check_only = false);

}  // namespace aha::cli

#endif  // AHA_APPS_PIPELINE_H_
