// The Llama-family model (Llama, Mistral's sliding window, Qwen2 / attention_bias / mlp_bias biases, any RoPE
// inverse frequencies): configuration, base weights (mmap'd, stored dtype: F32/F16/BF16 or ggml's quantised blocks,
// dequantised row by row inside the kernels — quants.h), the factored gradient of a phrase (a Step),
// and the "view" of the model after a weighted sum of steps. Plain structs; the maths lives in the .cpp files:
//   factors.cpp      — effective weights of a view, applied through the factors (docs/design.md, "The exact low-rank step")
//   model.cpp        — forward + backward over a phrase: the exact gradient, as factors
//   head.cpp         — the step's output head in one pass over the table: logits and the head's input gradient
//   infer.cpp        — batched forward with a KV cache: generation and scoring of several views at once
//   materialise.cpp  — dense weights of a view, written tensor by tensor (safetensors or GGUF)
//   quants.cpp       — ggml block formats (Q8_0, Q4_0, Q4_K, Q5_K, Q6_K): dequantisation, Q8_0 quantisation
//   loader.cpp       — mmap, tensor binding, RoPE tables; kernels.cpp — the numeric ops (kernels.h)
//   step_memory.cpp  — the step's big float buffers (factors' X and G, temporaries) in slabs reused across steps
// Every entry point validates what it is handed (check_config, check_step, check_view, check_ids) and throws
// std::runtime_error in words; native/fuzz/ holds libFuzzer + ASan + UBSan harnesses over them (npm run fuzz).
// Below the model (no model knowledge):
//   kernels.cpp      — products (matmul_wt, fused matmul_wt_fused for q/k/v and gate/up, matmul_w_acc), RMSNorm,
//                      RoPE, SwiGLU, attention: loop structure and threading, compiled for the baseline CPU
//   kernels_isa.inc  — the inner loops, compiled per instruction set (kernels_scalar/avx2/avx512/neon.cpp) into
//                      KernelTables; kernel_paths.cpp picks one at load from cpuid ($SOLILOQUY_KERNELS forces one)
//   threads.cpp      — the worker pool: parallel_for hands out chunks from a shared counter
//   roofline.cpp     — the machine's read bandwidth and FMA peak, measured for the benchmark
#pragma once
#include <atomic>
#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels.h"
#include "step_memory.h"

