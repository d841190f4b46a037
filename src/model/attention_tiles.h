// The inner loops of attention over a tile of cache slots, in two builds of the same
// C++ source (attention_tiles.inc): generic, and AVX2+FMA (attention_tiles_avx2.cc)
// where the compiler vectorizes the loops over the slots of a tile and over head_dim.
// The AVX2 build's exp is the kernels' polynomial exp (≤ 2e-6 relative), like
// llama.cpp's vector exp in softmax (specs/gguf.md §3.6).
#pragma once

#include <cstddef>

#include "kernels/kernel_table.h"
#include "kvcache/kv_cache.h"

namespace vatp::model {

constexpr int kSlotTile = 32;  // slots per tile; the scores kernel's vector width × 4

struct TileKernels {
  // s[r·s_stride + t] = scale · Σ_e q[r·hd + e] · kT[e·kSlotTile + t] for r < nq,
  // t < kSlotTile. kT: one tile of keys, transposed ([hd][kSlotTile], zero-padded).
  void (*scores)(const float* q, int nq, int hd, const float* kT, float scale, float* s, size_t s_stride);
  // o[r·hd + e] += Σ_{t<nt} p[r·p_stride + t] · v[t·hd + e] for r < nq.
  void (*pv)(const float* p, size_t p_stride, int nq, const float* v, int nt, int hd, float* o);
  // x[i] = exp(x[i] − mx) (−inf → 0) for i < n; returns Σ x[i] summed in double.
  double (*exp_sum)(float* x, int n, float mx);
};

// The AVX2 build when the kernel table is AVX2 or better, else the generic one.
const TileKernels& tile_kernels(kernels::Isa isa);

class AttentionScratch;
// Rows [t0, t0 + nt) of one head's K or V storage (`base`) as f32 rows of head_dim:
// a pointer into the cache for f32, else converted into tmp (nt × head_dim floats).
// For keys (spos != nullptr) with key rerotation on, each row is rotated at its
// slot's position spos[t] (into tmp); masked slots (position ≥ the table) stay as they are.
const float* cache_rows_f32(const kernels::KernelTable& kt, const kvcache::KvCache& cache,
                            const uint8_t* base, int t0, int nt, const int32_t* spos,
                            const AttentionScratch& scratch, float* tmp);

}  // namespace vatp::model
