// Model folders of safetensors files: single file or index plus shards.
#include "policy/safetensors_folder.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <set>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/status_macros.h"
#include "nlohmann/json.hpp"
#include "policy/file_io.h"

namespace aha {
namespace {

namespace fs = std::filesystem;

std::string JoinPath(const std::string& folder, const std::string& name) {
  return (fs::path(folder) / name).string();
}

// The shard file for each tensor name, from an index file's weight_map.
absl::StatusOr<std::map<std::string, std::string>> ReadWeightMap(const std::string& index_path) {
  ASSIGN_OR_RETURN(std::string text, ReadFileToString(index_path));
  nlohmann::json index;
  try {
    index = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& error) {
    return absl::InvalidArgumentError(
        absl::StrCat(index_path, ": invalid JSON (", error.what(), ")"));
  }
  if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(index_path, ": missing object 'weight_map' (tensor name -> shard file)"));
  }
  std::map<std::string, std::string> weight_map;
  for (const auto& [name, shard] : index["weight_map"].items()) {
    if (!shard.is_string()) {
      return absl::InvalidArgumentError(absl::StrCat(
          index_path, ": weight_map entry for tensor '", name, "' must be a file name string"));
    }
    const std::string shard_name = shard.get<std::string>();
    // Shards live beside the index; a path could reach files outside the model folder.
    if (shard_name.empty() || shard_name.find('/') != std::string::npos || shard_name == "." ||
        shard_name == "..") {
      return absl::InvalidArgumentError(absl::StrCat(
          index_path, ": weight_map maps tensor '", name, "' to '", shard_name,
          "', which is not a plain file name in the model folder"));
    }
    weight_map[name] = shard_name;
  }
  return weight_map;
}

}  // namespace

absl::StatusOr<SafetensorsFolder> SafetensorsFolder::Open(const std::string& model_dir) {
  SafetensorsFolder folder;
  const std::string single_path = JoinPath(model_dir, kSafetensorsSingleFile);
  const std::string index_path = JoinPath(model_dir, kSafetensorsIndexFile);
  std::error_code error;

  if (fs::exists(single_path, error)) {
    folder.source_ = single_path;
    ASSIGN_OR_RETURN(std::unique_ptr<SafetensorsFile> file, SafetensorsFile::Open(single_path));
    for (const SafetensorsTensor& tensor : file->tensors()) {
      folder.entries_[tensor.name] = Entry{file.get(), &tensor};
    }
    folder.files_.push_back(std::move(file));
    return folder;
  }

  if (!fs::exists(index_path, error)) {
    return absl::NotFoundError(absl::StrCat("no ", kSafetensorsSingleFile, " or ",
                                            kSafetensorsIndexFile, " in model folder ",
                                            model_dir));
  }
  folder.source_ = index_path;
  ASSIGN_OR_RETURN(auto weight_map, ReadWeightMap(index_path));
  std::map<std::string, const SafetensorsFile*> files_by_name;
  for (const auto& [name, shard_name] : weight_map) {
    auto it = files_by_name.find(shard_name);
    if (it == files_by_name.end()) {
      const std::string shard_path = JoinPath(model_dir, shard_name);
      if (!fs::exists(shard_path, error)) {
        return absl::NotFoundError(absl::StrCat("shard ", shard_path, " not found; ", index_path,
                                                " lists it for tensor '", name, "'"));
      }
      ASSIGN_OR_RETURN(std::unique_ptr<SafetensorsFile> file, SafetensorsFile::Open(shard_path));
      it = files_by_name.emplace(shard_name, file.get()).first;
      folder.files_.push_back(std::move(file));
    }
    const SafetensorsTensor* tensor = it->second->Find(name);
    if (tensor == nullptr) {
      return absl::NotFoundError(absl::StrCat(index_path, " maps tensor '", name, "' to ",
                                              it->second->path(), ", which does not contain it"));
    }
    folder.entries_[name] = Entry{it->second, tensor};
  }
  return folder;
}

std::vector<std::string> SafetensorsFolder::Names() const {
  std::vector<std::string> names;
  names.reserve(entries_.size());
  for (const auto& [name, entry] : entries_) names.push_back(name);
  return names;
}

SafetensorsFolder::Entry SafetensorsFolder::Find(const std::string& name) const {
  auto it = entries_.find(name);
  return it == entries_.end() ? Entry{} : it->second;
}

absl::Status WriteSafetensorsFolder(const std::string& model_dir,
                                    std::vector<SafetensorsTensorData> tensors,
                                    const SafetensorsFolderWriteOptions& options) {
  std::error_code error;
  fs::create_directories(model_dir, error);
  if (error) {
    return absl::UnknownError(
        absl::StrCat("cannot create model folder ", model_dir, ": ", error.message()));
  }
  const std::string single_path = JoinPath(model_dir, kSafetensorsSingleFile);
  const std::string index_path = JoinPath(model_dir, kSafetensorsIndexFile);

  // Shards of the previous save, to remove once the new files are in place.
  std::set<std::string> old_shards;
  if (fs::exists(index_path, error)) {
    absl::StatusOr<std::map<std::string, std::string>> old_map = ReadWeightMap(index_path);
    if (old_map.ok()) {
      for (const auto& [name, shard] : *old_map) old_shards.insert(shard);
    }
  }

  uint64_t total_bytes = 0;
  for (const SafetensorsTensorData& tensor : tensors) total_bytes += tensor.nbytes;

  std::set<std::string> written;
  if (options.max_shard_bytes == 0 || total_bytes <= options.max_shard_bytes) {
    RETURN_IF_ERROR(WriteSafetensors(single_path, std::move(tensors)));
    written.insert(kSafetensorsSingleFile);
    fs::remove(index_path, error);
  } else {
    // Greedy split in name order, as transformers' sharding does in state-dict order.
    std::sort(tensors.begin(), tensors.end(),
              [](const SafetensorsTensorData& a, const SafetensorsTensorData& b) {
                return a.name < b.name;
              });
    std::vector<std::vector<SafetensorsTensorData>> shards(1);
    uint64_t shard_bytes = 0;
    for (SafetensorsTensorData& tensor : tensors) {
      if (!shards.back().empty() && shard_bytes + tensor.nbytes > options.max_shard_bytes) {
        shards.emplace_back();
        shard_bytes = 0;
      }
      shard_bytes += tensor.nbytes;
      shards.back().push_back(std::move(tensor));
    }

    // NOTE: a crash between two shard writes can leave shards of two saves under the old
    // index, each file complete and valid. A caller that needs the folder as a whole to be
    // atomic writes it under a temporary name and renames the folder.
    nlohmann::ordered_json weight_map = nlohmann::ordered_json::object();
    for (size_t i = 0; i < shards.size(); ++i) {
      const std::string shard_name =
          absl::StrFormat("model-%05d-of-%05d.safetensors", i + 1, shards.size());
      for (const SafetensorsTensorData& tensor : shards[i]) weight_map[tensor.name] = shard_name;
      RETURN_IF_ERROR(WriteSafetensors(JoinPath(model_dir, shard_name), std::move(shards[i])));
      written.insert(shard_name);
    }
    nlohmann::ordered_json index = {{"metadata", {{"total_size", total_bytes}}},
                                    {"weight_map", weight_map}};
    RETURN_IF_ERROR(WriteFileAtomically(index_path, index.dump(2) + "\n"));
    fs::remove(single_path, error);
  }

  for (const std::string& shard : old_shards) {
    if (written.count(shard) == 0) fs::remove(JoinPath(model_dir, shard), error);
  }
  return absl::OkStatus();
}

}  // namespace aha
