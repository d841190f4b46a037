// Repacked weights for the interleaved-row tiles (decode GEMV and prefill GEMM).
//
// Q4_0x16: 16 consecutive weight rows of one Q4_0 matrix interleaved block by block,
// so that one 64-byte load holds the same 4 quant bytes of all 16 rows and one
// vpdpbusd multiplies them by 4 broadcast activation bytes, with row r in int32 lane r.
// Per group (16 rows, nb = cols/32 blocks), 64-byte aligned, group_bytes apart:
//   qs  nb × 256 bytes: block b, quad j (0..3): bytes [64j + 4r, 64j + 4r + 4) are
//       qs[4j..4j+3] of row r's block b (low nibbles: elements 4j..4j+3; high
//       nibbles: elements 16+4j..16+4j+3, as in BlockQ4_0);
//   d   nb × 16 f16: d[16b + r] is row r's block-b scale.
// Rows past the last whole group are not packed; matmul reads them from the original.
//
// Q4_1x16: the same quant layout, then d (nb × 16 f16) and m (nb × 16 f16). Its tile
// reproduces vec_dot's float operations exactly (which are llama.cpp's: per block eight
// int32 lane sums of 4 products each, acc_l = fma(d_w·d_a, lane_l, acc_l), the min
// chain summs = fma(m_w, s_a, summs), then ((a0+a4)+(a2+a6)) + ((a1+a5)+(a3+a7)) +
// summs): with row r in lane r of eight accumulators instead of one. So it is bit-
// identical to vec_dot (and, two columns per pass, faster than the 4×4 tiles for
// prefill too).
//
// Q8_0x16: per block 8 × 64 bytes, quad l (elements 4l..4l+3) of row r at 64l + 4r,
// stored as w + 128 (unsigned, for vpdpbusd; the tile subtracts 128·Σa per quad), then
// d (nb × 16 f16). Its tile is likewise bit-identical to vec_dot_q8_0_q8_0.
//
// Tile semantics (the reference below; SIMD versions give bit-identical results):
//   out[c·out_stride + r] = Σ_b fma-accumulated (d_w[r,b]·d_a[c,b]) · isum[r,c,b],
//   isum = Σ_i q_w·q_a − 8·Σ_i q_a  (exact int32), accumulated in block order with
//   one fma per block: acc = fma(d_w·d_a, float(isum), acc).
// The per-(row, column) operation sequence does not depend on how many columns a tile
// covers, so results do not depend on the batch size or the thread count.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/matmul.h"

namespace vatp::kernels {

inline constexpr int64_t kPackRows = 16;  // rows per interleaved group
inline constexpr int kPackMaxCols = 8;    // activation columns per tile call

// True for the types with a packed layout: Q4_0, Q4_1, Q8_0.
bool has_packed_layout(DType type);
// For those types: bytes of one 16-row group of `cols` columns (a multiple of 32), bytes
// of w's whole groups (floor(rows/16); the tail rows stay in the file's layout), and
// packing groups [g0, g1) of w into dst (64-byte aligned, packed_bytes(w) bytes; ranges
// of groups can be packed in parallel).
size_t packed_group_bytes(DType type, int64_t cols);
size_t packed_bytes(const WeightView& w);  // floor(rows/16) groups
void pack_groups(const WeightView& w, uint8_t* dst, int64_t g0, int64_t g1);

// PackedTileKernel (kernel_table.h) for Q4_0x16: one group × nc activation columns
// (1 ≤ nc ≤ kPackMaxCols); act column c is a Q8_0 row at act + c·act_stride;
// bsums[c·bsums_stride + b] = Σ of its block b's quants; out[c·out_stride + r], r < 16.
namespace ref {
void tile_q4_0x16(int64_t nb, const uint8_t* group, const void* act, size_t act_stride, const int32_t* bsums,
                  size_t bsums_stride, int nc, float* out, size_t out_stride);
// Q8_0x16 × Q8_0 columns (bsums unused).
void tile_q8_0x16(int64_t nb, const uint8_t* group, const void* act, size_t act_stride, const int32_t* bsums,
                  size_t bsums_stride, int nc, float* out, size_t out_stride);
// Q4_1x16 × Q8_1 columns (bsums unused).
void tile_q4_1x16(int64_t nb, const uint8_t* group, const void* act, size_t act_stride, const int32_t* bsums,
                  size_t bsums_stride, int nc, float* out, size_t out_stride);
}  // namespace ref

}  // namespace vatp::kernels
