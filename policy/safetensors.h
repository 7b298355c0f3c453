// Reading and writing one safetensors file, with every header field and offset checked.
// No LibTorch. Model folders with shards are in policy/safetensors_folder.h.
//
// Format: an 8-byte little-endian header length N, N bytes of JSON header, then the data
// section. The header maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end]}
// with offsets relative to the start of the data section, plus an optional "__metadata__"
// object of string values. As in the reference implementation, the tensors must cover the data
// section exactly, with no gap and no overlap.
//
//   ASSIGN_OR_RETURN(auto file, SafetensorsFile::Open("model.safetensors"));
//   const SafetensorsTensor* info = file->Find("model.norm.weight");
//   absl::Span<const uint8_t> bytes = file->Bytes(*info);
#ifndef AHA_POLICY_SAFETENSORS_H_
#define AHA_POLICY_SAFETENSORS_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace aha {

// Element types of the safetensors format. The loaders accept only F32, BF16, F16 and F64; the
// others are parsed so that a file holding them opens and the error names the tensor.
enum class SafetensorsDtype { kF64, kF32, kF16, kBF16, kI64, kI32, kI16, kI8, kU8, kBool };

// The header spelling: "F32", "BF16", ...
const char* SafetensorsDtypeName(SafetensorsDtype dtype);
// Bytes per element.
int64_t SafetensorsDtypeSize(SafetensorsDtype dtype);
absl::StatusOr<SafetensorsDtype> ParseSafetensorsDtype(const std::string& name);

// One tensor's header entry.
struct SafetensorsTensor {
  std::string name;
  SafetensorsDtype dtype = SafetensorsDtype::kF32;
  std::vector<int64_t> shape;
  // Byte range [begin, end) relative to the start of the data section.
  uint64_t begin = 0;
  uint64_t end = 0;
};

// A parsed and validated header.
struct SafetensorsHeader {
  std::vector<SafetensorsTensor> tensors;  // sorted by begin offset, which is file order
  std::map<std::string, std::string> metadata;
};

// Parses the JSON header of a file whose data section has `data_size` bytes and checks every
// entry: valid UTF-8 JSON, no duplicate names, known dtypes, non-negative shapes, byte size equal
// to product(shape) * dtype size, offsets inside the data section, no overlap and no gap.
// `source` names the file in error messages.
absl::StatusOr<SafetensorsHeader> ParseSafetensorsHeader(const std::string& header_json,
                                                         uint64_t data_size,
                                                         const std::string& source);

// A safetensors file mapped read-only into memory; tensor bytes are views into the mapping.
// NOTE: the mapping reads the file lazily, so another process truncating the file while it is
// open makes a later read fault (SIGBUS). Checkpoints are written by rename, which never
// truncates an open file.
class SafetensorsFile {
 public:
  static absl::StatusOr<std::unique_ptr<SafetensorsFile>> Open(const std::string& path);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::string& path() const { return path_; }
  const std::vector<SafetensorsTensor>& tensors() const { return header_.tensors; }
  const std::map<std::string, std::string>& metadata() const { return header_.metadata; }
  // nullptr when the file has no tensor of that name.
  const SafetensorsTensor* Find(const std::string& name) const;
  // The tensor's raw little-endian bytes, valid while this object lives.
  absl::Span<const uint8_t> Bytes(const SafetensorsTensor& tensor) const;

 private:
  SafetensorsFile() = default;

  std::string path_;
  void* mapping_ = nullptr;
  size_t mapping_size_ = 0;
  const uint8_t* data_ = nullptr;  // start of the data section inside the mapping
  SafetensorsHeader header_;
  std::map<std::string, size_t> index_by_name_;
};

// A tensor to write: name, element type, shape and `nbytes` bytes of little-endian data that
// the caller keeps alive during the write.
struct SafetensorsTensorData {
  std::string name;
  SafetensorsDtype dtype = SafetensorsDtype::kF32;
  std::vector<int64_t> shape;
  const void* data = nullptr;
  size_t nbytes = 0;
};

// Writes one safetensors file through a temporary file renamed over `path`, so `path` contains
// either the old file or the complete new one. The layout is the reference writer's (Python
// safetensors 0.8): compact JSON header with "__metadata__" first (left out when empty), padded
// with spaces to a multiple of 8 bytes, and tensors grouped by dtype, larger elements first,
// then sorted by name, so every tensor starts at an offset aligned to its element size.
// Rejects duplicate names and byte sizes that do not match the shape.
absl::Status WriteSafetensors(const std::string& path,
                              std::vector<SafetensorsTensorData> tensors,
                              const std::map<std::string, std::string>& metadata = {
                                  {"format", "pt"}});

}  // namespace aha

#endif  // AHA_POLICY_SAFETENSORS_H_
