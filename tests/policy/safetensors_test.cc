// Tests for the safetensors reader and writer and for sharded model folders.
#include "policy/safetensors.h"

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "policy/file_io.h"
#include "policy/safetensors_folder.h"

namespace aha {
namespace {

namespace fs = std::filesystem;

// A fresh folder per test, removed afterwards.
class SafetensorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (fs::temp_directory_path() /
            ("aha_safetensors_test_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name()))
               .string();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Path(const std::string& name) const { return dir_ + "/" + name; }

  // Writes the 8-byte length, `header` and `data` as they are, for hand-made broken files.
  std::string WriteRaw(const std::string& name, const std::string& header,
                       const std::string& data, uint64_t header_length_override = 0) {
    uint64_t length = header_length_override ? header_length_override : header.size();
    std::string bytes(8, '\0');
    std::memcpy(bytes.data(), &length, 8);
    bytes += header + data;
    const std::string path = Path(name);
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }

  std::string dir_;
};

std::string ReadAll(const std::string& path) {
  absl::StatusOr<std::string> contents = ReadFileToString(path);
  EXPECT_TRUE(contents.ok()) << contents.status();
  return contents.ok() ? *contents : "";
}

void ExpectErrorMentions(const absl::Status& status, const std::vector<std::string>& parts) {
  ASSERT_FALSE(status.ok());
  for (const std::string& part : parts) {
    EXPECT_NE(status.message().find(part), std::string::npos)
        << "message '" << status.message() << "' lacks '" << part << "'";
  }
}

TEST_F(SafetensorsTest, RoundTripKeepsBytesShapesAndMetadata) {
  const std::vector<float> f32 = {1.5f, -2.0f, 3.25f, 0.0f, -0.0f, 1e-30f};
  const std::vector<uint16_t> bf16 = {0x3F80, 0xC000, 0x0001, 0x7F7F};
  const std::vector<uint16_t> f16 = {0x3C00, 0xBC00, 0x7BFF};
  std::vector<SafetensorsTensorData> tensors = {
      {"b.f16", SafetensorsDtype::kF16, {3}, f16.data(), f16.size() * 2},
      {"a.f32", SafetensorsDtype::kF32, {2, 3}, f32.data(), f32.size() * 4},
      {"c.bf16", SafetensorsDtype::kBF16, {2, 1, 2}, bf16.data(), bf16.size() * 2},
  };
  const std::string path = Path("x.safetensors");
  ASSERT_TRUE(WriteSafetensors(path, tensors).ok());

  absl::StatusOr<std::unique_ptr<SafetensorsFile>> file = SafetensorsFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ((*file)->metadata().at("format"), "pt");
  ASSERT_EQ((*file)->tensors().size(), 3u);
  for (const SafetensorsTensorData& expected : tensors) {
    const SafetensorsTensor* info = (*file)->Find(expected.name);
    ASSERT_NE(info, nullptr) << expected.name;
    EXPECT_EQ(info->dtype, expected.dtype);
    EXPECT_EQ(info->shape, expected.shape);
    absl::Span<const uint8_t> bytes = (*file)->Bytes(*info);
    ASSERT_EQ(bytes.size(), expected.nbytes);
    EXPECT_EQ(std::memcmp(bytes.data(), expected.data, expected.nbytes), 0) << expected.name;
    EXPECT_EQ(info->begin % SafetensorsDtypeSize(info->dtype), 0u) << "misaligned " << expected.name;
  }
  EXPECT_EQ((*file)->Find("missing"), nullptr);
}

TEST_F(SafetensorsTest, HeaderIsPaddedWithSpacesToEightBytes) {
  const std::vector<float> values = {1.0f};
  ASSERT_TRUE(WriteSafetensors(Path("p.safetensors"),
                               {{"w", SafetensorsDtype::kF32, {1}, values.data(), 4}})
                  .ok());
  const std::string bytes = ReadAll(Path("p.safetensors"));
  uint64_t header_length = 0;
  std::memcpy(&header_length, bytes.data(), 8);
  EXPECT_EQ(header_length % 8, 0u);
  const std::string header = bytes.substr(8, header_length);
  EXPECT_EQ(header.rfind("{\"__metadata__\":{\"format\":\"pt\"}", 0), 0u) << header;
  const size_t close = header.rfind('}');
  EXPECT_EQ(header.find_first_not_of(' ', close + 1), std::string::npos) << header;
  EXPECT_EQ(bytes.size(), 8 + header_length + 4);
}

TEST_F(SafetensorsTest, WriterMatchesPythonFixtureByteForByte) {
  // The same tensors as scripts/make_safetensors_fixture.py writes.
  std::vector<float> f32;
  for (int i = 0; i < 6; ++i) f32.push_back(0.5f * i - 1.0f);
  std::vector<uint16_t> bf16;
  for (int i = 0; i < 8; ++i) {
    float value = 0.25f * i - 1.0f;
    uint32_t bits = 0;
    std::memcpy(&bits, &value, 4);
    bf16.push_back(static_cast<uint16_t>(bits >> 16));  // exact: the low bits are zero
  }
  const std::vector<uint16_t> f16 = {0x0000, 0x3000, 0x3400, 0x3600, 0x3800};  // 0.125 * i
  const std::vector<int64_t> i64 = {-1, 0, 1};
  const float scalar = 7.0f;
  const std::string fixture = std::string(AHA_SOURCE_DIR) +
                              "/tests/fixtures/safetensors/python_written.safetensors";
  const std::string path = Path("ours.safetensors");
  ASSERT_TRUE(WriteSafetensors(path, {
                                         {"model.f32", SafetensorsDtype::kF32, {2, 3}, f32.data(), 24},
                                         {"model.bf16", SafetensorsDtype::kBF16, {2, 2, 2}, bf16.data(), 16},
                                         {"model.f16", SafetensorsDtype::kF16, {5}, f16.data(), 10},
                                         {"model.i64", SafetensorsDtype::kI64, {3}, i64.data(), 24},
                                         {"model.scalar", SafetensorsDtype::kF32, {}, &scalar, 4},
                                         {"model.empty", SafetensorsDtype::kF32, {0, 4}, nullptr, 0},
                                     })
                  .ok());
  EXPECT_EQ(ReadAll(path), ReadAll(fixture));
}

TEST_F(SafetensorsTest, ReadsPythonFixtureValues) {
  const std::string fixture = std::string(AHA_SOURCE_DIR) +
                              "/tests/fixtures/safetensors/python_written.safetensors";
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> file = SafetensorsFile::Open(fixture);
  ASSERT_TRUE(file.ok()) << file.status();
  const SafetensorsFile& f = **file;
  EXPECT_EQ(f.metadata().at("format"), "pt");

  const SafetensorsTensor* f32 = f.Find("model.f32");
  ASSERT_NE(f32, nullptr);
  EXPECT_EQ(f32->shape, (std::vector<int64_t>{2, 3}));
  for (int i = 0; i < 6; ++i) {
    float value = 0;
    std::memcpy(&value, f.Bytes(*f32).data() + 4 * i, 4);
    EXPECT_EQ(value, 0.5f * i - 1.0f) << i;
  }

  const SafetensorsTensor* bf16 = f.Find("model.bf16");
  ASSERT_NE(bf16, nullptr);
  EXPECT_EQ(bf16->dtype, SafetensorsDtype::kBF16);
  EXPECT_EQ(bf16->shape, (std::vector<int64_t>{2, 2, 2}));
  for (int i = 0; i < 8; ++i) {
    uint16_t half_bits = 0;
    std::memcpy(&half_bits, f.Bytes(*bf16).data() + 2 * i, 2);
    uint32_t bits = static_cast<uint32_t>(half_bits) << 16;
    float value = 0;
    std::memcpy(&value, &bits, 4);
    EXPECT_EQ(value, 0.25f * i - 1.0f) << i;
  }

  const SafetensorsTensor* f16 = f.Find("model.f16");
  ASSERT_NE(f16, nullptr);
  EXPECT_EQ(f16->dtype, SafetensorsDtype::kF16);
  const std::vector<uint16_t> expected_f16 = {0x0000, 0x3000, 0x3400, 0x3600, 0x3800};
  for (int i = 0; i < 5; ++i) {
    uint16_t bits = 0;
    std::memcpy(&bits, f.Bytes(*f16).data() + 2 * i, 2);
    EXPECT_EQ(bits, expected_f16[i]) << i;
  }

  const SafetensorsTensor* i64 = f.Find("model.i64");
  ASSERT_NE(i64, nullptr);
  EXPECT_EQ(i64->dtype, SafetensorsDtype::kI64);
  int64_t first = 0;
  std::memcpy(&first, f.Bytes(*i64).data(), 8);
  EXPECT_EQ(first, -1);

  const SafetensorsTensor* scalar = f.Find("model.scalar");
  ASSERT_NE(scalar, nullptr);
  EXPECT_TRUE(scalar->shape.empty());
  float scalar_value = 0;
  std::memcpy(&scalar_value, f.Bytes(*scalar).data(), 4);
  EXPECT_EQ(scalar_value, 7.0f);

  const SafetensorsTensor* empty = f.Find("model.empty");
  ASSERT_NE(empty, nullptr);
  EXPECT_EQ(empty->shape, (std::vector<int64_t>{0, 4}));
  EXPECT_EQ(f.Bytes(*empty).size(), 0u);
}

TEST_F(SafetensorsTest, ParsesEveryDtypeName) {
  for (const char* name : {"F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL"}) {
    absl::StatusOr<SafetensorsDtype> dtype = ParseSafetensorsDtype(name);
    ASSERT_TRUE(dtype.ok()) << name;
    EXPECT_STREQ(SafetensorsDtypeName(*dtype), name);
  }
  EXPECT_EQ(SafetensorsDtypeSize(SafetensorsDtype::kBool), 1);
  EXPECT_EQ(SafetensorsDtypeSize(SafetensorsDtype::kBF16), 2);
  EXPECT_EQ(SafetensorsDtypeSize(SafetensorsDtype::kI64), 8);
  EXPECT_FALSE(ParseSafetensorsDtype("F8_E4M3").ok());
}

TEST_F(SafetensorsTest, OpensIntegerAndBoolTensors) {
  const std::string header =
      R"({"ids":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},)"
      R"("mask":{"dtype":"BOOL","shape":[2],"data_offsets":[8,10]},)"
      R"("bytes":{"dtype":"U8","shape":[2],"data_offsets":[10,12]},)"
      R"("x":{"dtype":"I32","shape":[1],"data_offsets":[12,16]}})";
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> file =
      SafetensorsFile::Open(WriteRaw("ints.safetensors", header, std::string(16, '\1')));
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ((*file)->tensors().size(), 4u);
  EXPECT_EQ((*file)->Find("mask")->dtype, SafetensorsDtype::kBool);
  EXPECT_TRUE((*file)->metadata().empty());
}

// One broken file per row: the error must name the file and, where one exists, the tensor.
struct BrokenFileCase {
  const char* label;
  std::string header;
  size_t data_bytes;
  std::vector<std::string> expected_parts;
};

TEST_F(SafetensorsTest, BrokenHeadersGiveErrorsNamingTensorAndFile) {
  const std::vector<BrokenFileCase> cases = {
      {"overlap",
       R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
       R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
       12,
       {"'b'", "overlap", "'a'"}},
      {"out_of_range",
       R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8, {"'a'", "[0, 16]"}},
      {"begin_after_end",
       R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}})", 8, {"'a'", "begin > end"}},
      {"size_mismatch",
       R"({"a":{"dtype":"F16","shape":[2,3],"data_offsets":[0,8]}})", 8,
       {"'a'", "needs 12"}},
      {"unknown_dtype",
       R"({"a":{"dtype":"F12","shape":[1],"data_offsets":[0,4]}})", 4, {"'a'", "F12"}},
      {"negative_dim",
       R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4, {"'a'", "shape"}},
      {"missing_offsets", R"({"a":{"dtype":"F32","shape":[1]}})", 4, {"'a'", "data_offsets"}},
      {"gap",
       R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
       R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
       12,
       {"'b'", "gap"}},
      {"trailing_bytes", R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 12,
       {"trailing"}},
      {"duplicate",
       R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
       R"("a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
       8,
       {"'a'", "twice"}},
      {"invalid_json", R"({"a":{"dtype":"F32",)", 4, {"not valid UTF-8 JSON"}},
      {"invalid_utf8", "{\"a\xff\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
       {"not valid UTF-8 JSON"}},
      {"not_object", "[1, 2]", 0, {"not a JSON object"}},
      {"metadata_not_string",
       R"({"__metadata__":{"format":1},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
       4,
       {"__metadata__", "format"}},
  };
  for (const BrokenFileCase& row : cases) {
    SCOPED_TRACE(row.label);
    const std::string path =
        WriteRaw(std::string(row.label) + ".safetensors", row.header, std::string(row.data_bytes, '\0'));
    absl::StatusOr<std::unique_ptr<SafetensorsFile>> file = SafetensorsFile::Open(path);
    ASSERT_FALSE(file.ok());
    std::vector<std::string> parts = row.expected_parts;
    parts.push_back(path);
    ExpectErrorMentions(file.status(), parts);
  }
}

TEST_F(SafetensorsTest, HeaderLengthPastEndOfFileIsError) {
  const std::string path = WriteRaw("long.safetensors", "{}", "", /*header_length_override=*/1000);
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> file = SafetensorsFile::Open(path);
  ExpectErrorMentions(file.status(), {path, "header length 1000", "past the end"});
}

TEST_F(SafetensorsTest, FileShorterThanLengthFieldIsError) {
  const std::string path = Path("tiny.safetensors");
  std::ofstream(path, std::ios::binary) << "abc";
  ExpectErrorMentions(SafetensorsFile::Open(path).status(), {path, "3 bytes"});
  ExpectErrorMentions(SafetensorsFile::Open(Path("absent.safetensors")).status(),
                      {Path("absent.safetensors"), "not found"});
}

TEST_F(SafetensorsTest, TruncatedFileNamesLastTensor) {
  const std::vector<float> values(8, 1.0f);
  const std::string path = Path("t.safetensors");
  ASSERT_TRUE(WriteSafetensors(path, {{"first", SafetensorsDtype::kF32, {4}, values.data(), 16},
                                      {"second", SafetensorsDtype::kF32, {4}, values.data(), 16}})
                  .ok());
  fs::resize_file(path, fs::file_size(path) - 6);
  ExpectErrorMentions(SafetensorsFile::Open(path).status(), {path, "'second'", "truncated"});
}

TEST_F(SafetensorsTest, WriterRejectsDuplicateAndMismatchedTensors) {
  const std::vector<float> values(4, 1.0f);
  const absl::Status duplicate =
      WriteSafetensors(Path("d.safetensors"), {{"w", SafetensorsDtype::kF32, {1}, values.data(), 4},
                                               {"w", SafetensorsDtype::kF32, {1}, values.data(), 4}});
  ExpectErrorMentions(duplicate, {"'w'"});
  const absl::Status mismatch = WriteSafetensors(
      Path("m.safetensors"), {{"w", SafetensorsDtype::kF32, {3}, values.data(), 16}});
  ExpectErrorMentions(mismatch, {"'w'", "needs 12"});
  EXPECT_FALSE(fs::exists(Path("d.safetensors")));
  EXPECT_FALSE(fs::exists(Path("m.safetensors")));
}

TEST_F(SafetensorsTest, AtomicWriteLeavesNoTemporaryFiles) {
  ASSERT_TRUE(WriteFileAtomically(Path("a.txt"), std::string("first")).ok());
  ASSERT_TRUE(WriteFileAtomically(Path("a.txt"), std::string("second")).ok());
  EXPECT_EQ(ReadAll(Path("a.txt")), "second");
  int files = 0;
  for (const auto& entry : fs::directory_iterator(dir_)) {
    ++files;
    EXPECT_EQ(entry.path().filename(), "a.txt");
  }
  EXPECT_EQ(files, 1);
  EXPECT_FALSE(WriteFileAtomically(Path("no/such/folder/a.txt"), std::string("x")).ok());
}

// Tensors named t00..t{count-1}, each `floats` floats of value i.
struct TensorSet {
  std::vector<std::vector<float>> storage;
  std::vector<SafetensorsTensorData> tensors;
};

TensorSet MakeTensors(int count, int floats) {
  TensorSet set;
  set.storage.reserve(count);
  for (int i = 0; i < count; ++i) {
    set.storage.emplace_back(floats, static_cast<float>(i));
    char name[8];
    std::snprintf(name, sizeof(name), "t%02d", i);
    set.tensors.push_back({name, SafetensorsDtype::kF32, {floats}, set.storage.back().data(),
                           static_cast<size_t>(floats) * 4});
  }
  return set;
}

TEST_F(SafetensorsTest, ShardedFolderRoundTrip) {
  TensorSet set = MakeTensors(5, 16);  // 64 bytes each
  SafetensorsFolderWriteOptions options;
  options.max_shard_bytes = 150;  // two tensors per shard
  ASSERT_TRUE(WriteSafetensorsFolder(dir_, set.tensors, options).ok());
  EXPECT_TRUE(fs::exists(Path("model-00001-of-00003.safetensors")));
  EXPECT_TRUE(fs::exists(Path("model-00003-of-00003.safetensors")));
  EXPECT_FALSE(fs::exists(Path("model.safetensors")));
  const std::string index = ReadAll(Path(kSafetensorsIndexFile));
  EXPECT_NE(index.find("\"total_size\": 320"), std::string::npos) << index;

  absl::StatusOr<SafetensorsFolder> folder = SafetensorsFolder::Open(dir_);
  ASSERT_TRUE(folder.ok()) << folder.status();
  EXPECT_EQ(folder->source(), Path(kSafetensorsIndexFile));
  ASSERT_EQ(folder->Names().size(), 5u);
  for (int i = 0; i < 5; ++i) {
    SafetensorsFolder::Entry entry = folder->Find(set.tensors[i].name);
    ASSERT_NE(entry.tensor, nullptr);
    float value = -1;
    std::memcpy(&value, entry.file->Bytes(*entry.tensor).data(), 4);
    EXPECT_EQ(value, static_cast<float>(i));
  }
  EXPECT_EQ(folder->Find("t99").tensor, nullptr);

  // Saving again below the limit replaces the shards with one file.
  ASSERT_TRUE(WriteSafetensorsFolder(dir_, set.tensors).ok());
  EXPECT_TRUE(fs::exists(Path("model.safetensors")));
  EXPECT_FALSE(fs::exists(Path(kSafetensorsIndexFile)));
  EXPECT_FALSE(fs::exists(Path("model-00001-of-00003.safetensors")));
}

TEST_F(SafetensorsTest, ShardedFolderMissingShardIsError) {
  TensorSet set = MakeTensors(4, 16);
  SafetensorsFolderWriteOptions options;
  options.max_shard_bytes = 64;
  ASSERT_TRUE(WriteSafetensorsFolder(dir_, set.tensors, options).ok());
  fs::remove(Path("model-00003-of-00004.safetensors"));
  absl::StatusOr<SafetensorsFolder> folder = SafetensorsFolder::Open(dir_);
  ExpectErrorMentions(folder.status(),
                      {"model-00003-of-00004.safetensors", "not found", "'t02'"});
}

TEST_F(SafetensorsTest, IndexNamingAbsentTensorIsError) {
  TensorSet set = MakeTensors(1, 4);
  ASSERT_TRUE(WriteSafetensors(Path("shard.safetensors"), set.tensors).ok());
  std::ofstream(Path(kSafetensorsIndexFile))
      << R"({"metadata":{},"weight_map":{"t00":"shard.safetensors","ghost":"shard.safetensors"}})";
  ExpectErrorMentions(SafetensorsFolder::Open(dir_).status(),
                      {"'ghost'", Path("shard.safetensors"), "does not contain"});

  std::ofstream(Path(kSafetensorsIndexFile)) << R"({"weight_map":{"t00":"../shard.safetensors"}})";
  ExpectErrorMentions(SafetensorsFolder::Open(dir_).status(), {"'t00'", "plain file name"});

  std::ofstream(Path(kSafetensorsIndexFile)) << R"({"metadata":{}})";
  ExpectErrorMentions(SafetensorsFolder::Open(dir_).status(), {"weight_map"});
}

TEST_F(SafetensorsTest, FolderWithoutWeightsIsError) {
  ExpectErrorMentions(SafetensorsFolder::Open(dir_).status(),
                      {dir_, "model.safetensors", "model.safetensors.index.json"});
}

TEST_F(SafetensorsTest, SingleFileWinsOverIndex) {
  TensorSet set = MakeTensors(2, 4);
  ASSERT_TRUE(WriteSafetensors(Path("model.safetensors"), set.tensors).ok());
  std::ofstream(Path(kSafetensorsIndexFile)) << R"({"weight_map":{"t00":"gone.safetensors"}})";
  absl::StatusOr<SafetensorsFolder> folder = SafetensorsFolder::Open(dir_);
  ASSERT_TRUE(folder.ok()) << folder.status();
  EXPECT_EQ(folder->source(), Path("model.safetensors"));
  EXPECT_EQ(folder->Names().size(), 2u);
}

}  // namespace
}  // namespace aha
