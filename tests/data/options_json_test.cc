// Tests reading the data options from JSON config sections.
#include "data/options_json.h"

#include <gtest/gtest.h>

namespace aha::data {
namespace {

TEST(OptionsJsonTest, CountdownKeysApplied) {
  CountdownOptions o;
  nlohmann::json section = {{"min_count", 3},     {"max_count", 3},    {"max_number", 20},
                            {"max_target", 50},   {"seed", 9},         {"train_size", 10},
                            {"test_size", 5},     {"integer_intermediates", true}};
  ASSERT_TRUE(ParseCountdownOptions(section, "data.countdown", &o).ok());
  EXPECT_EQ(o.max_count, 3);
  EXPECT_EQ(o.max_number, 20);
  EXPECT_EQ(o.max_target, 50);
  EXPECT_EQ(o.seed, 9u);
  EXPECT_EQ(o.train_size, 10);
  EXPECT_TRUE(o.integer_intermediates);
  EXPECT_EQ(o.min_number, 1);  // untouched
}

TEST(OptionsJsonTest, ErrorsNameTheKey) {
  CountdownOptions o;
  absl::Status s = ParseCountdownOptions({{"max_numbr", 20}}, "data.countdown", &o);
  EXPECT_NE(s.message().find("unknown key data.countdown.max_numbr"), std::string::npos) << s;
  EXPECT_NE(s.message().find("max_number"), std::string::npos) << s;
  s = ParseCountdownOptions({{"max_number", "20"}}, "data.countdown", &o);
  EXPECT_NE(s.message().find("data.countdown.max_number: expected an integer"), std::string::npos)
      << s;
  s = ParseCountdownOptions({{"max_number", 1LL << 40}}, "data.countdown", &o);
  EXPECT_FALSE(s.ok());
  s = ParseCountdownOptions({{"min_count", 5}, {"max_count", 3}}, "data.countdown", &o);
  EXPECT_NE(s.message().find("data.countdown: "), std::string::npos) << s;
  EXPECT_EQ(s.message().find("countdown: countdown:"), std::string::npos) << s;
}

TEST(OptionsJsonTest, CorpusWithNestedProblems) {
  CorpusOptions o;
  nlohmann::json section = {{"size", 100},
                            {"correct_fraction", 0.25},
                            {"prompt_template", "r1-zero"},
                            {"max_length", 900},
                            {"problems", {{"max_count", 4}, {"max_number", 100}}}};
  absl::Status s = ParseCorpusOptions(section, "data.corpus", &o);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(o.size, 100);
  EXPECT_DOUBLE_EQ(o.correct_fraction, 0.25);
  EXPECT_EQ(o.prompt_template, "r1-zero");
  EXPECT_EQ(o.problems.max_count, 4);
  EXPECT_EQ(o.problems.min_count, 3);  // the demo default stays
  s = ParseCorpusOptions({{"problems", {{"bogus", 1}}}}, "data.corpus", &o);
  EXPECT_NE(s.message().find("data.corpus.problems.bogus"), std::string::npos) << s;
  s = ParseCorpusOptions({{"reflection_fraction", 2}}, "data.corpus", &o);
  EXPECT_NE(s.message().find("reflection_fraction"), std::string::npos) << s;
  CorpusOptions careful;
  s = ParseCorpusOptions({{"style", "search"},
                          {"careful_persistence", true},
                          {"careful_order", "systematic"}},
                         "data.corpus", &careful);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(careful.careful_order, "systematic");
  s = ParseCorpusOptions({{"careful_order", "sorted"}}, "data.corpus", &careful);
  EXPECT_NE(s.message().find("data.corpus: careful_order must be"), std::string::npos) << s;
}

}  // namespace
}  // namespace aha::data
