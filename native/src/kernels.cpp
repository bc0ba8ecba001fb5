#include "kernels.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

#include "kernel_paths.h"
#include "quants.h"
#include "threads.h"

// The inner loops (dot products, dtype conversion, dequantisation) come from the kernel path chosen at load
// (kern(): kernel_paths.h); this file holds the loop structure and threading, compiled for the baseline CPU.
static inline float dot_f32(const float* x, const float* w, int n) { return kern()->dot_f32(x, w, n); }

// How many rows ahead the fused quantised products prefetch: a row of a quantised matrix is 0.5–2 KiB, so rows cross
// 4 KiB pages often, where hardware stream prefetchers stop. (0, 1 and 2 rows were compared on the qdot_bench with
// the machine at load ~17: the runs varied 3–10× between repeats, so the choice is not backed by a measured gain.)
static const int64_t QUANT_PREFETCH_ROWS = 2;

// Weights c0 … c0+n of a row of a block-quantised matrix, dequantised into out[n]. Spans inside a row need not
// start or end on a block boundary: the covering blocks are expanded into a small scratch buffer.
static void dequant_span(float* out, const Mat& W, int row, int c0, int n) {
  const int be = dtype_block_elems(W.dtype);
  const uint8_t* rowp = (const uint8_t*)W.data + (uint64_t)row * dtype_row_bytes(W.dtype, W.cols);
  int b0 = c0 / be, b1 = (c0 + n + be - 1) / be;
  if (c0 % be == 0 && n % be == 0) {
    dequantise_blocks(W.dtype, rowp + (uint64_t)b0 * dtype_block_bytes(W.dtype), b1 - b0, out);
    return;
  }
  thread_local std::vector<float> tmp;
  tmp.resize((size_t)(b1 - b0) * be);
  dequantise_blocks(W.dtype, rowp + (uint64_t)b0 * dtype_block_bytes(W.dtype), b1 - b0, tmp.data());
  std::memcpy(out, tmp.data() + (c0 - b0 * be), sizeof(float) * n);
}

float dot_row(const float* x, const Mat& W, int row, int c0, int n) {
  int64_t off = (int64_t)row * W.cols + c0;
  if (dtype_quantised(W.dtype)) {
    thread_local std::vector<float> w;
    w.resize(n);
    dequant_span(w.data(), W, row, c0, n);
    return dot_f32(x, w.data(), n);
  }
  switch (W.dtype) {
    case DT_F32: return kern()->dot_f32(x, (const float*)W.data + off, n);
    case DT_F16: return kern()->dot_f16(x, (const uint16_t*)W.data + off, n);
    default: return kern()->dot_bf16(x, (const uint16_t*)W.data + off, n);
  }
}

static void convert_span(float* out, const Mat& W, int row, int c0, int n) {
  int64_t off = (int64_t)row * W.cols + c0;
  if (dtype_quantised(W.dtype)) {
    dequant_span(out, W, row, c0, n);
    return;
  }
  if (W.dtype == DT_F32) {
    std::memcpy(out, (const float*)W.data + off, sizeof(float) * n);
    return;
  }
  const uint16_t* p = (const uint16_t*)W.data + off;
  if (W.dtype == DT_F16) kern()->f16_to_f32_row(out, p, n);
  else kern()->bf16_to_f32_row(out, p, n);
}

// asks the cache for the bytes of columns c0 … c0+n−1 of a row (any dtype)
static void prefetch_span(const Mat& W, int row, int c0, int n) {
  const int be = dtype_block_elems(W.dtype);
  const int64_t rbytes = dtype_row_bytes(W.dtype, W.cols);
  const char* p = (const char*)W.data + (int64_t)row * rbytes + (int64_t)(c0 / be) * dtype_block_bytes(W.dtype);
  const int64_t bytes = (int64_t)((n + be - 1) / be + 1) * dtype_block_bytes(W.dtype);
  for (int64_t i = 0; i < bytes; i += 64) __builtin_prefetch(p + i, 0, 2);
}

void mat_row_f32(const Mat& W, int row, float* out) { convert_span(out, W, row, 0, W.cols); }

// Below this many multiply-adds a product runs on the calling thread.
static const int64_t SERIAL_MACS = 1 << 15;

// ---- linear ------------------------------------------------------------------------------------------
static void dot4(const float* x, int64_t ldx, int nr, const Mat& W, int row, float* out) {
  const int n = W.cols;
  kern()->dot4(x, ldx, nr, (const char*)W.data + (int64_t)row * n * dtype_size(W.dtype), W.dtype, n, out);
}

// y[:, o0 … o1−1] (y is [R, out], o1 − o0 a multiple of 3) = x[R, in] (rows ldx apart) · the stored rows o0 … o1−1
// of W, three at a time by the 3-row kernel, over the x rows in balanced groups of at most the path's tile height
// (13 rows on AVX-512: 7 + 6). The group is the outer loop, so its x rows stay in L1 while the weight rows stream by
// (the second group reads them again from L2); when a group's rows are too long for that, the columns are cut into
// blocks and each triple's accumulators carried from block to block (dot3xn_span: the same sums in the same order).
// Tried and measured worse (AVX-512, R = 13, Qwen3-0.6B / Gemma-3-1B F16 and BF16, one thread in its CPU time): a
// 2 weight rows × 13 x rows tile (26 accumulators) reading each weight line once in a single pass — over whole rows its
// 13 x rows (52–58 KiB) overflow L1 (0.52 of the FMA peak from cache, against 0.80 here); with the x rows interleaved by
// 16 columns (one pointer: 13 row pointers spill the general registers) and cut into column blocks it matched this
// form from cache (0.81) but streamed 10–15 % slower, in blocks of 8 or 12 rows slower still. Prefetch hints: T0 and
// T1 measured equal in the step on separate builds (a run-time hint switch inside the loop had shown T0 5–16 % ahead:
// an artefact of the switch); no prefetch ~25 % slower.
// A group's x rows stay whole in wt_triples up to this many bytes (of Zen 5's 48 KiB L1); longer ones are cut into
// column blocks, and only there does the panel form (below) take over
static const int FWD_X_WHOLE = 40 << 10;
// floats of one triple's accumulators carried from block to block (the widest path's: 3 rows × 8 x rows × 16 lanes)
static const int TRIPLE_ACC = 3 * 8 * 16;

// The columns [0, in) in nb even blocks of at most `widest`, each a multiple of 64 columns but the last: returns the
// block width and sets *nb
static int fwd_column_blocks(int in, int widest, int* nb) {
  const int n = (in + widest - 1) / widest;
  const int C = ((in + n - 1) / n + 63) / 64 * 64;
  *nb = (in + C - 1) / C;
  return C;
}

// Where the first row group's next call reads, for its prefetch (w: the first triple's first row; nt triples; blocks
// of C columns, block b of nb starting at c0): the next triple's span, else the next block's first, else past the rows
static const char* fwd_next_span(const char* w, int t, int nt, int b, int nb, int c0, int C, int64_t rb, int64_t esz) {
  if (t + 1 < nt) return w + (int64_t)3 * (t + 1) * rb + c0 * esz;
  if (b + 1 < nb) return w + (int64_t)(c0 + C) * esz;
  return w + (int64_t)3 * nt * rb;
}

// the first 64-byte aligned float of v (callers size it with 16 floats to spare)
static float* aligned64(std::vector<float>& v) {
  return v.data() + ((64 - ((uintptr_t)v.data() & 63)) & 63) / sizeof(float);
}

