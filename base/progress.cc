#include "base/progress.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>

namespace aha {
namespace {

double NowSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

TerminalProgress::TerminalProgress() : enabled_(isatty(STDERR_FILENO) == 1) {}

void TerminalProgress::Begin(std::string_view phase, int64_t total) {
  size_t n = std::min(phase.size(), sizeof(phase_) - 1);
  std::memcpy(phase_, phase.data(), n);
  phase_[n] = '\0';
  total_ = total;
  done_ = 0;
  start_seconds_ = NowSeconds();
  last_draw_seconds_ = 0;
  Draw(true);
}

void TerminalProgress::Update(int64_t done) {
  done_ = done;
  Draw(false);
}

void TerminalProgress::End() {
  if (!enabled_) return;
  Draw(true);
  std::fputs("\r\033[K", stderr);
  std::fflush(stderr);
}

void TerminalProgress::Draw(bool force) {
  if (!enabled_) return;
  double now = NowSeconds();
  if (!force && now - last_draw_seconds_ < 0.2) return;
  last_draw_seconds_ = now;
  double elapsed = now - start_seconds_;
  if (total_ > 0) {
    constexpr int kWidth = 30;
    double fraction = std::clamp(static_cast<double>(done_) / total_, 0.0, 1.0);
    int filled = static_cast<int>(fraction * kWidth);
    char bar[kWidth + 1];
    for (int i = 0; i < kWidth; ++i) bar[i] = i < filled ? '#' : '.';
    bar[kWidth] = '\0';
    std::fprintf(stderr, "\r\033[K%s [%s] %lld/%lld %.1fs", phase_, bar,
                 static_cast<long long>(done_), static_cast<long long>(total_), elapsed);
  } else {
    std::fprintf(stderr, "\r\033[K%s %lld %.1fs", phase_, static_cast<long long>(done_),
                 elapsed);
  }
  std::fflush(stderr);
}

}  // namespace aha
