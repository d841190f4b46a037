#include "kernels/packed.h"

#include <cmath>
#include <cstring>

#include "core/check.h"
#include "core/fp16.h"
#include "kernels/quant.h"

namespace vatp::kernels {

namespace {

// Bytes per block of 16 rows: quants (qbytes) + 16 f16 scales (+ 16 f16 mins).
size_t group_bytes(int64_t cols, size_t block_bytes) {
  const auto nb = static_cast<size_t>(cols / QK);
  return (nb * block_bytes + 63) / 64 * 64;
}

// The loop every layout shares: for groups [g0, g1), each of the 16 rows' blocks b is
// handed to put(group base, row r, block b, block) to scatter into place; the padding
// after the group's `used` bytes is zeroed.
template <typename Block, typename Put>
void pack_rows(const WeightView& w, DType type, uint8_t* dst, int64_t g0, int64_t g1, size_t block_bytes,
               Put put) {
  VATP_CHECK(w.type == type && w.cols % QK == 0 && 0 <= g0 && g1 <= w.rows / kPackRows);
  const int64_t nb = w.cols / QK;
  const size_t gb = group_bytes(w.cols, block_bytes), used = static_cast<size_t>(nb) * block_bytes;
  const auto* src = static_cast<const uint8_t*>(w.data);
  for (int64_t g = g0; g < g1; ++g) {
    uint8_t* group = dst + static_cast<size_t>(g) * gb;
    for (int64_t r = 0; r < kPackRows; ++r) {
      const auto* row =
          reinterpret_cast<const Block*>(src + static_cast<size_t>(g * kPackRows + r) * w.row_bytes);
      for (int64_t b = 0; b < nb; ++b) put(group, nb, r, b, row[b]);
    }
    std::memset(group + used, 0, gb - used);
  }
}

// Q4_0 and Q4_1 quants: quad j of the 16 nibble bytes at 64j + 4r of the block's 256.
template <typename Block>
void put_nibbles(uint8_t* group, int64_t r, int64_t b, const Block& x) {
  for (int j = 0; j < 4; ++j) std::memcpy(group + 256 * b + 64 * j + 4 * r, x.qs + 4 * j, 4);
}

size_t q4_0x16_group_bytes(int64_t cols) { return group_bytes(cols, 256 + 32); }
size_t q4_1x16_group_bytes(int64_t cols) { return group_bytes(cols, 256 + 64); }
size_t q8_0x16_group_bytes(int64_t cols) { return group_bytes(cols, 512 + 32); }

void pack_q4_0x16_groups(const WeightView& w, uint8_t* dst, int64_t g0, int64_t g1) {
  pack_rows<BlockQ4_0>(w, DType::Q4_0, dst, g0, g1, 256 + 32,
                       [](uint8_t* group, int64_t nb, int64_t r, int64_t b, const BlockQ4_0& x) {
                         std::memcpy(group + nb * 256 + (16 * b + r) * 2, &x.d, 2);
                         put_nibbles(group, r, b, x);
                       });
}

void pack_q4_1x16_groups(const WeightView& w, uint8_t* dst, int64_t g0, int64_t g1) {
  pack_rows<BlockQ4_1>(w, DType::Q4_1, dst, g0, g1, 256 + 64,
                       [](uint8_t* group, int64_t nb, int64_t r, int64_t b, const BlockQ4_1& x) {
                         std::memcpy(group + nb * 256 + (16 * b + r) * 2, &x.d, 2);
                         std::memcpy(group + nb * 288 + (16 * b + r) * 2, &x.m, 2);
                         put_nibbles(group, r, b, x);
                       });
}

void pack_q8_0x16_groups(const WeightView& w, uint8_t* dst, int64_t g0, int64_t g1) {
  pack_rows<BlockQ8_0>(w, DType::Q8_0, dst, g0, g1, 512 + 32,
                       [](uint8_t* group, int64_t nb, int64_t r, int64_t b, const BlockQ8_0& x) {
                         std::memcpy(group + nb * 512 + (16 * b + r) * 2, &x.d, 2);
                         for (int i = 0; i < QK; ++i) {  // stored + 128 (unsigned for vpdpbusd)
                           group[512 * b + 64 * (i / 4) + 4 * r + i % 4] =
                               static_cast<uint8_t>(static_cast<uint8_t>(x.qs[i]) ^ 0x80);
                         }
                       });
}

}  // namespace

bool has_packed_layout(DType type) {
  return type == DType::Q4_0 || type == DType::Q4_1 || type == DType::Q8_0;
}

size_t packed_group_bytes(DType type, int64_t cols) {
  switch (type) {
    case DType::Q4_0: return q4_0x16_group_bytes(cols);
    case DType::Q4_1: return q4_1x16_group_bytes(cols);
    case DType::Q8_0: return q8_0x16_group_bytes(cols);
    default: VATP_CHECK(false && "no packed layout for this type"); return 0;
  }
}

size_t packed_bytes(const WeightView& w) {
  return static_cast<size_t>(w.rows / kPackRows) * packed_group_bytes(w.type, w.cols);
}

void pack_groups(const WeightView& w, uint8_t* dst, int64_t g0, int64_t g1) {
  if (w.type == DType::Q4_0) {
    pack_q4_0x16_groups(w, dst, g0, g1);
  } else if (w.type == DType::Q4_1) {
    pack_q4_1x16_groups(w, dst, g0, g1);
  } else {
    pack_q8_0x16_groups(w, dst, g0, g1);
  }
}

namespace ref {

void tile_q4_0x16(int64_t nb, const uint8_t* group, const void* act, size_t act_stride, const int32_t* bsums,
                  size_t bsums_stride, int nc, float* out, size_t out_stride) {
  const uint8_t* qs = group;
  const uint8_t* d = group + static_cast<size_t>(nb) * 256;
  for (int c = 0; c < nc; ++c) {
    const auto* y = reinterpret_cast<const BlockQ8_0*>(static_cast<const uint8_t*>(act) + c * act_stride);
    float acc[kPackRows] = {};
    for (int64_t b = 0; b < nb; ++b) {
      const float da = fp16_to_f32(y[b].d);
      for (int r = 0; r < kPackRows; ++r) {
        int32_t s = -8 * bsums[c * bsums_stride + b];
        for (int j = 0; j < 4; ++j) {
          for (int e = 0; e < 4; ++e) {
            const uint8_t q = qs[256 * b + 64 * j + 4 * r + e];
            s += (q & 0x0F) * y[b].qs[4 * j + e] + (q >> 4) * y[b].qs[16 + 4 * j + e];
          }
        }
        uint16_t dw;
        std::memcpy(&dw, d + (16 * b + r) * 2, 2);
        const float dd = fp16_to_f32(dw) * da;
        acc[r] = std::fma(dd, static_cast<float>(s), acc[r]);
      }
    }
    std::memcpy(out + c * out_stride, acc, sizeof(acc));
  }
}

void tile_q4_1x16(int64_t nb, const uint8_t* group, const void* act, size_t act_stride, const int32_t*,
                  size_t, int nc, float* out, size_t out_stride) {
  const uint8_t* qs = group;
  const uint8_t* d = group + static_cast<size_t>(nb) * 256;
  const uint8_t* mn = d + static_cast<size_t>(nb) * 32;
  for (int c = 0; c < nc; ++c) {
    const auto* y = reinterpret_cast<const BlockQ8_1*>(static_cast<const uint8_t*>(act) + c * act_stride);
    for (int r = 0; r < kPackRows; ++r) {
      float acc[8] = {}, summs = 0.0f;
      for (int64_t b = 0; b < nb; ++b) {
        uint16_t dw, mw;
        std::memcpy(&dw, d + (16 * b + r) * 2, 2);
        std::memcpy(&mw, mn + (16 * b + r) * 2, 2);
        const float dd = fp16_to_f32(dw) * fp16_to_f32(y[b].d);
        for (int l = 0; l < 8; ++l) {  // lane l: quants 4(l%4)..+3 of the low (l < 4) or high nibbles
          int32_t s = 0;
          for (int e = 0; e < 4; ++e) {
            const uint8_t q = qs[256 * b + 64 * (l % 4) + 4 * r + e];
            s += (l < 4 ? q & 0x0F : q >> 4) * y[b].qs[4 * l + e];
          }
          acc[l] = std::fma(dd, static_cast<float>(s), acc[l]);
        }
        summs = std::fma(fp16_to_f32(mw), fp16_to_f32(y[b].s), summs);
      }
      out[c * out_stride + r] =
          ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7])) + summs;
    }
  }
}

void tile_q8_0x16(int64_t nb, const uint8_t* group, const void* act, size_t act_stride, const int32_t*,
                  size_t, int nc, float* out, size_t out_stride) {
  const uint8_t* qs = group;
  const uint8_t* d = group + static_cast<size_t>(nb) * 512;
  for (int c = 0; c < nc; ++c) {
    const auto* y = reinterpret_cast<const BlockQ8_0*>(static_cast<const uint8_t*>(act) + c * act_stride);
    for (int r = 0; r < kPackRows; ++r) {
      float acc[8] = {};
      for (int64_t b = 0; b < nb; ++b) {
        uint16_t dw;
        std::memcpy(&dw, d + (16 * b + r) * 2, 2);
        const float dd = fp16_to_f32(dw) * fp16_to_f32(y[b].d);
        for (int l = 0; l < 8; ++l) {
          int32_t s = 0;
          for (int e = 0; e < 4; ++e) s += (qs[512 * b + 64 * l + 4 * r + e] - 128) * y[b].qs[4 * l + e];
          acc[l] = std::fma(dd, static_cast<float>(s), acc[l]);
        }
      }
      out[c * out_stride + r] =
          ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
    }
  }
}

}  // namespace ref
}  // namespace vatp::kernels
