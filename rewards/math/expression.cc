// Recursive-descent parser and evaluators for scalar math expressions.
#include "rewards/math/expression.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace aha::math {
namespace {

using Op = Expression::Op;
using Complex = std::complex<double>;

bool IsLetter(char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

constexpr const char* kFunctions[] = {"sin",    "cos",    "tan",    "cot",  "sec",  "csc",
                                      "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh",
                                      "exp",    "ln",     "log"};
constexpr const char* kGreek[] = {
    "alpha", "beta",  "gamma", "delta",   "epsilon", "varepsilon", "zeta", "eta",
    "theta", "vartheta", "iota", "kappa", "lambda",  "mu",         "nu",   "xi",
    "rho",   "sigma", "tau",   "upsilon", "phi",     "varphi",     "chi",  "psi",
    "omega", "Gamma", "Delta", "Theta",   "Lambda",  "Xi",         "Sigma", "Phi",
    "Psi",   "Omega"};

template <size_t N>
bool Contains(const char* const (&names)[N], std::string_view name) {
  for (const char* candidate : names) {
    if (name == candidate) return true;
  }
  return false;
}

bool IsAtomCommand(std::string_view name) {
  return name == "frac" || name == "sqrt" || name == "pi" || name == "infty" ||
         Contains(kFunctions, name) || Contains(kGreek, name);
}

}  // namespace

class ExpressionParser {
 public:
  ExpressionParser(std::string_view text, const ParseLimits& limits)
      : text_(text), limits_(limits) {}

  absl::StatusOr<Expression> Run() {
    if (text_.size() > limits_.max_length) {
      return absl::InvalidArgumentError(absl::StrCat("expression longer than ",
                                                     limits_.max_length, " characters"));
    }
    int root = ParseSum();
    SkipSpace();
    if (error_.empty() && pos_ != text_.size()) {
      Fail(absl::StrCat("unexpected '", std::string(text_.substr(pos_, 8)), "'"));
    }
    if (!error_.empty()) return absl::InvalidArgumentError(error_);
    FinishVariables();
    result_.root_ = root;
    return std::move(result_);
  }

 private:
  // Records the first error; later calls keep it. Returns -1 for the caller to propagate.
  int Fail(std::string message) {
    if (error_.empty()) error_ = absl::StrCat(message, " at offset ", pos_);
    return -1;
  }

  int Add(Expression::Node node) {
    if (result_.nodes_.size() >= limits_.max_nodes) {
      return Fail(absl::StrCat("more than ", limits_.max_nodes, " nodes"));
    }
    result_.nodes_.push_back(std::move(node));
    return static_cast<int>(result_.nodes_.size()) - 1;
  }

  int Binary(Op op, int left, int right) {
    if (left < 0 || right < 0) return -1;
    Expression::Node node{op};
    node.left = left;
    node.right = right;
    return Add(std::move(node));
  }

  int Unary(Op op, int operand) {
    if (operand < 0) return -1;
    Expression::Node node{op};
    node.left = operand;
    return Add(std::move(node));
  }

  void SkipSpace() {
    while (pos_ < text_.size() && text_[pos_] == ' ') ++pos_;
  }

  char Peek() {
    SkipSpace();
    return pos_ < text_.size() ? text_[pos_] : '\0';
  }

  // The control word at pos_ (without the backslash), or "" when there is none.
  std::string_view PeekCommand() {
    SkipSpace();
    if (pos_ >= text_.size() || text_[pos_] != '\\') return {};
    size_t end = pos_ + 1;
    while (end < text_.size() && IsLetter(text_[end])) ++end;
    return text_.substr(pos_ + 1, end - pos_ - 1);
  }

  bool ConsumeCommand(std::string_view name) {
    if (PeekCommand() != name) return false;
    pos_ += name.size() + 1;
    return true;
  }

  // Guards recursion; every recursive entry point calls it and pairs it with Leave().
  bool Enter() {
    if (++depth_ > limits_.max_depth) {
      Fail(absl::StrCat("nesting deeper than ", limits_.max_depth));
      return false;
    }
    return true;
  }
  void Leave() { --depth_; }

  bool StartsImplicitFactor() {
    char c = Peek();
    if (IsLetter(c) || c == '(' || c == '[' || c == '{') return true;
    if (c == '|') return abs_depth_ == 0;
    if (c == '\\') return IsAtomCommand(PeekCommand());
    return false;
  }

  int ParseSum() {
    if (!Enter()) return -1;
    int left = ParseProduct();
    while (error_.empty()) {
      char c = Peek();
      if (c != '+' && c != '-') break;
      ++pos_;
      left = Binary(c == '+' ? Op::kAdd : Op::kSub, left, ParseProduct());
    }
    Leave();
    return left;
  }

