// The kernel driver's and the backward bench's random inputs: one seeded generator, uniform floats in [-1, 1), and
// random ggml blocks whose scale fields hold small finite values (random bytes there would give inf/NaN scales).
// Each program that includes this is one translation unit, so the definitions are static.
#pragma once
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "../src/dtype.h"
#include "../src/quants.h"
#include "../src/quants_iq.h"

static std::mt19937 gen(12345);
static float uni() { return std::uniform_real_distribution<float>(-1.f, 1.f)(gen); }
static int irand(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(gen); }

// random ggml blocks: random bytes with the fp16 scale fields set to small finite values
static std::vector<uint8_t> random_blocks(DType t, int nblocks) {
  const int bb = dtype_block_bytes(t);
  std::vector<uint8_t> b((size_t)nblocks * bb);
  for (auto& c : b) c = (uint8_t)irand(0, 255);
  for (int k = 0; k < nblocks; k++) {
    uint8_t* p = b.data() + (size_t)k * bb;
    auto put = [&](int off) {
      uint16_t h = f32_to_f16(uni() * 0.05f);
      std::memcpy(p + off, &h, 2);
    };
    if (t == DT_Q8_0 || t == DT_Q4_0 || t == DT_Q5_0 || t == DT_IQ4_NL || t == DT_IQ4_XS) put(0);
    if (t == DT_Q4_K || t == DT_Q5_K || t == DT_Q4_1 || t == DT_Q5_1) put(0), put(2);
    if (t == DT_Q6_K) put(208);
    if (t == DT_Q2_K) put(80), put(82);
    if (t == DT_Q3_K) put(108);
    if (t == DT_TQ1_0) put(52);
    if (t == DT_TQ2_0) put(64);
    if (t == DT_MXFP4) p[0] = (uint8_t)irand(118, 128);  // E8M0 exponent: scales 2^-9 … 2^1
    if (dtype_iq_grid(t) && t != DT_IQ1_M) put(0);
    if (t == DT_IQ1_M) {  // the fp16 scale is spread over the top nibbles of the four u16 at byte 48
      uint16_t h = f32_to_f16(uni() * 0.05f), sc[4];
      std::memcpy(sc, p + 48, 8);
      for (int k = 0; k < 4; k++) sc[k] = (uint16_t)((sc[k] & 0x0fff) | (((h >> (4 * k)) & 0xf) << 12));
      std::memcpy(p + 48, sc, 8);
    }
  }
  return b;
}
