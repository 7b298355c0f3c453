// The normalizer and pre-tokenizer stages of a Hugging Face byte-level BPE tokenizer.
#define PCRE2_CODE_UNIT_WIDTH 8
#include "policy/pretokenizer.h"

#include <pcre2.h>
#include <utf8proc.h>

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "base/utf8.h"

namespace aha {
namespace {

// GPT-2's split pattern, which the ByteLevel pre-tokenizer uses when `use_regex` is true.
constexpr std::string_view kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// Per-thread PCRE2 match state. One match-data block (for the whole match only) serves every
// pattern, and the JIT stack is raised from PCRE2's 32 KiB default so long runs of spaces
// or symbols cannot exhaust it.
struct MatchScratch {
  pcre2_match_data* data = pcre2_match_data_create(1, nullptr);
  pcre2_match_context* context = pcre2_match_context_create(nullptr);
  pcre2_jit_stack* stack = pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, nullptr);
  MatchScratch() { pcre2_jit_stack_assign(context, nullptr, stack); }
  ~MatchScratch() {
    pcre2_jit_stack_free(stack);
    pcre2_match_context_free(context);
    pcre2_match_data_free(data);
  }
};

MatchScratch& ThreadScratch() {
  thread_local MatchScratch scratch;
  return scratch;
}

utf8proc_option_t FormOptions(NormalizationForm form) {
  switch (form) {
    case NormalizationForm::kNfc:
      return static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE);
    case NormalizationForm::kNfd:
      return static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_DECOMPOSE);
    case NormalizationForm::kNfkc:
      return static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE |
                                            UTF8PROC_COMPAT);
    case NormalizationForm::kNfkd:
      return static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_DECOMPOSE |
                                            UTF8PROC_COMPAT);
  }
  return UTF8PROC_STABLE;
}

bool IsAscii(std::string_view text) {
  for (char c : text) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<std::shared_ptr<const Regex>> Regex::Compile(std::string_view pattern,
                                                            bool literal) {
  uint32_t options = PCRE2_UTF | PCRE2_UCP;
  if (literal) options |= PCRE2_LITERAL;
  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  pcre2_code* code =
      pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), options,
                    &error_code, &error_offset, nullptr);
  if (code == nullptr) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error_code, message, sizeof(message));
    return absl::InvalidArgumentError(
        absl::StrCat("invalid regex at offset ", error_offset, ": ",
                     reinterpret_cast<const char*>(message)));
  }
  // JIT is an optimization: when it is unavailable pcre2_match interprets the pattern.
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
  return std::shared_ptr<const Regex>(new Regex(code));
}

Regex::~Regex() { pcre2_code_free(static_cast<pcre2_code*>(code_)); }

void Regex::FindAll(std::string_view text,
                    std::vector<std::pair<size_t, size_t>>* matches) const {
  MatchScratch& scratch = ThreadScratch();
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  const auto* code = static_cast<const pcre2_code*>(code_);
  size_t offset = 0;
  while (offset < text.size()) {
    // The text was validated once before pre-tokenization, so PCRE2 need not check it again
    // at every offset.
    const int rc = pcre2_match(code, subject, text.size(), offset, PCRE2_NO_UTF_CHECK,
                               scratch.data, scratch.context);
    if (rc < 0) break;  // PCRE2_ERROR_NOMATCH, or a resource limit: the rest is one gap
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(scratch.data);
    const size_t start = ovector[0];
    const size_t end = ovector[1];
    if (end > start) {
      matches->emplace_back(start, end);
      offset = end;
      continue;
    }
    // Empty match: step over one character so the loop always advances.
    char32_t code_point;
    const size_t length = utf8::DecodeAt(text, start, &code_point);
    offset = start + (length == 0 ? 1 : length);
  }
}

std::string Normalizer::Apply(std::string_view text) const {
  std::string current(text);
  // ASCII text is unchanged by every normalization form.
  if (steps.empty() || IsAscii(current)) return current;
  for (NormalizationForm form : steps) {
    utf8proc_uint8_t* output = nullptr;
    const utf8proc_ssize_t length =
        utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(current.data()),
                     static_cast<utf8proc_ssize_t>(current.size()), &output, FormOptions(form));
    // utf8proc rejects only invalid UTF-8 and unassigned code points under
    // UTF8PROC_REJECTNA (not set); on failure the text stays as it was.
    if (length >= 0) current.assign(reinterpret_cast<const char*>(output), length);
    std::free(output);
  }
  return current;
}

absl::StatusOr<PreTokenizerStep> PreTokenizer::ByteLevelStep(bool add_prefix_space,
                                                             bool use_regex) {
  PreTokenizerStep step;
  step.kind = PreTokenizerStep::Kind::kByteLevel;
  step.add_prefix_space = add_prefix_space;
  step.use_regex = use_regex;
  if (use_regex) {
    auto regex = Regex::Compile(kGpt2Pattern, /*literal=*/false);
    if (!regex.ok()) return regex.status();
    step.regex = *std::move(regex);
  }
  return step;
}

void PreTokenizer::Split(std::string_view text, std::deque<std::string>* arena,
                         std::vector<std::string_view>* words) const {
  std::vector<std::string_view> pieces = {text};
  std::vector<std::string_view> next;
  std::vector<std::pair<size_t, size_t>> matches;
  for (const PreTokenizerStep& step : steps_) {
    next.clear();
    for (std::string_view piece : pieces) {
      if (piece.empty()) continue;
      if (step.kind == PreTokenizerStep::Kind::kByteLevel && step.add_prefix_space &&
          piece[0] != ' ') {
        arena->push_back(std::string(" ").append(piece));
        piece = arena->back();
      }
      if (step.regex == nullptr) {
        next.push_back(piece);
        continue;
      }
      matches.clear();
      step.regex->FindAll(piece, &matches);
      // Walk matches and the gaps between them; with `invert` the gaps are the delimiters.
      size_t offset = 0;
      auto emit = [&](size_t start, size_t end, bool is_match) {
        if (end <= start) return;
        const bool delimiter = is_match != step.invert;
        if (delimiter && step.behavior == SplitBehavior::kRemoved) return;
        next.push_back(piece.substr(start, end - start));
      };
      for (const auto& [start, end] : matches) {
        emit(offset, start, false);
        emit(start, end, true);
        offset = end;
      }
      emit(offset, piece.size(), false);
    }
    pieces.swap(next);
  }
  words->insert(words->end(), pieces.begin(), pieces.end());
}

}  // namespace aha
