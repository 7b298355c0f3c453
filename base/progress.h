// The one interface through which long-running phases report progress, so the CLI can draw
// a bar and tests stay silent.
#ifndef AHA_BASE_PROGRESS_H_
#define AHA_BASE_PROGRESS_H_

#include <cstdint>
#include <string_view>

namespace aha {

class Progress {
 public:
  virtual ~Progress() = default;
  // Starts a phase of `total` units (0 when the total is unknown).
  virtual void Begin(std::string_view phase, int64_t total) = 0;
  // Reports that `done` units of the current phase are finished.
  virtual void Update(int64_t done) = 0;
  virtual void End() = 0;
};

// Reports nothing; the default for library callers and tests.
class SilentProgress final : public Progress {
 public:
  void Begin(std::string_view, int64_t) override {}
  void Update(int64_t) override {}
  void End() override {}
};

// Draws a one-line bar on stderr, redrawn at most a few times per second, and only when
// stderr is a terminal, so logs that go to files stay clean.
class TerminalProgress final : public Progress {
 public:
  TerminalProgress();
  void Begin(std::string_view phase, int64_t total) override;
  void Update(int64_t done) override;
  void End() override;

 private:
  void Draw(bool force);

  bool enabled_;
  char phase_[48] = {};
  int64_t total_ = 0;
  int64_t done_ = 0;
  double start_seconds_ = 0;
  double last_draw_seconds_ = 0;
};

}  // namespace aha

#endif  // AHA_BASE_PROGRESS_H_
