// Dense weights of a view, streamed tensor by tensor to a safetensors file (export of a stepped model).
// Never holds more than one block of rows in fp32.
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "model.h"
#include "threads.h"

namespace {
enum Kind { K_EMBED, K_LINEAR, K_NORM, K_BIAS };
struct Target {
  Kind kind;
  int index;  // linear slot (K_LINEAR, K_BIAS) or norm index
  int rows, cols;
};

Target resolve(const Model& m, const std::string& name) {
  static const char* lin_names[LIN_PER_LAYER] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                                                 "self_attn.o_proj", "mlp.gate_proj",    "mlp.up_proj",
                                                 "mlp.down_proj"};
  const int D = m.cfg.dim;
  if (name == "model.embed_tokens.weight") return {K_EMBED, 0, m.embed.rows, m.embed.cols};
  if (name == "lm_head.weight" && !m.cfg.tied) return {K_LINEAR, m.head_slot(), m.head.rows, m.head.cols};
  if (name == "model.norm.weight") return {K_NORM, 2 * m.cfg.layers, 1, D};
  for (int l = 0; l < m.cfg.layers; l++) {
    std::string p = "model.layers." + std::to_string(l) + ".";
    if (name.compare(0, p.size(), p) != 0) continue;
    std::string rest = name.substr(p.size());
    for (int j = 0; j < LIN_PER_LAYER; j++)
      if (rest == std::string(lin_names[j]) + ".weight") {
        const Mat& W = m.layers[l].lin[j];
        return {K_LINEAR, l * LIN_PER_LAYER + j, W.rows, W.cols};
      } else if (rest == std::string(lin_names[j]) + ".bias" && m.bias(l * LIN_PER_LAYER + j)) {
        return {K_BIAS, l * LIN_PER_LAYER + j, 1, m.layers[l].lin[j].rows};
      }
    if (rest == "input_layernorm.weight") return {K_NORM, 2 * l, 1, D};
    if (rest == "post_attention_layernorm.weight") return {K_NORM, 2 * l + 1, 1, D};
  }
  throw std::runtime_error("cannot export unknown tensor " + name);
}

// Exported files are always in HF's row order: a model loaded in Meta's interleaved RoPE layout has its q/k rows
// permuted on the way out (HF row i + h·hd of a head reads the interleaved row 2i, row i + hd/2 reads 2i + 1), as
// HF's convert_llama_weights_to_hf does. Writers of other layouts (GGUF) start from this HF order.
int source_row(const Model& m, const Target& tg, int row) {
  if (!m.cfg.rope_interleaved || tg.kind != K_LINEAR || tg.index == m.head_slot()) return row;
  int kind = tg.index % LIN_PER_LAYER;
  if (kind != LIN_Q && kind != LIN_K) return row;
  const int hd = m.cfg.head_dim, half = hd / 2;
  int h = row / hd, r = row % hd;
  return h * hd + (r < half ? 2 * r : 2 * (r - half) + 1);
}

// rows [r0, r1) of a linear (or the embedding) under the view, into out[(r1−r0), cols] (HF row order)
void dense_rows(const Model& m, const View& view, const Target& tg, int r0, int r1, float* out) {
  const int cols = tg.cols;
  const Mat& W = tg.kind == K_EMBED ? m.embed : m.linear(tg.index);
  parallel_for(r1 - r0, [&](int a, int b, int) {
    for (int i = a; i < b; i++) {
      int row = source_row(m, tg, r0 + i);
      float* o = out + (size_t)i * cols;
      mat_row_f32(W, row, o);
      for (const Term& t : view) {
        if (t.coef == 0.f) continue;
        const Step& s = *t.step;
        const LinearFactor* f = nullptr;
        if (tg.kind == K_LINEAR) f = &s.lin[tg.index];
        if (tg.kind == K_EMBED) {
          if (m.cfg.tied) f = &s.lin[m.head_slot()];
          for (size_t j = 0; j < s.emb_rows.size(); j++)
            if (s.emb_rows[j] == row) {
              const float* g = s.emb_grad.data() + j * cols;
              for (int c = 0; c < cols; c++) o[c] -= t.coef * g[c];
            }
        }
        if (!f) continue;
        for (int k = 0; k < f->T; k++) {  // row `row` of Gᵀ X
          float a2 = t.coef * f->G[(size_t)k * f->out + row];
          if (a2 == 0.f) continue;
          const float* x = f->X.data() + (size_t)k * f->in;
          for (int c = 0; c < cols; c++) o[c] -= a2 * x[c];
        }
      }
    }
  });
}

void write_all(FILE* fp, const void* p, size_t n, const std::string& path) {
  if (n && std::fwrite(p, 1, n, fp) != n)
    throw std::runtime_error("could not write " + path + ": " + std::strerror(errno));
}
}  // namespace

void materialise_file(const Model& m, const View& view, const std::string& path, const std::string& header,
                      const std::vector<std::string>& names, DType out, const Job& job) {
  check_view(m, view);
  std::vector<Target> targets;
  for (const std::string& n : names) targets.push_back(resolve(m, n));
  FILE* fp = std::fopen(path.c_str(), "wb");
  if (!fp) throw std::runtime_error("could not create " + path + ": " + std::strerror(errno));
  try {
    uint64_t hlen = header.size();
    uint8_t len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (uint8_t)(hlen >> (8 * i));
    write_all(fp, len8, 8, path);
    write_all(fp, header.data(), header.size(), path);
    std::vector<float> block;
    std::vector<uint16_t> half;
    for (size_t ti = 0; ti < targets.size(); ti++) {
      const Target& tg = targets[ti];
      const int BR = 256;
      for (int r0 = 0; r0 < tg.rows; r0 += BR) {
        int r1 = std::min(tg.rows, r0 + BR);
        size_t n = (size_t)(r1 - r0) * tg.cols;
        block.resize(n);
        if (tg.kind == K_NORM) {
          block = view_norm(m, view, tg.index);
        } else if (tg.kind == K_BIAS) {
          block = view_bias(m, view, tg.index);
        } else {
          dense_rows(m, view, tg, r0, r1, block.data());
        }
        if (out == DT_F32) {
          write_all(fp, block.data(), n * 4, path);
        } else {
          half.resize(n);
          for (size_t i = 0; i < n; i++) half[i] = out == DT_F16 ? f32_to_f16(block[i]) : f32_to_bf16(block[i]);
          write_all(fp, half.data(), n * 2, path);
        }
        job.check();
      }
      job.report("export", (int64_t)ti + 1, (int64_t)targets.size());
    }
    if (std::fflush(fp) != 0) throw std::runtime_error("could not write " + path + ": " + std::strerror(errno));
    if (std::fclose(fp) != 0) {
      fp = nullptr;
      throw std::runtime_error("could not write " + path + ": " + std::strerror(errno));
    }
    fp = nullptr;
  } catch (...) {
    if (fp) std::fclose(fp);
    std::remove(path.c_str());
    throw;
  }
}
