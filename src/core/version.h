// vatp's version and the source revision the binary was built from. Both go into the
// fingerprint of every sweep record (eval/fingerprint.h), so a resumed sweep never mixes
// results of two builds.
#pragma once

#include <string>

namespace vatp {

inline constexpr const char* kVersion = "0.1.0";

// The git revision of the source tree at build time ("1a2b3c4d5e6f", with "-dirty" when
// tracked files had local changes), $VATP_REV for builds from an export, else "unknown".
// Defined in the generated build/generated/revision.cc (cmake/revision.cmake).
const char* source_revision();

// "0.1.0 (1a2b3c4d5e6f)".
std::string version_string();

}  // namespace vatp
