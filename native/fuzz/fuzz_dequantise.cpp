// Every ggml block type's decoding and products on crafted blocks (quants.h, quants_iq.h). Every bit pattern is a
// block — packed quants of every width, indices of b bits into grids of exactly 2^b points, any fp16 scale (NaN and
// ±inf included), any E8M0 exponent — so any input must decode in bounds on every kernel path this CPU runs and
// multiply without a fault; the types llama.cpp's quantiser mixes in (Q4_1 on) decode bit-equal to the scalar path
// (NaN equal to NaN). A mismatch aborts (a finding). Input layout:
//   u8 type (mod 22, in TYPES' order: the IQ grid types first, as the corpus began with them), u8 rows (1‥8), then
//   the blocks (whole blocks only, the rest ignored)
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "../src/kernel_paths.h"
#include "../src/kernels.h"
#include "../src/quants.h"
#include "../src/quants_iq.h"
#include "fuzz_common.h"

static const DType TYPES[] = {DT_IQ3_S, DT_IQ3_XXS, DT_IQ2_XXS, DT_IQ2_XS, DT_IQ2_S,  DT_IQ1_S,  DT_IQ1_M, DT_Q8_0,
                              DT_Q4_0,  DT_Q4_K,    DT_Q5_K,    DT_Q6_K,   DT_Q4_1,   DT_Q5_0,   DT_Q5_1,  DT_Q2_K,
                              DT_Q3_K,  DT_IQ4_NL,  DT_IQ4_XS,  DT_MXFP4,  DT_TQ1_0,  DT_TQ2_0};
static_assert(sizeof(TYPES) / sizeof(TYPES[0]) == DT_IQ1_M - DT_Q8_0 + 1, "every block type");

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  threads_init(1);
  Reader r{data, size};
  const DType t = TYPES[r.get<uint8_t>() % (sizeof(TYPES) / sizeof(TYPES[0]))];
  // the first types' vector decoders round as their products always did (within the products' tolerances, not bit
  // for bit); from Q4_1 on, and the IQ grid types, every path gives the scalar path's bits
  const bool must_equal = t >= DT_Q4_1;
  const int rows = 1 + r.get<uint8_t>() % 8;
  const int64_t bb = dtype_block_bytes(t);
  int64_t nb = (int64_t)r.left() / bb;
  nb -= nb % rows;
  if (nb == 0) return 0;
  // the blocks in an allocation of exactly their size, so ASan sees any read past the last one
  const std::vector<uint8_t> blocks(r.p, r.p + nb * bb);
  const int64_t n = nb * dtype_block_elems(t);
  std::vector<float> scalar(n), got(n);
  kernel_table_scalar()->dequantise_blocks(t, blocks.data(), nb, scalar.data());
  Mat W;
  W.data = blocks.data(), W.dtype = t, W.rows = rows, W.cols = (int)(n / rows);
  std::vector<float> x(W.cols, 0.25f), y(rows), dy(rows, 0.5f), dx(W.cols, 0.f);
  for (const std::string& path : kernel_paths_available()) {
    kernels_set(path);
    dequantise_blocks(t, blocks.data(), nb, got.data());
    for (int64_t i = 0; i < n && must_equal; i++)
      if (std::memcmp(&got[i], &scalar[i], 4) != 0 && !(std::isnan(got[i]) && std::isnan(scalar[i]))) {
        std::fprintf(stderr, "%s %s weight %lld: %g, scalar path %g\n", path.c_str(), dtype_name(t), (long long)i,
                     got[i], scalar[i]);
        std::abort();
      }
    matmul_wt(y.data(), x.data(), 1, W);
    matmul_w_acc(dx.data(), dy.data(), 1, W, 1.f);
  }
  kernels_set("");
  return 0;
}