struct Config {
  int vocab = 0, dim = 0, ffn = 0, layers = 0, heads = 0, kv_heads = 0, head_dim = 0;
  float eps = 1e-5f;
  double rope_theta = 10000.0;
  // RoPE inverse frequencies [hd/2] as computed by the config's rope_type (TypeScript: config.ts); empty = default
  // RoPE from rope_theta. cos/sin are multiplied by rope_scale (HF's attention_scaling).
  std::vector<float> rope_inv_freq;
  float rope_scale = 1.f;
  bool tied = false;
  int bos = 1, eos = 2;
  int max_pos = 4096;  // size of the RoPE table
  // Phi-3/4's partial_rotary_factor: RoPE turns the first rope_dims values of each head (rope_inv_freq has
  // rope_dims/2 entries); 0 = all of head_dim
  int rope_dims = 0;
  int rotary_dims() const { return rope_dims > 0 ? rope_dims : head_dim; }
  // q/k rows in Meta's interleaved RoPE order (Meta .pth, GGUF llama): rotate pairs (2i, 2i+1) instead of HF's
  // (i, i + hd/2). Attention scores are the same either way; only the row order of q/k weights differs.
  bool rope_interleaved = false;
  int sliding_window = 0;  // Mistral: a query at p sees keys u with p − u < window; 0 = no window
  // biases of the linear layers (LlamaForCausalLM's attention_bias = q,k,v,o; Qwen2 = q,k,v; mlp_bias = gate,up,down)
  bool bias_qkv = false, bias_o = false, bias_mlp = false;
  // ---- what a family changes in the block (each default is Llama's) ----
  // Qwen3: RMSNorm of each head of q and of k over head_dim (q_norm, k_norm [hd]) after the projection, before RoPE
  bool qk_norm = false;
  // Granite: embeddings × embed_scale (embedding_multiplier); each block's attention and MLP output × residual_scale
  // before its residual add (residual_multiplier); q·k × attn_scale (attention_multiplier; 0 = head_dim^−½);
  // logits ÷ logit_divisor (logits_scaling)
  float embed_scale = 1.f, residual_scale = 1.f, attn_scale = 0.f, logit_divisor = 1.f;
  // Gemma: every norm multiplies by (norm_offset + w): 1 for transformers' (1 + w) weights, 0 where a file stores
  // 1 + w itself (GGUF)
  float norm_offset = 0.f;
  // Gemma 2/3: RMSNorm of the attention output and of the MLP output before their residual adds
  // (post_attention_layernorm, post_feedforward_layernorm); the MLP input norm is then pre_feedforward_layernorm
  bool post_norms = false;
  bool gelu_tanh = false;  // Gemma: GeGLU, gelu(gate, tanh approximation)·up, instead of SwiGLU
  // Gemma 2: cap·tanh(x / cap) on the attention scores and on the logits; 0 = none
  float attn_softcap = 0.f, final_softcap = 0.f;
  // per layer: 1 when sliding_window applies to it (Gemma's local layers); empty = every layer (Mistral)
  std::vector<uint8_t> layer_sliding;
  // Gemma 3: RoPE inverse frequencies [hd/2] of the sliding layers (rope_local_base_freq); empty = the global ones
  std::vector<float> rope_inv_freq_local;
  // longrope (Phi-3.5 / 4-mini): the long factors' inverse frequencies [rot/2], used by a forward call whose last
  // position is past rope_long_after (original_max_position_embeddings) — transformers chooses per call by
  // max(position_ids) + 1, and cached keys keep the rotation of the call that computed them; empty = none
  std::vector<float> rope_inv_freq_long;
  int rope_long_after = 0;
  // OLMoE: q_norm [H·hd] and k_norm [KVH·hd] over the whole projection instead of each head (with qk_norm)
  bool qk_norm_full = false;
  // ---- mixture of experts (experts.cpp): a router and n_experts SwiGLU experts of expert_ffn instead of the MLP ----
  int n_experts = 0, top_k = 0, expert_ffn = 0;
  bool norm_topk = false;  // the top-k probabilities renormalised to sum 1 (norm_topk_prob; Mixtral, GraniteMoE)
  std::vector<uint8_t> layer_moe;  // per layer: 1 = experts (Qwen3-MoE's decoder_sparse_step / mlp_only_layers)
  // ---- GPT-OSS ----
  // attention sinks: a learned logit per query head (self_attn.sinks [H], held as a norm vector: NORM_SINKS) joins
  // every row's softmax as a column with no value
  bool attn_sinks = false;
  // biases on the router [E] and on each expert's gate/up [Fe] and down [D]
  bool expert_bias = false;
  // the experts' clamped SwiGLU when glu_limit > 0: (clamp(up, ±limit) + 1)·g·σ(glu_alpha·g), g = min(gate, limit)
  float glu_limit = 0.f, glu_alpha = 1.f;
};

// the attention of layer l: its window, q·k scale and score cap
inline AttnOpts attention_opts(const Config& c, int l) {
  AttnOpts o;
  const bool sliding = c.layer_sliding.empty() || c.layer_sliding[l];
  o.window = sliding ? c.sliding_window : 0;
  o.scale = c.attn_scale > 0 ? c.attn_scale : 1.f / std::sqrt((float)c.head_dim);
  o.softcap = c.attn_softcap;
  return o;
}

// Norm vectors of a block, in this order everywhere (Step::norm_grad, names, exports). Which a model has comes from
// its config; each present one has a norm index (Model::norm_at).
enum NormKind {
  NORM_ATTN = 0,  // input_layernorm [D]: attention input
  NORM_FFN,       // post_attention_layernorm [D]: MLP input
  NORM_Q,         // self_attn.q_norm [hd]: each query head (qk_norm)
  NORM_K,         // self_attn.k_norm [hd]: each key head (qk_norm)
  NORM_ATTN_OUT,  // post_attention_layernorm [D]: attention output (post_norms)
  NORM_FFN_OUT,   // post_feedforward_layernorm [D]: MLP output (post_norms)
  NORM_SINKS,     // self_attn.sinks [H]: GPT-OSS's attention sinks (attn_sinks); a per-head logit, not a norm, held
                  // here because it is a small dense vector with a dense gradient, as the norms are
  NORM_KINDS
};