// The panel form of wt_triples (KernelTuning::fwd_panel_cols): columns in blocks of at most Cmax, in a block each
// triple once — the first group reads the stored rows and writes them as fp32 to the panel, the later groups read
// the panel (no conversions) — the accumulators carried from block to block per triple and group.
static void wt_triples_panel(float* y, int out, int o0, int o1, const float* x, int64_t ldx, int R, const Mat& W,
                             int Cmax) {
  const int in = W.cols;
  const int64_t esz = dtype_size(W.dtype), rb = (int64_t)in * esz;
  const int maxr = kern()->dot3xn_max_rows, groups = (R + maxr - 1) / maxr;
  int nb;
  const int C = fwd_column_blocks(in, Cmax, &nb);
  const int nt = (o1 - o0) / 3;
  thread_local std::vector<float> accs;  // the carried accumulators, then the panel
  const size_t nacc = nb > 1 ? (size_t)nt * groups * TRIPLE_ACC : 0;
  const size_t npanel = (size_t)3 * ((C + 15) / 16 * 16);
  if (accs.size() < nacc + npanel + 32) accs.resize(nacc + npanel + 32);
  float* base = aligned64(accs);
  float* acc = nb > 1 ? base : nullptr;
  float* panel = base + nacc;
  const float* xr[4][8];
  int nrs[4];
  for (int g = 0, r0 = 0; g < groups; g++) {
    nrs[g] = R / groups + (g < R % groups ? 1 : 0);
    for (int r = 0; r < nrs[g]; r++) xr[g][r] = x + (int64_t)(r0 + r) * ldx;
    r0 += nrs[g];
  }
  const char* w = (const char*)W.data + (int64_t)o0 * rb;
  for (int b = 0; b < nb; b++) {
    const int c0 = b * C, c1 = c0 + C < in ? c0 + C : in;
    const int flags = (b == 0 ? 1 : 0) | (b == nb - 1 ? 2 : 0);
    float* pp = panel - (int64_t)3 * c0;
    for (int t = 0; t < nt; t++) {
      const char* wt = w + (int64_t)3 * t * rb;
      const char* pf = fwd_next_span(w, t, nt, b, nb, c0, C, rb, esz);
      for (int g = 0, r0 = 0; g < groups; g++) {
        float acc24[24];
        float* a = acc ? acc + ((size_t)t * groups + g) * TRIPLE_ACC : nullptr;
        const char* gpf = g == 0 ? pf : nullptr;  // the later groups read the panel and the x rows from L1
        kern()->dot3xn_span_panel(xr[g], nrs[g], wt, wt + rb, wt + 2 * rb, W.dtype, c0, c1, in, a, flags, gpf, rb,
                                  acc24, pp, g == 0);
        if (flags & 2)
          for (int k = 0; k < 3; k++)
            for (int r = 0; r < nrs[g]; r++) y[(int64_t)(r0 + r) * out + o0 + 3 * t + k] = acc24[8 * k + r];
        r0 += nrs[g];
      }
    }
  }
}

static void wt_triples(float* y, int out, int o0, int o1, const float* x, int64_t ldx, int R, const Mat& W) {
  // A group's x rows stay whole up to 40 KiB (of Zen 5's 48 KiB L1), else are cut into blocks of at most 24 KiB,
  // leaving room for the carried accumulators and the weights (measured, 1 core, weights streaming: a 32 KiB limit cut
  // 8 rows of 1152 columns in two and lost ~10 %; 7 rows of 6912 columns in blocks of 39 KiB gained 0–6 % at R = 13,
  // of 32 KiB 12–17 %)
  const int XBLOCK = 24 << 10;
  const int in = W.cols;
  const int64_t esz = dtype_size(W.dtype), rb = (int64_t)in * esz;
  const int maxr = kern()->dot3xn_max_rows, groups = (R + maxr - 1) / maxr, nrmax = (R + groups - 1) / groups;
  // the panel form (intel tuning) where the rows are long enough that this form cuts them into blocks anyway:
  // over rows of 1024–1152 columns (kept whole here) it measured 0–10 % slower at 256–768-column panel blocks
  const int pc = kernel_tuning().fwd_panel_cols;
  if (pc > 0 && (W.dtype == DT_F16 || W.dtype == DT_BF16) && groups >= 2 && groups <= 4 && kern()->dot3xn_span_panel &&
      (int64_t)nrmax * in * 4 > FWD_X_WHOLE)
    return wt_triples_panel(y, out, o0, o1, x, ldx, R, W, pc);
  int C = in, nb = 1;
  const int budget = XBLOCK / (4 * nrmax) / 64 * 64;  // columns of a group's x rows in one block
  if ((int64_t)nrmax * in * 4 > FWD_X_WHOLE && budget >= 64) C = fwd_column_blocks(in, budget, &nb);
  const int nt = (o1 - o0) / 3;
  thread_local std::vector<float> accs;
  if (nb > 1 && accs.size() < (size_t)nt * TRIPLE_ACC + 16) accs.resize((size_t)nt * TRIPLE_ACC + 16);
  float* acc = nb > 1 ? aligned64(accs) : nullptr;
  const char* w = (const char*)W.data + (int64_t)o0 * rb;
  for (int g = 0, r0 = 0; g < groups; g++) {
    const int nr = R / groups + (g < R % groups ? 1 : 0);
    const float* xr[8];
    for (int r = 0; r < nr; r++) xr[r] = x + (int64_t)(r0 + r) * ldx;
    for (int b = 0; b < nb; b++) {
      const int c0 = b * C, c1 = c0 + C < in ? c0 + C : in;
      const int flags = (b == 0 ? 1 : 0) | (b == nb - 1 ? 2 : 0);
      for (int t = 0; t < nt; t++) {
        const char* wt = w + (int64_t)3 * t * rb;
        const char* pf = fwd_next_span(w, t, nt, b, nb, c0, C, rb, esz);
        // The groups after the first find the weights in L2 (prefetching them again measured ~3 % slower); with the
        // rows whole they prefetch the same triple of the next block instead, which the first group would otherwise
        // fetch in a burst of its own (7 of 13 rows: it wants ~1.9× the average bandwidth) while memory idles through
        // the second. Measured, the step on one thread (process CPU time, Qwen3-0.6B and Gemma-3-1B at F16 and BF16,
        // load 3–5, builds alternated): 10 of 11 runs 1–15 % faster, one 1 % slower; the kernel bench (one thread,
        // weights out of the caches) 0.66 → 0.72 of the FMA peak at F16, 0.64 → 0.72 at BF16 (0.80–0.82 from cache);
        // on two threads (wall clock, load ~1.2) the step's forward products within the noise (−6 … +3 %).
        if (g > 0) pf = nb == 1 ? wt + (int64_t)3 * nt * rb : nullptr;
        float acc24[24];
        float* a = acc ? acc + (size_t)t * TRIPLE_ACC : nullptr;
        kern()->dot3xn_span(xr, nr, wt, wt + rb, wt + 2 * rb, W.dtype, c0, c1, in, a, flags, pf, rb, acc24);
        if (flags & 2)
          for (int k = 0; k < 3; k++)
            for (int r = 0; r < nr; r++) y[(int64_t)(r0 + r) * out + o0 + 3 * t + k] = acc24[8 * k + r];
      }
    }
    r0 += nr;
  }
}

