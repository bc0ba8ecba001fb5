// The kernels of kernels_isa.inc for the neon path, compiled with arm64 only; NEON is part of the arm64 baseline.
#define SOL_ISA_NEON 1
#include "kernels_isa.inc"

const KernelTable* kernel_table_neon() { return &isa_table; }
