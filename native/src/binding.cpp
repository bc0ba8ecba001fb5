// N-API binding (node-addon-api): one build serves Node and Electron. Every long call runs on a libuv worker
// thread, returns a Promise, reports (phase, done, total) progress and can be cancelled through a shared flag.
#include <napi.h>

#include <cmath>
#include <cstring>

#include "model.h"
#include "threads.h"

namespace {

Napi::FunctionReference* step_ctor = nullptr;

// ---- JS ⇄ C++ helpers -------------------------------------------------------------------------------------
[[noreturn]] void type_error(Napi::Env env, const std::string& msg) { throw Napi::TypeError::New(env, msg); }

double num(Napi::Env env, const Napi::Object& o, const char* key, double def, bool required = false) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) {
    if (required) type_error(env, std::string(key) + " is required");
    return def;
  }
  if (!v.IsNumber()) type_error(env, std::string(key) + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d)) type_error(env, std::string(key) + " must be a finite number");
  return d;
}

std::vector<int> int_list(Napi::Env env, Napi::Value v, const char* what) {
  std::vector<int> out;
  if (v.IsTypedArray()) {
    Napi::TypedArray ta = v.As<Napi::TypedArray>();
    if (ta.TypedArrayType() == napi_int32_array) {
      Napi::Int32Array a = v.As<Napi::Int32Array>();
      out.assign(a.Data(), a.Data() + a.ElementLength());
      return out;
    }
  }
  if (!v.IsArray()) type_error(env, std::string(what) + " must be an array of token ids");
  Napi::Array a = v.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); i++) {
    Napi::Value e = a.Get(i);
    if (!e.IsNumber()) type_error(env, std::string(what) + " must contain integers");
    double d = e.As<Napi::Number>().DoubleValue();
    if (d != std::floor(d) || d < 0 || d > 2147483647.0) type_error(env, std::string(what) + " must contain token ids");
    out.push_back((int)d);
  }
  return out;
}

std::vector<float> float_list(Napi::Env env, Napi::Value v, size_t expect, const char* what) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    type_error(env, std::string(what) + " must be a Float32Array");
  Napi::Float32Array a = v.As<Napi::Float32Array>();
  if (expect != (size_t)-1 && a.ElementLength() != expect)
    type_error(env, std::string(what) + " has " + std::to_string(a.ElementLength()) + " values, expected " +
                        std::to_string(expect));
  return std::vector<float>(a.Data(), a.Data() + a.ElementLength());
}

Napi::Float32Array to_f32(Napi::Env env, const std::vector<float>& v) {
  Napi::Float32Array a = Napi::Float32Array::New(env, v.size());
  if (!v.empty()) std::memcpy(a.Data(), v.data(), v.size() * 4);
  return a;
}
Napi::Int32Array to_i32(Napi::Env env, const std::vector<int>& v) {
  Napi::Int32Array a = Napi::Int32Array::New(env, v.size());
  if (!v.empty()) std::memcpy(a.Data(), v.data(), v.size() * 4);
  return a;
}

DType parse_dtype(Napi::Env env, Napi::Value v) {
  std::string s = v.IsString() ? v.As<Napi::String>().Utf8Value() : "";
  if (s == "F32") return DT_F32;
  if (s == "F16") return DT_F16;
  if (s == "BF16") return DT_BF16;
  type_error(env, "unsupported dtype '" + s + "' (F32, F16 and BF16 are supported)");
}