// Rows o0 … o1−1 of y[R, W.rows] = x[R, W.cols] (rows ldx apart) · Wᵀ. Each weight row is read from memory once and
// used for every x row (three weight rows × up to 8 x rows per kernel call on AVX-512 and NEON, × 4 on AVX2; two × 4
// on the scalar path). A block-quantised row is dequantised once into `scratch` (per thread) first, so a quantised
// matrix is never expanded as a whole.
// xs16 (null or [R, W.cols / 16]): the x rows' sums per 16 columns, for the fused quantised kernels.
static void wt_rows(float* y, const float* x, int64_t ldx, int R, const Mat& W, int o0, int o1,
                    std::vector<float>& scratch, const float* xs16) {
  const int out = W.rows, in = W.cols;
  float acc[4];
  if (dtype_quantised(W.dtype)) {
    int o = o0;
    // up to 4 x rows: the fused kernel reads each row's blocks in place (kernel_paths.h, dot_blocks), prefetching
    // the row QUANT_PREFETCH_ROWS ahead (a row of a quantised matrix is 0.5–2 KiB: rows cross pages often)
    if (R <= 4 && xs16) {
      const float *xr[4], *xsr[4];
      for (int r = 0; r < R; r++) xr[r] = x + r * ldx, xsr[r] = xs16 + (int64_t)r * (in / 16);
      const int64_t rb = dtype_row_bytes(W.dtype, in);
      const int nb = in / dtype_block_elems(W.dtype);
      const uint8_t* w = (const uint8_t*)W.data;
      for (; o < o1; o++) {
        if (!kern()->dot_blocks(W.dtype, w + o * rb, nb, xr, xsr, R, QUANT_PREFETCH_ROWS * rb, acc)) break;
        for (int r = 0; r < R; r++) y[(int64_t)r * out + o] = acc[r];
      }
      if (o == o1) return;
    }
    if (kern()->dot3xn && R >= 2) {  // three rows dequantised, then the 3-row kernel on them as F32
      scratch.resize((size_t)3 * in);
      Mat S = mat_f32(scratch.data(), 3, in);
      for (; o + 3 <= o1; o += 3) {
        for (int k = 0; k < 3; k++) dequant_span(scratch.data() + (size_t)k * in, W, o + k, 0, in);
        wt_triples(y + o, out, 0, 3, x, ldx, R, S);
      }
    }
    scratch.resize(std::max<size_t>(scratch.size(), in));
    for (; o < o1; o++) {
      dequant_span(scratch.data(), W, o, 0, in);
      for (int r0 = 0; r0 < R; r0 += 4) {
        int nr = R - r0 < 4 ? R - r0 : 4;
        kern()->dot4(x + r0 * ldx, ldx, nr, scratch.data(), DT_F32, in, acc);
        for (int r = 0; r < nr; r++) y[(int64_t)(r0 + r) * out + o] = acc[r];
      }
    }
    return;
  }
  const int64_t rb = (int64_t)in * dtype_size(W.dtype);
  int o = o0;
  // Triples of weight rows against the x rows in balanced groups of at most 8 (13 rows: 7 + 6) where the path has
  // the 3-row kernel: each triple leaves memory once and stays in L1 while every group reads it.
  // One row (a single generated column) takes it too, for the prefetch of the next triple: on AMD Zen 4/5 it measured
  // +17–33 % over dot_any on rows longer than 8 KiB (Llama-2-7b's 11008-wide down projection) and ~5 % on shorter ones;
  // on an Intel Xeon (Emerald Rapids, 2 cores, 1.1B F16 shape, 2 KiB… 11 KiB rows) dot_any reached 53 % of the
  // bandwidth roofline and the triples 80–88 %: 0.097 → 0.071–0.078 s a token, builds alternated. (dot_any kept two
  // accumulators, the triples one, so a generated column's last bits moved once; it now sums exactly as the sweep's
  // columns and the phrase's tokens do.)
  if (kern()->dot3xn) {
    const int o3 = o + (o1 - o) / 3 * 3;
    wt_triples(y, out, o, o3, x, ldx, R, W);
    o = o3;
  }
  // Otherwise pairs of weight rows against 4 x rows at a time, then the last 1–3 rows.
  for (; o + 2 <= o1; o += 2) {
    const char* w0 = (const char*)W.data + o * rb;
    int r0 = 0;
    for (; r0 + 4 <= R; r0 += 4) {
      float acc8[8];
      kern()->dot2x4(x + r0 * ldx, ldx, w0, w0 + rb, W.dtype, in, acc8);
      for (int r = 0; r < 4; r++) {
        y[(int64_t)(r0 + r) * out + o] = acc8[r];
        y[(int64_t)(r0 + r) * out + o + 1] = acc8[4 + r];
      }
    }
    if (r0 < R)
      for (int k = 0; k < 2; k++) {
        dot4(x + r0 * ldx, ldx, R - r0, W, o + k, acc);
        for (int r = 0; r < R - r0; r++) y[(int64_t)(r0 + r) * out + o + k] = acc[r];
      }
  }
  for (; o < o1; o++)
    for (int r0 = 0; r0 < R; r0 += 4) {
      int nr = R - r0 < 4 ? R - r0 : 4;
      dot4(x + r0 * ldx, ldx, nr, W, o, acc);
      for (int r = 0; r < nr; r++) y[(int64_t)(r0 + r) * out + o] = acc[r];
    }
}

void matmul_wt(float* y, const float* x, int R, const Mat& W) { matmul_wt_fused(&y, x, R, &W, 1); }

void matmul_wt_fused(float* const* ys, const float* x, int R, const Mat* Ws, int count) {
  const MatmulGroup g{x, R, Ws, ys, count};
  matmul_wt_groups(&g, 1);
}

void matmul_wt_groups(const MatmulGroup* groups, int ng) {
  // Parallel over blocks of 24 output rows (a multiple of the 3- and 2-row tiles) of all the matrices of all the
  // groups in turn: one pass, one thread hand-off for all. Each group's input is prepared exactly as a product of its
  // own would prepare it (below), so a group's results do not depend on the others beside it.
  const int OB = 24;
  struct Job {
    const MatmulGroup* g;
    int i;              // the matrix within its group
    const float* x;     // the group's input as read (the original or its aligned copy)
    int64_t ldx;
    const float* xs16;  // null, or the group's x sums per 16 columns
  };
  // per thread and kept across calls: generation calls this a few times per layer per token
  thread_local std::vector<Job> jobs;
  thread_local std::vector<int> first;  // first block of each job
  // the groups' aligned copies and xs16: a fresh buffer past glibc's mmap threshold (128 KiB: 13 rows of a 6912-wide
  // MLP) would fault page by page on every call (~1 ms per call measured on the loaded 2-core VM)
  thread_local std::vector<float> arena;
  jobs.clear();
  first.assign(1, 0);
  int64_t macs = 0;
  // The multi-row kernels load x in 64-byte vectors, one line of each x row per step. x is copied once (the fused
  // matrices share x, hence their column count) when
  //  - it is not 64-byte aligned (heap buffers are 16): every load would be split over two cache lines (the rows of
  //    the copy are aligned too when `in` is a multiple of 16, so only then);
  //  - its rows are a multiple of 4 KiB long (hidden sizes 2048, 4096, …): then the x rows' lines at each step fall
  //    in the same L1 set, and with the weight rows (a page apart) they outnumber its 8 ways. The copy's rows are
  //    256 bytes longer. Measured (AVX-512, one core, 8 rows × 2048 columns F16, bit-identical results): +4 % with
  //    the weights in cache, +8–9 % streaming them; pads of 192 bytes and up did as well, 64 and 128 little.
  // The fused quantised kernels (≤ 4 x rows) read the x rows' sums per 16 columns: computed once per group.
  // First pass: each group's copy and sums as offsets into one arena (64-byte aligned), then filled.
  thread_local std::vector<int64_t> copy_at, xs_at, ldxs;
  copy_at.assign(ng, -1);
  xs_at.assign(ng, -1);
  ldxs.assign(ng, 0);
  size_t arena_floats = 0;
  for (int gi = 0; gi < ng; gi++) {
    const MatmulGroup& g = groups[gi];
    int64_t gmacs = 0;
    bool any_quantised = false;
    for (int i = 0; i < g.count; i++) {
      gmacs += (int64_t)g.R * g.Ws[i].cols * g.Ws[i].rows;
      any_quantised = any_quantised || dtype_quantised(g.Ws[i].dtype);
    }
    macs += gmacs;
    const int in = g.Ws[0].cols;
    const bool rows_alias = (int64_t)in * 4 % 4096 == 0;
    ldxs[gi] = in;
    if (g.R >= 2 && kern()->dot3xn && in % 16 == 0 && gmacs >= SERIAL_MACS &&
        (((uintptr_t)g.x & 63) != 0 || rows_alias)) {
      if (rows_alias) ldxs[gi] = in + 64;
      copy_at[gi] = (int64_t)arena_floats;
      arena_floats += ((size_t)g.R * ldxs[gi] + 15) / 16 * 16;
    }
    if (any_quantised && g.R <= 4 && in % 16 == 0) {
      xs_at[gi] = (int64_t)arena_floats;
      arena_floats += ((size_t)g.R * (in / 16) + 15) / 16 * 16;
    }
  }
  if (arena.size() < arena_floats + 16) arena.resize(arena_floats + 16);  // + room to align the base
  float* base = aligned64(arena);
  for (int gi = 0; gi < ng; gi++) {
    const MatmulGroup& g = groups[gi];
    const int in = g.Ws[0].cols;
    const float* x = g.x;
    const int64_t ldx = ldxs[gi];
    if (copy_at[gi] >= 0) {
      float* a = base + copy_at[gi];
      for (int r = 0; r < g.R; r++) std::memcpy(a + r * ldx, g.x + (int64_t)r * in, sizeof(float) * in);
      x = a;
    }
    const float* xs16 = nullptr;
    if (xs_at[gi] >= 0) {
      float* xs = base + xs_at[gi];
      for (int r = 0; r < g.R; r++)
        for (int k = 0; k < in / 16; k++) {
          const float* p = x + (int64_t)r * ldx + 16 * k;
          float s = 0.f;
          for (int j = 0; j < 16; j++) s += p[j];
          xs[(size_t)r * (in / 16) + k] = s;
        }
      xs16 = xs;
    }
    for (int i = 0; i < g.count; i++) {
      if (g.R == 0) continue;
      jobs.push_back({&g, i, x, ldx, xs16});
      first.push_back(first.back() + (g.Ws[i].rows + OB - 1) / OB);
    }
  }
  const int nblocks = first.back();
  const Job* jb = jobs.data();
  const int* fb = first.data();
  auto body = [jb, fb](int b0, int b1, int) {
    std::vector<float> scratch;
    int j = 0;
    for (int b = b0; b < b1; b++) {
      while (b >= fb[j + 1]) j++;
      const Job& J = jb[j];
      const Mat& W = J.g->Ws[J.i];
      int o0 = (b - fb[j]) * OB, o1 = o0 + OB < W.rows ? o0 + OB : W.rows;
      wt_rows(J.g->ys[J.i], J.x, J.ldx, J.g->R, W, o0, o1, scratch, J.xs16);
    }
  };
  // tiny products (factor terms, small models) cost less than waking a thread
  if (macs < SERIAL_MACS) body(0, nblocks, 0);
  else parallel_for(nblocks, body, ng > 1 ? nblocks / 8 : 0);
}

