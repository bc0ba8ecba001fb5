// Generation and scoring with crafted ids, lengths, sampling settings, eos lists, positions and views on the tiny
// model (what the binding passes through after its own type checks; the engine must refuse the rest itself).
// Input: u8 n_prompt, int32 ids; int32 max_new, max_seq; f32 temperature, top_p; u64 seed; u8 n_eos, int32 ids;
// u8 n_views, per view u8 n_terms, each f32 coef; u8 n_score, int32 ids; int32 topk; u8 n_full, int32 positions.
#include <cstdio>
#include <cstdlib>

#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  TinyModel& tm = tiny_model();
  const Model& m = *tm.model;
  auto step = tiny_step();
  Reader r{data, size};
  GenParams p;
  int np = r.get<uint8_t>() % 40;
  for (int i = 0; i < np; i++) p.prompt.push_back(r.get<int32_t>());
  p.max_new = r.get<int32_t>() % 64;
  p.max_seq = r.get<int32_t>() % 64;
  p.temperature = r.get<float>();
  p.top_p = r.get<float>();
  p.seed = r.get<uint64_t>();
  p.eos.clear();
  int ne = r.get<uint8_t>() % 4;
  for (int i = 0; i < ne; i++) p.eos.push_back(r.get<int32_t>());
  std::vector<View> views;
  int nv = r.get<uint8_t>() % 4;
  for (int i = 0; i < nv; i++) {
    View v;
    int nt = r.get<uint8_t>() % 3;
    for (int j = 0; j < nt; j++) v.push_back(Term{step, r.get<float>()});
    views.push_back(v);
  }
  std::vector<int> ids;
  int ns = r.get<uint8_t>() % 40;
  for (int i = 0; i < ns; i++) ids.push_back(r.get<int32_t>());
  int topk = r.get<int32_t>();
  std::vector<int> full;
  int nf = r.get<uint8_t>() % 4;
  for (int i = 0; i < nf; i++) full.push_back(r.get<int32_t>());
  Job job;
  try {
    generate(m, views, p, job);
    if (getenv("FUZZ_TRACE")) fprintf(stderr, "fuzz_generate: generated\n");
  } catch (const std::exception& e) {
    if (getenv("FUZZ_TRACE")) fprintf(stderr, "fuzz_generate: refused: %s\n", e.what());
  }
  try {
    score(m, views, ids, topk, full, job);
  } catch (const std::exception&) {
  }
  try {
    if (!views.empty()) phrase_gradient(m, ids, views[0], job);
  } catch (const std::exception&) {
  }
  return 0;
}
