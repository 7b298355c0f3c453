// Measures MathEqual throughput on one core over the MATH-500 reference answers.
// Usage: math_accuracy_bench [PATH_TO_MATH500_JSONL] [REPEATS]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "rewards/math/answer_extraction.h"
#include "rewards/math/math_equal.h"

namespace {

struct Variant {
  const char* name;
  std::string (*make)(const std::string& answer);
  bool skip_identical_text;  // forces parsing when the variant is the same text
};

// Each variant is a way a model might write, or get wrong, the reference answer.
const Variant kVariants[] = {
    {"identical", [](const std::string& a) { return a; }, false},
    {"identical, parsed", [](const std::string& a) { return a; }, true},
    {"in $...$ with spaces", [](const std::string& a) { return "$ " + a + " $"; }, false},
    {"plus one (wrong)", [](const std::string& a) { return "(" + a + ")+1"; }, false},
    {"negated (wrong)", [](const std::string& a) { return "-(" + a + ")"; }, false},
    {"boxed solution", nullptr, false},
};

double Seconds(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  std::string path = argc > 1 ? argv[1] : AHA_SHARED_DIR "/datasets/math500/test.jsonl";
  int repeats = argc > 2 ? std::atoi(argv[2]) : 20;
  std::ifstream in(path);
  if (!in) {
    std::fprintf(stderr,
                 "failed to open %s: pass the MATH-500 test.jsonl path as the first argument\n",
                 path.c_str());
    return 1;
  }
  std::vector<std::string> answers;
  std::vector<std::string> solutions;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    nlohmann::json row = nlohmann::json::parse(line, nullptr, false);
    if (row.is_discarded() || !row.contains("answer") || !row.contains("solution")) {
      std::fprintf(stderr, "%s: invalid line %zu, expected JSON with answer and solution\n",
                   path.c_str(), answers.size() + 1);
      return 1;
    }
    answers.push_back(row["answer"].get<std::string>());
    solutions.push_back(row["solution"].get<std::string>());
  }

  std::printf("%-24s %10s %14s\n", "variant", "equal", "answers/s");
  long total_calls = 0;
  double total_seconds = 0;
  for (const Variant& variant : kVariants) {
    aha::math::EqualOptions options;
    options.match_identical_text = !variant.skip_identical_text;
    std::vector<std::string> candidates;
    for (size_t k = 0; k < answers.size(); ++k) {
      candidates.push_back(variant.make ? variant.make(answers[k]) : solutions[k]);
    }
    long equal = 0;
    auto start = std::chrono::steady_clock::now();
    for (int r = 0; r < repeats; ++r) {
      for (size_t k = 0; k < answers.size(); ++k) {
        if (variant.make) {
          equal += aha::math::MathEqual(answers[k], candidates[k], options);
        } else {
          // Extraction from the full worked solution, then comparison.
          std::optional<std::string> boxed = aha::math::ExtractFinalAnswer(candidates[k]);
          equal += boxed && aha::math::MathEqual(answers[k], *boxed, options);
        }
      }
    }
    double seconds = Seconds(start);
    long calls = static_cast<long>(answers.size()) * repeats;
    total_calls += calls;
    total_seconds += seconds;
    std::printf("%-24s %6ld/%zu %14.0f\n", variant.name, equal / repeats, answers.size(),
                calls / seconds);
  }
  std::printf("%-24s %10s %14.0f\n", "all variants", "", total_calls / total_seconds);
  return 0;
}
