// Export of a stepped model (materialise_file): crafted tensor names (known, unknown, repeated), output dtype,
// header text and step size over the tiny model, written to /dev/null.
// Input: u8 n_names, then per name u8 (< 200: index into the model's tensor names; else a raw name of that many
// bytes − 200 from the input); u8 dtype; f32 coef; the rest is the header text.
#include <cstdio>
#include <cstdlib>

#include "fuzz_common.h"

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
  DType dt = (DType)(r.get<uint8_t>() % 3);
  float coef = r.get<float>();
  std::string header((const char*)r.p, r.left());
  Job job;
  try {
    materialise_file(m, View{Term{tiny_step(), coef}}, "/dev/null", header, names, dt, job);
    if (getenv("FUZZ_TRACE")) fprintf(stderr, "fuzz_materialise: written\n");
  } catch (const std::exception& e) {
    if (getenv("FUZZ_TRACE")) fprintf(stderr, "fuzz_materialise: refused: %s\n", e.what());
  }
  return 0;
}
