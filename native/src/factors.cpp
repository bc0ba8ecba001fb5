// Effective weights of a view (base − Σ coef·step) applied through the steps' factors, never densely
// (docs/design.md, "The exact low-rank step"):
//   linear:  y = x Wᵀ − Σ coef·(x Xᵀ) G  (+ b − Σ coef·∇b)   cost per row: T·(in + out)
//   embed:   sparse rows of the phrase tokens (+ the head factor's column when the head is tied)
//   norms:   small dense vectors
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <sstream>
#include <unordered_map>

#include "experts.h"
#include "kernel_paths.h"
#include "model.h"
#include "phases.h"
#include "threads.h"

namespace {
// Distinct steps used by any of the views, and each view's coefficient for it (0 when absent).
struct StepCoefs {
  std::vector<const Step*> steps;
  std::vector<std::vector<float>> coef;  // [step][view]
};

StepCoefs collect(const std::vector<View>& views) {
  StepCoefs sc;
  for (size_t vi = 0; vi < views.size(); vi++) {
    for (const Term& t : views[vi]) {
      if (t.coef == 0.f) continue;
      size_t k = std::find(sc.steps.begin(), sc.steps.end(), t.step.get()) - sc.steps.begin();
      if (k == sc.steps.size()) {
        sc.steps.push_back(t.step.get());
        sc.coef.emplace_back(views.size(), 0.f);
      }
      sc.coef[k][vi] += t.coef;
    }
  }
  return sc;
}

int find_row(const Step& s, int token) {
  auto it = std::lower_bound(s.emb_rows.begin(), s.emb_rows.end(), token);
  return (it != s.emb_rows.end() && *it == token) ? (int)(it - s.emb_rows.begin()) : -1;
}
}  // namespace

const char* linear_name(int j) {
  static const char* names[LIN_PER_LAYER] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                                             "self_attn.o_proj", "mlp.gate_proj",    "mlp.up_proj",
                                             "mlp.down_proj"};
  return names[j];
}

const char* norm_name(const Config& c, NormKind k) {
  static const char* names[NORM_KINDS] = {"input_layernorm",  "post_attention_layernorm", "self_attn.q_norm",
                                          "self_attn.k_norm", "post_attention_layernorm", "post_feedforward_layernorm",
                                          "self_attn.sinks"};
  // with norms after the attention and the MLP (Gemma), post_attention_layernorm is the attention output's norm and
  // the MLP input's is pre_feedforward_layernorm
  if (k == NORM_FFN && c.post_norms) return "pre_feedforward_layernorm";
  return names[k];
}

std::vector<std::pair<int, NormKind>> assign_norms(Model& m) {
  const Config& c = m.cfg;
  const int L = c.layers;
  std::vector<std::pair<int, NormKind>> at;
  m.norm_at.assign(L, std::vector<int>(NORM_KINDS, -1));
  for (int l = 0; l < L; l++) {
    m.norm_at[l][NORM_ATTN] = 2 * l;
    m.norm_at[l][NORM_FFN] = 2 * l + 1;
    at.push_back({l, NORM_ATTN});
    at.push_back({l, NORM_FFN});
  }
  at.push_back({-1, NORM_ATTN});  // the final norm
  for (int l = 0; l < L; l++)
    for (int k = NORM_Q; k < NORM_KINDS; k++) {
      const bool has = (k == NORM_Q || k == NORM_K) ? c.qk_norm : k == NORM_SINKS ? c.attn_sinks : c.post_norms;
      if (!has) continue;
      m.norm_at[l][k] = (int)at.size();
      at.push_back({l, (NormKind)k});
    }
  return at;
}

std::vector<float> view_norm(const Model& m, const View& v, int idx) {
  std::vector<float> w = m.norms[idx];
  for (const Term& t : v) {
    const std::vector<float>& g = t.step->norm_grad[idx];
    for (size_t i = 0; i < w.size(); i++) w[i] -= t.coef * g[i];
  }
  return w;
}

