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
    int64_t longest_prompt = 0, longest_completion = 1;
    std::unordered_set<int64_t> groups;
    for (size_t i = start; i < end; ++i) {
      const RowShape& row = rows[order[i]];
      longest_prompt = std::max(longest_prompt, row.prompt);
      longest_completion = std::max(longest_completion, row.completion);
      groups.insert(row.group);
    }
    const int64_t count = static_cast<int64_t>(end - start);
    tokens += share_prompts ? static_cast<int64_t>(groups.size()) * longest_prompt +
                                  count * (longest_completion - 1)
                            : count * (longest_prompt + longest_completion);
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

  std::unordered_map<int64_t, int64_t> group_longest;
  for (const RowShape& row : rows) {
    int64_t& longest = group_longest[row.group];
    longest = std::max(longest, row.completion);
  }
  // Stable over by_length, so each group's rows stay longest first.
  std::vector<int64_t> by_group = by_length;
  std::stable_sort(by_group.begin(), by_group.end(), [&](int64_t a, int64_t b) {
    const int64_t longest_a = group_longest[rows[a].group];
    const int64_t longest_b = group_longest[rows[b].group];
    if (longest_a != longest_b) return longest_a > longest_b;
    return rows[a].group < rows[b].group;
  });
  return ScoredTokens(rows, by_group, micro_rows, true) <
                 ScoredTokens(rows, by_length, micro_rows, true)
             ? by_group
             : by_length;
}

}  // namespace aha
