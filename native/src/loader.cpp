// Memory-maps checkpoint files read-only and binds tensors to the model's slots. Weights stay in their file
// dtype: only the page cache holds them, no fp32 copy is made (norm vectors excepted: D floats each).
#include <cerrno>
#include <cstring>
#include <map>

#include "model.h"
#include "quants.h"

#ifdef _WIN32
#include <windows.h>
#else
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

namespace {
struct Mapping {
  const uint8_t* data = nullptr;
  uint64_t size = 0;
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

}  // namespace

std::shared_ptr<Model> load_model(const Config& cfg, const std::vector<std::string>& files,
                                  const std::vector<TensorSpec>& tensors) {
  auto m = std::make_shared<Model>();
  m->cfg = cfg;
  const Config& c = cfg;
  if (c.vocab <= 0 || c.dim <= 0 || c.ffn <= 0 || c.layers <= 0 || c.heads <= 0 || c.kv_heads <= 0 ||
      c.head_dim <= 0 || c.head_dim % 2 != 0 || c.heads % c.kv_heads != 0 || c.sliding_window < 0)
    throw std::runtime_error("invalid model configuration");
  std::vector<std::shared_ptr<Mapping>> maps;
  for (const std::string& f : files) {
    maps.push_back(map_file(f));
    m->mappings.push_back(maps.back());
  }
  std::map<std::string, const TensorSpec*> by_name;
  for (const TensorSpec& t : tensors) by_name[t.name] = &t;

  auto get = [&](const std::string& name, int rows, int cols) -> Mat {
    auto it = by_name.find(name);
    if (it == by_name.end()) throw std::runtime_error("the checkpoint has no tensor " + name);
    const TensorSpec& t = *it->second;
    int64_t r = t.shape.size() == 2 ? t.shape[0] : 1, cc = t.shape.empty() ? 1 : t.shape.back();
    if (t.shape.size() > 2 || r != rows || cc != cols)
      throw std::runtime_error(name + ": shape does not match config.json (expected [" +
                               (rows == 1 ? "" : std::to_string(rows) + ", ") + std::to_string(cols) + "])");
    if (t.file < 0 || t.file >= (int)maps.size()) throw std::runtime_error(name + ": bad file index");
    const int be = dtype_block_elems(t.dtype);
    if (cols % be != 0)
      throw std::runtime_error(name + ": rows of " + std::to_string(cols) + " weights are not whole " +
                               dtype_name(t.dtype) + " blocks of " + std::to_string(be));
    uint64_t bytes = (uint64_t)rows * dtype_row_bytes(t.dtype, cols);
    if (t.offset + bytes > maps[t.file]->size)
      throw std::runtime_error(name + ": data runs past the end of " + files[t.file] + " (truncated file?)");
    // element types are read as whole values; quantised blocks are read field by field (2-byte halves via memcpy)
    if (!dtype_quantised(t.dtype) && t.offset % dtype_size(t.dtype) != 0)
      throw std::runtime_error(name + ": misaligned data");
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
  for (int l = 0; l < c.layers; l++) {
    std::string p = "model.layers." + std::to_string(l) + ".";
    Layer& L = m->layers[l];
    L.lin[LIN_Q] = get(p + "self_attn.q_proj.weight", QD, D);
    L.lin[LIN_K] = get(p + "self_attn.k_proj.weight", KD, D);
    L.lin[LIN_V] = get(p + "self_attn.v_proj.weight", KD, D);
    L.lin[LIN_O] = get(p + "self_attn.o_proj.weight", D, QD);
    L.lin[LIN_GATE] = get(p + "mlp.gate_proj.weight", c.ffn, D);
    L.lin[LIN_UP] = get(p + "mlp.up_proj.weight", c.ffn, D);
    L.lin[LIN_DOWN] = get(p + "mlp.down_proj.weight", D, c.ffn);
    static const char* lin_names[LIN_PER_LAYER] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                                                   "self_attn.o_proj", "mlp.gate_proj",    "mlp.up_proj",
                                                   "mlp.down_proj"};
    const bool has_bias[LIN_PER_LAYER] = {c.bias_qkv, c.bias_qkv, c.bias_qkv, c.bias_o,
                                          c.bias_mlp, c.bias_mlp, c.bias_mlp};
    for (int j = 0; j < LIN_PER_LAYER; j++)
      if (has_bias[j]) L.bias[j] = vec(p + lin_names[j] + ".bias", L.lin[j].rows);
    L.attn_norm = vec(p + "input_layernorm.weight", D);
    L.ffn_norm = vec(p + "post_attention_layernorm.weight", D);
  }
  m->final_norm = vec("model.norm.weight", D);
  int half = c.head_dim / 2;
  m->rope_cos.resize((size_t)c.max_pos * half);
  m->rope_sin.resize((size_t)c.max_pos * half);
  std::vector<float> inv = c.rope_inv_freq;
  if (inv.empty()) {
    inv.resize(half);
    rope_default_inv_freq(inv.data(), c.head_dim, c.rope_theta);
  }
  if ((int)inv.size() != half)
    throw std::runtime_error("RoPE inverse frequencies: " + std::to_string(inv.size()) + " values for head_dim " +
                             std::to_string(c.head_dim) + " (expected head_dim / 2)");
  rope_tables(m->rope_cos.data(), m->rope_sin.data(), c.max_pos, c.head_dim, inv.data(), c.rope_scale);
  return m;
}