// ---- Step: a gradient held in factored form -------------------------------------------------------------------
class StepWrap : public Napi::ObjectWrap<StepWrap> {
 public:
  std::shared_ptr<Step> step;
  std::vector<double> norms;
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "Step",
                       {InstanceAccessor("loss", &StepWrap::Loss, nullptr), InstanceAccessor("ids", &StepWrap::Ids, nullptr),
                        InstanceMethod("gradNorms", &StepWrap::GradNorms), InstanceMethod("export", &StepWrap::Export),
                        InstanceAccessor("bytes", &StepWrap::Bytes, nullptr)});
  }
  StepWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<StepWrap>(info) {}
  Napi::Value Loss(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), step->loss); }
  Napi::Value Ids(const Napi::CallbackInfo& info) { return to_i32(info.Env(), step->ids); }
  Napi::Value GradNorms(const Napi::CallbackInfo& info) {
    Napi::Float64Array a = Napi::Float64Array::New(info.Env(), norms.size());
    for (size_t i = 0; i < norms.size(); i++) a[i] = norms[i];
    return a;
  }
  Napi::Value Bytes(const Napi::CallbackInfo& info) {
    double b = step->emb_grad.size() * 4.0;
    for (auto& f : step->lin) b += (f.X.size() + f.G.size()) * 4.0;
    for (auto& n : step->norm_grad) b += n.size() * 4.0;
    for (auto& g : step->bias_grad) b += g.size() * 4.0;
    return Napi::Number::New(info.Env(), b);
  }
  Napi::Value Export(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const Step& s = *step;
    Napi::Object o = Napi::Object::New(env);
    o.Set("ids", to_i32(env, s.ids));
    o.Set("loss", Napi::Number::New(env, s.loss));
    Napi::Array lin = Napi::Array::New(env, s.lin.size());
    for (size_t i = 0; i < s.lin.size(); i++) {
      Napi::Object f = Napi::Object::New(env);
      f.Set("T", s.lin[i].T);
      f.Set("in", s.lin[i].in);
      f.Set("out", s.lin[i].out);
      f.Set("X", to_f32(env, s.lin[i].X));
      f.Set("G", to_f32(env, s.lin[i].G));
      lin.Set(i, f);
    }
    o.Set("linears", lin);
    o.Set("embRows", to_i32(env, s.emb_rows));
    o.Set("embGrad", to_f32(env, s.emb_grad));
    Napi::Array ng = Napi::Array::New(env, s.norm_grad.size());
    for (size_t i = 0; i < s.norm_grad.size(); i++) ng.Set(i, to_f32(env, s.norm_grad[i]));
    o.Set("normGrads", ng);
    // one entry per linear slot (head last), empty where the layer has no bias
    Napi::Array bg = Napi::Array::New(env, s.bias_grad.size());
    for (size_t i = 0; i < s.bias_grad.size(); i++) bg.Set(i, to_f32(env, s.bias_grad[i]));
    o.Set("biasGrads", bg);
    return o;
  }
};

// ---- async task with progress and cancellation ----------------------------------------------------------
struct Progress {
  char phase[24];
  double done, total;
};

class Task : public Napi::AsyncProgressQueueWorker<Progress> {
 public:
  using Work = std::function<void(const Job&)>;
  using Finish = std::function<Napi::Value(Napi::Env)>;
  Task(Napi::Env env, Napi::Object opts, Work work, Finish finish)
      : Napi::AsyncProgressQueueWorker<Progress>(env), deferred(Napi::Promise::Deferred::New(env)), work(work),
        finish(finish) {
    Napi::Value cb = opts.IsObject() ? opts.Get("onProgress") : env.Undefined();
    if (cb.IsFunction()) progress_cb = Napi::Persistent(cb.As<Napi::Function>());
    Napi::Value cancel = opts.IsObject() ? opts.Get("cancel") : env.Undefined();
    if (cancel.IsTypedArray() && cancel.As<Napi::TypedArray>().TypedArrayType() == napi_int32_array) {
      cancel_ref = Napi::Persistent(cancel.As<Napi::Object>());
      cancel_flag = cancel.As<Napi::Int32Array>().Data();
    }
  }
  Napi::Promise Promise() { return deferred.Promise(); }

