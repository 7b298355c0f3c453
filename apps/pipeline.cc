// Reading and running `aha pipeline` files.
#include "apps/pipeline.h"

#include <filesystem>
#include <set>

#include <yaml-cpp/yaml.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"
#include "base/yaml_map.h"

namespace aha::cli {
namespace {

// The commands a stage may run. `train` takes its config as the positional argument, the
// others as --config; only eval runs without one.
struct StageCommand {
  const char* name;
  bool config_positional;
  bool config_required;
};
constexpr StageCommand kStageCommands[] = {
    {"pretrain", false, true},
    {"sft", false, true},
    {"train", true, true},
    {"eval", false, false},
};

const StageCommand* FindStageCommand(const std::string& name) {
  for (const StageCommand& command : kStageCommands) {
    if (name == command.name) return &command;
  }
  return nullptr;
}

std::string LineOf(const YAML::Node& node) {
  if (node.Mark().line < 0) return "";
  return absl::StrCat(":", node.Mark().line + 1);
}

// Writes `node` as one line of YAML, the form --set reads back.
std::string FlowYaml(const YAML::Node& node) {
  YAML::Emitter emitter;
  emitter.SetMapFormat(YAML::Flow);
  emitter.SetSeqFormat(YAML::Flow);
  emitter << node;
  return emitter.c_str();
}

// Appends `--set KEY=VALUE` for each entry of the `set:` mapping.
absl::Status AppendOverrides(YamlMap& stage, const std::string& path,
                             std::vector<std::string>& args) {
  if (!stage.Has("set")) return absl::OkStatus();
  YAML::Node set = stage.Raw("set");
  if (!set.IsMap()) {
    return stage.Error("set", "must be a mapping of KEY.PATH: VALUE, such as {train.steps: 10}");
  }
  for (const auto& entry : set) {
    if (!entry.first.IsScalar() || entry.first.Scalar().empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          stage.file(), LineOf(entry.first), ": ", path, ".set keys must be KEY.PATH names"));
    }
    args.push_back("--set");
    args.push_back(absl::StrCat(entry.first.Scalar(), "=", FlowYaml(entry.second)));
  }
  return absl::OkStatus();
}

// Appends the `flags:` mapping: `true` gives a bare --NAME, `false` leaves the flag out and any
// other scalar gives --NAME=VALUE.
absl::Status AppendFlags(YamlMap& stage, const std::string& path,
                         std::vector<std::string>& args) {
  if (!stage.Has("flags")) return absl::OkStatus();
  YAML::Node flags = stage.Raw("flags");
  if (!flags.IsMap()) return stage.Error("flags", "must be a mapping of NAME: VALUE");
  for (const auto& entry : flags) {
    const std::string name = entry.first.Scalar();
    if (!entry.second.IsScalar()) {
      return absl::InvalidArgumentError(absl::StrCat(stage.file(), LineOf(entry.second), ": ",
                                                     path, ".flags.", name,
                                                     " must be a single value"));
    }
    if (name == "config" || name == "set" || name == "help") {
      return absl::InvalidArgumentError(absl::StrCat(
          stage.file(), LineOf(entry.first), ": ", path, ".flags.", name,
          " is not allowed here; use the stage's config: and set: keys"));
    }
    if (name == "check") {
      return absl::InvalidArgumentError(absl::StrCat(
          stage.file(), LineOf(entry.first), ": ", path,
          ".flags.check is not allowed here: the stage would only be checked and never run; "
          "use aha pipeline --check"));
    }
    const std::string value = entry.second.Scalar();
    if (value == "true") {
      args.push_back(absl::StrCat("--", name));
    } else if (value != "false") {
      args.push_back(absl::StrCat("--", name, "=", value));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<PipelineStage> ReadStage(const YAML::Node& node, const std::string& file,
                                        size_t index) {
  const std::string path = absl::StrCat("stages[", index, "]");
  ASSIGN_OR_RETURN(YamlMap stage, YamlMap::Create(node, file, path));
  PipelineStage result;
  result.location = absl::StrCat(file, LineOf(node));
  RETURN_IF_ERROR(stage.Require("command", result.command));
  const StageCommand* command = FindStageCommand(result.command);
  if (command == nullptr) {
    return stage.Error("command", absl::StrCat("must be pretrain, sft, train or eval, got '",
                                               result.command, "'"));
  }
  result.name = result.command;
  RETURN_IF_ERROR(stage.Read("name", result.name));
  if (command->config_required) {
    RETURN_IF_ERROR(stage.Require("config", result.config));
  } else {
    RETURN_IF_ERROR(stage.Read("config", result.config));
  }
  if (!result.config.empty()) {
    std::error_code error;
    if (!std::filesystem::is_regular_file(result.config, error)) {
      return stage.Error("config", absl::StrCat("names '", result.config,
                                                "', which is not a file (paths are relative "
                                                "to the working folder)"));
    }
    if (command->config_positional) {
      result.args.push_back(result.config);
    } else {
      result.args.push_back("--config");
      result.args.push_back(result.config);
    }
  }
  RETURN_IF_ERROR(AppendOverrides(stage, path, result.args));
  RETURN_IF_ERROR(AppendFlags(stage, path, result.args));
  RETURN_IF_ERROR(stage.CheckAllKeysRead());
  return result;
}

}  // namespace

absl::StatusOr<std::vector<PipelineStage>> LoadPipeline(const std::string& path) {
  ASSIGN_OR_RETURN(YAML::Node node, LoadYamlFile(path));
  ASSIGN_OR_RETURN(YamlMap root, YamlMap::Create(node, path, ""));
  if (!root.Has("stages")) {
    return root.Error("stages", "is required: list the stages, each with command: and config:");
  }
  YAML::Node stages = root.Raw("stages");
  RETURN_IF_ERROR(root.CheckAllKeysRead());
  if (!stages.IsSequence() || stages.size() == 0) {
    return root.Error("stages", "must be a non-empty list of stages");
  }
  std::vector<PipelineStage> result;
  std::set<std::string> names;
  for (size_t i = 0; i < stages.size(); ++i) {
    ASSIGN_OR_RETURN(PipelineStage stage, ReadStage(stages[i], path, i));
    if (!names.insert(stage.name).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          stage.location, ": stages[", i, "] is named '", stage.name,
          "' like an earlier stage; give each stage its own name"));
    }
    result.push_back(std::move(stage));
  }
  return result;
}