// The column blocks of the tiled form: a multiple of `nt` (the threads that share a product's columns), at most the
// tuning's w_acc_block_cols (zen 1536 — measured there: 512-column blocks −9 %, 256 −17 %; intel 3072, see
// kernel_paths.h; 1536 when a block-quantised matrix is among them), whole quantisation blocks and 64-column slices
// (`unit`). A block's results do not depend on the width (each dx entry sums its weight rows in the same order, and the
// <64-column tail is the matrix's last columns whatever the width), so matrices of one group may share the widest
// unit's blocks.
static int w_acc_tiled_width(int in, int unit, int nt, bool quantised) {
  // a block-quantised run is dequantised into 64 × width floats: kept at the 384 KiB it was measured with
  const int most = quantised ? 1536 : kernel_tuning().w_acc_block_cols;
  int nb = nt;
  while ((in + nb - 1) / nb > most) nb += nt;
  return ((in + nb - 1) / nb + unit - 1) / unit * unit;
}
static int w_acc_tiled_unit(const Mat& W) {
  return dtype_quantised(W.dtype) ? std::max(64, dtype_block_elems(W.dtype)) : 64;
}

// dx[:, c0 : c0 + n] += a[R, W.rows] · W[o0 : o1, c0 : c0 + n] for one column block of the tiled form (below), over
// the weight rows o0 … o1−1 (o0 a multiple of the 64-row run)
static void w_acc_tiled_block(float* dx, const float* a, int R, const Mat& W, int o0, int o1, int c0, int n) {
  const int out = W.rows, in = W.cols, OC = 64;
  constexpr int SW = 64, MAXR = 6;  // slice width, rows per kernel call at most (a 13 × 32 tile measured ~20 % slower)
  const int maxr = kern()->axpyn_max_rows, groups = (R + maxr - 1) / maxr;
  const bool quantised = dtype_quantised(W.dtype);
  const int64_t rb = dtype_row_bytes(W.dtype, in), esz = quantised ? 0 : dtype_size(W.dtype);
  // per-thread scratch kept across calls: at 128 KiB and up glibc maps fresh zeroed pages for every new vector, and
  // those page faults cost ~5 % of a step
  thread_local std::vector<float> panel, tails, rows;  // [o][SW], [o][tail], a dequantised run [o][n]
  panel.resize((size_t)OC * SW);
  tails.resize((size_t)OC * SW);
  if (quantised && rows.size() < (size_t)OC * n) rows.resize((size_t)OC * n);
  const int nsw = n / SW * SW, tail = n - nsw;
  const int lines = quantised ? 0 : (int)((n * esz + 63) / 64);  // cache lines of a row segment
  // The next run's lines in address order (the tuning's w_acc_prefetch_in_order): each kernel call prefetches 64
  // consecutive lines (4 KiB) of one segment — the whole run when the block spans whole rows (the run's rows are then
  // contiguous), else each row's segment, whose last chunk ends at the segment's end (overlapping the one before) so
  // nothing past it is fetched. Only for segments of at least 64 lines; shorter ones take the column order below.
  const bool whole = !quantised && c0 == 0 && n == in;
  const bool in_order = !quantised && kernel_tuning().w_acc_prefetch_in_order;
  for (int o = o0; o < o1; o += OC) {
    const int no = o1 - o < OC ? o1 - o : OC, o_next = o + OC;
    // the in-order walk over the next run: segment `seg` of `nseg` (`seg_lines` lines each), line `at` of it
    const int no_next = o1 - o_next < OC ? o1 - o_next : OC;
    const int nseg = whole ? 1 : no_next;
    const int64_t seg_lines = whole ? ((int64_t)no_next * rb + 63) / 64 : lines;
    const bool ordered = in_order && o_next < o1 && seg_lines >= 64;
    int seg = 0;
    int64_t at = 0;
    // the run's rows as stored (element types) or dequantised into `rows`
    const char* run = (const char*)W.data + (int64_t)o * rb + (int64_t)c0 * esz;
    int64_t run_stride = rb;
    DType run_type = W.dtype;
    if (quantised) {
      for (int q = 0; q < no; q++) {
        if (o + q + 4 < o1) prefetch_span(W, o + q + 4, c0, n);
        convert_span(rows.data() + (size_t)q * n, W, o + q, c0, n);
      }
      run = (const char*)rows.data();
      run_stride = (int64_t)n * 4;
      run_type = DT_F32;
    }
    const int64_t run_esz = dtype_size(run_type);
    int call = 0;
    for (int s = 0; s < nsw; s += SW) {
      for (int g = 0, r0 = 0; g < groups; g++, call++) {
        const int nr = R / groups + (g < R % groups ? 1 : 0);
        const float* ar[MAXR];
        float* dr[MAXR];
        for (int k = 0; k < nr; k++) {
          ar[k] = a + (int64_t)(r0 + k) * out + o;
          dr[k] = dx + (int64_t)(r0 + k) * in + c0 + s;
        }
        // in column order kernel call c asks for line c of every next-run row, one row per step (past a short last
        // run it prefetches beyond the rows: harmless, a prefetch never faults); in address order, the walk's next 64
        const char* pf = nullptr;
        int64_t pf_stride = rb;
        if (ordered) {
          if (seg < nseg) {
            pf = (const char*)W.data + (int64_t)(o_next + seg) * rb + (int64_t)c0 * esz +
                 std::min(at, seg_lines - 64) * 64;
            pf_stride = 64;
            if ((at += 64) >= seg_lines) seg++, at = 0;
          }
        } else if (o_next < o1 && call < lines) {
          pf = (const char*)W.data + (int64_t)o_next * rb + (int64_t)c0 * esz + (int64_t)call * 64;
        }
        if (g == 0)  // reads the slice as stored and leaves it in the panel for the other groups
          kern()->axpyn_x64_pack(dr, ar, nr, panel.data(), run + s * run_esz, run_stride, run_type, no, pf, pf_stride);
        else
          kern()->axpyn_x64(dr, ar, nr, panel.data(), no, pf, pf_stride);
        r0 += nr;
      }
    }
    // lines the calls did not reach (a segment longer than the calls)
    if (ordered) {
      for (; seg < nseg; seg++, at = 0)
        for (; at < seg_lines; at++)
          __builtin_prefetch((const char*)W.data + (int64_t)(o_next + seg) * rb + (int64_t)c0 * esz + at * 64, 0, 2);
      call = lines;
    }
    for (; call < lines && o_next < o1; call++)
      for (int q = 0; q < OC && o_next + q < o1; q++)
        __builtin_prefetch((const char*)W.data + (int64_t)(o_next + q) * rb + (int64_t)c0 * esz + call * 64, 0, 2);
    if (tail) {
      for (int q = 0; q < no; q++) {
        float* t = tails.data() + (size_t)q * tail;
        if (quantised) std::memcpy(t, rows.data() + (size_t)q * n + nsw, sizeof(float) * tail);
        else convert_span(t, W, o + q, c0 + nsw, tail);
      }
      for (int r = 0; r < R; r++)
        for (int c = 0; c < tail; c++) {
          float acc = dx[(int64_t)r * in + c0 + nsw + c];
          for (int q = 0; q < no; q++) acc += a[(int64_t)r * out + o + q] * tails[(size_t)q * tail + c];
          dx[(int64_t)r * in + c0 + nsw + c] = acc;
        }
    }
  }
}

