#include "model/attention_stats.h"

#include <algorithm>

#include "kernels/ops.h"

namespace vatp::model {
namespace {

void add_into(float* dst, const float* src, int n) {
  if (dst != nullptr) kernels::add(dst, src, dst, n);
}

void set_last(float* last, const float* src, int visible, int length) {
  if (last == nullptr) return;
  std::copy(src, src + visible, last);
  std::fill(last + visible, last + length, 0.0f);
}

}  // namespace

void add_row_stats(const float* probs, size_t prob_stride, int group, int visible, GroupReduce reduce,
                   const StatTargets& t, float* red) {
  if (reduce == GroupReduce::PerHead) {
    for (int hq = 0; hq < group; ++hq) {
      const float* ph = probs + static_cast<size_t>(hq) * prob_stride;
      const size_t r = static_cast<size_t>(hq) * t.row_stride;
      add_into(t.acc ? t.acc + r : nullptr, ph, visible);
      add_into(t.win ? t.win + r : nullptr, ph, visible);
      set_last(t.last ? t.last + static_cast<size_t>(hq) * t.last_row_stride : nullptr, ph, visible,
               t.length);
    }
    return;
  }
  std::copy(probs, probs + visible, red);
  for (int hq = 1; hq < group; ++hq) {
    const float* ph = probs + static_cast<size_t>(hq) * prob_stride;
    for (int s = 0; s < visible; ++s) red[s] += ph[s];
  }
  if (reduce == GroupReduce::Mean) kernels::scale(red, 1.0f / static_cast<float>(group), visible);
  add_into(t.acc, red, visible);
  add_into(t.win, red, visible);
  set_last(t.last, red, visible, t.length);
}

}  // namespace vatp::model
