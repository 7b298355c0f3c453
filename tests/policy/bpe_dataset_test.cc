// Tests the byte-level BPE tokenizer with the real Qwen3 tokenizer on every text field of every
// line of the GSM8K train and test files and the MATH-500 file. Its ids must equal those of the
// Hugging Face `tokenizers` package, and decoding them must give back the text. The reference
// is a token count and an FNV-1a digest per field, which scripts/make_tokenizer_fixtures.py
// writes to tests/fixtures/tokenizer/qwen3_dataset_digests.tsv.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "policy/tokenizer.h"

namespace aha {
namespace {

const std::string kDigestsPath =
    std::string(AHA_SOURCE_DIR) + "/tests/fixtures/tokenizer/qwen3_dataset_digests.tsv";
const std::string kQwen3Dir = std::string(AHA_SHARED_DIR) + "/tokenizers/qwen3";
const std::string kDatasetsDir = std::string(AHA_SHARED_DIR) + "/datasets";

// Max mismatches of each kind reported one by one. The rest are only counted, so the output
// stays readable.
constexpr int kMaxReported = 10;

// The token count and digest of one text field.
struct Digest {
  int64_t count = 0;
  uint64_t fnv = 0;
};

// The reference for one dataset file: its field names and, per 1-based line number, one
// digest per field.
struct DatasetDigests {
  std::vector<std::string> fields;
  std::map<int, std::vector<Digest>> lines;
};

// FNV-1a 64 over each id as 4 little-endian bytes, as fnv1a64_ids in the fixture script.
uint64_t Fnv1a64(const std::vector<int32_t>& ids) {
  uint64_t digest = 0xcbf29ce484222325ull;
  for (int32_t id : ids) {
    const uint32_t value = static_cast<uint32_t>(id);
    for (int shift = 0; shift < 32; shift += 8) {
      digest ^= (value >> shift) & 0xff;
      digest *= 0x100000001b3ull;
    }
  }
  return digest;
}

// Reads the digest file, keyed by dataset file name. Adds a test failure and returns an
// empty map on a malformed line.
std::map<std::string, DatasetDigests> ReadDigests(const std::string& path) {
  std::map<std::string, DatasetDigests> datasets;
  std::ifstream in(path);
  EXPECT_TRUE(in) << "cannot open " << path;
  DatasetDigests* current = nullptr;
  std::string line;
  int line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    if (line.empty() || line[0] == '#') continue;
    const std::vector<std::string> cells = absl::StrSplit(line, '\t');
    const std::string where = absl::StrCat(path, ":", line_number);
    if (cells[0] == "file") {
      if (cells.size() < 3) {
        ADD_FAILURE() << where << ": a file line needs a name and at least one field";
        return {};
      }
      current = &datasets[cells[1]];
      current->fields.assign(cells.begin() + 2, cells.end());
      continue;
    }
    int dataset_line = 0;
    if (current == nullptr || cells.size() != 1 + 2 * current->fields.size() ||
        !absl::SimpleAtoi(cells[0], &dataset_line)) {
      ADD_FAILURE() << where << ": expected a line number and a count and digest per field";
      return {};
    }
    std::vector<Digest>& digests = current->lines[dataset_line];
    for (size_t i = 1; i < cells.size(); i += 2) {
      Digest digest;
      if (!absl::SimpleAtoi(cells[i], &digest.count) ||
          !absl::SimpleHexAtoi(cells[i + 1], &digest.fnv)) {
        ADD_FAILURE() << where << ": invalid count or digest in column " << i + 1;
        return {};
      }
      digests.push_back(digest);
    }
  }
  return datasets;
}

// The first bytes of `text` on one line, to identify a failing text in the output.
std::string Excerpt(const std::string& text) {
  std::string excerpt = nlohmann::json(text.substr(0, 80)).dump(
      /*indent=*/-1, /*indent_char=*/' ', /*ensure_ascii=*/false,
      nlohmann::json::error_handler_t::replace);
  return text.size() > 80 ? excerpt + "..." : excerpt;
}

TEST(BpeDatasetTest, Qwen3MatchesEveryDatasetLine) {
  if (!std::filesystem::exists(kQwen3Dir + "/tokenizer.json")) {
    GTEST_SKIP() << "no Qwen3 tokenizer at " << kQwen3Dir;
  }
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = LoadTokenizer(kQwen3Dir);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  const std::map<std::string, DatasetDigests> reference = ReadDigests(kDigestsPath);

  // The files and fields the fixture must cover; the test fails if it lacks any of them.
  const std::vector<std::pair<std::string, std::vector<std::string>>> kDatasets = {
      {"gsm8k/train.jsonl", {"question", "answer"}},
      {"gsm8k/test.jsonl", {"question", "answer"}},
      {"math500/test.jsonl", {"problem", "solution", "answer"}},
  };
  for (const auto& [name, fields] : kDatasets) {
    if (!std::filesystem::exists(kDatasetsDir + "/" + name)) {
      GTEST_SKIP() << "no dataset at " << kDatasetsDir << "/" << name;
    }
  }
  ASSERT_EQ(reference.size(), kDatasets.size()) << kDigestsPath;

  int id_mismatches = 0;
  int round_trip_mismatches = 0;
  int64_t texts = 0;
  for (const auto& [name, fields] : kDatasets) {
    const std::string path = kDatasetsDir + "/" + name;
    const auto found = reference.find(name);
    ASSERT_NE(found, reference.end()) << kDigestsPath << " has no rows for " << name;
    const DatasetDigests& digests = found->second;
    ASSERT_EQ(digests.fields, fields) << kDigestsPath << ", fields of " << name;

    std::ifstream in(path);
    ASSERT_TRUE(in) << "cannot open " << path;
    std::string line;
    int line_number = 0;
    int checked_lines = 0;
    while (std::getline(in, line)) {
      ++line_number;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      const auto expected = digests.lines.find(line_number);
      if (expected == digests.lines.end()) {
        FAIL() << kDigestsPath << " has no row for " << name << " line " << line_number
               << "; rerun scripts/make_tokenizer_fixtures.py if the dataset changed";
      }
      ++checked_lines;
      const nlohmann::json row = nlohmann::json::parse(line);
      for (size_t f = 0; f < fields.size(); ++f) {
        const std::string text = row.at(fields[f]).get<std::string>();
        const std::vector<int32_t> ids = (*tokenizer)->Encode(text);
        ++texts;

        const Digest& want = expected->second[f];
        const Digest got{static_cast<int64_t>(ids.size()), Fnv1a64(ids)};
        if (got.count != want.count || got.fnv != want.fnv) {
          if (++id_mismatches <= kMaxReported) {
            ADD_FAILURE() << name << " line " << line_number << " field " << fields[f]
                          << ": aha gives " << got.count << " tokens, digest " << std::hex << got.fnv
                          << "; tokenizers gives " << std::dec << want.count
                          << " tokens, digest " << std::hex << want.fnv << std::dec
                          << "; text " << Excerpt(text);
          }
        }
        if ((*tokenizer)->Decode(ids) != text && ++round_trip_mismatches <= kMaxReported) {
          ADD_FAILURE() << name << " line " << line_number << " field " << fields[f]
                        << ": decoding the ids does not give back the text " << Excerpt(text);
        }
      }
    }
    EXPECT_EQ(checked_lines, static_cast<int>(digests.lines.size()))
        << kDigestsPath << " has rows for lines that " << path << " lacks";
  }
  EXPECT_EQ(id_mismatches, 0) << "texts whose ids differ from tokenizers', of " << texts;
  EXPECT_EQ(round_trip_mismatches, 0) << "texts that do not round-trip, of " << texts;
}

}  // namespace
}  // namespace aha