  int ParseProduct() {
    int left = ParseUnary();
    while (error_.empty()) {
      char c = Peek();
      if (c == '*' || PeekCommand() == "cdot" || PeekCommand() == "times") {
        if (c == '*') {
          ++pos_;
        } else {
          ConsumeCommand(PeekCommand());
        }
        left = Binary(Op::kMul, left, ParseUnary());
      } else if (c == '/' || PeekCommand() == "div") {
        if (c == '/') {
          ++pos_;
        } else {
          ConsumeCommand("div");
        }
        left = Binary(Op::kDiv, left, ParseUnary());
      } else if (StartsImplicitFactor()) {
        int right = ParsePower();
        left = IsMixedNumber(left, right) ? MixedNumber(left, right)
                                          : Binary(Op::kMul, left, right);
      } else {
        break;
      }
    }
    return left;
  }

  bool IsIntegerLiteral(int node) {
    if (node < 0) return false;
    const Expression::Node& n = result_.nodes_[node];
    return n.op == Op::kNumber && n.literal && n.literal->IsInteger() && n.literal->num() >= 0;
  }

  bool IsMixedNumber(int left, int right) {
    if (right < 0 || !result_.nodes_[right].integer_fraction) return false;
    if (IsIntegerLiteral(left)) return true;
    return left >= 0 && result_.nodes_[left].op == Op::kNeg &&
           IsIntegerLiteral(result_.nodes_[left].left);
  }

  // "1\frac{4}{5}" is 1 + 4/5, and "-1\frac{4}{5}" is -(1 + 4/5).
  int MixedNumber(int left, int fraction) {
    if (result_.nodes_[left].op == Op::kNeg) {
      return Unary(Op::kNeg, Binary(Op::kAdd, result_.nodes_[left].left, fraction));
    }
    return Binary(Op::kAdd, left, fraction);
  }

  // A factor may carry its own sign: "-x^2" is -(x^2), and "2*-3" is allowed.
  int ParseUnary() {
    char c = Peek();
    if (c == '-' || c == '+') {
      if (!Enter()) return -1;
      ++pos_;
      int operand = ParseUnary();
      Leave();
      return c == '-' ? Unary(Op::kNeg, operand) : operand;
    }
    return ParsePower();
  }

  int ParsePower() {
    int base = ParsePostfix();
    if (Peek() != '^') return base;
    ++pos_;
    if (!Enter()) return -1;
    int exponent = ParseExponent();
    Leave();
    return Binary(Op::kPow, base, exponent);
  }

  // An exponent is a braced group, a signed exponent, a whole number ("2^10" is 1024, unlike
  // TeX, because plain-text answers mean it that way), or one atom; "a^b^c" is a^(b^c).
  int ParseExponent() {
    char c = Peek();
    if (c == '-' || c == '+') {
      ++pos_;
      if (!Enter()) return -1;
      int operand = ParseExponent();
      Leave();
      return c == '-' ? Unary(Op::kNeg, operand) : operand;
    }
    int atom = ParsePostfix();
    if (Peek() == '^') {
      ++pos_;
      if (!Enter()) return -1;
      int exponent = ParseExponent();
      Leave();
      return Binary(Op::kPow, atom, exponent);
    }
    return atom;
  }

  int ParsePostfix() {
    int atom = ParseAtom();
    while (error_.empty() && Peek() == '!') {
      ++pos_;
      atom = Unary(Op::kFactorial, atom);
    }
    return atom;
  }

  int ParseNumber() {
    size_t start = pos_;
    while (pos_ < text_.size() && IsDigit(text_[pos_])) ++pos_;
    bool decimal = false;
    if (pos_ < text_.size() && text_[pos_] == '.') {
      ++pos_;
      while (pos_ < text_.size() && IsDigit(text_[pos_])) {
        ++pos_;
        decimal = true;
      }
    }
    if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
      size_t digits = pos_ + 1;
      if (digits < text_.size() && (text_[digits] == '-' || text_[digits] == '+')) ++digits;
      if (digits < text_.size() && IsDigit(text_[digits])) {
        pos_ = digits;
        while (pos_ < text_.size() && IsDigit(text_[pos_])) ++pos_;
      }
    }
    std::string literal(text_.substr(start, pos_ - start));
    if (literal == ".") return Fail("lone '.'");
    Expression::Node node{Op::kNumber};
    node.literal = Rational::FromDecimal(literal);
    node.number = std::strtod(literal.c_str(), nullptr);
    result_.has_decimal_ = result_.has_decimal_ || decimal;
    return Add(std::move(node));
  }

