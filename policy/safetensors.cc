// Safetensors reading (mmap, every field checked) and writing (atomic, reference layout).
#include "policy/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iterator>
#include <set>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"
#include "nlohmann/json.hpp"
#include "policy/file_io.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors data is little-endian; this reader copies bytes as they are"
#endif

namespace aha {
namespace {

// The reference implementation rejects larger headers, so no valid file has one.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

struct DtypeEntry {
  SafetensorsDtype dtype;
  const char* name;
  int64_t size;
};

// In the reference writer's order: it sorts tensors by this rank, then by name. Every rank
// has an element size no larger than the ranks before it.
constexpr DtypeEntry kDtypes[] = {
    {SafetensorsDtype::kI64, "I64", 8},  {SafetensorsDtype::kF64, "F64", 8},
    {SafetensorsDtype::kF32, "F32", 4},  {SafetensorsDtype::kI32, "I32", 4},
    {SafetensorsDtype::kBF16, "BF16", 2}, {SafetensorsDtype::kF16, "F16", 2},
    {SafetensorsDtype::kI16, "I16", 2},  {SafetensorsDtype::kI8, "I8", 1},
    {SafetensorsDtype::kU8, "U8", 1},    {SafetensorsDtype::kBool, "BOOL", 1},
};

size_t RankOf(SafetensorsDtype dtype) {
  for (size_t rank = 0; rank < std::size(kDtypes); ++rank) {
    if (kDtypes[rank].dtype == dtype) return rank;
  }
  return 0;  // unreachable: every enumerator is in the table
}

const DtypeEntry& EntryOf(SafetensorsDtype dtype) { return kDtypes[RankOf(dtype)]; }

std::string ShapeString(const std::vector<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

// product(shape) * element_size in bytes; false on a negative dimension or overflow.
bool ByteSize(const std::vector<int64_t>& shape, int64_t element_size, uint64_t* bytes) {
  uint64_t total = static_cast<uint64_t>(element_size);
  for (int64_t dim : shape) {
    if (dim < 0) return false;
    if (__builtin_mul_overflow(total, static_cast<uint64_t>(dim), &total)) return false;
  }
  *bytes = total;
  return true;
}

// Parses JSON text, rejecting a repeated key at the top level (nlohmann keeps the last one
// silently, which would hide a tensor).
absl::StatusOr<nlohmann::json> ParseHeaderJson(const std::string& text, const std::string& source) {
  std::set<std::string> seen;
  std::string duplicate;
  auto on_event = [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    if (depth == 1 && event == nlohmann::json::parse_event_t::key && parsed.is_string()) {
      const std::string& key = parsed.get_ref<const std::string&>();
      if (!seen.insert(key).second && duplicate.empty()) duplicate = key;
    }
    return true;
  };
  nlohmann::json root;
  try {
    root = nlohmann::json::parse(text, on_event);
  } catch (const nlohmann::json::exception& error) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": the safetensors header is not valid UTF-8 JSON (", error.what(),
        "); the file is corrupt or not a safetensors file"));
  }
  if (!duplicate.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": the safetensors header names tensor '", duplicate, "' twice"));
  }
  if (!root.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": the safetensors header is not a JSON object"));
  }
  return root;
}

absl::StatusOr<std::map<std::string, std::string>> ParseMetadata(const nlohmann::json& value,
                                                                 const std::string& source) {
  std::map<std::string, std::string> metadata;
  if (value.is_null()) return metadata;
  if (!value.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": __metadata__ must be an object of strings"));
  }
  for (const auto& [key, item] : value.items()) {
    if (!item.is_string()) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": __metadata__ value '", key, "' must be a string"));
    }
    metadata[key] = item.get<std::string>();
  }
  return metadata;
}

