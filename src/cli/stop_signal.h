// SIGINT/SIGTERM during `vatp run`: the handler only records the signal; the token
// callback sees it, generation stops, the stats line and the --json file are written
// with what was generated, and main() exits 128 + the signal (130, 143).
#pragma once

namespace vatp::cli {

// Installs the recording handler for SIGINT and SIGTERM (until the process exits).
void catch_stop_signals();

// The signal received since catch_stop_signals(), or 0.
int stop_signal();

// The command has handled the signal as its normal end (vatp serve drains and exits 0):
// main() then returns the command's own status instead of 128 + the signal.
void clear_stop_signal();

}  // namespace vatp::cli
