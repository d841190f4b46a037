#include "core/version.h"

namespace vatp {

std::string version_string() { return std::string(kVersion) + " (" + source_revision() + ")"; }

}  // namespace vatp
