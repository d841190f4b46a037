// Helpers shared by the kernels tests.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "kernels/kernel_table.h"

namespace vatp::kernels::testing {

inline std::vector<float> random_floats(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// Every ISA this machine can run (Scalar always).
inline std::vector<Isa> supported_isas() {
  std::vector<Isa> out;
  for (Isa i : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
    if (isa_supported(i)) out.push_back(i);
  }
  return out;
}

// The SIMD ISAs this machine can run.
inline std::vector<Isa> simd_isas() {
  std::vector<Isa> out;
  for (Isa i : {Isa::Avx2, Isa::Avx512}) {
    if (isa_supported(i)) out.push_back(i);
  }
  return out;
}

}  // namespace vatp::kernels::testing
