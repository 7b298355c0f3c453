/* Reward plugins for plugin_reward_test, one per TEST_PLUGIN_MODE_* definition:
 *   good              scores the completion's length; abstains on "abstain"; score_batch fails
 *                     on "fail"; create fails when the options contain "fail_create". The
 *                     completions "crash", "abort", "exit" and "hang" do that, and "nan"
 *                     scores NaN.
 *   bad_version       fills abi_version = 999
 *   no_entry_point    exports no aha_reward_plugin_get_api
 *   refuses_version   returns nonzero from aha_reward_plugin_get_api */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rewards/plugin_abi.h"

static int created;

static void* Create(const char* options_json, char* error, size_t error_size) {
  if (strstr(options_json, "fail_create") != NULL) {
    snprintf(error, error_size, "create was asked to fail, options %s", options_json);
    return NULL;
  }
  return &created;
}

static int32_t ScoreBatch(void* scorer, const AhaRewardSample* samples, size_t num_samples,
                          double* scores, int32_t* abstain, char* error, size_t error_size) {
  (void)scorer;
  for (size_t i = 0; i < num_samples; ++i) {
    const char* completion = samples[i].completion;
    if (strcmp(completion, "fail") == 0) {
      snprintf(error, error_size, "sample %zu asked to fail", i);
      return 7;
    }
    if (strcmp(completion, "crash") == 0) raise(SIGSEGV);
    if (strcmp(completion, "abort") == 0) abort();
    if (strcmp(completion, "exit") == 0) exit(0);
    if (strcmp(completion, "hang") == 0) {
      for (;;) pause();
    }
    abstain[i] = strcmp(samples[i].completion, "abstain") == 0;
    scores[i] = (double)strlen(samples[i].completion) +
                (samples[i].finish_reason == AHA_FINISH_REASON_LENGTH ? 100.0 : 0.0);
    if (strcmp(completion, "nan") == 0) scores[i] = NAN;
  }
  return 0;
}

#ifndef TEST_PLUGIN_MODE_no_entry_point
int32_t aha_reward_plugin_get_api(uint32_t host_abi_version, AhaRewardPluginApi* api) {
#ifdef TEST_PLUGIN_MODE_refuses_version
  return 1;
#endif
  (void)host_abi_version;
  api->abi_version = AHA_REWARD_PLUGIN_ABI_VERSION;
#ifdef TEST_PLUGIN_MODE_bad_version
  api->abi_version = 999;
#endif
  api->create = Create;
  api->score_batch = ScoreBatch;
  api->destroy = NULL;
  return 0;
}
#else
int32_t some_other_symbol(void) { return 0; }
#endif
