// Memory-maps checkpoint files read-only and binds tensors to the model's slots. Weights stay in their file
// dtype and no fp32 copy is made (norm vectors excepted: D floats each). On Linux a large checkpoint that is already
// in the page cache and fits in free memory is also copied, in the background, into anonymous memory backed by 2 MiB
// pages, and used from there once the copy is done (want_copy, WeightsInUse); otherwise the page cache holds them.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <thread>

#include "experts.h"
#include "model.h"
#include "quants.h"

#ifdef _WIN32
#include <windows.h>
#else
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

// one checkpoint file in memory: mapped, or an anonymous copy (WeightsCopy)
struct Mapping {
  const uint8_t* data = nullptr;
  uint64_t size = 0;
  bool copied = false;  // data is an anonymous copy of the file (munmap frees either)
#ifdef _WIN32
  HANDLE file = INVALID_HANDLE_VALUE, map = nullptr;
  ~Mapping() {
    if (data) UnmapViewOfFile(data);
    if (map) CloseHandle(map);
    if (file != INVALID_HANDLE_VALUE) CloseHandle(file);
  }
#else
  ~Mapping() {
    if (data && size) munmap((void*)data, size);
  }
#endif
};

namespace {
std::shared_ptr<Mapping> map_file(const std::string& path) {
  auto mp = std::make_shared<Mapping>();
#ifdef _WIN32
  mp->file = CreateFileA(path.c_str(), GENERIC_READ, FILE_SHARE_READ, nullptr, OPEN_EXISTING, 0, nullptr);
  if (mp->file == INVALID_HANDLE_VALUE) throw std::runtime_error("cannot open " + path);
  LARGE_INTEGER sz;
  GetFileSizeEx(mp->file, &sz);
  mp->size = (uint64_t)sz.QuadPart;
  mp->map = CreateFileMappingA(mp->file, nullptr, PAGE_READONLY, 0, 0, nullptr);
  if (!mp->map) throw std::runtime_error("cannot map " + path);
  mp->data = (const uint8_t*)MapViewOfFile(mp->map, FILE_MAP_READ, 0, 0, 0);
  if (!mp->data) throw std::runtime_error("cannot map " + path);
#else
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot stat " + path);
  }
  mp->size = (uint64_t)st.st_size;
  if (mp->size) {
    void* p = mmap(nullptr, mp->size, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
      ::close(fd);
      throw std::runtime_error("cannot map " + path + ": " + std::strerror(errno));
    }
    mp->data = (const uint8_t*)p;
  }
  ::close(fd);
#endif
  return mp;
}

#ifdef __linux__
// MemAvailable from /proc/meminfo in bytes (free memory plus what the kernel can reclaim, page cache included), or 0
uint64_t mem_available() {
  std::ifstream f("/proc/meminfo");
  std::string key;
  uint64_t kb = 0;
  std::string unit;
  while (f >> key >> kb >> unit)
    if (key == "MemAvailable:") return kb * 1024;
  return 0;
}

// the fraction of a mapping's pages that are in the page cache
double resident_fraction(const Mapping& mp) {
  const long page = sysconf(_SC_PAGESIZE);
  const uint64_t pages = (mp.size + page - 1) / page;
  std::vector<unsigned char> in(pages);
  if (mincore((void*)mp.data, mp.size, in.data()) != 0) return 0;
  uint64_t n = 0;
  for (unsigned char c : in) n += c & 1;
  return pages ? (double)n / pages : 0;
}

// An anonymous copy of a mapped file advised onto 2 MiB pages (read-only once filled), or null when memory or the
// file cannot be had or `stop` is raised (the model was closed first).
std::shared_ptr<Mapping> copy_to_anonymous(uint64_t size, const std::string& path, const std::atomic<bool>& stop) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return nullptr;
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    ::close(fd);
    return nullptr;
  }
  madvise(p, size, MADV_HUGEPAGE);  // before the first touch, so the faults take whole huge pages
  const uint64_t chunk = 64ull << 20;
  for (uint64_t o = 0; o < size;) {
    ssize_t got = stop ? -1 : pread(fd, (char*)p + o, std::min(chunk, size - o), (off_t)o);
    if (got <= 0) {  // closed, a read error, or a file shortened under us: keep the mapping
      munmap(p, size);
      ::close(fd);
      return nullptr;
    }
    o += (uint64_t)got;
  }
  ::close(fd);
  mprotect(p, size, PROT_READ);
  auto mp = std::make_shared<Mapping>();
  mp->data = (const uint8_t*)p;
  mp->size = size;
  mp->copied = true;
  return mp;
}
#endif

