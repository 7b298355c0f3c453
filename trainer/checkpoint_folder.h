// The checkpoint folders of a GRPO run. A new checkpoint replaces the old one so that a crash
// at any point leaves a whole checkpoint that --resume finds.
//
// A save writes OUT/checkpoint.tmp, whose trainer_state.json is written last, so a folder
// holding that file is complete. Then OUT/checkpoint becomes OUT/checkpoint.old,
// checkpoint.tmp becomes checkpoint, and checkpoint.old is removed.
#ifndef AHA_TRAINER_CHECKPOINT_FOLDER_H_
#define AHA_TRAINER_CHECKPOINT_FOLDER_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace aha {

inline constexpr char kCheckpointStateFile[] = "trainer_state.json";

// OUT/checkpoint.tmp: the folder a save writes into, emptied first.
absl::StatusOr<std::string> BeginCheckpointSave(const std::string& out_dir);

// Makes the complete OUT/checkpoint.tmp the run's checkpoint, keeping the previous one until
// the new one is in place.
absl::Status FinishCheckpointSave(const std::string& out_dir);

// For --resume: the path of the checkpoint to continue from, or "" when OUT has none.
// An interrupted save may leave the newest complete checkpoint in checkpoint.tmp or
// checkpoint.old, and then that folder is returned. With `recover` it is first moved back to
// OUT/checkpoint, and a line reports the move. A checkpoint folder without its trainer_state.json is an
// error: it is neither resumed nor replaced.
absl::StatusOr<std::string> FindCheckpointToResume(const std::string& out_dir, bool recover);

// For a run without --resume: an error when OUT already contains a run's checkpoint or
// metrics.jsonl, which a new run would replace.
absl::Status CheckNoEarlierRun(const std::string& out_dir);

}  // namespace aha

#endif  // AHA_TRAINER_CHECKPOINT_FOLDER_H_