// Linear layers of one transformer block, in this order everywhere (factor slots, names, gradients).
enum LinearKind { LIN_Q = 0, LIN_K, LIN_V, LIN_O, LIN_GATE, LIN_UP, LIN_DOWN, LIN_PER_LAYER };
// The linears of a MoE layer's expert, after its router: slot moe_base[l] is the router [E, D], expert e's gate/up
// [Fe, D] and down [D, Fe] are at moe_base[l] + 1 + MOE_PER_EXPERT·e + j. Its dense gate/up/down slots are empty.
enum MoeLinearKind { MOE_GATE = 0, MOE_UP, MOE_DOWN, MOE_PER_EXPERT };

struct Layer {
  Mat lin[LIN_PER_LAYER];  // q [H·hd, D], k/v [KVH·hd, D], o [D, H·hd], gate/up [F, D], down [D, F]
  std::vector<float> bias[LIN_PER_LAYER];  // [out] of each linear, empty when it has none (small: kept in fp32)
};

// HF names (the one table): linear j of a layer ("self_attn.q_proj"), norm kind k of a layer ("input_layernorm";
// with post_norms, Gemma's names: the MLP input norm is "pre_feedforward_layernorm")
const char* linear_name(int j);
const char* norm_name(const Config& c, NormKind k);

// one checkpoint file in memory: mapped, or an anonymous copy (loader.cpp)
struct Mapping;

// A background copy of the checkpoint files onto 2 MiB pages (loader.cpp)
struct WeightsCopy {
  enum State { RUNNING, DONE, FAILED, IN_USE };
  std::atomic<int> state{RUNNING};
  std::atomic<bool> stop{false};  // the model was closed: give up
  uint64_t bytes = 0;             // the files' total size
  std::mutex mu;
  std::vector<std::shared_ptr<Mapping>> copies;  // one per file, set when DONE
};

struct Model {
  ~Model();
  Config cfg;
  Mat embed;  // [V, D]
  Mat head;   // [V, D]; the same storage as embed when tied
  std::vector<Layer> layers;
  // Every norm vector (small: kept in fp32), by norm index: 2l and 2l + 1 are layer l's NORM_ATTN and NORM_FFN, 2L
  // the final norm, then each layer's other kinds its config has (q_norm, k_norm), layer by layer in NormKind order.
  std::vector<std::vector<float>> norms;
  std::vector<std::vector<int>> norm_at;  // [layer][NormKind] → norm index, −1 when the config has no such norm
  int final_norm() const { return 2 * cfg.layers; }
  std::vector<float> rope_cos, rope_sin;  // [max_pos, rot/2] (rot = cfg.rotary_dims())
  std::vector<float> rope_cos_local, rope_sin_local;  // [max_pos, rot/2] of the sliding layers, empty = the global ones
  std::vector<float> rope_cos_long, rope_sin_long;  // [max_pos, rot/2] of longrope's long factors, empty = none
  // the tables of layer l for a forward call over positions … end − 1 (its sequence length is end)
  const float* cos_of(int l, int end) const {
    return uses_long_rope(end) ? rope_cos_long.data() : uses_local_rope(l) ? rope_cos_local.data() : rope_cos.data();
  }
  const float* sin_of(int l, int end) const {
    return uses_long_rope(end) ? rope_sin_long.data() : uses_local_rope(l) ? rope_sin_local.data() : rope_sin.data();
  }
  bool uses_long_rope(int end) const { return !rope_cos_long.empty() && end > cfg.rope_long_after; }
  bool uses_local_rope(int l) const { return !rope_cos_local.empty() && !cfg.layer_sliding.empty() && cfg.layer_sliding[l]; }
  std::vector<std::shared_ptr<Mapping>> mappings;  // the weights' memory, one per file (its mapping or its copy)
  // Weights being copied onto 2 MiB pages in the background (loader.cpp want_copy), taken into use by the first
  // operation that starts after the copy is done while no other runs (WeightsInUse); null when none is made.
  std::shared_ptr<WeightsCopy> copy;
  std::mutex ops_mu;
  int ops_running = 0;
  // MoE layers' routers and experts: slots after the head (head_slot() + 1 + i is moe_lin[i])
  std::vector<int> moe_base;  // [layer] the router's slot, −1 for a dense layer
  std::vector<Mat> moe_lin;
  std::vector<std::vector<float>> moe_bias;  // parallel to moe_lin with expert_bias (GPT-OSS), else empty
  // weights the loader had to gather into memory of their own (a file tensor transposed or interleaved relative to
  // the engine's [out, in] rows: GPT-OSS's fused experts), in their stored dtype
  std::vector<std::vector<uint8_t>> gathered;
  bool is_moe(int l) const { return !moe_base.empty() && moe_base[l] >= 0; }
  int n_linear() const { return cfg.layers * LIN_PER_LAYER + 1 + (int)moe_lin.size(); }  // + head + experts
  int head_slot() const { return cfg.layers * LIN_PER_LAYER; }
  const Mat& linear(int slot) const {
    if (slot > head_slot()) return moe_lin[slot - head_slot() - 1];
    return slot == head_slot() ? head : layers[slot / LIN_PER_LAYER].lin[slot % LIN_PER_LAYER];
  }
  // base bias of a linear slot, nullptr when the layer has none (the head never has one; experts with expert_bias)
  const std::vector<float>* bias(int slot) const {
    if (slot > head_slot() && !moe_bias.empty()) {
      const std::vector<float>& b = moe_bias[slot - head_slot() - 1];
      return b.empty() ? nullptr : &b;
    }
    if (slot >= head_slot()) return nullptr;
    const std::vector<float>& b = layers[slot / LIN_PER_LAYER].bias[slot % LIN_PER_LAYER];
    return b.empty() ? nullptr : &b;
  }
};

