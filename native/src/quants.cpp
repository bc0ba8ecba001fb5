// ggml's block types (layouts in quants.h): sizes, names and the dispatch of their decoding (kernels_isa.inc); the
// quantisers of GGUF export are in quantise.cpp.
#include "quants.h"

#include <cmath>
#include <cstring>

#include "kernel_paths.h"
#include "quants_iq.h"

namespace {
const int QK = 32, QK_K = 256;

// the one table of stored types: name (as GGUF and the binding spell it), weights per block, bytes per block
struct TypeInfo {
  DType t;
  const char* name;
  int elems, bytes;
};
const TypeInfo TYPES[] = {
    {DT_F32, "F32", 1, 4},          {DT_F16, "F16", 1, 2},          {DT_BF16, "BF16", 1, 2},
    {DT_Q8_0, "Q8_0", QK, 34},      {DT_Q4_0, "Q4_0", QK, 18},      {DT_Q4_K, "Q4_K", QK_K, 144},
    {DT_Q5_K, "Q5_K", QK_K, 176},   {DT_Q6_K, "Q6_K", QK_K, 210},   {DT_Q4_1, "Q4_1", QK, 20},
    {DT_Q5_0, "Q5_0", QK, 22},      {DT_Q5_1, "Q5_1", QK, 24},      {DT_Q2_K, "Q2_K", QK_K, 84},
    {DT_Q3_K, "Q3_K", QK_K, 110},   {DT_IQ4_NL, "IQ4_NL", QK, 18},  {DT_IQ4_XS, "IQ4_XS", QK_K, 136},
    {DT_MXFP4, "MXFP4", QK, 17},    {DT_TQ1_0, "TQ1_0", QK_K, 54},  {DT_TQ2_0, "TQ2_0", QK_K, 66},
    // the IQ grid types (quants_iq.h decodes them)
    {DT_IQ3_S, "IQ3_S", QK_K, 110}, {DT_IQ3_XXS, "IQ3_XXS", QK_K, 98}, {DT_IQ2_XXS, "IQ2_XXS", QK_K, 66},
    {DT_IQ2_XS, "IQ2_XS", QK_K, 74}, {DT_IQ2_S, "IQ2_S", QK_K, 82},    {DT_IQ1_S, "IQ1_S", QK_K, 50},
    {DT_IQ1_M, "IQ1_M", QK_K, 56},
};
const TypeInfo* info(DType t) {
  for (const TypeInfo& i : TYPES)
    if (i.t == t) return &i;
  return nullptr;
}
}  // namespace

int dtype_block_elems(DType t) {
  const TypeInfo* i = info(t);
  return i ? i->elems : 1;
}

int dtype_block_bytes(DType t) {
  const TypeInfo* i = info(t);
  return i ? i->bytes : 0;
}

const char* dtype_name(DType t) {
  const TypeInfo* i = info(t);
  return i ? i->name : "?";
}

bool dtype_from_name(const std::string& name, DType* t) {
  for (const TypeInfo& i : TYPES)
    if (name == i.name) {
      *t = i.t;
      return true;
    }
  return false;
}

std::string dtype_names() {
  std::string s;
  for (const TypeInfo& i : TYPES) s += (s.empty() ? "" : ", ") + std::string(i.name);
  return s;
}

// the decoding itself is a kernel (kernels_isa.inc), compiled per instruction set
void dequantise_blocks(DType t, const void* blocks, int64_t nblocks, float* out) {
  kern()->dequantise_blocks(t, (const uint8_t*)blocks, nblocks, out);
}
