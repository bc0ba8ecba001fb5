// Batched inference with a KV cache: N views of the model run in lockstep, so each decoding step reads every base
// weight once for all of them ([N, in] × Wᵀ); only the small factor terms differ by view.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>

#include "experts.h"
#include "model.h"

namespace {
struct KVCache {
  int max_seq = 0;
  std::vector<float> k, v;  // [layers, max_seq, KVH·hd]
};

struct Batch {
  const Model& m;
  const std::vector<View>& views;
  std::vector<std::vector<std::vector<float>>> norms;  // [view][norm index][D or hd]
  std::vector<MoeActs>* routes = nullptr;  // [layer] the MoE layers' router choices of the last forward (routing())
  Batch(const Model& model, const std::vector<View>& vs) : m(model), views(vs) {
    norms.resize(vs.size());
    for (size_t i = 0; i < vs.size(); i++)
      for (size_t j = 0; j < m.norms.size(); j++) norms[i].push_back(view_norm_scale(m, vs[i], (int)j));
  }

  // M new tokens for each of the sequences `seqs` (sequence s uses view seq_view[s] and cache caches[s]) at
  // positions pos0 … pos0+M−1. logits: [S·M, V] when all_positions, else [S, V] for the last position only.
  void forward(const std::vector<int>& seq_view, const std::vector<KVCache*>& caches, const int* tokens, int M,
               int pos0, float* logits, bool all_positions, const Job& job) {
    const Config& c = m.cfg;
    const int S = (int)seq_view.size(), R = S * M, D = c.dim, F = c.ffn, H = c.heads, KVH = c.kv_heads;
    const int hd = c.head_dim, QD = H * hd, KD = KVH * hd;
    std::vector<int> row_view(R);
    for (int r = 0; r < R; r++) row_view[r] = seq_view[r / M];
    std::vector<float> h((size_t)R * D), xn((size_t)R * D), q((size_t)R * QD), k((size_t)R * KD),
        v((size_t)R * KD), att((size_t)R * QD), tmp((size_t)R * D), g((size_t)R * F), u((size_t)R * F),
        tmp2(c.post_norms ? (size_t)R * D : 0);
    embed_lookup(m, h.data(), tokens, R, views, row_view.data());
    if (c.embed_scale != 1.f)
      for (float& x : h) x *= c.embed_scale;
    auto norm_rows = [&](float* out, const float* in, int idx) {
      for (int s = 0; s < S; s++)
        rmsnorm_forward(out + (size_t)s * M * D, nullptr, in + (size_t)s * M * D, norms[seq_view[s]][idx].data(), M,
                        D, c.eps);
    };
    for (int l = 0; l < c.layers; l++) {
      int base = l * LIN_PER_LAYER;
      const std::vector<int>& ni = m.norm_at[l];
      const AttnOpts ao = attention_opts(c, l);
      // h += residual_scale·(post_norm(x) with post_norms, else x)
      auto residual_add = [&](int post_norm) {
        const float* add = tmp.data();
        if (c.post_norms) {
          norm_rows(tmp2.data(), tmp.data(), ni[post_norm]);
          add = tmp2.data();
        }
        for (size_t i = 0; i < h.size(); i++) h[i] += c.residual_scale * add[i];
      };
      norm_rows(xn.data(), h.data(), ni[NORM_ATTN]);
      {
        const int slots[3] = {base + LIN_Q, base + LIN_K, base + LIN_V};
        float* const ys[3] = {q.data(), k.data(), v.data()};
        linear_forward_shared(m, slots, ys, 3, xn.data(), R, views, row_view.data());
      }
      for (int s = 0; s < S; s++) {
        float* qs = q.data() + (size_t)s * M * QD;
        float* ks = k.data() + (size_t)s * M * KD;
        if (c.qk_norm) {  // each head of q and of k, in place (RMSNorm reads a row whole before writing it)
          const bool full = c.qk_norm_full;  // OLMoE: over the whole projection
          rmsnorm_forward(qs, nullptr, qs, norms[seq_view[s]][ni[NORM_Q]].data(), full ? M : M * H, full ? QD : hd, c.eps);
          rmsnorm_forward(ks, nullptr, ks, norms[seq_view[s]][ni[NORM_K]].data(), full ? M : M * KVH, full ? KD : hd, c.eps);
        }
        rope_apply(qs, M, H, hd, m.cfg.rotary_dims(), pos0, m.cos_of(l, pos0 + M), m.sin_of(l, pos0 + M), false, m.cfg.rope_interleaved);
        rope_apply(ks, M, KVH, hd, m.cfg.rotary_dims(), pos0, m.cos_of(l, pos0 + M), m.sin_of(l, pos0 + M), false, m.cfg.rope_interleaved);
        KVCache& kc = *caches[s];
        float* kl = kc.k.data() + (size_t)l * kc.max_seq * KD;
        float* vl = kc.v.data() + (size_t)l * kc.max_seq * KD;
        std::memcpy(kl + (size_t)pos0 * KD, ks, sizeof(float) * M * KD);
        std::memcpy(vl + (size_t)pos0 * KD, v.data() + (size_t)s * M * KD, sizeof(float) * M * KD);
        AttnOpts aos = ao;  // GPT-OSS: the sinks of this sequence's view (norm_offset is 0: checked at load)
        if (c.attn_sinks) aos.sinks = norms[seq_view[s]][ni[NORM_SINKS]].data();
        attention_forward(att.data() + (size_t)s * M * QD, nullptr, qs, kl, vl, M, pos0, H, KVH, hd, aos);
      }
      linear_forward(m, base + LIN_O, tmp.data(), att.data(), R, views, row_view.data());
      residual_add(NORM_ATTN_OUT);
      norm_rows(xn.data(), h.data(), ni[NORM_FFN]);
      if (m.is_moe(l)) {  // router and the routed experts only
        MoeActs* keep = routes ? &(*routes)[l] : nullptr;
        moe_forward(m, l, tmp.data(), xn.data(), R, views, row_view.data(), keep);
        if (keep) keep->routed = MoeRouted{};  // the choices only
        residual_add(NORM_FFN_OUT);
        job.check();
        continue;
      }
      {
        const int slots[2] = {base + LIN_GATE, base + LIN_UP};
        float* const ys[2] = {g.data(), u.data()};
        linear_forward_shared(m, slots, ys, 2, xn.data(), R, views, row_view.data());
      }
      if (c.gelu_tanh)
        geglu_forward(g.data(), g.data(), u.data(), R * F);
      else
        swiglu_forward(g.data(), g.data(), u.data(), R * F);
      linear_forward(m, base + LIN_DOWN, tmp.data(), g.data(), R, views, row_view.data());
      residual_add(NORM_FFN_OUT);
      job.check();
    }
    norm_rows(xn.data(), h.data(), m.final_norm());
    size_t n_logits;
    if (all_positions) {
      head_forward(m, logits, xn.data(), R, views, row_view.data());
      n_logits = (size_t)R * c.vocab;
    } else {
      std::vector<float> last((size_t)S * D);
      for (int s = 0; s < S; s++)
        std::memcpy(last.data() + (size_t)s * D, xn.data() + ((size_t)s * M + M - 1) * D, sizeof(float) * D);
      head_forward(m, logits, last.data(), S, views, seq_view.data());
      n_logits = (size_t)S * c.vocab;
    }
    if (c.logit_divisor != 1.f)
      for (size_t i = 0; i < n_logits; i++) logits[i] *= 1.f / c.logit_divisor;
    if (c.final_softcap > 0)  // Gemma 2
      for (size_t i = 0; i < n_logits; i++) logits[i] = c.final_softcap * std::tanh(logits[i] / c.final_softcap);
  }
};

// A NaN or infinite logit means the run is broken (NaN weights, or a step that overflowed float32): fail the call
// rather than decode garbage as if it were text.
void check_logits(const float* lg, size_t n, const std::string& where) {
  for (size_t i = 0; i < n; i++)
    if (!std::isfinite(lg[i]))
      throw std::runtime_error("the model produced non-finite logits (NaN/inf) " + where +
                               ": the weights or the step size overflow float32");
}

KVCache make_cache(const Config& c, int max_seq) {
  KVCache kc;
  kc.max_seq = max_seq;
  size_t n = (size_t)c.layers * max_seq * c.kv_heads * c.head_dim;
  kc.k.assign(n, 0.f);
  kc.v.assign(n, 0.f);
  return kc;
}

// top-1 index and top-1 − top-2 margin
int argmax_margin(const float* x, int n, float* margin) {
  int b = 0;
  float m1 = -INFINITY, m2 = -INFINITY;
  for (int i = 0; i < n; i++) {
    if (x[i] > m1) {
      m2 = m1;
      m1 = x[i];
      b = i;
    } else if (x[i] > m2) {
      m2 = x[i];
    }
  }
  if (margin) *margin = m1 - m2;
  return b;
}

int sample(const float* logits, int n, float temperature, float top_p, std::mt19937_64& rng) {
  std::vector<double> p(n);
  double mx = -INFINITY;
  for (int i = 0; i < n; i++) mx = std::max(mx, (double)logits[i] / temperature);
  double z = 0;
  // in double throughout: logits / a tiny temperature overflows float32 (inf − inf = NaN probabilities)
  for (int i = 0; i < n; i++) z += p[i] = std::exp((double)logits[i] / temperature - mx);
  std::vector<int> idx(n);
  std::iota(idx.begin(), idx.end(), 0);
  std::sort(idx.begin(), idx.end(), [&](int a, int b) { return p[a] > p[b]; });
  // nucleus: the smallest prefix whose mass reaches top_p (Meta's sample_top_p keeps tokens until the mass
  // *before* them exceeds p)
  double cum = 0, keep_mass = 0;
  int keep = 0;
  for (; keep < n; keep++) {
    if (cum / z > top_p) break;
    cum += p[idx[keep]];
  }
  if (keep < 1) keep = 1;  // top_p ≥ 0 keeps at least the most likely token
  keep_mass = cum;
  double r = std::uniform_real_distribution<double>(0, keep_mass)(rng);
  for (int i = 0; i < keep; i++) {
    r -= p[idx[i]];
    if (r <= 0) return idx[i];
  }
  return idx[keep - 1];
}
}  // namespace

