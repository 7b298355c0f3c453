/* The C ABI between aha and a reward plugin (a shared library named by `plugin:` in the
 * rewards config). Plain C, so a plugin can be built by any compiler or language that
 * exports C symbols, and no C++ type crosses the boundary.
 *
 * A plugin exports one function, aha_reward_plugin_get_api, which fills an AhaRewardPluginApi
 * of function pointers. aha then calls create once, score_batch once per batch, and destroy
 * once. Strings are UTF-8 and NUL-terminated, and stay valid only during the call. */
#ifndef AHA_REWARDS_PLUGIN_ABI_H_
#define AHA_REWARDS_PLUGIN_ABI_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped on any change to the structs or functions below. aha loads a plugin only when the
 * api it fills has this exact version. */
#define AHA_REWARD_PLUGIN_ABI_VERSION 1

/* The exported symbol's name, for dlsym. */
#define AHA_REWARD_PLUGIN_ENTRY_POINT "aha_reward_plugin_get_api"

/* Values of AhaRewardSample.finish_reason. */
#define AHA_FINISH_REASON_STOP 0   /* an end-of-sequence token */
#define AHA_FINISH_REASON_LENGTH 1 /* the completion length limit */

typedef struct AhaRewardSample {
  const char* prompt;
  const char* completion;
  const char* ground_truth;
  const char* fields_json; /* the data row's other fields, as a JSON object */
  int32_t finish_reason;   /* AHA_FINISH_REASON_* */
  int64_t num_tokens;      /* tokens in the completion */
} AhaRewardSample;

typedef struct AhaRewardPluginApi {
  /* Set to AHA_REWARD_PLUGIN_ABI_VERSION by the plugin. */
  uint32_t abi_version;

  /* Creates a scorer from `options_json`, the entry's `options:` mapping as a JSON object
   * ("{}" when absent). Returns NULL on failure, after writing a NUL-terminated message of at
   * most error_size bytes into `error`. */
  void* (*create)(const char* options_json, char* error, size_t error_size);

  /* Scores samples[0..num_samples): writes scores[i], and abstain[i] = 1 to abstain on
   * sample i (scores[i] is then ignored) or 0. Returns 0 on success; otherwise a nonzero
   * value after writing a message into `error`, and aha treats the whole batch as failed. */
  int32_t (*score_batch)(void* scorer, const AhaRewardSample* samples, size_t num_samples,
                         double* scores, int32_t* abstain, char* error, size_t error_size);

  /* Frees what create returned. May be NULL when there is nothing to free. */
  void (*destroy)(void* scorer);
} AhaRewardPluginApi;

/* The plugin's entry point. `host_abi_version` is the AHA_REWARD_PLUGIN_ABI_VERSION aha was
 * built with. Returns 0 after filling *api, or nonzero when the plugin cannot serve that
 * version. */
typedef int32_t (*AhaRewardPluginGetApiFn)(uint32_t host_abi_version, AhaRewardPluginApi* api);

#ifdef __cplusplus
}  /* extern "C" */
#endif

#endif /* AHA_REWARDS_PLUGIN_ABI_H_ */