std::vector<float> view_norm_scale(const Model& m, const View& v, int idx) {
  std::vector<float> w = view_norm(m, v, idx);
  if (m.cfg.norm_offset != 0.f)
    for (float& x : w) x = m.cfg.norm_offset + x;  // Gemma: (1 + w) in float32, as transformers computes it
  return w;
}

std::vector<float> view_bias(const Model& m, const View& v, int slot) {
  const std::vector<float>* b = m.bias(slot);
  if (!b) return {};
  std::vector<float> w = *b;
  for (const Term& t : v) {
    const std::vector<float>& g = t.step->bias_grad[slot];
    for (size_t i = 0; i < w.size(); i++) w[i] -= t.coef * g[i];
  }
  return w;
}

// On top of the base product already in y: + b_eff of each row's view (layers with a bias), then
// − Σ coef·(x Xᵀ) G of the steps in each row's view
static void linear_corrections(const Model& m, int slot, float* y, const float* x, int R, const std::vector<View>& views,
                               const int* row_view) {
  const Mat& W = m.linear(slot);
  if (m.bias(slot)) {  // y[r] += b_eff of row r's view
    std::vector<std::vector<float>> bv;
    for (const View& v : views) bv.push_back(view_bias(m, v, slot));
    for (int r = 0; r < R; r++) {
      const std::vector<float>& b = bv[row_view ? row_view[r] : 0];
      float* yr = y + (size_t)r * W.rows;
      for (int i = 0; i < W.rows; i++) yr[i] += b[i];
    }
  }
  StepCoefs sc = collect(views);
  std::vector<float> P;
  for (size_t k = 0; k < sc.steps.size(); k++) {
    const LinearFactor& f = sc.steps[k]->lin[slot];
    if (f.T == 0) continue;  // an expert no token of the phrase was routed to
    P.assign((size_t)R * f.T, 0.f);
    matmul_wt(P.data(), x, R, mat_f32(f.X.data(), f.T, f.in));  // P [R, T] = x Xᵀ
    for (int r = 0; r < R; r++) {
      float c = -sc.coef[k][row_view ? row_view[r] : 0];
      for (int t = 0; t < f.T; t++) P[(size_t)r * f.T + t] *= c;
    }
    matmul_w_acc(y, P.data(), R, mat_f32(f.G.data(), f.T, f.out), 1.f);  // y += P G
  }
}

void linear_forward(const Model& m, int slot, float* y, const float* x, int R, const std::vector<View>& views,
                    const int* row_view) {
  matmul_wt(y, x, R, m.linear(slot));
  linear_corrections(m, slot, y, x, R, views, row_view);
}

void linear_forward_shared(const Model& m, const int* slots, float* const* ys, int count, const float* x, int R,
                           const std::vector<View>& views, const int* row_view) {
  std::vector<Mat> Ws(count);
  for (int i = 0; i < count; i++) Ws[i] = m.linear(slots[i]);
  matmul_wt_fused(ys, x, R, Ws.data(), count);
  for (int i = 0; i < count; i++) linear_corrections(m, slots[i], ys[i], x, R, views, row_view);
}

void linear_forward_groups(const Model& m, const LinearGroup* groups, int n, const std::vector<View>& views) {
  thread_local std::vector<Mat> Ws;  // kept across calls: generation calls this twice per MoE layer per token
  thread_local std::vector<MatmulGroup> mg;
  Ws.resize((size_t)n * 3);
  mg.resize(n);
  for (int gi = 0; gi < n; gi++) {
    const LinearGroup& g = groups[gi];
    for (int i = 0; i < g.count; i++) Ws[(size_t)gi * 3 + i] = m.linear(g.slots[i]);
    mg[gi] = MatmulGroup{g.x, g.R, Ws.data() + (size_t)gi * 3, g.ys, g.count};
  }
  matmul_wt_groups(mg.data(), n);
  for (int gi = 0; gi < n; gi++) {
    const LinearGroup& g = groups[gi];
    for (int i = 0; i < g.count; i++) linear_corrections(m, g.slots[i], g.ys[i], g.x, g.R, views, g.row_view);
  }
}