// Where the weights live. Streaming them from anonymous memory on 2 MiB pages measured 3–16 % faster than from the
// page cache's 4 KiB pages (every product, 1.1B model, 2-core AVX-512 VM: fewer TLB misses and page-crossing stalls
// of the hardware prefetcher). So on Linux a large checkpoint (≥ 64 MiB of files) whose pages are ≥ 90 % in the page
// cache, and whose cached file and copy together fit in 3/4 of MemAvailable, is copied by a background thread while
// the model is already in use from the mapping (opening it takes no longer; the copy ran at 0.3–4.6 GB/s on this VM,
// where first touches of memory are slow, 1–3 s for 2.2 GB, and operations running meanwhile are slower: a step
// started with it took 1.4 s instead of 0.4, even at the copy's lowest priority); the next operation to start after
// it finishes switches over (WeightsInUse). A cold file, or one that would need memory reclaimed first (a 7B file on
// a 16 or 24 GB machine), stays mapped: one copy, reclaimable. SOLILOQUY_WEIGHTS=map or =copy decides instead.
bool want_copy(const std::vector<std::shared_ptr<Mapping>>& maps) {
#ifdef __linux__
  const char* env = std::getenv("SOLILOQUY_WEIGHTS");
  const std::string mode = env ? env : "";
  if (mode == "map") return false;
  if (mode == "copy") return true;
  uint64_t total = 0;
  for (auto& mp : maps) total += mp->size;
  if (total < (64ull << 20)) return false;
  const uint64_t avail = mem_available();
  double resident = 0;
  for (auto& mp : maps) resident += resident_fraction(*mp) * (double)mp->size;
  return avail > 0 && 2 * total <= avail / 4 * 3 && resident >= 0.9 * (double)total;
#else
  (void)maps;
  return false;
#endif
}

}  // namespace

