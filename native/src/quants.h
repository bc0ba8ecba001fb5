// ggml's block-quantised weight types, as llama.cpp stores them in GGUF files (ggml-common.h). A row of a tensor is
// a whole number of blocks; each block holds its own scale(s) and packed integers. Kernels never expand a whole
// matrix: they dequantise one row (or one span of blocks) at a time into a small fp32 buffer.
//   Q8_0  32 weights, 34 bytes:  half d; int8 qs[32]                            x = d·q
//   Q4_0  32 weights, 18 bytes:  half d; u8 qs[16] (low nibbles: 0‥15, high: 16‥31)   x = d·(q − 8)
//   Q4_K 256 weights, 144 bytes: half d, dmin; u8 scales[12] (8 × 6-bit scale, 6-bit min); u8 qs[128]
//                                 sub-block j of 32: x = d·sc_j·q − dmin·m_j
//   Q5_K 256 weights, 176 bytes: half d, dmin; u8 scales[12]; u8 qh[32] (5th bits); u8 qs[128]
//   Q6_K 256 weights, 210 bytes: u8 ql[128] (low 4 bits); u8 qh[64] (high 2 bits); int8 scales[16]; half d
//                                 sub-block j of 16: x = d·scales_j·(q − 32)
#pragma once
#include <cstdint>

#include "dtype.h"

// weights per block and bytes per block of a stored type (1 and the element size for F32/F16/BF16)
int dtype_block_elems(DType t);
int dtype_block_bytes(DType t);
static inline bool dtype_quantised(DType t) { return t >= DT_Q8_0; }
// bytes of n consecutive weights (n a multiple of the block size)
static inline uint64_t dtype_row_bytes(DType t, int64_t n) {
  return (uint64_t)(n / dtype_block_elems(t)) * (uint64_t)dtype_block_bytes(t);
}
const char* dtype_name(DType t);

// out[nblocks · block_elems] = the weights of `nblocks` consecutive blocks starting at `blocks`
void dequantise_blocks(DType t, const void* blocks, int64_t nblocks, float* out);

// Q8_0 with ggml's reference rounding (quantize_row_q8_0_ref): d = max|x|/127, q = round(x/d). n % 32 == 0.
void quantise_row_q8_0(const float* x, void* out, int64_t n);