// dx[R, in] −= Σ coef·(dy Gᵀ) X over the view's terms on this slot: the factors' part of dx += dy·W_eff
static void linear_backward_corrections(int slot, float* dx, const float* dy, int R, const View& view) {
  std::vector<float> Q;
  for (const Term& t : view) {
    if (t.coef == 0.f) continue;
    const LinearFactor& f = t.step->lin[slot];
    if (f.T == 0) continue;
    Q.assign((size_t)R * f.T, 0.f);
    matmul_wt(Q.data(), dy, R, mat_f32(f.G.data(), f.T, f.out));                // Q [R, T] = dy Gᵀ
    matmul_w_acc(dx, Q.data(), R, mat_f32(f.X.data(), f.T, f.in), -t.coef);  // dx −= coef·Q X
  }
}

void linear_backward_input(const Model& m, int slot, float* dx, const float* dy, int R, const View& view) {
  matmul_w_acc(dx, dy, R, m.linear(slot), 1.f);
  linear_backward_corrections(slot, dx, dy, R, view);
}

void linear_backward_input_groups(const Model& m, const LinearAccGroup* groups, int n, const View& view) {
  bool terms = false;  // does the view hold factors on any of these slots?
  int passes = 0;
  for (int gi = 0; gi < n; gi++) {
    passes = std::max(passes, groups[gi].count);
    for (int i = 0; i < groups[gi].count; i++)
      for (const Term& t : view) terms = terms || (t.coef != 0.f && t.step->lin[groups[gi].slots[i]].T > 0);
  }
  thread_local std::vector<Mat> Ws;  // kept across calls: the step calls this twice per MoE layer
  thread_local std::vector<MatmulAccGroup> mg;
  Ws.resize((size_t)n * 3);
  mg.resize(n);
  for (int gi = 0; gi < n; gi++)
    for (int i = 0; i < groups[gi].count; i++) Ws[(size_t)gi * 3 + i] = m.linear(groups[gi].slots[i]);
  if (!terms) {  // the base products only: every group's whole sum in one pass
    for (int gi = 0; gi < n; gi++) {
      const LinearAccGroup& g = groups[gi];
      mg[gi] = MatmulAccGroup{g.dx, g.R, Ws.data() + (size_t)gi * 3, g.dys, g.count};
    }
    matmul_w_acc_groups(mg.data(), n);
    return;
  }
  for (int i = 0; i < passes; i++) {  // the i-th product of every group, then its corrections
    for (int gi = 0; gi < n; gi++) {
      const LinearAccGroup& g = groups[gi];
      mg[gi] = MatmulAccGroup{g.dx, g.R, Ws.data() + (size_t)gi * 3 + i, g.dys + i, i < g.count ? 1 : 0};
    }
    matmul_w_acc_groups(mg.data(), n);
    for (int gi = 0; gi < n; gi++) {
      const LinearAccGroup& g = groups[gi];
      if (i < g.count) linear_backward_corrections(g.slots[i], g.dx, g.dys[i], g.R, view);
    }
  }
}

void embed_lookup(const Model& m, float* x, const int* tokens, int R, const std::vector<View>& views,
                  const int* row_view) {
  const int D = m.cfg.dim;
  const int hs = m.head_slot();
  for (int r = 0; r < R; r++) {
    float* xr = x + (size_t)r * D;
    mat_row_f32(m.embed, tokens[r], xr);
    const View& v = views[row_view ? row_view[r] : 0];
    for (const Term& t : v) {
      if (t.coef == 0.f) continue;
      int j = find_row(*t.step, tokens[r]);
      if (j >= 0) {
        const float* g = t.step->emb_grad.data() + (size_t)j * D;
        for (int i = 0; i < D; i++) xr[i] -= t.coef * g[i];
      }
      if (m.cfg.tied) {  // row `token` of the head factor Gᵀ X
        const LinearFactor& f = t.step->lin[hs];
        for (int s = 0; s < f.T; s++) {
          float a = t.coef * f.G[(size_t)s * f.out + tokens[r]];
          if (a == 0.f) continue;
          const float* xs = f.X.data() + (size_t)s * f.in;
          for (int i = 0; i < D; i++) xr[i] -= a * xs[i];
        }
      }
    }
  }
}