absl::Status RunPipeline(const std::vector<PipelineStage>& stages, const std::string& from,
                         const CommandRunner& run, std::FILE* out, bool check_only) {
  size_t first = 0;
  if (!from.empty()) {
    while (first < stages.size() && stages[first].name != from) ++first;
    if (first == stages.size()) {
      std::vector<std::string> names;
      for (const PipelineStage& stage : stages) names.push_back(stage.name);
      return absl::InvalidArgumentError(absl::StrCat("--from ", from, ": no stage of that name; ",
                                                     "the stages are ",
                                                     absl::StrJoin(names, ", ")));
    }
  }
  for (size_t i = first; i < stages.size(); ++i) {
    const PipelineStage& stage = stages[i];
    std::vector<std::string> args = stage.args;
    args.push_back("--check");
    const int code = run(stage.command, args);
    if (code != 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "stage ", i + 1, "/", stages.size(), " '", stage.name, "' (aha ", stage.command, ", ",
          stage.location, ") has an invalid config or flags (exit code ", code,
          " from --check); no stage ran"));
    }
  }
  if (check_only) {
    std::fprintf(out, "pipeline: %zu of %zu stages checked, all valid\n", stages.size() - first,
                 stages.size());
    return absl::OkStatus();
  }
  for (size_t i = first; i < stages.size(); ++i) {
    const PipelineStage& stage = stages[i];
    std::fprintf(out, "pipeline: stage %zu/%zu '%s': aha %s %s\n", i + 1, stages.size(),
                 stage.name.c_str(), stage.command.c_str(),
                 absl::StrJoin(stage.args, " ").c_str());
    std::fflush(out);
    const int code = run(stage.command, stage.args);
    if (code != 0) {
      // aha train rejects a folder that contains a run unless it resumes it.
      const std::string resume =
          stage.command == "train"
              ? " (to continue its run from the last checkpoint, add flags: {resume: true} to the "
                "stage)"
              : "";
      return absl::AbortedError(absl::StrCat(
          "stage ", i + 1, "/", stages.size(), " '", stage.name, "' (aha ", stage.command,
          ", ", stage.location, ") failed with exit code ", code,
          "; the later stages did not run. Fix it and rerun with --from ", stage.name, resume));
    }
  }
  std::fprintf(out, "pipeline: all %zu stages finished\n", stages.size() - first);
  return absl::OkStatus();
}

}  // namespace aha::cli
