// JSONL readers and writer.
#include "data/jsonl.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/status_macros.h"

namespace aha::data {
namespace {

// Debian's Abseil has its own absl::string_view, distinct from std::string_view.
std::string Trimmed(std::string_view text) {
  return std::string(absl::StripAsciiWhitespace(absl::string_view(text.data(), text.size())));
}

absl::StatusOr<std::string> ExtractBoxed(std::string_view text) {
  const std::string_view marker = "\\boxed{";
  const size_t start = text.rfind(marker);
  if (start == std::string_view::npos) {
    return absl::InvalidArgumentError("the answer has no \\boxed{...}");
  }
  int depth = 1;
  const size_t open = start + marker.size();
  for (size_t i = open; i < text.size(); ++i) {
    if (text[i] == '{') ++depth;
    if (text[i] == '}' && --depth == 0) return Trimmed(text.substr(open, i - open));
  }
  return absl::InvalidArgumentError("the last \\boxed{ in the answer is never closed");
}

absl::StatusOr<std::string> ExtractGroundTruth(const std::string& answer, AnswerFormat format) {
  switch (format) {
    case AnswerFormat::kAsIs:
      return Trimmed(answer);
    case AnswerFormat::kGsm8k: {
      const size_t marker = answer.rfind("#### ");
      if (marker == std::string::npos) {
        return absl::InvalidArgumentError(
            "the answer has no '#### ' final-answer marker that answer_format gsm8k expects");
      }
      return Trimmed(std::string_view(answer).substr(marker + 5));
    }
    case AnswerFormat::kBoxed:
      return ExtractBoxed(answer);
  }
  return absl::InternalError("unhandled answer format");
}

const char* AnswerFormatName(AnswerFormat format) {
  switch (format) {
    case AnswerFormat::kAsIs:
      return "as_is";
    case AnswerFormat::kGsm8k:
      return "gsm8k";
    case AnswerFormat::kBoxed:
      return "boxed";
  }
  return "unknown";
}

absl::StatusOr<std::string> StringField(const nlohmann::json& row, const std::string& name) {
  if (!row.contains(name)) {
    return absl::InvalidArgumentError(absl::StrCat("missing field '", name, "'"));
  }
  if (!row[name].is_string()) {
    return absl::InvalidArgumentError(absl::StrCat("field '", name, "' must be a string, got ",
                                                   row[name].type_name()));
  }
  return row[name].get<std::string>();
}

// Accepts numbers too, because some answer fields (AMC) hold 27.0 rather than "27".
absl::StatusOr<std::string> AnswerText(const nlohmann::json& row, const std::string& name) {
  if (row.contains(name) && row[name].is_number()) {
    const nlohmann::json& value = row[name];
    if (value.is_number_integer()) return value.dump();
    const double d = value.get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 1e15) {
      return absl::StrCat(static_cast<int64_t>(d));
    }
    return value.dump();
  }
  return StringField(row, name);
}

}  // namespace

absl::StatusOr<AnswerFormat> ParseAnswerFormat(std::string_view name) {
  if (name == "as_is") return AnswerFormat::kAsIs;
  if (name == "gsm8k") return AnswerFormat::kGsm8k;
  if (name == "boxed") return AnswerFormat::kBoxed;
  return absl::InvalidArgumentError(absl::StrCat("unknown answer_format '", std::string(name),
                                                 "'; expected as_is, gsm8k or boxed"));
}

std::string JsonParseProblem(const std::string& text) {
  try {
    (void)nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    std::string message = e.what();
    // "[json.exception.parse_error.101] parse error at line 1, column 5: syntax error ..."
    const size_t bracket = message.find("] ");
    if (message.rfind("[json.exception.", 0) == 0 && bracket != std::string::npos) {
      message.erase(0, bracket + 2);
    }
    // The parser quotes what it last read, which may be the invalid bytes themselves.
    std::string printable;
    for (unsigned char c : message) {
      if (c >= 0x20 && c < 0x7F) {
        printable.push_back(static_cast<char>(c));
      } else {
        printable += absl::StrFormat("\\x%02X", c);
      }
    }
    return printable;
  }
  return "";
}

