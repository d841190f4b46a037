#include "cli/kernel_flags.h"

namespace vatp::cli {

Result<kernels::KernelTable> kernel_table_from_flag(const std::string& isa) {
  if (isa.empty()) return kernels::make_kernel_table(kernels::detect_isa());
  const std::optional<kernels::Isa> i = kernels::isa_from_name(isa);
  if (!i) return invalid_argument("--isa must be scalar, avx2 or avx512, got '" + isa + "'");
  if (!kernels::isa_supported(*i)) return invalid_argument("--isa " + isa + ": this CPU does not support it");
  return kernels::make_kernel_table(*i);
}

}  // namespace vatp::cli
