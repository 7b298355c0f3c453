#include "base/yaml_map.h"

#include <fstream>
#include <string>

#include <gtest/gtest.h>

namespace aha {
namespace {

TEST(YamlMapTest, ReadsTypedValues) {
  YAML::Node root = YAML::Load("a: 3\nb: 0.5\nc: true\nd: hi\ne: [x, y]\nf: [1, 2]\n");
  auto map = YamlMap::Create(root, "cfg.yaml", "");
  ASSERT_TRUE(map.ok());
  int64_t a = 0;
  double b = 0;
  bool c = false;
  std::string d;
  std::vector<std::string> e;
  std::vector<int64_t> f;
  EXPECT_TRUE(map->Read("a", a).ok());
  EXPECT_TRUE(map->Read("b", b).ok());
  EXPECT_TRUE(map->Read("c", c).ok());
  EXPECT_TRUE(map->Read("d", d).ok());
  EXPECT_TRUE(map->Read("e", e).ok());
  EXPECT_TRUE(map->Read("f", f).ok());
  EXPECT_EQ(a, 3);
  EXPECT_EQ(b, 0.5);
  EXPECT_TRUE(c);
  EXPECT_EQ(d, "hi");
  EXPECT_EQ(e, (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(f, (std::vector<int64_t>{1, 2}));
  EXPECT_TRUE(map->CheckAllKeysRead().ok());
}

TEST(YamlMapTest, WrongTypeNamesFileLineAndKey) {
  YAML::Node root = YAML::Load("model:\n  hidden_size: big\n");
  auto map = YamlMap::Create(root, "cfg.yaml", "");
  auto model = map->Child("model");
  ASSERT_TRUE(model.ok());
  int64_t hidden = 0;
  absl::Status status = model->Read("hidden_size", hidden);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.message(), "cfg.yaml:2: model.hidden_size must be an integer, got 'big'");
}

TEST(YamlMapTest, UnknownKeyIsRejected) {
  YAML::Node root = YAML::Load("lr: 1\nlearning_rat: 2\n");
  auto map = YamlMap::Create(root, "cfg.yaml", "trainer");
  double lr = 0;
  ASSERT_TRUE(map->Read("lr", lr).ok());
  absl::Status status = map->CheckAllKeysRead();
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("cfg.yaml:2: trainer.learning_rat is not a known key"),
            std::string::npos)
      << status.message();
}

TEST(YamlMapTest, MissingRequiredKeyIsAnError) {
  auto map = YamlMap::Create(YAML::Load("{}"), "cfg.yaml", "data");
  std::string path;
  absl::Status status = map->Require("path", path);
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.message().find("data.path is required"), std::string::npos);
}

TEST(YamlMapTest, NonMappingSectionIsAnError) {
  auto map = YamlMap::Create(YAML::Load("[1, 2]"), "cfg.yaml", "model");
  EXPECT_FALSE(map.ok());
}

TEST(YamlMapTest, NonFiniteNumberIsAnError) {
  auto map = YamlMap::Create(YAML::Load("lr: .nan\n"), "cfg.yaml", "");
  double lr = 0;
  EXPECT_FALSE(map->Read("lr", lr).ok());
}

TEST(YamlMapTest, SyntaxErrorNamesFile) {
  auto missing = LoadYamlFile("/nonexistent/cfg.yaml");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
}

TEST(YamlMapTest, DirectoryIsNotAConfigFile) {
  auto directory = LoadYamlFile(::testing::TempDir());
  ASSERT_FALSE(directory.ok());
  EXPECT_EQ(directory.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(directory.status().message().find("is a directory"), std::string::npos)
      << directory.status();
}

// Writes `text` to a file in the test's temporary folder and returns its path.
std::string WriteConfigFile(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

TEST(YamlMapTest, DuplicateKeyNamesBothLines) {
  const std::string path =
      WriteConfigFile("dup.yaml", "grpo:\n  steps: 1\nrun: {}\ngrpo:\n  steps: 3\n");
  auto node = LoadYamlFile(path);
  ASSERT_FALSE(node.ok());
  EXPECT_NE(node.status().message().find(path + ":4: the key 'grpo' appears again (first on "
                                         "line 1)"),
            std::string::npos)
      << node.status();
}

TEST(YamlMapTest, SecondDocumentIsAnError) {
  const std::string path =
      WriteConfigFile("two_docs.yaml", "grpo:\n  steps: 1\n---\nrun:\n  out_dir: other\n");
  auto node = LoadYamlFile(path);
  ASSERT_FALSE(node.ok());
  EXPECT_NE(node.status().message().find(path + ":4: the file holds 2 YAML documents"),
            std::string::npos)
      << node.status();
}

TEST(YamlMapTest, EmptyDocumentAfterSeparatorIsAccepted) {
  auto node = LoadYamlFile(WriteConfigFile("trailing_sep.yaml", "---\ngrpo: {steps: 1}\n---\n"));
  ASSERT_TRUE(node.ok()) << node.status();
  EXPECT_EQ((*node)["grpo"]["steps"].as<int>(), 1);
}

TEST(YamlMapTest, NestedDuplicateKeyIsAnError) {
  auto node = LoadYamlFile(WriteConfigFile("nested_dup.yaml", "grpo: {steps: 1, steps: 2}\n"));
  ASSERT_FALSE(node.ok());
  EXPECT_NE(node.status().message().find("'steps'"), std::string::npos) << node.status();
}

TEST(YamlMapTest, InvalidUtf8NamesLine) {
  auto node = LoadYamlFile(WriteConfigFile("latin1.yaml", "a: 1\nprompt: \"Caf\xe9\"\n"));
  ASSERT_FALSE(node.ok());
  EXPECT_NE(node.status().message().find("latin1.yaml:2: the text is not valid UTF-8"),
            std::string::npos)
      << node.status();
}

TEST(YamlMapTest, AliasNestIsRejectedQuickly) {
  std::string text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int level = 1; level < 9; ++level) {
    const std::string previous = "*a" + std::to_string(level - 1);
    text += "a" + std::to_string(level) + ": &a" + std::to_string(level) + " [";
    for (int i = 0; i < 10; ++i) text += (i ? ", " : "") + previous;
    text += "]\n";
  }
  auto node = LoadYamlFile(WriteConfigFile("aliases.yaml", text));
  ASSERT_FALSE(node.ok());
  EXPECT_NE(node.status().message().find("aliases"), std::string::npos) << node.status();
}

TEST(YamlMapTest, ValidConfigLoads) {
  auto node = LoadYamlFile(WriteConfigFile("ok.yaml", "run: {seed: 1}\nprompt: \"Café\"\n"));
  ASSERT_TRUE(node.ok()) << node.status();
  EXPECT_EQ((*node)["prompt"].as<std::string>(), "Café");
}

TEST(YamlOverrideTest, ReplacesNestedValueWithType) {
  YAML::Node root = YAML::Load("optimizer:\n  lr: 1.0e-5\n  betas: [0.9, 0.99]\n");
  ASSERT_TRUE(ApplyYamlOverrides(root, {"optimizer.lr=3e-4", "optimizer.betas=[0.8, 0.9]"}).ok());
  EXPECT_DOUBLE_EQ(root["optimizer"]["lr"].as<double>(), 3e-4);
  EXPECT_DOUBLE_EQ(root["optimizer"]["betas"][0].as<double>(), 0.8);
  EXPECT_EQ(root["optimizer"]["betas"].size(), 2u);
}

TEST(YamlOverrideTest, CreatesMissingSections) {
  YAML::Node root = YAML::Load("run: {seed: 1}\n");
  ASSERT_TRUE(ApplyYamlOverrides(root, {"grpo.loss.eps_high=0.28", "run.seed=7"}).ok());
  EXPECT_DOUBLE_EQ(root["grpo"]["loss"]["eps_high"].as<double>(), 0.28);
  EXPECT_EQ(root["run"]["seed"].as<int>(), 7);
}

TEST(YamlOverrideTest, LastOverrideWins) {
  YAML::Node root = YAML::Load("a: 1\n");
  ASSERT_TRUE(ApplyYamlOverrides(root, {"a=2", "a=3"}).ok());
  EXPECT_EQ(root["a"].as<int>(), 3);
}

TEST(YamlOverrideTest, RejectsMalformedAssignments) {
  YAML::Node root = YAML::Load("a: 1\nb: {c: 2}\n");
  EXPECT_FALSE(ApplyYamlOverrides(root, {"no_equals_sign"}).ok());
  EXPECT_FALSE(ApplyYamlOverrides(root, {"=5"}).ok());
  EXPECT_FALSE(ApplyYamlOverrides(root, {"b..c=5"}).ok());
  EXPECT_FALSE(ApplyYamlOverrides(root, {"a.x=5"}).ok()) << "a is a scalar, not a mapping";
  EXPECT_FALSE(ApplyYamlOverrides(root, {"b.c=[1, 2"}).ok()) << "unterminated YAML list";
  EXPECT_EQ(root["b"]["c"].as<int>(), 2);
}

TEST(YamlOverrideTest, OverrideErrorNamesNoLine) {
  YAML::Node root = YAML::Load("run:\n  seed: 1\ngrpo:\n  steps: 5\n");
  ASSERT_TRUE(ApplyYamlOverrides(root, {"grpo.steps=[1, {a: 2}]", "run.note='7'"}).ok());
  auto grpo = YamlMap::Create(root["grpo"], "c.yaml", "grpo");
  ASSERT_TRUE(grpo.ok());
  int64_t steps = 0;
  absl::Status status = grpo->Read("steps", steps);
  EXPECT_EQ(status.message(), "c.yaml: grpo.steps must be an integer (the value given by --set)")
      << status.message();
  // The file's own values keep their lines, and a quoted override stays a string.
  auto run = YamlMap::Create(root["run"], "c.yaml", "run");
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(run->Error("seed", "is bad").message(), "c.yaml:2: run.seed is bad");
  EXPECT_EQ(root["run"]["note"].Tag(), "!");
  EXPECT_EQ(root["run"]["note"].as<std::string>(), "7");
  EXPECT_EQ(root["grpo"]["steps"][1]["a"].as<int>(), 2);
}

}  // namespace
}  // namespace aha
