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
//   Q4_1  32 weights, 20 bytes:  half d, m; u8 qs[16] (nibbles as Q4_0)          x = d·q + m
//   Q5_0  32 weights, 22 bytes:  half d; u8 qh[4] (5th bit of weight j = bit j); u8 qs[16]   x = d·(q − 16)
//   Q5_1  32 weights, 24 bytes:  half d, m; u8 qh[4]; u8 qs[16]                 x = d·q + m
//   Q2_K 256 weights, 84 bytes:  u8 scales[16] (low nibble scale, high nibble min); u8 qs[64] (2-bit); half d, dmin
//                                 sub-block j of 16: x = d·sc_j·q − dmin·m_j
//   Q3_K 256 weights, 110 bytes: u8 hmask[32] (3rd bit, set = no −4); u8 qs[64] (low 2 bits); u8 scales[12]
//                                 (16 × 6-bit, offset 32); half d       sub-block j of 16: x = d·(sc_j − 32)·q
//   IQ4_NL 32 weights, 18 bytes: half d; u8 qs[16] (nibbles index a 16-entry table)  x = d·kvalues[q]
//   IQ4_XS 256 weights, 136 bytes: half d; u16 scales_h (2 high bits × 8); u8 scales_l[4] (low nibbles × 8);
//                                 u8 qs[128]          sub-block j of 32: x = d·(ls_j − 32)·kvalues[q]
//   MXFP4  32 weights, 17 bytes: u8 e (E8M0 exponent); u8 qs[16] (e2m1 nibbles)  x = 2^(e−128)·(2·e2m1[q])
//   TQ1_0 256 weights, 54 bytes: u8 qs[48] (5 ternary digits per byte, base-3 fixed point); u8 qh[4] (4 per byte);
//                                 half d          x = d·(t − 1), t ∈ {0, 1, 2}
//   TQ2_0 256 weights, 66 bytes: u8 qs[64] (2 bits each); half d                x = d·(q − 1)
#pragma once
#include <cstdint>
#include <string>

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
// the type a name spells (F32, Q4_K, IQ4_NL, …); false for any other name
bool dtype_from_name(const std::string& name, DType* t);
// every name, comma-separated, for refusals
std::string dtype_names();

// out[nblocks · block_elems] = the weights of `nblocks` consecutive blocks starting at `blocks`
void dequantise_blocks(DType t, const void* blocks, int64_t nblocks, float* out);

// The quantisers of GGUF export (quantise.cpp), each ggml's reference quantiser (quantize_row_*_ref): n weights,
// n a multiple of the type's block, into n / block_elems blocks at `out`.
void quantise_row_q8_0(const float* x, void* out, int64_t n);
void quantise_row_q4_0(const float* x, void* out, int64_t n);
void quantise_row_q5_0(const float* x, void* out, int64_t n);
void quantise_row_q4_K(const float* x, void* out, int64_t n);
void quantise_row_q6_K(const float* x, void* out, int64_t n);
void quantise_row_q5_1(const float* x, void* out, int64_t n);
void quantise_row_q3_K(const float* x, void* out, int64_t n);
void quantise_row_q5_K(const float* x, void* out, int64_t n);
// the one above for `t` (Q8_0, Q4_0, Q5_0, Q5_1, Q3_K, Q4_K, Q5_K, Q6_K); any other type throws, naming it
void quantise_row(DType t, const float* x, void* out, int64_t n);
// the types an export can write: F32, F16, BF16 and the eight above
bool dtype_writable(DType t);
