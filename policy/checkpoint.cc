// Loading and saving a module's parameters by name through safetensors model folders.
#include "policy/checkpoint.h"

#include <cstring>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"
#include "policy/safetensors_folder.h"

namespace aha {
namespace {

// Names under which one tensor is registered, in module order. Tied weights have several.
struct ParameterGroup {
  torch::Tensor tensor;
  std::vector<std::string> names;
};

std::vector<ParameterGroup> GroupParameters(const torch::nn::Module& module) {
  std::vector<ParameterGroup> groups;
  std::map<const c10::TensorImpl*, size_t> group_of;
  for (const auto& item : module.named_parameters(/*recurse=*/true)) {
    const c10::TensorImpl* impl = item.value().unsafeGetTensorImpl();
    auto [it, inserted] = group_of.emplace(impl, groups.size());
    if (inserted) groups.push_back(ParameterGroup{item.value(), {}});
    groups[it->second].names.push_back(item.key());
  }
  return groups;
}

absl::StatusOr<torch::Dtype> TorchDtypeOf(SafetensorsDtype dtype, const std::string& where) {
  switch (dtype) {
    case SafetensorsDtype::kF32:
      return torch::kFloat32;
    case SafetensorsDtype::kBF16:
      return torch::kBFloat16;
    case SafetensorsDtype::kF16:
      return torch::kFloat16;
    case SafetensorsDtype::kF64:
      return torch::kFloat64;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": dtype ", SafetensorsDtypeName(dtype),
                       " is not a floating-point type; expected F32, BF16 or F16"));
  }
}

absl::StatusOr<SafetensorsDtype> SafetensorsDtypeOf(torch::Dtype dtype) {
  if (dtype == torch::kFloat32) return SafetensorsDtype::kF32;
  if (dtype == torch::kBFloat16) return SafetensorsDtype::kBF16;
  if (dtype == torch::kFloat16) return SafetensorsDtype::kF16;
  return absl::InvalidArgumentError(absl::StrCat(
      "cannot save tensors as ", c10::toString(dtype), "; use float32, bfloat16 or float16"));
}

std::string ShapeString(c10::IntArrayRef shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

// Copies one tensor out of the mapped file into memory that torch owns (the mapping may not
// be aligned for the element type), then converts it to the requested dtype and device.
absl::StatusOr<torch::Tensor> ReadTensor(const SafetensorsFolder::Entry& entry,
                                         c10::IntArrayRef expected_shape,
                                         const LoadOptions& options) {
  const SafetensorsTensor& info = *entry.tensor;
  const std::string where = absl::StrCat("tensor '", info.name, "' in ", entry.file->path());
  ASSIGN_OR_RETURN(torch::Dtype file_dtype, TorchDtypeOf(info.dtype, where));
  if (!c10::IntArrayRef(info.shape).equals(expected_shape)) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": shape ", ShapeString(info.shape),
                                                   " does not match the module's parameter shape ",
                                                   ShapeString(expected_shape)));
  }
  torch::Tensor raw = torch::empty(info.shape, torch::TensorOptions().dtype(file_dtype));
  const absl::Span<const uint8_t> bytes = entry.file->Bytes(info);
  if (!bytes.empty()) std::memcpy(raw.data_ptr(), bytes.data(), bytes.size());
  return raw.to(options.device, options.dtype);
}

}  // namespace

absl::StatusOr<LoadReport> LoadModuleTensors(torch::nn::Module& module,
                                             const std::string& model_dir,
                                             const LoadOptions& options) {
  if (!c10::isFloatingType(options.dtype)) {
    return absl::InvalidArgumentError(absl::StrCat("cannot load parameters as ",
                                                   c10::toString(options.dtype),
                                                   "; use a floating-point dtype"));
  }
  ASSIGN_OR_RETURN(SafetensorsFolder folder, SafetensorsFolder::Open(model_dir));

  LoadReport report;
  std::set<std::string> matched;
  torch::NoGradGuard no_grad;
  for (ParameterGroup& group : GroupParameters(module)) {
    SafetensorsFolder::Entry entry;
    for (const std::string& name : group.names) {
      matched.insert(name);
      if (entry.tensor == nullptr) entry = folder.Find(name);
    }
    if (entry.tensor == nullptr) {
      return absl::NotFoundError(absl::StrCat("tensor '", group.names[0], "' not found in ",
                                              folder.source(), "; the module needs it"));
    }
    ASSIGN_OR_RETURN(torch::Tensor value, ReadTensor(entry, group.tensor.sizes(), options));
    // set_data keeps the parameter object, its requires_grad and every name that shares it.
    group.tensor.set_data(value);
    report.loaded_parameters += 1;
    report.loaded_bytes += static_cast<int64_t>(entry.tensor->end - entry.tensor->begin);
  }
  for (torch::Tensor& buffer : module.buffers(/*recurse=*/true)) {
    buffer.set_data(buffer.to(options.device));
  }
  for (const std::string& name : folder.Names()) {
    if (matched.count(name) == 0) report.unused_tensors.push_back(name);
  }
  return report;
}

absl::Status SaveModuleTensors(const torch::nn::Module& module, const std::string& model_dir,
                               const SaveOptions& options) {
  ASSIGN_OR_RETURN(SafetensorsDtype dtype, SafetensorsDtypeOf(options.dtype));
  std::vector<torch::Tensor> host_copies;  // keeps the bytes alive until the write finishes
  std::vector<SafetensorsTensorData> tensors;
  for (const ParameterGroup& group : GroupParameters(module)) {
    torch::Tensor host =
        group.tensor.detach().to(torch::kCPU, options.dtype).contiguous();
    tensors.push_back(SafetensorsTensorData{group.names[0], dtype, host.sizes().vec(),
                                            host.data_ptr(), host.nbytes()});
    host_copies.push_back(std::move(host));
  }
  SafetensorsFolderWriteOptions write_options;
  write_options.max_shard_bytes = options.max_shard_bytes;
  return WriteSafetensorsFolder(model_dir, std::move(tensors), write_options);
}

}  // namespace aha
