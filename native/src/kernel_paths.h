// Runtime dispatch of the hot kernels. The same source (kernels_isa.inc) is compiled once per instruction set —
// kernels_scalar.cpp (the compiler's baseline: SSE2 on x86-64, NEON on arm64 — the reference path),
// kernels_avx2.cpp (-mavx2 -mfma -mf16c), kernels_avx512.cpp (-mavx512f/bw/vl), kernels_neon.cpp (arm64) — and
// each build fills one KernelTable. At load the best table the CPU can run is chosen (cpuid + xgetbv on x86, so an
// addon built on a new machine runs on an old one); SOLILOQUY_KERNELS=scalar|avx2|avx512|neon forces a path and is
// refused, in words, when this CPU cannot run it.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "dtype.h"

// Every function reads weights in their stored type and accumulates in fp32.
struct KernelTable {
  const char* name;  // "scalar", "avx2", "avx512", "neon"
  // Σ x[i]·w[i], i < n, with w stored as F32 / F16 / BF16
  float (*dot_f32)(const float* x, const float* w, int n);
  float (*dot_f16)(const float* x, const uint16_t* w, int n);
  float (*dot_bf16)(const float* x, const uint16_t* w, int n);
  // out[n] = the n stored values as fp32
  void (*f16_to_f32_row)(float* out, const uint16_t* p, int n);
  void (*bf16_to_f32_row)(float* out, const uint16_t* p, int n);
  // out[r] = x[r·ldx : r·ldx + n] · w[0 : n] for r < nr ≤ 4; w one stored row of an element type (F32/F16/BF16)
  void (*dot4)(const float* x, int64_t ldx, int nr, const void* w, DType t, int n, float* out);
  // out[r] = x_r · w0 and out[4 + r] = x_r · w1 for r < 4: two weight rows against 4 input rows
  void (*dot2x4)(const float* x, int64_t ldx, const void* w0, const void* w1, DType t, int n, float* out);
  // out[8·k + r] = xr[r] · w_k for r < nr ≤ dot3xn_max_rows, k < 3: three weight rows against several input rows (a
  // sweep's columns, a phrase's tokens) — up to 8 on avx512 and neon, 4 on avx2; null on scalar (dot2x4 does it).
  void (*dot3xn)(const float* const* xr, int nr, const void* w0, const void* w1, const void* w2, DType t, int n,
                 float* out);
  int dot3xn_max_rows;
  // the same over columns [c0, c1) only, the accumulators carried between calls in acc [3][8][path's vector width]:
  // flags DOT_FIRST (1) starts them from zero instead of acc, DOT_LAST (2) ends the product — c1 … n is the scalar
  // tail, out written as by dot3xn — otherwise they are stored back in acc. Cutting a product into column spans (each
  // a multiple of the vector width but the last) gives dot3xn's results bit for bit. Prefetches the bytes at the
  // same offsets from pf, pf + pf_stride and pf + 2·pf_stride as it reads its weight spans (none when pf is null).
  void (*dot3xn_span)(const float* const* xr, int nr, const void* w0, const void* w1, const void* w2, DType t, int c0,
                      int c1, int n, float* acc, int flags, const char* pf, int64_t pf_stride, float* out);
  // dot3xn_span with an fp32 panel of the three rows' columns [c0, c1) … n (F16 / BF16 rows): fill — read the stored
  // rows (element type t) and write each converted chunk to the panel on the way, for the next row groups; otherwise
  // read the panel instead of w0 … w2 (but for the scalar tail past the last whole vector). Column i of row k is at
  // pp[3·(i − i mod 16) + 16·k + i mod 16] (pp = the panel − 3·c0, c0 a multiple of 16; the panel 64-byte aligned).
  // The same sums in the same order as dot3xn_span: same bits.
  void (*dot3xn_span_panel)(const float* const* xr, int nr, const void* w0, const void* w1, const void* w2, DType t,
                            int c0, int c1, int n, float* acc, int flags, const char* pf, int64_t pf_stride, float* out,
                            float* pp, bool fill);
  // d[i] += a0·w0[i] + a1·w1[i] + a2·w2[i] + a3·w3[i], i < n (fp32 rows)
  void (*axpy4)(float* d, const float* w0, const float* w1, const float* w2, const float* w3, float a0, float a1,
                float a2, float a3, int n);
  // d[k][0:64] += Σ_{o < no} a[k][o] · w[o][0:64] for k < nr ≤ axpyn_max_rows, w an fp32 panel [no][64]: a register
  // tile of the backward product dx += dy·W; prefetches pf + o·pf_stride at row o when pf is not null. Up to 6 rows
  // on avx512 and neon, 4 on avx2; null on scalar (axpy4 does the work).
  void (*axpyn_x64)(float* const* d, const float* const* a, int nr, const float* w, int no, const char* pf,
                    int64_t pf_stride);
  // the same, reading the run as stored (rows src + o·rb of an element type t) and writing it to w as fp32 on the way,
  // for the next row groups: the first group of a run packs the panel in its own pass
  void (*axpyn_x64_pack)(float* const* d, const float* const* a, int nr, float* w, const void* src, int64_t rb, DType t,
                         int no, const char* pf, int64_t pf_stride);
  int axpyn_max_rows;
  // out[nblocks · block_elems] = dequantised ggml blocks (quants.h layouts) of a block-quantised type
  void (*dequantise_blocks)(DType t, const uint8_t* blocks, int64_t nblocks, float* out);
  // out[r] = x_r · row for r < nr ≤ 4, the row `nblocks` blocks of a block-quantised type read in place (the fused
  // product of one generated column or a few); xs16[r][k] = Σ x_r[16·k : 16·k + 16], read for the types whose
  // sub-blocks have offsets (Q4_K, Q5_K, Q2_K, Q4_1, Q5_1). Prefetches `pf` bytes ahead of each block when pf ≠ 0.
  // Fused for every block type (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K‥Q6_K, IQ4_NL, IQ4_XS, MXFP4, the IQ grid types,
  // TQ1_0, TQ2_0); returns false, writing nothing, for any other type (the caller then dequantises rows).
  bool (*dot_blocks)(DType t, const uint8_t* row, int nblocks, const float* const* xr, const float* const* xs16, int nr,
                     int64_t pf, float* out);
  // measurement kernels (roofline.cpp): Σ p[i] streamed with 8 independent accumulators (memory read bandwidth), and
  // `iters` rounds of 8 independent fused multiply-add chains of the path's widest register (returns the FLOPs done)
  float (*stream_sum)(const float* p, int64_t n);
  double (*fma_chains)(int64_t iters, float* sink);
  // out[s·T + t] = Σ_{i < n} (double)M[s·ld + i]·M[t·ld + i] for t ≤ s < T: the Gram sums of the gradient norms
  // (factors.cpp), each as 8 partial sums over i mod 8, the tail into the first, combined as
  // ((p0 + p4) + (p1 + p5)) + ((p2 + p6) + (p3 + p7)) — bit for bit the same value on every path
  void (*gram_f64)(const float* M, int64_t ld, int T, int n, double* out);
  // th[i] = tanh(√(2/π)·(g[i] + 0.044715·g[i]³)), i < n: GeGLU's tanh (kernels.cpp geglu_forward / geglu_backward)
  void (*gelu_tanh)(float* th, const float* g, int n);
  // the largest |x[i]|, i < n, as the bits of |x| (sign cleared): ≥ 0x7f800000 when some value is ±inf or NaN, else
  // the bits of the largest magnitude (the step's finiteness scan and max |G|, exact)
  uint32_t (*max_abs_bits)(const float* x, int64_t n);
  // the softmax of a vocabulary row (model.cpp's loss): max_f32 its largest value (NaN skipped, exact); exp_sum
  // Σ e^{(double)x[i] − mx} as 8 partial sums over i mod 8 combined in a fixed order; exp_scale pr[i] =
  // (float)(e^{(double)x[i] − mx}·iz) with the same e values. e^y (y ≤ 0) is the path's own double exp, within 1 ulp
  // (kernels_isa.inc), the same value wherever a row piece starts.
  float (*max_f32)(const float* x, int n);
  double (*exp_sum)(const float* x, int n, float mx);
  void (*exp_scale)(float* pr, const float* x, int n, float mx, double iz);
  // the gated activations' element loops (kernels.cpp): swiglu_fwd m = (g·σ(g))·u; swiglu_bwd dg = ((dm·u)·σ)·(1 +
  // g·(1 − σ)), du = dm·(g·σ); geglu_fwd / geglu_bwd the same with gelu = (½·g)·(1 + gelu_tanh(g)). σ is the path's
  // own (within 2 ulp, kernels_isa.inc); each value is computed alone, whatever its position in the call (dg may be g,
  // du may be u)
  void (*swiglu_fwd)(float* m, const float* g, const float* u, int n);
  void (*swiglu_bwd)(float* dg, float* du, const float* dm, const float* g, const float* u, int n);
  void (*geglu_fwd)(float* m, const float* g, const float* u, int n);
  void (*geglu_bwd)(float* dg, float* du, const float* dm, const float* g, const float* u, int n);
  // d[i] += a·x[i], i < n (a fused multiply-add where the path has one)
  void (*axpy_f32)(float* d, float a, const float* x, int n);
  // RMSNorm's rows (kernels.cpp): sum_sq_f64 Σ (double)x[i]² and dot3_f64 Σ ((double)a[i]·b[i])·c[i], i < n, each as 8
  // partial sums over i mod 8 (the tail into the first) combined as ((p0 + p4) + (p1 + p5)) + ((p2 + p6) + (p3 + p7))
  // (sum_sq_f64: the same bits on every path); rms_scale_row y = (x·r)·w; rms_backward_row dw += (dy·x)·r and
  // dx += (dy·w)·r − x·c
  double (*sum_sq_f64)(const float* x, int n);
  double (*dot3_f64)(const float* a, const float* b, const float* c, int n);
  void (*rms_scale_row)(float* y, const float* x, const float* w, float r, int n);
  void (*rms_backward_row)(float* dx, float* dw, const float* dy, const float* x, const float* w, float r, float c,
                           int n);
};