  // Reads "_1", "_n" or "_{12}" after a variable name.
  std::string ParseSubscript() {
    if (pos_ >= text_.size() || text_[pos_] != '_') return {};
    ++pos_;
    if (pos_ < text_.size() && text_[pos_] == '{') {
      size_t close = text_.find('}', pos_);
      if (close == std::string_view::npos) {
        Fail("unclosed subscript");
        return {};
      }
      std::string sub(text_.substr(pos_ + 1, close - pos_ - 1));
      pos_ = close + 1;
      return "_" + sub;
    }
    if (pos_ < text_.size() && std::isalnum(static_cast<unsigned char>(text_[pos_]))) {
      return std::string("_") + text_[pos_++];
    }
    Fail("empty subscript");
    return {};
  }

  int Variable(std::string name) {
    name += ParseSubscript();
    Expression::Node node{Op::kVariable};
    node.name = std::move(name);
    return Add(std::move(node));
  }

  int ParseGroup(char close) {
    ++pos_;
    if (!Enter()) return -1;
    int inner = ParseSum();
    Leave();
    if (Peek() != close) return Fail(absl::StrCat("missing '", std::string(1, close), "'"));
    ++pos_;
    return inner;
  }

  // A \frac or \sqrt argument: a braced group, one digit, one letter, or one command atom.
  int ParseArgument() {
    char c = Peek();
    if (c == '{') return ParseGroup('}');
    if (IsDigit(c)) {
      Expression::Node node{Op::kNumber};
      node.literal = Rational(c - '0');
      node.number = c - '0';
      ++pos_;
      return Add(std::move(node));
    }
    if (IsLetter(c)) return Variable(std::string(1, text_[pos_++]));
    if (c == '\\' || c == '(') return ParseAtom();
    return Fail("missing argument");
  }

  int ParseLetters() {
    size_t end = pos_;
    while (end < text_.size() && IsLetter(text_[end])) ++end;
    std::string_view word = text_.substr(pos_, end - pos_);
    if (word == "pi") {
      pos_ = end;
      return Add(Expression::Node{Op::kPi});
    }
    if (word == "sqrt") {
      pos_ = end;
      return Unary(Op::kRoot, ParseArgument());
    }
    if (Contains(kFunctions, word)) {
      pos_ = end;
      return ParseFunction(std::string(word));
    }
    char c = text_[pos_++];
    if (c == 'e' && (pos_ >= text_.size() || text_[pos_] != '_')) {
      return Add(Expression::Node{Op::kEuler});
    }
    if (c == 'i' && (pos_ >= text_.size() || text_[pos_] != '_')) {
      return Add(Expression::Node{Op::kImaginary});
    }
    return Variable(std::string(1, c));
  }

  bool IsMinusOne(int node) {
    if (node < 0 || result_.nodes_[node].op != Op::kNeg) return false;
    const Expression::Node& operand = result_.nodes_[result_.nodes_[node].left];
    return operand.op == Op::kNumber && operand.literal && *operand.literal == Rational(1);
  }

  // "\sin^2 x", "\log_2 8", "\cos(2x)", "\sin 2x": the argument runs over implicit products.
  int ParseFunction(std::string name) {
    if (!Enter()) return -1;
    int power = -1;
    int base = -1;
    if (Peek() == '^') {
      ++pos_;
      power = ParseExponent();
      // "\sin^{-1} x" is the inverse function arcsin, not 1/\sin x.
      if (IsMinusOne(power) && (name == "sin" || name == "cos" || name == "tan")) {
        name = "arc" + name;
        power = -1;
      }
    }
    if (name == "log" && Peek() == '_') {
      ++pos_;
      base = ParseArgument();
    }
    bool parenthesized = Peek() == '(';
    int argument = ParsePower();
    while (!parenthesized && error_.empty() && Peek() != '(' && StartsImplicitFactor() &&
           !Contains(kFunctions, PeekCommand())) {
      argument = Binary(Op::kMul, argument, ParsePower());
    }
    Leave();
    int value;
    if (base >= 0) {
      value = Binary(Op::kLog, argument, base);
    } else {
      value = Unary(Op::kFunction, argument);
      if (value >= 0) result_.nodes_[value].name = std::move(name);
    }
    return power >= 0 ? Binary(Op::kPow, value, power) : value;
  }