// ∇W of a linear layer on the phrase: ∇W = Gᵀ X (rank ≤ T), never formed densely. X and G live in their Step's
// memory; layers with one input share it (q/k/v one X, gate/up one X): nothing writes X or G once the step is built.
struct LinearFactor {
  int T = 0, in = 0, out = 0;
  Floats X;  // [T, in]   inputs of the layer on the phrase
  Floats G;  // [T, out]  ∂L/∂y on the phrase
};

// The exact gradient of one phrase loss, in factored form. A step of size α is W ← W − α·(this).
struct Step {
  StepMemory memory;     // holds every factor's X and G (step_memory.h)
  std::vector<int> ids;  // BOS + phrase
  double loss = 0;
  std::vector<LinearFactor> lin;  // n_linear() slots (head last)
  std::vector<std::vector<float>> bias_grad;  // n_linear() slots: ∂L/∂b = Σ_t G[t, :] [out], empty without a bias
  std::vector<int> emb_rows;      // distinct token ids of the phrase
  std::vector<float> emb_grad;    // [rows, D] ∂L/∂embed for those rows (lookup path only; a tied head is in lin)
  std::vector<std::vector<float>> norm_grad;  // one vector per norm index of the model (Model::norms), same sizes
  double max_abs = -1;  // largest |entry| of G, emb_grad, norm_grad (step_max_abs), cached; −1 = not computed
};

// A model state: base − Σ coef·step.
struct Term {
  std::shared_ptr<Step> step;
  float coef;
};
using View = std::vector<Term>;

struct Cancelled : std::runtime_error {
  Cancelled() : std::runtime_error("cancelled") {}
};

// Progress and cancellation hooks passed down from the binding.
struct Job {
  std::function<void(const char* phase, int64_t done, int64_t total)> progress;
  std::function<bool()> cancelled;
  void check() const {
    if (cancelled && cancelled()) throw Cancelled();
  }
  void report(const char* phase, int64_t done, int64_t total) const {
    if (progress) progress(phase, done, total);
    check();
  }
};

// ---- factors.cpp ---------------------------------------------------------------------------------------
// The norm indices a config has (Model::norms order): sets m.norm_at, returns each index's layer and kind (layer −1:
// the final norm)
std::vector<std::pair<int, NormKind>> assign_norms(Model& m);
// Per-view norm weights as stored: w − Σ coef·g, index as Step::norm_grad
std::vector<float> view_norm(const Model& m, const View& v, int norm_index);
// What the norm multiplies by under a view: norm_offset + w − Σ coef·g (Gemma's 1 + w; Llama's w)
std::vector<float> view_norm_scale(const Model& m, const View& v, int norm_index);
// The tensors of the model in HF's naming, in the order of tensor_names() and step_grad_norms(): embedding, each
// layer's linears (each bias after its weight) and norms, the final norm, the head when untied
struct TensorRef {
  enum Kind { EMBED, LINEAR, BIAS, NORM } kind;
  int index;  // linear slot (LINEAR, BIAS) or norm index (NORM)
  int rows, cols;
  std::string name;
};
std::vector<TensorRef> model_tensors(const Model& m);
// y[R, out] = x[R, in]·W_effᵀ (+ b_eff) for rows whose view is views[row_view[r]] (row_view may be null: all rows
// view 0); b_eff = b − Σ coef·∇b when the layer has a bias
void linear_forward(const Model& m, int slot, float* y, const float* x, int R, const std::vector<View>& views,
                    const int* row_view);
