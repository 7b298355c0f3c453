// `aha tokenize` and `aha detokenize`: convert JSON Lines of texts to token ids and back with a
// model folder's tokenizer, to show the ids a model is given.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "apps/command.h"
#include "apps/flags.h"
#include "base/status_macros.h"
#include "nlohmann/json.hpp"
#include "policy/tokenizer.h"

namespace aha::cli {
namespace {

// ordered_json keeps the keys in the documented order: "text" then "ids" for tokenize.
using json = nlohmann::ordered_json;

constexpr char kTokenizeUsage[] =
    "--tokenizer DIR [--input FILE] < texts.jsonl\n\n"
    "Reads lines {\"text\": ...} and prints {\"text\": ..., \"ids\": [...]} per line.";
constexpr char kDetokenizeUsage[] =
    "--tokenizer DIR [--input FILE] [--skip_special] < ids.jsonl\n\n"
    "Reads lines {\"ids\": [...]} and prints {\"ids\": [...], \"text\": ...} per line.";

const std::vector<FlagSpec>& TokenizeFlags() {
  static const std::vector<FlagSpec> flags = {
      {"tokenizer", "model folder with tokenizer.json or vocab.json (required)"},
      {"input", "JSON Lines file to read (default: standard input)"},
  };
  return flags;
}

const std::vector<FlagSpec>& DetokenizeFlags() {
  static const std::vector<FlagSpec> flags = {
      {"tokenizer", "model folder with tokenizer.json or vocab.json (required)"},
      {"input", "JSON Lines file to read (default: standard input)"},
      {"skip_special", "drop special tokens such as <|im_end|> from the text", true},
  };
  return flags;
}

// Converts one parsed input line to the output object, or fails with what is wrong with it.
using LineFn = absl::StatusOr<json> (*)(const Tokenizer&, const json&, bool skip_special);

absl::StatusOr<json> TokenizeLine(const Tokenizer& tokenizer, const json& row, bool) {
  if (!row.is_object() || !row.contains("text") || !row["text"].is_string()) {
    return absl::InvalidArgumentError("expected an object with a string \"text\"");
  }
  const std::string text = row["text"].get<std::string>();
  return json{{"text", text}, {"ids", tokenizer.Encode(text)}};
}

absl::StatusOr<json> DetokenizeLine(const Tokenizer& tokenizer, const json& row,
                                    bool skip_special) {
  if (!row.is_object() || !row.contains("ids") || !row["ids"].is_array()) {
    return absl::InvalidArgumentError("expected an object with an array \"ids\"");
  }
  std::vector<int32_t> ids;
  for (size_t i = 0; i < row["ids"].size(); ++i) {
    const json& id = row["ids"][i];
    if (!id.is_number_integer() || id.get<int64_t>() < 0 ||
        id.get<int64_t>() >= tokenizer.VocabSize()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "ids[", i, "] is ", id.dump(), "; expected an integer id in [0, ",
          tokenizer.VocabSize(), ")"));
    }
    ids.push_back(static_cast<int32_t>(id.get<int64_t>()));
  }
  return json{{"ids", ids}, {"text", tokenizer.Decode(ids, skip_special)}};
}

// Reads JSON Lines from `in`, converts each non-blank line, and prints the results. Stops at
// the first bad line, reporting it as SOURCE:LINE.
absl::Status ProcessLines(std::istream& in, const std::string& source,
                          const Tokenizer& tokenizer, LineFn convert, bool skip_special) {
  std::string line;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    json row;
    try {
      row = json::parse(line);
    } catch (const json::parse_error& e) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ":", number, ": invalid JSON (", e.what(), ")"));
    }
    absl::StatusOr<json> output = convert(tokenizer, row, skip_special);
    if (!output.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ":", number, ": ", output.status().message()));
    }
    const std::string text = output->dump(-1, ' ', false, json::error_handler_t::replace);
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fputc('\n', stdout);
  }
  return absl::OkStatus();
}

int RunConversion(const char* command, const char* usage, const std::vector<FlagSpec>& specs,
                  LineFn convert, const std::vector<std::string>& args) {
  absl::StatusOr<ParsedFlags> flags = ParseFlags(args, specs);
  if (!flags.ok()) {
    std::fprintf(stderr, "aha %s: %s\n", command, std::string(flags.status().message()).c_str());
    return 2;
  }
  if (flags->Has("help")) {
    PrintFlagHelp(command, usage, specs);
    return 0;
  }
  if (!flags->Has("tokenizer") || !flags->positional().empty()) {
    std::fprintf(stderr, "aha %s: expected --tokenizer DIR and no other arguments\n", command);
    PrintFlagHelp(command, usage, specs);
    return 2;
  }
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = LoadTokenizer(*flags->Get("tokenizer"));
  if (!tokenizer.ok()) {
    std::fprintf(stderr, "aha %s: %s\n", command,
                 std::string(tokenizer.status().message()).c_str());
    return 1;
  }
  const bool skip_special = flags->Has("skip_special");
  absl::Status status;
  if (flags->Has("input")) {
    const std::string path = *flags->Get("input");
    std::error_code error;
    if (std::filesystem::is_directory(path, error)) {
      std::fprintf(stderr, "aha %s: --input %s is a folder; give the path of a JSONL file\n",
                   command, path.c_str());
      return 1;
    }
    std::ifstream in(path);
    if (!in) {
      std::fprintf(stderr, "aha %s: %s: cannot open the file\n", command, path.c_str());
      return 1;
    }
    status = ProcessLines(in, path, **tokenizer, convert, skip_special);
  } else {
    status = CheckStdinReadable();
    if (status.ok()) status = ProcessLines(std::cin, "stdin", **tokenizer, convert, skip_special);
  }
  if (status.ok()) status = CheckStdoutWritten();
  if (!status.ok()) {
    std::fprintf(stderr, "aha %s: %s\n", command, std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}

int RunTokenize(const std::vector<std::string>& args) {
  return RunConversion("tokenize", kTokenizeUsage, TokenizeFlags(), TokenizeLine, args);
}

int RunDetokenize(const std::vector<std::string>& args) {
  return RunConversion("detokenize", kDetokenizeUsage, DetokenizeFlags(), DetokenizeLine, args);
}

}  // namespace

AHA_COMMAND("tokenize", "print the token ids of JSON Lines texts", RunTokenize);
AHA_COMMAND("detokenize", "print the texts of JSON Lines token ids", RunDetokenize);

}  // namespace aha::cli
