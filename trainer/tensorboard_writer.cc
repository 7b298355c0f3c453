// Hand-encoded TensorBoard events in TFRecord framing; the message layout is in the header.
#include "trainer/tensorboard_writer.h"

#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"

namespace aha {
namespace {

// Protobuf wire types.
constexpr int kVarint = 0;
constexpr int kFixed64 = 1;
constexpr int kLengthDelimited = 2;
constexpr int kFixed32 = 5;
constexpr int kDtString = 7;  // tensorflow.DataType.DT_STRING

std::array<uint32_t, 256> MakeCrcTable() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t crc = i;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
    table[i] = crc;
  }
  return table;
}

void PutVarint(std::string& out, uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7F) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

void PutLittleEndian(std::string& out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xFF));
}

void PutKey(std::string& out, int field, int wire_type) {
  PutVarint(out, (static_cast<uint64_t>(field) << 3) | static_cast<uint64_t>(wire_type));
}

void PutBytes(std::string& out, int field, std::string_view bytes) {
  PutKey(out, field, kLengthDelimited);
  PutVarint(out, bytes.size());
  out.append(bytes.data(), bytes.size());
}

// Event fields 1 (wall_time) and 2 (step).
std::string EventHeader(double wall_time, int64_t step) {
  std::string event;
  uint64_t bits;
  std::memcpy(&bits, &wall_time, sizeof(bits));
  PutKey(event, 1, kFixed64);
  PutLittleEndian(event, bits, 8);
  // Proto3 leaves out fields equal to their default, so step 0 is not written.
  if (step != 0) {
    PutKey(event, 2, kVarint);
    PutVarint(event, static_cast<uint64_t>(step));
  }
  return event;
}

std::string EventWithValue(double wall_time, int64_t step, const std::string& value) {
  std::string summary;
  PutBytes(summary, 1, value);
  std::string event = EventHeader(wall_time, step);
  PutBytes(event, 5, summary);
  return event;
}

double WallTimeNow() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

uint32_t Crc32c(std::string_view data) {
  static const std::array<uint32_t, 256> table = MakeCrcTable();
  uint32_t crc = 0xFFFFFFFFu;
  for (char c : data) crc = table[(crc ^ static_cast<unsigned char>(c)) & 0xFF] ^ (crc >> 8);
  return crc ^ 0xFFFFFFFFu;
}

uint32_t MaskedCrc32c(std::string_view data) {
  const uint32_t crc = Crc32c(data);
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

std::string FrameTfRecord(std::string_view data) {
  std::string length;
  PutLittleEndian(length, data.size(), 8);
  std::string record = length;
  PutLittleEndian(record, MaskedCrc32c(length), 4);
  record.append(data.data(), data.size());
  PutLittleEndian(record, MaskedCrc32c(data), 4);
  return record;
}

std::string EncodeFileVersionEvent(double wall_time) {
  std::string event = EventHeader(wall_time, 0);
  PutBytes(event, 3, "brain.Event:2");
  return event;
}

std::string EncodeScalarEvent(double wall_time, int64_t step, std::string_view tag, float value) {
  std::string summary_value;
  PutBytes(summary_value, 1, tag);
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  PutKey(summary_value, 2, kFixed32);
  PutLittleEndian(summary_value, bits, 4);
  return EventWithValue(wall_time, step, summary_value);
}

std::string EncodeTextEvent(double wall_time, int64_t step, std::string_view tag,
                            std::string_view text) {
  std::string tensor;
  PutKey(tensor, 1, kVarint);
  PutVarint(tensor, kDtString);
  PutBytes(tensor, 2, "");  // an empty TensorShapeProto: a scalar
  PutBytes(tensor, 8, text);

  std::string plugin_data;
  PutBytes(plugin_data, 1, "text");
  std::string metadata;
  PutBytes(metadata, 1, plugin_data);

  std::string summary_value;
  PutBytes(summary_value, 1, tag);
  PutBytes(summary_value, 8, tensor);
  PutBytes(summary_value, 9, metadata);
  return EventWithValue(wall_time, step, summary_value);
}

absl::StatusOr<TensorBoardWriter> TensorBoardWriter::Open(const std::string& dir) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) {
    return absl::InternalError(absl::StrCat("failed to create the TensorBoard folder ", dir, ": ",
                                            error.message()));
  }
  char host[256] = "localhost";
  gethostname(host, sizeof(host) - 1);
  const double now = WallTimeNow();
  const std::string path = absl::StrCat(dir, "/events.out.tfevents.",
                                        static_cast<int64_t>(now), ".", host, ".", getpid());
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) {
    return absl::InternalError(absl::StrCat("failed to open ", path, ": ", std::strerror(errno)));
  }
  TensorBoardWriter writer(file, path);
  writer.WriteRecord(EncodeFileVersionEvent(now));
  writer.Flush();
  return writer;
}

TensorBoardWriter::TensorBoardWriter(TensorBoardWriter&& other) noexcept
    : file_(other.file_), path_(std::move(other.path_)) {
  other.file_ = nullptr;
}

TensorBoardWriter::~TensorBoardWriter() {
  if (file_ != nullptr) std::fclose(file_);
}

void TensorBoardWriter::WriteScalar(int64_t step, std::string_view tag, double value) {
  WriteRecord(EncodeScalarEvent(WallTimeNow(), step, tag, static_cast<float>(value)));
}

void TensorBoardWriter::WriteText(int64_t step, std::string_view tag, std::string_view text) {
  WriteRecord(EncodeTextEvent(WallTimeNow(), step, tag, text));
}

void TensorBoardWriter::WriteJsonScalars(int64_t step, const nlohmann::json& record,
                                         const std::string& prefix) {
  if (!record.is_object()) return;
  for (const auto& [key, value] : record.items()) {
    if (prefix.empty() && key == "step") continue;
    if (value.is_number()) {
      WriteScalar(step, prefix + key, value.get<double>());
    } else if (value.is_boolean()) {
      WriteScalar(step, prefix + key, value.get<bool>() ? 1.0 : 0.0);
    } else if (value.is_object()) {
      WriteJsonScalars(step, value, prefix + key + "/");
    }
  }
}

void TensorBoardWriter::Flush() { std::fflush(file_); }

void TensorBoardWriter::WriteRecord(const std::string& event) {
  const std::string record = FrameTfRecord(event);
  std::fwrite(record.data(), 1, record.size(), file_);
}

}  // namespace aha