// linear_forward of `count` layers that share their input x (q/k/v, gate/up): the base products in one pass over all
// their weights (matmul_wt_fused), then each layer's step corrections
void linear_forward_shared(const Model& m, const int* slots, float* const* ys, int count, const float* x, int R,
                           const std::vector<View>& views, const int* row_view);
// Groups of layers, each group with its own input rows (a MoE layer's routed experts: one group per expert, its
// gate and up on the rows routed to it): the base products of all the groups in one pass (matmul_wt_groups), then
// each layer's corrections. Each group's results equal linear_forward_shared on it alone.
struct LinearGroup {
  const float* x;        // [R, in]
  int R;
  const int* row_view;   // [R] or null
  int slots[3];
  float* ys[3];
  int count;             // ≤ 3
};
void linear_forward_groups(const Model& m, const LinearGroup* groups, int n, const std::vector<View>& views);
// dx[R, in] += dy[R, out]·W_eff for one view
void linear_backward_input(const Model& m, int slot, float* dx, const float* dy, int R, const View& view);
// The backward of such groups for one view (q/k/v, or gate/up, into one dx; a MoE layer's routed experts: each
// expert's down on its rows, or its gate and up into one dx): group g gets dx += Σ_i dys[i]·W_eff(slots[i]), equal to
// linear_backward_input of each slot in turn. The base products of all the groups run in one pass
// (matmul_w_acc_groups), one pass per slot position when the view has factors on these slots (each correction
// follows its own product, as in linear_backward_input).
struct LinearAccGroup {
  float* dx;            // [R, in]
  int R;
  int slots[3];
  const float* dys[3];  // [R, out of slots[i]]
  int count;            // ≤ 3
};
void linear_backward_input_groups(const Model& m, const LinearAccGroup* groups, int n, const View& view);
// x[R, D] = embedding rows of tokens under each row's view
void embed_lookup(const Model& m, float* x, const int* tokens, int R, const std::vector<View>& views,
                  const int* row_view);
// logits[R, V] = h[R, D]·Head_effᵀ (tied heads include the steps' sparse embedding rows)
void head_forward(const Model& m, float* logits, const float* h, int R, const std::vector<View>& views,
                  const int* row_view);
// Effective bias of a linear slot under a view: b − Σ coef·∇b (empty when the slot has no bias)
std::vector<float> view_bias(const Model& m, const View& v, int slot);
// Frobenius norms of the step's gradient per HF tensor, in the order of tensor_names() (biases after their weight)
// Refuses a step whose factors do not fit this model (counts, shapes, token ids, non-finite values): what an
// imported checkpoint must pass before any kernel indexes with it. Throws std::runtime_error naming the part.
void check_step(const Model& m, const Step& s);
// Largest |entry| of the gradient-valued parts of a step (G factors, embedding rows, norm vectors).
double step_max_abs(const Step& s);
// Refuses a view whose terms would overflow float32: a non-finite coefficient, or coef·max|gradient| > FLT_MAX.
void check_view(const Model& m, const View& v);
// Refuses token ids outside [0, vocab) ("<what> contains token id …").
void check_ids(const Model& m, const std::vector<int>& ids, const char* what);
// Frobenius norms of the step's gradient per HF tensor, in the order of tensor_names()
std::vector<double> step_grad_norms(const Model& m, const Step& s);
// For each factor, the index of the first of `fs` whose X is the same buffer of the same size (its own index when
// none): a layer's q/k/v share one X, its gate/up another (phrase_gradient), so passes over the factors read each once
std::vector<size_t> first_with_same_x(const std::vector<const LinearFactor*>& fs);
std::vector<std::string> tensor_names(const Model& m);