const KernelTable* kernel_table_scalar();
#if defined(__x86_64__) || defined(_M_X64)
const KernelTable* kernel_table_avx2();
const KernelTable* kernel_table_avx512();
#endif
#if defined(__aarch64__) || defined(_M_ARM64)
const KernelTable* kernel_table_neon();
#endif

extern const KernelTable* g_kernels;
// Chooses the path on first use: the best this CPU runs, or $SOLILOQUY_KERNELS. Returns "" or the reason a forced
// path is refused (then the scalar path is active), or a $SOLILOQUY_TUNING that names no tuning.
std::string kernels_init();
static inline const KernelTable* kern() {
  if (!g_kernels) kernels_init();
  return g_kernels;
}
// Switch to a named path ("" = the best available); returns "" or why not (the active path is then unchanged).
std::string kernels_set(const std::string& name);
// Tunings: how the products cut, block and order their work for a class of core — the kernels themselves are the
// path's, and every tuning gives the same bits. "zen" (what the blocking was measured on: AMD Zen 4/5, where F16/BF16
// conversions run beside the FMAs; also every CPU not named below) and "intel" (Intel cores: two 512-bit FMA ports
// that the conversions share, so converting a weight once and reusing it pays more). Chosen at load from the cpuid
// vendor; $SOLILOQUY_TUNING=zen|intel forces one (refused, in words, when unknown).
struct KernelTuning {
  const char* name;
  // How the backward tiles (kernels.cpp, w_acc_tiled_block) prefetch the next 64-row run while computing this one.
  // false: kernel call c asks for line c of every row of the run (64 lines a row's stride apart, in 64 pages when a row
  // is 4 KiB) — the form the tiles were measured with on Zen. true: each call asks for 64 consecutive lines, the run's
  // bytes in address order (row segments of at least 4 KiB, or the whole run when the block spans whole rows).
  // Measured on Intel (Emerald Rapids, backward bench, F16, R = 13, one thread, CPU time, weights out of the caches,
  // the two forms alternated): ~0.43–0.53 of FMA peak in column order, ~0.51–0.62 in address order for the blocks of
  // whole rows (g.q 0.43 → 0.52, g.gateup 0.52 → 0.61, q.q 0.50 → 0.54); a burst of the same lines between kernel calls
  // measured below the column order (the misses then queue behind each other instead of overlapping the FMAs).
  bool w_acc_prefetch_in_order;
  // The widest column block of the backward tiles (kernels.cpp, w_acc_tiled_width). Intel: 3072, so rows of up to 3072
  // columns stay whole (and prefetch in address order as one run) and longer ones are cut into segments of ≥ 64 lines.
  // Measured as above (1536 → 3072 with the address order): g.down (6912 columns) 0.41 → 0.57, q.down (3072) 0.37 →
  // 0.55–0.61, q.o (2048) 0.37 → 0.55–0.59; 3456 … 8192 measured the same as 3072. The dx block (R × 3072 floats, 156
  // KiB at R = 13) stays in the 2 MiB L2. A block's sums do not depend on its width: the same bits.
  int w_acc_block_cols;
  // The forward triples (kernels.cpp, wt_triples) over 2–4 row groups of x rows (9 … 32 on AVX-512) of F16 / BF16
  // weights: 0 — each group converts the weights itself, the group the outer loop; otherwise the widest column block
  // of the panel form: the columns cut into blocks whose x rows of every group stay in L1, and in a block each
  // triple's first group writes the converted weights to an fp32 panel the others read (dot3xn_span_panel). Same bits.
  // Intel 512 (Emerald Rapids, forward bench, R = 13, one thread, CPU time, the forms alternated in one binary):
  // weights cold F16 g.down 0.61 → 0.62–0.70, q.down 0.59–0.64 → 0.62–0.68, q.o 0.60–0.64 → 0.61–0.67; BF16 and
  // warm within −3 … +7 %. Blocks of 256 were slower than none, 768 between. Rows of ≤ 1152 columns keep the old form
  // (it holds 7 rows whole there; the panel form measured 0–10 % slower). In the step (Qwen3-0.6B F16, 2 threads,
  // builds alternated): the o and down products −5 … −9 %.
  int fwd_panel_cols;
};
const KernelTuning& kernel_tuning();
// Switch to a named tuning ("" = the CPU's); returns "" or why not (the active tuning is then unchanged).
std::string kernel_tuning_set(const std::string& name);
// the tunings there are
std::vector<std::string> kernel_tunings();
// CPU features the dispatcher looked at that this machine has (e.g. "avx2", "fma", "f16c", "avx512f", "avx512_bf16"),
// and the ones that name a class of host for the bench though no path uses them yet: "avx512_fp16" and AMX
// ("amx_tile", "amx_bf16", "amx_int8" — only when the OS also enables the tile state, XCR0 bits 17 and 18)
std::vector<std::string> cpu_features();
// What the bench records to attribute its figures to a class of host (tools/bench, docs/bench-<class>.json): cpuid's
// vendor string and brand, family / model / stepping as the vendor defines them (the extended fields folded in, as
// /proc/cpuinfo prints them), and the data caches one core sees (bytes; L3 is the slice the core shares, not the
// package's). Everything is 0 or "" where unknown: on a CPU without cpuid (arm64) or a leaf a VM does not fill.
struct CpuHost {
  std::string vendor;  // "GenuineIntel", "AuthenticAMD", … ("" without cpuid)
  std::string brand;   // leaves 0x80000002‥4, trimmed ("" when absent)
  int family = 0, model = 0, stepping = 0;
  int64_t l1d_bytes = 0, l2_bytes = 0, l3_bytes = 0;
};
const CpuHost& cpu_host();
// paths this CPU can run, best last
std::vector<std::string> kernel_paths_available();
