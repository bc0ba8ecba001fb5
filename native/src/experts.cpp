// The mixture-of-experts feed-forward block (Mixtral, Qwen3-MoE, OLMoE, GraniteMoE): a router and E SwiGLU experts
// in place of the dense MLP of a layer. Forward and backward side by side. Shapes: R rows (tokens), D hidden,
// E experts, K experts per token (top_k), Fe the experts' intermediate size.
//
//   p      = softmax(x·Wrᵀ (+ br))             [R, E]   router probabilities (float32, as transformers computes them)
//   S(r)   = the K largest p[r, ·]             (torch.topk: ties to the lower index)
//   w[r,k] = p[r, S_k] (÷ Σ_k p[r, S_k] with norm_topk; GraniteMoE's and GPT-OSS's softmax over the top-k logits is
//            the same)
//   out[r] = Σ_k w[r,k]·down_e(silu(gate_e(x[r]))·up_e(x[r]))   e = S_k(r)
// GPT-OSS (expert_bias, glu_limit): every linear has a bias, and the activation is the clamped SwiGLU (kernels.h)
//
// Each expert runs on the rows routed to it only: generation and the step read the routed experts' weights, not all
// E. The step's factors of an expert are over those rows (LinearFactor::T = their count, 0 for an unused expert); the
// router's factor is over all R rows, with ∂L/∂logits through the combination weights w (autograd's gradient: the
// choice S itself is piecewise constant).
#include <algorithm>
#include <cmath>
#include <cstring>

#include "experts.h"

const char* moe_linear_name(int j) {
  static const char* names[MOE_PER_EXPERT] = {"gate_proj", "up_proj", "down_proj"};
  return names[j];
}

std::string moe_tensor_name(int slot_in_layer) {
  if (slot_in_layer == 0) return "mlp.gate";
  const int e = (slot_in_layer - 1) / MOE_PER_EXPERT, j = (slot_in_layer - 1) % MOE_PER_EXPERT;
  return "mlp.experts." + std::to_string(e) + "." + moe_linear_name(j);
}

void moe_route(const Config& c, const float* logits, int R, int* sel, float* w, float* probs) {
  const int E = c.n_experts, K = c.top_k;
  std::vector<int> idx(E);
  for (int r = 0; r < R; r++) {
    const float* lg = logits + (size_t)r * E;
    float* p = probs + (size_t)r * E;
    float mx = -INFINITY;
    for (int e = 0; e < E; e++) mx = std::max(mx, lg[e]);
    float z = 0;
    for (int e = 0; e < E; e++) z += p[e] = std::exp(lg[e] - mx);
    for (int e = 0; e < E; e++) p[e] /= z;
    for (int e = 0; e < E; e++) idx[e] = e;
    std::partial_sort(idx.begin(), idx.begin() + K, idx.end(), [&](int a, int b) { return p[a] > p[b] || (p[a] == p[b] && a < b); });
    float sum = 0;
    for (int k = 0; k < K; k++) sum += p[idx[k]];
    for (int k = 0; k < K; k++) {
      sel[(size_t)r * K + k] = idx[k];
      w[(size_t)r * K + k] = c.norm_topk ? p[idx[k]] / sum : p[idx[k]];
    }
  }
}