// The untiled form's column block (dx[:, block] for all R rows stays in L1/L2), and its block: four weight rows at a
// time, converted to fp32 once into w4 [4, W_ACC_BC] and reused for every dy row, so each load/store of dx carries
// four multiply-adds instead of one. Each dx entry sums its weight rows in the same order whatever the block.
static const int W_ACC_BC = 256;
static void w_acc_rows_block(float* dx, const float* dy, int R, const Mat& W, float scale, int c0, int n, float* w4) {
  const int out = W.rows, in = W.cols, BC = W_ACC_BC;
  for (int o = 0; o < out; o += 4) {
    int no = out - o < 4 ? out - o : 4;
    bool any = false;
    for (int r = 0; r < R && !any; r++)
      for (int k = 0; k < no; k++)
        if (dy[(int64_t)r * out + o + k] != 0.f) { any = true; break; }
    if (!any) continue;
    for (int k = 0; k < 4; k++) {
      if (k < no) convert_span(w4 + k * BC, W, o + k, c0, n);
      else std::memset(w4 + k * BC, 0, sizeof(float) * BC);
    }
    const float *w0 = w4, *w1 = w0 + BC, *w2 = w1 + BC, *w3 = w2 + BC;
    for (int r = 0; r < R; r++) {
      const float* dyr = dy + (int64_t)r * out + o;
      float a0 = scale * dyr[0], a1 = no > 1 ? scale * dyr[1] : 0.f, a2 = no > 2 ? scale * dyr[2] : 0.f,
            a3 = no > 3 ? scale * dyr[3] : 0.f;
      if (a0 == 0.f && a1 == 0.f && a2 == 0.f && a3 == 0.f) continue;
      kern()->axpy4(dx + (int64_t)r * in + c0, w0, w1, w2, w3, a0, a1, a2, a3, n);
    }
  }
}

// which form matmul_w_acc takes
static bool w_acc_is_tiled(int R, const Mat& W) {
  return kern()->axpyn_x64 && R >= 2 && (int64_t)R * W.cols * W.rows >= SERIAL_MACS;
}

// Row parts of the tiled form. Cutting a product's COLUMNS between threads (one block each) makes every thread walk
// every weight row and read a part of each: measured on 2 cores (AVX-512, Qwen3's 2 KiB F16 rows, each thread 1 KiB
// of every row), a thread reading one half of each row spends the time of reading the whole row (the hardware
// prefetchers fetch past the segment), so two threads pulled twice the matrix from memory and ran at ~0.48–0.50 of
// their FMA peak against ~0.60–0.69 for one. So a product of enough rows is cut into row parts instead: whole 64-row
// runs, contiguous, each thread streaming its own. The part count depends on the product's shape only, never on the
// thread count, so the sums are the same however many threads run: part k accumulates its rows (in order, as the
// tiles always do) into its own zeroed partial dx [R, in], and dx += ((p0 + p1) + p2) + p3 after. At most 4 parts of
// at least 512 rows (the partials are R × in floats each; a part's first run starts without the previous run's
// prefetch), and only for rows of at most 3072 columns: longer rows are cut into column blocks anyway (at most 1536
// wide on Zen, 3072 on Intel: w_acc_tiled_width), and there the parts measured no gain (Zen: Gemma's down backward,
// 6912 columns: 0.61 of peak per thread with parts, 0.66 with a column block per thread; Qwen3's, 3072 columns: 0.63
// against 0.56). Products of fewer rows (Gemma's k/v), longer rows, untiled ones and MoE experts' gate/up stay one
// part: their columns are cut between threads as before, and their sums are the tiles' (or the untiled form's) from
// dx itself.
static const int W_ACC_PART_ROWS = 512, W_ACC_MAX_PARTS = 4, W_ACC_PART_MAX_COLS = 3072;
static int w_acc_parts(int R, const Mat& W) {
  if (!w_acc_is_tiled(R, W) || W.cols > W_ACC_PART_MAX_COLS) return 1;
  return std::max(1, std::min(W_ACC_MAX_PARTS, W.rows / W_ACC_PART_ROWS));
}
// the weight rows o0 … o1−1 of part k of P: whole 64-row runs, balanced
static void w_acc_part_rows(int out, int P, int k, int* o0, int* o1) {
  const int runs = (out + 63) / 64;
  *o0 = std::min(out, runs * k / P * 64);
  *o1 = std::min(out, runs * (k + 1) / P * 64);
}

void matmul_w_acc(float* dx, const float* dy, int R, const Mat& W, float scale) {
  const int out = W.rows, in = W.cols;
  if (w_acc_is_tiled(R, W)) {
    // the backward of a phrase passes scale 1 and dy is used as it is; a factor term (−coef) is small: a scaled copy
    std::vector<float> scaled;
    const float* a = dy;
    if (scale != 1.f) {
      scaled.resize((size_t)R * out);
      for (size_t i = 0; i < scaled.size(); i++) scaled[i] = scale * dy[i];
      a = scaled.data();
    }
    const MatmulAccGroup g{dx, R, &W, &a, 1};
    matmul_w_acc_groups(&g, 1);
    return;
  }
  const int BC = W_ACC_BC;
  const int nb = (in + BC - 1) / BC;
  auto body = [&](int b0, int b1, int) {
    std::vector<float> w4(4 * BC, 0.f);
    for (int b = b0; b < b1; b++) {
      int c0 = b * BC, n = c0 + BC < in ? BC : in - c0;
      w_acc_rows_block(dx, dy, R, W, scale, c0, n, w4.data());
    }
  };
  if ((int64_t)R * in * out < SERIAL_MACS) body(0, nb, 0);
  else parallel_for(nb, body);
}

