// ggml's block types (layouts in quants.h): sizes, names, the dispatch of their decoding (kernels_isa.inc) and the
// Q8_0 quantiser used when exporting to GGUF.
#include "quants.h"

#include <cmath>
#include <cstring>

#include "kernel_paths.h"
#include "quants_iq.h"

namespace {
const int QK = 32, QK_K = 256;
}  // namespace

int dtype_block_elems(DType t) {
  if (dtype_iq_grid(t)) return QK_K;
  switch (t) {
    case DT_Q8_0:
    case DT_Q4_0: return QK;
    case DT_Q4_K:
    case DT_Q5_K:
    case DT_Q6_K: return QK_K;
    default: return 1;
  }
}

int dtype_block_bytes(DType t) {
  if (dtype_iq_grid(t)) return iq_block_bytes(t);
  switch (t) {
    case DT_F32: return 4;
    case DT_F16:
    case DT_BF16: return 2;
    case DT_Q8_0: return 34;
    case DT_Q4_0: return 18;
    case DT_Q4_K: return 144;
    case DT_Q5_K: return 176;
    case DT_Q6_K: return 210;
    default: break;
  }
  return 0;
}

const char* dtype_name(DType t) {
  if (dtype_iq_grid(t)) return iq_name(t);
  static const char* n[] = {"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_K", "Q5_K", "Q6_K"};
  return (int)t >= 0 && (int)t < 8 ? n[t] : "?";
}

// the decoding itself is a kernel (kernels_isa.inc), compiled per instruction set
void dequantise_blocks(DType t, const void* blocks, int64_t nblocks, float* out) {
  kern()->dequantise_blocks(t, (const uint8_t*)blocks, nblocks, out);
}

void quantise_row_q8_0(const float* x, void* out, int64_t n) {
  uint8_t* b = (uint8_t*)out;
  for (int64_t i = 0; i < n / QK; i++, x += QK, b += 34) {
    float amax = 0;
    for (int j = 0; j < QK; j++) amax = std::fmax(amax, std::fabs(x[j]));
    const float d = amax / 127.f;
    const float id = d != 0.f ? 1.f / d : 0.f;
    uint16_t h = f32_to_f16(d);
    std::memcpy(b, &h, 2);
    for (int j = 0; j < QK; j++) ((int8_t*)(b + 2))[j] = (int8_t)std::roundf(x[j] * id);
  }
}