void check_config(const Config& c) {
  auto field = [](const char* name, int64_t v, int64_t hi) {
    if (v <= 0 || v > hi)
      throw std::runtime_error(std::string("config.json: ") + name + " " + std::to_string(v) +
                               (v <= 0 ? " must be positive" : " is beyond what the engine can address (at most " +
                                                                  std::to_string(hi) + ")"));
  };
  const int64_t big = INT32_MAX;
  field("vocab_size", c.vocab, big);
  field("hidden_size", c.dim, 1 << 20);
  field("intermediate_size", c.ffn, 1 << 22);
  field("num_hidden_layers", c.layers, 1 << 12);
  field("num_attention_heads", c.heads, 1 << 12);
  field("num_key_value_heads", c.kv_heads, 1 << 12);
  field("head_dim", c.head_dim, 1 << 14);
  field("max_position_embeddings", c.max_pos, 1 << 20);
  if (c.head_dim % 2 != 0) throw std::runtime_error("config.json: head_dim must be even for rotary embeddings");
  if (c.rope_dims < 0 || c.rope_dims > c.head_dim || c.rope_dims % 2 != 0)
    throw std::runtime_error("config.json: the rotary dimensions (head_dim × partial_rotary_factor = " +
                             std::to_string(c.rope_dims) + ") must be even and at most head_dim " +
                             std::to_string(c.head_dim));
  if (c.heads % c.kv_heads != 0)
    throw std::runtime_error("config.json: num_key_value_heads " + std::to_string(c.kv_heads) +
                             " does not divide num_attention_heads " + std::to_string(c.heads));
  if ((int64_t)c.heads * c.head_dim > (1 << 20))
    throw std::runtime_error("config.json: num_attention_heads × head_dim is beyond what the engine can address");
  if ((int64_t)c.max_pos * (c.head_dim / 2) > (1 << 24))
    throw std::runtime_error("config.json: max_position_embeddings × head_dim is beyond the RoPE table's limit");
  if ((int64_t)c.vocab * c.dim > ((int64_t)1 << 40))
    throw std::runtime_error("config.json: vocab_size × hidden_size is beyond what the engine can address");
  if (!(c.eps > 0) || !std::isfinite(c.eps)) throw std::runtime_error("config.json: rms_norm_eps must be a positive number");
  if (!(c.rope_theta > 0) || !std::isfinite(c.rope_theta))
    throw std::runtime_error("config.json: rope_theta must be a positive number");
  if (c.sliding_window < 0) throw std::runtime_error("config.json: sliding_window must be positive or null");
  auto finite = [](const char* name, float v, bool positive) {
    if (!std::isfinite(v) || (positive ? !(v > 0) : v < 0))
      throw std::runtime_error(std::string("config.json: ") + name + " must be a " + (positive ? "positive" : "non-negative") +
                               " float32 number");
  };
  if (c.qk_norm && c.rope_interleaved)
    throw std::runtime_error("q/k norms over q/k rows in interleaved RoPE order are not supported");
  finite("embedding_multiplier", c.embed_scale, false);
  finite("residual_multiplier", c.residual_scale, false);
  finite("attention_multiplier", c.attn_scale, false);
  finite("logits_scaling", c.logit_divisor, true);
  finite("attn_logit_softcapping", c.attn_softcap, false);
  finite("final_logit_softcapping", c.final_softcap, false);
  if (!std::isfinite(c.norm_offset)) throw std::runtime_error("the norm offset must be a finite number");
  if (c.n_experts != 0) {  // a mixture of experts: router and experts (experts.cpp)
    field("num_experts", c.n_experts, 1 << 14);
    field("num_experts_per_tok", c.top_k, c.n_experts);
    field("moe_intermediate_size", c.expert_ffn, 1 << 22);
    if ((int)c.layer_moe.size() != c.layers)
      throw std::runtime_error("the per-layer expert flags have " + std::to_string(c.layer_moe.size()) +
                               " entries for num_hidden_layers " + std::to_string(c.layers));
  }
  if (c.attn_sinks && c.norm_offset != 0.f)
    throw std::runtime_error("attention sinks with a norm offset are not supported (the sinks would be offset too)");
  if (!std::isfinite(c.glu_limit) || c.glu_limit < 0 || !std::isfinite(c.glu_alpha))
    throw std::runtime_error("config.json: swiglu_limit must be a non-negative number and swiglu_alpha a number");
  if (c.expert_bias && c.n_experts == 0) throw std::runtime_error("expert biases without experts");
  if (c.qk_norm_full && !c.qk_norm) throw std::runtime_error("full-width q/k norms need qk_norm");
  if (!c.layer_sliding.empty() && (int)c.layer_sliding.size() != c.layers)
    throw std::runtime_error("config.json: layer_types has " + std::to_string(c.layer_sliding.size()) +
                             " entries for num_hidden_layers " + std::to_string(c.layers));
}

