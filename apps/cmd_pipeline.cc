// `aha pipeline --config FILE`: runs the stages of a pipeline file (pretrain, sft, train,
// eval) one after another in this process, stopping at the first that fails.
#include <cstdio>
#include <string>
#include <vector>

#include "apps/command.h"
#include "apps/flags.h"
#include "apps/pipeline.h"
#include "base/status_macros.h"

namespace aha::cli {
namespace {

const std::vector<FlagSpec> kFlags = {
    {"config", "pipeline YAML file: a `stages:` list of {name, command, config, set, flags} "
               "(required)"},
    {"from", "start at the stage of this name and skip the ones before it, for example after "
             "a failure"},
    {"check", "validate every stage's config and flags (each command's --check), then exit",
     /*is_switch=*/true},
};

// Runs a registered command in-process.
int RunRegisteredCommand(const std::string& name, const std::vector<std::string>& args) {
  for (const Command& command : Commands()) {
    if (name == command.name) return command.run(args);
  }
  std::fprintf(stderr, "aha pipeline: this aha binary has no command '%s'\n", name.c_str());
  return 2;
}

int RunPipelineCommand(const std::vector<std::string>& args) {
  absl::StatusOr<ParsedFlags> flags = ParseFlags(args, kFlags);
  if (!flags.ok()) {
    std::fprintf(stderr, "aha pipeline: %s\n", std::string(flags.status().message()).c_str());
    return 2;
  }
  if (flags->Has("help")) {
    PrintFlagHelp("pipeline", "--config FILE [--from STAGE] [--check]", kFlags);
    return 0;
  }
  std::optional<std::string> config = flags->Get("config");
  if (!config) {
    std::fprintf(stderr, "aha pipeline: --config is required; see aha pipeline --help\n");
    return 2;
  }
  // Line-buffered from the start, so the stages' lines reach a log file as they are printed.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  absl::StatusOr<std::vector<PipelineStage>> stages = LoadPipeline(*config);
  if (!stages.ok()) {
    std::fprintf(stderr, "aha pipeline: %s\n", std::string(stages.status().message()).c_str());
    return 1;
  }
  absl::Status status =
      RunPipeline(*stages, flags->GetOr("from", ""), RunRegisteredCommand, stdout,
                  flags->Has("check"));
  if (!status.ok()) {
    std::fprintf(stderr, "aha pipeline: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}

}  // namespace

AHA_COMMAND("pipeline", "run pretrain, sft, train and eval stages in order from a YAML file",
            RunPipelineCommand);

}  // namespace aha::cli
