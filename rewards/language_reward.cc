// The `language_consistency` reward: word shares by Unicode script.
#include "rewards/language_reward.h"

#include <cstdint>

#include "base/status_macros.h"
#include "rewards/tags.h"

namespace aha {
namespace {

// Decodes one UTF-8 code point at `pos` and advances `pos`. Returns -1 for an invalid
// sequence, after skipping one byte.
int32_t DecodeUtf8(std::string_view text, size_t& pos) {
  unsigned char lead = static_cast<unsigned char>(text[pos]);
  int length = lead < 0x80 ? 1 : (lead >> 5) == 0x6 ? 2 : (lead >> 4) == 0xE ? 3
                                 : (lead >> 3) == 0x1E ? 4 : 0;
  if (length == 0 || pos + length > text.size()) {
    ++pos;
    return -1;
  }
  int32_t code = length == 1 ? lead : lead & (0x7F >> length);
  for (int i = 1; i < length; ++i) {
    unsigned char next = static_cast<unsigned char>(text[pos + i]);
    if ((next >> 6) != 0x2) {
      ++pos;
      return -1;
    }
    code = (code << 6) | (next & 0x3F);
  }
  pos += length;
  return code;
}

enum class CharClass { kSeparator, kLatinLetter, kCjkCharacter, kOtherLetter };

CharClass Classify(int32_t c) {
  if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')) return CharClass::kLatinLetter;
  // Latin-1 letters (without the multiplication and division signs) and Latin Extended.
  if ((c >= 0xC0 && c <= 0x24F && c != 0xD7 && c != 0xF7) || (c >= 0x1E00 && c <= 0x1EFF)) {
    return CharClass::kLatinLetter;
  }
  if ((c >= 0x3040 && c <= 0x30FF) ||    // Hiragana, Katakana
      (c >= 0x3400 && c <= 0x4DBF) ||    // CJK Extension A
      (c >= 0x4E00 && c <= 0x9FFF) ||    // CJK Unified Ideographs
      (c >= 0xAC00 && c <= 0xD7AF) ||    // Hangul syllables
      (c >= 0xF900 && c <= 0xFAFF) ||    // CJK Compatibility Ideographs
      (c >= 0x20000 && c <= 0x2FA1F)) {  // CJK Extensions B-F and supplements
    return CharClass::kCjkCharacter;
  }
  if ((c >= 0x370 && c <= 0x3FF) ||   // Greek
      (c >= 0x400 && c <= 0x52F) ||   // Cyrillic
      (c >= 0x590 && c <= 0x6FF) ||   // Hebrew, Arabic
      (c >= 0x900 && c <= 0xDFF) ||   // Indic scripts
      (c >= 0xE00 && c <= 0xE7F)) {   // Thai
    return CharClass::kOtherLetter;
  }
  return CharClass::kSeparator;
}

}  // namespace

ScriptWordCounts CountScriptWords(std::string_view text) {
  ScriptWordCounts counts;
  CharClass previous = CharClass::kSeparator;
  size_t pos = 0;
  while (pos < text.size()) {
    int32_t code = DecodeUtf8(text, pos);
    CharClass current = code < 0 ? CharClass::kSeparator : Classify(code);
    if (current == CharClass::kCjkCharacter) {
      ++counts.cjk;
    } else if (current != previous) {
      // A run of Latin or other letters is one word; it starts where the class changes.
      if (current == CharClass::kLatinLetter) ++counts.latin;
      if (current == CharClass::kOtherLetter) ++counts.other;
    }
    previous = current;
  }
  return counts;
}

std::optional<double> ScriptShare(std::string_view text, Script script) {
  ScriptWordCounts counts = CountScriptWords(text);
  int64_t total = counts.latin + counts.cjk + counts.other;
  if (total == 0) return std::nullopt;
  int64_t matching = script == Script::kLatin ? counts.latin
                     : script == Script::kCjk ? counts.cjk
                                              : counts.other;
  return static_cast<double>(matching) / static_cast<double>(total);
}

absl::StatusOr<std::unique_ptr<Reward>> MakeLanguageConsistencyReward(RewardOptions& options) {
  ASSIGN_OR_RETURN(std::string language, options.GetString("language", "en"));
  ASSIGN_OR_RETURN(bool prefilled_think, options.GetBool("prefilled_think", false));
  Script script;
  if (language == "en") {
    script = Script::kLatin;
  } else if (language == "zh" || language == "ja" || language == "ko") {
    script = Script::kCjk;
  } else {
    return options.KeyError("language", "expected en, zh, ja or ko, got '" + language + "'");
  }
  return MakePerSampleReward([script, prefilled_think](const RewardSample& sample)
                                 -> absl::StatusOr<std::optional<double>> {
    std::optional<std::string_view> think = ThinkBlock(sample.completion, prefilled_think);
    if (!think) return std::optional<double>();
    return ScriptShare(*think, script);
  });
}

}  // namespace aha