void head_forward(const Model& m, float* logits, const float* h, int R, const std::vector<View>& views,
                  const int* row_view) {
  linear_forward(m, m.head_slot(), logits, h, R, views, row_view);
  if (!m.cfg.tied) return;
  const int D = m.cfg.dim, V = m.cfg.vocab;
  for (int r = 0; r < R; r++) {  // the tied matrix also carries the sparse embedding rows
    const View& v = views[row_view ? row_view[r] : 0];
    for (const Term& t : v) {
      if (t.coef == 0.f) continue;
      const Step& s = *t.step;
      for (size_t j = 0; j < s.emb_rows.size(); j++) {
        const float* g = s.emb_grad.data() + j * D;
        double d = 0;
        for (int i = 0; i < D; i++) d += (double)h[(size_t)r * D + i] * g[i];
        logits[(size_t)r * V + s.emb_rows[j]] -= t.coef * (float)d;
      }
    }
  }
}

std::vector<TensorRef> model_tensors(const Model& m) {
  const Config& c = m.cfg;
  std::vector<TensorRef> out;
  out.push_back({TensorRef::EMBED, 0, m.embed.rows, m.embed.cols, "model.embed_tokens.weight"});
  for (int l = 0; l < c.layers; l++) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    for (int j = 0; j < LIN_PER_LAYER; j++) {
      const int slot = l * LIN_PER_LAYER + j;
      const Mat& W = m.linear(slot);
      if (W.rows == 0) continue;  // a MoE layer's absent dense MLP
      out.push_back({TensorRef::LINEAR, slot, W.rows, W.cols, p + linear_name(j) + ".weight"});
      if (m.bias(slot)) out.push_back({TensorRef::BIAS, slot, 1, W.rows, p + linear_name(j) + ".bias"});
    }
    for (int k = 0; k < NORM_KINDS; k++) {
      const int idx = m.norm_at[l][k];
      if (idx >= 0) out.push_back({TensorRef::NORM, idx, 1, (int)m.norms[idx].size(), p + norm_name(c, (NormKind)k) + ".weight"});
    }
    if (m.is_moe(l))  // the router, then each expert's gate, up, down
      for (int j = 0; j < 1 + c.n_experts * MOE_PER_EXPERT; j++) {
        const int slot = m.moe_base[l] + j;
        const Mat& W = m.linear(slot);
        out.push_back({TensorRef::LINEAR, slot, W.rows, W.cols, p + moe_tensor_name(j) + ".weight"});
        if (m.bias(slot)) out.push_back({TensorRef::BIAS, slot, 1, W.rows, p + moe_tensor_name(j) + ".bias"});
      }
  }
  out.push_back({TensorRef::NORM, m.final_norm(), 1, c.dim, "model.norm.weight"});
  if (!c.tied) out.push_back({TensorRef::LINEAR, m.head_slot(), m.head.rows, m.head.cols, "lm_head.weight"});
  return out;
}

std::vector<std::string> tensor_names(const Model& m) {
  std::vector<std::string> n;
  for (const TensorRef& t : model_tensors(m)) n.push_back(t.name);
  return n;
}

