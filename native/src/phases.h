// Where a step's time goes: SOLILOQUY_STEP_PHASES=1 makes phrase_gradient and step_grad_norms print, to stderr, the
// seconds spent in each named phase (summed over the layers) when they finish. Off (the default) a lap is one test of
// a flag read once: no clock is read and nothing is kept. For measuring only — no test reads these figures.
#pragma once
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#ifndef _WIN32
#include <sys/resource.h>
#endif

class PhaseClock {
 public:
  explicit PhaseClock(const char* title) : title_(title), on_(enabled()) {
    if (on_) start_ = last_ = now(), lastf_ = flt();
  }
  // the time since the previous lap (or the start) is added to phase `name` (a string literal: kept by pointer)
  void lap(const char* name) {
    if (on_) add(name);
  }
  // the last lap ("free": what the destructors of the function's locals cost, declared after this clock), then the
  // table
  ~PhaseClock() {
    if (!on_) return;
    add("free (locals' destructors)");
    const double total = secs(last_ - start_);
    std::fprintf(stderr, "[phases] %s: %.4f s\n", title_, total);
    for (int i = 0; i < n_; i++)
      std::fprintf(stderr, "[phases]   %-34s %8.4f s %5.1f %% %6ld flt\n", names_[i], s_[i], total > 0 ? 100 * s_[i] / total : 0.0, f_[i]);
  }
  PhaseClock(const PhaseClock&) = delete;
  PhaseClock& operator=(const PhaseClock&) = delete;

 private:
  using Clock = std::chrono::steady_clock;
  static Clock::time_point now() { return Clock::now(); }
  static double secs(Clock::duration d) { return std::chrono::duration<double>(d).count(); }
  static bool enabled() {
    static const bool on = [] {
      const char* v = std::getenv("SOLILOQUY_STEP_PHASES");
      return v && *v && std::strcmp(v, "0") != 0;
    }();
    return on;
  }
  void add(const char* name) {
    const Clock::time_point t = now();
    int i = 0;
    while (i < n_ && std::strcmp(names_[i], name) != 0) i++;
    if (i == n_ && n_ < MAX) names_[n_++] = name, s_[i] = 0;
    const long f = flt();
    if (i < n_) s_[i] += secs(t - last_), f_[i] += f - lastf_;
    last_ = t;
    lastf_ = f;
  }
  static const int MAX = 48;
  const char* title_;
  const bool on_;
  Clock::time_point start_, last_;
  const char* names_[MAX];
  double s_[MAX];
  long f_[MAX] = {};
  long lastf_ = 0;
  // the process's minor page faults so far (not counted on Windows, which has no getrusage: the column reads 0)
  static long flt() {
#ifndef _WIN32
    rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_minflt;
#else
    return 0;
#endif
  }
  int n_ = 0;
};
