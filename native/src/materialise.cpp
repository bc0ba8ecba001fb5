// Dense weights of a view, streamed tensor by tensor into a file whose header the caller wrote (safetensors or GGUF):
// each tensor at its byte offset, in F32, F16, BF16, Q8_0, Q4_0, Q4_K or Q6_K (quantise.cpp), q/k rows optionally reordered into Meta's interleaved
// RoPE order. Never holds more than one block of rows in fp32; the file is written beside the target and renamed
// into place at the end, so a failed or cancelled export leaves nothing half-written.
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sys/stat.h>
#ifndef S_ISDIR  // MSVC
#define S_ISDIR(m) (((m) & S_IFMT) == S_IFDIR)
#endif

#include "model.h"
#include "quants.h"
#include "threads.h"

namespace {
using Target = TensorRef;

Target resolve(const Model& m, const std::string& name) {
  for (const TensorRef& t : model_tensors(m))
    if (t.name == name) return t;
  throw std::runtime_error("cannot export unknown tensor " + name);
}

// Dense rows are always computed in HF's row order: a model loaded in Meta's interleaved RoPE layout has its q/k rows
// (and their bias entries, Target::BIAS `row` = entry) permuted on the way out (HF row i + h·hd of a head reads the interleaved row 2i, row i + hd/2 reads 2i + 1), as
// HF's convert_llama_weights_to_hf does. Writers of other layouts (GGUF) start from this HF order.
int source_row(const Model& m, const Target& tg, int row) {
  if (!m.cfg.rope_interleaved || (tg.kind != Target::LINEAR && tg.kind != Target::BIAS) || tg.index >= m.head_slot()) return row;
  int kind = tg.index % LIN_PER_LAYER;
  if (kind != LIN_Q && kind != LIN_K) return row;
  const int hd = m.cfg.head_dim, half = hd / 2;
  int h = row / hd, r = row % hd;
  return h * hd + (r < half ? 2 * r : 2 * (r - half) + 1);
}

// The HF row written as output row j of a file that wants q/k rows in Meta's interleaved order (GGUF "llama"):
// per head of hd rows, interleaved rows 2i and 2i+1 are HF rows i and i + hd/2. heads = 0: HF order.
int interleaved_source(int j, int rows, int heads) {
  if (heads <= 0) return j;
  int hd = rows / heads, half = hd / 2, h = j / hd, k = j % hd;
  return h * hd + (k % 2) * half + k / 2;
}

// rows [r0, r1) of a linear (or the embedding) under the view, into out[(r1−r0), cols]: HF row order, or
// interleaved when permute_heads > 0
void dense_rows(const Model& m, const View& view, const Target& tg, int r0, int r1, int permute_heads, float* out) {
  const int cols = tg.cols;
  const Mat& W = tg.kind == Target::EMBED ? m.embed : m.linear(tg.index);
  parallel_for(r1 - r0, [&](int a, int b, int) {
    for (int i = a; i < b; i++) {
      int row = source_row(m, tg, interleaved_source(r0 + i, tg.rows, permute_heads));
      float* o = out + (size_t)i * cols;
      mat_row_f32(W, row, o);
      for (const Term& t : view) {
        if (t.coef == 0.f) continue;
        const Step& s = *t.step;
        const LinearFactor* f = nullptr;
        if (tg.kind == Target::LINEAR) f = &s.lin[tg.index];
        if (tg.kind == Target::EMBED) {
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

void materialise_file(const Model& m, const View& view, const std::string& path, const std::string& prefix,
                      const std::vector<OutTensor>& tensors, const Job& job) {
  check_view(m, view);
  std::vector<Target> targets;
  for (const OutTensor& t : tensors) {
    targets.push_back(resolve(m, t.name));
    const int be = dtype_block_elems(t.dtype);
    if (!dtype_writable(t.dtype))
      throw std::runtime_error(std::string("cannot export to ") + dtype_name(t.dtype));
    if (targets.back().cols % be != 0)
      throw std::runtime_error(t.name + ": rows of " + std::to_string(targets.back().cols) + " weights are not whole " +
                               dtype_name(t.dtype) + " blocks of " + std::to_string(be));
  }
  // The file is written beside the target and renamed over it: a target that is not a regular file (a directory, or
  // a device such as /dev/null, which a rename would replace by a plain file) is refused before anything is written.
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) throw std::runtime_error("could not create " + path + ": " + std::strerror(EISDIR));
    if (!S_ISREG(st.st_mode))
      throw std::runtime_error("will not write " + path + ": it is not a regular file (an export is written beside it "
                               "and renamed into its place)");
  }
  const std::string part = path + ".partial";
  FILE* fp = std::fopen(part.c_str(), "wb");
  if (!fp) throw std::runtime_error("could not create " + part + ": " + std::strerror(errno));
  try {
    write_all(fp, prefix.data(), prefix.size(), path);
    uint64_t pos = prefix.size();
    std::vector<float> block;
    std::vector<uint8_t> bytes;
    // the open span of strided tensors (GPT-OSS's experts), written whole once its tensors are all scattered into it
    std::vector<uint8_t> span;
    uint64_t span_off = 0;
    bool span_open = false;
    auto flush_span = [&]() {
      if (!span_open) return;
      bytes.assign(span_off - pos, 0);
      write_all(fp, bytes.data(), bytes.size(), path);
      write_all(fp, span.data(), span.size(), path);
      pos = span_off + span.size();
      span_open = false;
    };
    for (size_t ti = 0; ti < targets.size(); ti++) {
      const Target& tg = targets[ti];
      const OutTensor& ot = tensors[ti];
      const bool strided = ot.row_stride > 0 || ot.col_stride > 0;
      if (!strided || !span_open || ot.span_offset != span_off) flush_span();
      if ((strided ? ot.span_offset : ot.offset) < pos) throw std::runtime_error(ot.name + ": tensor offsets overlap");
      if (strided) {
        if (dtype_quantised(ot.dtype)) throw std::runtime_error(ot.name + ": a strided tensor is written in F32, F16 or BF16");
        const uint64_t es = dtype_size(ot.dtype);
        const uint64_t last = ot.offset + ((uint64_t)(tg.rows - 1) * ot.row_stride + (uint64_t)(tg.cols - 1) * ot.col_stride + 1) * es;
        if (ot.offset < ot.span_offset || last > ot.span_offset + ot.span_bytes)
          throw std::runtime_error(ot.name + ": its strided elements fall outside its span");
        if (!span_open) {
          span.assign(ot.span_bytes, 0);
          span_off = ot.span_offset;
          span_open = true;
        }
      } else {
        bytes.assign(ot.offset - pos, 0);  // alignment padding
        write_all(fp, bytes.data(), bytes.size(), path);
        pos = ot.offset;
      }
      const int BR = 256;
      for (int r0 = 0; r0 < tg.rows; r0 += BR) {
        int r1 = std::min(tg.rows, r0 + BR);
        size_t n = (size_t)(r1 - r0) * tg.cols;
        block.resize(n);
        if (tg.kind == Target::NORM) {
          block = view_norm(m, view, tg.index);
          if (ot.norm_add != 0.f)
            for (float& x : block) x += ot.norm_add;
        } else if (tg.kind == Target::BIAS) {
          // a q/k bias follows its rows: HF order, or interleaved for permute_heads > 0
          const std::vector<float> b = view_bias(m, view, tg.index);
          for (int j = 0; j < tg.cols; j++) block[j] = b[source_row(m, tg, interleaved_source(j, tg.cols, ot.permute_heads))];
        } else {
          dense_rows(m, view, tg, r0, r1, ot.permute_heads, block.data());
        }
        if (strided) {  // scattered into the span: element (r, c) at its file position
          const uint64_t es = dtype_size(ot.dtype);
          for (int i = 0; i < r1 - r0; i++)
            for (int c = 0; c < tg.cols; c++) {
              uint8_t* d = span.data() + (ot.offset - span_off) +
                           ((uint64_t)(r0 + i) * ot.row_stride + (uint64_t)c * ot.col_stride) * es;
              const float x = block[(size_t)i * tg.cols + c];
              if (ot.dtype == DT_F32) {
                std::memcpy(d, &x, 4);
              } else {
                const uint16_t h = ot.dtype == DT_F16 ? f32_to_f16(x) : f32_to_bf16(x);
                std::memcpy(d, &h, 2);
              }
            }
          job.check();
          continue;
        }
        size_t nb = (size_t)(r1 - r0) * dtype_row_bytes(ot.dtype, tg.cols);
        if (ot.dtype == DT_F32) {
          write_all(fp, block.data(), nb, path);
        } else {
          bytes.resize(nb);
          if (dtype_quantised(ot.dtype)) {
            quantise_row(ot.dtype, block.data(), bytes.data(), (int64_t)n);  // rows are whole blocks: one long row
          } else {
            uint16_t* h = (uint16_t*)bytes.data();
            for (size_t i = 0; i < n; i++) h[i] = ot.dtype == DT_F16 ? f32_to_f16(block[i]) : f32_to_bf16(block[i]);
          }
          write_all(fp, bytes.data(), nb, path);
        }
        pos += nb;
        job.check();
      }
      job.report("export", (int64_t)ti + 1, (int64_t)targets.size());
    }
    flush_span();
    if (std::fflush(fp) != 0) throw std::runtime_error("could not write " + path + ": " + std::strerror(errno));
    if (std::fclose(fp) != 0) {
      fp = nullptr;
      throw std::runtime_error("could not write " + path + ": " + std::strerror(errno));
    }
    fp = nullptr;
#ifdef _WIN32
    std::remove(path.c_str());  // Windows' rename does not replace an existing file
#endif
    if (std::rename(part.c_str(), path.c_str()) != 0)
      throw std::runtime_error("could not rename " + part + " to " + path + ": " + std::strerror(errno));
  } catch (...) {
    if (fp) std::fclose(fp);
    std::remove(part.c_str());
    throw;
  }
}