// ‖Gᵀ X‖²_F = Σ_{s,t} (G_s·G_t)(X_s·X_t), in double, for each factor of `fs`. The Gram matrices G Gᵀ and X Xᵀ
// [T, T] are summed over column blocks of 4096 by the kernel path's gram_f64 (a block's T row pieces stay in cache for
// all its pairs); the blocks of all the factors go in one parallel pass, one block per claim — one thread hand-off per
// step instead of one per factor (~180 for Gemma 3), and the threads share the work evenly even for the tied head's
// G [T, V] — then each factor's blocks are added in block order, so the result does not depend on the thread count.
// Factors that share their X (a layer's q/k/v, its gate/up: one buffer, phrase_gradient) share its blocks: X Xᵀ is
// summed once for them (the same sums, so the same bits).
std::vector<size_t> first_with_same_x(const std::vector<const LinearFactor*>& fs) {
  std::vector<size_t> first(fs.size());
  std::unordered_map<const float*, size_t> seen;  // buffer → the factor its spans go by
  for (size_t i = 0; i < fs.size(); i++) {
    const Floats& X = fs[i]->X;
    auto at = seen.find(X.data());
    if (at != seen.end() && fs[at->second]->X.size() == X.size()) {
      first[i] = at->second;
    } else {
      first[i] = i;
      seen[X.data()] = i;
    }
  }
  return first;
}

static std::vector<double> factor_norms2(const std::vector<const LinearFactor*>& fs) {
  const int CB = 4096;
  struct Block {
    const float* M;  // the block's first column of row 0
    int64_t ld;
    int T, w;
    size_t at;  // its T × T sums in `part`
  };
  std::vector<Block> blocks;
  // each factor's G blocks [g0, g0 + ng) and X blocks [x0, x0 + nx) of `blocks`
  struct Span {
    size_t g0, ng, x0, nx;
  };
  std::vector<Span> spans(fs.size(), Span{0, 0, 0, 0});
  const std::vector<size_t> same_x = first_with_same_x(fs);
  size_t total = 0;
  auto add = [&](const float* M, int T, int n) {
    const size_t first = blocks.size();
    for (int c0 = 0; c0 < n; c0 += CB) {
      blocks.push_back({M + c0, n, T, std::min(CB, n - c0), total});
      total += (size_t)T * T;
    }
    return first;
  };
  for (size_t i = 0; i < fs.size(); i++) {
    const LinearFactor& f = *fs[i];
    if (f.T == 0) continue;
    Span& sp = spans[i];
    sp.g0 = add(f.G.data(), f.T, f.out);
    sp.ng = blocks.size() - sp.g0;
    if (same_x[i] < i && fs[same_x[i]]->T == f.T && fs[same_x[i]]->in == f.in) {  // an earlier factor's X
      sp.x0 = spans[same_x[i]].x0, sp.nx = spans[same_x[i]].nx;
    } else {
      sp.x0 = add(f.X.data(), f.T, f.in);
      sp.nx = blocks.size() - sp.x0;
    }
  }
  StepMemory scratch;  // from the cache of mapped slabs (step_memory.h): a repeated step does not fault it in
  double* part = scratch.doubles(total);
  const KernelTable* k = kern();
  parallel_for(
      (int)blocks.size(),
      [&](int b0, int b1, int) {
        for (int b = b0; b < b1; b++) k->gram_f64(blocks[b].M, blocks[b].ld, blocks[b].T, blocks[b].w, &part[blocks[b].at]);
      },
      (int)blocks.size());
  std::vector<double> out(fs.size(), 0.0);
  for (size_t i = 0; i < fs.size(); i++) {
    const LinearFactor& f = *fs[i];
    if (f.T == 0) continue;
    const int T = f.T;
    const Span& sp = spans[i];
    double n2 = 0;
    for (int s = 0; s < T; s++)
      for (int t = 0; t <= s; t++) {
        double gg = 0, xx = 0;
        for (size_t b = sp.g0; b < sp.g0 + sp.ng; b++) gg += part[blocks[b].at + (size_t)s * T + t];
        for (size_t b = sp.x0; b < sp.x0 + sp.nx; b++) xx += part[blocks[b].at + (size_t)s * T + t];
        n2 += (s == t ? 1 : 2) * gg * xx;
      }
    out[i] = n2 > 0 ? n2 : 0;
  }
  return out;
}