 protected:
  void Execute(const ExecutionProgress& ep) override {
    Job job;
    job.cancelled = [this] { return cancel_flag && *(volatile int32_t*)cancel_flag != 0; };
    job.progress = [&ep](const char* phase, int64_t done, int64_t total) {
      Progress p;
      std::strncpy(p.phase, phase, sizeof(p.phase) - 1);
      p.phase[sizeof(p.phase) - 1] = 0;
      p.done = (double)done;
      p.total = (double)total;
      ep.Send(&p, 1);
    };
    try {
      work(job);
    } catch (const std::bad_alloc&) {
      SetError("out of memory");
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }
  void OnProgress(const Progress* p, size_t n) override {
    if (progress_cb.IsEmpty() || n == 0) return;
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    try {
      progress_cb.Call({Napi::String::New(env, p[n - 1].phase), Napi::Number::New(env, p[n - 1].done),
                        Napi::Number::New(env, p[n - 1].total)});
    } catch (const Napi::Error&) {  // a throwing progress callback must not take the engine down
    }
  }
  void OnOK() override {
    Napi::Env env = Env();
    try {
      deferred.Resolve(finish(env));
    } catch (const Napi::Error& e) {
      deferred.Reject(e.Value());
    }
  }
  void OnError(const Napi::Error& e) override { deferred.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred;
  Work work;
  Finish finish;
  Napi::FunctionReference progress_cb;
  Napi::ObjectReference cancel_ref;
  int32_t* cancel_flag = nullptr;
};

// ---- Model ------------------------------------------------------------------------------------------------
class ModelWrap : public Napi::ObjectWrap<ModelWrap> {
 public:
  std::shared_ptr<Model> model;
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "Model",
                       {InstanceMethod("gradient", &ModelWrap::Gradient), InstanceMethod("generate", &ModelWrap::Generate),
                        InstanceMethod("score", &ModelWrap::Score), InstanceMethod("materialise", &ModelWrap::Materialise),
                        InstanceMethod("importStep", &ModelWrap::ImportStep),
                        InstanceMethod("tensorNames", &ModelWrap::TensorNames)});
  }

  // new Model({config, files, tensors})
  ModelWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ModelWrap>(info) {
    Napi::Env env = info.Env();
    if (!info[0].IsObject()) type_error(env, "Model expects a spec object");
    Napi::Object spec = info[0].As<Napi::Object>();
    if (!spec.Get("config").IsObject()) type_error(env, "spec.config is required");
    Napi::Object c = spec.Get("config").As<Napi::Object>();
    Config cfg;
    cfg.vocab = (int)num(env, c, "vocab", 0, true);
    cfg.dim = (int)num(env, c, "dim", 0, true);
    cfg.ffn = (int)num(env, c, "ffn", 0, true);
    cfg.layers = (int)num(env, c, "layers", 0, true);
    cfg.heads = (int)num(env, c, "heads", 0, true);
    cfg.kv_heads = (int)num(env, c, "kvHeads", 0, true);
    cfg.head_dim = (int)num(env, c, "headDim", 0, true);
    cfg.eps = (float)num(env, c, "eps", 1e-5);
    cfg.rope_theta = num(env, c, "ropeTheta", 10000);
    cfg.tied = c.Get("tied").ToBoolean();
    cfg.bos = (int)num(env, c, "bos", 1);
    cfg.eos = (int)num(env, c, "eos", 2);
    cfg.max_pos = (int)num(env, c, "maxPos", 4096);
    cfg.rope_interleaved = c.Get("ropeInterleaved").ToBoolean();
    if (!c.Get("ropeInvFreq").IsUndefined() && !c.Get("ropeInvFreq").IsNull())
      cfg.rope_inv_freq = float_list(env, c.Get("ropeInvFreq"), (size_t)cfg.head_dim / 2, "config.ropeInvFreq");
    cfg.rope_scale = (float)num(env, c, "ropeScale", 1);
    cfg.sliding_window = (int)num(env, c, "slidingWindow", 0);
    cfg.bias_qkv = c.Get("biasQKV").ToBoolean();
    cfg.bias_o = c.Get("biasO").ToBoolean();
    cfg.bias_mlp = c.Get("biasMLP").ToBoolean();
    int threads = (int)num(env, spec, "threads", 0);
    threads_init(threads);
    std::vector<std::string> files;
    if (!spec.Get("files").IsArray()) type_error(env, "spec.files must be an array of paths");
    Napi::Array fa = spec.Get("files").As<Napi::Array>();
    for (uint32_t i = 0; i < fa.Length(); i++) files.push_back(fa.Get(i).ToString().Utf8Value());
    std::vector<TensorSpec> tensors;
    if (!spec.Get("tensors").IsArray()) type_error(env, "spec.tensors must be an array");
    Napi::Array ta = spec.Get("tensors").As<Napi::Array>();
    for (uint32_t i = 0; i < ta.Length(); i++) {
      Napi::Object t = ta.Get(i).As<Napi::Object>();
      TensorSpec ts;
      ts.name = t.Get("name").ToString().Utf8Value();
      ts.file = (int)num(env, t, "file", 0, true);
      ts.offset = (uint64_t)num(env, t, "offset", 0, true);
      ts.dtype = parse_dtype(env, t.Get("dtype"));
      Napi::Array sh = t.Get("shape").As<Napi::Array>();
      for (uint32_t j = 0; j < sh.Length(); j++) ts.shape.push_back((int64_t)sh.Get(j).As<Napi::Number>().DoubleValue());
      tensors.push_back(ts);
    }
    try {
      model = load_model(cfg, files, tensors);
    } catch (const std::exception& e) {
      throw Napi::Error::New(env, e.what());
    }
  }

