// The `countdown` reward, with a recursive-descent parser over exact rationals.
#include "rewards/countdown_reward.h"

#include <algorithm>
#include <climits>
#include <numeric>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "rewards/tags.h"

namespace aha {
namespace {

// Debian's Abseil 20220623 has its own absl::string_view, so std::string_view is converted.
bool ParseInt64(std::string_view text, int64_t* value) {
  return absl::SimpleAtoi(absl::string_view(text.data(), text.size()), value);
}

std::optional<Fraction> Normalize(int64_t num, int64_t den) {
  // INT64_MIN has no positive counterpart, so std::gcd and negation would overflow on it.
  if (den == 0 || num == INT64_MIN || den == INT64_MIN) return std::nullopt;
  if (den < 0) {
    num = -num;
    den = -den;
  }
  int64_t divisor = std::gcd(num, den);
  if (divisor > 1) {
    num /= divisor;
    den /= divisor;
  }
  return Fraction{num, den};
}

std::optional<Fraction> Add(Fraction a, Fraction b, bool subtract) {
  int64_t left, right, num, den;
  if (__builtin_mul_overflow(a.num, b.den, &left) || __builtin_mul_overflow(b.num, a.den, &right) ||
      __builtin_mul_overflow(a.den, b.den, &den)) {
    return std::nullopt;
  }
  bool overflow = subtract ? __builtin_sub_overflow(left, right, &num)
                           : __builtin_add_overflow(left, right, &num);
  if (overflow) return std::nullopt;
  return Normalize(num, den);
}

std::optional<Fraction> Multiply(Fraction a, Fraction b, bool divide) {
  if (divide) std::swap(b.num, b.den);
  int64_t num, den;
  if (__builtin_mul_overflow(a.num, b.num, &num) || __builtin_mul_overflow(a.den, b.den, &den)) {
    return std::nullopt;
  }
  return Normalize(num, den);  // a zero divisor is now den == 0
}

// Grammar: expr := term (('+'|'-') term)*; term := factor (('*'|'/') factor)*;
// factor := integer | '(' expr ')'. A value of std::nullopt propagates a division by zero
// or an overflow without stopping the parse, because the expression is still well formed.
class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  std::optional<ParsedExpression> Run() {
    ParsedExpression parsed;
    std::optional<std::optional<Fraction>> value = ParseExpr(parsed.numbers);
    SkipSpaces();
    if (!value || pos_ != text_.size()) return std::nullopt;
    parsed.value = *value;
    return parsed;
  }

 private:
  using Value = std::optional<Fraction>;

  void SkipSpaces() {
    while (pos_ < text_.size() && absl::ascii_isspace(static_cast<unsigned char>(text_[pos_]))) {
      ++pos_;
    }
  }