// The buffers of the partials, kept across calls (the step calls matmul_w_acc_groups for every layer) and shared by
// the calling threads: the partials of one call reach ~1 MiB, which a fresh vector would fault in page by page, and a
// step runs on whichever of the runtime's worker threads takes it, so per-thread buffers would fault in once per
// thread (and be held by each). A call leases one buffer (a new one only while another call holds every buffer).
struct PartialsLease {
  static std::mutex& mu() {
    static std::mutex m;
    return m;
  }
  // owned here while not leased, so they are freed at exit
  static std::vector<std::unique_ptr<std::vector<float>>>& free_list() {
    static std::vector<std::unique_ptr<std::vector<float>>> f;
    return f;
  }
  std::unique_ptr<std::vector<float>> owned;
  std::vector<float>* v;
  PartialsLease() {
    std::lock_guard<std::mutex> lk(mu());
    if (free_list().empty()) {
      owned = std::make_unique<std::vector<float>>();
    } else {
      owned = std::move(free_list().back());
      free_list().pop_back();
    }
    v = owned.get();
  }
  ~PartialsLease() {
    std::lock_guard<std::mutex> lk(mu());
    free_list().push_back(std::move(owned));
  }
  PartialsLease(const PartialsLease&) = delete;
  PartialsLease& operator=(const PartialsLease&) = delete;
};

// dx[R, in] += dy[R, out] · W[out, in], the backward of a product, as register tiles (kernel axpyn_x64): a product's
// rows are cut into row parts (w_acc_parts), each part's columns into blocks (each thread's dx block and the rows of dy
// stay in its caches), a block's weight rows into runs of 64, and a run into 64-column slices. The first row group of
// a slice reads it as stored and leaves it converted in an fp32 panel of 16 KiB, which the other groups read from L1;
// while a run computes, the kernel prefetches the next run's lines (its rows are a page apart, where the hardware
// prefetcher stops). A quantised run is dequantised first, whole blocks at a time. Measured on the 1.1B model's
// backward, 2 threads, AVX-512: +9–11 % over packing a whole 64 × 512 run ahead of the slices (a 128 KiB panel in L2),
// then +10–15 % for packing inside the first group's pass.
//
// Groups: group g gets the products in order, each exactly as matmul_w_acc gives it. Two parallel passes:
//  1. every product of more than one row part (w_acc_parts): its parts into their partials, all products of all groups
//     at once (a part is one job, or a few column slices of it when there are more threads than parts);
//  2. per (group, column block), the group's products in order on its block: a product of parts adds its partials, any
//     other runs its tiles (or the untiled form's 256-column blocks) on dx. Without products of parts only this pass
//     runs, as before the parts existed. No two jobs write one dx entry.
void matmul_w_acc_groups(const MatmulAccGroup* groups, int ng) {
  const int nt = threads_count();
  struct PartJob {
    const MatmulAccGroup* g;
    int i;         // the product within its group
    float* part;   // its partial [R, in]
    int o0, o1;    // its weight rows
    int c0, c1;    // its columns
    int cb;        // their block width
  };
  struct Job {
    const MatmulAccGroup* g;
    int c0, n;
    int64_t parts_at;  // the group's first partial in `partials` (its products of parts in order, each P of them)
  };
  thread_local std::vector<Job> jobs;  // kept across calls: the step calls this twice per MoE layer
  thread_local std::vector<PartJob> part_jobs;
  thread_local std::vector<int64_t> parts_at;
  PartialsLease lease;
  std::vector<float>& partials = *lease.v;
  jobs.clear();
  part_jobs.clear();
  parts_at.assign(ng, -1);
  int64_t macs = 0, floats = 0;
  for (int gi = 0; gi < ng; gi++) {
    const MatmulAccGroup& g = groups[gi];
    if (g.R == 0 || g.count == 0) continue;
    const int in = g.Ws[0].cols;
    for (int i = 0; i < g.count; i++) {
      const int P = w_acc_parts(g.R, g.Ws[i]);
      if (P == 1) continue;
      if (parts_at[gi] < 0) parts_at[gi] = floats;
      floats += (int64_t)P * g.R * in;
    }
  }
  if (floats > 0 && partials.size() < (size_t)floats) partials.resize((size_t)floats);
  for (int gi = 0; gi < ng; gi++) {
    const MatmulAccGroup& g = groups[gi];
    if (g.R == 0 || g.count == 0) continue;
    const int in = g.Ws[0].cols;
    bool tiled = false;
    int unit = 64;
    bool quantised = false;
    int64_t at = parts_at[gi];
    for (int i = 0; i < g.count; i++) {
      macs += (int64_t)g.R * in * g.Ws[i].rows;
      tiled = tiled || w_acc_is_tiled(g.R, g.Ws[i]);
      unit = std::max(unit, w_acc_tiled_unit(g.Ws[i]));
      quantised = quantised || dtype_quantised(g.Ws[i].dtype);
      const int P = w_acc_parts(g.R, g.Ws[i]);
      if (P == 1) continue;
      // with more threads than parts, each part's columns in `slices` (each of whole blocks)
      const int slices = (nt + P - 1) / P, cb = w_acc_tiled_width(in, w_acc_tiled_unit(g.Ws[i]), slices,
                                                                    dtype_quantised(g.Ws[i].dtype));
      const int nb = (in + cb - 1) / cb;
      for (int k = 0; k < P; k++) {
        int o0, o1;
        w_acc_part_rows(g.Ws[i].rows, P, k, &o0, &o1);
        for (int s = 0; s < slices; s++) {
          const int c0 = std::min(in, nb * s / slices * cb), c1 = std::min(in, nb * (s + 1) / slices * cb);
          if (c0 < c1) part_jobs.push_back({&g, i, partials.data() + at + (int64_t)k * g.R * in, o0, o1, c0, c1, cb});
        }
      }
      at += (int64_t)P * g.R * in;
    }
    const int CB = tiled ? w_acc_tiled_width(in, unit, nt, quantised) : W_ACC_BC;
    for (int c0 = 0; c0 < in; c0 += CB) jobs.push_back({&g, c0, c0 + CB < in ? CB : in - c0, parts_at[gi]});
  }
  const bool serial = macs < SERIAL_MACS;
  if (!part_jobs.empty()) {
    const PartJob* pj = part_jobs.data();
    auto parts_body = [pj](int j0, int j1, int) {
      for (int j = j0; j < j1; j++) {
        const PartJob& J = pj[j];
        const MatmulAccGroup& g = *J.g;
        const int in = g.Ws[0].cols;
        for (int r = 0; r < g.R; r++) std::memset(J.part + (int64_t)r * in + J.c0, 0, sizeof(float) * (J.c1 - J.c0));
        for (int c0 = J.c0; c0 < J.c1; c0 += J.cb)
          w_acc_tiled_block(J.part, g.dys[J.i], g.R, g.Ws[J.i], J.o0, J.o1, c0, std::min(J.cb, J.c1 - c0));
      }
    };
    const int np = (int)part_jobs.size();
    if (serial) parts_body(0, np, 0);
    else parallel_for(np, parts_body, np);
  }
  const Job* jb = jobs.data();
  const float* pbase = partials.data();
  auto body = [jb, pbase](int j0, int j1, int) {
    thread_local std::vector<float> w4;
    w4.resize(4 * W_ACC_BC);
    for (int j = j0; j < j1; j++) {
      const Job& J = jb[j];
      const MatmulAccGroup& g = *J.g;
      const int in = g.Ws[0].cols;
      const float* parts = pbase + (J.parts_at >= 0 ? J.parts_at : 0);
      for (int i = 0; i < g.count; i++) {
        const int P = w_acc_parts(g.R, g.Ws[i]);
        if (P > 1) {  // dx += ((p0 + p1) + p2) + p3
          for (int r = 0; r < g.R; r++) {
            float* d = g.dx + (int64_t)r * in + J.c0;
            const float* p = parts + (int64_t)r * in + J.c0;
            const int64_t step = (int64_t)g.R * in;
            for (int c = 0; c < J.n; c++) {
              float s = p[c];
              for (int k = 1; k < P; k++) s += p[k * step + c];
              d[c] += s;
            }
          }
          parts += (int64_t)P * g.R * in;
        } else if (w_acc_is_tiled(g.R, g.Ws[i])) {
          w_acc_tiled_block(g.dx, g.dys[i], g.R, g.Ws[i], 0, g.Ws[i].rows, J.c0, J.n);
        } else {  // the untiled form's 256-column blocks within this one (block starts stay multiples of 16 columns,
                  // so the vector kernel's tail is still only the matrix's last columns)
          for (int c = J.c0; c < J.c0 + J.n; c += W_ACC_BC)
            w_acc_rows_block(g.dx, g.dys[i], g.R, g.Ws[i], 1.f, c, std::min(W_ACC_BC, J.c0 + J.n - c), w4.data());
        }
      }
    }
  };
  const int nj = (int)jobs.size();
  if (serial) body(0, nj, 0);
  else parallel_for(nj, body, nj / 8);
}

