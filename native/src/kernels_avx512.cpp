// The kernels of kernels_isa.inc for the avx512 path, compiled with -mavx2 -mfma -mf16c -mavx512f -mavx512bw -mavx512vl (binding.gyp: target kernels_avx512).
#define SOL_ISA_AVX512 1
#include "kernels_isa.inc"

const KernelTable* kernel_table_avx512() { return &isa_table; }
