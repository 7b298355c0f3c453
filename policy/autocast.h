// CPU autocast helpers that hide the API change of LibTorch 2.4.
#ifndef AHA_POLICY_AUTOCAST_H_
#define AHA_POLICY_AUTOCAST_H_

namespace aha {

// Returns whether CPU autocast is on in this thread. aha's float32 kernels then step aside, so
// that LibTorch's operators cast to the autocast dtype as callers expect.
bool CpuAutocastEnabled();

// Enables CPU autocast to bfloat16 for its lifetime when `enabled`, and clears the cache of cast
// weights at the end, as leaving torch.autocast does in Python.
class Bf16AutocastScope {
 public:
  explicit Bf16AutocastScope(bool enabled);
  ~Bf16AutocastScope();
  Bf16AutocastScope(const Bf16AutocastScope&) = delete;
  Bf16AutocastScope& operator=(const Bf16AutocastScope&) = delete;

 private:
  bool enabled_;
};

}  // namespace aha

#endif  // AHA_POLICY_AUTOCAST_H_
