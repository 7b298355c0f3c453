#ifndef AHA_POLICY_KERNEL_SWITCH_H_
#define AHA_POLICY_KERNEL_SWITCH_H_

namespace aha {

// Returns true when the environment variable `name` is "torch", which turns one of aha's CPU
// kernels off in favour of LibTorch's operator. Any other value is reported on stderr with the
// accepted one and ignored, so a misspelt switch does not pass silently.
bool KernelSwitchedToTorch(const char* name);

}  // namespace aha

#endif  // AHA_POLICY_KERNEL_SWITCH_H_