  bool Accept(char c) {
    SkipSpaces();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  std::optional<Value> ParseExpr(std::vector<int64_t>& numbers) {
    std::optional<Value> value = ParseTerm(numbers);
    while (value) {
      bool subtract;
      if (Accept('+')) {
        subtract = false;
      } else if (Accept('-')) {
        subtract = true;
      } else {
        break;
      }
      std::optional<Value> rhs = ParseTerm(numbers);
      if (!rhs) return std::nullopt;
      *value = (*value && *rhs) ? Add(**value, **rhs, subtract) : Value();
    }
    return value;
  }

  std::optional<Value> ParseTerm(std::vector<int64_t>& numbers) {
    std::optional<Value> value = ParseFactor(numbers);
    while (value) {
      bool divide;
      if (Accept('*')) {
        divide = false;
      } else if (Accept('/')) {
        divide = true;
      } else {
        break;
      }
      std::optional<Value> rhs = ParseFactor(numbers);
      if (!rhs) return std::nullopt;
      *value = (*value && *rhs) ? Multiply(**value, **rhs, divide) : Value();
    }
    return value;
  }

  std::optional<Value> ParseFactor(std::vector<int64_t>& numbers) {
    if (++depth_ > kMaxDepth) return std::nullopt;
    std::optional<Value> value = ParseFactorInner(numbers);
    --depth_;
    return value;
  }

  std::optional<Value> ParseFactorInner(std::vector<int64_t>& numbers) {
    if (Accept('(')) {
      std::optional<Value> value = ParseExpr(numbers);
      if (!value || !Accept(')')) return std::nullopt;
      return value;
    }
    SkipSpaces();
    size_t begin = pos_;
    while (pos_ < text_.size() && absl::ascii_isdigit(static_cast<unsigned char>(text_[pos_]))) {
      ++pos_;
    }
    int64_t number;
    if (pos_ == begin || !ParseInt64(text_.substr(begin, pos_ - begin), &number)) {
      return std::nullopt;
    }
    numbers.push_back(number);
    return Value(Fraction{number, 1});
  }

  // Bounds the recursion, so a completion of thousands of '(' cannot overflow the stack.
  static constexpr int kMaxDepth = 200;

  std::string_view text_;
  size_t pos_ = 0;
  int depth_ = 0;
};

// Reads an integer JSON field, accepting integral doubles such as 24.0 that JSON writers emit.
std::optional<int64_t> JsonInteger(const nlohmann::json& value) {
  if (value.is_number_integer()) return value.get<int64_t>();
  if (value.is_number_float()) {
    double d = value.get<double>();
    if (d == static_cast<double>(static_cast<int64_t>(d))) return static_cast<int64_t>(d);
  }
  return std::nullopt;
}

absl::StatusOr<std::pair<std::vector<int64_t>, int64_t>> ReadCountdownFields(
    const RewardSample& sample) {
  const nlohmann::json& fields = sample.fields;
  if (!fields.is_object() || !fields.contains("nums")) {
    return absl::InvalidArgumentError(
        "countdown: the data row has no field 'nums' (an array of integers); use a Countdown "
        "dataset or remove the countdown reward");
  }
  if (!fields["nums"].is_array()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "countdown: the data row's field 'nums' is ", fields["nums"].dump(),
        ", not an array of integers such as [3, 7, 25]"));
  }
  std::vector<int64_t> nums;
  for (const nlohmann::json& item : fields["nums"]) {
    std::optional<int64_t> number = JsonInteger(item);
    if (!number) {
      return absl::InvalidArgumentError(
          absl::StrCat("countdown: field 'nums' holds a non-integer: ", item.dump()));
    }
    nums.push_back(*number);
  }
  if (!fields.contains("target")) {
    return absl::InvalidArgumentError("countdown: the data row has no field 'target'");
  }
  std::optional<int64_t> target = JsonInteger(fields["target"]);
  if (!target) {
    return absl::InvalidArgumentError(absl::StrCat(
        "countdown: the data row's field 'target' is ", fields["target"].dump(),
        ", not an integer"));
  }
  return std::make_pair(std::move(nums), *target);
}

}  // namespace

std::optional<ParsedExpression> ParseArithmetic(std::string_view text) {
  return Parser(text).Run();
}

CountdownVerdict JudgeCountdown(std::string_view completion, const std::vector<int64_t>& nums,
                                int64_t target) {
  std::optional<std::string_view> answer = LastAnswerBlock(completion);
  if (!answer) return CountdownVerdict::kNoAnswer;

  std::string_view expression = *answer;
  bool claims_other_value = false;
  if (size_t eq = expression.find('='); eq != std::string_view::npos) {
    int64_t claimed;
    if (!ParseInt64(TrimWhitespace(expression.substr(eq + 1)), &claimed)) {
      return CountdownVerdict::kNoAnswer;
    }
    claims_other_value = claimed != target;
    expression = expression.substr(0, eq);
  }

  std::optional<ParsedExpression> parsed = ParseArithmetic(expression);
  if (!parsed) return CountdownVerdict::kNoAnswer;

  std::vector<int64_t> used = parsed->numbers;
  std::vector<int64_t> given = nums;
  std::sort(used.begin(), used.end());
  std::sort(given.begin(), given.end());
  bool equals_target = parsed->value && parsed->value->den == 1 && parsed->value->num == target;
  if (used != given || !equals_target || claims_other_value) return CountdownVerdict::kWrong;
  return CountdownVerdict::kCorrect;
}

absl::StatusOr<std::unique_ptr<Reward>> MakeCountdownReward(RewardOptions& options) {
  ASSIGN_OR_RETURN(double wrong_answer_score, options.GetDouble("wrong_answer_score", 0.1));
  return MakePerSampleReward([wrong_answer_score](const RewardSample& sample)
                                 -> absl::StatusOr<std::optional<double>> {
    ASSIGN_OR_RETURN(auto fields, ReadCountdownFields(sample));
    switch (JudgeCountdown(sample.completion, fields.first, fields.second)) {
      case CountdownVerdict::kCorrect:
        return 1.0;
      case CountdownVerdict::kWrong:
        return wrong_answer_score;
      case CountdownVerdict::kNoAnswer:
        break;
    }
    return 0.0;
  });
}

}  // namespace aha