  int ParseCommand() {
    std::string_view name = PeekCommand();
    if (name.empty()) return Fail("unknown command");
    pos_ += name.size() + 1;
    if (name == "frac") {
      if (!Enter()) return -1;
      int numerator = ParseArgument();
      int denominator = ParseArgument();
      Leave();
      int node = Binary(Op::kDiv, numerator, denominator);
      if (node >= 0) {
        result_.nodes_[node].integer_fraction =
            IsIntegerLiteral(numerator) && IsIntegerLiteral(denominator);
      }
      return node;
    }
    if (name == "sqrt") {
      if (!Enter()) return -1;
      int index = -1;
      if (Peek() == '[') {
        ++pos_;
        index = ParseSum();
        if (Peek() != ']') return Fail("missing ']' after root index");
        ++pos_;
      }
      int radicand = ParseArgument();
      Leave();
      return index >= 0 ? Binary(Op::kRoot, radicand, index) : Unary(Op::kRoot, radicand);
    }
    if (name == "pi") return Add(Expression::Node{Op::kPi});
    if (name == "infty") {
      result_.has_infinity_ = true;
      return Add(Expression::Node{Op::kInfinity});
    }
    if (Contains(kFunctions, name)) return ParseFunction(std::string(name));
    if (Contains(kGreek, name)) return Variable(absl::StrCat("\\", std::string(name)));
    return Fail(absl::StrCat("unsupported command \\", std::string(name)));
  }

  int ParseAtom() {
    char c = Peek();
    if (IsDigit(c) || c == '.') return ParseNumber();
    if (IsLetter(c)) return ParseLetters();
    if (c == '(') return ParseGroup(')');
    if (c == '[') return ParseGroup(']');
    if (c == '{') return ParseGroup('}');
    if (c == '|' && abs_depth_ == 0) {
      ++abs_depth_;
      int inner = ParseGroup('|');
      --abs_depth_;
      return Unary(Op::kAbs, inner);
    }
    if (c == '\\') return ParseCommand();
    if (c == '\0') return Fail("unexpected end");
    return Fail(absl::StrCat("unexpected '", std::string(1, c), "'"));
  }

  // Gives each distinct variable name an index into the sorted variables_.
  void FinishVariables() {
    std::vector<std::string>& names = result_.variables_;
    for (const Expression::Node& node : result_.nodes_) {
      if (node.op == Op::kVariable) names.push_back(node.name);
    }
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    for (Expression::Node& node : result_.nodes_) {
      if (node.op != Op::kVariable) continue;
      node.variable = static_cast<int>(
          std::lower_bound(names.begin(), names.end(), node.name) - names.begin());
    }
  }

  std::string_view text_;
  ParseLimits limits_;
  size_t pos_ = 0;
  int depth_ = 0;
  int abs_depth_ = 0;
  std::string error_;
  Expression result_;
};

absl::StatusOr<Expression> Expression::Parse(std::string_view text, const ParseLimits& limits) {
  return ExpressionParser(text, limits).Run();
}

std::optional<Rational> Expression::EvaluateExact() const {
  return root_ < 0 ? std::nullopt : EvaluateNodeExact(root_);
}

std::optional<Rational> Expression::EvaluateNodeExact(int index) const {
  const Node& node = nodes_[index];
  auto operand = [&](int child) { return EvaluateNodeExact(child); };
  switch (node.op) {
    case Op::kNumber:
      return node.literal;
    case Op::kAdd:
    case Op::kSub:
    case Op::kMul:
    case Op::kDiv: {
      std::optional<Rational> a = operand(node.left);
      if (!a) return std::nullopt;
      std::optional<Rational> b = operand(node.right);
      if (!b) return std::nullopt;
      if (node.op == Op::kAdd) return math::Add(*a, *b);
      if (node.op == Op::kSub) return math::Sub(*a, *b);
      if (node.op == Op::kMul) return math::Mul(*a, *b);
      return math::Div(*a, *b);
    }
    case Op::kNeg: {
      std::optional<Rational> a = operand(node.left);
      return a ? math::Neg(*a) : std::nullopt;
    }
    case Op::kAbs: {
      std::optional<Rational> a = operand(node.left);
      if (!a) return std::nullopt;
      return a->num() < 0 ? math::Neg(*a) : a;
    }
    case Op::kPow: {
      std::optional<Rational> base = operand(node.left);
      if (!base) return std::nullopt;
      std::optional<Rational> exponent = operand(node.right);
      if (!exponent) return std::nullopt;
      // x^(p/q) = (q-th root of x)^p, exact only when the root is.
      std::optional<Rational> root = math::Root(*base, exponent->den());
      if (!root) return std::nullopt;
      return math::Pow(*root, exponent->num());
    }
    case Op::kRoot: {
      std::optional<Rational> radicand = operand(node.left);
      if (!radicand) return std::nullopt;
      __int128 index = 2;
      if (node.right >= 0) {
        std::optional<Rational> n = operand(node.right);
        if (!n || !n->IsInteger()) return std::nullopt;
        index = n->num();
      }
      return math::Root(*radicand, index);
    }
    case Op::kFactorial: {
      std::optional<Rational> n = operand(node.left);
      // 33! is the largest factorial below 2^127.
      if (!n || !n->IsInteger() || n->num() < 0 || n->num() > 33) return std::nullopt;
      Rational product(1);
      for (__int128 k = 2; k <= n->num(); ++k) {
        std::optional<Rational> next = math::Mul(product, Rational(k));
        if (!next) return std::nullopt;
        product = *next;
      }
      return product;
    }
    default:
      return std::nullopt;
  }
}