// GPT-OSS's MXFP4 experts from a Hugging Face checkpoint (transformers' Mxfp4GptOssExperts: `*_blocks` [E, R, G, 16]
// u8, `*_scales` [E, R, G] u8) repacked into ggml's MXFP4 blocks, rows × G blocks of 17 bytes. The same numbers:
// transformers' element 2j of a block is byte j's low nibble and element 2j + 1 its high nibble, where ggml's byte j
// holds element j (low) and element j + 16 (high); both read the nibble as e2m1 (ggml's table holds the values
// doubled, its scale is halved) and the byte as 2^(byte − 127). A byte of 255 (2^128) is inf in transformers'
// float32 ldexp and overflows ggml's float: refused here, in words.
static Mat hf_mxfp4_gathered(Model& m, const TensorSpec& t, int rows, int cols, const std::string& file,
                             const uint8_t* blocks_base, uint64_t blocks_size, const std::string& scales_file,
                             const uint8_t* scales_base, uint64_t scales_size) {
  const std::string name = file + ": " + t.name;
  if (t.dtype != DT_MXFP4 || t.row_stride != 0 || t.col_stride != 0)
    throw std::runtime_error(name + ": Hugging Face MXFP4 experts are read as MXFP4 rows, not strided");
  if (cols % 32 != 0)
    throw std::runtime_error(name + ": rows of " + std::to_string(cols) + " weights are not whole MXFP4 blocks of 32");
  const uint64_t G = (uint64_t)cols / 32, step = (uint64_t)t.hf_row_step;
  const uint64_t span = ((uint64_t)(rows - 1) * step + 1) * G;  // scales (bytes) from the first row to the last
  if (t.offset > blocks_size || span * 16 > blocks_size - t.offset)
    throw std::runtime_error(name + ": MXFP4 blocks at byte " + std::to_string(t.offset) +
                             " run past the end of the file (" + std::to_string(blocks_size) + " bytes; truncated file?)");
  if (t.hf_scales_offset > scales_size || span > scales_size - t.hf_scales_offset)
    throw std::runtime_error(scales_file + ": " + t.name + ": MXFP4 scales at byte " + std::to_string(t.hf_scales_offset) +
                             " run past the end of the file (" + std::to_string(scales_size) + " bytes; truncated file?)");
  std::vector<uint8_t> buf((size_t)rows * G * 17);
  for (uint64_t r = 0; r < (uint64_t)rows; r++)
    for (uint64_t g = 0; g < G; g++) {
      const uint8_t* q = blocks_base + t.offset + (r * step * G + g) * 16;
      const uint8_t e = scales_base[t.hf_scales_offset + r * step * G + g];
      if (e == 255)
        throw std::runtime_error(name + ": row " + std::to_string(r) + ", block " + std::to_string(g) +
                                 " has scale byte 255 (2^128 overflows float32; transformers' dequantisation makes it inf)");
      uint8_t* o = buf.data() + (r * G + g) * 17;
      o[0] = e;
      // element k of the 32: byte k / 2, low nibble when k is even
      auto nib = [q](int k) { return (uint8_t)((q[k >> 1] >> ((k & 1) * 4)) & 15); };
      for (int j = 0; j < 16; j++) o[1 + j] = (uint8_t)(nib(j) | (nib(j + 16) << 4));
    }
  m.gathered.push_back(std::move(buf));
  Mat mt;
  mt.data = m.gathered.back().data();
  mt.dtype = DT_MXFP4;
  mt.rows = rows;
  mt.cols = cols;
  return mt;
}

