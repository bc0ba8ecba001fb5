// ggml's importance-matrix "grid" types (ggml-common.h): each group of 8 (or 4) weights is an index into a fixed
// table of 8-byte (or 4-byte) points — the grids — with separate sign bits and small per-32 scales. A block holds 256
// weights. Layouts (little-endian, fields in file order):
//   IQ2_XXS  66 bytes: half d; u16 qs[32]. Per 32 weights two u32 words a, b: bytes of a = 4 indices into
//            iq2xxs_grid[256]; b = 4 × 7 sign bits, top 4 bits the scale s.  x = d·(0.5+s)/4 · grid · ±1
//   IQ2_XS   74 bytes: half d; u16 qs[32] (9-bit index into iq2xs_grid[512] | 7 sign bits << 9); u8 scales[8]
//            (two 4-bit scales per 32: first and second 16 weights)
//   IQ2_S    82 bytes: half d; u8 qs[32] (index low 8 bits); u8 signs[32]; u8 qh[8] (index bits 8‥9, 2 per group);
//            u8 scales[8] — 10-bit indices into iq2s_grid[1024], 8 explicit sign bits per group
//   IQ3_XXS  98 bytes: half d; u8 qs[64] (indices into iq3xxs_grid[256], 4 weights each); u32 w[8] (4 × 7 sign
//            bits, top 4 bits the scale s).  x = d·(0.5+s)/2 · grid · ±1
//   IQ3_S   110 bytes: half d; u8 qs[64]; u8 qh[8] (index bit 8); u8 signs[32]; u8 scales[4] (4 bits per 32)
//            9-bit indices into iq3s_grid[512].  x = d·(1+2s) · grid · ±1
//   IQ1_S    50 bytes: half d; u8 qs[32]; u16 qh[8]: per 32, 4 × 3 high index bits, 3-bit scale s, delta sign
//            11-bit indices into iq1s_grid[2048] (points of −1/0/1).  x = d·(2s+1) · (grid ± 1/8)
//   IQ1_M    56 bytes: u8 qs[32]; u8 qh[16] (3 high index bits and a delta sign per 8); u8 scales[8]: four u16
//            holding 3-bit scales per 16 weights, the block's fp16 d split over their top nibbles
// Every bit pattern is a block: an index of b bits reads a table of exactly 2^b entries, so no index is out of range;
// d is any fp16 (NaN and ±inf included), so weights are computed as ggml computes them, NaN or inf propagating.
#pragma once
#include <cstdint>

#include "dtype.h"

static inline bool dtype_iq_grid(DType t) { return t >= DT_IQ3_S && t <= DT_IQ1_M; }

// The grids, as ggml-common.h defines them (quants_iq.cpp): each entry packs 8 (uint64) or 4 (uint32) one-byte
// values, the first value in the lowest byte. iq2*: bytes 8, 25, 43; iq3xxs: 4, 12, …, 52, 62; iq3s: odd 1‥15; iq1s:
// int8 −1, 0, 1. The decoding of a block (ggml's dequantize_row_iq*, bit for bit) is a kernel, compiled per
// instruction set (kernels_isa.inc: dequantise_blocks).
namespace iq_grids {
extern const uint64_t iq2xxs_grid[256];
extern const uint64_t iq2xs_grid[512];
extern const uint64_t iq2s_grid[1024];
extern const uint32_t iq3xxs_grid[256];
extern const uint32_t iq3s_grid[512];
extern const uint64_t iq1s_grid[2048];
}  // namespace iq_grids
