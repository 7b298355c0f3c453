// An example reward plugin, written in C++ behind the C ABI of rewards/plugin_abi.h. It gives
// 1 when the last <answer> block has at most `max_chars` characters (option, default 20), 0
// when it is longer, and abstains when there is no answer block. No exception may cross the C
// boundary, so Create catches the JSON parser's and reports it as an error.
#include <cstdio>
#include <cstring>
#include <exception>
#include <string_view>

#include "nlohmann/json.hpp"
#include "rewards/plugin_abi.h"

namespace {

struct Scorer {
  size_t max_chars = 20;
};

void WriteError(char* error, size_t error_size, const char* message) {
  std::snprintf(error, error_size, "%s", message);
}

void* Create(const char* options_json, char* error, size_t error_size) {
  try {
    nlohmann::json options = nlohmann::json::parse(options_json);
    auto* scorer = new Scorer();
    if (options.contains("max_chars")) {
      int64_t max_chars = options["max_chars"].get<int64_t>();
      if (max_chars < 0) {
        delete scorer;
        WriteError(error, error_size, "option max_chars must be 0 or more");
        return nullptr;
      }
      scorer->max_chars = static_cast<size_t>(max_chars);
    }
    return scorer;
  } catch (const std::exception& e) {
    WriteError(error, error_size, e.what());
    return nullptr;
  }
}

int32_t ScoreBatch(void* scorer, const AhaRewardSample* samples, size_t num_samples,
                   double* scores, int32_t* abstain, char* error, size_t error_size) {
  const size_t max_chars = static_cast<Scorer*>(scorer)->max_chars;
  for (size_t i = 0; i < num_samples; ++i) {
    std::string_view completion = samples[i].completion;
    size_t open = completion.rfind("<answer>");
    size_t close = open == std::string_view::npos ? open : completion.find("</answer>", open);
    abstain[i] = close == std::string_view::npos;
    scores[i] = 0.0;
    if (!abstain[i]) {
      size_t length = close - (open + std::strlen("<answer>"));
      scores[i] = length <= max_chars ? 1.0 : 0.0;
    }
  }
  (void)error;
  (void)error_size;
  return 0;
}

void Destroy(void* scorer) { delete static_cast<Scorer*>(scorer); }

}  // namespace

extern "C" __attribute__((visibility("default"))) int32_t aha_reward_plugin_get_api(
    uint32_t host_abi_version, AhaRewardPluginApi* api) {
  if (host_abi_version != AHA_REWARD_PLUGIN_ABI_VERSION) return 1;
  api->abi_version = AHA_REWARD_PLUGIN_ABI_VERSION;
  api->create = Create;
  api->score_batch = ScoreBatch;
  api->destroy = Destroy;
  return 0;
}