// Reads one tensor entry's fields and checks that its byte range matches its shape and lies
// inside the data section.
absl::StatusOr<SafetensorsTensor> ParseTensorEntry(const std::string& name,
                                                   const nlohmann::json& value,
                                                   uint64_t data_size, const std::string& source) {
  const std::string where = absl::StrCat("tensor '", name, "' in ", source);
  if (!value.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": header entry is not an object"));
  }
  SafetensorsTensor tensor;
  tensor.name = name;

  auto dtype_it = value.find("dtype");
  if (dtype_it == value.end() || !dtype_it->is_string()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": missing string field 'dtype'"));
  }
  absl::StatusOr<SafetensorsDtype> dtype = ParseSafetensorsDtype(dtype_it->get<std::string>());
  if (!dtype.ok()) return absl::InvalidArgumentError(absl::StrCat(where, ": ", dtype.status().message()));
  tensor.dtype = *dtype;

  auto shape_it = value.find("shape");
  if (shape_it == value.end() || !shape_it->is_array()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": missing array field 'shape'"));
  }
  for (const nlohmann::json& dim : *shape_it) {
    if (!dim.is_number_unsigned()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": 'shape' must hold non-negative integers, got ", dim.dump()));
    }
    uint64_t size = dim.get<uint64_t>();
    if (size > static_cast<uint64_t>(INT64_MAX)) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": dimension ", size, " is too large"));
    }
    tensor.shape.push_back(static_cast<int64_t>(size));
  }

  auto offsets_it = value.find("data_offsets");
  if (offsets_it == value.end() || !offsets_it->is_array() || offsets_it->size() != 2 ||
      !(*offsets_it)[0].is_number_unsigned() || !(*offsets_it)[1].is_number_unsigned()) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, ": 'data_offsets' must be two non-negative integers [begin, end]"));
  }
  tensor.begin = (*offsets_it)[0].get<uint64_t>();
  tensor.end = (*offsets_it)[1].get<uint64_t>();
  const std::string offsets = absl::StrCat("data_offsets [", tensor.begin, ", ", tensor.end, "]");
  if (tensor.begin > tensor.end) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": ", offsets, " has begin > end"));
  }
  if (tensor.end > data_size) {
    return absl::OutOfRangeError(absl::StrCat(where, ": ", offsets,
                                              " run past the end of the data section (",
                                              data_size, " bytes); the file is truncated or corrupt"));
  }
  uint64_t expected_bytes = 0;
  if (!ByteSize(tensor.shape, SafetensorsDtypeSize(tensor.dtype), &expected_bytes)) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": shape ", ShapeString(tensor.shape), " overflows"));
  }
  if (tensor.end - tensor.begin != expected_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, ": ", offsets, " span ", tensor.end - tensor.begin, " bytes, but shape ",
        ShapeString(tensor.shape), " of ", SafetensorsDtypeName(tensor.dtype), " needs ",
        expected_bytes));
  }
  return tensor;
}

// Checks that the byte ranges, sorted by offset, tile [0, data_size) with no overlap or gap.
absl::Status CheckTiling(const std::vector<SafetensorsTensor>& tensors, uint64_t data_size,
                         const std::string& source) {
  uint64_t covered = 0;
  const SafetensorsTensor* previous = nullptr;
  for (const SafetensorsTensor& tensor : tensors) {
    if (tensor.begin < covered) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tensor '", tensor.name, "' in ", source, ": data_offsets [", tensor.begin, ", ",
          tensor.end, "] overlap tensor '", previous->name, "' [", previous->begin, ", ",
          previous->end, "]"));
    }
    if (tensor.begin > covered) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tensor '", tensor.name, "' in ", source, ": data_offsets [", tensor.begin, ", ",
          tensor.end, "] leave a gap of ", tensor.begin - covered, " bytes after offset ",
          covered, "; safetensors data must be contiguous"));
    }
    covered = tensor.end;
    previous = &tensor;
  }
  if (covered != data_size) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": the tensors cover ", covered, " bytes of the ", data_size,
        "-byte data section; the file has trailing bytes that no tensor owns"));
  }
  return absl::OkStatus();
}

}  // namespace

const char* SafetensorsDtypeName(SafetensorsDtype dtype) { return EntryOf(dtype).name; }

int64_t SafetensorsDtypeSize(SafetensorsDtype dtype) { return EntryOf(dtype).size; }

