#include "cli/stop_signal.h"

#include <csignal>

namespace vatp::cli {
namespace {

// The project's one global (docs/architecture.md): a signal handler can only
// communicate through a volatile sig_atomic_t; all work happens outside the handler.
volatile std::sig_atomic_t g_stop_signal = 0;

void record_stop_signal(int sig) { g_stop_signal = sig; }

}  // namespace

void catch_stop_signals() {
  struct sigaction sa {};
  sa.sa_handler = record_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: a blocking write returns EINTR instead of hanging on
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

int stop_signal() { return g_stop_signal; }

void clear_stop_signal() { g_stop_signal = 0; }

}  // namespace vatp::cli
