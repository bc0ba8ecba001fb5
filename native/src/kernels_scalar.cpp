// The kernels of kernels_isa.inc for the scalar path, compiled with no extra flags: the compiler's baseline (x86-64: SSE2; arm64: NEON). The reference path every other is tested against.
#define SOL_ISA_SCALAR 1
#include "kernels_isa.inc"

const KernelTable* kernel_table_scalar() { return &isa_table; }
