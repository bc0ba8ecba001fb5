// The IQ grid types' decoding and products on crafted blocks (quants_iq.h). Every bit pattern is a block — indices
// of b bits into grids of exactly 2^b points, any fp16 scale (NaN and ±inf included) — so any input must decode in
// bounds on every kernel path this CPU runs, bit-equal to the scalar path (NaN equal to NaN), and multiply without a
// fault. A mismatch aborts (a finding). Input layout:
//   u8 type (mod 7, from DT_IQ3_S in enum order), u8 rows (1‥8), then the blocks (whole blocks only, the rest ignored)
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

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  threads_init(1);
  Reader r{data, size};
  const DType t = (DType)(DT_IQ3_S + r.get<uint8_t>() % (DT_IQ1_M - DT_IQ3_S + 1));
  const int rows = 1 + r.get<uint8_t>() % 8;
  const int64_t bb = dtype_block_bytes(t);
  int64_t nb = (int64_t)r.left() / bb;
  nb -= nb % rows;
  if (nb == 0) return 0;
  // the blocks in an allocation of exactly their size, so ASan sees any read past the last one
  const std::vector<uint8_t> blocks(r.p, r.p + nb * bb);
  const int64_t n = nb * 256;
  std::vector<float> scalar(n), got(n);
  kernel_table_scalar()->dequantise_blocks(t, blocks.data(), nb, scalar.data());
  Mat W;
  W.data = blocks.data(), W.dtype = t, W.rows = rows, W.cols = (int)(n / rows);
  std::vector<float> x(W.cols, 0.25f), y(rows), dy(rows, 0.5f), dx(W.cols, 0.f);
  for (const std::string& path : kernel_paths_available()) {
    kernels_set(path);
    dequantise_blocks(t, blocks.data(), nb, got.data());
    for (int64_t i = 0; i < n; i++)
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
