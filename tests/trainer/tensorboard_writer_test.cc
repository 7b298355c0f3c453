// Tests of the TensorBoard event writer: CRC32C, TFRecord framing and the hand-encoded Event
// messages, against bytes produced by the tensorboard Python package (2.x): its
// pywrap_tensorflow.masked_crc32c and its event_pb2/summary_pb2 SerializeToString().
#include "trainer/tensorboard_writer.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "absl/strings/escaping.h"
#include "tests/unique_temp_path.h"

namespace aha {
namespace {

std::string Hex(const std::string& bytes) { return absl::BytesToHexString(bytes); }

TEST(TensorBoardWriterTest, Crc32cCheckValues) {
  EXPECT_EQ(Crc32c(""), 0u);
  // The standard CRC-32C check value.
  EXPECT_EQ(Crc32c("123456789"), 0xE3069283u);
  // RFC 3720 (iSCSI) appendix B.4: 32 bytes of zeros and 32 bytes of 0xFF.
  EXPECT_EQ(Crc32c(std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(Crc32c(std::string(32, '\xFF')), 0x62A8AB43u);
}

TEST(TensorBoardWriterTest, MaskedCrcMatchesTensorBoard) {
  EXPECT_EQ(MaskedCrc32c(""), 0xA282EAD8u);
  EXPECT_EQ(MaskedCrc32c("hello"), 0x191C1FBBu);
}

TEST(TensorBoardWriterTest, FramesRecord) {
  EXPECT_EQ(Hex(FrameTfRecord("hello")), "0500000000000000eab2043e68656c6c6fbb1f1c19");
  EXPECT_EQ(FrameTfRecord("").size(), 16u);
}

TEST(TensorBoardWriterTest, EncodesScalarEvent) {
  EXPECT_EQ(Hex(EncodeScalarEvent(1.5, 3, "loss", 0.25f)),
            "09000000000000f83f10032a0d0a0b0a046c6f7373150000803e");
}

TEST(TensorBoardWriterTest, EncodesTextEvent) {
  EXPECT_EQ(Hex(EncodeTextEvent(1.5, 3, "t", "hi")),
            "09000000000000f83f10032a190a170a0174420808071200420268694a080a060a0474657874");
}

TEST(TensorBoardWriterTest, EncodesFileVersionEvent) {
  EXPECT_EQ(Hex(EncodeFileVersionEvent(1.5)),
            "09000000000000f83f1a0d627261696e2e4576656e743a32");
}

TEST(TensorBoardWriterTest, WritesFramedFile) {
  const std::string dir = aha_test::UniqueTempPath("tensorboard_writer_test");
  std::filesystem::remove_all(dir);
  std::string path;
  {
    absl::StatusOr<TensorBoardWriter> writer = TensorBoardWriter::Open(dir);
    ASSERT_TRUE(writer.ok()) << writer.status();
    path = writer->path();
    writer->WriteScalar(1, "loss", 0.5);
    writer->WriteJsonScalars(2, {{"step", 2}, {"accuracy", 0.75}, {"name", "x"},
                                 {"eval", {{"pass_at_1", 0.5}}}}, "");
    writer->WriteText(2, "samples/completion", "wait, check");
  }
  EXPECT_NE(std::filesystem::path(path).filename().string().find("events.out.tfevents."),
            std::string::npos);
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string bytes = buffer.str();

  // Walk the records: each frame's CRCs must check, and there must be exactly five
  // (file_version, loss, accuracy, eval/pass_at_1, text).
  size_t offset = 0;
  int records = 0;
  while (offset < bytes.size()) {
    ASSERT_LE(offset + 12, bytes.size());
    uint64_t length = 0;
    for (int i = 0; i < 8; ++i) {
      length |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[offset + i])) << (8 * i);
    }
    ASSERT_LE(offset + 16 + length, bytes.size());
    EXPECT_EQ(FrameTfRecord(bytes.substr(offset + 12, length)),
              bytes.substr(offset, 16 + length));
    offset += 16 + length;
    ++records;
  }
  EXPECT_EQ(records, 5);
  const std::string scalar = EncodeScalarEvent(0, 1, "loss", 0.5f);
  // The scalar record's summary (everything after wall_time) appears in the file.
  EXPECT_NE(bytes.find(scalar.substr(9)), std::string::npos);
}

TEST(TensorBoardWriterTest, OpenFailsOnFilePath) {
  const std::string file = aha_test::UniqueTempPath("tensorboard_not_a_dir");
  std::ofstream(file) << "x";
  EXPECT_FALSE(TensorBoardWriter::Open(file + "/tb").ok());
}

}  // namespace
}  // namespace aha