std::vector<double> step_grad_norms(const Model& m, const Step& s) {
  PhaseClock ph("step_grad_norms");
  const int D = m.cfg.dim;
  auto sum_sq = [](const std::vector<float>& v) {
    double n2 = 0;
    for (float g : v) n2 += (double)g * g;
    return n2;
  };
  // the factors' norms first, all in one pass: the linears' and the tied head's (part of the embedding's)
  const std::vector<TensorRef> refs = model_tensors(m);
  std::vector<const LinearFactor*> fs;
  for (const TensorRef& t : refs) {
    if (t.kind == TensorRef::LINEAR) fs.push_back(&s.lin[t.index]);
    if (t.kind == TensorRef::EMBED && m.cfg.tied) fs.push_back(&s.lin[m.head_slot()]);
  }
  const std::vector<double> fn2 = factor_norms2(fs);
  ph.lap("factors' Gram sums");
  size_t fi = 0;
  std::vector<double> out;
  for (const TensorRef& t : refs) {
    switch (t.kind) {
      case TensorRef::EMBED: {  // sparse rows (+ the tied head's dense factor)
        double e2 = sum_sq(s.emb_grad);
        if (m.cfg.tied) {
          const LinearFactor& f = s.lin[m.head_slot()];
          e2 += fn2[fi++];
          for (size_t j = 0; j < s.emb_rows.size(); j++) {
            int v = s.emb_rows[j];
            for (int i = 0; i < D; i++) {
              double hv = 0;  // (Gᵀ X)[v, i]
              for (int k = 0; k < f.T; k++) hv += (double)f.G[(size_t)k * f.out + v] * f.X[(size_t)k * f.in + i];
              e2 += 2 * hv * s.emb_grad[j * D + i];
            }
          }
        }
        out.push_back(std::sqrt(std::max(e2, 0.0)));
        break;
      }
      case TensorRef::LINEAR: out.push_back(std::sqrt(fn2[fi++])); break;
      case TensorRef::BIAS: out.push_back(std::sqrt(sum_sq(s.bias_grad[t.index]))); break;
      case TensorRef::NORM: out.push_back(std::sqrt(sum_sq(s.norm_grad[t.index]))); break;
    }
  }
  ph.lap("the rest");
  return out;
}

void head_backward_input(const Model& m, float* dh, const float* dlogits, int R, const View& view) {
  linear_backward_input(m, m.head_slot(), dh, dlogits, R, view);
  if (!m.cfg.tied) return;
  const int D = m.cfg.dim, V = m.cfg.vocab;
  for (const Term& t : view) {
    if (t.coef == 0.f) continue;
    const Step& s = *t.step;
    for (int r = 0; r < R; r++)
      for (size_t j = 0; j < s.emb_rows.size(); j++) {
        float a = t.coef * dlogits[(size_t)r * V + s.emb_rows[j]];
        if (a == 0.f) continue;
        const float* g = s.emb_grad.data() + j * D;
        for (int i = 0; i < D; i++) dh[(size_t)r * D + i] -= a * g[i];
      }
  }
}

// ---- validation of steps and views --------------------------------------------------------------------------
void check_ids(const Model& m, const std::vector<int>& ids, const char* what) {
  for (int id : ids)
    if (id < 0 || id >= m.cfg.vocab)
      throw std::runtime_error(std::string(what) + " contains token id " + std::to_string(id) +
                               " outside the vocabulary (0 … " + std::to_string(m.cfg.vocab - 1) + ")");
}

template <class Vec>
static bool all_finite(const Vec& v) {
  for (float x : v)
    if (!std::isfinite(x)) return false;
  return true;
}

