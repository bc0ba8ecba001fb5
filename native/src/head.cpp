// The step's output head in one pass over the table: the logits and the head's input gradient dxf together, block by
// block of vocabulary rows, each block read from memory once (for its logits) and used again from the thread's L2 (for
// its part of dxf). Today's two passes (head_forward, then head_backward_input after the softmax) each stream the whole
// table (Gemma 3: 262144 × 1152 F16 = 604 MB), at about half of the FMA peak the same kernels reach from cache.
//
// dxf needs the softmax's probabilities, which need every logit of the row first: the pass keeps, per token t, a
// running max m_t, a running sum Z_t = Σ_v e^{l_tv − m_t} and an unnormalised accumulator
// acc_t = Σ_v e^{l_tv − m_t}·c_tv·W_v, both rescaled by e^{m_old − m_new} when a block raises m_t (flash attention's
// online softmax). c_tv is the derivative of the final transform l = cap·tanh((W_v·x_t ÷ div) / cap) with respect to
// W_v·x_t: (1 − tanh²) ÷ div. At the end
//   dxf_t = (acc_t / Z_t − c_{t,y}·W_{y}) / (T − 1),  y = ids[t + 1], t < T − 1  (the last position predicts nothing)
// which is Σ_v dlogits_tv·W_v with today's dlogits = (p − onehot)/(T − 1)·c.
//
// The logits come from the same forward kernel (matmul_wt) on blocks aligned to its 24-row tiles, so they are bit for
// bit those of head_forward, and the loss and dlogits computed from them afterwards (model.cpp) are unchanged. dxf's
// summation order differs from matmul_w_acc's over the whole table (its bits move, within rounding). The vocabulary is
// cut into a fixed number of contiguous parts, each with its own (m, Z, acc), merged in part order at the end: the
// result does not depend on the thread count.
//
// Measured (this 2-core Zen 5 shared with other builds, load 3–5, one thread, CPU time of the step's thread):
// per block the logits product still streams the table (Qwen3-0.6B 36 ms, Gemma-3-1B 69 ms, as head_forward), the
// dxf product from L2 takes Qwen3 24 ms, Gemma 46 ms (the two-pass backward: 27–35, 48–50: at one thread that kernel
// is compute-limited, cache or not), the online softmax and the logits' final transform 5 and 9 ms. Prefetching the
// next block into L2 (all at once after the logits, or a third after each 64-row run of the dxf product) moved time
// from the logits product to the prefetch and gained nothing. Where the pass should gain is two threads: there each
// thread streams its own blocks for both products, where matmul_w_acc splits the columns and every thread walks every
// row; not measurable under this load (SOLILOQUY_HEAD_TWO_PASS=1 takes the two passes, for comparing them idle).
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "kernel_paths.h"
#include "model.h"
#include "quants.h"
#include "threads.h"

namespace {
// Rows of the table per block: a multiple of the forward kernel's 24-row tiles (so a block's tiles are those of the
// whole product) and of 64 (the backward kernel's column slices of the block's [T, rows] factor). 192 F16 rows of
// 1152 columns are 432 KiB: with x and the part's accumulator they stay in Zen 5's 1 MiB L2 between the two products.
const int HEAD_BLOCK = 192;
// Parts of the vocabulary, each with its own running max, sum and accumulator: a fixed count (not one per thread),
// so the merge order, hence the result, is the same on any machine; enough for the threads to share them evenly.
const int HEAD_PARTS = 32;
// The fused pass keeps HEAD_PARTS accumulators of [T − 1, D] floats: longer phrases take the two passes (at T = 64,
// D = 4096 that is 32 MiB; the table's second read matters less once the products are compute-bound).
const int HEAD_FUSED_MAX_T = 64;

// One part's state: the online softmax of each token over the part's vocabulary rows.
struct HeadPart {
  int b0, b1;       // its blocks [b0, b1) of HEAD_BLOCK rows
  double* z;        // [T − 1] Σ e^{l − m} over its rows so far
  float* mx;        // [T − 1] running max (−inf before its first block)
  float* acc;       // [T − 1, D] Σ e^{l − m}·c·W_v
};

Mat table_rows(const Mat& W, int v0, int n) {  // rows v0 … v0 + n − 1 of W, as a matrix of their own
  Mat b = W;
  b.data = (const char*)W.data + (int64_t)v0 * (int64_t)dtype_row_bytes(W.dtype, W.cols);
  b.rows = n;
  return b;
}
}  // namespace

bool head_fused_covers(int T, const View& at) {
  // SOLILOQUY_HEAD_TWO_PASS=1: the two passes always (for measuring one against the other; read once)
  static const bool two_pass = [] {
    const char* v = std::getenv("SOLILOQUY_HEAD_TWO_PASS");
    return v && *v && std::strcmp(v, "0") != 0;
  }();
  if (two_pass || T < 2 || T > HEAD_FUSED_MAX_T) return false;
  // a view's terms on the head (its low-rank factor, a tied head's sparse embedding rows) add to head_forward's and
  // head_backward_input's products: those take the two passes
  for (const Term& t : at)
    if (t.coef != 0.f) return false;
  return true;
}