void matmul_tn(float* C, const float* A, const float* B, int T, int a, int b) {
  parallel_for(a, [&](int i0, int i1, int) {
    for (int i = i0; i < i1; i++) {
      float* c = C + (int64_t)i * b;
      std::memset(c, 0, sizeof(float) * b);
      for (int t = 0; t < T; t++) {
        float s = A[(int64_t)t * a + i];
        if (s == 0.f) continue;
        const float* br = B + (int64_t)t * b;
        for (int j = 0; j < b; j++) c[j] += s * br[j];
      }
    }
  });
}

// ---- RMSNorm -----------------------------------------------------------------------------------------
// A row's double sums and its element loops are the kernel path's (kernels_isa.inc: sum_sq_f64, dot3_f64 in 8 lanes;
// they were scalar double adds and baseline SSE2 loops here: the norm phases of a Qwen3-0.6B step, per-head q/k norms
// included, measured 8.9 ms, 5.5 ms after); each row is one call and its sums do not depend on the rows beside it, so
// a phrase's rows and a generated token's get the same rstd.
void rmsnorm_forward(float* y, float* rstd, const float* x, const float* w, int T, int D, float eps) {
  const KernelTable* k = kern();
  for (int t = 0; t < T; t++) {
    const float* xt = x + (int64_t)t * D;
    const float r = (float)(1.0 / std::sqrt(k->sum_sq_f64(xt, D) / D + eps));
    if (rstd) rstd[t] = r;
    k->rms_scale_row(y + (int64_t)t * D, xt, w, r, D);
  }
}

void rmsnorm_backward(float* dx, float* dw, const float* dy, const float* x, const float* w, const float* rstd,
                      int T, int D) {
  const KernelTable* k = kern();
  for (int t = 0; t < T; t++) {  // rows in order: each dw[i] sums t = 0, 1, …
    const float* xt = x + (int64_t)t * D;
    const float* dyt = dy + (int64_t)t * D;
    const float r = rstd[t];
    const float c = (float)(k->dot3_f64(dyt, w, xt, D) * r * r * r / D);  // Σ dy·w·x of the row
    k->rms_backward_row(dx + (int64_t)t * D, dw, dyt, xt, w, r, c, D);
  }
}

// ---- RoPE --------------------------------------------------------------------------------------------
void rope_default_inv_freq(float* inv_freq, int hd, double theta) {
  for (int i = 0; i < hd / 2; i++) {
    // As HF computes it: the exponent in float32, then 1 / θ^e rounded to float32.
    float expo = (float)(2 * i) / (float)hd;
    inv_freq[i] = (float)(1.0 / (double)(float)std::pow(theta, (double)expo));
  }
}

void rope_tables(float* cos_t, float* sin_t, int max_pos, int rot, const float* inv_freq, float scale) {
  int half = rot / 2;
  for (int i = 0; i < half; i++) {
    float inv = inv_freq[i];
    for (int p = 0; p < max_pos; p++) {
      float a = inv * (float)p;  // HF: inv_freq @ position_ids in float32
      float c = (float)std::cos((double)a), s = (float)std::sin((double)a);
      cos_t[p * half + i] = scale == 1.f ? c : c * scale;
      sin_t[p * half + i] = scale == 1.f ? s : s * scale;
    }
  }
}

void rope_apply(float* x, int T, int nh, int hd, int rot, int pos0, const float* cos_t, const float* sin_t,
                bool inverse, bool interleaved) {
  int half = rot / 2;
  // frequency i rotates the pair (v[i], v[i + half]) in HF's layout, (v[2i], v[2i + 1]) in Meta's
  const int stride = interleaved ? 2 : 1, partner = interleaved ? 1 : half;
  for (int t = 0; t < T; t++) {
    const float* c = cos_t + (int64_t)(pos0 + t) * half;
    const float* s = sin_t + (int64_t)(pos0 + t) * half;
    for (int h = 0; h < nh; h++) {
      float* v = x + (int64_t)t * nh * hd + h * hd;
      for (int i = 0; i < half; i++) {
        float* pa = v + i * stride;
        float a = pa[0], b = pa[partner], sn = inverse ? -s[i] : s[i];
        pa[0] = a * c[i] - b * sn;
        pa[partner] = b * c[i] + a * sn;
      }
    }
  }
}

// The gated activations run over T·F values of a phrase (13 × 6912 × tanh or exp per layer for a 1B model, tens of
// milliseconds per step on one thread): split over the threads in runs of at least ELEM_CHUNK values; a generated
// token's few thousand values stay on the calling thread. Each value is computed as alone, so results do not depend
// on the split.
static const int ELEM_CHUNK = 8192;
template <typename Fn>
static void parallel_elems(int n, const Fn& fn) {
  const int chunks = (n + ELEM_CHUNK - 1) / ELEM_CHUNK;
  if (chunks <= 1) {
    fn(0, n);
    return;
  }
  parallel_for(chunks, [&](int c0, int c1, int) { fn(c0 * ELEM_CHUNK, std::min(n, c1 * ELEM_CHUNK)); });
}

// ---- SwiGLU, GeGLU (in place allowed: dg may be g, du may be u) ----------------------------------------------
// The element loops are the kernel path's (kernels_isa.inc: σ and GeGLU's tanh vectorized); a value does not depend on
// where its chunk starts.
void swiglu_forward(float* m, const float* g, const float* u, int n) {
  const KernelTable* k = kern();
  parallel_elems(n, [&](int i0, int i1) { k->swiglu_fwd(m + i0, g + i0, u + i0, i1 - i0); });
}

void swiglu_backward(float* dg, float* du, const float* dm, const float* g, const float* u, int n) {
  const KernelTable* k = kern();
  parallel_elems(n, [&](int i0, int i1) { k->swiglu_bwd(dg + i0, du + i0, dm + i0, g + i0, u + i0, i1 - i0); });
}

void geglu_forward(float* m, const float* g, const float* u, int n) {
  const KernelTable* k = kern();
  parallel_elems(n, [&](int i0, int i1) { k->geglu_fwd(m + i0, g + i0, u + i0, i1 - i0); });
}

void geglu_backward(float* dg, float* du, const float* dm, const float* g, const float* u, int n) {
  const KernelTable* k = kern();
  parallel_elems(n, [&](int i0, int i1) { k->geglu_bwd(dg + i0, du + i0, dm + i0, g + i0, u + i0, i1 - i0); });
}

void swiglu_clamped_forward(float* m, const float* g, const float* u, int n, float alpha, float limit) {
  for (int i = 0; i < n; i++) {
    const float gc = std::min(g[i], limit), uc = std::min(std::max(u[i], -limit), limit);
    const float glu = gc / (1.f + std::exp(-alpha * gc));
    m[i] = (uc + 1.f) * glu;
  }
}