void moe_forward(const Model& m, int l, float* out, const float* x, int R, const std::vector<View>& views,
                 const int* row_view, MoeActs* keep) {
  const Config& c = m.cfg;
  const int D = c.dim, E = c.n_experts, K = c.top_k, Fe = c.expert_ffn;
  const int base = m.moe_base[l];
  // Inference keeps nothing, and generation calls this once per MoE layer per token: its buffers are per thread and
  // kept across calls, so a token allocates nothing here.
  thread_local MoeActs local;
  MoeActs& a = keep ? *keep : local;
  a.R = R;
  a.logits.assign((size_t)R * E, 0.f);
  a.probs.assign((size_t)R * E, 0.f);
  a.sel.assign((size_t)R * K, 0);
  a.w.assign((size_t)R * K, 0.f);
  linear_forward(m, base, a.logits.data(), x, R, views, row_view);
  moe_route(c, a.logits.data(), R, a.sel.data(), a.w.data(), a.probs.data());
  std::memset(out, 0, sizeof(float) * (size_t)R * D);
  // The R·K (row, choice) pairs grouped by expert, experts in order and each expert's rows in order (a counting
  // sort): expert e's n_e pairs are at at[e] … at[e+1]−1 of the gathered buffers below. Inference's buffers are per
  // thread and kept across calls; the step's are its MoeActs, read by its backward.
  thread_local MoeRouted local_routed;
  MoeRouted& b = keep ? keep->routed : local_routed;
  std::vector<int>&at = b.at, &rows = b.rows, &ks = b.ks;
  std::vector<float>&X = b.x, &G = b.g, &U = b.u, &MM = b.mm, &Y = b.y;
  thread_local std::vector<int> rv, used;
  thread_local std::vector<LinearGroup> groups;
  at.assign(E + 1, 0);
  for (int i = 0; i < R * K; i++) at[a.sel[i] + 1]++;
  for (int e = 0; e < E; e++) at[e + 1] += at[e];
  const int P = R * K;
  rows.resize(P);
  ks.resize(P);
  rv.resize(P);
  {
    thread_local std::vector<int> fill;
    fill.assign(at.begin(), at.end() - 1);
    for (int r = 0; r < R; r++)
      for (int k = 0; k < K; k++) {
        const int i = fill[a.sel[(size_t)r * K + k]]++;
        rows[i] = r;
        ks[i] = k;
        rv[i] = row_view ? row_view[r] : 0;
      }
  }
  X.resize((size_t)P * D);
  G.resize((size_t)P * Fe);
  U.resize((size_t)P * Fe);
  MM.resize((size_t)P * Fe);
  Y.resize((size_t)P * D);
  for (int i = 0; i < P; i++) std::memcpy(X.data() + (size_t)i * D, x + (size_t)rows[i] * D, sizeof(float) * D);
  // every routed expert's gate and up in one pass over their rows, then every down in one more: the threads meet
  // twice per layer instead of twice per expert (an expert no token chose is not read)
  groups.clear();
  used.clear();
  for (int e = 0; e < E; e++) {
    const int n = at[e + 1] - at[e];
    if (n == 0) continue;
    used.push_back(e);
    const int slot = base + 1 + e * MOE_PER_EXPERT;
    LinearGroup g{};
    g.x = X.data() + (size_t)at[e] * D;
    g.R = n;
    g.row_view = rv.data() + at[e];
    g.slots[0] = slot + MOE_GATE;
    g.slots[1] = slot + MOE_UP;
    g.ys[0] = G.data() + (size_t)at[e] * Fe;
    g.ys[1] = U.data() + (size_t)at[e] * Fe;
    g.count = 2;
    groups.push_back(g);
  }
  linear_forward_groups(m, groups.data(), (int)groups.size(), views);
  if (c.glu_limit > 0)  // GPT-OSS
    swiglu_clamped_forward(MM.data(), G.data(), U.data(), P * Fe, c.glu_alpha, c.glu_limit);
  else
    swiglu_forward(MM.data(), G.data(), U.data(), P * Fe);
  for (size_t j = 0; j < groups.size(); j++) {
    LinearGroup& g = groups[j];
    const int e = used[j];
    const size_t i0 = (size_t)at[e];
    g.x = MM.data() + i0 * Fe;
    g.slots[0] = base + 1 + e * MOE_PER_EXPERT + MOE_DOWN;
    g.ys[0] = Y.data() + i0 * D;
    g.count = 1;
  }
  linear_forward_groups(m, groups.data(), (int)groups.size(), views);
  // out[r] += w·y, experts in order (the order of the sums as before: each row's experts by index)
  for (int i = 0; i < P; i++) {
    const float wk = a.w[(size_t)rows[i] * K + ks[i]];
    float* o = out + (size_t)rows[i] * D;
    const float* y = Y.data() + (size_t)i * D;
    for (int d = 0; d < D; d++) o[d] += wk * y[d];
  }
}

