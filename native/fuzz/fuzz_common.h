// Shared by the libFuzzer harnesses: a byte reader over the fuzz input, a file made from bytes (memfd, so the
// loader's mmap path is the real one), and a tiny Llama whose weights are a deterministic function of a seed.
// Harnesses catch std::exception (a refusal in words is the correct outcome); anything else — an ASan/UBSan report,
// a crash, an uncaught exception, a leak — is a finding.
#pragma once
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "../src/model.h"
#include "../src/threads.h"

struct Reader {
  const uint8_t* p;
  size_t n;
  template <class T>
  T get() {
    T v{};
    size_t k = n < sizeof(T) ? n : sizeof(T);
    std::memcpy(&v, p, k);
    p += k;
    n -= k;
    return v;
  }
  size_t left() const { return n; }
};

// A readable path holding `bytes` (an anonymous memory file; /proc/self/fd/N is what the loader opens).
struct MemFile {
  int fd = -1;
  std::string path;
  explicit MemFile(const uint8_t* bytes, size_t n) {
    fd = memfd_create("fuzz", 0);
    size_t off = 0;
    while (off < n) {
      ssize_t w = write(fd, bytes + off, n - off);
      if (w <= 0) break;
      off += (size_t)w;
    }
    path = "/proc/self/fd/" + std::to_string(fd);
  }
  ~MemFile() {
    if (fd >= 0) close(fd);
  }
};

// The tiny model every generation/step harness runs: V=64, D=8, F=16, 1 layer, 2 heads (hd 4), 1 KV head, F32.
inline Config tiny_config() {
  Config c;
  c.vocab = 64;
  c.dim = 8;
  c.ffn = 16;
  c.layers = 1;
  c.heads = 2;
  c.kv_heads = 1;
  c.head_dim = 4;
  c.max_pos = 32;
  c.bos = 1;
  c.eos = 2;
  return c;
}

struct TinyModel {
  std::vector<float> data;
  std::vector<TensorSpec> specs;
  MemFile* file = nullptr;
  std::shared_ptr<Model> model;
};

inline TinyModel& tiny_model() {
  static TinyModel tm = [] {
    threads_init(1);
    TinyModel t;
    Config c = tiny_config();
    const int D = c.dim, F = c.ffn, QD = c.heads * c.head_dim, KD = c.kv_heads * c.head_dim;
    uint32_t s = 12345;
    auto add = [&](const std::string& name, int rows, int cols, bool norm) {
      TensorSpec ts;
      ts.name = name;
      ts.offset = t.data.size() * 4;
      ts.dtype = DT_F32;
      ts.shape = rows == 1 ? std::vector<int64_t>{cols} : std::vector<int64_t>{rows, cols};
      for (int i = 0; i < rows * cols; i++) {
        s = s * 1664525u + 1013904223u;
        float u = (float)(s >> 8) / 16777216.f * 2.f - 1.f;
        t.data.push_back(norm ? 1.f + 0.2f * u : u / 3.f);
      }
      t.specs.push_back(ts);
    };
    add("model.embed_tokens.weight", c.vocab, D, false);
    std::string p = "model.layers.0.";
    add(p + "self_attn.q_proj.weight", QD, D, false);
    add(p + "self_attn.k_proj.weight", KD, D, false);
    add(p + "self_attn.v_proj.weight", KD, D, false);
    add(p + "self_attn.o_proj.weight", D, QD, false);
    add(p + "mlp.gate_proj.weight", F, D, false);
    add(p + "mlp.up_proj.weight", F, D, false);
    add(p + "mlp.down_proj.weight", D, F, false);
    add(p + "input_layernorm.weight", 1, D, true);
    add(p + "post_attention_layernorm.weight", 1, D, true);
    add("model.norm.weight", 1, D, true);
    add("lm_head.weight", c.vocab, D, false);
    t.file = new MemFile((const uint8_t*)t.data.data(), t.data.size() * 4);
    t.model = load_model(c, {t.file->path}, t.specs);
    return t;
  }();
  return tm;
}

// One exact gradient of the tiny model (a real Step to build views from).
inline std::shared_ptr<Step> tiny_step() {
  static std::shared_ptr<Step> s = [] {
    Job job;
    return phrase_gradient(*tiny_model().model, {1, 10, 20, 30, 40}, {}, job);
  }();
  return s;
}
