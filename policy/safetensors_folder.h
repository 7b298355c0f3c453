// Model folders of safetensors files: one model.safetensors, or shards listed by the weight_map
// of model.safetensors.index.json, as transformers reads and writes them. No LibTorch.
#ifndef AHA_POLICY_SAFETENSORS_FOLDER_H_
#define AHA_POLICY_SAFETENSORS_FOLDER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "policy/safetensors.h"

namespace aha {

inline constexpr char kSafetensorsSingleFile[] = "model.safetensors";
inline constexpr char kSafetensorsIndexFile[] = "model.safetensors.index.json";

// The tensors of a model folder, with every file mapped and checked on Open. As transformers
// does, model.safetensors is read when both it and an index are present.
class SafetensorsFolder {
 public:
  struct Entry {
    const SafetensorsFile* file = nullptr;
    const SafetensorsTensor* tensor = nullptr;
  };

  // Errors name the folder, a missing shard, a shard that fails its checks, or a tensor that
  // the index maps to a shard that does not contain it.
  static absl::StatusOr<SafetensorsFolder> Open(const std::string& model_dir);

  // Sorted tensor names. With an index, only the names in its weight_map.
  std::vector<std::string> Names() const;
  // Entry with null pointers when the folder has no tensor of that name.
  Entry Find(const std::string& name) const;
  // The path read for the folder: model.safetensors or the index.
  const std::string& source() const { return source_; }

 private:
  std::string source_;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, Entry> entries_;
};

struct SafetensorsFolderWriteOptions {
  // When the tensors hold more than this many bytes, they are split into shards of at most
  // this size (a larger tensor gets a shard of its own) named model-00001-of-0000N.safetensors,
  // plus an index. 0 always writes one model.safetensors.
  uint64_t max_shard_bytes = 0;
};

// Writes `tensors` to `model_dir` (created if missing) as model.safetensors, or as shards and an
// index. Then removes the files of the previous save that the new one does not overwrite
// (model.safetensors, the index, or shards named by the old index), so no reader picks up a
// stale file. Each file is written atomically; the folder as a whole is not (see the NOTE in
// the source).
absl::Status WriteSafetensorsFolder(const std::string& model_dir,
                                    std::vector<SafetensorsTensorData> tensors,
                                    const SafetensorsFolderWriteOptions& options = {});

}  // namespace aha

#endif  // AHA_POLICY_SAFETENSORS_FOLDER_H_