std::shared_ptr<Model> load_model(const Config& cfg, const std::vector<std::string>& files,
                                  const std::vector<TensorSpec>& tensors) {
  auto m = std::make_shared<Model>();
  m->cfg = cfg;
  const Config& c = cfg;
  check_config(c);
  // every layer needs 9 tensors: a config whose layer count the checkpoint cannot hold is refused before allocating
  if ((int64_t)c.layers * 9 > (int64_t)tensors.size())
    throw std::runtime_error("config.json: num_hidden_layers " + std::to_string(c.layers) + " needs " +
                             std::to_string((int64_t)c.layers * 9) + " layer tensors; the checkpoint has " +
                             std::to_string(tensors.size()) + " tensors in all");
  std::vector<std::shared_ptr<Mapping>> maps;
  for (const std::string& f : files) maps.push_back(map_file(f));
  m->mappings = maps;
  std::map<std::string, const TensorSpec*> by_name;
  for (const TensorSpec& t : tensors) by_name[t.name] = &t;

  auto get = [&](const std::string& name, int rows, int cols) -> Mat {
    auto it = by_name.find(name);
    if (it == by_name.end()) throw std::runtime_error("the checkpoint has no tensor " + name);
    const TensorSpec& t = *it->second;
    for (int64_t d : t.shape)
      if (d < 0) throw std::runtime_error(name + ": shape has a negative dimension " + std::to_string(d));
    int64_t r = t.shape.size() == 2 ? t.shape[0] : 1, cc = t.shape.empty() ? 1 : t.shape.back();
    if (t.shape.size() > 2 || r != rows || cc != cols)
      throw std::runtime_error(name + ": shape does not match config.json (expected [" +
                               (rows == 1 ? "" : std::to_string(rows) + ", ") + std::to_string(cols) + "])");
    if (t.file < 0 || t.file >= (int)maps.size())
      throw std::runtime_error(name + ": file index " + std::to_string(t.file) + " is not one of the " +
                               std::to_string(maps.size()) + " checkpoint files");
    const std::string& file = files[t.file];
    const uint64_t size = maps[t.file]->size;
    if (t.hf_mxfp4) return hf_mxfp4_gathered(*m, t, rows, cols, file, maps[t.file]->data, size, files[t.hf_scales_file],
                                             maps[t.hf_scales_file]->data, maps[t.hf_scales_file]->size);
    if (t.row_stride != 0 || t.col_stride != 0) {
      // not row-major in the file (GPT-OSS's experts): gathered, element by element, into rows of our own
      if (dtype_quantised(t.dtype) || t.row_stride <= 0 || t.col_stride <= 0)
        throw std::runtime_error(file + ": " + name + ": a strided tensor must be F32, F16 or BF16 with positive strides");
      const uint64_t es = dtype_size(t.dtype);
      const uint64_t last = ((uint64_t)(rows - 1) * t.row_stride + (uint64_t)(cols - 1) * t.col_stride + 1) * es;
      if (t.offset > size || last > size - t.offset)
        throw std::runtime_error(file + ": " + name + ": data at byte " + std::to_string(t.offset) +
                                 " runs past the end of the file (" + std::to_string(size) + " bytes; truncated file?)");
      if (t.offset % es != 0)
        throw std::runtime_error(file + ": " + name + ": misaligned data (byte offset " + std::to_string(t.offset) + ")");
      std::vector<uint8_t> buf((size_t)rows * cols * es);
      const uint8_t* src = maps[t.file]->data + t.offset;
      // column-major over our rows: the file's [in, out] rows are then read in order (GPT-OSS: rows are the file's
      // columns, row stride 1 or 2)
      for (int cc2 = 0; cc2 < cols; cc2++)
        for (int r = 0; r < rows; r++)
          std::memcpy(buf.data() + ((size_t)r * cols + cc2) * es,
                      src + ((uint64_t)r * t.row_stride + (uint64_t)cc2 * t.col_stride) * es, es);
      m->gathered.push_back(std::move(buf));
      Mat mt;
      mt.data = m->gathered.back().data();
      mt.dtype = t.dtype;
      mt.rows = rows;
      mt.cols = cols;
      return mt;
    }
    const int be = dtype_block_elems(t.dtype);
    if (cols % be != 0)
      throw std::runtime_error(file + ": " + name + ": rows of " + std::to_string(cols) + " weights are not whole " +
                               dtype_name(t.dtype) + " blocks of " + std::to_string(be));
    const uint64_t bytes = (uint64_t)rows * dtype_row_bytes(t.dtype, cols);
    // written so that nothing wraps: offset ≤ size and bytes ≤ size − offset
    if (t.offset > size || bytes > size - t.offset)
      throw std::runtime_error(file + ": " + name + ": data at byte " + std::to_string(t.offset) + " (" +
                               std::to_string(bytes) + " bytes) runs past the end of the file (" +
                               std::to_string(size) + " bytes; truncated file?)");
    // element types are read as whole values; quantised blocks are read field by field (2-byte halves via memcpy)
    if (!dtype_quantised(t.dtype) && t.offset % dtype_size(t.dtype) != 0)
      throw std::runtime_error(file + ": " + name + ": misaligned data (byte offset " + std::to_string(t.offset) + ")");
    Mat mt;
    mt.data = maps[t.file]->data + t.offset;
    mt.dtype = t.dtype;
    mt.rows = rows;
    mt.cols = cols;
    return mt;
  };
  auto vec = [&](const std::string& name, int n) {
    Mat mt = get(name, 1, n);
    std::vector<float> v(n);
    mat_row_f32(mt, 0, v.data());
    return v;
  };
  const int D = c.dim, QD = c.heads * c.head_dim, KD = c.kv_heads * c.head_dim;
  m->embed = get("model.embed_tokens.weight", c.vocab, D);
  m->head = c.tied ? m->embed : get("lm_head.weight", c.vocab, D);
  m->layers.resize(c.layers);
  m->moe_base.assign(c.layers, -1);
  for (int l = 0; l < c.layers; l++) {
    std::string p = "model.layers." + std::to_string(l) + ".";
    Layer& L = m->layers[l];
    const int rows[LIN_PER_LAYER] = {QD, KD, KD, D, c.ffn, c.ffn, D};
    const int cols[LIN_PER_LAYER] = {D, D, D, QD, D, D, c.ffn};
    const bool moe = c.n_experts > 0 && c.layer_moe[l];
    for (int j = 0; j < LIN_PER_LAYER; j++)
      if (!moe || j < LIN_GATE) L.lin[j] = get(p + linear_name(j) + ".weight", rows[j], cols[j]);
    if (moe) {  // the router [E, D], each expert's gate/up [Fe, D] and down [D, Fe] (experts.cpp)
      const int Fe = c.expert_ffn;
      const int ex_rows[MOE_PER_EXPERT] = {Fe, Fe, D}, ex_cols[MOE_PER_EXPERT] = {D, D, Fe};
      m->moe_base[l] = m->head_slot() + 1 + (int)m->moe_lin.size();
      for (int j = 0; j < 1 + c.n_experts * MOE_PER_EXPERT; j++) {
        const int kind = (j - 1) % MOE_PER_EXPERT;
        m->moe_lin.push_back(get(p + moe_tensor_name(j) + ".weight", j == 0 ? c.n_experts : ex_rows[kind],
                                 j == 0 ? D : ex_cols[kind]));
        if (c.expert_bias)  // GPT-OSS: the router's and every expert's biases
          m->moe_bias.push_back(vec(p + moe_tensor_name(j) + ".bias", m->moe_lin.back().rows));
      }
    }
    const bool has_bias[LIN_PER_LAYER] = {c.bias_qkv, c.bias_qkv, c.bias_qkv, c.bias_o,
                                          c.bias_mlp, c.bias_mlp, c.bias_mlp};
    for (int j = 0; j < LIN_PER_LAYER; j++)
      if (has_bias[j]) L.bias[j] = vec(p + linear_name(j) + ".bias", L.lin[j].rows);
  }
  // norm vectors: [D] on the residual stream, [hd] on each head (q_norm, k_norm)
  const std::vector<std::pair<int, NormKind>> norms = assign_norms(*m);
  for (const auto& [l, k] : norms) {
    if (l < 0) {
      m->norms.push_back(vec("model.norm.weight", D));
      continue;
    }
    const int n = k == NORM_SINKS ? c.heads
                  : k == NORM_Q || k == NORM_K ? (c.qk_norm_full ? (k == NORM_Q ? QD : KD) : c.head_dim) : D;
    m->norms.push_back(vec("model.layers." + std::to_string(l) + "." + norm_name(c, k) + ".weight", n));
  }
  const int rot = c.rotary_dims(), half = rot / 2;
  m->rope_cos.resize((size_t)c.max_pos * half);
  m->rope_sin.resize((size_t)c.max_pos * half);
  std::vector<float> inv = c.rope_inv_freq;
  if (inv.empty()) {
    inv.resize(half);
    rope_default_inv_freq(inv.data(), rot, c.rope_theta);
  }
  if ((int)inv.size() != half)
    throw std::runtime_error("RoPE inverse frequencies: " + std::to_string(inv.size()) + " values for head_dim " +
                             std::to_string(c.head_dim) + " (expected the rotary dimensions / 2)");
  rope_tables(m->rope_cos.data(), m->rope_sin.data(), c.max_pos, rot, inv.data(), c.rope_scale);
  if (!c.rope_inv_freq_local.empty()) {  // Gemma 3's sliding layers: their own base, unscaled
    if ((int)c.rope_inv_freq_local.size() != half)
      throw std::runtime_error("local RoPE inverse frequencies: " + std::to_string(c.rope_inv_freq_local.size()) +
                               " values for head_dim " + std::to_string(c.head_dim) + " (expected head_dim / 2)");
    m->rope_cos_local.resize((size_t)c.max_pos * half);
    m->rope_sin_local.resize((size_t)c.max_pos * half);
    rope_tables(m->rope_cos_local.data(), m->rope_sin_local.data(), c.max_pos, rot,
                c.rope_inv_freq_local.data(), 1.f);
  }
  if (!c.rope_inv_freq_long.empty()) {  // longrope's long factors, scaled by the same attention factor
    if ((int)c.rope_inv_freq_long.size() != half || !c.rope_inv_freq_local.empty() || c.rope_long_after < 1)
      throw std::runtime_error("long RoPE inverse frequencies: " + std::to_string(c.rope_inv_freq_long.size()) +
                               " values (expected the rotary dimensions / 2, a positive ropeLongAfter and no local RoPE)");
    m->rope_cos_long.resize((size_t)c.max_pos * half);
    m->rope_sin_long.resize((size_t)c.max_pos * half);
    rope_tables(m->rope_cos_long.data(), m->rope_sin_long.data(), c.max_pos, rot, c.rope_inv_freq_long.data(),
                c.rope_scale);
  }
#ifdef __linux__
  if (want_copy(maps)) {
    auto job = std::make_shared<WeightsCopy>();
    m->copy = job;
    std::vector<uint64_t> sizes;
    for (auto& mp : maps) {
      sizes.push_back(mp->size);
      job->bytes += mp->size;
    }
    // the thread shares only the job (not the model): a model closed meanwhile raises `stop` and is freed at once
    std::thread([job, sizes, files] {
      // lowest priority, so that the copy yields the cores to the engine's threads (it still competes for memory and
      // the kernel's page allocator: a step started during it took 1.4 s at this priority, 1.7 s at the normal one)
      setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19);
      std::vector<std::shared_ptr<Mapping>> copies;
      for (size_t i = 0; i < files.size(); i++) {
        copies.push_back(sizes[i] ? copy_to_anonymous(sizes[i], files[i], job->stop) : std::make_shared<Mapping>());
        if (!copies.back()) {
          job->state = WeightsCopy::FAILED;
          return;
        }
      }
      std::lock_guard<std::mutex> lk(job->mu);
      job->copies = std::move(copies);
      job->state = WeightsCopy::DONE;
    }).detach();
  }
