// Whole-file reads and crash-safe writes for checkpoint files. No LibTorch.
#ifndef AHA_POLICY_FILE_IO_H_
#define AHA_POLICY_FILE_IO_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace aha {

// Reads a whole file. Errors name the path and the system error.
absl::StatusOr<std::string> ReadFileToString(const std::string& path);

// Writes the concatenation of `pieces` to a temporary file in the folder of `path`, flushes it
// to disk and renames it over `path`, so `path` contains either its old contents or all of the new
// ones, even after a crash. The temporary file is removed on failure.
absl::Status WriteFileAtomically(const std::string& path,
                                 const std::vector<absl::Span<const uint8_t>>& pieces);
absl::Status WriteFileAtomically(const std::string& path, const std::string& contents);

}  // namespace aha

#endif  // AHA_POLICY_FILE_IO_H_
