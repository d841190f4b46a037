// Flag and file checks shared by the subcommands, defined once so that every command
// refuses the same bad input with the same message (issue 11, classes 3-5).
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <optional>
#include <string>

#include "core/status.h"
#include "model/config.h"
#include "runtime/memory_plan.h"

namespace vatp::cli {

// Input files (-f) larger than this are refused: a prompt or text that large is a
// mistake, and reading it whole would take that much memory.
inline constexpr uint64_t kMaxInputFileBytes = uint64_t{1} << 30;

// -t: at most this many threads per hardware thread; more only adds contention.
inline constexpr int kMaxThreadsPerCore = 4;

// Reads a whole input file named by `flag`: it must be a regular file (not a directory,
// FIFO or device such as /dev/zero, which would read forever), non-empty and at most
// kMaxInputFileBytes.
Result<std::string> read_input_file(const std::string& flag, const std::string& path);

// -t given explicitly (`given`): 1..kMaxThreadsPerCore × hardware threads. Returns the
// thread count to use (hardware threads when not given).
Result<int> resolve_threads(int threads, bool given);

// A CLI11 validator for seed options: a decimal integer in 0..2^64-1 (CLI11 alone clamps
// -1 and 2^64 silently).
const CLI::Validator& seed_validator();

// Adds --max-memory SIZE to `cmd`, stored as text in `dst` (parsed by memory_limit).
void add_max_memory_flag(CLI::App* cmd, std::string& dst);
Result<std::optional<uint64_t>> memory_limit(const std::string& flag_text);

// "warning: -c 100000 exceeds the model's training context 8192" on stderr.
void warn_beyond_training_context(const std::string& what, int64_t n, const model::ModelConfig& c);

}  // namespace vatp::cli
