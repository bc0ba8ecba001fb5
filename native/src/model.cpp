// Forward + backward of the phrase loss over every layer: the exact gradient, kept as factors (X, G) per linear,
// sparse embedding rows, dense norm vectors and bias vectors (∂L/∂b = Σ_t G[t, :]). Shapes: T tokens (BOS + phrase), D hidden, F ffn, V vocab,
// H query heads, KVH key/value heads, hd head dim.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>

#include "experts.h"
#include "kernel_paths.h"
#include "model.h"
#include "phases.h"
#include "threads.h"

namespace {
// What the backward needs of a layer's forward. The big buffers are Floats in one of two StepMemory objects: the
// step's own (X and G of the factors: xn1, xn2, att, g, u, mm) and the call's scratch (the rest, returned to the cache
// when the call ends); small per-token or per-weight vectors stay std::vector.
struct LayerActs {
  Floats h_in;                // [T, D]   residual stream entering the block
  std::vector<float> rstd1;   // [T]
  Floats xn1;                 // [T, D]   attention input after RMSNorm (X of q, k and v)
  Floats q, k, v;             // [T, H·hd], [T, KVH·hd] ×2 (q, k after RoPE)
  Floats q_pre, k_pre;        // q/k norms: q, k before them [T, H·hd], [T, KVH·hd]
  std::vector<float> rstd_q, rstd_k;  // [T·H], [T·KVH]
  std::vector<float> w_q, w_k;  // [hd] effective q/k norm weights
  // post_norms: the attention output and the MLP output before their norms [T, D], rstd [T], effective weights [D]
  Floats o_pre, dn_pre;
  std::vector<float> rstd_ao, w_ao, rstd_fo, w_fo;
  Floats probs;               // [H, T, T]
  Floats att;                 // [T, H·hd] attention output before o_proj (X of o)
  Floats h_mid;               // [T, D]   after the attention residual
  std::vector<float> rstd2;   // [T]
  Floats xn2;                 // [T, D]   MLP input after RMSNorm (X of gate and up)
  Floats g, u, mm;            // [T, F]  gate, up, silu(gate)·up (then ∂L/∂gate, ∂L/∂up: G of gate and up; X of down)
  std::vector<float> w_attn, w_ffn;  // [D] effective norm weights of the view
  std::vector<float> sinks;          // [H] GPT-OSS's attention sinks under the view
  MoeActs moe;                        // a MoE layer's router and experts (experts.cpp) instead of g, u, mm
};

// to = a + b (a residual add into a fresh buffer: the layer's input stays as the backward needs it, uncopied)
void add_to(Floats to, Floats a, Floats b) {
  for (size_t i = 0; i < a.size(); i++) to[i] = a[i] + b[i];
}

void scale_by(Floats a, float s) {
  if (s != 1.f)
    for (float& x : a) x *= s;
}

}  // namespace

