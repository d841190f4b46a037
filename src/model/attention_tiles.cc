#include "model/attention_tiles.h"

#include <cmath>

namespace vatp::model {
namespace tiles_generic {
#include "model/attention_tiles.inc"

double exp_sum(float* x, int n, float mx) {
  double sum = 0.0;
  for (int i = 0; i < n; ++i) {
    x[i] = x[i] == -INFINITY ? 0.0f : std::exp(x[i] - mx);
    sum += x[i];
  }
  return sum;
}
}  // namespace tiles_generic

namespace tiles_avx2 {
extern const TileKernels kKernels;
}

const TileKernels& tile_kernels(kernels::Isa isa) {
  static constexpr TileKernels kGeneric = {tiles_generic::scores, tiles_generic::pv, tiles_generic::exp_sum};
  return isa == kernels::Isa::Scalar ? kGeneric : tiles_avx2::kKernels;
}

}  // namespace vatp::model
