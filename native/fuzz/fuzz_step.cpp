// The import of step factors (what importStep / a checkpoint file hands the engine): a Step with crafted counts,
// T, ids, embedding rows and values is validated by check_step, then used in a view (norms, generation, score).
// Input: int32 n_ids then ids; f64 loss; per linear slot: int32 T, int32 in, int32 out, then X and G sized as the
// bytes say (capped); int32 n_rows, rows; int32 n_emb values; int32 n_norms, each int32 size; f32 coef; values for
// every float vector are drawn from the remaining input (cycled), so NaN/inf/huge values occur.
#include <cstdio>
#include <cstdlib>

#include "fuzz_common.h"

static int small(Reader& r, int cap) {
  int32_t v = r.get<int32_t>();
  if (v < 0 || v > cap) return v < 0 ? v % 4 : v % (cap + 1);  // keep allocations small; negatives stay possible
  return v;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  TinyModel& tm = tiny_model();
  const Model& m = *tm.model;
  Reader r{data, size};
  auto s = std::make_shared<Step>();
  int nid = small(r, 40);
  for (int i = 0; i < nid; i++) s->ids.push_back(r.get<int32_t>());
  s->loss = r.get<double>();
  int nlin = m.n_linear() + (int)(r.get<uint8_t>() % 3) - 1;  // sometimes one slot short or long
  std::vector<float> pool;
  auto fill = [&](std::vector<float>& v, int n) {
    v.resize(n < 0 ? 0 : n);
    for (float& x : v) x = r.left() >= 4 ? r.get<float>() : 0.25f;
  };
  auto fill_step = [&](Floats& v, int n) {  // a factor's values, in the step's memory
    std::vector<float> tmp;
    fill(tmp, n);
    v = s->memory.copy(tmp.data(), tmp.size());
  };
  for (int i = 0; i < nlin; i++) {
    LinearFactor f;
    f.T = small(r, 40);
    f.in = small(r, 128);
    f.out = small(r, 128);
    fill_step(f.X, f.T * f.in);
    fill_step(f.G, f.T * f.out);
    s->lin.push_back(std::move(f));
  }
  int nrows = small(r, 64);
  for (int i = 0; i < nrows; i++) s->emb_rows.push_back(r.get<int32_t>());
  fill(s->emb_grad, small(r, 600));
  int nn = small(r, 8);
  for (int i = 0; i < nn; i++) {
    std::vector<float> g;
    fill(g, small(r, 16));
    s->norm_grad.push_back(g);
  }
  float coef = r.get<float>();
  try {
    check_step(m, *s);
    step_grad_norms(m, *s);
    View v{Term{s, coef}};
    GenParams p;
    p.prompt = {1, 5};
    p.max_new = 3;
    p.max_seq = 8;
    Job job;
    generate(m, {View{}, v}, p, job);
    score(m, {View{}, v}, {1, 5, 9, 2}, 3, {1}, job);
    phrase_gradient(m, {1, 7, 8}, v, job);
    if (getenv("FUZZ_TRACE")) fprintf(stderr, "fuzz_step: imported and ran\n");
  } catch (const std::exception& e) {
    if (getenv("FUZZ_TRACE")) fprintf(stderr, "fuzz_step: refused: %s\n", e.what());
  }
  return 0;
}
