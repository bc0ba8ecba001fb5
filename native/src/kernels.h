// Numeric kernels, independent of the model: matrix products that read weights in their stored dtype with fp32
// accumulation, RMSNorm, RoPE, SiLU, causal attention. Forward and backward of each op sit next to each other.
// All activations are fp32, row-major.
#pragma once
#include <cstdint>

#include "dtype.h"
#include "floats.h"

// A row-major matrix [rows, cols] in its stored dtype (weights mmap'd from the checkpoint, or fp32 factors).
struct Mat {
  const void* data = nullptr;
  DType dtype = DT_F32;
  int rows = 0;
  int cols = 0;
};

static inline Mat mat_f32(const float* p, int rows, int cols) {
  Mat m;
  m.data = p;
  m.dtype = DT_F32;
  m.rows = rows;
  m.cols = cols;
  return m;
}

// W row `row` converted to fp32 into out[W.cols]
void mat_row_f32(const Mat& W, int row, float* out);
// dot(x[n], W[row, c0 : c0 + n]) in fp32
float dot_row(const float* x, const Mat& W, int row, int c0, int n);

// ---- linear: y = x Wᵀ and its input gradient dx = dy W -------------------------------------------
// y[R, W.rows] = x[R, W.cols] · Wᵀ   (overwrites y)
void matmul_wt(float* y, const float* x, int R, const Mat& W);
// ys[i][R, Ws[i].rows] = x[R, cols] · Ws[i]ᵀ for `count` matrices sharing their input (q/k/v, gate/up): one parallel
// pass over all their rows, so the threads meet once instead of once per matrix
void matmul_wt_fused(float* const* ys, const float* x, int R, const Mat* Ws, int count);
// Several such groups, each with its own input (the routed experts of a MoE layer: each expert's gate and up on the
// rows routed to it), in one parallel pass over all their rows. A group's results are those matmul_wt_fused gives it.
struct MatmulGroup {
  const float* x;     // [R, Ws[0].cols]
  int R;
  const Mat* Ws;      // [count], sharing their column count
  float* const* ys;   // [count] outputs [R, Ws[i].rows]
  int count;
};
void matmul_wt_groups(const MatmulGroup* groups, int n);
// dx[R, W.cols] += scale · dy[R, W.rows] · W
void matmul_w_acc(float* dx, const float* dy, int R, const Mat& W, float scale);
// Several such products in one parallel pass (the routed experts of a MoE layer in the step's backward: each expert's
// down on its rows, or its gate and up into the same dx): group g gets dx += Σ_i dys[i]·Ws[i], the products in order,
// its results exactly those of matmul_w_acc(dx, dys[i], R, Ws[i], 1) in turn; groups write disjoint dx.
struct MatmulAccGroup {
  float* dx;                // [R, Ws[0].cols]
  int R;
  const Mat* Ws;            // [count], sharing their column count
  const float* const* dys;  // [count] [R, Ws[i].rows]
  int count;
};
void matmul_w_acc_groups(const MatmulAccGroup* groups, int n);
// C[A.cols, B.cols] = Aᵀ · B with A [T, a], B [T, b] fp32 (small T): used for dense gradients on export
void matmul_tn(float* C, const float* A, const float* B, int T, int a, int b);

// ---- RMSNorm: y = x · rstd · w, rstd = 1/sqrt(mean(x²) + eps) ---------------------------------------
// x [T, D], w [D] → y [T, D], rstd [T]
void rmsnorm_forward(float* y, float* rstd, const float* x, const float* w, int T, int D, float eps);
// dx [T, D] += ∂L/∂x ; dw [D] += ∂L/∂w  given dy [T, D]
void rmsnorm_backward(float* dx, float* dw, const float* dy, const float* x, const float* w, const float* rstd,
                      int T, int D);

