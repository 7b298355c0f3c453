// Why generation of a completion stopped; shared by the sampler, the rewards and the logs.
#ifndef AHA_BASE_FINISH_REASON_H_
#define AHA_BASE_FINISH_REASON_H_

namespace aha {

// An end-of-sequence token or stop string (kStop), or the completion length limit (kLength).
enum class FinishReason { kStop, kLength };

// Returns "stop" or "length".
inline const char* FinishReasonName(FinishReason reason) {
  return reason == FinishReason::kLength ? "length" : "stop";
}

}  // namespace aha

#endif  // AHA_BASE_FINISH_REASON_H_