GenResult generate(const Model& m, const std::vector<View>& views, const GenParams& p, const Job& job) {
  const int N = (int)views.size(), V = m.cfg.vocab, P = (int)p.prompt.size();
  if (P < 1) throw std::runtime_error("the prompt is empty");
  if (N < 1) throw std::runtime_error("at least one view is required");
  if (p.max_new < 0 || p.max_seq < 2) throw std::runtime_error("maxNew must be ≥ 0 and maxSeq ≥ 2");
  if (!(p.temperature >= 0) || !std::isfinite(p.temperature) || !(p.top_p > 0 && p.top_p <= 1))
    throw std::runtime_error("temperature must be ≥ 0 and topP in (0, 1]");
  check_ids(m, p.prompt, "prompt");
  check_ids(m, p.eos, "eos");
  for (const View& v : views) check_view(m, v);
  if (P >= p.max_seq)
    throw std::runtime_error("the prompt has " + std::to_string(P) + " tokens, max_seq_len is " +
                             std::to_string(p.max_seq));
  if (p.max_seq > m.cfg.max_pos) throw std::runtime_error("max_seq_len exceeds the model's position table");
  const int total_len = std::min(p.max_seq, P + p.max_new);
  Batch batch(m, views);
  std::vector<KVCache> caches;
  for (int i = 0; i < N; i++) caches.push_back(make_cache(m.cfg, total_len));
  std::vector<std::mt19937_64> rngs(N, std::mt19937_64(p.seed));
  GenResult res;
  res.tokens.resize(N);
  res.margins.resize(N);

  std::vector<int> active(N);
  std::iota(active.begin(), active.end(), 0);
  std::vector<int> tokens;
  for (int i = 0; i < N; i++) tokens.insert(tokens.end(), p.prompt.begin(), p.prompt.end());
  std::vector<float> logits((size_t)N * V);
  int pos = 0, M = P;
  const int steps = total_len - P;
  try {
    for (int step = 0; step < steps && !active.empty(); step++) {
      std::vector<KVCache*> cs;
      for (int s : active) cs.push_back(&caches[s]);
      batch.forward(active, cs, tokens.data(), M, pos, logits.data(), false, job);
      check_logits(logits.data(), active.size() * (size_t)V, "at step " + std::to_string(step + 1));
      pos += M;
      M = 1;
      std::vector<int> next_active, next_tokens;
      for (size_t i = 0; i < active.size(); i++) {
        int s = active[i];
        const float* lg = logits.data() + i * V;
        float margin;
        int tok = argmax_margin(lg, V, &margin);
        if (p.temperature > 0) tok = sample(lg, V, p.temperature, p.top_p, rngs[s]);
        res.tokens[s].push_back(tok);
        res.margins[s].push_back(margin);
        if (std::find(p.eos.begin(), p.eos.end(), tok) == p.eos.end()) {
          next_active.push_back(s);
          next_tokens.push_back(tok);
        }
      }
      active = next_active;
      tokens = next_tokens;
      job.report("generate", step + 1, steps);
    }
  } catch (const Cancelled&) {
    res.cancelled = true;  // every view holds the tokens of the steps completed before the cancel
  }
  return res;
}