namespace {

bool IsReal(Complex z) { return z.imag() == 0; }

// Real powers where the real result exists, so (-8)^(1/3) is not needed here and 2^0.5 stays real.
Complex Power(Complex base, Complex exponent) {
  if (IsReal(base) && IsReal(exponent)) {
    double e = exponent.real();
    if (base.real() >= 0 || e == std::floor(e)) return std::pow(base.real(), e);
  }
  return std::pow(base, exponent);
}

Complex Function(const std::string& name, Complex x) {
  if (name == "sin") return std::sin(x);
  if (name == "cos") return std::cos(x);
  if (name == "tan") return std::tan(x);
  if (name == "cot") return 1.0 / std::tan(x);
  if (name == "sec") return 1.0 / std::cos(x);
  if (name == "csc") return 1.0 / std::sin(x);
  if (name == "arcsin") return std::asin(x);
  if (name == "arccos") return std::acos(x);
  if (name == "arctan") return std::atan(x);
  if (name == "sinh") return std::sinh(x);
  if (name == "cosh") return std::cosh(x);
  if (name == "tanh") return std::tanh(x);
  if (name == "exp") return std::exp(x);
  return std::log(x);  // "ln" and "log"
}

}  // namespace

std::complex<double> Expression::EvaluateNode(int index,
                                              const std::vector<Complex>& values) const {
  const Node& node = nodes_[index];
  auto operand = [&](int child) { return EvaluateNode(child, values); };
  constexpr double kInf = std::numeric_limits<double>::infinity();
  switch (node.op) {
    case Op::kNumber:
      return node.number;
    case Op::kVariable:
      return values[node.variable];
    case Op::kPi:
      return M_PI;
    case Op::kEuler:
      return M_E;
    case Op::kImaginary:
      return Complex(0, 1);
    case Op::kInfinity:
      return kInf;
    case Op::kAdd:
      return operand(node.left) + operand(node.right);
    case Op::kSub:
      return operand(node.left) - operand(node.right);
    case Op::kMul:
      return operand(node.left) * operand(node.right);
    case Op::kDiv:
      return operand(node.left) / operand(node.right);
    case Op::kNeg: {
      Complex a = operand(node.left);
      // Keeps -\infty real: complex negation of (inf, 0) would give (-inf, -0) anyway, but
      // multiplying would produce NaN.
      return Complex(-a.real(), -a.imag());
    }
    case Op::kAbs:
      return std::abs(operand(node.left));
    case Op::kPow:
      return Power(operand(node.left), operand(node.right));
    case Op::kRoot: {
      Complex radicand = operand(node.left);
      Complex n = node.right >= 0 ? operand(node.right) : Complex(2);
      // An odd root of a negative real number is the real root, as in \sqrt[3]{-8} = -2.
      bool odd_index =
          IsReal(n) && n.real() == std::floor(n.real()) && std::fmod(n.real(), 2.0) != 0;
      if (IsReal(radicand) && radicand.real() < 0 && odd_index) {
        return -std::pow(-radicand.real(), 1.0 / n.real());
      }
      if (node.right < 0) return IsReal(radicand) && radicand.real() >= 0
                                     ? Complex(std::sqrt(radicand.real()))
                                     : std::sqrt(radicand);
      return Power(radicand, 1.0 / n);
    }
    case Op::kFactorial: {
      Complex n = operand(node.left);
      if (!IsReal(n) || n.real() < 0 || n.real() > 170) return kInf;
      return std::tgamma(n.real() + 1);
    }
    case Op::kFunction:
      return Function(node.name, operand(node.left));
    case Op::kLog:
      return std::log(operand(node.left)) / std::log(operand(node.right));
  }
  return std::numeric_limits<double>::quiet_NaN();
}

}  // namespace aha::math
