// `aha data countdown|corpus --out DIR`: writes the Countdown train/test splits or the
// synthetic pretraining corpus (with its cold-start SFT file) as JSONL, so the data can be read.
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "apps/command.h"
#include "apps/flags.h"
#include "base/yaml_json.h"
#include "base/yaml_map.h"
#include "base/status_macros.h"
#include "data/corpus.h"
#include "data/countdown.h"
#include "data/jsonl.h"
#include "data/options_json.h"
#include "data/prompt_template.h"
#include "nlohmann/json.hpp"
#include "yaml-cpp/yaml.h"

namespace aha::cli {
namespace {

constexpr char kUsage[] =
    "countdown|corpus --out DIR [--config FILE] [options]\n\n"
    "  countdown  writes DIR/train.jsonl and DIR/test.jsonl (config section data.countdown)\n"
    "  corpus     writes DIR/corpus.jsonl and DIR/cold_start.jsonl (section data.corpus)";

const std::vector<FlagSpec>& DataFlags() {
  static const std::vector<FlagSpec> flags = {
      {"out", "output directory, created if missing (required)"},
      {"config", "YAML file whose `data:` section contains `countdown:` or `corpus:`"},
      {"seed", "countdown: seed of the problems; corpus: seed of the traces (overrides the config)"},
      {"train_size", "countdown: training problems (overrides the config)"},
      {"test_size", "countdown: test problems (overrides the config)"},
      {"size", "corpus: entries (overrides the config)"},
      {"max_length", "corpus: max characters of prompt + completion (overrides the config)"},
      {"template", "template name or inline text; countdown rows then get a `prompt` field"},
  };
  return flags;
}

// Returns data.<name> from the config file, or an empty object (the defaults) when there is no
// file. A pretraining config keeps its corpus at the top level, so `corpus` is also read from
// there. A file with neither is an error, not a silent fallback to the defaults.
absl::StatusOr<nlohmann::json> ConfigSection(const ParsedFlags& flags, const std::string& name) {
  std::optional<std::string> path = flags.Get("config");
  if (!path) return nlohmann::json::object();
  ASSIGN_OR_RETURN(YAML::Node root, LoadYamlFile(*path));
  if (!root.IsMap()) return absl::InvalidArgumentError(absl::StrCat(*path, ": expected a mapping"));
  // Lookups through a const node, which do not insert the keys they look for.
  const YAML::Node& file = root;
  YAML::Node section(YAML::NodeType::Undefined);
  if (file["data"] && file["data"][name]) {
    section = file["data"][name];
  } else if (name == "corpus" && file["corpus"]) {
    section = file["corpus"];
  }
  if (!section.IsDefined() || section.IsNull()) {
    return absl::InvalidArgumentError(absl::StrCat(
        *path, " has no data.", name, name == "corpus" ? " or corpus" : "",
        " section; check its spelling, or leave out --config to use the defaults"));
  }
  return YamlToJson(section);
}

absl::Status OverrideInt(const ParsedFlags& flags, const std::string& name,
                         nlohmann::json& section) {
  if (!flags.Has(name)) return absl::OkStatus();
  ASSIGN_OR_RETURN(int64_t value, flags.GetInt(name, 0));
  section[name] = value;
  return absl::OkStatus();
}

// Creates the folder `out` and moves aside the earlier files of `names` in it, which the
// command is about to write.
absl::Status PrepareOut(const std::string& out, std::initializer_list<const char*> names) {
  std::error_code error;
  std::filesystem::create_directories(out, error);
  if (error) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot create output directory ", out, ": ", error.message()));
  }
  for (const char* name : names) {
    RETURN_IF_ERROR(MoveEarlierOutputAside(absl::StrCat(out, "/", name)));
  }
  return absl::OkStatus();
}

absl::Status RunCountdown(const ParsedFlags& flags, const std::string& out) {
  ASSIGN_OR_RETURN(nlohmann::json section, ConfigSection(flags, "countdown"));
  for (const char* name : {"seed", "train_size", "test_size"}) {
    RETURN_IF_ERROR(OverrideInt(flags, name, section));
  }
  data::CountdownOptions options;
  RETURN_IF_ERROR(data::ParseCountdownOptions(section, "data.countdown", &options));
  std::optional<data::PromptTemplate> prompt_template;
  if (flags.Has("template")) {
    ASSIGN_OR_RETURN(prompt_template, data::PromptTemplate::Resolve(*flags.Get("template")));
  }
  ASSIGN_OR_RETURN(data::CountdownSplits splits, data::GenerateCountdown(options));
  // Both splits are rendered before the folder is made, so a failure leaves nothing behind.
  std::vector<std::pair<std::string, std::vector<nlohmann::json>>> files;
  for (const auto& [name, examples] :
       {std::pair{"train", &splits.train}, std::pair{"test", &splits.test}}) {
    std::vector<nlohmann::json> rows;
    for (const data::Example& example : *examples) {
      nlohmann::json row = data::ExampleToJson(example);
      if (prompt_template) {
        ASSIGN_OR_RETURN(std::string prompt, prompt_template->Render(example));
        row["prompt"] = prompt;
      }
      rows.push_back(std::move(row));
    }
    files.emplace_back(name, std::move(rows));
  }
  RETURN_IF_ERROR(PrepareOut(out, {"train.jsonl", "test.jsonl"}));
  for (const auto& [name, rows] : files) {
    const std::string path = absl::StrCat(out, "/", name, ".jsonl");
    RETURN_IF_ERROR(data::WriteJsonl(path, rows));
    std::printf("wrote %zu problems to %s\n", rows.size(), path.c_str());
  }
  return absl::OkStatus();
}

absl::Status RunCorpus(const ParsedFlags& flags, const std::string& out) {
  ASSIGN_OR_RETURN(nlohmann::json section, ConfigSection(flags, "corpus"));
  for (const char* name : {"size", "max_length", "seed"}) {
    RETURN_IF_ERROR(OverrideInt(flags, name, section));
  }
  if (flags.Has("template")) section["prompt_template"] = *flags.Get("template");
  data::CorpusOptions options;
  RETURN_IF_ERROR(data::ParseCorpusOptions(section, "data.corpus", &options));
  // Both files are generated before the folder is made, so a failure leaves nothing behind.
  ASSIGN_OR_RETURN(std::vector<data::CorpusEntry> corpus, data::GenerateCorpus(options));
  ASSIGN_OR_RETURN(std::vector<data::SftExample> cold_start, data::GenerateColdStart(options));
  RETURN_IF_ERROR(PrepareOut(out, {"corpus.jsonl", "cold_start.jsonl"}));

  std::vector<nlohmann::json> rows;
  int64_t correct = 0, reflection = 0, broken = 0, total_length = 0, max_length = 0;
  for (const data::CorpusEntry& entry : corpus) {
    rows.push_back(data::CorpusEntryToJson(entry));
    correct += entry.correct;
    reflection += entry.reflection;
    broken += entry.broken_format;
    const int64_t length = static_cast<int64_t>(entry.Text().size());
    total_length += length;
    max_length = std::max(max_length, length);
  }
  const std::string corpus_path = absl::StrCat(out, "/corpus.jsonl");
  RETURN_IF_ERROR(data::WriteJsonl(corpus_path, rows));
  const double n = corpus.empty() ? 1.0 : static_cast<double>(corpus.size());
  std::printf(
      "wrote %zu entries to %s: correct %.3f, reflection %.3f, broken format %.3f, "
      "length mean %.1f max %lld characters\n",
      corpus.size(), corpus_path.c_str(), correct / n, reflection / n, broken / n,
      total_length / n, static_cast<long long>(max_length));

  std::vector<nlohmann::json> sft_rows;
  for (const data::SftExample& example : cold_start) {
    sft_rows.push_back({{"id", example.id}, {"prompt", example.prompt},
                        {"response", example.response}});
  }
  const std::string sft_path = absl::StrCat(out, "/cold_start.jsonl");
  RETURN_IF_ERROR(data::WriteJsonl(sft_path, sft_rows));
  std::printf("wrote %zu cold-start examples to %s\n", sft_rows.size(), sft_path.c_str());
  return absl::OkStatus();
}

int RunData(const std::vector<std::string>& args) {
  absl::StatusOr<ParsedFlags> flags = ParseFlags(args, DataFlags());
  if (!flags.ok()) {
    std::fprintf(stderr, "aha data: %s\n", std::string(flags.status().message()).c_str());
    return 2;
  }
  if (flags->Has("help")) {
    PrintFlagHelp("data", kUsage, DataFlags());
    return 0;
  }
  const std::vector<std::string>& positional = flags->positional();
  if (positional.size() != 1 || (positional[0] != "countdown" && positional[0] != "corpus") ||
      !flags->Has("out")) {
    std::fprintf(stderr, "aha data: expected `countdown` or `corpus` and --out DIR\n");
    PrintFlagHelp("data", kUsage, DataFlags());
    return 2;
  }
  const std::string out = *flags->Get("out");
  // A flag of the other subcommand would be ignored without a word.
  const bool countdown = positional[0] == "countdown";
  for (const char* name : countdown ? std::vector<const char*>{"size", "max_length"}
                                    : std::vector<const char*>{"train_size", "test_size"}) {
    if (flags->Has(name)) {
      std::fprintf(stderr, "aha data: --%s is a flag of `aha data %s`, not of `%s`\n", name,
                   countdown ? "corpus" : "countdown", positional[0].c_str());
      return 2;
    }
  }
  absl::Status status = countdown ? RunCountdown(*flags, out) : RunCorpus(*flags, out);
  if (!status.ok()) {
    std::fprintf(stderr, "aha data: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}

}  // namespace

AHA_COMMAND("data", "write Countdown splits or the pretraining corpus as JSONL", RunData);

}  // namespace aha::cli