absl::StatusOr<SafetensorsDtype> ParseSafetensorsDtype(const std::string& name) {
  for (const DtypeEntry& entry : kDtypes) {
    if (name == entry.name) return entry.dtype;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown dtype '", name, "'; expected one of F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL"));
}

absl::StatusOr<SafetensorsHeader> ParseSafetensorsHeader(const std::string& header_json,
                                                         uint64_t data_size,
                                                         const std::string& source) {
  ASSIGN_OR_RETURN(nlohmann::json root, ParseHeaderJson(header_json, source));
  SafetensorsHeader header;
  for (const auto& [name, value] : root.items()) {
    if (name == "__metadata__") {
      ASSIGN_OR_RETURN(header.metadata, ParseMetadata(value, source));
      continue;
    }
    ASSIGN_OR_RETURN(SafetensorsTensor tensor, ParseTensorEntry(name, value, data_size, source));
    header.tensors.push_back(std::move(tensor));
  }
  std::sort(header.tensors.begin(), header.tensors.end(),
            [](const SafetensorsTensor& a, const SafetensorsTensor& b) {
              return std::tie(a.begin, a.end, a.name) < std::tie(b.begin, b.end, b.name);
            });
  RETURN_IF_ERROR(CheckTiling(header.tensors, data_size, source));
  return header;
}

absl::StatusOr<std::unique_ptr<SafetensorsFile>> SafetensorsFile::Open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return absl::NotFoundError(absl::StrCat("file not found: ", path));
    return absl::UnknownError(absl::StrCat("cannot open ", path, ": ", std::strerror(errno)));
  }
  struct stat info;
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd);
    return absl::InvalidArgumentError(absl::StrCat(path, " is not a regular file"));
  }
  const uint64_t file_size = static_cast<uint64_t>(info.st_size);
  if (file_size < 8) {
    ::close(fd);
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": file is ", file_size,
        " bytes, shorter than the 8-byte header length; the file is truncated"));
  }
  void* mapping = ::mmap(nullptr, file_size, PROT_READ, MAP_PRIVATE, fd, 0);
  const int mmap_errno = errno;
  ::close(fd);  // the mapping keeps the file open
  if (mapping == MAP_FAILED) {
    return absl::UnknownError(
        absl::StrCat("cannot map ", path, " into memory: ", std::strerror(mmap_errno)));
  }
  std::unique_ptr<SafetensorsFile> file(new SafetensorsFile());
  file->path_ = path;
  file->mapping_ = mapping;
  file->mapping_size_ = file_size;

  const uint8_t* bytes = static_cast<const uint8_t*>(mapping);
  uint64_t header_size = 0;
  std::memcpy(&header_size, bytes, 8);  // little-endian, checked at compile time above
  if (header_size > file_size - 8) {
    return absl::OutOfRangeError(absl::StrCat(
        path, ": header length ", header_size, " runs past the end of the file (", file_size,
        " bytes); the file is truncated or not a safetensors file"));
  }
  if (header_size > kMaxHeaderBytes) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": header length ", header_size,
                                                   " exceeds the limit of ", kMaxHeaderBytes));
  }
  const std::string header_json(reinterpret_cast<const char*>(bytes + 8), header_size);
  const uint64_t data_size = file_size - 8 - header_size;
  ASSIGN_OR_RETURN(file->header_, ParseSafetensorsHeader(header_json, data_size, path));
  file->data_ = bytes + 8 + header_size;
  for (size_t i = 0; i < file->header_.tensors.size(); ++i) {
    file->index_by_name_[file->header_.tensors[i].name] = i;
  }
  return file;
}

SafetensorsFile::~SafetensorsFile() {
  if (mapping_ != nullptr) ::munmap(mapping_, mapping_size_);
}

const SafetensorsTensor* SafetensorsFile::Find(const std::string& name) const {
  auto it = index_by_name_.find(name);
  return it == index_by_name_.end() ? nullptr : &header_.tensors[it->second];
}

absl::Span<const uint8_t> SafetensorsFile::Bytes(const SafetensorsTensor& tensor) const {
  return absl::Span<const uint8_t>(data_ + tensor.begin, tensor.end - tensor.begin);
}

absl::Status WriteSafetensors(const std::string& path, std::vector<SafetensorsTensorData> tensors,
                              const std::map<std::string, std::string>& metadata) {
  // The reference writer's order, which puts larger elements first. That keeps every offset a
  // multiple of its element size, since all sizes are powers of two, and makes our files
  // byte-identical to the reference's for the same tensors and metadata.
  std::sort(tensors.begin(), tensors.end(),
            [](const SafetensorsTensorData& a, const SafetensorsTensorData& b) {
              return std::make_pair(RankOf(a.dtype), a.name) <
                     std::make_pair(RankOf(b.dtype), b.name);
            });

  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const SafetensorsTensorData& tensor = tensors[i];
    if (tensor.name == "__metadata__" || header.contains(tensor.name)) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": cannot write tensor name '", tensor.name, "' twice or as a key"));
    }
    uint64_t expected_bytes = 0;
    if (!ByteSize(tensor.shape, SafetensorsDtypeSize(tensor.dtype), &expected_bytes) ||
        expected_bytes != tensor.nbytes || (tensor.nbytes > 0 && tensor.data == nullptr)) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": tensor '", tensor.name, "' has ", tensor.nbytes, " bytes, but shape ",
          ShapeString(tensor.shape), " of ", SafetensorsDtypeName(tensor.dtype), " needs ",
          expected_bytes));
    }
    header[tensor.name] = {{"dtype", SafetensorsDtypeName(tensor.dtype)},
                           {"shape", tensor.shape},
                           {"data_offsets", {offset, offset + tensor.nbytes}}};
    offset += tensor.nbytes;
  }

  std::string header_json = header.dump();
  // Pad with spaces, as the reference writer does, so the data section starts 8-byte aligned.
  header_json.append((8 - header_json.size() % 8) % 8, ' ');
  uint8_t length_bytes[8];
  const uint64_t header_size = header_json.size();
  std::memcpy(length_bytes, &header_size, 8);

  std::vector<absl::Span<const uint8_t>> pieces;
  pieces.emplace_back(length_bytes, 8);
  pieces.emplace_back(reinterpret_cast<const uint8_t*>(header_json.data()), header_json.size());
  for (const SafetensorsTensorData& tensor : tensors) {
    pieces.emplace_back(static_cast<const uint8_t*>(tensor.data), tensor.nbytes);
  }
  return WriteFileAtomically(path, pieces);
}

}  // namespace aha
