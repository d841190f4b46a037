// Output that either lands completely or fails with the path and the OS error: every
// file the CLI and the reports write goes through here, so a full disk, a missing
// folder or a closed stdout can never end in exit status 0 with a short or empty file.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"

namespace vatp {

// Checks, before any expensive work, that `path` can be written: not empty, not a
// directory, and its folder exists. `flag` names the option in the message ("--json").
Status check_output_path(const std::string& flag, const std::string& path);

// Same for an output folder, created with its parents if missing: the nearest existing
// ancestor must be a writable directory.
Status check_output_dir(const std::string& flag, const std::string& dir);

// Writes `data` to `path`: a regular file (or a new one) is written to a temporary file
// in the same folder, flushed to disk (fsync) and renamed over `path`, so readers see the
// old file or the whole new one and a failure leaves nothing behind. A path that exists
// and is not a regular file (/dev/stdout, a FIFO, /dev/full) is written in place, every
// write checked — renaming over a device would replace it.
Status write_file_atomic(const std::string& path, std::string_view data);

// Flushes stdout and reports any write error seen on it since start-up:
// "writing stdout: <OS error>".
Status check_stdout();

}  // namespace vatp