void head_fused(const Model& m, float* logits, float* dxf, const float* xf, const int* ids, int T, StepMemory& scratch) {
  const Config& c = m.cfg;
  const int D = c.dim, V = c.vocab, R = T - 1;
  const Mat& W = m.head;  // [V, D]
  const float div = 1.f / c.logit_divisor, cap = c.final_softcap;
  const bool chain = cap > 0 || div != 1.f;  // c_tv ≠ 1
  const KernelTable* kt = kern();
  const int nblocks = (V + HEAD_BLOCK - 1) / HEAD_BLOCK;
  const int nparts = std::min(HEAD_PARTS, nblocks);
  std::vector<HeadPart> parts(nparts);
  double* zs = scratch.doubles((size_t)nparts * R);
  Floats mxs = scratch.uninit((size_t)nparts * R), accs = scratch.zeros((size_t)nparts * R * D);
  for (int p = 0; p < nparts; p++) {
    HeadPart& P = parts[p];
    P.b0 = (int)((int64_t)nblocks * p / nparts);
    P.b1 = (int)((int64_t)nblocks * (p + 1) / nparts);
    P.z = zs + (size_t)p * R;
    P.mx = mxs.data() + (size_t)p * R;
    P.acc = accs.data() + (size_t)p * R * D;
    std::fill(P.z, P.z + R, 0.0);
    std::fill(P.mx, P.mx + R, -std::numeric_limits<float>::infinity());
  }
  parallel_for(
      nparts,
      [&](int p0, int p1, int) {
        // per thread: the block's product [T, rows] and its factor for the backward [R, rows]
        std::vector<float> yb((size_t)T * HEAD_BLOCK), ab((size_t)R * HEAD_BLOCK);
        for (int p = p0; p < p1; p++) {
          HeadPart& P = parts[p];
          for (int b = P.b0; b < P.b1; b++) {
            const int v0 = b * HEAD_BLOCK, n = std::min(HEAD_BLOCK, V - v0);
            const Mat Wb = table_rows(W, v0, n);
            matmul_wt(yb.data(), xf, T, Wb);  // inside a worker: serial
            // the logits as head_forward + model.cpp's final transform leave them: ÷ logit_divisor, then the cap
            for (int t = 0; t < T; t++) {
              float* l = logits + (size_t)t * V + v0;
              const float* y = yb.data() + (size_t)t * n;
              for (int j = 0; j < n; j++) l[j] = final_logit(y[j], div, cap);
            }
            // the online softmax of each predicting row over this block
            for (int t = 0; t < R; t++) {
              const float* l = logits + (size_t)t * V + v0;
              float* a = ab.data() + (size_t)t * n;
              const float bm = kt->max_f32(l, n);
              if (bm > P.mx[t]) {  // a larger max: what the part holds so far scales by e^{m_old − m_new}
                const double s = std::exp((double)P.mx[t] - bm);
                P.z[t] *= s;
                float* acc = P.acc + (size_t)t * D;
                for (int i = 0; i < D; i++) acc[i] *= (float)s;
                P.mx[t] = bm;
              }
              kt->exp_scale(a, l, n, P.mx[t], 1.0);  // e^{l − m} ≤ 1
              float s8[8] = {0, 0, 0, 0, 0, 0, 0, 0};
              int j = 0;
              for (; j + 8 <= n; j += 8)
                for (int k = 0; k < 8; k++) s8[k] += a[j + k];
              for (; j < n; j++) s8[0] += a[j];
              P.z[t] += ((s8[0] + s8[4]) + (s8[1] + s8[5])) + ((s8[2] + s8[6]) + (s8[3] + s8[7]));
              if (chain)
                for (int k = 0; k < n; k++) a[k] = final_logit_grad(a[k], l[k], div, cap);
            }
            matmul_w_acc(P.acc, ab.data(), R, Wb, 1.f);  // acc[R, D] += ab[R, n]·Wb: the block again, from L2
          }
        }
      },
      nparts);
  // the parts merged in part order, then the target's term
  std::vector<float> wy(D);
  for (int t = 0; t < R; t++) {
    float M = -std::numeric_limits<float>::infinity();
    for (const HeadPart& P : parts) M = std::max(M, P.mx[t]);
    double z = 0;
    float* d = dxf + (size_t)t * D;
    std::fill(d, d + D, 0.f);
    for (const HeadPart& P : parts) {
      if (!(P.mx[t] > -std::numeric_limits<float>::infinity())) continue;
      const double s = std::exp((double)P.mx[t] - M);
      z += P.z[t] * s;
      const float fs = (float)s;
      const float* acc = P.acc + (size_t)t * D;
      for (int i = 0; i < D; i++) d[i] += fs * acc[i];
    }
    const int y = ids[t + 1];
    const float ly = logits[(size_t)t * V + y];
    float cy = 1.f;
    if (cap > 0) {
      const float th = ly / cap;
      cy *= 1.f - th * th;
    }
    if (div != 1.f) cy *= div;
    mat_row_f32(W, y, wy.data());
    const float inv_n = 1.f / (float)R, iz = (float)(1.0 / z);
    for (int i = 0; i < D; i++) d[i] = (d[i] * iz - cy * wy[i]) * inv_n;
  }
  std::fill(dxf + (size_t)R * D, dxf + (size_t)T * D, 0.f);
}