#endif
  return m;
}

std::string weights_memory(Model& m) {
  std::lock_guard<std::mutex> lk(m.ops_mu);
  if (!m.copy) return "mapped";
  switch (m.copy->state.load()) {
    case WeightsCopy::RUNNING: return "copying";
    case WeightsCopy::DONE: return "ready";
    case WeightsCopy::IN_USE: return "copied";
    default: return "mapped";
  }
}

WeightsInUse::WeightsInUse(Model& model) : m(model) {
  std::lock_guard<std::mutex> lk(m.ops_mu);
  if (m.ops_running == 0 && m.copy && m.copy->state == WeightsCopy::DONE) {
    // every weight pointer moves to the same offset in its file's copy; nothing reads weights right now
    std::vector<std::shared_ptr<Mapping>> copies;
    {
      std::lock_guard<std::mutex> ck(m.copy->mu);
      copies = m.copy->copies;
    }
    auto move = [&](Mat& w) {
      for (size_t f = 0; f < m.mappings.size(); f++) {
        const Mapping* file = m.mappings[f].get();
        const uint8_t* p = (const uint8_t*)w.data;
        if (file->size && p >= file->data && p < file->data + file->size) {
          w.data = copies[f]->data + (p - file->data);
          return;
        }
      }
    };
    move(m.embed);
    move(m.head);
    for (Layer& L : m.layers)
      for (Mat& w : L.lin) move(w);
    for (Mat& w : m.moe_lin) move(w);
    m.mappings = copies;  // unmaps the files
    m.copy->state = WeightsCopy::IN_USE;
  }
  m.ops_running++;
}

WeightsInUse::~WeightsInUse() {
  std::lock_guard<std::mutex> lk(m.ops_mu);
  m.ops_running--;
}

Model::~Model() {
  if (copy) copy->stop = true;
}