void swiglu_clamped_backward(float* dg, float* du, const float* dm, const float* g, const float* u, int n, float alpha,
                             float limit) {
  for (int i = 0; i < n; i++) {
    const float gc = std::min(g[i], limit), uc = std::min(std::max(u[i], -limit), limit);
    const float sg = 1.f / (1.f + std::exp(-alpha * gc));
    du[i] = u[i] >= -limit && u[i] <= limit ? dm[i] * gc * sg : 0.f;
    // d(g·σ(αg))/dg = σ + α·g·σ·(1 − σ)
    dg[i] = g[i] <= limit ? dm[i] * (uc + 1.f) * (sg + alpha * gc * sg * (1.f - sg)) : 0.f;
  }
}

// ---- attention ---------------------------------------------------------------------------------------
void attention_forward(float* out, float* probs, const float* q, const float* k, const float* v, int M, int pos0,
                       int H, int KVH, int hd, const AttnOpts& o) {
  const int Tk = pos0 + M, group = H / KVH, window = o.window;
  const float scale = o.scale, cap = o.softcap;
  const KernelTable* kt = kern();
  parallel_for(H * M, [&](int j0, int j1, int) {
    std::vector<float> s(Tk);
    for (int j = j0; j < j1; j++) {
      int h = j / M, m = j % M, g = h / group, n = pos0 + m + 1;
      int u0 = window > 0 && n > window ? n - window : 0;  // first visible key: (pos0 + m) − u0 = window − 1
      const float* qh = q + (int64_t)m * H * hd + h * hd;
      float mx = -INFINITY;
      for (int u = u0; u < n; u++) {
        s[u] = dot_f32(qh, k + (int64_t)u * KVH * hd + g * hd, hd) * scale;
        if (cap > 0) s[u] = cap * std::tanh(s[u] / cap);
        if (s[u] > mx) mx = s[u];
      }
      const float sink = o.sinks ? o.sinks[h] : -INFINITY;
      if (sink > mx) mx = sink;
      double z = o.sinks ? std::exp((double)sink - mx) : 0.0;  // the sink's column: in the sum, not in the output
      for (int u = u0; u < n; u++) {
        s[u] = std::exp(s[u] - mx);
        z += s[u];
      }
      float iz = (float)(1.0 / z);
      float* oh = out + (int64_t)m * H * hd + h * hd;
      std::memset(oh, 0, sizeof(float) * hd);
      for (int u = u0; u < n; u++) {
        float p = s[u] * iz;
        s[u] = p;
        kt->axpy_f32(oh, p, v + (int64_t)u * KVH * hd + g * hd, hd);
      }
      if (probs) {
        float* pr = probs + ((int64_t)h * M + m) * Tk;
        for (int u = 0; u < Tk; u++) pr[u] = u >= u0 && u < n ? s[u] : 0.f;
      }
    }
  });
}

// the sink's probability in one row: exp(sink − logsumexp(scores ∪ {sink})), the scores recomputed from q·k
static double sink_probability(const float* qt, const float* k, int u0, int t, int KVH, int g, int hd,
                               const AttnOpts& o, float sink) {
  std::vector<float> s(t + 1 - u0);
  float mx = sink;
  for (int u = u0; u <= t; u++) {
    float x = dot_f32(qt, k + (int64_t)u * KVH * hd + g * hd, hd) * o.scale;
    if (o.softcap > 0) x = o.softcap * std::tanh(x / o.softcap);
    s[u - u0] = x;
    if (x > mx) mx = x;
  }
  double z = std::exp((double)sink - mx);
  for (float x : s) z += std::exp((double)x - mx);
  return std::exp((double)sink - mx) / z;
}

void attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* probs, const float* q,
                        const float* k, const float* v, int T, int H, int KVH, int hd, const AttnOpts& o,
                        float* dsinks) {
  const int group = H / KVH, window = o.window;
  const float scale = o.scale, cap = o.softcap;
  std::memset(dq, 0, sizeof(float) * (int64_t)T * H * hd);
  std::memset(dk, 0, sizeof(float) * (int64_t)T * KVH * hd);
  std::memset(dv, 0, sizeof(float) * (int64_t)T * KVH * hd);
  const KernelTable* kt = kern();
  // Parallel over kv heads: each owns its slice of dk/dv; the query heads of its group write disjoint dq slices.
  parallel_for(KVH, [&](int g0, int g1, int) {
    std::vector<float> dp(T);
    for (int g = g0; g < g1; g++) {
      for (int h = g * group; h < (g + 1) * group; h++) {
        for (int t = 0; t < T; t++) {
          const float* pr = probs + ((int64_t)h * T + t) * T;
          const float* dot = dout + (int64_t)t * H * hd + h * hd;
          const int u0 = window > 0 && t + 1 > window ? t + 1 - window : 0;
          // dp[u] = dout·v[u];  dv[u] += p[u]·dout
          double sum = 0;
          for (int u = u0; u <= t; u++) {
            const float* vu = v + (int64_t)u * KVH * hd + g * hd;
            dp[u] = dot_f32(dot, vu, hd);
            sum += (double)dp[u] * pr[u];
            kt->axpy_f32(dv + (int64_t)u * KVH * hd + g * hd, pr[u], dot, hd);
          }
          // softmax backward: ds[u] = p[u]·(dp[u] − Σ p·dp); scores = q·k·scale
          const float* qt = q + (int64_t)t * H * hd + h * hd;
          float* dqt = dq + (int64_t)t * H * hd + h * hd;
          // the sink's column has dp = 0: its logit's gradient is p_sink·(0 − Σ p·dp); the keys' formula is unchanged
          if (o.sinks && dsinks) dsinks[h] -= (float)(sink_probability(qt, k, u0, t, KVH, g, hd, o, o.sinks[h]) * sum);
          for (int u = u0; u <= t; u++) {
            float ds = pr[u] * (dp[u] - (float)sum) * scale;
            if (ds == 0.f) continue;
            const float* ku = k + (int64_t)u * KVH * hd + g * hd;
            if (cap > 0) {  // through cap·tanh(x / cap): × (1 − tanh²), x recomputed from q·k
              const float th = std::tanh(dot_f32(qt, ku, hd) * scale / cap);
              ds *= 1.f - th * th;
            }
            kt->axpy_f32(dqt, ds, ku, hd);
            kt->axpy_f32(dk + (int64_t)u * KVH * hd + g * hd, ds, qt, hd);
          }
        }
      }
    }
  });
}

void max_abs_bits_spans(const Floats* spans, int n, uint32_t* bits) {
  const int64_t PIECE = 1 << 18;  // values: 1 MiB, enough to keep a hand-off's cost small
  struct Piece {
    int span;
    int64_t i0, n;
  };
  std::vector<Piece> pieces;
  for (int s = 0; s < n; s++)
    for (int64_t i = 0, len = (int64_t)spans[s].n; i < len; i += PIECE) pieces.push_back({s, i, std::min(PIECE, len - i)});
  std::vector<uint32_t> got(pieces.size());
  const KernelTable* k = kern();
  parallel_for((int)pieces.size(), [&](int p0, int p1, int) {
    for (int p = p0; p < p1; p++) got[p] = k->max_abs_bits(spans[pieces[p].span].p + pieces[p].i0, pieces[p].n);
  }, (int)pieces.size());
  for (int s = 0; s < n; s++) bits[s] = 0;
  for (size_t p = 0; p < pieces.size(); p++) bits[pieces[p].span] = std::max(bits[pieces[p].span], got[p]);
}

double logsumexp(const float* x, int n) {
  float mx = -INFINITY;
  for (int i = 0; i < n; i++)
    if (x[i] > mx) mx = x[i];
  double z = 0;
  for (int i = 0; i < n; i++) z += std::exp((double)x[i] - mx);
  return mx + std::log(z);
}
