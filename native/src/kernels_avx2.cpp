// The kernels of kernels_isa.inc for the avx2 path, compiled with -mavx2 -mfma -mf16c (binding.gyp: target kernels_avx2).
#define SOL_ISA_AVX2 1
#include "kernels_isa.inc"

const KernelTable* kernel_table_avx2() { return &isa_table; }
