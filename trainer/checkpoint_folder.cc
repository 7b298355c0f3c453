#include "trainer/checkpoint_folder.h"

#include <cstdio>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace aha {
namespace {

namespace fs = std::filesystem;

fs::path Current(const std::string& out_dir) { return fs::path(out_dir) / "checkpoint"; }
fs::path Pending(const std::string& out_dir) { return fs::path(out_dir) / "checkpoint.tmp"; }
fs::path Previous(const std::string& out_dir) { return fs::path(out_dir) / "checkpoint.old"; }

bool IsComplete(const fs::path& dir) {
  std::error_code error;
  return fs::is_regular_file(dir / kCheckpointStateFile, error);
}

bool Exists(const fs::path& path) {
  std::error_code error;
  return fs::exists(fs::symlink_status(path, error));
}

absl::Status Remove(const fs::path& path) {
  std::error_code error;
  fs::remove_all(path, error);
  if (error) {
    return absl::InternalError(absl::StrCat("cannot remove ", path.string(), ": ",
                                            error.message()));
  }
  return absl::OkStatus();
}

absl::Status Move(const fs::path& from, const fs::path& to) {
  std::error_code error;
  fs::rename(from, to, error);
  if (error) {
    return absl::InternalError(absl::StrCat("cannot move ", from.string(), " to ", to.string(),
                                            ": ", error.message()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> BeginCheckpointSave(const std::string& out_dir) {
  const fs::path pending = Pending(out_dir);
  if (absl::Status status = Remove(pending); !status.ok()) return status;
  return pending.string();
}

absl::Status FinishCheckpointSave(const std::string& out_dir) {
  const fs::path current = Current(out_dir), previous = Previous(out_dir);
  if (!IsComplete(Pending(out_dir))) {
    return absl::InternalError(absl::StrCat(Pending(out_dir).string(), " has no ",
                                            kCheckpointStateFile, "; the save did not finish"));
  }
  if (Exists(current)) {
    if (absl::Status status = Remove(previous); !status.ok()) return status;
    if (absl::Status status = Move(current, previous); !status.ok()) return status;
  }
  if (absl::Status status = Move(Pending(out_dir), current); !status.ok()) return status;
  return Remove(previous);
}

absl::StatusOr<std::string> FindCheckpointToResume(const std::string& out_dir, bool recover) {
  const fs::path current = Current(out_dir);
  if (IsComplete(current)) return current.string();
  if (Exists(current)) {
    return absl::FailedPreconditionError(absl::StrCat(
        current.string(), " has no ", kCheckpointStateFile,
        ", so it is not a whole checkpoint; aha neither resumes from it nor replaces it. Move "
        "it away to start over in ", out_dir, ", or restore the file"));
  }
  // A save was interrupted after it moved the old checkpoint aside. A complete
  // checkpoint.tmp is newer than checkpoint.old.
  for (const fs::path& candidate : {Pending(out_dir), Previous(out_dir)}) {
    if (!IsComplete(candidate)) continue;
    if (!recover) return candidate.string();
    if (absl::Status status = Move(candidate, current); !status.ok()) return status;
    std::fprintf(stderr, "aha: an interrupted save left the newest whole checkpoint in %s; "
                 "moved it back to %s\n", candidate.string().c_str(), current.string().c_str());
    return current.string();
  }
  return std::string();
}

absl::Status CheckNoEarlierRun(const std::string& out_dir) {
  std::vector<std::string> found;
  for (const char* name : {"checkpoint", "checkpoint.tmp", "checkpoint.old", "metrics.jsonl"}) {
    const fs::path path = fs::path(out_dir) / name;
    std::error_code error;
    // A run that failed before its first step leaves an empty metrics.jsonl and nothing to keep.
    if (std::string(name) == "metrics.jsonl" && fs::is_regular_file(path, error) &&
        fs::file_size(path, error) == 0) {
      continue;
    }
    if (Exists(path)) found.push_back(name);
  }
  if (found.empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      out_dir, " already contains a run (", absl::StrJoin(found, ", "),
      "), which a new run would replace. Pass --resume to continue it, --out DIR to write "
      "elsewhere, or move the folder away to start over"));
}

}  // namespace aha
