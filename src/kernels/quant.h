// Quantized block layouts (specs/gguf.md §3.1) and the reference weight quantizers.
//
// Blocks are packed without padding and sit at arbitrary byte offsets inside a GGUF
// mapping, so every struct here is `packed` (alignment 1): member reads compile to
// unaligned loads and a pointer to any byte may be viewed as a block.
// All `d`/`m`/`dmin`/`s` fields are IEEE binary16 bits (little-endian), except
// BlockQ8_K::d which is f32.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/dtype.h"

namespace vatp::kernels {

inline constexpr int QK = 32;     // elements per block of the 32-element types
inline constexpr int QK_K = 256;  // elements per K-quant super-block

#define VATP_PACKED __attribute__((packed))

struct VATP_PACKED BlockQ4_0 {
  uint16_t d;
  uint8_t qs[QK / 2];  // element j in the low nibble of qs[j], j+16 in the high nibble
};
struct VATP_PACKED BlockQ4_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qs[QK / 2];
};
struct VATP_PACKED BlockQ5_0 {
  uint16_t d;
  uint8_t qh[4];  // u32 LE: bit j = 5th bit of element j
  uint8_t qs[QK / 2];
};
struct VATP_PACKED BlockQ5_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qh[4];
  uint8_t qs[QK / 2];
};
struct VATP_PACKED BlockQ8_0 {
  uint16_t d;
  int8_t qs[QK];
};
struct VATP_PACKED BlockQ8_1 {  // activations only
  uint16_t d;
  uint16_t s;  // f16(d * sum(qs)) with the unrounded float d
  int8_t qs[QK];
};
struct VATP_PACKED BlockQ2_K {
  uint8_t scales[QK_K / 16];  // low nibble scale, high nibble min
  uint8_t qs[QK_K / 4];
  uint16_t d;
  uint16_t dmin;
};
struct VATP_PACKED BlockQ3_K {
  uint8_t hmask[QK_K / 8];
  uint8_t qs[QK_K / 4];
  uint8_t scales[12];  // 16 x 6-bit, packed
  uint16_t d;
};
struct VATP_PACKED BlockQ4_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];  // 8 scales + 8 mins, 6 bits each (get_scale_min_k4 packing)
  uint8_t qs[QK_K / 2];
};
struct VATP_PACKED BlockQ5_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qh[QK_K / 8];
  uint8_t qs[QK_K / 2];
};
struct VATP_PACKED BlockQ6_K {
  uint8_t ql[QK_K / 2];
  uint8_t qh[QK_K / 4];
  int8_t scales[QK_K / 16];
  uint16_t d;
};
struct VATP_PACKED BlockQ8_K {  // activations only
  float d;                      // f32, may be negative
  int8_t qs[QK_K];
  int16_t bsums[QK_K / 16];  // sum of each 16 consecutive qs
};

#undef VATP_PACKED

static_assert(sizeof(BlockQ4_0) == 18);
static_assert(sizeof(BlockQ4_1) == 20);
static_assert(sizeof(BlockQ5_0) == 22);
static_assert(sizeof(BlockQ5_1) == 24);
static_assert(sizeof(BlockQ8_0) == 34);
static_assert(sizeof(BlockQ8_1) == 36);
static_assert(sizeof(BlockQ2_K) == 84);
static_assert(sizeof(BlockQ3_K) == 110);
static_assert(sizeof(BlockQ4_K) == 144);
static_assert(sizeof(BlockQ5_K) == 176);
static_assert(sizeof(BlockQ6_K) == 210);
static_assert(sizeof(BlockQ8_K) == 292);

// Unpacks scale/min j (0..7) of a Q4_K/Q5_K block's 12 scale bytes (§3.2).
inline void get_scale_min_k4(int j, const uint8_t* s, uint8_t* scale, uint8_t* min) {
  if (j < 4) {
    *scale = s[j] & 63;
    *min = s[j + 4] & 63;
  } else {
    *scale = static_cast<uint8_t>((s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4));
    *min = static_cast<uint8_t>((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
  }
}

// True for the types quantize_row_ref accepts: F32, F16, BF16, Q4_0, Q4_1, Q5_0,
// Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K (weights) and Q8_0, Q8_1, Q8_K (activations).
bool can_quantize(DType type);

// Reference quantizer: src (n floats) -> dst (row_bytes(type, n) bytes). n must be a
// multiple of the block size. Simple round-to-nearest with a per-block scale (and
// min) chosen from the block's range, not ggml's searched optimum; activation types
// use the exact llama.cpp activation quantizers (x86 Q8_0/Q8_1 rounding, Q8_K ref).
// Used by tests and by `vatp synth`. VATP_CHECKs can_quantize(type).
void quantize_row_ref(DType type, const float* src, void* dst, int64_t n);

// Reference dequantizer for every type above (plus Q8_K): src -> dst (n floats).
void dequant_row_ref(DType type, const void* src, float* dst, int64_t n);

}  // namespace vatp::kernels
