#include "policy/autocast.h"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

#define AHA_AUTOCAST_DEVICE_API \
  (TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4))

namespace aha {

bool CpuAutocastEnabled() {
#if AHA_AUTOCAST_DEVICE_API
  return at::autocast::is_autocast_enabled(at::kCPU);
#else
  return at::autocast::is_cpu_enabled();
#endif
}

Bf16AutocastScope::Bf16AutocastScope(bool enabled) : enabled_(enabled) {
  if (!enabled_) return;
#if AHA_AUTOCAST_DEVICE_API
  at::autocast::set_autocast_dtype(at::kCPU, at::kBFloat16);
  at::autocast::set_autocast_enabled(at::kCPU, true);
#else
  at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
  at::autocast::set_cpu_enabled(true);
#endif
}

Bf16AutocastScope::~Bf16AutocastScope() {
  if (!enabled_) return;
#if AHA_AUTOCAST_DEVICE_API
  at::autocast::set_autocast_enabled(at::kCPU, false);
#else
  at::autocast::set_cpu_enabled(false);
#endif
  at::autocast::clear_cache();
}

}  // namespace aha