void check_step(const Model& m, const Step& s) {
  const Config& c = m.cfg;
  if (s.ids.size() < 2) throw std::runtime_error("the step's phrase has fewer than two tokens");
  if ((int64_t)s.ids.size() > c.max_pos) throw std::runtime_error("the step's phrase is longer than the position table");
  check_ids(m, s.ids, "the step's phrase");
  if (!std::isfinite(s.loss)) throw std::runtime_error("the step's loss is not finite");
  if ((int)s.lin.size() != m.n_linear()) throw std::runtime_error("the step's factors do not match this model's layers");
  for (int i = 0; i < m.n_linear(); i++) {
    const LinearFactor& f = s.lin[i];
    const Mat& W = m.linear(i);
    const std::string what = "factor " + std::to_string(i);
    // 0: an expert no token of the phrase was routed to, or a MoE layer's absent dense MLP
    if (f.T < (W.rows == 0 || i > m.head_slot() ? 0 : 1) || f.T > c.max_pos) throw std::runtime_error(what + ": T " + std::to_string(f.T) + " is out of range");
    if (f.in != W.cols || f.out != W.rows) throw std::runtime_error(what + ": shape does not match the model");
    if (f.X.size() != (size_t)f.T * f.in || f.G.size() != (size_t)f.T * f.out)
      throw std::runtime_error(what + ": X or G has the wrong number of values");
    if (!all_finite(f.X) || !all_finite(f.G)) throw std::runtime_error(what + ": holds NaN or infinite values");
  }
  check_ids(m, s.emb_rows, "embRows");
  for (size_t i = 1; i < s.emb_rows.size(); i++)
    if (s.emb_rows[i] <= s.emb_rows[i - 1]) throw std::runtime_error("embRows must be sorted and distinct");
  if (s.emb_grad.size() != s.emb_rows.size() * (size_t)c.dim)
    throw std::runtime_error("embGrad has the wrong number of values");
  if (!all_finite(s.emb_grad)) throw std::runtime_error("embGrad holds NaN or infinite values");
  if (s.norm_grad.size() != m.norms.size())
    throw std::runtime_error("the step's norm gradients do not match this model's layers");
  for (size_t i = 0; i < s.norm_grad.size(); i++) {
    const std::vector<float>& g = s.norm_grad[i];
    if (g.size() != m.norms[i].size()) throw std::runtime_error("a norm gradient has the wrong number of values");
    if (!all_finite(g)) throw std::runtime_error("a norm gradient holds NaN or infinite values");
  }
  // bias gradients: one per linear slot, sized as the slot's bias (empty where the model has none)
  if (!s.bias_grad.empty()) {
    if ((int)s.bias_grad.size() != m.n_linear()) throw std::runtime_error("the step's bias gradients do not match this model's layers");
    for (int i = 0; i < m.n_linear(); i++) {
      const std::vector<float>* b = m.bias(i);
      if (s.bias_grad[i].size() != (b ? b->size() : 0)) throw std::runtime_error("a bias gradient has the wrong number of values");
      if (!all_finite(s.bias_grad[i])) throw std::runtime_error("a bias gradient holds NaN or infinite values");
    }
  }
}

double step_max_abs(const Step& s) {
  double mx = 0;
  auto scan = [&mx](const auto& v) {
    for (float x : v) mx = std::max(mx, (double)std::fabs(x));
  };
  for (const LinearFactor& f : s.lin) scan(f.G);
  scan(s.emb_grad);
  for (const auto& g : s.norm_grad) scan(g);
  for (const auto& g : s.bias_grad) scan(g);
  return mx;
}

void check_view(const Model& m, const View& v) {
  for (const Term& t : v) {
    if (!t.step || (int)t.step->lin.size() != m.n_linear()) throw std::runtime_error("the step belongs to another model");
    if (!std::isfinite(t.coef)) throw std::runtime_error("a step size is not a finite float32 number");
    // cached by the step's producer (the gradient, an import): views are checked on every call
    double g = t.step->max_abs >= 0 ? t.step->max_abs : step_max_abs(*t.step);
    if ((double)std::fabs(t.coef) * g > FLT_MAX) {
      std::ostringstream msg;
      msg.precision(3);
      msg << "step size " << t.coef << " times the gradient's largest entry " << g << " is " << std::fabs(t.coef) * g
          << ", beyond float32 (max " << FLT_MAX << "): the stepped weights would overflow";
      throw std::runtime_error(msg.str());
    }
  }
}
