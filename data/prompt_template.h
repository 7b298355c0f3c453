// Prompt templates: the text the model sees before its completion. `{prompt}` is the
// example's question and `{name}` is the row field `name`; `{{` and `}}` are literal braces.
//
//   ASSIGN_OR_RETURN(PromptTemplate t, PromptTemplate::Resolve("r1-zero"));
//   ASSIGN_OR_RETURN(std::string text, t.Render(example));
#ifndef AHA_DATA_PROMPT_TEMPLATE_H_
#define AHA_DATA_PROMPT_TEMPLATE_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "data/example.h"

namespace aha::data {

// DeepSeek-R1-Zero's template, worded as in Table 1 of the DeepSeek-R1 paper
// (arXiv:2501.12948), with `{prompt}` where the paper writes "prompt".
extern const char kR1ZeroTemplate[];
// TinyZero's Countdown prompt (`make_prefix`, template_type "base"), ending in "<think>".
extern const char kTinyZeroCountdownTemplate[];
// A short Countdown prompt for tiny char-level models whose context holds ~256-384 characters;
// TinyZero's prompt alone is over 400 characters with its numbers filled in.
extern const char kCountdownShortTemplate[];

class PromptTemplate {
 public:
  // Parses inline template text. An unmatched brace or an empty `{}` is an error.
  static absl::StatusOr<PromptTemplate> Parse(std::string_view text);
  // Returns a built-in template: "r1-zero", "tinyzero-countdown", "countdown-short", "plain"
  // (just `{prompt}`).
  static absl::StatusOr<PromptTemplate> Named(std::string_view name);
  // Text that contains '{' is parsed as an inline template, anything else is a name.
  static absl::StatusOr<PromptTemplate> Resolve(std::string_view name_or_text);

  // Fills the placeholders. A placeholder that is neither `prompt` nor a key of `fields` is an
  // error naming it. Strings are inserted as they are, arrays as "[1, 2, 3]", other values as
  // JSON.
  absl::StatusOr<std::string> Render(std::string_view prompt, const nlohmann::json& fields) const;
  absl::StatusOr<std::string> Render(const Example& example) const {
    return Render(example.question, example.fields);
  }

  const std::string& text() const { return text_; }
  // The placeholder names in order of appearance, repeats included.
  std::vector<std::string> Placeholders() const;

 private:
  struct Piece {
    bool is_placeholder = false;
    std::string text;  // literal text, or the placeholder name
  };

  std::string text_;
  std::vector<Piece> pieces_;
};

// The names PromptTemplate::Named accepts.
std::vector<std::string> TemplateNames();

// Formats one field value the way templates insert it.
std::string FormatFieldValue(const nlohmann::json& value);

}  // namespace aha::data

#endif  // AHA_DATA_PROMPT_TEMPLATE_H_