absl::Status ReadJsonlObjects(
    const std::string& path,
    const std::function<absl::Status(int64_t line, const nlohmann::json& row)>& visit) {
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) {
    return absl::InvalidArgumentError(absl::StrCat(path, " is a folder; give the path of a "
                                                   "JSONL file"));
  }
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open the file"));
  std::string text;
  int64_t line = 0;
  int64_t records = 0;
  while (std::getline(in, text)) {
    ++line;
    if (Trimmed(text).empty()) continue;
    // Keys seen in each object being parsed, innermost last. nlohmann's parser keeps the last
    // of two equal keys without a word, so a line with two "answer" fields would lose one.
    std::vector<std::set<std::string>> keys;
    std::string duplicate;
    const auto find_duplicate = [&](int, nlohmann::json::parse_event_t event,
                                    nlohmann::json& parsed) {
      using Event = nlohmann::json::parse_event_t;
      if (event == Event::object_start) keys.emplace_back();
      if (event == Event::object_end && !keys.empty()) keys.pop_back();
      if (event != Event::key || keys.empty()) return true;
      const std::string key = parsed.get<std::string>();
      if (!keys.back().insert(key).second && duplicate.empty()) duplicate = key;
      return true;
    };
    nlohmann::json row = nlohmann::json::parse(text, find_duplicate, /*allow_exceptions=*/false);
    if (!row.is_discarded() && !duplicate.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ":", line, ": the key \"", duplicate,
          "\" appears twice in one object; keep one, since only the last would be read"));
    }
    if (row.is_discarded()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", line, ": invalid JSON (", JsonParseProblem(text),
                       "); each line must be one JSON object, in UTF-8"));
    }
    if (!row.is_object()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ":", line, ": expected a JSON object, got ",
                                                     row.type_name()));
    }
    absl::Status status = visit(line, row);
    if (!status.ok()) {
      return absl::Status(status.code(), absl::StrCat(path, ":", line, ": ", status.message()));
    }
    ++records;
  }
  if (in.bad()) return absl::DataLossError(absl::StrCat(path, ": read failed at line ", line));
  if (records == 0) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": the file holds no JSONL records"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Example>> LoadJsonlDataset(const JsonlOptions& options) {
  std::vector<Example> examples;
  RETURN_IF_ERROR(ReadJsonlObjects(
      options.path, [&](int64_t, const nlohmann::json& row) -> absl::Status {
        Example example;
        example.id = static_cast<int64_t>(examples.size());
        ASSIGN_OR_RETURN(example.question, StringField(row, options.question_field));
        ASSIGN_OR_RETURN(std::string answer, AnswerText(row, options.answer_field));
        ASSIGN_OR_RETURN(example.ground_truth, ExtractGroundTruth(answer, options.answer_format));
        // Caught here, with the line, rather than when a reward scores the row, hours later.
        if (example.ground_truth.empty()) {
          return absl::InvalidArgumentError(absl::StrCat(
              "the ground truth is empty (field '", options.answer_field,
              "' after answer_format ", AnswerFormatName(options.answer_format),
              "); give every row an answer, or drop the row"));
        }
        example.fields = row;
        examples.push_back(std::move(example));
        return absl::OkStatus();
      }));
  return examples;
}

absl::StatusOr<std::vector<SftExample>> LoadSftJsonl(const SftOptions& options) {
  std::vector<SftExample> examples;
  RETURN_IF_ERROR(ReadJsonlObjects(
      options.path, [&](int64_t, const nlohmann::json& row) -> absl::Status {
        SftExample example;
        example.id = static_cast<int64_t>(examples.size());
        ASSIGN_OR_RETURN(example.prompt, StringField(row, options.prompt_field));
        ASSIGN_OR_RETURN(example.response, StringField(row, options.response_field));
        examples.push_back(std::move(example));
        return absl::OkStatus();
      }));
  return examples;
}

absl::Status WriteJsonl(const std::string& path, const std::vector<nlohmann::json>& rows) {
  std::ofstream out(path, std::ios::trunc);
  if (!out) return absl::PermissionDeniedError(absl::StrCat(path, ": cannot open for writing"));
  for (const nlohmann::json& row : rows) out << row.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
  out.flush();
  if (!out) return absl::DataLossError(absl::StrCat(path, ": write failed"));
  return absl::OkStatus();
}

nlohmann::json ExampleToJson(const Example& example) {
  nlohmann::json row = example.fields.is_object() ? example.fields : nlohmann::json::object();
  row["id"] = example.id;
  row["question"] = example.question;
  row["ground_truth"] = example.ground_truth;
  return row;
}

}  // namespace aha::data