  // views: [[{step, lr}, …], …]
  View parse_view(Napi::Env env, Napi::Value v) {
    View view;
    if (v.IsUndefined() || v.IsNull()) return view;
    if (!v.IsArray()) type_error(env, "a view must be an array of {step, lr}");
    Napi::Array a = v.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++) {
      if (!a.Get(i).IsObject()) type_error(env, "a view term must be {step, lr}");
      Napi::Object t = a.Get(i).As<Napi::Object>();
      Napi::Value sv = t.Get("step");
      if (!sv.IsObject() || !sv.As<Napi::Object>().InstanceOf(step_ctor->Value()))
        type_error(env, "view term has no gradient step");
      double lr = num(env, t, "lr", 0, true);
      Term term;
      term.step = StepWrap::Unwrap(sv.As<Napi::Object>())->step;
      if ((int)term.step->lin.size() != model->n_linear()) type_error(env, "the step belongs to another model");
      term.coef = (float)lr;
      view.push_back(term);
    }
    return view;
  }
  std::vector<View> parse_views(Napi::Env env, Napi::Value v) {
    if (!v.IsArray()) type_error(env, "views must be an array");
    std::vector<View> out;
    Napi::Array a = v.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++) out.push_back(parse_view(env, a.Get(i)));
    if (out.empty()) type_error(env, "at least one view is required");
    return out;
  }
  void check_ids(Napi::Env env, const std::vector<int>& ids, const char* what) {
    for (int id : ids)
      if (id < 0 || id >= model->cfg.vocab)
        type_error(env, std::string(what) + " contains token id " + std::to_string(id) + " outside the vocabulary");
  }

  // gradient(ids, at, opts) → Promise<Step>
  Napi::Value Gradient(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto ids = int_list(env, info[0], "ids");
    check_ids(env, ids, "ids");
    View at = parse_view(env, info[1]);
    auto m = model;
    auto out = std::make_shared<std::pair<std::shared_ptr<Step>, std::vector<double>>>();
    Task* t = new Task(env, info[2].IsObject() ? info[2].As<Napi::Object>() : Napi::Object::New(env),
                       [m, ids, at, out](const Job& job) {
                         out->first = phrase_gradient(*m, ids, at, job);
                         job.report("norms", 0, 1);
                         out->second = step_grad_norms(*m, *out->first);
                       },
                       [out](Napi::Env env) -> Napi::Value {
                         Napi::Object o = step_ctor->New({});
                         StepWrap* w = StepWrap::Unwrap(o);
                         w->step = out->first;
                         w->norms = out->second;
                         return o;
                       });
    t->Queue();
    return t->Promise();
  }

  // generate({prompt, views, maxNew, maxSeq, temperature, topP, seed}, opts) → Promise<{tokens, margins, cancelled}>
  Napi::Value Generate(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsObject()) type_error(env, "generate expects an options object");
    Napi::Object o = info[0].As<Napi::Object>();
    GenParams p;
    p.prompt = int_list(env, o.Get("prompt"), "prompt");
    check_ids(env, p.prompt, "prompt");
    p.max_new = (int)num(env, o, "maxNew", 64);
    p.max_seq = (int)num(env, o, "maxSeq", 128);
    p.temperature = (float)num(env, o, "temperature", 0);
    p.top_p = (float)num(env, o, "topP", 1);
    p.seed = (uint64_t)num(env, o, "seed", 0);
    p.eos = {model->cfg.eos};
    if (o.Has("eos")) p.eos = int_list(env, o.Get("eos"), "eos");
    if (p.max_new < 0 || p.max_seq < 2) type_error(env, "maxNew must be ≥ 0 and maxSeq ≥ 2");
    if (p.temperature < 0 || p.top_p <= 0 || p.top_p > 1) type_error(env, "temperature must be ≥ 0 and topP in (0, 1]");
    std::vector<View> views = parse_views(env, o.Get("views"));
    auto m = model;
    auto out = std::make_shared<GenResult>();
    Task* t = new Task(env, info[1].IsObject() ? info[1].As<Napi::Object>() : Napi::Object::New(env),
                       [m, views, p, out](const Job& job) { *out = generate(*m, views, p, job); },
                       [out](Napi::Env env) -> Napi::Value {
                         Napi::Object r = Napi::Object::New(env);
                         Napi::Array toks = Napi::Array::New(env, out->tokens.size());
                         Napi::Array margins = Napi::Array::New(env, out->tokens.size());
                         for (size_t i = 0; i < out->tokens.size(); i++) {
                           toks.Set(i, to_i32(env, out->tokens[i]));
                           margins.Set(i, to_f32(env, out->margins[i]));
                         }
                         r.Set("tokens", toks);
                         r.Set("margins", margins);
                         r.Set("cancelled", Napi::Boolean::New(env, out->cancelled));
                         return r;
                       });
    t->Queue();
    return t->Promise();
  }

  // score({ids, views, topk, fullAt}, opts) → Promise<{T, k, nll, argmax, topIds, topLogprobs, kl, full}>
  Napi::Value Score(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsObject()) type_error(env, "score expects an options object");
    Napi::Object o = info[0].As<Napi::Object>();
    auto ids = int_list(env, o.Get("ids"), "ids");
    check_ids(env, ids, "ids");
    int topk = (int)num(env, o, "topk", 0);
    std::vector<int> full_at;
    if (!o.Get("fullAt").IsUndefined()) full_at = int_list(env, o.Get("fullAt"), "fullAt");
    std::vector<View> views = parse_views(env, o.Get("views"));
    auto m = model;
    auto out = std::make_shared<ScoreResult>();
    Task* t = new Task(env, info[1].IsObject() ? info[1].As<Napi::Object>() : Napi::Object::New(env),
                       [m, views, ids, topk, full_at, out](const Job& job) {
                         *out = score(*m, views, ids, topk, full_at, job);
                       },
                       [out](Napi::Env env) -> Napi::Value {
                         Napi::Object r = Napi::Object::New(env);
                         r.Set("T", out->T);
                         r.Set("k", out->k);
                         r.Set("nll", to_f32(env, out->nll));
                         r.Set("argmax", to_i32(env, out->argmax));
                         r.Set("topIds", to_i32(env, out->top_ids));
                         r.Set("topLogprobs", to_f32(env, out->top_lp));
                         r.Set("kl", to_f32(env, out->kl));
                         r.Set("full", to_f32(env, out->full));
                         return r;
                       });
    t->Queue();
    return t->Promise();
  }

  // materialise({view, path, header, names, dtype}, opts) → Promise<void>
  Napi::Value Materialise(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsObject()) type_error(env, "materialise expects an options object");
    Napi::Object o = info[0].As<Napi::Object>();
    View view = parse_view(env, o.Get("view"));
    std::string path = o.Get("path").ToString().Utf8Value();
    std::string header = o.Get("header").ToString().Utf8Value();
    DType dt = parse_dtype(env, o.Get("dtype"));
    std::vector<std::string> names;
    Napi::Array na = o.Get("names").As<Napi::Array>();
    for (uint32_t i = 0; i < na.Length(); i++) names.push_back(na.Get(i).ToString().Utf8Value());
    auto m = model;
    Task* t = new Task(env, info[1].IsObject() ? info[1].As<Napi::Object>() : Napi::Object::New(env),
                       [m, view, path, header, names, dt](const Job& job) {
                         materialise_file(*m, view, path, header, names, dt, job);
                       },
                       [](Napi::Env env) -> Napi::Value { return env.Undefined(); });
    t->Queue();
    return t->Promise();
  }

  // importStep({ids, loss, linears:[{T,in,out,X,G}], embRows, embGrad, normGrads, biasGrads?}) → Step
  Napi::Value ImportStep(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsObject()) type_error(env, "importStep expects the exported factors");
    Napi::Object o = info[0].As<Napi::Object>();
    auto s = std::make_shared<Step>();
    const Config& c = model->cfg;
    s->ids = int_list(env, o.Get("ids"), "ids");
    check_ids(env, s->ids, "ids");
    s->loss = num(env, o, "loss", 0);
    Napi::Value lv = o.Get("linears");
    if (!lv.IsArray() || (int)lv.As<Napi::Array>().Length() != model->n_linear())
      type_error(env, "the step's factors do not match this model's layers");
    Napi::Array la = lv.As<Napi::Array>();
    s->lin.resize(model->n_linear());
    for (int i = 0; i < model->n_linear(); i++) {
      Napi::Object f = la.Get(i).As<Napi::Object>();
      LinearFactor& lf = s->lin[i];
      lf.T = (int)num(env, f, "T", 0, true);
      lf.in = model->linear(i).cols;
      lf.out = model->linear(i).rows;
      lf.X = float_list(env, f.Get("X"), (size_t)lf.T * lf.in, "factor X");
      lf.G = float_list(env, f.Get("G"), (size_t)lf.T * lf.out, "factor G");
    }
    s->emb_rows = int_list(env, o.Get("embRows"), "embRows");
    check_ids(env, s->emb_rows, "embRows");
    for (size_t i = 1; i < s->emb_rows.size(); i++)
      if (s->emb_rows[i] <= s->emb_rows[i - 1]) type_error(env, "embRows must be sorted and distinct");
    s->emb_grad = float_list(env, o.Get("embGrad"), s->emb_rows.size() * c.dim, "embGrad");
    Napi::Value nv = o.Get("normGrads");
    if (!nv.IsArray() || (int)nv.As<Napi::Array>().Length() != 2 * c.layers + 1)
      type_error(env, "the step's norm gradients do not match this model's layers");
    Napi::Array na = nv.As<Napi::Array>();
    for (uint32_t i = 0; i < na.Length(); i++) s->norm_grad.push_back(float_list(env, na.Get(i), c.dim, "normGrads"));
    // bias gradients: required exactly where the model has biases (a model without biases accepts none)
    s->bias_grad.resize(model->n_linear());
    Napi::Value bv = o.Get("biasGrads");
    bool any_bias = false;
    for (int i = 0; i < model->n_linear(); i++) any_bias = any_bias || model->bias(i);
    if (any_bias) {
      if (!bv.IsArray() || (int)bv.As<Napi::Array>().Length() != model->n_linear())
        type_error(env, "the step has no bias gradients, but this model's layers have biases");
      Napi::Array ba = bv.As<Napi::Array>();
      for (int i = 0; i < model->n_linear(); i++) {
        const std::vector<float>* b = model->bias(i);
        s->bias_grad[i] = float_list(env, ba.Get(i), b ? b->size() : 0, "biasGrads");
      }
    } else if (bv.IsArray()) {
      Napi::Array ba = bv.As<Napi::Array>();
      for (uint32_t i = 0; i < ba.Length(); i++)
        if (float_list(env, ba.Get(i), (size_t)-1, "biasGrads").size() != 0)
          type_error(env, "the step has bias gradients, but this model has no biases");
    }
    Napi::Object w = step_ctor->New({});
    StepWrap* sw = StepWrap::Unwrap(w);
    sw->step = s;
    sw->norms = step_grad_norms(*model, *s);
    return w;
  }

  Napi::Value TensorNames(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto names = tensor_names(*model);
    Napi::Array a = Napi::Array::New(env, names.size());
    for (size_t i = 0; i < names.size(); i++) a.Set(i, names[i]);
    return a;
  }
};

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  Napi::Function step = StepWrap::Init(env);
  step_ctor = new Napi::FunctionReference(Napi::Persistent(step));
  exports.Set("Step", step);
  exports.Set("Model", ModelWrap::Init(env));
  exports.Set("threads", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
                threads_init(0);
                return Napi::Number::New(info.Env(), threads_count());
              }));
  return exports;
}

}  // namespace

NODE_API_MODULE(soliloquy_engine, Init)
