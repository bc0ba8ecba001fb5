// load_model over a crafted configuration, crafted TensorSpecs and a crafted mapped file, then a short generation
// when it loads. Input layout (little-endian, missing bytes read as 0):
//   config: 8 × int32 (vocab, dim, ffn, layers, heads, kv_heads, head_dim, max_pos), u8 flags (bit 0 tied,
//           bit 1 rope_interleaved)
//   u8 n_tensors, then per tensor: u8 name index (into the Llama names of a ≤ 2-layer model), u8 dtype (index into
//           STORED below, modulo its length: 0‥2 the element types, then ggml's block types),
//           int32 file index, uint64 offset, u8 ndims (≤ 3), ndims × int64 dims
//   the rest: the bytes of the single checkpoint file
#include <cstdio>
#include <cstdlib>

#include "fuzz_common.h"

static std::vector<std::string> names() {
  static const char* lin[] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                              "mlp.gate_proj",    "mlp.up_proj",      "mlp.down_proj"};
  std::vector<std::string> n{"model.embed_tokens.weight", "lm_head.weight", "model.norm.weight"};
  for (int l = 0; l < 2; l++) {
    std::string p = "model.layers." + std::to_string(l) + ".";
    for (const char* x : lin) n.push_back(p + x + ".weight");
    n.push_back(p + "input_layernorm.weight");
    n.push_back(p + "post_attention_layernorm.weight");
  }
  return n;
}

// every type a tensor may be stored as; the block types' scales are read from the file, so NaN / inf scales,
// out-of-range fields and every packed bit pattern reach the decoders
static const DType STORED[] = {DT_F32,  DT_F16,  DT_BF16, DT_Q8_0,   DT_Q4_0,   DT_Q4_K,  DT_Q5_K,  DT_Q6_K, DT_Q4_1,
                               DT_Q5_0, DT_Q5_1, DT_Q2_K, DT_Q3_K, DT_IQ4_NL, DT_IQ4_XS, DT_MXFP4, DT_TQ1_0, DT_TQ2_0};

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::vector<std::string> all = names();
  threads_init(1);
  Reader r{data, size};
  Config c;
  c.vocab = r.get<int32_t>();
  c.dim = r.get<int32_t>();
  c.ffn = r.get<int32_t>();
  c.layers = r.get<int32_t>();
  c.heads = r.get<int32_t>();
  c.kv_heads = r.get<int32_t>();
  c.head_dim = r.get<int32_t>();
  c.max_pos = r.get<int32_t>();
  uint8_t flags = r.get<uint8_t>();
  c.tied = flags & 1;
  c.rope_interleaved = flags & 2;
  int nt = r.get<uint8_t>();
  std::vector<TensorSpec> specs;
  for (int i = 0; i < nt && r.left(); i++) {
    TensorSpec t;
    t.name = all[r.get<uint8_t>() % all.size()];
    t.dtype = STORED[r.get<uint8_t>() % (sizeof STORED / sizeof STORED[0])];
    t.file = r.get<int32_t>();
    t.offset = r.get<uint64_t>();
    int nd = r.get<uint8_t>() % 4;
    for (int j = 0; j < nd; j++) t.shape.push_back(r.get<int64_t>());
    specs.push_back(t);
  }
  MemFile f(r.p, r.left());
  try {
    auto m = load_model(c, {f.path}, specs);
    // the loaded model must run: a few greedy tokens (non-finite weights are refused, not decoded)
    if ((int64_t)m->cfg.vocab * m->cfg.dim <= (1 << 16) && m->cfg.max_pos >= 4) {
      GenParams p;
      p.prompt = {0};
      p.max_new = 2;
      p.max_seq = 4;
      p.eos = {};
      Job job;
      generate(*m, {View{}}, p, job);
    }
    if (getenv("FUZZ_TRACE")) fprintf(stderr, "fuzz_load: loaded and generated\n");
  } catch (const std::exception& e) {
    if (getenv("FUZZ_TRACE")) fprintf(stderr, "fuzz_load: refused: %s\n", e.what());
  }
  return 0;
}
