// Writes TensorBoard event files (scalars and text) without TensorFlow or a protobuf library:
// the few Event/Summary fields TensorBoard reads are encoded by hand and framed as TFRecords.
//
// TFRecord framing of each record: uint64 length (little-endian), uint32 masked CRC32C of the
// length bytes, the data, uint32 masked CRC32C of the data. The encoded messages, with field
// numbers from tensorflow/core/util/event.proto and framework/summary.proto:
//   Event { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
//   Summary { repeated Value value = 1; }
//   Value { string tag = 1; float simple_value = 2; TensorProto tensor = 8;
//           SummaryMetadata metadata = 9; }
//   SummaryMetadata { PluginData plugin_data = 1; }  PluginData { string plugin_name = 1; }
//   TensorProto { DataType dtype = 1 (DT_STRING = 7); TensorShapeProto tensor_shape = 2;
//                 repeated bytes string_val = 8; }
#ifndef AHA_TRAINER_TENSORBOARD_WRITER_H_
#define AHA_TRAINER_TENSORBOARD_WRITER_H_

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"

namespace aha {

// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) of `data`.
uint32_t Crc32c(std::string_view data);
// The masked CRC that TFRecord stores: rotate right by 15 bits, then add 0xa282ead8.
uint32_t MaskedCrc32c(std::string_view data);
// Frames `data` as one TFRecord.
std::string FrameTfRecord(std::string_view data);

// Serialized Event messages.
std::string EncodeFileVersionEvent(double wall_time);
std::string EncodeScalarEvent(double wall_time, int64_t step, std::string_view tag, float value);
// A text summary: a scalar DT_STRING tensor with plugin_name "text", which TensorBoard's
// Text tab renders as Markdown.
std::string EncodeTextEvent(double wall_time, int64_t step, std::string_view tag,
                            std::string_view text);

class TensorBoardWriter {
 public:
  // Creates `dir` and opens dir/events.out.tfevents.SECONDS.HOSTNAME.PID (the name
  // TensorBoard looks for), then writes the file_version event.
  static absl::StatusOr<TensorBoardWriter> Open(const std::string& dir);
  TensorBoardWriter(TensorBoardWriter&& other) noexcept;
  TensorBoardWriter& operator=(TensorBoardWriter&&) = delete;
  ~TensorBoardWriter();

  void WriteScalar(int64_t step, std::string_view tag, double value);
  void WriteText(int64_t step, std::string_view tag, std::string_view text);
  // Writes every number in `record` as a scalar tagged PREFIX + key, descending into nested
  // objects as PREFIX + key + "/"; the key "step", strings, arrays and nulls are skipped.
  void WriteJsonScalars(int64_t step, const nlohmann::json& record, const std::string& prefix);
  // Flushes to disk, so TensorBoard sees the events while training runs.
  void Flush();

  const std::string& path() const { return path_; }

 private:
  TensorBoardWriter(std::FILE* file, std::string path) : file_(file), path_(std::move(path)) {}
  void WriteRecord(const std::string& event);

  std::FILE* file_;
  std::string path_;
};

}  // namespace aha

#endif  // AHA_TRAINER_TENSORBOARD_WRITER_H_