ScoreResult score(const Model& m, const std::vector<View>& views, const std::vector<int>& ids, int topk,
                  const std::vector<int>& full_at, const Job& job) {
  const int N = (int)views.size(), T = (int)ids.size(), V = m.cfg.vocab;
  if (T < 1) throw std::runtime_error("nothing to score");
  if (N < 1) throw std::runtime_error("at least one view is required");
  check_ids(m, ids, "ids");
  for (const View& v : views) check_view(m, v);
  for (int t : full_at)
    if (t < 0 || t >= T) throw std::runtime_error("full log-prob position out of range");
  if (T > m.cfg.max_pos) throw std::runtime_error("the text is longer than the model's position table");
  topk = std::max(0, std::min(topk, V));
  ScoreResult r;
  r.T = T;
  r.k = topk;
  r.nll.assign((size_t)N * (T - 1), 0.f);
  r.argmax.assign((size_t)N * T, 0);
  r.top_ids.assign((size_t)N * T * topk, 0);
  r.top_lp.assign((size_t)N * T * topk, 0.f);
  r.kl.assign((size_t)N * T, 0.f);
  r.full.assign((size_t)N * full_at.size() * V, 0.f);
  // One view at a time keeps the logits at [T, V]; the reference view's log-probs are kept for the KL.
  std::vector<float> ref_lp((size_t)T * V), logits((size_t)T * V);
  for (int n = 0; n < N; n++) {
    KVCache kc = make_cache(m.cfg, T);
    std::vector<View> one{views[n]};
    Batch b1(m, one);
    b1.forward({0}, {&kc}, ids.data(), T, 0, logits.data(), true, job);
    check_logits(logits.data(), (size_t)T * V, "when scoring view " + std::to_string(n));
    for (int t = 0; t < T; t++) {
      float* lg = logits.data() + (size_t)t * V;
      double lse = logsumexp(lg, V);
      for (int i = 0; i < V; i++) lg[i] = (float)(lg[i] - lse);  // now log-probs
      r.argmax[(size_t)n * T + t] = argmax_margin(lg, V, nullptr);
      if (t + 1 < T) r.nll[(size_t)n * (T - 1) + t] = -lg[ids[t + 1]];
      if (topk) {
        std::vector<int> idx(V);
        std::iota(idx.begin(), idx.end(), 0);
        std::partial_sort(idx.begin(), idx.begin() + topk, idx.end(), [&](int a, int b) { return lg[a] > lg[b]; });
        for (int j = 0; j < topk; j++) {
          r.top_ids[((size_t)n * T + t) * topk + j] = idx[j];
          r.top_lp[((size_t)n * T + t) * topk + j] = lg[idx[j]];
        }
      }
      if (n == 0) {
        std::memcpy(ref_lp.data() + (size_t)t * V, lg, sizeof(float) * V);
      } else {
        const float* a = ref_lp.data() + (size_t)t * V;
        double kl = 0;
        for (int i = 0; i < V; i++) kl += std::exp((double)a[i]) * ((double)a[i] - lg[i]);
        r.kl[(size_t)n * T + t] = (float)std::max(kl, 0.0);
      }
    }
    for (size_t j = 0; j < full_at.size(); j++) {
      int t = full_at[j];
      if (t < 0 || t >= T) throw std::runtime_error("full log-prob position out of range");
      std::memcpy(r.full.data() + ((size_t)n * full_at.size() + j) * V, logits.data() + (size_t)t * V,
                  sizeof(float) * V);
    }
    job.report("score", n + 1, N);
  }
  return r;
}

