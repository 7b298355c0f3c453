// `aha reward --config FILE < samples.jsonl > scored.jsonl`: scores JSON Lines samples with
// the config's `rewards:` section and prints each with its total and per-reward scores.
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "apps/command.h"
#include "apps/flags.h"
#include "base/status_macros.h"
#include "base/yaml_map.h"
#include "data/jsonl.h"
#include "nlohmann/json.hpp"
#include "rewards/reward_set.h"
#include "yaml-cpp/yaml.h"

namespace aha::cli {
namespace {

const std::vector<FlagSpec>& RewardFlags() {
  static const std::vector<FlagSpec> flags = {
      {"config", "YAML file whose `rewards:` list is used (required)"},
      {"batch_size", "samples scored per batch, as command rewards see them (default 64)"},
  };
  return flags;
}

// Reads one input line into a sample. `prompt`, `completion` and `ground_truth` are strings;
// `finish_reason` ("stop" or "length") and `num_tokens` are optional; other keys become
// the sample's fields.
absl::StatusOr<RewardSample> ParseSampleLine(const std::string& line, int64_t line_number) {
  auto error = [line_number](const std::string& message) {
    return absl::InvalidArgumentError(absl::StrCat("stdin line ", line_number, ": ", message));
  };
  nlohmann::json row = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (row.is_discarded()) {
    return error(absl::StrCat("invalid JSON (", data::JsonParseProblem(line),
                              "); each line must be one JSON object, in UTF-8"));
  }
  if (!row.is_object()) return error("expected a JSON object");

  RewardSample sample;
  for (auto& [key, value] : row.items()) {
    if (key == "prompt" || key == "completion" || key == "ground_truth") {
      if (!value.is_string()) return error(absl::StrCat("'", key, "' must be a string"));
      std::string text = value.get<std::string>();
      if (key == "prompt") sample.prompt = std::move(text);
      if (key == "completion") sample.completion = std::move(text);
      if (key == "ground_truth") sample.ground_truth = std::move(text);
    } else if (key == "finish_reason") {
      if (value == "stop") {
        sample.finish_reason = FinishReason::kStop;
      } else if (value == "length") {
        sample.finish_reason = FinishReason::kLength;
      } else {
        return error("'finish_reason' must be \"stop\" or \"length\"");
      }
    } else if (key == "num_tokens") {
      if (!value.is_number_integer() || value.get<int64_t>() < 0) {
        return error("'num_tokens' must be a non-negative integer");
      }
      sample.num_tokens = value.get<int64_t>();
    } else {
      sample.fields[key] = value;
    }
  }
  if (!row.contains("completion")) return error("missing 'completion'");
  return sample;
}

nlohmann::json ScoreOrNull(const std::optional<double>& score) {
  return score ? nlohmann::json(*score) : nlohmann::json(nullptr);
}

// Scores `rows` and prints each, extended with a "reward" object, to stdout.
absl::Status ScoreAndPrint(RewardSet& rewards, const std::vector<nlohmann::json>& rows,
                           const std::vector<RewardSample>& samples,
                           std::vector<int64_t>& error_totals) {
  ASSIGN_OR_RETURN(ScoredBatch scored, rewards.ScoreBatch(samples));
  for (size_t r = 0; r < rewards.size(); ++r) error_totals[r] += scored.error_counts[r];
  for (size_t i = 0; i < rows.size(); ++i) {
    nlohmann::json components = nlohmann::json::object();
    for (size_t r = 0; r < rewards.size(); ++r) {
      components[rewards.name(r)] = ScoreOrNull(scored.components[r][i]);
    }
    nlohmann::json out = rows[i];
    out["reward"] = {{"total", scored.total[i]},
                     {"all_abstained", static_cast<bool>(scored.all_abstained[i])},
                     {"components", components}};
    if (std::optional<size_t> accuracy = rewards.accuracy_index()) {
      out["reward"]["accuracy"] = ScoreOrNull(scored.components[*accuracy][i]);
    }
    std::cout << out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
  }
  std::cout.flush();
  return absl::OkStatus();
}

absl::Status RunReward(const ParsedFlags& flags) {
  std::optional<std::string> config_path = flags.Get("config");
  if (!config_path) return absl::InvalidArgumentError("--config FILE is required");
  ASSIGN_OR_RETURN(int64_t batch_size, flags.GetInt("batch_size", 64));
  if (batch_size <= 0) return absl::InvalidArgumentError("--batch_size must be positive");

  ASSIGN_OR_RETURN(YAML::Node config, LoadYamlFile(*config_path));
  if (!config.IsMap()) {
    return absl::InvalidArgumentError(absl::StrCat(*config_path, ": expected a YAML mapping"));
  }
  ASSIGN_OR_RETURN(RewardSet rewards, RewardSet::FromYaml(config["rewards"], *config_path));

  RETURN_IF_ERROR(CheckStdinReadable());
  std::vector<int64_t> error_totals(rewards.size(), 0);
  std::vector<nlohmann::json> rows;
  std::vector<RewardSample> samples;
  std::string line;
  int64_t line_number = 0;
  while (std::getline(std::cin, line)) {
    ++line_number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    ASSIGN_OR_RETURN(RewardSample sample, ParseSampleLine(line, line_number));
    rows.push_back(nlohmann::json::parse(line));
    samples.push_back(std::move(sample));
    if (static_cast<int64_t>(samples.size()) == batch_size) {
      RETURN_IF_ERROR(ScoreAndPrint(rewards, rows, samples, error_totals));
      rows.clear();
      samples.clear();
    }
  }
  if (!samples.empty()) RETURN_IF_ERROR(ScoreAndPrint(rewards, rows, samples, error_totals));

  std::vector<std::string> failed;
  for (size_t r = 0; r < rewards.size(); ++r) {
    if (error_totals[r] > 0) {
      failed.push_back(absl::StrCat("'", rewards.name(r), "' had ", error_totals[r], " errors"));
    }
  }
  if (!failed.empty()) {
    return absl::DataLossError(absl::StrCat(
        "reward ", absl::StrJoin(failed, ", reward "),
        "; the samples of failed batches got on_error, and NaN or infinite scores were "
        "dropped as abstains (see the lines above)"));
  }
  return absl::OkStatus();
}

int RunRewardCommand(const std::vector<std::string>& args) {
  absl::StatusOr<ParsedFlags> flags = ParseFlags(args, RewardFlags());
  if (!flags.ok()) {
    std::fprintf(stderr, "aha reward: %s\n", std::string(flags.status().message()).c_str());
    return 2;
  }
  if (flags->Has("help")) {
    PrintFlagHelp("reward", "--config FILE < samples.jsonl > scored.jsonl", RewardFlags());
    return 0;
  }
  absl::Status status = RunReward(*flags);
  if (status.ok()) status = CheckStdoutWritten();
  if (!status.ok()) {
    std::fprintf(stderr, "aha reward: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace aha::cli

AHA_COMMAND("reward", "score JSON Lines samples with a config's rewards", aha::cli::RunRewardCommand);