// ---- model.cpp -----------------------------------------------------------------------------------------
// The gradient of mean next-token CE over ids (BOS + phrase) at the model `at`.
std::shared_ptr<Step> phrase_gradient(const Model& m, const std::vector<int>& ids, const View& at, const Job& job);
// dh[R, D] += dlogits[R, V]·Head_eff for one view (tied heads include the sparse embedding rows)
void head_backward_input(const Model& m, float* dh, const float* dlogits, int R, const View& view);

// The final transform of a logit, y = x·W_vᵀ → y ÷ logit_divisor (Granite), then Gemma 2's cap·tanh(· / cap), and the
// factor its derivative puts on ∂L/∂logit given the transformed logit l: (1 − tanh²) ÷ logit_divisor. One definition for
// the step's two-pass head (model.cpp) and its one pass (head.cpp), whose logits must be the same bits.
inline float final_logit(float y, float inv_div, float cap) {
  const float x = inv_div != 1.f ? y * inv_div : y;
  return cap > 0 ? cap * std::tanh(x / cap) : x;
}
inline float final_logit_grad(float d, float l, float inv_div, float cap) {
  if (cap > 0) {
    const float th = l / cap;
    d *= 1.f - th * th;
  }
  return inv_div != 1.f ? d * inv_div : d;
}

// ---- head.cpp ------------------------------------------------------------------------------------------
// Does the one-pass head take this step? Not at a view with terms (their head factors and embedding rows are
// head_forward's and head_backward_input's: the two passes), nor for phrases longer than its accumulators allow, nor
// under SOLILOQUY_HEAD_TWO_PASS=1 (for measuring).
bool head_fused_covers(int T, const View& at);
// At the base model, in one pass over the table: logits[T, V] = the final transform (÷ logit_divisor, Gemma 2's cap)
// of xf[T, D]·Headᵀ, bit for bit what head_forward and that transform give; and dxf[T, D] (overwritten) = the head's
// input gradient of mean next-token CE over ids[T] (BOS + phrase), i.e. dlogits·Head with dlogits as phrase_gradient
// computes it from these logits (summed in another order). Buffers of the call from `scratch`.
void head_fused(const Model& m, float* logits, float* dxf, const float* xf, const int* ids, int T, StepMemory& scratch);

// ---- infer.cpp -----------------------------------------------------------------------------------------
struct GenParams {
  std::vector<int> prompt;  // BOS + prompt tokens
  int max_new = 64;         // the seed's max_gen_len
  int max_seq = 128;        // the seed's max_seq_len: prompt + generation never exceed it
  float temperature = 0;    // 0 = greedy
  float top_p = 1;
  uint64_t seed = 0;
  std::vector<int> eos{2};  // generation stops after any of these
};
struct GenResult {
  std::vector<std::vector<int>> tokens;     // per view: generated ids (EOS included when reached)
  std::vector<std::vector<float>> margins;  // per view: top-1 − top-2 logit at each generated step
  bool cancelled = false;                   // cancelled mid-way: tokens/margins hold what was generated so far
};
// One batched generation: every decoding step reads the base weights once for all views. A cancellation returns the
// tokens generated so far with `cancelled` set (a cancelled sweep keeps its partial outputs), instead of throwing.
GenResult generate(const Model& m, const std::vector<View>& views, const GenParams& p, const Job& job);

struct ScoreResult {
  int T = 0, k = 0;
  std::vector<float> nll;        // [N, T−1]  −log p(ids[t+1] | ids[0..t])
  std::vector<int> argmax;       // [N, T]
  std::vector<int> top_ids;      // [N, T, k]
  std::vector<float> top_lp;     // [N, T, k]
  std::vector<float> kl;         // [N, T]    KL(view 0 ‖ view n) of the next-token distributions
  std::vector<float> full;       // [N, |full_at|, V] log-probs at the requested positions
};
// Scores one token sequence under several views (view 0 is the reference for KL).
ScoreResult score(const Model& m, const std::vector<View>& views, const std::vector<int>& ids, int topk,
                  const std::vector<int>& full_at, const Job& job);