RoutingResult routing(const Model& m, const std::vector<View>& views, const std::vector<int>& ids, const Job& job) {
  const int N = (int)views.size(), T = (int)ids.size();
  if (T < 1) throw std::runtime_error("nothing to route");
  if (N < 1) throw std::runtime_error("at least one view is required");
  if (m.cfg.n_experts == 0) throw std::runtime_error("the model has no mixture-of-experts layers");
  if (T > m.cfg.max_pos) throw std::runtime_error("the text is longer than the model's position table");
  check_ids(m, ids, "ids");
  for (const View& v : views) check_view(m, v);
  RoutingResult r;
  r.T = T;
  r.E = m.cfg.n_experts;
  r.K = m.cfg.top_k;
  for (int l = 0; l < m.cfg.layers; l++)
    if (m.is_moe(l)) r.layers.push_back(l);
  std::vector<float> logits((size_t)T * m.cfg.vocab);
  for (int n = 0; n < N; n++) {  // one view at a time, as score()
    KVCache kc = make_cache(m.cfg, T);
    std::vector<View> one{views[n]};
    Batch b(m, one);
    std::vector<MoeActs> acts(m.cfg.layers);
    b.routes = &acts;
    b.forward({0}, {&kc}, ids.data(), T, 0, logits.data(), true, job);
    for (int l : r.layers) {
      r.sel.push_back(acts[l].sel);
      r.w.push_back(acts[l].w);
      r.probs.push_back(acts[l].probs);
    }
    job.report("routing", n + 1, N);
  }
  return r;
}