// ---- RoPE: HF "rotate_half" layout (pairs (i, i + hd/2) of each head) or Meta's interleaved one (2i, 2i+1) ----
// inv_freq[hd/2] of default RoPE, θ^(−2i/hd), as HF computes it (float32 exponent, rounded to float32)
void rope_default_inv_freq(float* inv_freq, int hd, double theta);
// cos/sin tables [max_pos, rot/2] from any inverse frequencies (default, llama3, linear, yarn …): angle = inv·p in
// float32; both tables multiplied by `scale` (HF's attention_scaling: YaRN's / longrope's attention factor, else 1)
void rope_tables(float* cos_t, float* sin_t, int max_pos, int rot, const float* inv_freq, float scale);
// x [T, nh·hd], token t at position pos0 + t, rotated in place (inverse = true rotates by −θ: the backward). Only the
// first `rot` ≤ hd values of each head rotate (partial rotary, Phi-3/4: pairs (i, i + rot/2)); the rest pass through.
void rope_apply(float* x, int T, int nh, int hd, int rot, int pos0, const float* cos_t, const float* sin_t,
                bool inverse, bool interleaved);

// ---- SiLU-gated MLP: m = silu(g) · u ------------------------------------------------------------------------
void swiglu_forward(float* m, const float* g, const float* u, int n);
// dg, du (overwritten) from dm; in place allowed (dg = g, du = u)
void swiglu_backward(float* dg, float* du, const float* dm, const float* g, const float* u, int n);

// ---- GeGLU MLP (Gemma): m = gelu_tanh(g) · u, gelu_tanh(x) = x/2·(1 + tanh(√(2/π)·(x + 0.044715·x³))) --------------
void geglu_forward(float* m, const float* g, const float* u, int n);
// dg, du (overwritten) from dm, in place allowed (dg = g, du = u); the tanh values are recomputed (vectorized: cheaper
// than keeping T·F more floats from the forward)
void geglu_backward(float* dg, float* du, const float* dm, const float* g, const float* u, int n);

// ---- GPT-OSS's clamped SwiGLU: m = (clamp(u, −limit, limit) + 1) · g′·σ(alpha·g′), g′ = min(g, limit) ----------------
void swiglu_clamped_forward(float* m, const float* g, const float* u, int n, float alpha, float limit);
// dg, du (overwritten) from dm; a clamped value passes no gradient (torch's clamp: only where min ≤ x ≤ max)
void swiglu_clamped_backward(float* dg, float* du, const float* dm, const float* g, const float* u, int n, float alpha,
                             float limit);

// ---- causal attention with grouped key/value heads and an optional sliding window ------------------------
struct AttnOpts {
  int window = 0;      // > 0: a query at p sees keys u with p − u < window
  float scale = 1.f;   // scores = q·k × scale
  float softcap = 0.f; // > 0: scores ← softcap·tanh(scores / softcap) before the softmax (Gemma 2)
  // [H] or null. GPT-OSS's attention sinks: head h's learned logit sinks[h] joins every row's softmax as one more
  // column with no value — p[u] = exp(s[u]) / (Σ exp(s) + exp(sinks[h])), so a row's weights sum to less than 1
  const float* sinks = nullptr;
};
// q [M, H·hd] for positions pos0 … pos0+M-1; k, v [pos0+M, KVH·hd] (all keys so far); out [M, H·hd].
// window > 0: query at position p sees keys u with p − u < window (Mistral's sliding window, as HF masks it);
// window = 0: every earlier key (o.window). scores = q·k × o.scale (Llama: hd^−½), capped when o.softcap > 0.
// probs [H, M, pos0+M] is written when not null (needed by the backward; masked entries are exactly 0).
void attention_forward(float* out, float* probs, const float* q, const float* k, const float* v, int M, int pos0,
                       int H, int KVH, int hd, const AttnOpts& o);
// Training case pos0 = 0, M = T. dq [T, H·hd], dk, dv [T, KVH·hd] are overwritten. Keys outside the window have
// probability 0, so they receive no gradient; `window` only skips them. With o.sinks, dsinks [H] += ∂L/∂sinks:
// the sink column's softmax gradient, −p_sink·Σ_u p[u]·(dout·v[u]) per row (its value is 0).
void attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* probs, const float* q,
                        const float* k, const float* v, int T, int H, int KVH, int hd, const AttnOpts& o,
                        float* dsinks = nullptr);

// ---- scans -------------------------------------------------------------------------------------------------------
// bits[s] = the kernel path's max_abs_bits of span s (the bits of its largest |value|; ≥ 0x7f800000 when it holds
// ±inf or NaN; 0 when empty), in one parallel pass over pieces of all the spans
void max_abs_bits_spans(const Floats* spans, int n, uint32_t* bits);

// ---- softmax / log-softmax over one row ------------------------------------------------------------------
// returns logsumexp(x[0:n])
double logsumexp(const float* x, int n);
