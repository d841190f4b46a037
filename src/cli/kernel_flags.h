// --isa: which kernel table a command computes with (default: the best this CPU runs).
// Forcing `scalar` runs the reference kernels, e.g. to see how far the SIMD kernels'
// float summation order moves a result on this machine.
#pragma once

#include <string>

#include "core/status.h"
#include "kernels/kernel_table.h"

namespace vatp::cli {

inline constexpr const char* kIsaHelp =
    "Kernels: scalar | avx2 | avx512 (default: the best this CPU supports)";

// "" → detect_isa(); otherwise the named ISA, which this CPU must support.
Result<kernels::KernelTable> kernel_table_from_flag(const std::string& isa);

}  // namespace vatp::cli