// The router's choices on one text under each view (experts.cpp's MoE layers; the seed's "knowledge areas"): per view,
// per MoE layer in layer order, sel [T, K] the chosen experts (most probable first), w [T, K] their combination
// weights, probs [T, E] the router's softmax.
struct RoutingResult {
  int T = 0, E = 0, K = 0;
  std::vector<int> layers;                   // the MoE layers, in order
  std::vector<std::vector<int>> sel;         // [view·layers + i] → [T·K]
  std::vector<std::vector<float>> w, probs;  // [view·layers + i] → [T·K], [T·E]
};
RoutingResult routing(const Model& m, const std::vector<View>& views, const std::vector<int>& ids, const Job& job);

// ---- materialise.cpp ------------------------------------------------------------------------------------
// One tensor of an export: its HF name, output type (F32, F16, BF16 or Q8_0), absolute byte offset in the file, and
// permute_heads > 0 to write q/k rows in Meta's interleaved RoPE order (GGUF "llama"); otherwise HF's row order.
// Dense rows are always formed in HF's order first: a model loaded interleaved (Meta, GGUF) is permuted back.
struct OutTensor {
  std::string name;
  DType dtype = DT_F32;
  uint64_t offset = 0;
  int permute_heads = 0;
  float norm_add = 0.f;  // added to a norm vector on write (Gemma: HF stores w, GGUF stores 1 + w)
  // a tensor the file holds transposed or interleaved (GPT-OSS's experts): element (r, c) at offset + (r·row_stride +
  // c·col_stride)·element size, inside the span [span_offset, span_offset + span_bytes) that it shares with the
  // tensors interleaved with it (consecutive in the list); 0, 0 = row-major at offset
  int64_t row_stride = 0, col_stride = 0;
  uint64_t span_offset = 0, span_bytes = 0;
};
// Writes `prefix` (the format's header, already serialised), then each tensor's dense weights under `view` at its
// offset (zero padding between), row block by row block; written to path + ".partial" and renamed at the end.
void materialise_file(const Model& m, const View& view, const std::string& path, const std::string& prefix,
                      const std::vector<OutTensor>& tensors, const Job& job);

// ---- loader.cpp ----------------------------------------------------------------------------------------
// Where one tensor's bytes live; the TypeScript side parses config.json / params.json (rope_type → rope_inv_freq,
// sliding window, biases) and the safetensors headers or the torch.save zip + pickle of Meta's .pth files (weights
// are STORED there, so they map in place too).
struct TensorSpec {
  std::string name;
  int file = 0;         // index into the file list
  uint64_t offset = 0;  // byte offset of the data from the start of the file
  DType dtype = DT_F32;
  std::vector<int64_t> shape;
  // element strides of a 2-D tensor's rows and columns in the file when it is not row-major there (GPT-OSS's
  // experts: [E, in, out] with gate and up interleaved); 0, 0 = row-major. Such tensors are gathered (Model::gathered).
  int64_t row_stride = 0, col_stride = 0;
  // GPT-OSS's MXFP4 experts as a Hugging Face checkpoint stores them (dtype MXFP4, hf_mxfp4): the nibbles
  // `*_blocks` [E, R, G, 16] and the e8m0 exponents `*_scales` [E, R, G] in two tensors; our row r is their row
  // r·hf_row_step (gate_up's interleaved gate and up rows: step 2), from byte offset (blocks) and hf_scales_offset in
  // file hf_scales_file. Repacked at load into ggml's blocks (Model::gathered), as many bytes as the file's.
  bool hf_mxfp4 = false;
  int hf_scales_file = 0;
  uint64_t hf_scales_offset = 0;
  int64_t hf_row_step = 1;
};
// Refuses configurations the engine cannot address (non-positive or oversized dims, int overflow of products).
void check_config(const Config& c);
// How the weights are held now: "mapped" (the page cache), "copying" (a copy onto 2 MiB pages is being made),
// "ready" (made; the next operation switches to it), "copied" (the products read the copy).
std::string weights_memory(Model& m);
// Every operation that reads weights holds one of these: the first to start after a background copy has finished,
// with no other operation running, moves every weight pointer to the copy and unmaps the files.
struct WeightsInUse {
  Model& m;
  explicit WeightsInUse(Model& model);
  ~WeightsInUse();
};

// mmaps the files read-only and binds every tensor of the Llama config (shapes checked against it), biases
// included when the config has them; builds the RoPE tables from cfg.rope_inv_freq (or default RoPE).
std::shared_ptr<Model> load_model(const Config& cfg, const std::vector<std::string>& files,
                                  const std::vector<TensorSpec>& tensors);