std::shared_ptr<Step> phrase_gradient(const Model& m, const std::vector<int>& ids, const View& at, const Job& job) {
  const Config& c = m.cfg;
  const int T = (int)ids.size(), D = c.dim, F = c.ffn, V = c.vocab, H = c.heads, KVH = c.kv_heads, hd = c.head_dim;
  const int QD = H * hd, KD = KVH * hd, L = c.layers;
  if (T < 2) throw std::runtime_error("the phrase must have at least one token after BOS");
  if (T > c.max_pos) throw std::runtime_error("the phrase is longer than the model's position table");
  check_ids(m, ids, "the phrase");
  check_view(m, at);
  const std::vector<View> views{at};
  PhaseClock ph("phrase_gradient");  // first of the locals: its destructor times theirs
  const int64_t total = 2 * (int64_t)L + 2;
  int64_t done = 0;
  // The step's memory holds what becomes its factors; `scratch` what dies in this call. Both come from the
  // process's cache of mapped slabs (step_memory.h): a repeated step does not fault its buffers in again.
  auto step = std::make_shared<Step>();
  Step& s = *step;
  StepMemory& mem = s.memory;
  StepMemory scratch;

  // ---- forward, keeping what the backward needs ----
  std::vector<LayerActs> acts(L);
  Floats h = scratch.zeros((size_t)T * D);
  Floats o = scratch.uninit((size_t)T * D), dn = scratch.uninit((size_t)T * D);  // a layer's attention, MLP output
  embed_lookup(m, h.data(), ids.data(), T, views, nullptr);
  scale_by(h, c.embed_scale);
  ph.lap("embedding");
  for (int l = 0; l < L; l++) {
    LayerActs& a = acts[l];
    const std::vector<int>& ni = m.norm_at[l];
    AttnOpts ao = attention_opts(c, l);
    if (c.attn_sinks) {
      a.sinks = view_norm(m, at, ni[NORM_SINKS]);
      ao.sinks = a.sinks.data();
    }
    a.h_in = h;  // the residual adds below write fresh buffers: h stays this layer's input
    a.w_attn = view_norm_scale(m, at, ni[NORM_ATTN]);
    a.w_ffn = view_norm_scale(m, at, ni[NORM_FFN]);
    a.rstd1.resize(T);
    a.xn1 = mem.uninit((size_t)T * D);
    rmsnorm_forward(a.xn1.data(), a.rstd1.data(), h.data(), a.w_attn.data(), T, D, c.eps);
    a.q = scratch.uninit((size_t)T * QD);
    a.k = scratch.uninit((size_t)T * KD);
    a.v = scratch.uninit((size_t)T * KD);
    int base = l * LIN_PER_LAYER;
    ph.lap("fwd norms (attn, ffn in)");
    {
      const int slots[3] = {base + LIN_Q, base + LIN_K, base + LIN_V};
      float* const ys[3] = {a.q.data(), a.k.data(), a.v.data()};
      linear_forward_shared(m, slots, ys, 3, a.xn1.data(), T, views, nullptr);
    }
    ph.lap("fwd q/k/v product");
    if (c.qk_norm) {  // each head of q and of k: RMSNorm over hd
      a.w_q = view_norm_scale(m, at, ni[NORM_Q]);
      a.w_k = view_norm_scale(m, at, ni[NORM_K]);
      a.q_pre = scratch.copy(a.q);
      a.k_pre = scratch.copy(a.k);
      a.rstd_q.resize((size_t)T * H);
      a.rstd_k.resize((size_t)T * KVH);
      if (c.qk_norm_full) {  // OLMoE: over the whole projection
        rmsnorm_forward(a.q.data(), a.rstd_q.data(), a.q_pre.data(), a.w_q.data(), T, QD, c.eps);
        rmsnorm_forward(a.k.data(), a.rstd_k.data(), a.k_pre.data(), a.w_k.data(), T, KD, c.eps);
      } else {
        rmsnorm_forward(a.q.data(), a.rstd_q.data(), a.q_pre.data(), a.w_q.data(), T * H, hd, c.eps);
        rmsnorm_forward(a.k.data(), a.rstd_k.data(), a.k_pre.data(), a.w_k.data(), T * KVH, hd, c.eps);
      }
    }
    ph.lap("fwd q/k norms");
    rope_apply(a.q.data(), T, H, hd, m.cfg.rotary_dims(), 0, m.cos_of(l, T), m.sin_of(l, T), false, m.cfg.rope_interleaved);
    rope_apply(a.k.data(), T, KVH, hd, m.cfg.rotary_dims(), 0, m.cos_of(l, T), m.sin_of(l, T), false, m.cfg.rope_interleaved);
    ph.lap("fwd rope");
    a.probs = scratch.uninit((size_t)H * T * T);  // attention_forward writes every entry of both (0 where masked)
    a.att = mem.uninit((size_t)T * QD);
    attention_forward(a.att.data(), a.probs.data(), a.q.data(), a.k.data(), a.v.data(), T, 0, H, KVH, hd, ao);
    ph.lap("fwd attention");
    linear_forward(m, base + LIN_O, o.data(), a.att.data(), T, views, nullptr);
    ph.lap("fwd o product");
    if (c.post_norms) {  // Gemma: the attention output normalised before the residual add
      a.w_ao = view_norm_scale(m, at, ni[NORM_ATTN_OUT]);
      a.o_pre = scratch.copy(o);
      a.rstd_ao.resize(T);
      rmsnorm_forward(o.data(), a.rstd_ao.data(), a.o_pre.data(), a.w_ao.data(), T, D, c.eps);
    }
    scale_by(o, c.residual_scale);
    a.h_mid = scratch.uninit((size_t)T * D);
    add_to(a.h_mid, h, o);
    h = a.h_mid;
    a.rstd2.resize(T);
    a.xn2 = mem.uninit((size_t)T * D);
    rmsnorm_forward(a.xn2.data(), a.rstd2.data(), h.data(), a.w_ffn.data(), T, D, c.eps);
    ph.lap("fwd norms (attn out, ffn in)");
    if (m.is_moe(l)) {
      moe_forward(m, l, dn.data(), a.xn2.data(), T, views, nullptr, &a.moe);
    } else {
    a.g = mem.uninit((size_t)T * F);
    a.u = mem.uninit((size_t)T * F);
    a.mm = mem.uninit((size_t)T * F);
    {
      const int slots[2] = {base + LIN_GATE, base + LIN_UP};
      float* const ys[2] = {a.g.data(), a.u.data()};
      linear_forward_shared(m, slots, ys, 2, a.xn2.data(), T, views, nullptr);
    }
    ph.lap("fwd gate/up product");
    if (c.gelu_tanh) {  // its tanh values are recomputed in the backward (vectorized: cheaper than T·F fresh floats)
      geglu_forward(a.mm.data(), a.g.data(), a.u.data(), T * F);
    } else {
      swiglu_forward(a.mm.data(), a.g.data(), a.u.data(), T * F);
    }
    ph.lap("fwd GeGLU/SwiGLU");
    linear_forward(m, base + LIN_DOWN, dn.data(), a.mm.data(), T, views, nullptr);
    ph.lap("fwd down product");
    }
    if (c.post_norms) {  // Gemma: the MLP output normalised before the residual add
      a.w_fo = view_norm_scale(m, at, ni[NORM_FFN_OUT]);
      a.dn_pre = scratch.copy(dn);
      a.rstd_fo.resize(T);
      rmsnorm_forward(dn.data(), a.rstd_fo.data(), a.dn_pre.data(), a.w_fo.data(), T, D, c.eps);
    }
    scale_by(dn, c.residual_scale);
    {
      Floats h_out = scratch.uninit((size_t)T * D);
      add_to(h_out, h, dn);
      h = h_out;
    }
    ph.lap("fwd norms (ffn out)");
    job.report("forward", ++done, total);
  }
  std::vector<float> w_final = view_norm_scale(m, at, m.final_norm());
  std::vector<float> rstdf(T);
  Floats xf = mem.uninit((size_t)T * D), logits = mem.uninit((size_t)T * V);  // the head's X and (as dlogits) G
  rmsnorm_forward(xf.data(), rstdf.data(), h.data(), w_final.data(), T, D, c.eps);
  Floats dxf = scratch.zeros((size_t)T * D);  // ∂L/∂xf, the head's input gradient
  ph.lap("final norm, logits allocation");
  // At the base model the head reads its table once: the logits and dxf block by block (head.cpp); at a view with
  // terms, the logits now and dxf after the softmax (two passes over the table)
  const bool head_one_pass = head_fused_covers(T, at);
  if (head_one_pass) {
    head_fused(m, logits.data(), dxf.data(), xf.data(), ids.data(), T, scratch);
    ph.lap("head one pass (logits, dxf products)");
  } else {
    head_forward(m, logits.data(), xf.data(), T, views, nullptr);
    ph.lap("logits product");
    for (float& x : logits) x = final_logit(x, 1.f / c.logit_divisor, c.final_softcap);
  }

  // ---- loss and ∂L/∂logits: mean CE over the T−1 next-token predictions ----
  s.ids = ids;
  s.lin.resize(m.n_linear());
  s.bias_grad.resize(m.n_linear());
  for (const std::vector<float>& w : m.norms) s.norm_grad.emplace_back(w.size(), 0.f);
  // The rows are independent: one per thread at a time, each exp taken once (kept in double until the division by the
  // row's sum); a row's loss term is summed in row order afterwards, so the result does not depend on the split.
  // ∂L/∂logits overwrites the logits row by row (a row is read whole before it is written): the buffer becomes the
  // head's factor G without a second T × V allocation. Through the final cap (Gemma 2), × (1 − tanh²) with tanh the
  // capped logit ÷ cap; then ÷ logit_divisor (logits = head(xf) ÷ logit_divisor).
  std::vector<double> row_loss(T - 1);
  const float inv_n = 1.f / (float)(T - 1);
  // The exps are the kernel path's vectorized double exp (kern()->exp_sum, exp_scale: within 1 ulp), taken twice —
  // for the row's sum, then for its probabilities a piece at a time — rather than kept as V doubles.
  const KernelTable* kt = kern();
  parallel_for(T, [&](int t0, int t1, int) {
    const int PIECE = 2048;
    float pr[PIECE];
    for (int t = t0; t < t1; t++) {
      float* lg = logits.data() + (size_t)t * V;
      if (t == T - 1) {  // the last position predicts nothing
        std::fill(lg, lg + V, 0.f);
        continue;
      }
      const float mx = kt->max_f32(lg, V);
      const double z = kt->exp_sum(lg, V, mx);
      row_loss[t] = mx + std::log(z) - lg[ids[t + 1]];
      const double iz = 1.0 / z;
      const int target = ids[t + 1];
      const float cap = c.final_softcap, div = 1.f / c.logit_divisor;
      for (int p0 = 0; p0 < V; p0 += PIECE) {
        const int n = std::min(PIECE, V - p0);
        kt->exp_scale(pr, lg + p0, n, mx, iz);
        float* l = lg + p0;
        for (int j = 0; j < n; j++) {
          l[j] = final_logit_grad(pr[j] * inv_n - (p0 + j == target ? inv_n : 0.f), l[j], div, cap);
        }
      }
    }
  });
  Floats dlogits = logits;
  double loss = 0;
  for (double x : row_loss) loss += x;
  s.loss = loss / (T - 1);
  if (!std::isfinite(s.loss))
    throw std::runtime_error("the phrase loss is not finite at this model (the weights may already be diverged)");
  ph.lap("softmax, loss, dlogits");
  job.report("loss", ++done, total);

  // ---- backward ----
  // X and G are buffers of the step's memory, kept as they are (shared: q/k/v one X, gate/up one X): a step does
  // not copy its factors (13 × 262144 values of dlogits alone for Gemma 3's head)
  auto factor = [&](int slot, Floats X, Floats G, int in, int out) {
    LinearFactor& f = s.lin[slot];
    f.T = in > 0 ? T : 0;
    f.in = in;
    f.out = out;
    f.X = X;
    f.G = G;
    if (m.bias(slot)) {  // y = x Wᵀ + b: ∂L/∂b = Σ_t ∂L/∂y[t]
      std::vector<double> acc(out, 0.0);
      for (int t = 0; t < T; t++)
        for (int i = 0; i < out; i++) acc[i] += f.G[(size_t)t * out + i];
      s.bias_grad[slot].assign(acc.begin(), acc.end());
    }
  };
  Floats dh = scratch.zeros((size_t)T * D);
  ph.lap("bwd allocation");
  if (!head_one_pass) {
    head_backward_input(m, dxf.data(), dlogits.data(), T, at);
    ph.lap("bwd head product");
  }
  factor(m.head_slot(), xf, dlogits, D, V);
  rmsnorm_backward(dh.data(), s.norm_grad[m.final_norm()].data(), dxf.data(), h.data(), w_final.data(), rstdf.data(),
                   T, D);
  ph.lap("bwd norms");

  // the MLP's ∂L/∂(act·up) [T, F], one buffer for every layer
  Floats dmm = scratch.uninit((size_t)T * F);
  for (int l = L - 1; l >= 0; l--) {
    const StepMemory::Mark layer_start = scratch.mark();  // this layer's backward temporaries are released at its end
    LayerActs& a = acts[l];
    int base = l * LIN_PER_LAYER;
    const std::vector<int>& ni = m.norm_at[l];
    AttnOpts ao = attention_opts(c, l);
    if (c.attn_sinks) ao.sinks = a.sinks.data();
    // MLP: h_out = h_mid + residual_scale·post_norm(down(act(gate(xn2))·up(xn2)))
    // ddn (down's G) is kept by the step: in its memory, except for a MoE layer's
    StepMemory& ddn_mem = m.is_moe(l) ? scratch : mem;
    Floats ddn = c.post_norms ? scratch.copy(dh) : ddn_mem.copy(dh);
    scale_by(ddn, c.residual_scale);
    if (c.post_norms) {
      Floats d_pre = ddn_mem.zeros((size_t)T * D);
      rmsnorm_backward(d_pre.data(), s.norm_grad[ni[NORM_FFN_OUT]].data(), ddn.data(), a.dn_pre.data(), a.w_fo.data(),
                       a.rstd_fo.data(), T, D);
      ddn = d_pre;
    }
    Floats dxn2 = scratch.zeros((size_t)T * D);
    ph.lap("bwd norms");
    if (m.is_moe(l)) {
      moe_backward(m, l, dxn2.data(), ddn.data(), a.xn2.data(), a.moe, at, s);
      for (int j : {LIN_GATE, LIN_UP, LIN_DOWN}) factor(base + j, {}, {}, 0, 0);  // the absent dense MLP
      a.moe = MoeActs{};
    } else {
    std::fill(dmm.begin(), dmm.end(), 0.f);
    ph.lap("bwd allocation");
    linear_backward_input(m, base + LIN_DOWN, dmm.data(), ddn.data(), T, at);
    ph.lap("bwd down product");
    factor(base + LIN_DOWN, a.mm, ddn, F, D);
    // in place: the gate and up activations become their gradients (and then the factors' G)
    if (c.gelu_tanh)
      geglu_backward(a.g.data(), a.u.data(), dmm.data(), a.g.data(), a.u.data(), T * F);
    else
      swiglu_backward(a.g.data(), a.u.data(), dmm.data(), a.g.data(), a.u.data(), T * F);
    Floats dg = a.g, du = a.u;
    ph.lap("bwd GeGLU/SwiGLU");
    {
      // gate and up into one dx, in one parallel pass
      const LinearAccGroup g{dxn2.data(), T, {base + LIN_GATE, base + LIN_UP, 0}, {dg.data(), du.data(), nullptr}, 2};
      linear_backward_input_groups(m, &g, 1, at);
    }
    ph.lap("bwd gate/up product");
    factor(base + LIN_GATE, a.xn2, dg, D, F);
    factor(base + LIN_UP, a.xn2, du, D, F);
    ph.lap("factor bookkeeping");
    }
    // ∂L/∂h_mid accumulates in dh itself (dh was last read for ddn above)
    Floats dh_mid = dh;
    rmsnorm_backward(dh_mid.data(), s.norm_grad[ni[NORM_FFN]].data(), dxn2.data(), a.h_mid.data(), a.w_ffn.data(),
                     a.rstd2.data(), T, D);
    // attention: h_mid = h_in + residual_scale·o(attn(rope(qn(q(xn1))), rope(kn(k(xn1))), v(xn1)))
    Floats dout = c.post_norms ? scratch.copy(dh_mid) : mem.copy(dh_mid);  // o's G: kept by the step
    scale_by(dout, c.residual_scale);
    if (c.post_norms) {
      Floats d_pre = mem.zeros((size_t)T * D);
      rmsnorm_backward(d_pre.data(), s.norm_grad[ni[NORM_ATTN_OUT]].data(), dout.data(), a.o_pre.data(), a.w_ao.data(),
                       a.rstd_ao.data(), T, D);
      dout = d_pre;
    }
    Floats datt = scratch.zeros((size_t)T * QD);
    ph.lap("bwd norms");
    linear_backward_input(m, base + LIN_O, datt.data(), dout.data(), T, at);
    ph.lap("bwd o product");
    factor(base + LIN_O, a.att, dout, QD, D);
    // q/k/v's G: kept by the step (with q/k norms, dq and dk before them are)
    StepMemory& dqk_mem = c.qk_norm ? scratch : mem;
    // written whole (zeroed first) by attention_backward
    Floats dq = dqk_mem.uninit((size_t)T * QD), dk = dqk_mem.uninit((size_t)T * KD), dv = mem.uninit((size_t)T * KD);
    ph.lap("factor bookkeeping");
    attention_backward(dq.data(), dk.data(), dv.data(), datt.data(), a.probs.data(), a.q.data(), a.k.data(),
                       a.v.data(), T, H, KVH, hd, ao, c.attn_sinks ? s.norm_grad[ni[NORM_SINKS]].data() : nullptr);
    ph.lap("bwd attention");
    rope_apply(dq.data(), T, H, hd, m.cfg.rotary_dims(), 0, m.cos_of(l, T), m.sin_of(l, T), true, m.cfg.rope_interleaved);  // Rᵀ = R(−θ)
    rope_apply(dk.data(), T, KVH, hd, m.cfg.rotary_dims(), 0, m.cos_of(l, T), m.sin_of(l, T), true, m.cfg.rope_interleaved);
    ph.lap("bwd rope");
    if (c.qk_norm) {  // through the per-head norms: ∂L/∂q before them, ∂L/∂w_q, ∂L/∂w_k
      Floats dq_pre = mem.zeros((size_t)T * QD), dk_pre = mem.zeros((size_t)T * KD);
      const bool full = c.qk_norm_full;  // OLMoE: one row of QD / KD per token
      rmsnorm_backward(dq_pre.data(), s.norm_grad[ni[NORM_Q]].data(), dq.data(), a.q_pre.data(), a.w_q.data(),
                       a.rstd_q.data(), full ? T : T * H, full ? QD : hd);
      rmsnorm_backward(dk_pre.data(), s.norm_grad[ni[NORM_K]].data(), dk.data(), a.k_pre.data(), a.w_k.data(),
                       a.rstd_k.data(), full ? T : T * KVH, full ? KD : hd);
      dq = dq_pre;
      dk = dk_pre;
    }
    Floats dxn1 = scratch.zeros((size_t)T * D);
    ph.lap("bwd q/k norms");
    {
      // q, k and v into one dx, in one parallel pass
      const LinearAccGroup g{dxn1.data(), T, {base + LIN_Q, base + LIN_K, base + LIN_V}, {dq.data(), dk.data(), dv.data()}, 3};
      linear_backward_input_groups(m, &g, 1, at);
    }
    ph.lap("bwd q/k/v product");
    factor(base + LIN_Q, a.xn1, dq, D, QD);
    factor(base + LIN_K, a.xn1, dk, D, KD);
    factor(base + LIN_V, a.xn1, dv, D, KD);
    ph.lap("factor bookkeeping");
    rmsnorm_backward(dh.data(), s.norm_grad[ni[NORM_ATTN]].data(), dxn1.data(), a.h_in.data(), a.w_attn.data(),
                     a.rstd1.data(), T, D);
    scratch.release_to(layer_start);
    ph.lap("bwd norms");
    job.report("backward", ++done, total);
  }

  // embedding rows of the phrase's distinct tokens (repeated tokens accumulate)
  s.emb_rows = ids;
  std::sort(s.emb_rows.begin(), s.emb_rows.end());
  s.emb_rows.erase(std::unique(s.emb_rows.begin(), s.emb_rows.end()), s.emb_rows.end());
  s.emb_grad.assign(s.emb_rows.size() * D, 0.f);
  scale_by(dh, c.embed_scale);  // h = embed_scale·E[ids]
  for (int t = 0; t < T; t++) {
    int j = (int)(std::lower_bound(s.emb_rows.begin(), s.emb_rows.end(), ids[t]) - s.emb_rows.begin());
    for (int i = 0; i < D; i++) s.emb_grad[(size_t)j * D + i] += dh[(size_t)t * D + i];
  }
  ph.lap("embedding rows");
  // a finite loss can still come with overflowed activations or gradients: refuse factors that are not finite. One
  // parallel pass over the factors (max_abs_bits_spans: pieces of at most 256 Ki values, so Gemma 3's 13 × 262144 head
  // G is shared by the threads), also takes each G's largest |entry| for the step's max_abs (step_max_abs: the same
  // value, without reading every G a second time).
  const int nl = m.n_linear();
  std::vector<uint8_t> finite(nl, 1);
  std::vector<float> g_max(nl, 0.f);
  {
    // each slot's G, and each distinct X once (first_with_same_x)
    std::vector<const LinearFactor*> fs(nl);
    for (int i = 0; i < nl; i++) fs[i] = &s.lin[i];
    const std::vector<size_t> same_x = first_with_same_x(fs);
    std::vector<Floats> spans;
    std::vector<int> x_at(nl), g_at(nl);
    for (int i = 0; i < nl; i++) {
      if (same_x[i] < (size_t)i) {
        x_at[i] = x_at[same_x[i]];
      } else {
        x_at[i] = (int)spans.size();
        spans.push_back(s.lin[i].X);
      }
      g_at[i] = (int)spans.size();
      spans.push_back(s.lin[i].G);
    }
    std::vector<uint32_t> bits(spans.size());
    max_abs_bits_spans(spans.data(), (int)spans.size(), bits.data());
    for (int i = 0; i < nl; i++) {
      finite[i] = bits[x_at[i]] < 0x7f800000u && bits[g_at[i]] < 0x7f800000u;  // ±inf and NaN lie above
      std::memcpy(&g_max[i], &bits[g_at[i]], sizeof(float));
    }
  }
  for (int i = 0; i < nl; i++)
    if (!finite[i])
      throw std::runtime_error("the phrase gradient is not finite (NaN/inf in factor " + std::to_string(i) +
                               "): the weights or the step size overflow float32");
  for (float x : s.emb_grad)
    if (!std::isfinite(x)) throw std::runtime_error("the phrase gradient is not finite (NaN/inf in the embedding rows)");
  for (const auto& g : s.norm_grad)
    for (float x : g)
      if (!std::isfinite(x)) throw std::runtime_error("the phrase gradient is not finite (NaN/inf in a norm weight)");
  double mx = 0;
  for (float x : g_max) mx = std::max(mx, (double)x);
  for (float x : s.emb_grad) mx = std::max(mx, (double)std::fabs(x));
  for (const auto& g : s.norm_grad)
    for (float x : g) mx = std::max(mx, (double)std::fabs(x));
  for (const auto& g : s.bias_grad)
    for (float x : g) mx = std::max(mx, (double)std::fabs(x));
  s.max_abs = mx;  // = step_max_abs(s)
  mem.trim();
  ph.lap("finiteness scan, max |G|");
  return step;
}