void moe_backward(const Model& m, int l, float* dx, const float* dout, const float* x, MoeActs& a, const View& view,
                  Step& s) {
  const Config& c = m.cfg;
  const int D = c.dim, E = c.n_experts, K = c.top_k, Fe = c.expert_ffn, R = a.R, P = R * K;
  const int base = m.moe_base[l];
  MoeRouted& b = a.routed;
  // the factors' X and G are copied into the step's memory (step_memory.h)
  auto set_factor = [&](int slot, int T, int in, int out, Floats X, Floats G) {
    LinearFactor& f = s.lin[slot];
    f.T = T;
    f.in = in;
    f.out = out;
    f.X = X;
    f.G = G;
    if (m.bias(slot)) {  // GPT-OSS: y = x Wᵀ + b, ∂L/∂b = Σ over the rows of ∂L/∂y (zero for an unused expert)
      std::vector<double> acc(out, 0.0);
      for (int t = 0; t < T; t++)
        for (int i = 0; i < out; i++) acc[i] += f.G[(size_t)t * out + i];
      s.bias_grad[slot].assign(acc.begin(), acc.end());
    }
  };
  // out[r] += w·y for each pair i = (r, k): ∂L/∂y_i = w·dout[r], ∂L/∂w[r, k] = dout[r]·y_i
  std::vector<float> dw((size_t)R * K, 0.f), dy((size_t)P * D);
  for (int i = 0; i < P; i++) {
    const int r = b.rows[i];
    const float wk = a.w[(size_t)r * K + b.ks[i]];
    const float* d = dout + (size_t)r * D;
    const float* y = b.y.data() + (size_t)i * D;
    double acc = 0;
    for (int j = 0; j < D; j++) {
      dy[(size_t)i * D + j] = wk * d[j];
      acc += (double)d[j] * y[j];
    }
    dw[(size_t)r * K + b.ks[i]] = (float)acc;
  }
  // every routed expert's down input-gradient in one pass, then (through the activation, elementwise over all the
  // pairs) every gate's and up's into the same dx rows in one more: the threads meet twice per layer, not 3× per
  // expert. The products per expert, and so the sums, are those of linear_backward_input on each expert in turn.
  std::vector<float> dmm((size_t)P * Fe, 0.f), dg((size_t)P * Fe), du((size_t)P * Fe), dxe((size_t)P * D, 0.f);
  std::vector<LinearAccGroup> groups;
  std::vector<int> used;
  for (int e = 0; e < E; e++)
    if (b.at[e + 1] > b.at[e]) used.push_back(e);
  for (int e : used) {
    const size_t i0 = (size_t)b.at[e];
    LinearAccGroup g{};
    g.dx = dmm.data() + i0 * Fe;
    g.R = b.at[e + 1] - b.at[e];
    g.slots[0] = base + 1 + e * MOE_PER_EXPERT + MOE_DOWN;
    g.dys[0] = dy.data() + i0 * D;
    g.count = 1;
    groups.push_back(g);
  }
  linear_backward_input_groups(m, groups.data(), (int)groups.size(), view);
  if (c.glu_limit > 0)
    swiglu_clamped_backward(dg.data(), du.data(), dmm.data(), b.g.data(), b.u.data(), P * Fe, c.glu_alpha, c.glu_limit);
  else
    swiglu_backward(dg.data(), du.data(), dmm.data(), b.g.data(), b.u.data(), P * Fe);
  for (size_t j = 0; j < used.size(); j++) {
    const int e = used[j];
    const size_t i0 = (size_t)b.at[e];
    LinearAccGroup& g = groups[j];
    g.dx = dxe.data() + i0 * D;
    g.slots[0] = base + 1 + e * MOE_PER_EXPERT + MOE_GATE;
    g.slots[1] = base + 1 + e * MOE_PER_EXPERT + MOE_UP;
    g.dys[0] = dg.data() + i0 * Fe;
    g.dys[1] = du.data() + i0 * Fe;
    g.count = 2;
  }
  linear_backward_input_groups(m, groups.data(), (int)groups.size(), view);
  for (int i = 0; i < P; i++) {  // experts in order, each expert's rows in order
    float* o = dx + (size_t)b.rows[i] * D;
    const float* d = dxe.data() + (size_t)i * D;
    for (int j = 0; j < D; j++) o[j] += d[j];
  }
  // each expert's factors over its rows (a zero gradient, over no rows, for an expert no token chose); gate and up
  // share one copy of the rows' inputs
  auto part = [&s](const std::vector<float>& v, size_t i0, size_t i1, int w) {
    return s.memory.copy(v.data() + i0 * w, (i1 - i0) * w);
  };
  for (int e = 0; e < E; e++) {
    const int slot = base + 1 + e * MOE_PER_EXPERT;
    const size_t i0 = (size_t)b.at[e], i1 = (size_t)b.at[e + 1];
    const int n = (int)(i1 - i0);
    set_factor(slot + MOE_DOWN, n, Fe, D, part(b.mm, i0, i1, Fe), part(dy, i0, i1, D));
    const Floats xe = part(b.x, i0, i1, D);
    set_factor(slot + MOE_GATE, n, D, Fe, xe, part(dg, i0, i1, Fe));
    set_factor(slot + MOE_UP, n, D, Fe, xe, part(du, i0, i1, Fe));
  }
  a.routed = MoeRouted{};  // read: free it before the next layer's backward
  // router: w → p of the chosen experts (÷ their sum with norm_topk) → softmax → logits
  std::vector<float> dlogits((size_t)R * E, 0.f);
  std::vector<double> dp(E);
  for (int r = 0; r < R; r++) {
    const float* p = a.probs.data() + (size_t)r * E;
    const int* sel = a.sel.data() + (size_t)r * K;
    const float* w = a.w.data() + (size_t)r * K;
    const float* dwr = dw.data() + (size_t)r * K;
    std::fill(dp.begin(), dp.end(), 0.0);
    if (c.norm_topk) {  // w_k = p_k / Σ p: ∂L/∂p_k = (dw_k − Σ_j dw_j w_j) / Σ p
      double sum = 0, dot = 0;
      for (int k = 0; k < K; k++) {
        sum += p[sel[k]];
        dot += (double)dwr[k] * w[k];
      }
      for (int k = 0; k < K; k++) dp[sel[k]] += (dwr[k] - dot) / sum;
    } else {
      for (int k = 0; k < K; k++) dp[sel[k]] += dwr[k];
    }
    double pdp = 0;
    for (int e = 0; e < E; e++) pdp += p[e] * dp[e];
    for (int e = 0; e < E; e++) dlogits[(size_t)r * E + e] = (float)(p[e] * (dp[e] - pdp));
  }
  linear_backward_input(m, base, dx, dlogits.data(), R, view);
  set_factor(base, R, D, E, s.memory.copy(x, (size_t)R * D), s.memory.copy(dlogits.data(), dlogits.size()));
}
