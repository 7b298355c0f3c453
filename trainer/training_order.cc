#include "trainer/training_order.h"

#include <algorithm>
#include <numeric>
#include <unordered_map>
#include <unordered_set>

namespace aha {

int64_t ScoredTokens(const std::vector<RowShape>& rows, const std::vector<int64_t>& order,
                     int64_t micro_rows, bool share_prompts) {
  int64_t tokens = 0;
  for (size_t start = 0; start < order.size(); start += micro_rows) {
    const size_t end = std::min(order.size(), start + static_cast<size_t>(micro_rows));
    // ScoreRows runs at least one completion column.
    int64_t max_prompt = 0, max_completion = 1;
    std::unordered_set<int64_t> groups;
    for (size_t i = start; i < end; ++i) {
      const RowShape& row = rows[order[i]];
      max_prompt = std::max(max_prompt, row.prompt);
      max_completion = std::max(max_completion, row.completion);
      groups.insert(row.group);
    }
    const int64_t count = static_cast<int64_t>(end - start);
    tokens += share_prompts ? static_cast<int64_t>(groups.size()) * max_prompt +
                                  count * (max_completion - 1)
                            : count * (max_prompt + max_completion);
  }
  return tokens;
}

std::vector<int64_t> TrainingOrder(const std::vector<RowShape>& rows, int64_t micro_rows,
                                   bool share_prompts) {
  std::vector<int64_t> by_length(rows.size());
  std::iota(by_length.begin(), by_length.end(), 0);
  std::stable_sort(by_length.begin(), by_length.end(), [&](int64_t a, int64_t b) {
    return rows[a].completion > rows[b].completion;
  });
  if (!share_prompts) return by_length;

  std::unordered_map<int64_t, int64_t> group_max_completion;
  for (const RowShape& row : rows) {
    int64_t& group_max = group_max_completion[row.group];
    group_max = std::max(group_max, row.completion);
  }
  // Stable over by_length, so each group's rows stay longest first.
  std::vector<int64_t> by_group = by_length;
  std::stable_sort(by_group.begin(), by_group.end(), [&](int64_t a, int64_t b) {
    const int64_t max_a = group_max_completion[rows[a].group];
    const int64_t max_b = group_max_completion[rows[b].group];
    if (max_a != max_b) return max_a > max_b;
    return rows[a].group < rows[b].group;
  });
  return ScoredTokens(rows, by_group, micro_rows, true) <
                 ScoredTokens(rows, by_length, micro_rows, true)
             ? by_group
             : by_length;
}

}  // namespace aha
