// Export of a stepped model (materialise_file): crafted tensor names (known, unknown, repeated), output dtype,
// header text and step size over the tiny model, written to a temporary file that is removed after each input (never
// /dev/null: the export renames its file over the target, and as root that replaced the device by a plain file).
// Input: u8 n_names, then per name u8 (< 200: index into the model's tensor names; else a raw name of that many
// bytes − 200 from the input); u8 dtype (the first 8 types); f32 coef; the rest is the header text.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "fuzz_common.h"

// a path of our own in the temporary directory, made once per process
static const std::string& out_path() {
  static const std::string path = [] {
    const char* dir = getenv("TMPDIR");
    std::string tmpl = std::string(dir && *dir ? dir : "/tmp") + "/soliloquy-fuzz-materialise-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back(0);
    int fd = mkstemp(buf.data());
    if (fd < 0) abort();
    close(fd);
    return std::string(buf.data());
  }();
  return path;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  TinyModel& tm = tiny_model();
  const Model& m = *tm.model;
  static const std::vector<std::string> known = tensor_names(m);
  Reader r{data, size};
  std::vector<std::string> names;
  int nn = r.get<uint8_t>() % 20;
  for (int i = 0; i < nn; i++) {
    uint8_t k = r.get<uint8_t>();
    if (k < 200) {
      names.push_back(known[k % known.size()]);
    } else {
      size_t len = std::min<size_t>(k - 200, r.left());
      names.emplace_back((const char*)r.p, len);
      r.p += len;
      r.n -= len;
    }
  }
  // F32, F16, BF16 and the quantised types (Q8_0, Q4_0, Q4_K, Q6_K; Q5_K: the refusal of a type export cannot write)
  DType dt = (DType)(r.get<uint8_t>() % 8);
  float coef = r.get<float>();
  std::string header((const char*)r.p, r.left());
  // each tensor at the next offset after the header, in the chosen dtype (materialise_file's GGUF-era signature)
  std::vector<OutTensor> tensors;
  uint64_t at = header.size();
  for (const std::string& n : names) {
    OutTensor t;
    t.name = n;
    t.dtype = dt;
    t.offset = at;
    tensors.push_back(t);
    at += 1 << 16;
  }
  Job job;
  try {
    materialise_file(m, View{Term{tiny_step(), coef}}, out_path(), header, tensors, job);
    if (getenv("FUZZ_TRACE")) fprintf(stderr, "fuzz_materialise: written\n");
  } catch (const std::exception& e) {
    if (getenv("FUZZ_TRACE")) fprintf(stderr, "fuzz_materialise: refused: %s\n", e.what());
  }
  std::remove(out_path().c_str());
  return 0;
}
