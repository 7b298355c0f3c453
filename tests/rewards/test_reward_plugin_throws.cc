// A reward plugin whose score_batch lets a C++ exception escape through the C ABI, which the
// ABI forbids and aha must survive.
#include <stdexcept>

#include "rewards/plugin_abi.h"

namespace {

int created;

void* Create(const char*, char*, size_t) { return &created; }

int32_t ScoreBatch(void*, const AhaRewardSample*, size_t, double*, int32_t*, char*, size_t) {
  throw std::runtime_error("thrown by the plugin");
}

}  // namespace

extern "C" int32_t aha_reward_plugin_get_api(uint32_t, AhaRewardPluginApi* api) {
  api->abi_version = AHA_REWARD_PLUGIN_ABI_VERSION;
  api->create = Create;
  api->score_batch = ScoreBatch;
  api->destroy = nullptr;
  return 0;
}
