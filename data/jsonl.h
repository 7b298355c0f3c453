// JSONL files: GSM8K/MATH-style question-answer datasets, prompt/response SFT files, and
// writing examples back out. Every record error names the file and the 1-based line.
#ifndef AHA_DATA_JSONL_H_
#define AHA_DATA_JSONL_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "data/example.h"

namespace aha::data {

// How the ground truth is cut out of the answer field.
enum class AnswerFormat {
  kAsIs,   // the whole field, trimmed
  kGsm8k,  // the text after the last "#### ", trimmed (GSM8K's final-answer marker)
  kBoxed,  // the contents of the last \boxed{...} (for rows with only a worked solution)
};

// Parses "as_is", "gsm8k" or "boxed".
absl::StatusOr<AnswerFormat> ParseAnswerFormat(std::string_view name);

struct JsonlOptions {
  std::string path;
  std::string question_field = "question";  // MATH uses "problem"
  std::string answer_field = "answer";
  AnswerFormat answer_format = AnswerFormat::kAsIs;
};

// Loads every record. The question must be a string; the answer a string or a number (an
// integral number is written without a decimal point, 27.0 becomes "27"). Blank lines are
// skipped; a file with no records is an error. Example ids are record indexes from 0.
absl::StatusOr<std::vector<Example>> LoadJsonlDataset(const JsonlOptions& options);

struct SftOptions {
  std::string path;
  std::string prompt_field = "prompt";
  std::string response_field = "response";
};

// Loads prompt/response records under the same rules; both fields must be strings.
absl::StatusOr<std::vector<SftExample>> LoadSftJsonl(const SftOptions& options);

// Returns why `text` is not valid JSON, in the parser's words without its exception prefix
// ("syntax error while parsing value - invalid string: ill-formed UTF-8 byte; ..."), or an
// empty string when it is valid.
std::string JsonParseProblem(const std::string& text);

// Calls `visit(line_number, row)` for each non-blank line of `path`, where row is a JSON
// object. A line that is not a JSON object is an error naming path:line; so is a status that
// `visit` returns, which gets the same prefix.
absl::Status ReadJsonlObjects(
    const std::string& path,
    const std::function<absl::Status(int64_t line, const nlohmann::json& row)>& visit);

// Writes one JSON value per line, replacing `path`.
absl::Status WriteJsonl(const std::string& path, const std::vector<nlohmann::json>& rows);

// The JSON form `aha data` writes: the row's fields plus "id", "question" and "ground_truth",
// which replace fields of the same name.
nlohmann::json ExampleToJson(const Example& example);

}  // namespace aha::data

#endif  // AHA_DATA_JSONL_H_
